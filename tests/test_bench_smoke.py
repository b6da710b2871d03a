"""Smoke test: `python bench/run.py --quick` runs and prints every figure in the agreed shape.

The figures themselves are not judged here (bench/ is not part of the suite's pass/fail)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FIGURES = ("relay_throughput", "detection_latency", "idle_cpu_10", "idle_memory", "scale_up_10", "scale_status_10",
           "scale_down_10", "scale_growth", "store_contention", "startup", "scan_throughput", "events_found")
LINE = re.compile(r"^(?P<name>[a-z_0-9]+): (?P<value>\S.*?) \(baseline (?P<baseline>.+?); ratio (?P<ratio>[^;]+)"
                  r"(?:; target .+)?\)$")


def test_bench_quick_prints_every_figure():
    proc = subprocess.run([sys.executable, str(REPO / "bench" / "run.py"), "--quick"], cwd=REPO,
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    shaped = {}
    for line in proc.stdout.splitlines():
        m = LINE.match(line)
        if m:
            shaped[m["name"]] = m
    missing = [name for name in FIGURES if name not in shaped]
    assert not missing, f"figures missing or misshapen: {missing}\n{proc.stdout}\n{proc.stderr}"
    for name in FIGURES:
        assert re.search(r"\d", shaped[name]["value"]), shaped[name].group(0)

"""Smoke test: `python bench/run.py --quick` runs and prints every figure in the agreed shape.

The figures themselves are not judged here (bench/ is not part of the suite's pass/fail)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FIGURES = ("relay_throughput", "detection_latency", "idle_cpu_10", "idle_memory", "scale_up_10", "scale_status_10",
           "scale_down_10", "scale_growth", "store_contention", "startup", "scan_throughput", "events_found",
           "scan_real_capture", "pane_throughput", "pane_throughput_relay", "pane_watcher_cpu", "pane_line_latency",
           "realpace_cpu_claude", "realpace_latency_claude", "realpace_cpu_codex", "realpace_latency_codex",
           "relay_split_log", "relay_split_scan_inline", "relay_split_scan_thread", "relay_split_scan_process")
LINE = re.compile(r"^(?P<name>[a-z_0-9]+): (?P<value>\S.*?) \(baseline (?P<baseline>.+?); ratio (?P<ratio>[^;]+)"
                  r"(?:; target .+)?\)$")


@pytest.mark.timeout(300)  # quick mode takes about 40 s alone; beside two other test workers, more
def test_bench_quick_prints_every_figure():
    env = {**os.environ, "TEAMCTL_BENCH_PAIRS": "1"}  # the figures' shape, not their spread: one pair each
    proc = subprocess.Popen([sys.executable, str(REPO / "bench" / "run.py"), "--quick"], cwd=REPO, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env)
    try:
        out, err = proc.communicate(timeout=280)
    except subprocess.TimeoutExpired:
        proc.terminate()  # SIGTERM: the bench ends every process it started before it exits
        out, err = proc.communicate(timeout=60)
        pytest.fail(f"bench --quick took over 280 s\n{out}\n{err}")
    assert proc.returncode == 0, out + err
    shaped = {}
    for line in out.splitlines():
        m = LINE.match(line)
        if m:
            shaped[m["name"]] = m
    missing = [name for name in FIGURES if name not in shaped]
    assert not missing, f"figures missing or misshapen: {missing}\n{out}\n{err}"
    for name in FIGURES:
        assert re.search(r"\d", shaped[name]["value"]), shaped[name].group(0)

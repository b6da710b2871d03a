"""README's first command: the bundled demo team runs end to end."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("backend", ["tmux", "process"])
def test_demo_script_runs_the_team_past_its_rate_limit_and_down(backend, tmp_path):
    env = dict(os.environ)
    socket = f"teamctl-demo-test-{uuid.uuid4().hex[:8]}"
    env["TEAMCTL_TMUX_SOCKET"] = socket
    env["TEAMCTL_BACKEND"] = backend
    env.pop("TEAMCTL_ROOT", None)
    try:
        done = subprocess.run(["bash", str(ROOT / "examples" / "demo.sh")], env=env, capture_output=True,
                              text=True, timeout=150)
    finally:
        subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True)
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "rate-limited until" in out  # the countdown while the agents wait
    assert "the countdown runs to the reset plus the margin (rate_limits.margin_seconds, here 2s)" in out
    assert "You’ve hit your usage limit · resets in 6s" in out  # the hit, as `rate-limits` shows it
    assert "yes" in out.split("teamctl rate-limits")[1]  # handled
    budget_line = next(line for line in out.split("teamctl budget")[1].splitlines() if line.startswith("20"))
    assert float(budget_line.split()[2]) >= 0.0425 * 4  # cost recorded, before and after the respawn
    assert out.rstrip().endswith(("demo:dev: stopped", "demo:lead: stopped"))

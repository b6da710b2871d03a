"""teamctl-supervisor installs as `teamctl_supervisor`, so supervisord's own `supervisor` package lives
beside it in one environment, whichever is installed first, and uninstalling one leaves the other."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SUPERVISORD = "supervisor==4.3.0"  # PyPI's supervisord, newest on 2026-12-01


def run(*argv: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=300, cwd=cwd)


@pytest.mark.parametrize("order", ["ours-first", "supervisord-first"])
def test_both_packages_work_in_one_venv_in_either_order(tmp_path: Path, order: str) -> None:
    venv = tmp_path / "venv"
    assert run(sys.executable, "-m", "venv", venv).returncode == 0
    pip = [venv / "bin" / "python", "-m", "pip", "install", "-q"]
    steps = [[*pip, REPO], [*pip, SUPERVISORD]]
    for step in steps if order == "ours-first" else reversed(steps):
        done = run(*step, cwd=tmp_path)
        assert done.returncode == 0, done.stderr[-2000:]
    ours = run(venv / "bin" / "teamctl", "--version")
    assert ours.returncode == 0 and "teamctl" in ours.stdout, ours.stderr
    theirs = run(venv / "bin" / "supervisord", "--version")
    assert theirs.returncode == 0 and theirs.stdout.strip().startswith("4."), theirs.stderr
    # uninstalling either leaves the other working
    assert run(venv / "bin" / "python", "-m", "pip", "uninstall", "-y", "-q", "supervisor").returncode == 0
    assert run(venv / "bin" / "teamctl", "--version").returncode == 0

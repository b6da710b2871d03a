"""teamctl-supervisor installs as `teamctl_supervisor`, so supervisord's own `supervisor` package lives
beside it in one environment, whichever is installed first, and uninstalling one leaves the other."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SUPERVISORD = "supervisor==4.3.0"  # PyPI's supervisord, newest on 2026-12-01


def run(*argv: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=300, cwd=cwd)


def test_both_packages_work_in_one_venv_in_either_order(tmp_path: Path) -> None:
    """One environment goes through both orders: supervisord then ours, ours then supervisord (after
    supervisord was uninstalled), and each uninstall leaves the other working."""
    venv = tmp_path / "venv"
    assert run(sys.executable, "-m", "venv", venv).returncode == 0
    py = venv / "bin" / "python"
    pip = [py, "-m", "pip", "install", "-q"]

    def install(what: str | Path) -> None:
        done = run(*pip, what, cwd=tmp_path)
        assert done.returncode == 0, done.stderr[-2000:]

    def uninstall(name: str) -> None:
        assert run(py, "-m", "pip", "uninstall", "-y", "-q", name).returncode == 0

    def version(tool: str) -> str | None:
        """What `tool --version` prints, None when the tool is gone or fails."""
        path = venv / "bin" / tool
        done = run(path, "--version") if path.exists() else None
        return done.stdout.strip() if done is not None and done.returncode == 0 else None

    def works(ours: bool, theirs: bool) -> None:
        assert ("teamctl" in (version("teamctl") or "")) is ours
        assert (version("supervisord") or "").startswith("4.") is theirs

    install(SUPERVISORD)
    install(REPO)  # supervisord first
    works(ours=True, theirs=True)
    uninstall("supervisor")
    works(ours=True, theirs=False)
    install(SUPERVISORD)  # ours first
    works(ours=True, theirs=True)
    uninstall("teamctl-supervisor")
    works(ours=False, theirs=True)

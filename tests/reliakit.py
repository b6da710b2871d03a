"""Helpers for the test_reliability_* files: a compose team whose fake agents hang, the real
`teamctl` command in a subprocess, and what of a team still runs (by pid, nothing else)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psutil
from watchkit import fake_env, make_team


def hanging_team(tmp_path: Path, n: int, steps: tuple[str, ...] = ("print:up", "hang"), extra: str = "") -> Path:
    """A compose tree of `n` agents a0..a(n-1) whose runtime prints and then hangs."""
    team = make_team(tmp_path, {f"a{i}": extra for i in range(n)})
    desc = team / "runtimes" / "claude-code.toml"
    args = ", ".join(f'"{s}"' for s in steps)
    desc.write_text(desc.read_text().replace('binary = "fake_agent.py"', f'binary = "fake_agent.py"\nargs = [{args}]'))
    return team


def teamctl(team: Path, *args: str, umask: int = -1, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "teamctl_supervisor", *args, "-C", str(team)], env=fake_env(team),
                          capture_output=True, text=True, timeout=timeout, umask=umask)


def team_procs(team: Path) -> list[psutil.Process]:
    """Watchers (`rl-watch ... --root TEAM`) and fake runtimes tagged with the team's state dir."""
    found = []
    state = str(team / "state")
    for p in psutil.process_iter(["pid"]):
        try:
            if p.status() == psutil.STATUS_ZOMBIE:
                continue
            cmd = p.cmdline()
            if p.name().startswith("tmux"):
                continue  # the private server keeps the argv of the first `new-session` it ran
            if "rl-watch" in cmd and str(team) in cmd:
                found.append(p)
            elif any("fake_agent.py" in c for c in cmd) and p.environ().get("TEAMCTL_STATE_DIR") == state:
                found.append(p)
        except psutil.Error:
            continue
    return found


def watchers_of(team: Path, agent_id: str) -> list[psutil.Process]:
    return [p for p in team_procs(team) if "rl-watch" in p.cmdline() and agent_id in p.cmdline()]


def kill_all(procs: list[psutil.Process]) -> None:
    """End what a test started (found by team_procs), by pid."""
    for p in procs:
        try:
            p.resume()
            p.kill()
        except psutil.Error:
            pass

"""Headless runs of a real CLI under the session its agent's SessionKeeper chose, as the watcher spawns
it: `choose()` before, `spawned(pid)` after the start, `ended(code, uptime)` at the exit (which reads
what the run wrote: the id the CLI picked, and its model turns)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from teamctl_supervisor.agent import launch
from teamctl_supervisor.agent.sessions import SessionKeeper


def runner(keeper: SessionKeeper, base_argv: Callable[[str], list[str]], env: dict[str, str],
           cwd: Path) -> Callable[[str], int]:
    """`run(prompt)` -> the CLI's exit status; `base_argv(prompt)` is its command line before the session keys."""

    def run(prompt: str) -> int:
        argv = launch.argv(keeper.runtime, base_argv(prompt), keeper.choose(), True)
        proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                stdin=subprocess.DEVNULL)
        t0 = time.monotonic()
        keeper.spawned(proc.pid)
        code = proc.wait(90)
        keeper.ended(code, time.monotonic() - t0)
        return code

    return run

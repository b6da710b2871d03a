"""Headless runs of a real CLI under the session its agent's SessionKeeper chose, as the watcher spawns
it: `choose()` before, `spawned(pid)` after the start, `ended(code, uptime)` at the exit (which reads
what the run wrote: the id the CLI picked, and its model turns)."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from teamctl_supervisor.agent import launch
from teamctl_supervisor.agent.sessions import SessionKeeper

from realcli.fakeapi import FakeAPI


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


def turn_cycle(keeper: SessionKeeper, run: Callable[[str], int], api: FakeAPI, refusal: dict[str, Any]) -> None:
    """Three runs of one agent (issue 22, "resumed" on evidence): an answered run is a turn of its own
    session's store; a resumed run the API refuses (`api.set_limit("quota", ..., **refusal)`, which the
    CLI does not retry) is none, though the CLI loads and may rewrite its history; the next answered run
    is one again, in the same conversation."""
    watch = keeper.turns
    assert run("first-7731") == 0 and keeper.session_id
    first = watch.proof
    assert first is not None and first.source == watch.kind and watch.last is first
    refused_at = time.time()  # after run 1 has ended: its side requests are all in
    api.set_limit("quota", time.time() + 3600, **refusal)
    run("second-4402")
    assert api.model_requests(refused_at) and not api.answered_ok(refused_at)
    assert watch.proof is None and watch.last is first
    api.clear_limit()
    t = time.time()
    assert run("third-5519") == 0
    third = watch.proof
    assert third is not None and third.source == watch.kind and third.at >= t
    asked = [text for r in api.answered_ok(t) if "third-5519" in (text := json.dumps(r.body))]
    assert any("first-7731" in text for text in asked)  # its own conversation, resumed

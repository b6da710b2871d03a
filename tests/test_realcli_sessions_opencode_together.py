"""One conversation per agent (issue 22) for two opencode agents started at the same moment, as `teamctl up`
starts them: the real CLI (opencode-linux-x64 1.19.5) against the fake API.

opencode keeps every session of a user in one SQLite database, and an agent's session is "the one new
session there that no other agent holds": two agents of one HOME started together each saw the other's
new session too and never learned their own, so every respawn started a new conversation. Each agent
now runs with a database of its own (`OPENCODE_DB`, from the descriptor's `agent_env`): both watchers
are spawned together, twice (as `up` after `down`), headless (`opencode run`); the second run of each
must carry its own first turn and never the other agent's, and its model turns are read from its own
database (agent/turns/opencode_store.py).
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from realcli import opencode
from realcli.fakeapi import FakeAPI

PROMPTS = {"alpha": "alpha-prompt-7731", "bravo": "bravo-prompt-4402"}


def _start_together(root: Path, env: dict[str, str], cwd: Path) -> dict[str, subprocess.Popen]:
    """Both agents under `rl-watch` at once, as `up` starts them."""
    procs = {}
    for name, prompt in PROMPTS.items():
        cmd = [sys.executable, "-m", "teamctl_supervisor", "rl-watch", f"solo:{name}", "--runtime", "opencode",
               "--root", str(root), "--restart", "on-failure", "--", *opencode.argv("run", prompt)]
        procs[name] = subprocess.Popen(cmd, env={**env, "PYTHONPATH": ""}, cwd=cwd, stdin=subprocess.DEVNULL,
                                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return procs


def _watch_together(root: Path, env: dict[str, str], cwd: Path,
                    procs: dict[str, subprocess.Popen] | None = None) -> None:
    """Both agents under `rl-watch` at once (or `procs`, already started); each CLI answers and exits 0."""
    procs = procs or _start_together(root, env, cwd)
    try:
        for name, proc in procs.items():
            out, _ = proc.communicate(timeout=90)
            assert proc.returncode == 0, f"{name}: {out[-2000:]}"
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def _holds(db: Path, sid: str) -> bool:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return bool(con.execute("SELECT 1 FROM session WHERE id = ?", (sid,)).fetchone())
    except sqlite3.Error:
        return False
    finally:
        con.close()


def _session_id(root: Path, name: str) -> str | None:
    try:
        return json.loads((root / "state" / "sessions" / f"solo-{name}.json").read_text()).get("id")
    except (OSError, ValueError):
        return None


def _asked_with_own_history(api: FakeAPI, since: float) -> None:
    """Each agent's requests since `since` carry its earlier prompt and the one given now, never the other's."""
    for name, prompt in PROMPTS.items():
        other = next(p for p in PROMPTS.values() if p != prompt)
        turns = [text for r in api.answered_ok(since) if prompt in (text := json.dumps(r.body))]
        assert turns, f"{name} made no model request"
        assert all(other not in text for text in turns), f"{name} carried the other agent's conversation"
        assert max(text.count(prompt) for text in turns) >= 2, f"{name} started over: {turns[-1][:600]}"


def _argv0(proc: psutil.Process) -> str | None:
    """The process's program, None once it is gone or a zombie (a helper of the CLI that just ended)."""
    try:
        return (proc.cmdline() or [None])[0]
    except psutil.Error:
        return None


def _wait(cond, timeout: float, what: str):  # noqa: ANN001, ANN202
    deadline = time.monotonic() + timeout
    while not (value := cond()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)
    return value


@pytest.mark.timeout(150)  # the run takes well under a minute
def test_two_opencode_agents_started_together_each_learn_and_resume_their_own(tmp_path: Path) -> None:
    home, root = tmp_path / "home", tmp_path / "team"
    with FakeAPI(reply_text="Hello from the fake API.") as api:
        env = opencode.prepare(home, api.base_url)
        _watch_together(root, env, home / "work")
        first = {name: _session_id(root, name) for name in PROMPTS}
        assert all(first.values()), f"a session id was not learned: {first}"
        assert len(set(first.values())) == 2
        t = time.time()
        _watch_together(root, env, home / "work")  # as `up` after `down`: each resumes its own
        _asked_with_own_history(api, t)
    assert {name: _session_id(root, name) for name in PROMPTS} == first
    data = home / ".local" / "share" / "opencode"
    for name, sid in first.items():  # each session lives in the agent's own database, and only there
        assert _holds(data / f"teamctl-solo-{name}.db", sid)
        assert not any(_holds(db, sid) for db in data.glob("*.db") if db.name != f"teamctl-solo-{name}.db")
        log = (root / "state" / "logs" / f"solo-{name}.supervisor.log").read_text()
        assert f"model turn seen (opencode-store): session {sid} of solo-{name}" in log  # its own store's evidence


@pytest.mark.timeout(150)  # the run takes well under a minute
def test_two_opencode_agents_started_together_come_back_to_their_own_after_a_kill_9(tmp_path: Path) -> None:
    """The provider is overloaded (opencode retries by itself): both CLIs wait in their new sessions, each
    learned while it runs, and are killed -9; respawned, each asks again in its own session."""
    home, root = tmp_path / "home", tmp_path / "team"
    with FakeAPI(reply_text="Hello from the fake API.") as api:
        env = opencode.prepare(home, api.base_url)
        api.set_limit("overload")
        t = time.time()
        procs = _start_together(root, env, home / "work")
        try:
            first = _wait(lambda: (ids := {n: _session_id(root, n) for n in PROMPTS}) and all(ids.values()) and ids,
                          60, "both session ids learned while the CLIs run")
            for prompt in PROMPTS.values():  # its prompt is in its session: the model was asked
                _wait(lambda p=prompt: [r for r in api.model_requests(t) if p in json.dumps(r.body)], 60, prompt)
            binary = opencode.argv()[0]
            for proc in procs.values():  # the CLI each watcher runs, not the watcher
                cli = _wait(lambda proc=proc: [c for c in psutil.Process(proc.pid).children(recursive=True)
                                               if _argv0(c) == binary], 10, "the CLI")
                cli[0].kill()  # SIGKILL
            t = time.time()
            api.clear_limit()
            _watch_together(root, env, home / "work", procs)  # respawned after the kill, answered, done
        finally:
            for proc in procs.values():
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        _asked_with_own_history(api, t)
    assert {name: _session_id(root, name) for name in PROMPTS} == first

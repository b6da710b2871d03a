"""One conversation per agent (issue 22) for opencode, droid, Copilot CLI and aider, real CLIs against the fake API.

Two agents of one runtime share one HOME and one working folder, as the agents of a project do, and
run headless under `teamctl rl-watch` one after the other: alpha, bravo, then alpha and bravo again
(as after `down` and `up`, or a reboot). The second run of each must carry its own first turn (its
prompt twice: the earlier turn and the new one) and never the other agent's. Without session keys a
second run starts a new conversation (opencode `run`, droid `exec`, Copilot `-p`), and aider's resume restores the
chat history the whole folder shares.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from realcli import aider, copilot, droid, opencode
from realcli.fakeapi import FakeAPI

PROMPTS = {"alpha": "alpha-prompt-7731", "bravo": "bravo-prompt-4402"}


def _watch(root: Path, name: str, runtime: str, argv: list[str], env: dict[str, str], cwd: Path) -> str:
    """One run of the agent under rl-watch, as `up` starts it; the CLI answers once and exits 0."""
    cmd = [sys.executable, "-m", "teamctl_supervisor", "rl-watch", f"solo:{name}", "--runtime", runtime,
           "--root", str(root), "--restart", "on-failure", "--", *argv]
    done = subprocess.run(cmd, env={**env, "PYTHONPATH": ""}, cwd=cwd, capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done.stdout


def _turns(api: FakeAPI, since: float, prompt: str) -> list[str]:
    return [text for r in api.answered_ok(since) if prompt in (text := json.dumps(r.body))]


def _two_agents(tmp_path: Path, runtime: str, argv: Callable[[str], list[str]], env: dict[str, str], cwd: Path,
                api: FakeAPI) -> dict[str, str]:
    root = tmp_path / "team"
    for rnd in (1, 2):
        for name, prompt in PROMPTS.items():
            other = next(p for p in PROMPTS.values() if p != prompt)
            t = time.time()
            _watch(root, name, runtime, argv(prompt), env, cwd)
            turns = _turns(api, t, prompt)
            assert turns, f"{name} made no model request in round {rnd}"
            assert all(other not in text for text in turns), f"{name} carried the other agent's conversation"
            if rnd == 2:  # its own earlier turn comes back: the prompt of round 1 and the one given now
                assert max(text.count(prompt) for text in turns) >= 2, f"{name} started over in round 2"
    sessions = {name: json.loads((root / "state" / "sessions" / f"solo-{name}.json").read_text())["id"]
                for name in PROMPTS}
    assert len(set(sessions.values())) == 2 and all(sessions.values())
    return sessions


@pytest.fixture
def api() -> FakeAPI:
    with FakeAPI(reply_text="Hello from the fake API.") as started:
        yield started


def test_two_opencode_run_agents_in_one_folder_each_resume_their_own(api: FakeAPI, tmp_path: Path) -> None:
    """opencode 1.18.34 picks the id and keeps its sessions in one SQLite database per user: the keeper
    reads the agent's new session from it and resumes with `run --session <id>`."""
    home = tmp_path / "home"
    env = opencode.prepare(home, api.base_url)
    sessions = _two_agents(tmp_path, "opencode", lambda p: opencode.argv("run", p), env, home / "work", api)
    assert all(sid.startswith("ses_") for sid in sessions.values())


def test_two_droid_exec_agents_in_one_folder_each_resume_their_own(api: FakeAPI, tmp_path: Path) -> None:
    """droid 0.225.2 picks the id; the keeper learns it from ~/.factory/sessions/<cwd>/<id>.jsonl and
    resumes with `exec -s <id>`."""
    home = tmp_path / "home"
    env = droid.prepare(home, api.base_url)
    sessions = _two_agents(tmp_path, "droid", lambda p: droid.argv("exec", "-m", droid.MODEL_ID, p), env,
                           home / "work", api)
    for sid in sessions.values():  # the ids learned are the CLI's own files
        assert list((home / ".factory" / "sessions").glob(f"*/{sid}.jsonl"))


def test_two_copilot_agents_in_one_folder_each_resume_their_own(api: FakeAPI, tmp_path: Path) -> None:
    """Copilot CLI 1.0.102 takes `--session-id <uuid>` to start and to resume a session."""
    home = tmp_path / "home"
    env = copilot.prepare(home, api.base_url)
    sessions = _two_agents(tmp_path, "copilot", lambda p: copilot.argv("-p", p, "--allow-all-tools"), env,
                           home / "work", api)
    for sid in sessions.values():
        assert (home / ".copilot" / "session-state" / sid / "events.jsonl").is_file()


def test_two_aider_agents_in_one_folder_each_restore_their_own_history(api: FakeAPI, tmp_path: Path) -> None:
    """aider 0.86.2 names no session: each agent's chat and input history live in its session's folder
    under state/, and only that history is restored."""
    home = tmp_path / "home"
    env = aider.prepare(home, api.base_url)
    base = [a for a in aider.argv(base_url=api.base_url) if a != "--no-restore-chat-history"]
    sessions = _two_agents(tmp_path, "aider", lambda p: [*base, "--yes", "--message", p], env, home / "work", api)
    for name, sid in sessions.items():
        folder = tmp_path / "team" / "state" / "sessions" / f"solo-{name}" / sid
        assert oct(folder.stat().st_mode & 0o777) == "0o700"
        assert PROMPTS[name] in (folder / "chat.md").read_text()
    assert not (home / "work" / ".aider.chat.history.md").exists()  # the shared default is not used

"""One conversation per agent (issue 22), with the real CLIs under `teamctl rl-watch` against the fake API.

Two agents of one runtime share one HOME and one working folder, as the agents of a project do.
Each talks to a fake API of its own, so every request is known to be one agent's. Each is respawned
twice: after a kill -9 of its CLI (a crash) and after a pause of its limit group. The request each
makes after a respawn must carry its own earlier turn (its prompt and the model's answer), never the
other agent's: before issue 22 a crash started a new conversation, and a group pause resumed "the
latest conversation in this folder", which is often the other agent's.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from realcli import claude, codex, gemini, qwen
from realcli.fakeapi import FakeAPI
from realcli.watched import WatchedAgent
from teamctl_supervisor.store.mailbox import Store

PROMPTS = {"alpha": "alpha-prompt-7731", "bravo": "bravo-prompt-4402"}
GROUP_PAUSE = 3.0  # seconds the group's limit lasts (each watcher reads it within a second of its poke)
#: the respawn after a kill -9 comes after 0.1-0.2 s instead of the default 1-2 s: the same backoff path
QUICK_RESPAWN = ("--backoff-initial", "0.1")


class Agent:
    def __init__(self, name: str, api: FakeAPI, watched: WatchedAgent) -> None:
        self.name, self.api, self.w = name, api, watched

    @property
    def prompt(self) -> str:
        return PROMPTS[self.name]

    @property
    def other(self) -> str:
        return next(p for n, p in PROMPTS.items() if n != self.name)

    def turns(self, since: float = 0.0) -> list[Any]:
        """This agent's answered model requests that carry its prompt (not the CLI's side calls)."""
        return [r for r in self.api.answered_ok(since) if self.prompt in json.dumps(r.body)]

    def state(self) -> sqlite3.Row | None:
        return self.w.state()


def _carries_own_history(agent: Agent, since: float) -> Any:
    """The first request after `since` that holds the agent's earlier turn (its prompt twice: the
    earlier turn and the prompt given again at the respawn, or the earlier turn and an answer)."""
    for req in agent.turns(since):
        text = json.dumps(req.body)
        assert agent.other not in text, f"{agent.name} resumed the other agent's conversation"
        if text.count(agent.prompt) >= 2 or "Hello from the fake API" in text:
            return req
    return None


def _group_pause(root: Path, group: str) -> float:
    """A limit of another agent of the group, lasting GROUP_PAUSE s; the watchers are told at once."""
    now = time.time()
    store = Store(root / "state" / "mailbox.db", root / "state" / "spool", "test")
    try:
        assert store.record_hit("solo:other", group, now, now + GROUP_PAUSE, "test: group limit", group, None,
                                "stop", now + GROUP_PAUSE)
    finally:
        store.close()
    return now


def _poke(agent: Agent) -> None:
    state = agent.state()
    assert state is not None and state["watcher_pid"]
    os.kill(state["watcher_pid"], signal.SIGUSR2)


def _respawned_into_own(agents: list[Agent], since: float, what: str, old_pids: dict[str, int]) -> None:
    for a in agents:
        # the runtime started again after `since`: only its requests count (not a late one of the old run)
        # (the watcher's "state starting" stamp: the state row's started_at reads up to a second early)
        began = a.w.wait_for(lambda a=a: a.w.respawn_began(since), 120, f"{a.name}'s respawn after {what}")
        a.w.wait_for(lambda a=a: (s := a.state()) and s["state"] == "running"
                     and s["pid"] not in (None, old_pids[a.name]), 120, f"{a.name} running again after {what}")
        req = a.w.wait_for(lambda a=a, t=began: _carries_own_history(a, t), 120,
                           f"{a.name}'s own history after {what}")
        assert a.other not in json.dumps(req.body)
        assert "resuming it" in a.w.log()


def _kill_cli(agent: Agent) -> tuple[float, int]:
    state = agent.w.wait_for(lambda: (s := agent.state()) and s["state"] == "running" and s["pid"] and s,
                             60, f"{agent.name} running")
    t = time.time()
    os.kill(state["pid"], signal.SIGKILL)
    return t, state["pid"]


def _scenario(agents: list[Agent], group: str, root: Path, turns_in_file: bool = True) -> None:
    """`turns_in_file`: the runtime's session file is one evidence.py reads (Claude Code, Codex)."""
    for a in agents:
        a.w.wait_for(lambda a=a: a.turns(), 90, f"{a.name}'s first turn")
    # a crash of both at once: each CLI killed outright comes back in its own conversation, not a
    # new one and not the other's (both respawn in the same moment, in the same folder)
    proofs = {a.name: a.w.log().count("model turn seen") for a in agents}
    killed = {a.name: _kill_cli(a) for a in agents}
    _respawned_into_own(agents, min(t for t, _ in killed.values()), "a kill -9",
                        {name: pid for name, (_, pid) in killed.items()})
    # the resumed turn is in the CLI's own session file before the pause, where the watcher reads one:
    # Gemini CLI 0.61.0 stopped in the middle of its first turn after a resume left a session it then
    # called an invalid identifier (seen under load); that is the CLI's own file, and the watcher's
    # answer to it (a fresh session after two failed resumes) is tested in test_sessions.py
    for a in agents:
        if proofs[a.name]:
            a.w.wait_for(lambda a=a: a.w.log().count("model turn seen") > proofs[a.name], 120,
                         f"{a.name}'s resumed turn in its own session file")
    # a pause of the limit group: both stop, wait, and come back each in its own conversation
    pids = {a.name: a.w.wait_for(lambda a=a: (s := a.state()) and s["state"] == "running" and s["pid"], 60,
                                 f"{a.name} running again") for a in agents}
    t = _group_pause(root, group)
    for a in agents:
        _poke(a)
    for a in agents:
        a.w.wait_for(lambda a=a: "group" in a.w.log() and "pausing" in a.w.log(), 60, f"{a.name} paused")
    _respawned_into_own(agents, t, "a group pause", pids)
    sessions = {a.name: json.loads((root / "state" / "sessions" / f"solo-{a.name}.json").read_text())["id"]
                for a in agents}
    assert len(set(sessions.values())) == 2 and all(sessions.values())
    for a in agents:
        path = root / "state" / "sessions" / f"solo-{a.name}.json"
        assert oct(path.stat().st_mode & 0o777) == "0o600"
        if not turns_in_file:
            continue
        # the model's turns were seen in the agent's own session file (what `status` shows as LAST TURN)
        a.w.wait_for(lambda path=path: (json.loads(path.read_text()).get("last_turn_at") or 0) >= t, 30,
                     "the turn after the pause recorded")
        assert "model turn seen" in a.w.log()


@pytest.fixture
def apis() -> Iterator[dict[str, FakeAPI]]:
    started = {name: FakeAPI(reply_text="Hello from the fake API.").start() for name in PROMPTS}
    try:
        yield started
    finally:
        for api in started.values():
            api.stop()


@pytest.mark.timeout(400)  # two CLIs, a kill -9 and a group pause each: its waits are its deadlines
def test_two_claude_agents_in_one_folder_each_resume_their_own_conversation(apis, tmp_path: Path) -> None:
    home, root = tmp_path / "home", tmp_path / "team"
    env = claude.prepare(home, apis["alpha"].base_url, trust=True)
    agents: list[Agent] = []
    try:
        for name in PROMPTS:  # bravo starts after alpha: its conversation is "the latest" in the folder
            agent_env = {**env, "ANTHROPIC_BASE_URL": apis[name].base_url}
            w = WatchedAgent(root, name, "claude-code", claude.argv(claude.NEWEST, PROMPTS[name]), agent_env,
                             home / "work", *QUICK_RESPAWN)
            agents.append(Agent(name, apis[name], w))
            w.wait_for(lambda a=agents[-1]: a.turns(), 90, f"{name}'s first turn")
        _scenario(agents, "claude-code", root)
    finally:
        for a in agents:
            a.w.close()


@pytest.mark.timeout(400)  # two CLIs, a kill -9 and a group pause each: its waits are its deadlines
def test_two_codex_agents_in_one_folder_each_resume_their_own_conversation(apis, tmp_path: Path) -> None:
    work, root = tmp_path / "work", tmp_path / "team"
    work.mkdir()
    env = codex.prepare(tmp_path / "home", apis["alpha"].base_url, cwd=work)
    agents: list[Agent] = []
    try:
        for name in PROMPTS:
            # each agent's own fake API: the provider's base_url from the command line
            argv = codex.argv("-c", f'model_providers.fake.base_url="{apis[name].base_url}/v1"', PROMPTS[name])
            w = WatchedAgent(root, name, "codex", argv, env, work, *QUICK_RESPAWN)
            agents.append(Agent(name, apis[name], w))
            w.wait_for(lambda a=agents[-1]: a.turns(), 90, f"{name}'s first turn")
        _scenario(agents, "codex", root)
    finally:
        for a in agents:
            a.w.close()


@pytest.mark.timeout(400)
@pytest.mark.parametrize("runtime", ["gemini", "qwen-code"])
def test_two_agents_of_a_cli_that_takes_a_session_id_each_resume_their_own(runtime: str, tmp_path: Path) -> None:
    """Gemini CLI 0.61.0 and qwen-code 0.24.4 take `--session-id` and `--resume <id>` too; `-i PROMPT`
    starts the TUI with the agent's prompt. One fake API for both: each request is known by its prompt."""
    module = gemini if runtime == "gemini" else qwen
    work, root = tmp_path / "work", tmp_path / "team"
    work.mkdir()
    agents: list[Agent] = []
    with FakeAPI(reply_text="Hello from the fake API.") as api:
        # Gemini's start-up session cleanup off, as `validate` asks of a team whose Gemini agents share a
        # folder (team/session_check.py): otherwise a resume in a later minute than the session began
        # leaves a file the other agent's start deletes, with this agent's whole session
        extra = {"general": {"sessionRetention": {"enabled": False}}} if runtime == "gemini" else None
        env = module.prepare(tmp_path / "home", api.base_url, **({"settings": extra} if extra else {}))
        try:
            for name in PROMPTS:
                w = WatchedAgent(root, name, runtime, module.argv("-i", PROMPTS[name]), env, work, *QUICK_RESPAWN)
                agents.append(Agent(name, api, w))
                w.wait_for(lambda a=agents[-1]: a.turns(), 90, f"{name}'s first turn")
            _scenario(agents, runtime, root, turns_in_file=False)
        finally:
            for a in agents:
                a.w.close()

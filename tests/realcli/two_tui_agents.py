"""Two agents of one runtime in one folder, each respawned after a kill -9 of its CLI and after a
group pause (issue 22), for TUIs that take no prompt on their command line at a resume.

tests/test_realcli_sessions.py gives Claude Code, Codex, Gemini CLI and qwen-code their prompt on the
command line, so every respawn asks the model again by itself. opencode, Copilot CLI, droid and aider
in their interactive form do not (opencode's `--prompt` is not submitted into a resumed session), so
after each respawn this types a short follow-up into the agent's pane, as its user would: the request
it makes must carry the agent's own earlier turn and never the other agent's. Each step waits on a
condition with a deadline; the whole run takes well under a minute.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from teamctl_supervisor.store.mailbox import Store

from realcli.fakeapi import FakeAPI
from realcli.watched import WatchedAgent

PROMPTS = {"alpha": "alpha-prompt-7731", "bravo": "bravo-prompt-4402"}
REPLY = "Hello from the fake API."
GROUP_PAUSE = 4.0  # seconds the group's limit lasts


class TuiAgent:
    """One watched agent; `ready(screen)`: the respawned TUI takes keys (its input drawn). `inline`: the
    TUI draws in the pane's scrollback (droid), so only what follows the watcher's last note is the
    respawned TUI's; a full-screen TUI (opencode, Copilot CLI) is read whole."""

    def __init__(self, name: str, api: FakeAPI, watched: WatchedAgent, ready: Callable[[str], bool],
                 inline: bool = False) -> None:
        self.name, self.api, self.w, self.ready, self.inline = name, api, watched, ready, inline
        self.prompt = PROMPTS[name]
        self.other = next(p for n, p in PROMPTS.items() if n != name)
        self.follow_ups = 0

    def requests(self, since: float = 0.0) -> list[str]:
        """Bodies of this agent's answered model requests since `since` that carry its prompt."""
        return [text for r in self.api.answered_ok(since) if self.prompt in (text := json.dumps(r.body))]

    def state(self) -> Any:
        return self.w.state()

    def screen(self) -> str:
        text = self.w.screen()
        return text.rsplit("[teamctl] ", 1)[-1] if self.inline else text


def session_id(agent: TuiAgent) -> str | None:
    """The agent's session id as its keeper keeps it under state/ (None: not known yet)."""
    path = agent.w.root / "state" / "sessions" / f"{agent.w.agent.replace(':', '-')}.json"
    try:
        return json.loads(path.read_text()).get("id")
    except (OSError, ValueError):
        return None


def first_turn(agent: TuiAgent, kept: Callable[[str], bool], timeout: float = 60) -> None:
    """The agent's first answer, kept in its session (`kept(session id)`: the CLI's own store holds it),
    so a conversation that comes back carries it: a kill before the CLI wrote it would lose it."""
    agent.w.wait_for(lambda: agent.requests(), timeout, f"{agent.name}'s first turn")
    agent.w.wait_for(lambda: (sid := session_id(agent)) and kept(sid), timeout, f"{agent.name}'s answer kept")


def _own_history(agent: TuiAgent, since: float, word: str) -> str | None:
    """The request after `since` that asks `word` and carries the agent's earlier turn: its prompt
    (`requests` holds only those) and the answer (a new conversation that the CLI started with the
    prompt of its command line has the prompt, not the answer)."""
    for text in agent.requests(since):
        assert agent.other not in text, f"{agent.name} resumed the other agent's conversation"
        if word in text and REPLY in text:
            return text
    return None


def _summary(agent: TuiAgent, since: float, word: str) -> list[tuple[bool, ...]]:
    texts = [json.dumps(r.body) for r in agent.api.answered_ok(since)]
    return [(agent.prompt in t, word in t, REPLY in t, agent.other in t) for t in texts]


def type_text(agent: TuiAgent, text: str, what: str) -> None:
    """Once the TUI is ready, type `text` (not Enter) until it is drawn: a TUI still starting may drop keys."""
    agent.w.wait_for(lambda: agent.ready(agent.screen()), 120, f"{agent.name}'s TUI ready {what}")
    deadline = time.monotonic() + 40
    while text not in agent.screen():
        assert time.monotonic() < deadline, f"{text} never drawn\n{agent.w.screen()}"
        agent.w.send(text, literal=True)
        end = time.monotonic() + 2.5
        while text not in agent.screen() and time.monotonic() < end:
            time.sleep(0.1)


def type_follow_up(agent: TuiAgent, since: float, what: str) -> str:
    """Once the respawned TUI is ready, type a follow-up and press Enter until the model is asked;
    returns that request's body."""
    agent.follow_ups += 1
    word = f"{agent.name}-again-{agent.follow_ups}"
    type_text(agent, word, f"after {what}")
    assert agent.w.press_enter_until(lambda: _own_history(agent, since, word)), \
        f"{agent.name}: no request with its own history after {what}\n{agent.w.screen()}\n{agent.w.log()[-2000:]}" \
        f"\n--- requests since (prompt, word, reply, other):\n{_summary(agent, since, word)}"
    text = _own_history(agent, since, word)
    assert text is not None
    return text


def respawned(agent: TuiAgent, since: float, what: str) -> float:
    """The runtime started again after `since`; returns its start."""
    row = agent.w.wait_for(lambda: (s := agent.state()) and s["state"] == "running"
                           and (s["started_at"] or 0) > since and s, 60, f"{agent.name} respawned after {what}")
    return float(row["started_at"])


def kill_cli(agent: TuiAgent) -> float:
    state = agent.w.wait_for(lambda: (s := agent.state()) and s["state"] == "running" and s["pid"] and s,
                             60, f"{agent.name} running")
    t = time.time()
    os.kill(state["pid"], signal.SIGKILL)
    return t


def group_pause(root: Path, group: str, agents: list[TuiAgent]) -> float:
    """A limit of another agent of the group, lasting GROUP_PAUSE s; the watchers are told at once."""
    now = time.time()
    store = Store(root / "state" / "mailbox.db", root / "state" / "spool", "test")
    try:
        assert store.record_hit("solo:other", group, now, now + GROUP_PAUSE, "test: group limit", group, None,
                                "stop", now + GROUP_PAUSE)
    finally:
        store.close()
    for a in agents:
        state = a.state()
        assert state is not None and state["watcher_pid"]
        os.kill(state["watcher_pid"], signal.SIGUSR2)
    return now


def crash(agent: TuiAgent) -> None:
    """A kill -9 of the agent's CLI: it comes back in its own conversation."""
    t = kill_cli(agent)
    type_follow_up(agent, respawned(agent, t, "a kill -9"), "a kill -9")


def pause(root: Path, group: str, agents: list[TuiAgent], turns: str) -> None:
    """A pause of the limit group: every agent stops, waits, and comes back in its own conversation;
    its answer is seen in its own session store by the reader `turns` (agent/turns/), which proves
    the resume ("resumed the session: model turn seen (<turns>)")."""
    t = group_pause(root, group, agents)
    for a in agents:
        a.w.wait_for(lambda a=a: "group" in a.w.log() and "pausing" in a.w.log(), 30, f"{a.name} paused")
    for a in agents:
        type_follow_up(a, respawned(a, t, "a group pause"), "a group pause")
        assert "resuming it" in a.w.log()
    for a in agents:
        a.w.wait_for(lambda a=a: f"resumed the session: model turn seen ({turns})" in a.w.log(), 30,
                     f"{a.name}'s resume proven by its session store")


def sessions(root: Path, agents: list[TuiAgent]) -> dict[str, str]:
    """Each agent's session id as kept under state/: two, both set."""
    found = {a.name: json.loads((root / "state" / "sessions" / f"solo-{a.name}.json").read_text())["id"]
             for a in agents}
    assert len(set(found.values())) == 2 and all(found.values())
    return found

"""One conversation per agent (issue 22) for aider's interactive chat under `teamctl rl-watch`, against the fake API.

aider (aider-chat 0.86.2) names no session: it keeps the chat in .aider.chat.history.md of the project,
which every agent of a folder shares, and `--restore-chat-history` restores that one. The keeper gives
each agent its own history files in its session's folder under state/ and restores only those. Two
agents in one HOME and one folder, each asked its prompt at aider's `>` prompt, are respawned after a
kill -9 of their CLI and after a group pause; a follow-up typed after each respawn must reach the model
with the agent's own earlier prompt and answer, never the other's.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from realcli import aider
from realcli.fakeapi import FakeAPI
from realcli.two_tui_agents import PROMPTS, REPLY, TuiAgent, crash, first_turn, pause, sessions, type_text
from realcli.watched import WatchedAgent


def _ready(screen: str) -> bool:
    """aider 0.86.2's prompt: a row that is `>` alone (captured)."""
    return ">" in [line.rstrip() for line in screen.splitlines()]


@pytest.mark.timeout(360)  # its waits are its deadlines (a TUI start under load: 120 s); it takes about a minute
def test_two_aider_agents_in_one_folder_each_restore_their_own_chat(tmp_path: Path) -> None:
    """One HOME and one fake API for both: each request is known by its prompt."""
    home, root = tmp_path / "home", tmp_path / "team"
    agents: list[TuiAgent] = []
    with FakeAPI(reply_text=REPLY) as api:
        env = aider.prepare(home, api.base_url)
        base = [a for a in aider.argv(base_url=api.base_url) if a != "--no-restore-chat-history"]

        def kept(sid: str) -> bool:  # the answer in the agent's own chat history (its session's folder)
            chats = (root / "state" / "sessions").glob(f"*/{sid}/chat.md")
            return any(REPLY in f.read_text(errors="replace") for f in chats)

        def start(name: str) -> TuiAgent:
            w = WatchedAgent(root, name, "aider", base, env, home / "work")
            agent = TuiAgent(name, api, w, _ready, inline=True)
            agents.append(agent)
            type_text(agent, agent.prompt, "at its start")
            assert w.press_enter_until(agent.requests), f"{name}: no model request\n{w.screen()}"
            return agent

        try:
            alpha = start("alpha")
            first_turn(alpha, kept)
            bravo = start("bravo")
            crash(alpha)
            first_turn(bravo, kept)
            crash(bravo)
            pause(root, "aider", agents, "aider-chat")
            found = sessions(root, agents)
        finally:
            for a in agents:
                a.w.close()
    for name, sid in found.items():
        chat = (root / "state" / "sessions" / f"solo-{name}" / sid / "chat.md").read_text()
        assert PROMPTS[name] in chat and next(p for n, p in PROMPTS.items() if n != name) not in chat
    assert not (home / "work" / ".aider.chat.history.md").exists()  # the shared default is not used

"""One conversation per agent (issue 22) for Copilot CLI's TUI under `teamctl rl-watch`, against the fake API.

Copilot CLI (@github/copilot-linux-x64 1.0.102) resumes "the most recent session" with `--continue`; the
keeper gives each agent a uuid of its own (`--session-id`, which starts and resumes it). Two agents in one
HOME and one folder, each started with `-i <prompt>` ("Start interactive mode and automatically execute
this prompt"), are respawned after a kill -9 of their CLI and after a group pause (the watcher answers the
folder-trust dialog each time); a follow-up typed after each respawn must reach the model with the agent's
own earlier prompt, never the other's.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from realcli import copilot
from realcli.fakeapi import FakeAPI
from realcli.two_tui_agents import PROMPTS, REPLY, TuiAgent, crash, first_turn, pause, sessions
from realcli.watched import WatchedAgent


def _ready(screen: str) -> bool:
    """Copilot CLI 1.0.102's prompt, past the trust dialog: its hint row (captured)."""
    return "/ commands" in screen and "trust the files" not in screen


@pytest.mark.timeout(360)  # its waits are its deadlines (a TUI start under load: 120 s); it takes about a minute
def test_two_copilot_tui_agents_in_one_folder_each_resume_their_own(tmp_path: Path) -> None:
    """One COPILOT_HOME and one fake API for both: each request is known by its prompt."""
    home, root = tmp_path / "home", tmp_path / "team"
    agents: list[TuiAgent] = []
    copilot.package_dir()  # unpacked once, before two copilot processes could race to do it
    with FakeAPI(reply_text=REPLY) as api:
        env = copilot.prepare(home, api.base_url)

        def kept(sid: str) -> bool:  # the answer in the session's events
            events = home / ".copilot" / "session-state" / sid / "events.jsonl"
            return events.is_file() and REPLY in events.read_text(errors="replace")

        def start(name: str) -> TuiAgent:
            w = WatchedAgent(root, name, "copilot", copilot.argv("-i", PROMPTS[name]), env, home / "work")
            agents.append(TuiAgent(name, api, w, _ready))
            return agents[-1]

        try:
            alpha = start("alpha")
            first_turn(alpha, kept)
            bravo = start("bravo")  # its session is "the most recent" one while alpha comes back from its crash
            crash(alpha)
            first_turn(bravo, kept)
            crash(bravo)
            pause(root, "copilot", agents, "copilot-events")
            found = sessions(root, agents)
        finally:
            for a in agents:
                a.w.close()
    for sid in found.values():
        assert (home / ".copilot" / "session-state" / sid / "events.jsonl").is_file()

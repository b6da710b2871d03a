"""One conversation per agent (issue 22) for droid's TUI under `teamctl rl-watch`, against the fake API.

droid (@factory/cli-linux-x64 0.225.2) resumes "the most recent session in the current folder" with
`--resume --last`; it picks each session's id itself, which the keeper learns from the session file under
~/.factory/sessions/ and resumes with `--resume <id>`. Two agents in one HOME and one folder, its TUI in
Airgap mode (no Factory login; tests/realcli/droid.py), each started with its prompt as droid's
`[prompt...]` argument, are respawned after a kill -9 of their CLI and after a group pause (the watcher
answers the folder-trust dialog each time); a follow-up typed after each respawn must reach the model
with the agent's own earlier prompt, never the other's.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from realcli import droid
from realcli.fakeapi import FakeAPI
from realcli.two_tui_agents import PROMPTS, REPLY, TuiAgent, crash, first_turn, pause, sessions
from realcli.watched import WatchedAgent


def _ready(screen: str) -> bool:
    """droid 0.225.2's prompt, past the trust dialog: its hint (captured)."""
    return "? for help" in screen and "Trust this folder" not in screen


@pytest.mark.timeout(360)  # its waits are its deadlines (a TUI start under load: 120 s); it takes about a minute
def test_two_droid_tui_agents_in_one_folder_each_resume_their_own(tmp_path: Path) -> None:
    """One HOME and one fake API for both: each request is known by its prompt."""
    home, root = tmp_path / "home", tmp_path / "team"
    agents: list[TuiAgent] = []
    with FakeAPI(reply_text=REPLY) as api:
        env = droid.prepare(home, api.base_url, airgap=True)

        def kept(sid: str) -> bool:  # the answer in the session's file
            return any(REPLY in f.read_text(errors="replace")
                       for f in (home / ".factory" / "sessions").glob(f"*/{sid}.jsonl"))

        def start(name: str) -> TuiAgent:
            w = WatchedAgent(root, name, "droid", droid.argv(PROMPTS[name]), env, home / "work")
            agents.append(TuiAgent(name, api, w, _ready, inline=True))
            return agents[-1]

        try:
            alpha = start("alpha")
            first_turn(alpha, kept)
            bravo = start("bravo")  # its session is "the most recent" one while alpha comes back from its crash
            crash(alpha)
            first_turn(bravo, kept)
            crash(bravo)
            pause(root, "droid", agents, "droid-chat")
            found = sessions(root, agents)
        finally:
            for a in agents:
                a.w.close()
    for sid in found.values():  # the ids learned are the CLI's own files
        assert list((home / ".factory" / "sessions").glob(f"*/{sid}.jsonl"))

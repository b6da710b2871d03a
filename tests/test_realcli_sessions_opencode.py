"""One conversation per agent (issue 22) for opencode's TUI under `teamctl rl-watch`, the real CLI against the fake API.

opencode (opencode-linux-x64 1.19.5) keeps every session of a user in one SQLite database, so two agents
of a project share more than a folder: "the last session" (`--continue`) is whichever of them wrote last
(each agent now has a database of its own, `OPENCODE_DB` from the descriptor's `agent_env`).
Two agents in one HOME and one folder, each started with `--prompt` (the TUI submits it
into a new session), are respawned after a kill -9 of their CLI and after a group pause; a follow-up
typed after each respawn must reach the model with the agent's own earlier turn (the keeper resumes
`--session <its id>`, read from the database), never the other's.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from realcli import opencode
from realcli.fakeapi import FakeAPI
from realcli.two_tui_agents import PROMPTS, REPLY, TuiAgent, first_turn, kill_cli, pause, sessions, type_follow_up
from realcli.watched import WatchedAgent


def _ready(screen: str) -> bool:
    """opencode 1.19.5's session view: its footer hint (captured)."""
    return "ctrl+p commands" in screen


def _has_answer(db: Path, sid: str) -> bool:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return bool(con.execute("SELECT 1 FROM part WHERE session_id = ? AND data LIKE ?",
                                (sid, f"%{REPLY}%")).fetchone())
    except sqlite3.Error:
        return False
    finally:
        con.close()


def _crash(agent: TuiAgent) -> None:
    """A kill -9 of the agent's CLI, respawned 0.1-0.2 s later (`--backoff-initial 0.1`, the backoff path
    of the default 1-2 s): it comes back in its own conversation. The respawn is known by the watcher's
    stamp (WatchedAgent.respawn_began): the state row's started_at reads up to a second early."""
    t = kill_cli(agent)
    began = agent.w.wait_for(lambda: agent.w.respawn_began(t), 60, f"{agent.name} respawned after a kill -9")
    type_follow_up(agent, began, "a kill -9")


@pytest.mark.timeout(360)  # its waits are its deadlines (a TUI start under load: 120 s); it takes under a minute
def test_two_opencode_tui_agents_in_one_folder_each_resume_their_own(tmp_path: Path) -> None:
    """One fake API for both: each request is known by its prompt."""
    home, root = tmp_path / "home", tmp_path / "team"
    agents: list[TuiAgent] = []
    with FakeAPI(reply_text=REPLY) as api:
        env = opencode.prepare(home, api.base_url)

        def kept(sid: str) -> bool:  # the answer's text part in the agent's own opencode database
            return any(_has_answer(db, sid) for db in (home / ".local" / "share" / "opencode").glob("teamctl-*.db"))

        def start(name: str) -> TuiAgent:
            w = WatchedAgent(root, name, "opencode", opencode.argv("--prompt", PROMPTS[name]), env, home / "work",
                             "--backoff-initial", "0.1")
            agents.append(TuiAgent(name, api, w, _ready))
            return agents[-1]

        try:
            alpha = start("alpha")
            first_turn(alpha, kept)
            bravo = start("bravo")  # its session is "the last" one while alpha comes back from its crash
            _crash(alpha)
            first_turn(bravo, kept)
            _crash(bravo)
            pause(root, "opencode", agents, "opencode-store")
            found = sessions(root, agents)
        finally:
            for a in agents:
                a.w.close()
    assert all(sid.startswith("ses_") for sid in found.values())

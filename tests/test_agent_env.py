"""A descriptor's per-agent launch environment (`[launch] agent_env`, issue 22): opencode agents each get
a session database of their own (OPENCODE_DB), so agents started together never wait on each other to
learn their ids; a user's or compose's own value wins, and then the agents share as before."""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from pathlib import Path

import pytest
from conftest import wait_for
from teamctl_supervisor.agent import session_db
from teamctl_supervisor.agent.agent_env import file_slug, launch_env
from teamctl_supervisor.agent.sessions import SessionChoice, SessionKeeper
from teamctl_supervisor.agent.settings import settings_for_agent
from teamctl_supervisor.cli import main
from teamctl_supervisor.core.descriptors.loader import load_descriptor, load_runtime
from teamctl_supervisor.core.errors import DescriptorError
from teamctl_supervisor.team.compose import load_compose
from watchkit import FAKES, make_team

# -- the key ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("table", "where", "words"), [
    ('agent_env = "OPENCODE_DB=x"', "launch.agent_env", "table of strings"),
    ("agent_env = { OPENCODE_DB = 3 }", "launch.agent_env.OPENCODE_DB", "non-empty string"),
    ('agent_env = { "BAD NAME" = "x" }', "launch.agent_env.BAD NAME", "environment variable name"),
    ('agent_env = { OPENCODE_DB = "{HOME}/x-{agent_file}.db" }', "launch.agent_env.OPENCODE_DB",
     "unknown placeholder {HOME} (known: {agent_file}, {xdg_data_home})"),
])
def test_a_bad_agent_env_names_its_key(tmp_path: Path, table: str, where: str, words: str) -> None:
    path = tmp_path / "rt.toml"
    path.write_text(f'name = "rt"\n[launch]\nbinary = "rt"\n{table}\n')
    with pytest.raises(DescriptorError) as err:
        load_descriptor(path)
    assert err.value.where == where and words in str(err.value)


def test_validate_refuses_a_team_descriptor_with_an_unknown_placeholder(tmp_path: Path, capsys) -> None:
    team = make_team(tmp_path, {"a": ""})
    toml = (team / "runtimes" / "claude-code.toml")
    toml.write_text(toml.read_text().replace("[launch]\n", '[launch]\nagent_env = { DB = "{agent}.db" }\n', 1))
    assert main(["validate", "-C", str(team.parent)]) == 2
    assert "launch.agent_env.DB: unknown placeholder {agent}" in capsys.readouterr().out


# -- the environment -------------------------------------------------------------------------------

def _team(tmp_path: Path, agent_extra: str = "") -> Path:
    team = make_team(tmp_path, {"a": agent_extra, "b": ""})
    toml = (team / "runtimes" / "claude-code.toml")
    toml.write_text((FAKES / "runtimes" / "fake.toml").read_text().replace('name = "fake"', 'name = "claude-code"')
                    .replace("[launch]\n", '[launch]\nagent_env = { MY_DB = "{xdg_data_home}/x/tc-{agent_file}.db" }\n'
                             'env = { FROM_DESCRIPTOR = "1" }\n', 1))
    return team


def test_each_agent_gets_its_own_value_under_the_data_dir(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("MY_DB", raising=False)
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "h"))
    team = load_compose(str(_team(tmp_path)))
    envs = [settings_for_agent(team, team.agent(f"p:{n}"), ["x"], write_files=False).env for n in "ab"]
    assert [e["MY_DB"] for e in envs] == [f"{tmp_path}/h/.local/share/x/tc-p-{n}.db" for n in "ab"]
    assert envs[0]["FROM_DESCRIPTOR"] == "1"
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "d"))
    env = settings_for_agent(team, team.agent("p:a"), ["x"], write_files=False).env
    assert env["MY_DB"] == f"{tmp_path}/d/x/tc-p-a.db"


def test_the_users_value_wins_over_the_descriptors_and_compose_wins_over_both(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MY_DB", "/shared.db")
    team = load_compose(str(_team(tmp_path, "    env:\n      MY_DB: /compose.db\n")))
    assert settings_for_agent(team, team.agent("p:b"), ["x"], write_files=False).env["MY_DB"] == "/shared.db"
    assert settings_for_agent(team, team.agent("p:a"), ["x"], write_files=False).env["MY_DB"] == "/compose.db"


def test_opencode_agents_get_a_database_of_their_own_unless_one_is_set() -> None:
    rt = load_runtime("opencode")
    home = {"HOME": "/h"}
    assert launch_env(rt, "solo:alpha", home)["OPENCODE_DB"] == "/h/.local/share/opencode/teamctl-solo-alpha.db"
    assert launch_env(rt, "solo:alpha", {**home, "OPENCODE_DB": "mine.db"})["OPENCODE_DB"] == "mine.db"
    assert launch_env(rt, "solo:alpha", {}, {"OPENCODE_DB": "/c.db"})["OPENCODE_DB"] == "/c.db"
    assert "OPENCODE_DB" not in launch_env(rt, "solo:alpha", {})  # no data dir: opencode's own default
    assert file_slug("p:a/../b c") == "p-a_.._b_c"


# -- the database an agent learns its id in --------------------------------------------------------

def _keeper(tmp_path: Path, name: str, env: dict[str, str]) -> SessionKeeper:
    return SessionKeeper(load_runtime("opencode"), tmp_path / "state", name, env)


def _db(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("CREATE TABLE IF NOT EXISTS session (id TEXT PRIMARY KEY, parent_id TEXT, time_created INTEGER)")
    return con


def test_agents_with_their_own_databases_learn_their_ids_together(tmp_path: Path) -> None:
    """Started at the same moment, each in its own database: neither waits for the other."""
    data = tmp_path / "home" / ".local" / "share" / "opencode"
    keepers = {n: _keeper(tmp_path, f"p-{n}", launch_env(load_runtime("opencode"), f"p:{n}",
                                                         {"HOME": str(tmp_path / "home")})) for n in "ab"}
    for k in keepers.values():
        assert k.choose() == SessionChoice(None, False)
        k.spawned(os.getpid() + 10**6)
    now = int(time.time() * 1000)
    for n in "ab":
        _db(data / f"teamctl-p-{n}.db").execute("INSERT INTO session VALUES (?, NULL, ?)", (f"ses_{n}", now))
    _db(data / "opencode.db").execute("INSERT INTO session VALUES ('ses_user', NULL, ?)", (now,))  # the user's own
    for n, k in keepers.items():
        wait_for(lambda k=k: k.session_id, 10, what=f"{n}'s id")
        k.ended(0, 30.0)
    assert {n: k.session_id for n, k in keepers.items()} == {"a": "ses_a", "b": "ses_b"}


def test_an_agent_of_another_database_is_not_waited_for_but_one_of_the_same_is() -> None:
    own = ["/d/opencode/teamctl-p-a.db"]
    assert not session_db.overlap(own, ["/d/opencode/teamctl-p-b.db"])
    assert not session_db.overlap(own, ["/d/opencode/opencode*.db"])
    assert session_db.overlap(["/d/opencode/opencode.db"], ["/d/opencode/opencode*.db"])
    assert session_db.overlap(own, own)


def test_the_database_is_the_first_absolute_template_as_opencode_looks() -> None:
    rt = load_runtime("opencode")
    keeper = SessionKeeper(rt, Path("/nonexistent/state"), "p-a", {"HOME": "/h", "OPENCODE_DB": "rel.db"})
    assert keeper._db_patterns() == ["/h/.local/share/opencode/rel.db"]  # relative to its data dir
    keeper = SessionKeeper(rt, Path("/nonexistent/state"), "p-a", {"HOME": "/h", "XDG_DATA_HOME": "/x"})
    assert keeper._db_patterns() == ["/x/opencode/opencode*.db"]
    keeper = SessionKeeper(rt, Path("/nonexistent/state"), "p-a", {"HOME": "/h", "OPENCODE_DB": "/abs.db"})
    assert keeper._db_patterns() == ["/abs.db"]


def test_a_session_from_the_shared_database_is_replaced_by_one_fresh_session_logged_once(tmp_path: Path,
                                                                                         caplog) -> None:
    """An agent that learned its id in opencode.db before it had a database of its own starts afresh."""
    home = tmp_path / "home"
    _db(home / ".local" / "share" / "opencode" / "opencode.db").execute(
        "INSERT INTO session VALUES ('ses_before', NULL, 1)")
    old = _keeper(tmp_path, "p-a", {"HOME": str(home)})
    old._adopt(old._new(), "ses_before", "test")  # as the keeper of the release before kept it
    env = launch_env(load_runtime("opencode"), "p:a", {"HOME": str(home)})
    with caplog.at_level(logging.WARNING):
        assert _keeper(tmp_path, "p-a", env).choose() == SessionChoice(None, False)
        assert _keeper(tmp_path, "p-a", env).choose() == SessionChoice(None, False)
    assert caplog.text.count("session ses_before of p-a can no longer be resumed") == 1

"""One conversation per agent (issue 22) for opencode, droid, Copilot CLI and aider: the argv of each
spawn, an id learned from opencode's session database, aider's history kept in the session's folder,
and `validate` for a runtime that cannot keep its agents' sessions apart."""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
import time
from pathlib import Path

import pytest
from conftest import wait_for
from teamctl_supervisor.agent import launch
from teamctl_supervisor.agent.sessions import SessionChoice, SessionKeeper, session_home
from teamctl_supervisor.cli import main
from teamctl_supervisor.core.descriptors.loader import load_descriptor, load_runtime
from teamctl_supervisor.core.errors import DescriptorError

UUID = "0b6c9f4e-2f6a-4e53-9d1c-3a1f1f0e7b21"
SES = "ses_db1721491ffe4Yjdc8DXqi6MpN"
BUILT_IN = sorted(p.stem for p in (Path(__file__).parent.parent / "supervisor" / "runtimes").glob("*.toml"))


# -- argv ------------------------------------------------------------------------------------------

def test_droid_resumes_by_id_in_the_tui_and_in_exec() -> None:
    rt = load_runtime("droid")
    assert launch.argv(rt, ["droid", "exec", "-m", "m", "go"], SessionChoice(UUID, True), False) == \
        ["droid", "exec", "-s", UUID, "-m", "m", "go"]
    assert launch.argv(rt, ["droid"], SessionChoice(UUID, True), True) == ["droid", "--resume", UUID]
    assert launch.argv(rt, ["droid", "exec", "go"], SessionChoice(None, False), True) == ["droid", "exec", "go"]


def test_opencode_resumes_by_id_in_the_tui_and_in_run() -> None:
    rt = load_runtime("opencode")
    assert launch.argv(rt, ["opencode", "run", "go"], SessionChoice(SES, True), False) == \
        ["opencode", "run", "--session", SES, "go"]
    assert launch.argv(rt, ["opencode", "-m", "x"], SessionChoice(SES, True), True) == \
        ["opencode", "--session", SES, "-m", "x"]
    assert "--continue" not in launch.argv(rt, ["opencode"], SessionChoice(None, False), True)


def test_aider_keeps_its_history_in_the_sessions_folder_and_restores_only_that(tmp_path: Path) -> None:
    rt = load_runtime("aider")
    keeper = SessionKeeper(rt, tmp_path / "state", "p-a", {"HOME": str(tmp_path)})
    first = keeper.choose()
    assert first and first.id and not first.resume
    home = session_home(tmp_path / "state", "p-a", first.id)
    assert first.home == str(home) and stat.S_IMODE(home.stat().st_mode) == 0o700
    argv = launch.argv(rt, ["aider", "--yes"], first, True)
    assert argv == ["aider", "--chat-history-file", f"{home}/chat.md", "--input-history-file", f"{home}/input.txt",
                    "--yes"]
    (home / "chat.md").write_text("# aider chat started\n")
    again = SessionKeeper(rt, tmp_path / "state", "p-a", {"HOME": str(tmp_path)}).choose()
    assert again == SessionChoice(first.id, True, str(home))
    assert launch.argv(rt, ["aider"], again, False)[-1] == "--restore-chat-history"
    other = SessionKeeper(rt, tmp_path / "state", "p-b", {"HOME": str(tmp_path)}).choose()
    assert other and other.home != first.home and not other.resume


# -- an id read from opencode's database ----------------------------------------------------------

def _db(home: Path) -> sqlite3.Connection:
    path = home / ".local" / "share" / "opencode" / "opencode.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("CREATE TABLE IF NOT EXISTS session (id TEXT PRIMARY KEY, parent_id TEXT, time_created INTEGER)")
    return con


def _opencode_keeper(tmp_path: Path, name: str) -> SessionKeeper:
    return SessionKeeper(load_runtime("opencode"), tmp_path / "state", name, {"HOME": str(tmp_path / "home")})


def test_opencode_id_is_the_new_session_in_its_database_no_other_agent_holds(tmp_path: Path) -> None:
    con = _db(tmp_path / "home")
    ms = lambda: int(time.time() * 1000)  # noqa: E731
    con.execute("INSERT INTO session VALUES ('ses_old', NULL, ?)", (ms() - 3_600_000,))  # an earlier run's
    b = _opencode_keeper(tmp_path, "p-b")
    b.choose()
    b.spawned(os.getpid())
    con.execute("INSERT INTO session VALUES ('ses_bravo', NULL, ?)", (ms(),))
    wait_for(lambda: b.session_id, 10, what="b's id")
    a = _opencode_keeper(tmp_path, "p-a")
    assert a.choose() == SessionChoice(None, False)
    a.spawned(os.getpid())
    con.execute("INSERT INTO session VALUES ('ses_child', 'ses_alpha', ?)", (ms(),))  # a subagent's
    con.execute("INSERT INTO session VALUES (?, NULL, ?)", (SES, ms()))
    wait_for(lambda: a.session_id, 10, what="a's id")
    a.ended(0, 30.0)
    b.ended(0, 30.0)
    assert a.session_id == SES and b.session_id == "ses_bravo"  # b's session is b's, though it is new too
    assert _opencode_keeper(tmp_path, "p-a").choose() == SessionChoice(SES, True)


def test_opencode_agents_started_together_never_take_each_others_session(tmp_path: Path, caplog) -> None:
    con = _db(tmp_path / "home")
    a, b = _opencode_keeper(tmp_path, "p-a"), _opencode_keeper(tmp_path, "p-b")
    for keeper in (a, b):
        keeper.choose()
        keeper.spawned(os.getpid() + 10**6)
    # b's CLI wrote its session first: a sees one new session, but b is still learning its own
    con.execute("INSERT INTO session VALUES ('ses_bravo', NULL, ?)", (int(time.time() * 1000),))
    time.sleep(1.5)  # the keepers poll every second: give them the chance to guess wrong
    assert a.session_id is None and b.session_id is None
    con.execute("INSERT INTO session VALUES (?, NULL, ?)", (SES, int(time.time() * 1000)))
    with caplog.at_level(logging.WARNING):
        a.ended(0, 1.0)
        b.ended(0, 1.0)
    assert a.session_id is None and b.session_id is None  # no guess: each starts a fresh one next time
    assert "session of p-a not learned: 2 new sessions could be its own" in caplog.text


@pytest.mark.parametrize(("table", "key"), [
    ('session_resume = ["-s", "{session_id}"]\nsession_capture_db = ["{HOME}/x.db"]', "launch.session_capture_query"),
    ('session_resume = ["-s", "{session_id}"]\nsession_capture_query = "SELECT id FROM s WHERE t > :since"',
     "launch.session_capture_db"),
    ('session_resume = ["-s", "{session_id}"]\nsession_capture_db = ["{HOME}/x.db"]\n'
     'session_capture_query = "SELECT id FROM s"', "launch.session_capture_query"),
    ('session_start = ["--history", "{HOME}/h"]\nsession_resume = ["-r", "{session_home}/h"]', "launch.session_start"),
])
def test_bad_session_capture_keys_name_the_key(tmp_path: Path, table: str, key: str) -> None:
    path = tmp_path / "rt.toml"
    path.write_text(f'name = "rt"\n[launch]\nbinary = "rt"\n{table}\n')
    with pytest.raises(DescriptorError) as err:
        load_descriptor(path)
    assert key in str(err.value)


# -- validate ------------------------------------------------------------------------------------

@pytest.mark.parametrize("runtime", BUILT_IN)
def test_every_built_in_runtime_keeps_its_agents_sessions_apart(runtime: str) -> None:
    keys = load_runtime(runtime).launch.session
    assert keys is not None and keys.resume
    assert keys.start or keys.capture or keys.capture_db  # the id is ours, or learned from the CLI


def test_validate_warns_for_a_runtime_still_resuming_the_latest_conversation(tmp_path: Path, capsys) -> None:
    from watchkit import make_team

    team = make_team(tmp_path, {"a": "", "b": ""})
    # a team's own opencode descriptor without the session keys: only `--continue` is left
    builtin = Path(__file__).parent.parent / "supervisor" / "runtimes" / "opencode.toml"
    text = "\n".join(line for line in builtin.read_text().splitlines() if not line.startswith("session_"))
    (team / "runtimes" / "opencode.toml").write_text(text + "\n")
    project = team / "projects" / "p.yaml"
    project.write_text(project.read_text().replace("runtime: claude-code", "runtime: opencode"))
    assert main(["validate", "-C", str(team)]) == 0
    out = capsys.readouterr()
    assert "p:b and p:a share" in out.out + out.err and "(--continue picks the latest one there)" in out.out + out.err
    (team / "runtimes" / "opencode.toml").unlink()  # the built-in one names each agent's session
    assert main(["validate", "-C", str(team)]) == 0
    out = capsys.readouterr()
    assert "cannot name a session" not in out.out + out.err


def test_opencode_session_deleted_in_its_database_falls_back_to_a_fresh_one(tmp_path: Path, caplog) -> None:
    con = _db(tmp_path / "home")
    keeper = _opencode_keeper(tmp_path, "p-a")
    keeper.choose()
    keeper.spawned(os.getpid() + 10**6)
    con.execute("INSERT INTO session VALUES (?, NULL, ?)", (SES, int(time.time() * 1000)))
    keeper.ended(0, 30.0)
    assert keeper.choose() == SessionChoice(SES, True)
    con.execute("DELETE FROM session WHERE id = ?", (SES,))  # `opencode session delete`
    with caplog.at_level(logging.WARNING):
        assert keeper.choose() == SessionChoice(None, False)  # no "Session not found" loop
    assert f"session {SES} of p-a can no longer be resumed" in caplog.text


def test_validate_warns_of_gemini_cleanup_for_agents_sharing_a_folder_until_the_user_turns_it_off(
        tmp_path: Path, capsys, monkeypatch) -> None:
    """@google/gemini-cli 0.61.0 deletes, at start, another session's file holding no conversation (a
    resume in a later minute leaves one) with its whole session: two Gemini agents in one folder are
    told to turn the cleanup off in the user's settings, and not told once it is off."""
    import json

    from watchkit import make_team

    home = tmp_path / "home"
    (home / ".gemini").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("GEMINI_CLI_HOME", raising=False)
    team = make_team(tmp_path, {"a": "", "b": "", "c": ""})
    project = team / "projects" / "p.yaml"
    project.write_text(project.read_text().replace("runtime: claude-code", "runtime: gemini"))
    assert main(["validate", "-C", str(team)]) == 0
    said = capsys.readouterr()
    text = said.out + said.err
    assert text.count("start-up cleanup") == 1 and "general.sessionRetention.enabled" in text
    assert str(home / ".gemini" / "settings.json") in text
    (home / ".gemini" / "settings.json").write_text(json.dumps({"general": {"sessionRetention": {"enabled": False}}}))
    assert main(["validate", "-C", str(team)]) == 0
    said = capsys.readouterr()
    assert "start-up cleanup" not in said.out + said.err

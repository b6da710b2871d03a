"""One conversation per agent (issue 22): the session keys of a descriptor, the argv of each spawn,
the session kept under state/ (and what happens when it cannot be resumed), and `--fresh`."""

from __future__ import annotations

import json
import logging
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FakeBin, copy_example, wait_for
from teamctl_supervisor.agent import launch
from teamctl_supervisor.agent.sessions import SessionChoice, SessionKeeper, forget, last_turn, session_path
from teamctl_supervisor.cli import main
from teamctl_supervisor.core.descriptors.loader import Runtime, load_descriptor, load_runtime
from teamctl_supervisor.core.errors import DescriptorError
from teamctl_supervisor.team.report import Report, Status, status_table

UUID = "0b6c9f4e-2f6a-4e53-9d1c-3a1f1f0e7b21"


def _descriptor(tmp_path: Path, launch_table: str) -> Runtime:
    path = tmp_path / "rt.toml"
    path.write_text(f'name = "rt"\n[launch]\nbinary = "rt"\nresume_args = ["--continue"]\n{launch_table}')
    return load_descriptor(path)


# -- argv ------------------------------------------------------------------------------------------

def test_claude_starts_its_named_session_then_resumes_it_whatever_the_reactor_says() -> None:
    rt = load_runtime("claude-code")
    base = ["claude", "--model", "opus", "fix it"]
    assert launch.argv(rt, base, SessionChoice(UUID, False), False) == \
        ["claude", "--session-id", UUID, "--model", "opus", "fix it"]
    for resume in (False, True):  # after a crash (resume=False) too: never "the latest" conversation
        argv = launch.argv(rt, base, SessionChoice(UUID, True), resume)
        assert argv == ["claude", "--resume", UUID, "--model", "opus", "fix it"]
        assert "--continue" not in argv


def test_codex_resumes_by_id_in_the_tui_and_in_exec() -> None:
    rt = load_runtime("codex")
    assert launch.argv(rt, ["codex", "-m", "x", "go"], SessionChoice(UUID, True), False) == \
        ["codex", "resume", UUID, "-m", "x", "go"]
    assert launch.argv(rt, ["codex", "exec", "--json", "go"], SessionChoice(UUID, True), True) == \
        ["codex", "exec", "resume", UUID, "--json", "go"]
    # the id is the CLI's own: its first run gets nothing added
    assert launch.argv(rt, ["codex", "go"], SessionChoice(None, False), True) == ["codex", "go"]


def test_copilot_names_its_session_with_one_flag_to_start_and_resume() -> None:
    rt = load_runtime("copilot")
    for resume in (False, True):
        assert launch.argv(rt, ["copilot", "-p", "go"], SessionChoice(UUID, resume), True) == \
            ["copilot", "--session-id", UUID, "-p", "go"]


def test_runtime_without_session_keys_keeps_its_resume_args(tmp_path: Path) -> None:
    rt = _descriptor(tmp_path, "")
    assert rt.launch.session is None
    assert launch.argv(rt, ["rt", "x"], None, True) == ["rt", "x", "--continue"]
    assert launch.argv(rt, ["rt", "x"], None, False) == ["rt", "x"]


@pytest.mark.parametrize(("table", "key"), [
    ('session_resume = ["--resume"]\nsession_start = ["--id", "{session_id}"]', "launch.session_resume"),
    ('session_start = ["--id", "{session_id}"]', "launch.session_resume"),
    ('session_resume = ["--resume", "{session_id}"]', "launch.session_capture"),
    ('session_resume = ["-r", "{session_id}"]\nsession_capture = "rollout-(.*)"', "launch.session_capture"),
    ('session_resume = ["-r", "{session_id}"]\nsession_capture = "(?P<id>["', "launch.session_capture"),
])
def test_bad_session_keys_name_the_key(tmp_path: Path, table: str, key: str) -> None:
    with pytest.raises(DescriptorError) as err:
        _descriptor(tmp_path, table)
    assert key in str(err.value) and "rt.toml" in str(err.value)


# -- the session kept under state/ ------------------------------------------------------------------

@pytest.fixture
def claude_keeper(tmp_path: Path) -> tuple[SessionKeeper, Path]:
    config = tmp_path / "cc"
    keeper = SessionKeeper(load_runtime("claude-code"), tmp_path / "state", "p-a",
                           {"CLAUDE_CONFIG_DIR": str(config), "HOME": str(tmp_path / "home")})
    return keeper, config


def _transcript(config: Path, session_id: str) -> Path:
    path = config / "projects" / "-work" / f"{session_id}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"type":"user"}\n')
    return path


def test_session_is_started_then_resumed_and_survives_a_new_watcher(claude_keeper, tmp_path: Path) -> None:
    keeper, config = claude_keeper
    first = keeper.choose()
    assert first is not None and first.id and not first.resume
    assert keeper.choose() == first  # the CLI wrote nothing yet: started again under the same id
    _transcript(config, first.id)
    assert keeper.choose() == SessionChoice(first.id, True)
    # a watcher started later (up after down, a reboot) reads the same session back
    again = SessionKeeper(keeper.runtime, keeper.state_dir, "p-a", keeper.env)
    assert again.choose() == SessionChoice(first.id, True)
    path = session_path(tmp_path / "state", "p-a")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_two_agents_get_two_sessions(tmp_path: Path) -> None:
    rt, env = load_runtime("claude-code"), {"HOME": str(tmp_path)}
    a = SessionKeeper(rt, tmp_path / "state", "p-a", env).choose()
    b = SessionKeeper(rt, tmp_path / "state", "p-b", env).choose()
    assert a and b and a.id != b.id


def test_deleted_session_falls_back_to_a_fresh_one_logged_once(claude_keeper, caplog) -> None:
    keeper, config = claude_keeper
    first = keeper.choose()
    assert first and first.id
    transcript = _transcript(config, first.id)
    assert keeper.choose().resume
    transcript.unlink()
    with caplog.at_level(logging.WARNING):
        fresh = keeper.choose()
        assert fresh and fresh.id != first.id and not fresh.resume
        assert keeper.choose() == fresh  # started again under the new id, no second warning
    assert [r.getMessage() for r in caplog.records].count(
        f"session {first.id} of p-a can no longer be resumed (its file is gone): starting a fresh one") == 1


def test_a_session_that_fails_to_resume_twice_is_replaced_never_a_loop(claude_keeper, caplog) -> None:
    keeper, config = claude_keeper
    first = keeper.choose()
    _transcript(config, first.id)  # there, but the CLI cannot read it (corrupt)
    keeper.choose()
    keeper.ended(1, 0.5)
    assert keeper.choose() == SessionChoice(first.id, True)  # once may be anything: tried again
    with caplog.at_level(logging.WARNING):
        keeper.ended(1, 0.5)
    fresh = keeper.choose()
    assert fresh and fresh.id != first.id and not fresh.resume
    assert "failed to resume 2 times" in caplog.text


def test_a_resume_that_wrote_its_turn_is_not_a_failure(claude_keeper) -> None:
    keeper, config = claude_keeper
    first = keeper.choose()
    transcript = _transcript(config, first.id)
    for _ in range(3):  # a limit hit right after the resume: exit 1 quickly, but the turn was written
        keeper.choose()
        with transcript.open("a") as fh:
            fh.write('{"type":"assistant"}\n')
        keeper.ended(1, 0.5)
    assert keeper.choose() == SessionChoice(first.id, True)


def test_planted_link_at_the_session_file_is_never_followed(claude_keeper, tmp_path: Path) -> None:
    keeper, _ = claude_keeper
    target = tmp_path / "elsewhere.txt"
    target.write_text("keep me")
    path = session_path(tmp_path / "state", "p-a")
    path.parent.mkdir(parents=True)
    path.symlink_to(target)
    choice = keeper.choose()
    assert choice and choice.id and target.read_text() == "keep me"
    assert not path.is_symlink() and json.loads(path.read_text())["id"] == choice.id


def test_forget_starts_over(claude_keeper, tmp_path: Path) -> None:
    keeper, config = claude_keeper
    first = keeper.choose()
    _transcript(config, first.id)
    assert forget(tmp_path / "state", "p-a") and not forget(tmp_path / "state", "p-a")
    fresh = SessionKeeper(keeper.runtime, keeper.state_dir, "p-a", keeper.env).choose()
    assert fresh and fresh.id != first.id and not fresh.resume


# -- an id the CLI chose -----------------------------------------------------------------------------

def _codex_keeper(tmp_path: Path, name: str = "p-a") -> tuple[SessionKeeper, Path]:
    home = tmp_path / "codex"
    return SessionKeeper(load_runtime("codex"), tmp_path / "state", name, {"CODEX_HOME": str(home)}), home


def _rollout(home: Path, session_id: str) -> Path:
    path = home / "sessions" / "2026" / "12" / "07" / f"rollout-2026-12-07T02-43-42-{session_id}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"type":"session_meta"}\n')
    return path


def test_codex_id_is_read_from_the_rollout_its_process_holds_open(tmp_path: Path) -> None:
    keeper, home = _codex_keeper(tmp_path)
    assert keeper.choose() == SessionChoice(None, False)
    rollout = _rollout(home, UUID)
    other = _rollout(home, "11111111-2222-4333-8444-555555555555")  # another agent's, not held by ours
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; f = open(sys.argv[1], 'a');"
                               " print('open', flush=True); time.sleep(60)", str(rollout)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        keeper.spawned(holder.pid)
        wait_for(lambda: json.loads(session_path(tmp_path / "state", "p-a").read_text())["id"], 10,
                 what="the captured id")
    finally:
        holder.kill()
        holder.wait()
    keeper.ended(-9, 30.0)
    assert keeper.choose() == SessionChoice(UUID, True)
    assert other.exists()


def test_codex_id_of_a_short_run_is_its_one_new_rollout_no_other_agent_holds(tmp_path: Path) -> None:
    keeper_b, home = _codex_keeper(tmp_path, "p-b")
    keeper_b.choose()
    keeper_b.spawned(os.getpid() + 10**6)  # already gone: nothing to read from open files
    _rollout(home, "11111111-2222-4333-8444-555555555555")
    keeper_b.ended(0, 1.0)
    keeper_a, _ = _codex_keeper(tmp_path, "p-a")
    keeper_a.choose()
    keeper_a.spawned(os.getpid() + 10**6)
    _rollout(home, UUID)
    keeper_a.ended(0, 1.0)
    assert keeper_a.choose() == SessionChoice(UUID, True)  # b's rollout is b's
    assert keeper_b.choose() == SessionChoice("11111111-2222-4333-8444-555555555555", True)


# -- up --fresh / restart --fresh ------------------------------------------------------------------

def test_restart_resumes_and_restart_fresh_starts_over(tmp_path: Path, capsys, fake_bin: FakeBin,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    root = copy_example("hello-team", tmp_path)
    config = tmp_path / "claude-config"
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(config))
    monkeypatch.delenv("TEAMCTL_ROOT", raising=False)

    def run(*args: str) -> int:
        code = main([*args, "-C", str(root), "--backend", "process"])
        capsys.readouterr()
        return code

    def argv_after(run_no: int) -> list[str]:
        wait_for(lambda: fake_bin.runs("hello:dev") >= run_no, 20, what=f"run {run_no} of hello:dev")
        return wait_for(lambda: fake_bin.argv("hello:dev"), 10, what="its argv")

    try:
        assert run("up", "dev") == 0
        argv = argv_after(1)
        sid = argv[argv.index("--session-id") + 1]
        _transcript(config, sid)  # the CLI's first turn is written
        assert run("restart", "dev") == 0
        argv = argv_after(2)
        assert argv[argv.index("--resume") + 1] == sid and "--continue" not in argv
        assert run("restart", "--fresh", "dev") == 0
        argv = argv_after(3)
        assert "--resume" not in argv and argv[argv.index("--session-id") + 1] != sid
    finally:
        main(["down", "-C", str(root)])


def test_status_shows_the_last_model_turn_seen_in_the_session_file(claude_keeper, tmp_path: Path) -> None:
    keeper, config = claude_keeper
    choice = keeper.choose()
    transcript = _transcript(config, choice.id)
    keeper.choose()
    keeper.spawned(os.getpid() + 10**6)
    assert last_turn(tmp_path / "state", "p-a") is None  # nothing from the model yet
    with transcript.open("a") as fh:
        fh.write(json.dumps({"type": "assistant", "message": {"model": "claude-opus-5-5"}}) + "\n")
    keeper.ended(0, 30.0)
    seen = last_turn(tmp_path / "state", "p-a")
    assert seen is not None
    lines = status_table(Report([Status("p:a", "claude-code", "running", "running", last_turn=seen - 125)]))
    assert lines[0].split()[4:6] == ["LAST", "TURN"]
    assert "2m05s ago" in lines[1] or "2m06s ago" in lines[1]


def test_validate_warns_where_agents_sharing_a_folder_may_cross(tmp_path: Path, capsys) -> None:
    from watchkit import make_team

    # the test descriptor (named claude-code) cannot name a session: two agents in one folder may cross
    team = make_team(tmp_path / "shared", {"a": "", "b": ""})
    assert main(["validate", "-C", str(team)]) == 0
    out = capsys.readouterr()
    text = out.out + out.err
    assert "p:b and p:a share" in text and "cannot name a session" in text and "workers.b.runtime" in text
    assert "p:a and" not in text  # said once, for the agent that shares the other's folder
    # the built-in claude-code names a session per agent: nothing to warn about
    team = make_team(tmp_path / "named", {"a": "", "b": ""})
    (team / "runtimes" / "claude-code.toml").unlink()
    assert main(["validate", "-C", str(team)]) == 0
    out = capsys.readouterr()
    assert "cannot name a session" not in out.out + out.err

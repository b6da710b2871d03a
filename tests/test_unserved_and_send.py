"""Upstream trees' parts that nothing serves (a chat bot, hitl approvals, agent-to-agent messaging)
draw one warning each in validate and up, saying what to run instead; `teamctl send`, which
upstream's READMEs use, types the text into the agent's session."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from conftest import FakeBin, copy_example, wait_for
from teamctl_supervisor.cli import main
from teamctl_supervisor.cli.send import typed_text
from test_team import Team


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEAMCTL_ROOT", raising=False)


def test_unserved_parts_are_warned_once_each_with_what_to_run(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                             fake_bin: FakeBin) -> None:
    root = copy_example("startup-team", tmp_path)
    assert main(["validate", "-C", str(root)]) == 0
    out = capsys.readouterr().out
    assert out.count("a chat interface (telegram) is not served") == 1
    assert out.count("human-in-the-loop approvals are not served") == 1
    assert out.count("messages between agents (channels)") == 1
    assert "`teamctl send AGENT TEXT`" in out and "`teamctl attach AGENT --rw`" in out
    assert "3 warnings" in out
    assert main(["up", "--strict", "-C", str(root)]) == 2  # up shows them too (and --strict refuses)
    err = capsys.readouterr().err
    assert "a chat interface (telegram) is not served" in err and "nothing started: --strict" in err


def test_typed_text_is_one_line_without_controls() -> None:
    assert typed_text(("run", "a\ncycle\x1b[2J", "\x9bnow")) == "run a cycle [2J  now"


@pytest.fixture
def hello(tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_bin: FakeBin) -> Team:
    team = Team(copy_example("hello-team", tmp_path), capsys, fake_bin)
    yield team
    team.run("down", "--timeout", "3")
    team.cleanup()


def test_send_types_into_the_agents_session_and_records_it(hello: Team, tmux_socket: str) -> None:
    hello.fake.steps("hello:manager", "print:ready", "echo-input", "hang")
    code, out = hello.run("send", "manager", "hi")
    assert code == 1 and "not running (teamctl up)" in out
    assert hello.run("up", "--settle", "0")[0] == 0
    wait_for(lambda: "ready" in hello.run("logs", "hello:manager")[1], 20)
    code, out = hello.run("send", "manager", "summarise", "the README")
    assert code == 0 and "hello:manager: sent" in out, out
    wait_for(lambda: "got: summarise the README" in hello.run("logs", "hello:manager")[1], 20)
    db = sqlite3.connect(hello.root / ".team" / "state" / "mailbox.db")
    try:
        rows = db.execute("SELECT sender, recipient, text FROM messages").fetchall()
    finally:
        db.close()
    assert rows == [("cli", "hello:manager", "summarise the README")]


def test_send_to_a_process_backend_agent_says_why_not(hello: Team) -> None:
    assert hello.run("up", "--backend", "process", "--settle", "0")[0] == 0
    wait_for(lambda: hello.status()["hello:dev"]["state"] == "running", 20)
    code, out = hello.run("send", "dev", "hi")
    assert code == 1 and "detached process" in out

"""`logs` of the whole team (names before lines, interleaved with -f), `logs PROJECT` and
`status AGENT` filter, states and names coloured on a terminal only and never with NO_COLOR, and
both views still work from the mailbox when the compose tree breaks while the team runs."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import FakeBin, copy_example, wait_for
from test_team import Team


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEAMCTL_ROOT", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)


@pytest.fixture
def hello(tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_bin: FakeBin) -> Team:
    team = Team(copy_example("hello-team", tmp_path), capsys, fake_bin)
    team.fake.steps("hello:dev", "print:dev says one", "sleep:1.5", "print:dev says two", "hang")
    team.fake.steps("hello:manager", "sleep:0.7", "print:manager says one", "sleep:1.5",
                    "print:manager says two", "hang")
    yield team
    team.run("down", "--timeout", "3")
    team.cleanup()


def _up(team: Team) -> None:
    code, out = team.run("up", "--backend", "process", "--settle", "0")
    assert code == 0, out


def _on_a_terminal(args: list[str], env: dict[str, str], until: str, timeout: float = 30) -> str:
    """Run teamctl with its stdout on a pty (a terminal) until `until` is printed; what it printed."""
    main_fd, child_fd = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "teamctl_supervisor", *args], stdout=child_fd,
                            stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, env=env)
    os.close(child_fd)
    got = b""
    deadline = time.monotonic() + timeout
    try:
        while until.encode() not in got and time.monotonic() < deadline:
            ready, _, _ = select.select([main_fd], [], [], 0.5)
            if ready:
                try:
                    got += os.read(main_fd, 65536)
                except OSError:
                    break
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        os.close(main_fd)
    return got.decode("utf-8", "replace")


def test_logs_with_no_agent_shows_every_agent_with_its_name(hello: Team) -> None:
    _up(hello)
    wait_for(lambda: "says two" in hello.run("logs", "hello:manager")[1], 20)
    code, out = hello.run("logs")
    assert code == 0
    assert "hello:dev     | dev says one" in out and "hello:manager | manager says two" in out
    assert "\x1b[" not in out  # not a terminal: no colour
    code, out = hello.run("logs", "hello:dev")  # one agent: its lines as they are
    assert "dev says one" in out and "| " not in out


def test_logs_f_follows_the_whole_team_interleaved(hello: Team) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "teamctl_supervisor", "logs", "-f", "-n", "0", "-C",
                             str(hello.root)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # `-n 0` starts each log at its end when it starts following: wait until it follows (a thread
        # per agent) before the agents print, or a line printed first is (rightly) not shown
        following = lambda: len(os.listdir(f"/proc/{proc.pid}/task")) >= 3  # noqa: E731 (main, dev, manager)
        wait_for(lambda: following() or proc.poll() is not None, 60, what="logs -f following every agent")
        _up(hello)
        seen: list[str] = []
        while len(seen) < 4:
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
            seen.append(line.rstrip("\n"))
    finally:
        proc.kill()
        proc.wait()
    assert set(seen) == {"hello:dev     | dev says one", "hello:manager | manager says one",
                         "hello:dev     | dev says two", "hello:manager | manager says two"}
    assert seen.index("hello:manager | manager says one") < seen.index("hello:dev     | dev says two")


def test_logs_project_and_status_agent_filter(hello: Team) -> None:
    _up(hello)
    wait_for(lambda: hello.status()["hello:dev"]["state"] == "running", 20)
    code, out = hello.run("status", "hello:dev")
    assert code == 0 and "hello:dev" in out and "hello:manager" not in out
    code, out = hello.run("status", "hello")
    assert "hello:dev" in out and "hello:manager" in out
    code, out = hello.run("status", "nobody")
    assert code == 2 and "no agent 'nobody'" in out
    wait_for(lambda: "says one" in hello.run("logs", "hello")[1], 20)
    assert "hello:dev     | dev says one" in hello.run("logs", "hello")[1]


def test_states_and_names_are_coloured_on_a_terminal_only_without_no_color(hello: Team) -> None:
    _up(hello)
    wait_for(lambda: hello.status()["hello:dev"]["state"] == "running", 20)
    env = {**os.environ}
    shown = _on_a_terminal(["status", "-C", str(hello.root)], env, "hello:manager")
    assert "\x1b[32mrunning\x1b[0m" in shown
    wait_for(lambda: "says one" in hello.run("logs", "hello:manager")[1], 20)
    shown = _on_a_terminal(["logs", "-C", str(hello.root)], env, "manager says one")
    assert "\x1b[36mhello:manager\x1b[0m | manager says one" in shown
    plain = _on_a_terminal(["status", "-C", str(hello.root)], {**env, "NO_COLOR": "1"}, "hello:manager")
    assert "running" in plain and "\x1b[" not in plain


def test_logs_still_work_when_the_compose_file_breaks(hello: Team) -> None:
    _up(hello)
    wait_for(lambda: "says one" in hello.run("logs", "hello:dev")[1], 20)
    compose = hello.root / ".team" / "team-compose.yaml"
    compose.write_text(compose.read_text() + "projects: [unclosed\n")
    code, out = hello.run("logs", "hello:dev")
    assert code == 0 and "dev says one" in out
    assert out.count("does not load") == 1

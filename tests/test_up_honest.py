"""An honest `up`: a runtime that dies at once (not logged in, a bad flag) is reported by `up` with
its exit status and last line, exit 1, instead of `started`; each agent's line is printed as soon as
it is known; Ctrl-C says what runs, what does not, and what to run next."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FakeBin, copy_example, wait_for
from teamctl_supervisor.cli.up_report import interrupted
from teamctl_supervisor.team import ops
from test_team import Team
from watchkit import ctrl_c_as_at_a_terminal


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEAMCTL_ROOT", raising=False)


@pytest.fixture
def hello(tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_bin: FakeBin) -> Team:
    team = Team(copy_example("hello-team", tmp_path), capsys, fake_bin)
    yield team
    team.run("down", "--timeout", "3")
    team.cleanup()


def test_a_runtime_that_exits_at_once_is_a_failure_of_up_with_its_last_line(hello: Team,
                                                                            tmux_socket: str) -> None:
    hello.fake.steps("hello-dev", "print:Error: not logged in. Please run /login", "exit:3")
    code, out = hello.run("up", "--settle", "3")
    assert code == 1, out
    assert "hello:manager: started (tmux session a-hello-manager)" in out
    line = next(x for x in out.splitlines() if x.startswith("hello:dev:"))
    assert "failed: the runtime exited 3 at once" in line
    assert "'Error: not logged in. Please run /login'" in line and "teamctl logs hello:dev" in line


def test_a_healthy_team_still_comes_up_with_exit_0(hello: Team, tmux_socket: str) -> None:
    code, out = hello.run("up", "--settle", "1")
    assert code == 0 and "failed" not in out, out


def test_after_an_interrupt_up_names_what_runs_and_what_to_run_next(hello: Team, tmux_socket: str) -> None:
    code, out = hello.run("up", "dev", "--settle", "0")
    assert code == 0, out
    wait_for(lambda: hello.status()["hello:dev"]["state"] == "running", 20)
    team = ops.load(str(hello.root), strict=False)
    lines = interrupted(team, team.agents)
    assert lines[0] == "interrupted: 1 of 2 agents running: hello:dev"
    assert lines[1] == "not running: hello:manager"
    assert "`teamctl up` starts the rest" in lines[2] and "`teamctl down`" in lines[2]


@pytest.mark.timeout(300)
def test_ctrl_c_during_up_prints_the_summary_not_just_aborted(hello: Team, tmux_socket: str) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "teamctl_supervisor", "up", "-C", str(hello.root),
                             "--settle", "60"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ), preexec_fn=ctrl_c_as_at_a_terminal)
    try:
        wait_for(lambda: {s["state"] for s in hello.status().values()} == {"running"}, 60)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=100)  # a deadline, not a budget: it exits within a second
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, out + err
    assert "interrupted: 2 of 2 agents running: hello:manager, hello:dev" in err
    assert "aborted" not in err


def test_a_big_team_off_a_terminal_gets_progress_lines(capsys: pytest.CaptureFixture[str]) -> None:
    from types import SimpleNamespace

    from teamctl_supervisor.cli.up_report import PROGRESS_EVERY, _Printer

    printer = _Printer()
    printer.tty = False
    total = PROGRESS_EVERY * 3
    for i in range(1, total + 1):
        printer.starting(SimpleNamespace(id=f"p:a{i}"), i, total)
    err = capsys.readouterr().err.splitlines()
    assert err == [f"starting 1/{total}: p:a1"] + [f"starting {n}/{total}: p:a{n}"
                                                   for n in range(PROGRESS_EVERY, total + 1, PROGRESS_EVERY)]

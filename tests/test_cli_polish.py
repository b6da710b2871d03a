"""The first-week polish: --help lists user commands only, whole; -V; agent names complete; init
names sessions once; wake on a failed agent says restart; every command outside a team says the
same and suggests init."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FakeBin, copy_example
from teamctl_supervisor import __version__
from teamctl_supervisor.cli import main
from teamctl_supervisor.store.mailbox import Store
from teamctl_supervisor.team.compose import load_team
from teamctl_supervisor.team.watchers import session_name

TEAMCTL = [sys.executable, "-m", "teamctl_supervisor"]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEAMCTL_ROOT", raising=False)


def _run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*TEAMCTL, *args], capture_output=True, text=True, timeout=60, cwd=cwd,
                          env={**os.environ, **(env or {})})


def test_help_lists_user_commands_whole_and_hides_the_hook_commands() -> None:
    out = _run("--help", env={"COLUMNS": "60"}).stdout
    commands = out.split("Commands:")[1]
    assert "rl-hit" not in commands and "budget-record" not in commands
    assert "..." not in commands and "…" not in commands
    for name in ("up", "down", "status", "logs", "send", "wake", "validate", "init"):
        assert f"\n  {name} " in commands
    assert _run("rl-hit", "--help").returncode == 0  # hidden, still there for the hooks


def test_dash_capital_v_prints_the_version() -> None:
    done = _run("-V")
    assert done.returncode == 0 and done.stdout.strip() == f"teamctl, version {__version__}"


def test_agent_names_complete(tmp_path: Path, fake_bin: FakeBin) -> None:
    root = copy_example("hello-team", tmp_path)
    done = _run(env={"_TEAMCTL_COMPLETE": "bash_complete", "COMP_WORDS": "teamctl logs -C " + str(root) + " hello:",
                     "COMP_CWORD": "4"})
    assert done.stdout.split() == ["plain,hello:manager", "plain,hello:dev"], done.stderr
    done = _run(env={"_TEAMCTL_COMPLETE": "bash_complete", "COMP_WORDS": "teamctl rl", "COMP_CWORD": "1",
                     "TEAMCTL_ROOT": str(root)})
    assert done.stdout.split() == ["plain,rl-watch"]  # rl-hit is not offered


def test_init_names_sessions_once(tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_bin: FakeBin) -> None:
    assert main(["init", str(tmp_path / "myapp"), "--project", "myapp", "--runtime", "claude-code"]) == 0
    team = load_team(tmp_path / "myapp" / ".team")
    assert [session_name(team, a) for a in team.agents] == [f"a-myapp-{team.agents[0].name}"]


def test_wake_on_a_failed_agent_says_restart(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                             fake_bin: FakeBin) -> None:
    root = copy_example("hello-team", tmp_path)
    state = root / ".team" / "state"
    state.mkdir(mode=0o700)
    with Store(state / "mailbox.db", state / "spool", "teamctl") as st:
        st.set_state("hello:dev", "claude-code", "failed", detail="gave up after 5 quick exits (last 1)")
    assert main(["wake", "dev", "-C", str(root)]) == 1
    out = capsys.readouterr().out
    assert "hello:dev: failed (gave up after 5 quick exits (last 1)), nothing to wake" in out
    assert "`teamctl restart hello:dev`" in out


@pytest.mark.parametrize("command", ["status", "budget", "wake", "logs", "rate-limits", "validate", "down", "up",
                                     "send x y"])
def test_outside_a_team_every_command_says_the_same_and_suggests_init(command: str, tmp_path: Path) -> None:
    done = _run(*command.split(), cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert f"no compose tree found: no .team/team-compose.yaml in {tmp_path} or above" in done.stderr
    assert "`teamctl init` writes a new team here" in done.stderr

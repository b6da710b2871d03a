"""rl-watch's command line, parsed by click like every other command: options anywhere before `--`,
the runtime's argv verbatim after it, and every bad input named (exit 2, nothing started)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from teamctl_supervisor.cli import cli
from teamctl_supervisor.cli.watch import rl_watch
from watchkit import fake_env


def parse(*args: str) -> dict:
    ctx = rl_watch.make_context("rl-watch", list(args))
    return {k: v for k, v in ctx.params.items() if v not in (None, ())} | {"argv": list(ctx.params["argv"])}


def teamctl(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "teamctl_supervisor", *args], capture_output=True, text=True,
                          timeout=60, cwd=cwd, env=fake_env(cwd))


def test_options_before_and_after_the_agent_mean_the_same() -> None:
    before = parse("--margin", "5", "--restart", "never", "-C", "/r", "a:b", "--", "cmd", "x")
    after = parse("a:b", "--margin=5", "--restart=never", "-C/r", "--", "cmd", "x")
    assert before == after == {"agent": "a:b", "argv": ["cmd", "x"], "margin": 5.0, "restart": "never",
                               "root": "/r"}


def test_everything_after_the_double_dash_is_the_runtime_argv_verbatim() -> None:
    assert parse("a:b", "--", "claude", "--margin", "9", "-C", "x", "--", "--help")["argv"] == [
        "claude", "--margin", "9", "-C", "x", "--", "--help"]


@pytest.mark.parametrize(("args", "message"), [
    (["--bogus", "--", "x"], "No such option '--bogus'"),
    (["a:b", "cmd", "--foo"], "No such option '--foo'"),
    (["--margin", "abc", "a:b"], "Invalid value for '--margin': 'abc' is not a valid float."),
    (["--margin", "nan", "a:b"], "Invalid value for '--margin': 'nan' is not a finite number."),
    (["a:b", "--give-up-exits", "1.5"], "Invalid value for '--give-up-exits': '1.5' is not a valid integer."),
    (["--restart", "sometimes", "a:b"], "Invalid value for '--restart'"),
    (["a:b", "--margin"], "Option '--margin' requires an argument."),
    (["bad;id", "--", "x"], "Invalid value for 'AGENT'"),
    (["--fallback-wait", "0", "a:b", "--", "x"], "Invalid value for '--fallback-wait': must be more than 0"),
])
def test_bad_input_exits_2_naming_the_option(tmp_path: Path, args: list[str], message: str) -> None:
    done = teamctl("rl-watch", *args, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert "Error: " in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "state").exists()  # nothing half-started


def test_help_lists_every_option_and_teamctl_lists_rl_watch() -> None:
    runner = CliRunner()
    text = runner.invoke(cli, ["rl-watch", "--help"]).output
    for opt in rl_watch.params:
        for name in getattr(opt, "opts", []):
            if name.startswith("-"):
                assert name in text
    assert "rl-watch" in runner.invoke(cli, ["--help"]).output


def test_root_before_the_subcommand_is_accepted(tmp_path: Path) -> None:
    (tmp_path / "state").mkdir(mode=0o700)
    done = teamctl("-C", str(tmp_path / "nowhere"), "status", cwd=tmp_path)
    assert "No such option" not in done.stderr
    assert str(tmp_path / "nowhere") in done.stderr + done.stdout

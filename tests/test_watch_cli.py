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


def test_each_option_default_is_read_from_the_settings_that_declare_it() -> None:
    """Settings said once: the help text shows the dataclass default; an option lands in the nested
    setting it names; the compose loader's defaults are the reactor's."""
    from dataclasses import replace

    from teamctl_supervisor.agent.settings import WatchSettings, default_of, with_setting
    from teamctl_supervisor.core.compose_model import RateLimitSettings
    from teamctl_supervisor.core.policy import Restart
    from teamctl_supervisor.core.reactor.settings import DEFAULTS

    helps = {p.name: p.help for p in rl_watch.params if isinstance(p, __import__("click").Option)}
    assert helps["margin"].endswith(f"(default {DEFAULTS.margin:g}).")
    assert helps["backoff_max"].endswith(f"(default {DEFAULTS.crash.cap:g}).")
    assert helps["give_up_exits"].endswith(f"(default {DEFAULTS.crash.give_up_exits}).")
    assert default_of("reactor.crash.quick_uptime") == DEFAULTS.crash.quick_uptime
    base = WatchSettings(agent_id="p:a", project_id="p", runtime=None, argv=("x",), cwd=Path("."), env={},  # type: ignore[arg-type]
                         tz=DEFAULTS.tz, mailbox=Path("m"), state_dir=Path("s"))
    changed = with_setting(with_setting(base, "reactor.crash.cap", 7.0), "reactor.crash.restart", Restart.NEVER)
    assert changed.reactor == replace(DEFAULTS, crash=replace(DEFAULTS.crash, cap=7.0, restart=Restart.NEVER))
    assert with_setting(base, "stop_timeout", 3.0).stop_timeout == 3.0
    rl = RateLimitSettings()
    assert (rl.margin_seconds, rl.fallback_wait_seconds, rl.max_wait_seconds) == (
        DEFAULTS.margin, DEFAULTS.fallback_wait, DEFAULTS.max_wait)


def test_the_pty_session_never_imports_the_watcher() -> None:
    """Data flows one way: the pty session hands back a Readout and knows nothing of the watcher."""
    import ast

    import teamctl_supervisor.agent.pty_session as pty_session

    tree = ast.parse(Path(pty_session.__file__).read_text())
    names = {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    names |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert not any(name.endswith("watch") or name.endswith("records") for name in names), names

"""rl-watch's option parsing without click: the same command lines mean the same, errors exit 2 naming
the option, `--help` comes from the options table, and `teamctl --help` still lists rl-watch."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from watchkit import fake_env

from supervisor import cli
from supervisor.cmd_watch import COMMAND, OPTIONS
from supervisor.errors import UsageProblem
from supervisor.leanargs import Command, Option


def parse(*args: str) -> tuple[list[str], dict]:
    parsed = COMMAND.parse(list(args))
    assert not parsed.help
    return parsed.positionals, parsed.values


def teamctl(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "supervisor", *args], capture_output=True, text=True, timeout=60,
                          cwd=cwd, env=env or fake_env(cwd))


def test_options_before_and_after_the_agent_mean_the_same() -> None:
    before = parse("--margin", "5", "--restart", "never", "-C", "/r", "a:b", "--", "cmd", "x")
    after = parse("a:b", "--margin=5", "--restart=never", "-C/r", "--", "cmd", "x")
    between = parse("a:b", "cmd", "--margin", "5", "x", "--restart", "never", "--root", "/r")
    assert before == after == between == (["a:b", "cmd", "x"], {"margin": 5.0, "restart": "never", "root": "/r"})


def test_everything_after_the_first_double_dash_is_the_runtime_argv_verbatim() -> None:
    assert parse("a:b", "--", "claude", "--margin", "9", "-C", "x", "--", "--help") == (
        ["a:b", "claude", "--margin", "9", "-C", "x", "--", "--help"], {})
    assert parse("--", "a:b", "cmd") == (["a:b", "cmd"], {})


def test_unknown_options_before_the_double_dash_stay_in_place_in_argv() -> None:
    assert parse("a:b", "--model-x", "--foo=bar", "-x", "cmd", "-", "--", "y") == (
        ["a:b", "--model-x", "--foo=bar", "-x", "cmd", "-", "y"], {})
    # a cluster: known letters are options, the unknown ones stay as one argument
    assert parse("a:b", "-xC", "dir", "cmd") == (["a:b", "-x", "cmd"], {"root": "dir"})


def test_a_value_is_the_next_argument_whatever_it_is_and_the_last_one_wins() -> None:
    assert parse("a:b", "--tz", "--", "cmd") == (["a:b", "cmd"], {"tz": "--"})
    assert parse("--margin", "1", "a:b", "--margin", "2") == (["a:b"], {"margin": 2.0})
    assert parse("--agent", "a:b", "--agent=c:d", "cmd")[1] == {"agent": "c:d"}


def test_values_convert_as_click_converted_them() -> None:
    _, values = parse("--margin", " 1e3 ", "--give-up-exits", "+7", "--log-max-bytes", "1_000", "--stop-timeout", "-5")
    assert values == {"margin": 1000.0, "give_up_exits": 7, "log_max_bytes": 1000, "stop_timeout": -5.0}


@pytest.mark.parametrize(("args", "message"), [
    (["--margin", "abc", "a:b"], "Invalid value for '--margin': 'abc' is not a valid float."),
    (["a:b", "--give-up-exits", "1.5"], "Invalid value for '--give-up-exits': '1.5' is not a valid integer."),
    (["--restart", "sometimes", "a:b"],
     "Invalid value for '--restart': 'sometimes' is not one of 'always', 'on-failure', 'never'."),
    (["a:b", "--margin"], "Option '--margin' requires an argument."),
    (["a:b", "-C"], "Option '-C' requires an argument."),
    (["--margin=", "a:b"], "Invalid value for '--margin': '' is not a valid float."),
    (["--margin", "x", "--give-up-exits", "y"], "Invalid value for '--margin'"),  # the first one given
    (["--help=yes"], "Option '--help' does not take a value."),
])
def test_bad_input_is_a_usage_problem_naming_the_option(args: list[str], message: str) -> None:
    with pytest.raises(UsageProblem) as info:
        COMMAND.parse(args)
    assert message in str(info.value)
    assert info.value.usage.startswith("Usage: teamctl rl-watch [OPTIONS] [AGENT] [ARGV]...")


def test_help_anywhere_before_the_double_dash_wins_over_bad_values() -> None:
    assert COMMAND.parse(["--margin", "abc", "a:b", "-h"]).help
    assert COMMAND.parse(["a:b", "--help"]).help
    assert not COMMAND.parse(["a:b", "--", "--help"]).help


def test_help_lists_every_option_of_the_table() -> None:
    text = COMMAND.help_text(80)
    assert text.startswith("Usage: teamctl rl-watch [OPTIONS] [AGENT] [ARGV]...")
    for opt in OPTIONS:
        assert opt.name in text
    assert "-C, --root TEXT" in text and "--restart [always|on-failure|never]" in text
    assert "--give-up-exits INTEGER" in text and "-h, --help" in text
    assert max(len(line) for line in text.splitlines()) <= 80


def test_a_table_of_its_own_parses_with_the_same_rules() -> None:
    cmd = Command("prog", "[X]...", "Summary.", (Option("--n", "A number.", int), Option("--k", "Keys.", short="-k")))
    parsed = cmd.parse(["a", "-kv", "--n=3", "--x", "--", "--n"])
    assert (parsed.positionals, parsed.values) == (["a", "--x", "--n"], {"n": 3, "k": "v"})


class FiniteFloat(click.ParamType):
    """click's float, less nan and inf (the lean parser refuses a wait of nan seconds)."""

    name = "float"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> float:
        number = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


def click_twin(options: tuple[Option, ...]) -> click.Command:
    """The same table as a click command, declared as rl-watch was before it left click (its floats
    finite)."""
    params: list[click.Parameter] = [click.Argument(["first"], required=False),
                                     click.Argument(["rest"], nargs=-1, type=click.UNPROCESSED)]
    for o in options:
        kind = click.Choice(o.choices) if o.choices else FiniteFloat() if o.type is float else o.type
        params.append(click.Option([o.name, *([o.short] if o.short else [])], o.dest, type=kind, help=o.help))
    return click.Command("rl-watch", params=params, callback=lambda **kw: kw,
                         context_settings={"ignore_unknown_options": True, "help_option_names": ["-h", "--help"]})


def click_parse(command: click.Command, args: list[str]) -> tuple:
    try:
        params = command.make_context("rl-watch", list(args), resilient_parsing=False).params
    except click.exceptions.Exit:
        return ("help",)
    except click.UsageError as exc:
        return ("error", exc.format_message())
    first, rest = params.pop("first"), list(params.pop("rest"))
    return ("ok", ([first] if first is not None else []) + rest, {k: v for k, v in params.items() if v is not None})


def lean_parse(args: list[str]) -> tuple:
    try:
        parsed = COMMAND.parse(args)
    except UsageProblem as exc:
        return ("error", str(exc))
    return ("help",) if parsed.help else ("ok", parsed.positionals, parsed.values)


TOKENS = ["a:b", "cmd", "x", "", "-", "--", "--margin", "5", "abc", "--margin=", "--margin=7", "--restart", "never",
          "bogus", "--restart=always", "--agent", "--agent=e:f", "-C", "-Cdir", "-C=z", "-xC", "-x", "-hx", "-h",
          "--help", "--help=1", "--foo", "--foo=bar", "---x", "--give-up-exits", "1.5", "+3", "--tz", "--root",
          "--log-max-bytes", "-1", "--stop-timeout", "nan", "--max-wait", " 1 ", "--quick-uptime", "1_0", "inf",
          "--margin=-inf"]
TWIN = click_twin(OPTIONS)


@settings(max_examples=400, deadline=None, database=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=9))
def test_the_lean_parser_reads_every_command_line_as_click_read_it(args: list[str]) -> None:
    assert lean_parse(args) == click_parse(TWIN, args)


# -- through the real entry point --------------------------------------------------------------------

@pytest.mark.parametrize(("args", "needles"), [
    (["--margin", "abc", "solo:dev"], ["Error: Invalid value for '--margin'", "'abc' is not a valid float"]),
    (["solo:dev", "--restart", "x"], ["Invalid value for '--restart'", "'always', 'on-failure', 'never'"]),
    (["solo:dev", "--give-up-exits"], ["Option '--give-up-exits' requires an argument."]),
    (["solo:dev", "--stop-timeout", "nan"], ["Invalid value for '--stop-timeout'", "'nan' is not a finite number"]),
    (["bad;id", "--", "true"], ["Invalid value for 'AGENT'", "PROJECT:AGENT"]),
    (["--agent", "bad id", "--", "true"], ["Invalid value for '--agent'", "PROJECT:AGENT"]),
    ([], ["name the agent"]),
    (["--fallback-wait", "0", "--runtime", "fake", "solo:dev", "--", "fake_agent.py"],
     ["Invalid value for '--fallback-wait': must be more than 0"]),
    (["solo:dev"], ["no compose tree here"]),
])
def test_rl_watch_bad_input_exits_2_with_a_message_naming_it(root: Path, args: list[str], needles: list[str]) -> None:
    done = teamctl("rl-watch", "--root", str(root), *args, cwd=root)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Usage: teamctl rl-watch" in done.stderr
    for needle in needles:
        assert needle in done.stderr
    assert not (root / "state").exists()


def test_rl_watch_help_comes_from_the_table_and_teamctl_help_still_lists_it(tmp_path: Path) -> None:
    done = teamctl("rl-watch", "--help", cwd=tmp_path)
    assert done.returncode == 0 and done.stdout == COMMAND.help_text(80)
    listing = teamctl("--help", cwd=tmp_path)
    assert listing.returncode == 0
    assert "rl-watch     Run one agent's runtime under a pty" in listing.stdout


def test_cli_main_hands_rl_watch_its_arguments_untouched(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Callers of cli.main / cli go through click's group: `--` and `--help` must still reach the lean
    parser as they were typed."""
    seen = []
    monkeypatch.setattr("supervisor.cmd_watch.rl_watch", lambda parsed: seen.append(parsed) or 7)
    assert cli.main(["rl-watch", "a:b", "--margin", "1", "--", "cmd", "--help", "--margin", "2"]) == 7
    assert (seen[0].positionals, seen[0].values) == (["a:b", "cmd", "--help", "--margin", "2"], {"margin": 1.0})
    assert cli.main(["rl-watch", "--margin", "x", "a:b"]) == 2
    result = CliRunner().invoke(cli.cli, ["rl-watch", "--help"])
    assert result.exit_code == 0 and "--give-up-window FLOAT" in result.output

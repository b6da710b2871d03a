"""rl-watch's line read without click (cli/watch_args.py): the same parameters as click for every
line it reads, and click's own reading (help, errors, exit 2) for every line it does not."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from teamctl_supervisor.cli import main
from teamctl_supervisor.cli.group import run_click
from teamctl_supervisor.cli.watch import rl_watch
from teamctl_supervisor.cli.watch_args import OPTIONS, parse
from teamctl_supervisor.core.errors import run_guarded


def clicks(args: list[str]) -> dict:
    return dict(rl_watch.make_context("rl-watch", list(args)).params)


READ = [
    [],
    ["a:b"],
    ["a:b", "--", "cmd", "x"],
    ["a:b", "cmd", "x"],
    ["--margin", "5", "--restart", "never", "-C", "/r", "a:b", "--", "cmd", "x"],
    ["a:b", "--margin=5", "--restart=on-failure", "--root=/r", "--", "cmd"],
    ["a:b", "--", "claude", "--margin", "9", "-C", "x", "--", "--help"],
    ["--agent", "p:q", "extra", "--", "cmd"],
    ["a:b", "--give-up-exits", "3", "--log-max-bytes", "1_024", "--stop-timeout", "2.5", "--", "c"],
    ["a:b", "--margin", "1e3", "--margin", " 7 ", "--", "c"],
    ["a:b", "--tz", "Europe/Berlin", "--limit-group", "g", "--model", "m", "--runtime", "fake", "--", "c"],
    ["a:b", "-", "--", "c"],
    ["a:b", "--margin=-5", "--tz=", "--", "c"],
    ["a:b", "--backoff-initial", "1", "--backoff-max", "9", "--give-up-window", "60", "--quick-uptime", "2",
     "--stable-after", "30", "--fallback-wait", "4", "--max-wait", "3600", "--", "c"],
]


@pytest.mark.parametrize("args", READ, ids=[" ".join(a) or "(none)" for a in READ])
def test_the_quick_reading_gives_clicks_parameters(args: list[str]) -> None:
    assert parse(args) == clicks(args)


def test_click_options_and_the_quick_reading_come_from_one_table() -> None:
    flags = {flag for p in rl_watch.params if isinstance(p, click.Option) for flag in p.opts}
    assert flags == {flag for o in OPTIONS for flag in o.flags}  # -h/--help: click adds it, and reads it
    assert {p.name for p in rl_watch.params} == {o.dest for o in OPTIONS} | {"agent", "argv"}


LEFT_TO_CLICK = [
    ["--help"], ["a:b", "-h"], ["--bogus", "--", "x"], ["a:b", "cmd", "--foo"], ["-C/r", "a:b", "--", "x"],
    ["--margin", "abc", "a:b"], ["--margin", "nan", "a:b"], ["--margin=inf", "a:b"],
    ["a:b", "--give-up-exits", "1.5"], ["--restart", "sometimes", "a:b"], ["a:b", "--margin"],
    ["a:b", "--runtime", "--", "x"], ["a:b", "--margin", "-5", "--", "x"], ["-C=/r", "a:b"],
]


@pytest.mark.parametrize("args", LEFT_TO_CLICK, ids=[" ".join(a) for a in LEFT_TO_CLICK])
def test_a_line_it_cannot_read_exactly_is_left_to_click(args: list[str]) -> None:
    assert parse(args) is None


ERRORS = [
    ["--margin", "abc", "a:b"],  # click's parse error
    ["a:b", "--", "x", "--margin"],  # fine for click: argv after --; here the agent is ad hoc, no runtime
    ["bad;id", "--", "x"],  # raised by the run itself, after the quick reading
    ["--fallback-wait", "0", "a:b", "--", "x"],
    ["--", "x"],
    ["a:b"],
]


@pytest.mark.parametrize("args", ERRORS, ids=[" ".join(a) for a in ERRORS])
def test_every_error_is_clicks_own_message_and_exit_2(args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capfd: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TEAMCTL_ROOT", raising=False)
    assert run_guarded(lambda: run_click(["rl-watch", *args])) == 2
    by_click = capfd.readouterr()
    assert main(["rl-watch", *args]) == 2
    by_main = capfd.readouterr()
    assert by_main == by_click
    assert "Usage: teamctl rl-watch [OPTIONS] [AGENT] [ARGV]..." in by_main.err and "Error: " in by_main.err
    assert not (tmp_path / "state").exists()  # nothing half-started

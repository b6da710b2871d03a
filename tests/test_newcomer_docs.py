"""docs/commands.md names every command and every long option `teamctl <cmd> --help` shows;
docs/runtime-descriptors.md names the engine the signatures really run on."""

from __future__ import annotations

from pathlib import Path

import click
from teamctl_supervisor.cli import cli

DOCS = Path(__file__).parent.parent / "docs"


def _commands() -> list[tuple[str, click.Command]]:
    ctx = click.Context(cli)
    found = []
    for name in cli.list_commands(ctx):
        cmd = cli.get_command(ctx, name)
        found.append((name, cmd))
        if isinstance(cmd, click.Group):
            found += [(f"{name} {sub}", cmd.get_command(ctx, sub)) for sub in cmd.list_commands(ctx)]
    return found


def test_every_command_and_option_is_in_commands_md() -> None:
    text = (DOCS / "commands.md").read_text()
    missing = []
    for name, cmd in _commands():
        if f"teamctl {name}" not in text and f"`{name}" not in text:
            missing.append(name)
        for param in cmd.params:
            if isinstance(param, click.Option):
                longs = [o for o in param.opts if o.startswith("--") and o not in ("--help", "--root")]
                missing += [f"{name} {o}" for o in longs if not any(f"{c}{o}" in text for c in "` [/")]
    assert missing == []


def test_runtime_descriptors_md_says_regex_and_where_team_runtimes_go() -> None:
    text = (DOCS / "runtime-descriptors.md").read_text()
    assert "Python `re` syntax" not in text and "`regex` engine" in text
    assert "signatures test" in text and "nested unbounded" not in text.split("## Validation")[0]
    assert ".team/runtimes/<name>.toml" in text and "beside `.team/`" in text

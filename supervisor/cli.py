"""`teamctl`: the command line. click parses; the modules do the work; errors.run_guarded maps errors
to exit codes (0 ok, 1 a runtime or operation failed, 2 bad usage or configuration).

`teamctl rl-watch` does not come through here when started as `teamctl` or `python -m supervisor`:
entry.py runs it without importing click. It is listed here, and runs from here for callers of
`main()` or `cli`, through a command that hands its arguments untouched to the same parser.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable

import click

from . import __version__
from .errors import UsageProblem as UsageProblem  # defined in errors.py; imported from here too
from .errors import run_guarded

#: Each command's module and attribute: a command's module is imported only when it runs, so
#: `rl-watch` (one per agent, long-lived) carries no team, budget or signatures-tool code. rl-watch's
#: attribute is a leanargs Command (its options table), run by the module's `main`.
_COMMANDS = {
    "rl-watch": ("cmd_watch", "COMMAND"),
    "up": ("cmd_team", "up"),
    "down": ("cmd_team", "down"),
    "status": ("cmd_team", "status"),
    "ps": ("cmd_team", "ps"),
    "logs": ("cmd_team", "logs"),
    "restart": ("cmd_team", "restart"),
    "wake": ("cmd_team", "wake"),
    "attach": ("cmd_team", "attach"),
    "rate-limits": ("cmd_team", "rate_limits"),
    "budget": ("cmd_budget", "budget"),
    "validate": ("cmd_team", "validate"),
    "signatures": ("cmd_signatures", "signatures"),
}


class LazyGroup(click.Group):
    """A click group that imports a command's module on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in _COMMANDS:
            return None
        module, attr = _COMMANDS[name]
        loaded = importlib.import_module(f"{__package__}.{module}")
        command = getattr(loaded, attr)
        return command if isinstance(command, click.Command) else _Passthrough(name, command.summary, loaded.main)


class _Passthrough(click.Command):
    """A command parsed elsewhere (leanargs): click lists it, and hands it its arguments untouched,
    `--` and `--help` included, so they mean exactly what they mean to `teamctl rl-watch`."""

    def __init__(self, name: str, summary: str, run: Callable[[list[str]], int]) -> None:
        super().__init__(name, help=summary, add_help_option=False)
        self._run = run

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.args = list(args)
        return ctx.args

    def invoke(self, ctx: click.Context) -> int:
        return self._run(ctx.args)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="teamctl")
def cli() -> None:
    """Supervise a team of AI coding-agent CLIs: keep them alive, within budget, past their limits."""


def main(argv: list[str] | None = None) -> int:
    """Entry point: returns the exit status instead of raising it."""
    return run_guarded(lambda: _run_click(argv))


def _run_click(argv: list[str] | None) -> object:
    """click's own errors here; ours (and Ctrl-C, SystemExit) in run_guarded, shared with rl-watch."""
    try:
        return cli.main(args=argv, prog_name="teamctl", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return 2 if exc.exit_code in (1, 2) else exc.exit_code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""`teamctl`: the command line. click parses; the modules do the work; one handler maps errors to
exit codes (0 ok, 1 a runtime or operation failed, 2 bad usage or configuration)."""

from __future__ import annotations

import importlib
import sys

import click

from . import __version__
from .compose import ComposeError, UnknownAgentError
from .signatures import DescriptorError


class UsageProblem(Exception):
    """Bad input from the user: printed as is, exit status 2."""


#: Each command's module and attribute: a command's module is imported only when it runs, so
#: `rl-watch` (one per agent, long-lived) carries no team, budget or signatures-tool code.
_COMMANDS = {
    "rl-watch": ("cmd_watch", "rl_watch"),
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
        return getattr(importlib.import_module(f"{__package__}.{module}"), attr)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="teamctl")
def cli() -> None:
    """Supervise a team of AI coding-agent CLIs: keep them alive, within budget, past their limits."""


def main(argv: list[str] | None = None) -> int:
    """Entry point: returns the exit status instead of raising it."""
    try:
        result = cli.main(args=argv, prog_name="teamctl", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return 2 if exc.exit_code in (1, 2) else exc.exit_code
    except (ComposeError, DescriptorError, UsageProblem) as exc:
        click.echo(f"teamctl: {exc}", err=True)
        return 2
    except UnknownAgentError as exc:
        click.echo(f"teamctl: {exc.args[0] if exc.args else exc}", err=True)
        return 2
    except KeyboardInterrupt:
        return 130
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    if isinstance(result, int):
        return result
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""`teamctl`: the command line. click parses; the modules do the work; one handler maps errors to
exit codes (0 ok, 1 a runtime or operation failed, 2 bad usage or configuration)."""

from __future__ import annotations

import sys

import click

from . import __version__
from .compose import ComposeError, UnknownAgentError
from .signatures import DescriptorError


class UsageProblem(Exception):
    """Bad input from the user: printed as is, exit status 2."""


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="teamctl")
def cli() -> None:
    """Supervise a team of AI coding-agent CLIs: keep them alive, within budget, past their limits."""


def _register() -> None:
    from . import cmd_budget, cmd_signatures, cmd_team, cmd_watch

    cli.add_command(cmd_watch.rl_watch)
    cli.add_command(cmd_budget.budget)
    cli.add_command(cmd_signatures.signatures)
    for command in cmd_team.COMMANDS:
        cli.add_command(command)


def main(argv: list[str] | None = None) -> int:
    """Entry point: returns the exit status instead of raising it."""
    _register()
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

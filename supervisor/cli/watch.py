"""`teamctl rl-watch`: supervise one agent, inside a compose tree or ad hoc with `--root`.

The click command, built from watch_args.OPTIONS: its help, and its errors for a line the quick
reading (watch_args.parse, used by cli.main) leaves to it. The work is watch_run.run_watch.
"""

from __future__ import annotations

import math
from typing import Any

import click

from ..agent.settings import default_of
from ..core.policy import Restart
from ..core.resets.clocktext import human_duration
from .watch_args import OPTIONS, RESTARTS
from .watch_run import WatchUsage, run_watch


class FiniteFloat(click.ParamType):
    """click's float, less nan and inf: a wait of nan seconds is refused by name."""

    name = "float"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        number = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


SECONDS = FiniteFloat()
#: click's type for each kind of value in watch_args (which reads the same kinds without click).
_TYPES: dict[str, Any] = {"text": None, "seconds": SECONDS, "int": int, "restart": click.Choice(RESTARTS)}


def _shown(path: str) -> str:
    value = default_of(path)
    if path == "reactor.max_wait":
        return human_duration(float(value))  # type: ignore[arg-type]
    if path == "log_max_bytes":
        return f"{int(value) // (1024 * 1024)} MiB"  # type: ignore[call-overload]
    return value.value if isinstance(value, Restart) else f"{value:g}"  # type: ignore[str-format]


def _options(command: Any) -> Any:
    for option in reversed(OPTIONS):
        text = option.help if option.kind == "text" else f"{option.help} (default {_shown(option.setting or '')})."
        command = click.option(*option.flags, option.dest, type=_TYPES[option.kind], help=text)(command)
    return command


EPILOG = """\b
Examples:
  teamctl rl-watch hello:dev -- claude --model claude-sonnet-4-6
  teamctl rl-watch --runtime codex --agent solo:dev -- codex "fix the tests"
"""


@click.command("rl-watch", epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("agent", required=False)
@click.argument("argv", nargs=-1, type=click.UNPROCESSED)
@_options
def rl_watch(**params: Any) -> int:
    """Run one agent's runtime under a pty; record and wait out its rate limits; respawn it.

    Give the runtime's own command after `--`: everything after it is passed on verbatim.
    """
    try:
        return run_watch(**params)
    except WatchUsage as exc:
        if exc.param is not None:
            raise click.BadParameter(str(exc), param_hint=exc.param) from None
        raise click.UsageError(str(exc)) from None

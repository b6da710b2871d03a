"""What `up` and `restart` print while agents start: each agent's outcome as soon as it is known,
a progress line on a terminal (200 agents take a while), and on Ctrl-C what is running, what is
not, and what to run next (instead of a bare "aborted").
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from ..team import ops as ops
from ..team import report
from ..team.compose import Agent, Team
from ..team.starting import Progress

#: Seconds `up` watches the agents it started before it calls them started.
SETTLE_SECONDS = 2.0
PROGRESS_EVERY = 20  # off a terminal: one progress line per this many agents (a big team takes a while)
_UP_STATES = {"starting", "running", "rate_limited", "backing_off", "paused_budget"}

settle_option = click.option(
    "--settle", type=float, default=SETTLE_SECONDS, show_default=True, envvar="TEAMCTL_UP_SETTLE", metavar="SECONDS",
    help="Watch new agents this long: a runtime that exits at once is reported failed (exit 1).")


class _Printer:
    """Outcome lines on stdout; on a terminal, one `starting i/n` line on stderr, redrawn in place."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.shown = False
        self.outcomes: list[ops.Outcome] = []

    def starting(self, agent: Agent, index: int, total: int) -> None:
        if self.tty and total > 1:
            click.echo(f"\r\x1b[2Kstarting {index}/{total}: {agent.id}", nl=False, err=True)
            self.shown = True
        elif not self.tty and total >= PROGRESS_EVERY and (index == 1 or index % PROGRESS_EVERY == 0):
            click.echo(f"starting {index}/{total}: {agent.id}", err=True)  # a log, not a terminal: a line

    def done(self, outcome: ops.Outcome) -> None:
        self.clear()
        self.outcomes.append(outcome)
        click.echo(outcome.message)

    def clear(self) -> None:
        if self.shown:
            click.echo("\r\x1b[2K", nl=False, err=True)
            self.shown = False


def run_up(team: Team, agents: Sequence[Agent], backend: str, settle: float) -> int:
    """`ops.up` with its outcomes printed as they come; 0 all started or running, 1 one failed,
    130 interrupted (after saying what runs and what to do)."""
    printer = _Printer()
    try:
        outcomes = ops.up(team, agents, backend, settle_seconds=settle,
                          progress=Progress(starting=printer.starting, done=printer.done))
    except KeyboardInterrupt:
        printer.clear()
        for line in interrupted(team, agents):
            click.echo(line, err=True)
        return 130
    printer.clear()
    return 0 if all(o.ok for o in outcomes) else 1


def interrupted(team: Team, agents: Sequence[Agent]) -> list[str]:
    """After Ctrl-C: which of `agents` run now and which do not, and the two ways on."""
    states = {s.id: s.state for s in report.status(team, agents).agents}
    up = [a.id for a in agents if states.get(a.id) in _UP_STATES]
    down = [a.id for a in agents if a.id not in up]
    lines = [f"interrupted: {len(up)} of {len(agents)} agent{'s' if len(agents) != 1 else ''} running"
             + (f": {', '.join(up)}" if up else "")]
    if down:
        lines.append(f"not running: {', '.join(down)}")
        lines.append("next: `teamctl up` starts the rest (running agents are left alone); "
                     "`teamctl down` stops the ones started")
    else:
        lines.append("next: nothing to start; `teamctl status` shows them, `teamctl down` stops them")
    return lines

"""`teamctl report`: what the team did since a time (team/morning_report.py builds it)."""

from __future__ import annotations

import time

import click

from .team import root_option, team_for_command


@click.command("report")
@click.option("--since", default="24h", show_default=True, metavar="WHEN",
              help="2h, 30m, 3d, an ISO time or a date.")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json"]), default="text", show_default=True)
@click.option("--send", is_flag=True, help="Send it through the budget.on_report hooks instead of printing it.")
@root_option
def report(since: str, fmt: str, send: bool, root: str | None) -> int:
    """Per agent since WHEN: work time, waits and why, hits, spend, crashes, stalls, what needs a person."""
    from ..team import morning_report
    from ..team.report import parse_since

    team = team_for_command(root, solo=True)
    now = time.time()
    try:
        start = parse_since(since, now)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from exc
    rep = morning_report.build(team, start, now)
    if not send:
        click.echo(morning_report.render(rep, fmt))
        return 0
    from ..team.report_send import send_report

    if not team.budget.on_report:
        click.echo(f"teamctl report --send: {team.compose_file} names no budget.on_report hooks", err=True)
        return 2
    results = send_report(team, rep)
    for r in results:
        click.echo(f"{r.name}: {'ok' if r.ok else 'failed'} {r.detail}".rstrip())
    return 0 if all(r.ok for r in results) else 1

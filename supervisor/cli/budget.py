"""`teamctl budget`: spend per project per day (in the team's zone), tokens, limits and share used."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta

import click

from ..agent.budget import spend_by_day
from ..agent.settings import team_caps
from ..store.mailbox import Store
from ..team.compose import load_compose
from ..team.solo import solo_team


def _since(text: str | None, tz) -> float:
    """`2026-11-20`, `7d`, `today`; default: the last 7 days."""
    today = datetime.now(tz).date()
    if not text:
        day = today - timedelta(days=6)
    elif text == "today":
        day = today
    elif text.endswith("d") and text[:-1].isdigit():
        day = today - timedelta(days=int(text[:-1]) - 1)
    else:
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise click.BadParameter(f"{text!r}: use YYYY-MM-DD, Nd or today", param_hint="--since") from None
    return datetime.combine(day, time(0), tz).timestamp()


@click.command("budget")
@click.option("--project", help="Only this project.")
@click.option("--by-agent", is_flag=True, help="Break each day down per agent.")
@click.option("--since", help="First day: YYYY-MM-DD, Nd (last N days) or today (default: 7d).")
@click.option("--json", "as_json", is_flag=True)
@click.option("--root", "-C", help="Team root.")
def budget(project: str | None, by_agent: bool, since: str | None, as_json: bool, root: str | None) -> int:
    """Spend per project per day, with tokens, the compose limits and the share used."""
    team = load_compose(root) or solo_team(root)  # solo: what `rl-watch --root DIR` left
    if team is None:  # the same words as every other command
        from ..cli import UsageProblem
        from ..team.loading import NoTeam, team_dir
        from .team import not_in_a_team

        try:
            team_dir(root)
        except NoTeam as exc:
            raise UsageProblem(not_in_a_team(exc)) from exc
        raise UsageProblem(f"no compose tree at {root}")
    caps = team_caps(team)
    rows = []
    if team.mailbox_path.exists():  # never started: nothing to show, and nothing is created
        with Store(team.mailbox_path, recover=True) as store:
            rows = list(store.budget_rows(_since(since, caps.tz)))
    if project:
        team.project(project)
        rows = [r for r in rows if r["project_id"] == project]
    table = spend_by_day(rows, caps.tz, by_agent)
    totals = spend_by_day(rows, caps.tz, False)
    day_team = {}
    for t in totals:
        day_team[t.day] = day_team.get(t.day, 0.0) + t.usd
    out = []
    for r in table:
        limit = caps.project_limit(r.project_id)
        proj_total = next(t.usd for t in totals if t.day == r.day and t.project_id == r.project_id)
        out.append({
            "day": r.day.isoformat(), "project": r.project_id, "agent": r.agent_id, "usd": round(r.usd, 6),
            "input_tokens": r.input_tok, "output_tokens": r.output_tok, "project_limit_usd": limit,
            "project_share_pct": round(proj_total / limit * 100, 1) if limit else None,
            "team_limit_usd": caps.daily_usd_limit,
            "team_share_pct": round(day_team[r.day] / caps.daily_usd_limit * 100, 1)
            if caps.daily_usd_limit else None,
        })
    if as_json:
        click.echo(json.dumps(out, indent=2))
        return 0
    click.echo(f"budget in {caps.tz.key}; limits: team {_usd(caps.daily_usd_limit)}/day, "
               f"warn at {caps.warn_threshold_pct:.0f}%")
    head = f"{'day':<11} {'project':<16}" + (f" {'agent':<24}" if by_agent else "") + \
        f" {'usd':>10} {'input tok':>11} {'output tok':>11} {'limit':>9} {'used':>6}"
    click.echo(head)
    for row in out:
        share = row["project_share_pct"] if row["project_share_pct"] is not None else row["team_share_pct"]
        limit = row["project_limit_usd"] if row["project_limit_usd"] is not None else row["team_limit_usd"]
        agent = f" {row['agent'] or '-':<24}" if by_agent else ""
        click.echo(f"{row['day']:<11} {row['project']:<16}{agent} {row['usd']:>10.4f} {row['input_tokens']:>11,} "
                   f"{row['output_tokens']:>11,} {_usd(limit):>9} {_pct(share):>6}")
    if not out:
        click.echo("(no spend recorded)")
    return 0


def _usd(value: float | None) -> str:
    return "-" if value is None else f"${value:.2f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}%"

"""`teamctl report`: what the team did since a time, for a person who was away. Per agent: how long
it worked, how long it waited and why, its hits, its spend, its crashes and stalls, and what needs a
person now. Read-only: the mailbox through a `mode=ro` connection, the watchers' logs as files.

Work and wait times come from the state changes each watcher logs (core/history.py); hits and
spend from the mailbox; "needs a person" from the state rows and whether each watcher still runs.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, field
from datetime import datetime

from ..core.history import crashes, segments, stalls, totals
from ..core.lazy_dataclass import lazy_dataclass
from ..core.states import LIVE_STATES, state_text
from ..store.mailbox import AgentRow
from ..store.readonly import ReadOnlyMailbox
from .agent_history import FileCache, transitions
from .compose import Agent, Team
from .report import human_uptime
from .watchers import watcher_process

LIVE_STATE_NAMES = {s.value for s in LIVE_STATES}
#: Wait kinds, as the timeline names them, and how the report says them.
WAITS = {"rate_limited": "rate-limited", "paused": "paused", "backing_off": "backing off", "stalled": "stalled"}
FORMATS = ("text", "markdown", "json")


@lazy_dataclass
class AgentReport:
    id: str
    runtime: str
    state: str
    now: str
    work_seconds: float = 0.0
    waits: dict[str, float] = field(default_factory=dict)  # kind -> seconds
    reasons: list[str] = field(default_factory=list)  # the limit lines and wait details, newest last
    hits: int = 0
    spend_usd: float = 0.0
    crashes: int = 0
    stalls: int = 0
    needs: str | None = None


@lazy_dataclass
class TeamReport:
    since: float
    until: float
    agents: list[AgentReport]

    @property
    def spend(self) -> float:
        return round(sum(a.spend_usd for a in self.agents), 4)

    @property
    def needs(self) -> list[AgentReport]:
        return [a for a in self.agents if a.needs]


def build(team: Team, since: float, now: float | None = None, cache: FileCache | None = None) -> TeamReport:
    now = now or time.time()
    with ReadOnlyMailbox(team.mailbox_path) as mb:
        rows = mb.agent_states()
        spend = {r["agent_id"]: float(r["usd"] or 0) for r in mb.query(
            "SELECT agent_id, SUM(usd) AS usd FROM budget WHERE observed_at>=? AND observed_at<=?"
            " AND agent_id IS NOT NULL GROUP BY agent_id", [since, now])}
        hits: dict[str, list[str]] = {}
        for r in mb.query("SELECT agent_id, raw_match FROM rate_limits WHERE hit_at>=? AND hit_at<=?"
                          " ORDER BY hit_at, id", [since, now]):
            hits.setdefault(r["agent_id"], []).append(r["raw_match"])
    return TeamReport(since, now, [_agent(team, a, rows.get(a.id), since, now, spend, hits, cache)
                                   for a in team.agents])


def _agent(team: Team, agent: Agent, row: AgentRow | None, since: float, now: float, spend: dict[str, float],
           hits: dict[str, list[str]], cache: FileCache | None) -> AgentReport:
    moves = transitions(team, agent, cache)
    segs = segments(moves, since, now)
    spent = totals(segs)
    reasons = [" ".join(h.split()) for h in hits.get(agent.id, [])]
    reasons += [f"{WAITS[s.kind]}: {s.detail}" for s in segs if s.kind in WAITS and s.detail]
    out = AgentReport(agent.id, agent.runtime, row.state if row is not None else "not_started",
                      state_text(row, now) if row is not None else "not started",
                      work_seconds=round(spent.get("running", 0.0), 1),
                      waits={k: round(v, 1) for k, v in spent.items() if k in WAITS},
                      reasons=list(dict.fromkeys(reasons))[-5:], hits=len(hits.get(agent.id, [])),
                      spend_usd=round(spend.get(agent.id, 0.0), 4), crashes=crashes(moves, since),
                      stalls=stalls(moves, since))
    out.needs = _needs(agent, row, now)
    return out


def _needs(agent: Agent, row: AgentRow | None, now: float) -> str | None:
    """What a person has to do for this agent now, if anything."""
    if row is None:
        return None
    state, detail = row.state, row.detail
    if state in LIVE_STATE_NAMES and watcher_process(agent.id, row) is None:
        return f"its watcher is gone: `teamctl up {agent.id}`"
    if state == "failed":
        return f"failed (last exit {row.last_exit}): `teamctl restart {agent.id}`"
    if state in ("blocked", "stuck", "lost"):
        return f"{state_text(row, now)}: look at `teamctl logs {agent.id}`"
    if state == "paused_budget":
        return f"{state_text(row, now)}: raise the budget or `teamctl wake {agent.id}`"
    if state == "running" and detail and str(detail).startswith("stalled"):
        return f"{detail}: `teamctl logs {agent.id}`"
    return None


# -- formats ------------------------------------------------------------------------------------

def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")


def _waits(a: AgentReport) -> str:
    return ", ".join(f"{WAITS[k]} {human_uptime(v)}" for k, v in a.waits.items() if v) or "-"


def as_json(rep: TeamReport) -> str:
    return json.dumps({"since": _when(rep.since), "until": _when(rep.until), "spend_usd": rep.spend,
                       "agents": [asdict(a) for a in rep.agents],
                       "needs_a_person": [{"agent": a.id, "what": a.needs} for a in rep.needs]}, indent=2)


def as_text(rep: TeamReport) -> str:
    head = ("AGENT", "NOW", "WORKED", "WAITED", "HITS", "SPEND", "CRASHES", "STALLS")
    table = [head] + [(a.id, a.now, human_uptime(a.work_seconds), _waits(a), str(a.hits), f"${a.spend_usd:.2f}",
                       str(a.crashes), str(a.stalls)) for a in rep.agents]
    widths = [max(len(r[i]) for r in table) for i in range(len(head))]
    lines = [f"teamctl report {_when(rep.since)} – {_when(rep.until)}: spend ${rep.spend:.2f}, "
             f"{sum(a.hits for a in rep.agents)} hits, {sum(a.crashes for a in rep.agents)} crashes", ""]
    lines += ["  ".join(c.ljust(widths[i]) for i, c in enumerate(r)).rstrip() for r in table]
    why = [(a.id, r) for a in rep.agents for r in a.reasons]
    if why:
        lines += ["", "WHY THEY WAITED"] + [f"  {aid}: {r}" for aid, r in why]
    lines += ["", "NEEDS A PERSON NOW"] + ([f"  {a.id}: {a.needs}" for a in rep.needs] or ["  nothing"])
    return "\n".join(lines)


def _md_cell(text: str) -> str:
    """Runtime text in Markdown: on one line, its markup characters escaped and any HTML made text, so
    a limit line holding `<img onerror=...>` or `[x](javascript:...)` renders as what it says."""
    text = " ".join(text.split()).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    for ch in "\\|`*_[]":
        text = text.replace(ch, "\\" + ch)
    return text


def as_markdown(rep: TeamReport) -> str:
    lines = [f"## teamctl report {_when(rep.since)} – {_when(rep.until)}", "",
             f"Spend **${rep.spend:.2f}**, {sum(a.hits for a in rep.agents)} hits, "
             f"{sum(a.crashes for a in rep.agents)} crashes.", "",
             "| agent | now | worked | waited | hits | spend | crashes | stalls |",
             "|---|---|---|---|---:|---:|---:|---:|"]
    lines += [f"| {a.id} | {_md_cell(a.now)} | {human_uptime(a.work_seconds)} | {_waits(a)} | {a.hits} |"
              f" ${a.spend_usd:.2f} | {a.crashes} | {a.stalls} |" for a in rep.agents]
    why = [(a.id, r) for a in rep.agents for r in a.reasons]
    if why:
        lines += ["", "### Why they waited", ""] + [f"- {aid}: {_md_cell(r)}" for aid, r in why]
    lines += ["", "### Needs a person now", ""]
    lines += [f"- **{a.id}**: {a.needs}" for a in rep.needs] or ["- nothing"]
    return "\n".join(lines)


def render(rep: TeamReport, fmt: str) -> str:
    return {"text": as_text, "markdown": as_markdown, "json": as_json}[fmt](rep)

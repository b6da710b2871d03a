"""One picture of the team as JSON: what the dashboard page draws, built by the server's single
poller and sent unchanged to every open page.

Only facts about the agents go in: ids, states, times, counters, spend, and the runtimes' own text
(limit lines, output tails) as plain strings, which the page shows as text. Never environment
values, compose env blocks, argv, tokens or paths outside the team.
"""

from __future__ import annotations

import os
import socket
import time
from datetime import datetime
from datetime import time as dtime
from typing import Any

from ..core.history import segments, spend_buckets
from ..core.resets.parse import resolve_zone
from ..core.states import LIVE_STATES, state_text
from ..store.mailbox import HOST
from ..store.readonly import ReadOnlyMailbox
from ..team import report
from ..team.agent_history import FileCache, last_model_turn, last_output_at, output_tail, transitions
from ..team.compose import Agent, Team
from ..team.watchers import watcher_process

DAY = 86400.0
HOUR = 3600.0
#: Per agent: the newest hits shown, the lines of output shown.
HITS_SHOWN = 8
TAIL_LINES = 15
#: Days of spend in the per-day plot.
SPEND_DAYS = 14

_LIVE = {s.value for s in LIVE_STATES}


def build(team: Team, mailbox: ReadOnlyMailbox, now: float | None = None, cache: FileCache | None = None,
          actions: bool = False) -> dict[str, Any]:
    """The whole snapshot: one query per table, psutil once per live runtime, files through `cache`."""
    now = now or time.time()
    cache = cache or FileCache()
    rows = mailbox.agent_states()
    costs = report.costs_today(team, mailbox, now)  # type: ignore[arg-type]  # query() is all it uses
    windows = report.usage_windows(mailbox, now)  # type: ignore[arg-type]
    hits = _recent_hits(mailbox, now - 7 * DAY)
    ppids = report._ppid_map() if any(r.pid for r in rows.values()) else {}
    agents = [_agent(team, a, rows.get(a.id), now, costs, windows, hits.get(a.id, []), ppids, cache)
              for a in team.agents]
    return {"now": round(now, 3), "team": team.compose_file.parent.parent.name or team.compose_file.name,
            "host": socket.gethostname(), "actions": actions, "agents": agents,
            "spend": _spend(team, mailbox, now)}


def _agent(team: Team, agent: Agent, row: Any, now: float, costs: dict[str, float],
           windows: dict[str, list[dict[str, object]]], hits: list[dict[str, object]],
           ppids: dict[int, list[int]], cache: FileCache) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": agent.id, "project": agent.project, "name": agent.name, "runtime": agent.runtime,
        "host": agent.host or getattr(row, "host", None) or "local", "state": "not_started", "text": "not started",
        "until": None, "detail": None, "restarts": 0, "last_exit": None, "pid": None,
        "cpu_percent": None, "rss_bytes": None, "uptime_seconds": None,
        "cost_today_usd": round(costs.get(agent.id, 0.0), 4), "usage_windows": windows.get(agent.id, []),
        "last_output_at": last_output_at(team, agent), "updated_at": None, "hits": hits[:HITS_SHOWN],
        "last_turn_at": last_model_turn(team, agent),  # evidence: the model's own turn
        "log_tail": output_tail(team, agent, TAIL_LINES, cache),
        "timeline": [s.as_dict() for s in segments(transitions(team, agent, cache), now - DAY, now)],
    }
    if row is None:
        return out
    out.update(state=row.state, text=state_text(row, now), until=row.until, detail=row.detail,
               restarts=row.restarts, last_exit=row.last_exit, updated_at=row.updated_at)
    if row.state in _LIVE and row.host not in (None, HOST):
        return out  # another host's watcher: its pids mean nothing here; the row (and `lost`) say
    if row.state in _LIVE:
        if watcher_process(agent.id, row) is None:
            out.update(state="stale", text="stale (its watcher is gone)", until=None)
        elif row.pid:
            m = report._metrics(row.pid, ppids)
            if m is not None:
                out.update(pid=row.pid, cpu_percent=round(m[0], 1), rss_bytes=m[1],
                           uptime_seconds=round(now - row.started_at if row.started_at else m[2], 1))
    return out


def _recent_hits(mailbox: ReadOnlyMailbox, since: float) -> dict[str, list[dict[str, object]]]:
    out: dict[str, list[dict[str, object]]] = {}
    for r in mailbox.query("SELECT agent_id, hit_at, resets_at, handled_at, raw_match FROM rate_limits"
                           " WHERE hit_at>=? ORDER BY hit_at DESC, id DESC", [since]):
        out.setdefault(r["agent_id"], []).append({
            "hit_at": r["hit_at"], "resets_at": r["resets_at"], "handled_at": r["handled_at"],
            "raw": r["raw_match"]})
    return out


def _spend(team: Team, mailbox: ReadOnlyMailbox, now: float) -> dict[str, Any]:
    """Team spend per hour (the last 24) and per local day (the last SPEND_DAYS)."""
    tz = resolve_zone(team.budget.tz, dict(os.environ))
    local = datetime.fromtimestamp(now, tz)
    today = datetime.combine(local.date(), dtime(0), tz).timestamp()
    first_day = today - (SPEND_DAYS - 1) * DAY
    rows = [(r["observed_at"], float(r["usd"] or 0.0)) for r in mailbox.query(
        "SELECT observed_at, usd FROM budget WHERE observed_at>=? ORDER BY observed_at", [min(first_day, now - DAY)])]
    hour0 = (now // HOUR) * HOUR - 23 * HOUR
    return {"hour_start": hour0, "per_hour": spend_buckets(rows, hour0, HOUR, 24),
            "day_start": first_day, "per_day": spend_buckets(rows, first_day, DAY, SPEND_DAYS),
            "today_usd": round(sum(u for at, u in rows if at >= today), 4)}

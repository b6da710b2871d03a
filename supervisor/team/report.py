"""What `teamctl status`, `logs` and `rate-limits` show: read-only views of a running team.

Lifecycle (up, down, wake) lives in team.py; this module only reads the mailbox, the process table
and the log files, so it is safe to run at any time, as often as `status --watch` likes.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Collection, Iterable, Sequence
from dataclasses import field
from datetime import datetime, timedelta

import psutil

from ..agent.budget import day_start
from ..agent.sessions import last_turn
from ..core.controls import printable
from ..core.lazy_dataclass import lazy_dataclass
from ..core.resets.parse import resolve_zone
from ..core.states import AgentState, short_time, state_text  # noqa: F401 (short_time: for the commands)
from ..store.mailbox import HOST, LOST_AFTER_BEATS, AgentRow, Store, heartbeat_seconds
from .backends import tmux as tmux_backend
from .compose import Agent, Team
from .loading import store
from .logview import clean_line, follow, tail, tail_lines  # noqa: F401 (the commands' names for them)
from .watchers import LIVE_STATE_NAMES, log_name, team_sessions, tmux_marker_file, watcher_process

# --------------------------------------------------------------------------------------------------
# status


@lazy_dataclass
class Status:
    id: str
    runtime: str
    state: str
    text: str
    until: float | None = None
    detail: str | None = None
    pid: int | None = None
    watcher_pid: int | None = None
    uptime: float | None = None
    restarts: int = 0
    cpu_percent: float | None = None
    rss: int | None = None
    cost_today: float = 0.0
    session: str | None = None
    stopped_by_signal: list[str] = field(default_factory=list)  # "watcher", "runtime": SIGSTOPped
    windows: list[dict[str, object]] = field(default_factory=list)  # usage before the hit, newest per window
    last_turn: float | None = None  # the model's last turn seen (issue 22: evidence, not our keys)
    host: str = HOST  # where its watcher runs (compose `host:`, else this host's name)
    remote: bool = False  # its watcher runs on another host: liveness from its heartbeat, not pids

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id, "runtime": self.runtime, "state": self.state, "text": self.text,
            "until": self.until, "detail": self.detail, "pid": self.pid, "watcher_pid": self.watcher_pid,
            "uptime_seconds": None if self.uptime is None else round(self.uptime, 1),
            "restarts": self.restarts,
            "cpu_percent": None if self.cpu_percent is None else round(self.cpu_percent, 1),
            "rss_bytes": self.rss, "cost_today_usd": round(self.cost_today, 6), "session": self.session,
            "stopped_by_signal": list(self.stopped_by_signal), "usage_windows": list(self.windows),
            "last_model_turn_at": self.last_turn,
            "host": self.host, "remote": self.remote,
        }


@lazy_dataclass
class Report:
    agents: list[Status]
    notices: list[str] = field(default_factory=list)


def costs_today(team: Team, st: Store, now: float) -> dict[str, float]:
    since = day_start(now, resolve_zone(team.budget.tz, dict(os.environ)))
    rows = st.query("SELECT agent_id, SUM(usd) AS usd FROM budget"
                    " WHERE observed_at>=? AND agent_id IS NOT NULL GROUP BY agent_id", [since])
    return {r["agent_id"]: float(r["usd"] or 0.0) for r in rows}


def status(team: Team, agents: Sequence[Agent] | None = None, now: float | None = None,
           unreachable: Collection[str] = ()) -> Report:
    """One Status per agent: one query for states, one for costs, psutil once per process.
    An agent of a host in `unreachable` (names ssh could not reach) is `unknown`, whatever its row."""
    now = now or time.time()
    agents = list(agents if agents is not None else team.agents)
    rows, costs, windows, beats = {}, {}, {}, {}
    if team.mailbox_path.exists():  # a team never started has no mailbox, and status makes none
        with store(team) as st:
            rows = st.agent_states()
            costs = costs_today(team, st, now)
            windows = usage_windows(st)
            beats = st.heartbeats()
    found = tmux_backend.listing()
    sessions = team_sessions(team, found) if found else {}
    ppids = _ppid_map() if any(r.pid for r in rows.values()) else {}
    out: list[Status] = []
    stale_in_tmux = 0
    for agent in agents:
        row = rows.get(agent.id)
        s = Status(agent.id, agent.runtime, "not-started", "not started", cost_today=costs.get(agent.id, 0.0),
                   session=sessions.get(agent.id),
                   windows=windows.get(agent.id, []), last_turn=last_turn(team.state_dir, log_name(agent)),
                   host=agent.host or HOST)
        out.append(s)
        if agent.host is not None and agent.host in unreachable:  # its row may be hours old: say so
            s.state, s.text, s.remote = "unknown", "unknown (host unreachable)", True
            continue
        if row is None:
            if s.session:
                s.state, s.text = "starting", "starting"
            continue
        s.restarts, s.until, s.detail = row.restarts, row.until, row.detail
        s.state, s.text = row.state, state_text(row, now)
        # `up` leaves a marker for a tmux agent and only `down` removes it: a marker with no tmux
        # server means the server died under the agent (its watcher got SIGHUP, or was killed).
        server_gone = found is None and tmux_marker_file(team, agent).exists()
        if row.host not in (None, HOST):  # its pids mean something on that host only: the row says
            s.host, s.remote = agent.host or row.host, True
            _mark_lost(s, row, beats.get(agent.id), now)
            continue
        if row.state in LIVE_STATE_NAMES:
            if watcher_process(agent.id, row) is None:
                s.state, s.text = "stale", "stale"
                stale_in_tmux += server_gone
                continue
            s.watcher_pid = row.watcher_pid
            if row.pid:
                m = _metrics(row.pid, ppids)
                if m is not None:
                    s.pid, s.cpu_percent, s.rss = row.pid, m[0], m[1]
                    s.uptime = now - row.started_at if row.started_at else m[2]
            _mark_signal_stopped(s)
        elif server_gone and row.state == AgentState.STOPPED.value:
            s.text = "stopped (tmux server gone)"
            stale_in_tmux += 1
    report = Report(out)
    if stale_in_tmux:
        many = stale_in_tmux != 1
        report.notices.append(f"tmux server not running: {stale_in_tmux} agent{'s' if many else ''}"
                              f" it ran {'are' if many else 'is'} down; run `teamctl up`")
    return report


def _mark_lost(s: Status, row: AgentRow, beat: float | None, now: float) -> None:
    """Another host's live agent whose watcher has not beaten (nor changed state) for three intervals."""
    if row.state not in LIVE_STATE_NAMES:
        return
    last = max(row.updated_at or 0.0, beat or 0.0)
    if now - last > LOST_AFTER_BEATS * heartbeat_seconds():
        s.state = AgentState.LOST.value
        s.text = f"lost (host {s.host} silent for {human_uptime(now - last)}; was {s.text})"


def _mark_signal_stopped(s: Status) -> None:
    """A watcher or runtime stopped by SIGSTOP/SIGTSTP is alive but does nothing: say so."""
    for who, pid in (("watcher", s.watcher_pid), ("runtime", s.pid)):
        try:
            if pid and psutil.Process(pid).status() in (psutil.STATUS_STOPPED, psutil.STATUS_TRACING_STOP):
                s.stopped_by_signal.append(who)
        except psutil.Error:
            pass
    if s.stopped_by_signal:  # the state stays what the row says; the text and JSON tell the truth
        s.text = f"{s.text} (stopped by signal)"


def _ppid_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for p in psutil.process_iter(["ppid"]):
        ppid = p.info.get("ppid")
        if ppid is not None:
            children.setdefault(ppid, []).append(p.pid)
    return children


def _metrics(pid: int, children: dict[int, list[int]]) -> tuple[float, int, float] | None:
    """CPU % since start (summed over the tree), RSS of the tree, uptime of `pid`; no sampling interval."""
    pids, todo = [], [pid]
    while todo:
        cur = todo.pop()
        pids.append(cur)
        todo.extend(children.get(cur, ()))
    cpu, rss, uptime, now = 0.0, 0, None, time.time()
    for p_id in pids:
        try:
            p = psutil.Process(p_id)
            with p.oneshot():
                created = p.create_time()
                times = p.cpu_times()
                rss += p.memory_info().rss
                cpu += (times.user + times.system) / max(now - created, 1e-3) * 100
                if p_id == pid:
                    uptime = now - created
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            if p_id == pid:
                return None
    return cpu, rss, uptime or 0.0


def human_uptime(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def human_bytes(n: int | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "K", "M", "G"):
        if n < 1024 or unit == "G":
            return f"{n:.0f}{unit}" if unit == "B" else f"{n:.1f}{unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n}B"


def usage_windows(st: Store, now: float | None = None) -> dict[str, list[dict[str, object]]]:
    """Per agent, the newest reading of each usage window whose reset is not past."""
    from ..store.usage import latest_windows

    now = now or time.time()
    out: dict[str, list[dict[str, object]]] = {}
    for agent_id, rows in latest_windows(st).items():
        for r in rows:
            if r["resets_at"] is not None and r["resets_at"] < now:
                continue  # that window has reset: the reading is old news
            out.setdefault(agent_id, []).append({
                "window": r["window"], "used_percent": r["used_percent"], "resets_at": _iso(r["resets_at"]),
                "seen_at": _iso(r["seen_at"]), "source": r["source"]})
    return out


def window_text(w: dict[str, object]) -> str:
    """`5h 91% · resets 15:00`."""
    used = w.get("used_percent")
    text = f"{w['window']} {used:.0f}%" if isinstance(used, int | float) else f"{w['window']} near"
    reset = w.get("resets_at")
    if isinstance(reset, str):
        when = datetime.fromisoformat(reset)
        fmt = "%H:%M" if when.date() == datetime.now(when.tzinfo).date() else "%b %d %H:%M"
        text += f" · resets {when.strftime(fmt)}"
    return text


def status_table(report: Report) -> list[str]:
    header = ("AGENT", "HOST", "RUNTIME", "STATE", "LAST TURN", "PID", "UPTIME", "RESTARTS", "CPU%", "RSS",
              "COST TODAY", "USAGE")
    rows = [header]
    now = time.time()
    for s in report.agents:
        turn = f"{human_uptime(max(now - s.last_turn, 0))} ago" if s.last_turn else "-"
        rows.append((s.id, s.host, s.runtime, s.text, turn,
                     str(s.pid) if s.pid else "-",
                     human_uptime(s.uptime) if s.pid else "-", str(s.restarts),
                     "-" if s.cpu_percent is None else f"{s.cpu_percent:.1f}", human_bytes(s.rss),
                     f"${s.cost_today:.2f}", ", ".join(window_text(w) for w in s.windows) or "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(r)).rstrip() for r in rows]
    return lines + report.notices


# --------------------------------------------------------------------------------------------------
# rate limits

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(text: str, now: float) -> float:
    """`2h`, `30m`, `3d`, an ISO date-time (local when it names no zone) or a date (its local midnight)."""
    m = _DURATION.match(text)
    if m:
        return now - float(m.group(1)) * _UNITS[m.group(2).lower()]
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise ValueError(f"{text!r}: use a duration (2h, 30m, 3d), an ISO time or a date") from exc
    return when.timestamp()


@lazy_dataclass
class HitRecord:
    agent_id: str
    runtime: str
    hit_at: float
    resets_at: float | None
    handled_at: float | None
    raw_match: str

    @property
    def waited(self) -> float | None:
        return None if self.handled_at is None else self.handled_at - self.hit_at

    def as_dict(self) -> dict[str, object]:
        iso = _iso
        return {"agent": self.agent_id, "runtime": self.runtime, "hit_at": iso(self.hit_at),
                "resets_at": iso(self.resets_at), "handled_at": iso(self.handled_at),
                "waited_seconds": None if self.waited is None else round(self.waited, 1),
                "handled": self.handled_at is not None, "raw_match": self.raw_match}


def _iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts).astimezone().isoformat(timespec="seconds")


def rate_limit_hits(team: Team, agent_ids: Iterable[str] | None, since: float) -> list[HitRecord]:
    ids = list(agent_ids or [])
    sql = "SELECT * FROM rate_limits WHERE hit_at>=?"
    params: list[object] = [since]
    if ids:
        sql += f" AND agent_id IN ({','.join('?' * len(ids))})"
        params += ids
    if not team.mailbox_path.exists():
        return []  # read-only: a team never started gets no mailbox from this
    with store(team) as st:
        rows = st.query(sql + " ORDER BY hit_at, id", params)
    return [HitRecord(r["agent_id"], r["runtime"], r["hit_at"], r["resets_at"], r["handled_at"], r["raw_match"])
            for r in rows]


def hits_table(hits: Sequence[HitRecord], now: float, width: int = 60) -> list[str]:
    def when(ts: float | None) -> str:
        if ts is None:
            return "-"
        return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")

    header = ("AGENT", "HIT", "RESETS", "WAITED", "HANDLED", "MATCH")
    rows = [header]
    for h in hits:
        raw = " ".join(printable(h.raw_match).split())
        raw = raw if len(raw) <= width else raw[: width - 1] + "…"
        waited = human_uptime(h.waited) if h.waited is not None else (
            f"waiting ({human_uptime(now - h.hit_at)})" if h.resets_at and h.resets_at > now else "-")
        handled = "yes" if h.handled_at else "no"
        rows.append((h.agent_id, when(h.hit_at), when(h.resets_at), waited, handled, raw))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    return ["  ".join(c.ljust(widths[i]) for i, c in enumerate(r)).rstrip() for r in rows]


def windows_table(team: Team, agent_ids: Iterable[str] | None, now: float) -> list[str]:
    """`rate-limits`' usage part: each window's last reading, its burn rate and projected full time."""
    from ..core.usage import burn_rate
    from ..store.usage import latest_windows, window_history

    if not team.mailbox_path.exists():
        return []
    lines = []
    with store(team) as st:
        for agent_id, rows in latest_windows(st, agent_ids).items():
            for r in rows:
                if r["resets_at"] is not None and r["resets_at"] < now:
                    continue
                history = window_history(st, agent_id, r["window"], now - 8 * 86400)
                if r["resets_at"] is not None:  # one reset period only
                    history = [h for h in history if h["resets_at"] in (None, r["resets_at"])]
                burn = burn_rate((h["seen_at"], h["used_percent"]) for h in history)
                text = window_text({"window": r["window"], "used_percent": r["used_percent"],
                                    "resets_at": _iso(r["resets_at"])})
                if burn is not None:
                    text += f" · {burn.per_hour:.1f}%/h"
                    if burn.full_at is not None:
                        full = datetime.fromtimestamp(burn.full_at).strftime("%Y-%m-%d %H:%M")
                        text += f" · full at {full}"
                        if r["resets_at"] is not None and burn.full_at > r["resets_at"]:
                            text += " (after the reset)"
                lines.append(f"{agent_id}  {text}")
    return (["USAGE WINDOWS"] + lines) if lines else []


def default_since(now: float) -> float:
    return (datetime.fromtimestamp(now) - timedelta(hours=24)).timestamp()

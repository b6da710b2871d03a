"""What the store writes and how it reads rows back, in SQL both engines take (SQLite, PostgreSQL).

Every write names its columns, and every read takes columns by name, so a mailbox with more columns
or tables than ours (a newer version of us beside an older one) is read and written as it is.
Placeholders are `?`; the PostgreSQL backend turns them into its own.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from dataclasses import dataclass
from typing import Any


class BrokerError(Exception):
    """The pointer is unreadable, or names no URL this process can use."""


class MailboxError(sqlite3.OperationalError):
    """A mailbox on another engine failed. A subclass of sqlite3's error, so that callers written
    for the SQLite mailbox (`except sqlite3.Error`) handle it as they always did."""


#: While the mailbox is failing, a replay is tried at most this often, so the relay is not held up.
REPLAY_INTERVAL = 2.0

WRITES = {
    "rate_limit": "INSERT INTO rate_limits (agent_id, runtime, hit_at, resets_at, raw_match) VALUES (?,?,?,?,?)",
    "handled": "UPDATE rate_limits SET handled_at=? WHERE agent_id=? AND hit_at=? AND handled_at IS NULL",
    "hit_update": "UPDATE rate_limits SET resets_at=?, raw_match=? WHERE agent_id=? AND hit_at=?",
    "budget": "INSERT INTO budget (project_id, agent_id, runtime, usd, input_tok, output_tok, observed_at)"
              " VALUES (?,?,?,?,?,?,?)",
    "scope": "INSERT INTO supervisor_limit_scope (agent_id, hit_at, limit_group, model, action, until)"
             " VALUES (?,?,?,?,?,?) ON CONFLICT(agent_id, hit_at) DO UPDATE SET limit_group=excluded.limit_group,"
             " model=excluded.model, action=excluded.action, until=excluded.until",
    "message": "INSERT INTO messages (project_id, sender, recipient, text, sent_at) VALUES (?,?,?,?,?)",
    "state": "INSERT INTO supervisor_agent_state (agent_id, runtime, state, until, detail, watcher_pid, pid,"
             " started_at, restarts, last_exit, limit_group, model, updated_at, host)"
             " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(agent_id) DO UPDATE SET"
             " runtime=excluded.runtime, state=excluded.state, until=excluded.until, detail=excluded.detail,"
             " watcher_pid=excluded.watcher_pid, pid=excluded.pid, started_at=excluded.started_at,"
             " restarts=excluded.restarts, last_exit=excluded.last_exit, limit_group=excluded.limit_group,"
             " model=excluded.model, updated_at=excluded.updated_at, host=excluded.host",
    "heartbeat": "INSERT INTO supervisor_heartbeats (agent_id, host, beat_at) VALUES (?,?,?)"
                 " ON CONFLICT(agent_id) DO UPDATE SET host=excluded.host, beat_at=excluded.beat_at",
}

CLAIM_ALERT = ("INSERT INTO supervisor_budget_alerts (project_id, day, kind, sent_at) VALUES (?,?,?,?)"
               " ON CONFLICT DO NOTHING")
#: A group hit's alert is claimed unless one of the group's claims has a reset within
#: HIT_ALERT_WINDOW seconds of this one (or, with no reset parsed, was made that close in time).
HIT_ALERT_WINDOW = 600.0
CLAIM_HIT = ("INSERT INTO supervisor_hit_alerts (limit_group, resets_at, claimed_at, agent_id)"
             " SELECT ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM supervisor_hit_alerts"
             " WHERE limit_group=? AND resets_at BETWEEN ? AND ?)")
CLAIM_HIT_NO_RESET = ("INSERT INTO supervisor_hit_alerts (limit_group, resets_at, claimed_at, agent_id)"
                      " SELECT ?, NULL, ?, ? WHERE NOT EXISTS (SELECT 1 FROM supervisor_hit_alerts"
                      " WHERE limit_group=? AND resets_at IS NULL AND claimed_at BETWEEN ? AND ?)")
UPSERT_PROJECT = "INSERT INTO projects (id, name) VALUES (?,?) ON CONFLICT(id) DO UPDATE SET name=excluded.name"
UPSERT_AGENT = ("INSERT INTO agents (id, project_id, role, runtime, is_manager, reports_to) VALUES (?,?,?,?,?,?)"
                " ON CONFLICT(id) DO UPDATE SET project_id=excluded.project_id, role=excluded.role,"
                " runtime=excluded.runtime, is_manager=excluded.is_manager, reports_to=excluded.reports_to")
GROUP_LIMITS = ("SELECT l.agent_id, l.hit_at, l.model, l.until, r.resets_at FROM supervisor_limit_scope l"
                " JOIN rate_limits r ON r.agent_id=l.agent_id AND r.hit_at=l.hit_at"
                " WHERE l.limit_group=? AND l.action!='record' AND l.until>? AND r.handled_at IS NULL")


@dataclass(frozen=True)
class AgentRow:
    """One row of supervisor_agent_state."""

    agent_id: str
    runtime: str
    state: str
    until: float | None
    detail: str | None
    watcher_pid: int | None
    pid: int | None
    started_at: float | None
    restarts: int
    last_exit: int | None
    limit_group: str | None
    model: str | None
    updated_at: float
    host: str | None = None

    @classmethod
    def from_row(cls, row: Any) -> AgentRow:
        """By column name: columns a newer version added are left out, never a TypeError."""
        have = set(row.keys())
        return cls(**{f.name: row[f.name] for f in dataclasses.fields(cls) if f.name in have})


def parse_spooled(line: str) -> tuple[str, list[Any], str | None] | None:
    """One spool line as (kind, params, write id), or None when it is not one we wrote.
    The write id (third item) came with the PostgreSQL backend; older lines have none."""
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    if not isinstance(entry, list) or len(entry) not in (2, 3):
        return None
    kind, params, write_id = entry[0], entry[1], entry[2] if len(entry) == 3 else None
    if isinstance(kind, str) and kind in WRITES and isinstance(params, list) and (
            write_id is None or isinstance(write_id, str)):
        return kind, params, write_id
    return None


def model_covered(scope: str | None, model: str | None) -> bool:
    """A hit scoped to a model ("Opus", "claude-opus-4-7") covers agents whose model names it."""
    if not scope:
        return True
    if not model:
        return False
    a, b = _norm_model(scope), _norm_model(model)
    return a in b or b in a


def _norm_model(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())

"""The usage-windows table (supervisor_usage_windows): readings of how full a limit window is.

Readings are advisory (a missed one is replaced by the next), so they are written straight through
the store's connection, not spooled, and a failed write is logged once by the caller and dropped.
A reading that repeats the last one of the same window (same used and reset) adds no row, so a
footer redrawn every second does not fill the table. `"window"` is quoted: PostgreSQL reserves it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .mailbox import Store
from .queries import MailboxError


def record_window(store: Store, runtime: str, agent_id: str, window: str, used: float | None,
                  resets_at: float | None, seen_at: float, source: str = "screen") -> bool:
    """Append one reading; False when it repeats the window's last one."""
    if store.has_backlog() and store.backend.remote:
        raise MailboxError("the mailbox is not reachable now; reading not recorded")  # never wait on it
    rows = store.backend.query('SELECT used_percent, resets_at FROM supervisor_usage_windows'
                               ' WHERE agent_id=? AND "window"=? ORDER BY seen_at DESC, id DESC LIMIT 1',
                               [agent_id, window])
    last = rows[0] if rows else None
    if last is not None and last[0] == used and (resets_at is None or last[1] == resets_at):
        return False
    store.backend.autocommit('INSERT INTO supervisor_usage_windows(runtime, agent_id, "window", used_percent,'
                             ' resets_at, seen_at, source) VALUES (?,?,?,?,?,?,?)',
                             [runtime, agent_id, window, used, resets_at, seen_at, source])
    return True


def latest_windows(store: Store, agent_ids: Iterable[str] | None = None) -> dict[str, list[Any]]:
    """Per agent, the newest reading of each window (most used first)."""
    ids = list(agent_ids or [])
    sql = ('SELECT w.* FROM supervisor_usage_windows w JOIN (SELECT agent_id, "window", MAX(id) AS id'
           ' FROM supervisor_usage_windows GROUP BY agent_id, "window") n ON n.id=w.id')
    if ids:
        sql += f" WHERE w.agent_id IN ({','.join('?' * len(ids))})"
    out: dict[str, list[Any]] = {}
    for row in store.query(sql + " ORDER BY w.agent_id, COALESCE(w.used_percent, 0) DESC", ids):
        out.setdefault(row["agent_id"], []).append(row)
    return out


def window_history(store: Store, agent_id: str, window: str, since: float) -> list[Any]:
    """One window's readings since `since`, oldest first."""
    return store.query('SELECT * FROM supervisor_usage_windows WHERE agent_id=? AND "window"=? AND seen_at>=?'
                       " ORDER BY seen_at, id", [agent_id, window, since])

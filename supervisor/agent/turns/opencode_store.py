"""opencode's session store: one SQLite database per user, every session's messages in it.

opencode-linux-x64 1.19.5 (read from the database it wrote against the fake API; the tables are the
CLI's drizzle schema): `message` (id, session_id, time_created ms, data JSON with `role`) and `part`
(id, message_id, session_id, time_created ms, data JSON with `type`). An answer is an assistant message
whose parts are "step-start", "text", "step-finish" (a tool call: "tool", thinking: "reasoning"); a
request that failed leaves an assistant message with its `error` and no text, tool or reasoning part.
The time of the newest such part of the agent's own session is the reader's answer; the database is
the CLI's, opened read-only and never written (agent/session_db.py finds it).
"""

from __future__ import annotations

import glob
import logging
import sqlite3
from collections.abc import Iterable

log = logging.getLogger(__name__)

KIND = "opencode-store"

#: the model's own parts of one session's assistant messages: the newest one's creation (ms)
QUERY = ("SELECT MAX(p.time_created) FROM part p JOIN message m ON m.id = p.message_id "
         "WHERE p.session_id = :sid AND json_extract(m.data, '$.role') = 'assistant' "
         "AND json_extract(p.data, '$.type') IN ('text', 'tool', 'reasoning')")


def latest(patterns: Iterable[str], session_id: str) -> float | None:
    """Seconds since the epoch of the session's newest model part, over every database the expanded
    `patterns` match; None when there is none (or no database could be read)."""
    found: float | None = None
    for pattern in patterns:
        for path in sorted(glob.glob(pattern)):
            try:
                con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2)
            except sqlite3.Error:
                continue
            try:
                row = con.execute(QUERY, {"sid": session_id}).fetchone()
            except sqlite3.Error as exc:
                log.debug("session database %s not read: %s", path, exc)
                continue
            finally:
                con.close()
            if row and isinstance(row[0], int | float):
                found = max(found or 0.0, row[0] / 1000.0)
    return found

"""Learn the id a CLI chose for its session from the SQLite database it keeps its sessions in.

opencode (1.18, 1.19) keeps every session of a user in one database (`opencode.db`), so no file of
its own names the agent's session: the descriptor's query (`launch.session_capture_query`) lists the
sessions started since the spawn, and the one that no other agent of the team holds is this agent's.
The database is the CLI's: it is opened read-only and never written.
"""

from __future__ import annotations

import glob
import logging
import sqlite3
from collections.abc import Iterable

log = logging.getLogger(__name__)


def new_ids(patterns: Iterable[str], query: str, since: float) -> set[str]:
    """Ids the query finds (`:since`: the spawn, seconds since the epoch) in every database that the
    expanded `patterns` match; a database that cannot be read counts as none."""
    found: set[str] = set()
    for pattern in patterns:
        for path in sorted(glob.glob(pattern)):
            try:
                con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2)
            except sqlite3.Error:
                continue
            try:
                found.update(str(row[0]) for row in con.execute(query, {"since": since}) if row and row[0])
            except sqlite3.Error as exc:
                log.debug("session database %s not read: %s", path, exc)
            finally:
                con.close()
    return found


def pick(found: set[str], others: set[str]) -> tuple[str | None, int]:
    """The one id no other agent holds, or None; also how many could be this agent's."""
    mine = found - others
    return (next(iter(mine)) if len(mine) == 1 else None), len(mine)

"""Learn the id a CLI chose for its session: from the SQLite database it keeps its sessions in, never
one another agent holds or may still be about to claim.

opencode (1.18, 1.19) keeps every session of a user in one database (`opencode.db`), so no file of
its own names the agent's session: the descriptor's query (`launch.session_capture_query`) lists the
sessions started since the spawn, and the one that no other agent of the team holds is this agent's.
The database is the CLI's: it is opened read-only and never written. Agents that each have a database of
their own (the descriptor's `agent_env`, e.g. OPENCODE_DB) cannot take each other's sessions, so they
never wait for each other: only agents learning their id in the same database do.
"""

from __future__ import annotations

import glob
import json
import logging
import os
import sqlite3
from collections.abc import Iterable
from fnmatch import fnmatchcase
from pathlib import Path

from ..store.safefs import read_nofollow

log = logging.getLogger(__name__)

#: An agent still learning its id this long after its spawn is a watcher that died: no longer waited for.
PENDING_MAX = 600.0


def databases(expanded: Iterable[str | None]) -> list[str]:
    """The CLI's databases, from the descriptor's templates already expanded (None: a variable unset):
    the first that names an absolute path, as the CLI looks itself (its override first, then its
    default places); a relative name is the CLI's, relative to a folder a later template names."""
    return next(([p] for p in expanded if p and os.path.isabs(p)), [])


def overlap(ours: Iterable[str], theirs: Iterable[str]) -> bool:
    """Two agents' database patterns can name one file (equal, or one glob matches the other)."""
    theirs = list(theirs)
    return any(a == b or fnmatchcase(a, b) or fnmatchcase(b, a) for a in ours for b in theirs)


def new_ids(patterns: Iterable[str], query: str, since: float, strict: bool = False) -> set[str] | None:
    """Ids the query finds (`:since`: the spawn, seconds since the epoch) in every database that the
    expanded `patterns` match; a database that cannot be read counts as none, or (`strict`) makes
    the answer None: unknown, not "no session"."""
    found: set[str] = set()
    for pattern in patterns:
        for path in sorted(glob.glob(pattern)):
            try:
                con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2)
            except sqlite3.Error:
                if strict:
                    return None
                continue
            try:
                found.update(str(row[0]) for row in con.execute(query, {"since": since}) if row and row[0])
            except sqlite3.Error as exc:
                log.debug("session database %s not read: %s", path, exc)
                if strict:
                    con.close()
                    return None
            finally:
                con.close()
    return found


def pick(found: set[str], others: set[str]) -> tuple[str | None, int]:
    """The one id no other agent holds, or None; also how many could be this agent's."""
    mine = found - others
    return (next(iter(mine)) if len(mine) == 1 else None), len(mine)


def others(own: Path, runtime: str, now: float, dbs: list[str] | None = None) -> tuple[set[str], int]:
    """The ids the other agents' session files (beside `own`) hold, and how many agents of `runtime`
    are still learning theirs (spawned, id unknown): until they have, a new session may be theirs.
    `dbs`: this agent's databases; one learning its id in none of them (`capturing_in`) is not counted."""
    ids: set[str] = set()
    pending = 0
    for path in own.parent.glob("*.json"):
        if path == own:
            continue
        try:
            data = json.loads(read_nofollow(path))
            value, since = data.get("id"), data.get("capturing_since")
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(value, str):
            ids.add(value)
        elif data.get("runtime") == runtime and isinstance(since, int | float) and now - since < PENDING_MAX:
            theirs = data.get("capturing_in")
            if dbs is None or not isinstance(theirs, list) or overlap(dbs, map(str, theirs)):
                pending += 1
    return ids, pending

"""The mailbox opened for reading only (SQLite URI `mode=ro`), for views that must never write:
the dashboard and `teamctl report`. A view that opens the mailbox read-write could create it, run
the schema batch or take the write lock the watchers need; this one cannot.

It answers `query()` like Store does, so the store's read helpers (store/usage.py) take either. A
team on PostgreSQL (its mailbox path is the broker's pointer file) is read through a connection of
the view's own; the view only ever runs SELECTs on it.
"""

from __future__ import annotations

import os
import sqlite3
import urllib.parse
from collections.abc import Iterable
from contextlib import closing
from pathlib import Path
from typing import Any

from .backend_sqlite import named
from .broker import is_pointer, open_backend
from .mailbox import AgentRow


class ReadOnlyMailbox:
    """One read-only connection; `None` rows and empty answers when there is no mailbox yet."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self._remote: Any = None  # a PostgreSQL team's backend (psycopg is imported only then)

    def _connect(self) -> sqlite3.Connection | None:
        if self._conn is None:
            if not self.path.is_file() or os.path.islink(self.path):
                return None
            uri = "file:" + urllib.parse.quote(str(self.path.resolve())) + "?mode=ro"
            conn = sqlite3.connect(uri, uri=True, timeout=5.0, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA query_only=ON")
            conn.row_factory = sqlite3.Row
            self._conn = conn
        return self._conn

    def query(self, sql: str, params: Iterable[Any] = ()) -> list[Any]:
        if is_pointer(self.path):
            if self._remote is None:
                self._remote = open_backend(self.path)
            return self._remote.query(sql, list(params))
        conn = self._connect()
        if conn is None:
            return []
        try:
            with closing(conn.execute(sql, list(params))) as cur:
                return cur.fetchall()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return []  # a mailbox being created right now
            raise named(exc, self.path) from None

    def agent_states(self) -> dict[str, AgentRow]:
        return {r["agent_id"]: AgentRow.from_row(r) for r in self.query("SELECT * FROM supervisor_agent_state")}

    def close(self) -> None:
        if self._remote is not None:
            self._remote.close()
            self._remote = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> ReadOnlyMailbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

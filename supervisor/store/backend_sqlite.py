"""The embedded mailbox: one SQLite file under state/, shared with every teamctl program on the host.

Many watchers write at once, so the opener sets WAL, a long busy timeout and foreign keys before
the schema batch runs, and every write is one short `BEGIN IMMEDIATE` transaction (a deferred one
that upgrades from read to write can fail at once with "database is locked", timeout or not).

A damaged file ("file is not a database") is moved aside to `mailbox.db.corrupt-<time>` and a fresh
one started, with one log line saying so (see `recover_damaged`). A mailbox made by an older version
of ours gains the columns it lacks in our own tables, in place (`migrate`).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

from .safefs import UnsafeState, open_private, private_dir
from .schema import OWN_SCHEMA, OWN_TABLES, SHARED_SCHEMA, SHARED_TABLES, add_column_sql, own_columns

log = logging.getLogger(__name__)

#: How long a writer waits for a lock before its event goes to the spool (TEAMCTL_BUSY_TIMEOUT_MS).
BUSY_TIMEOUT_MS = int(os.environ.get("TEAMCTL_BUSY_TIMEOUT_MS", "5000"))
#: What SQLite says of a file whose header or pages are not a database's.
_DAMAGED = ("file is not a database", "database disk image is malformed")
#: The one-line notices of damaged mailboxes moved aside by this process (the commands print them).
RECOVERED: list[str] = []
#: A row's own fault: it will fail the same way every time, so it is set aside, not retried.
ROW_ERRORS = (sqlite3.IntegrityError, sqlite3.ProgrammingError, sqlite3.InterfaceError, ValueError,
              TypeError, OverflowError)


def named(exc: sqlite3.Error, path: Path) -> sqlite3.Error:
    """`exc` carrying the mailbox's path (`.mailbox`), so a command says which file is locked or
    damaged, and by whom, instead of a traceback."""
    exc.mailbox = path  # type: ignore[attr-defined]
    return exc


def is_damaged(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.DatabaseError) and any(t in str(exc) for t in _DAMAGED)


def connect(path: Path, recover: bool = False) -> sqlite3.Connection:
    """The mailbox, opened; with `recover` (the commands), a damaged file is moved aside and a fresh
    one created. A watcher does not recover: it spools, and reopens once a command has moved it."""
    try:
        return _connect(path)
    except sqlite3.DatabaseError as exc:
        if not recover or not is_damaged(exc):
            raise
        recover_damaged(path, exc)
        return _connect(path)


def recover_damaged(path: Path, exc: BaseException) -> None:
    """Move a damaged mailbox (and its -wal, -shm) aside, under a lock so that of many watchers and
    commands finding it at once exactly one moves it, and none moves the fresh one made after."""
    import fcntl

    fd = open_private(path.with_name(path.name + ".recover.lock"), os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:  # still damaged? (another process may have moved it aside while we waited)
            _connect(path).close()
            return
        except sqlite3.DatabaseError as again:
            if not is_damaged(again):
                raise
        aside = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}")
        for suffix in ("", "-wal", "-shm"):
            try:
                os.rename(f"{path}{suffix}", f"{aside}{suffix}")
            except FileNotFoundError:
                pass
        notice = (f"mailbox {path} is damaged ({exc}): moved it aside to {aside.name} and started a fresh"
                  " one; rows recorded before are in that file")
        RECOVERED.append(notice)
        log.error("%s", notice)
    finally:
        os.close(fd)


def _connect(path: Path) -> sqlite3.Connection:
    """Open the mailbox: pragmas first, then the schema batch (idempotent, safe on every open)."""
    private_dir(path.parent)
    if os.path.islink(path):
        raise UnsafeState(f"{path} is a symlink: teamctl will not open a mailbox through it (remove it)")
    old = os.umask(0o077)
    try:
        conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                               check_same_thread=False)
        try:
            conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                _retry_locked(lambda: conn.execute("PRAGMA journal_mode=WAL"))
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA synchronous=NORMAL")
            if not _schema_current(conn):
                _retry_locked(lambda: _create(conn))
        except BaseException:
            conn.close()
            raise
    finally:
        os.umask(old)
    return conn


def _missing_columns(conn: sqlite3.Connection) -> list[str]:
    """ALTER TABLEs that bring our tables (as they are in the file) up to OWN_SCHEMA."""
    alters = []
    for table, columns in own_columns().items():
        have = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
        if have:  # a table not there at all is created by the batch, whole
            alters += [add_column_sql(table, c) for c in columns if c.name not in have]
    return alters


def _schema_current(conn: sqlite3.Connection) -> bool:
    """All tables and our columns there already: skip the schema batch, which needs the write lock."""
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    return {*SHARED_TABLES, *OWN_TABLES} <= names and not _missing_columns(conn)


def _create(conn: sqlite3.Connection) -> None:
    """The schema batch, then the columns an older version's tables lack, under one write lock."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        for statement in _statements(SHARED_SCHEMA + OWN_SCHEMA):
            conn.execute(statement)
        for alter in _missing_columns(conn):
            log.warning("mailbox made by an older version: upgrading it in place (%s)", alter)
            conn.execute(alter)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _statements(script: str) -> Iterator[str]:
    """A schema script split into statements (executescript would commit our transaction)."""
    buf = ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            yield buf
            buf = ""


def _retry_locked(fn: Any, attempts: int = 5) -> Any:
    """Schema and journal-mode changes take an exclusive lock that busy_timeout does not always cover."""
    for attempt in range(attempts):
        try:
            return fn()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.02 * (attempt + 1))
    return None


class SqliteBackend:
    """One connection to the file, reopened when the file at the path is no longer the one it has open
    (deleted or replaced under a running team); one stat, cheap beside the write it guards."""

    errors: tuple[type[BaseException], ...] = (sqlite3.Error,)
    row_errors = ROW_ERRORS
    remote = False

    def __init__(self, path: Path, recover: bool = False) -> None:
        self.path = path
        self.recover = recover
        self._conn: sqlite3.Connection | None = None
        self._ident: tuple[int, int] | None = None

    def where(self) -> str:
        return str(self.path)

    def conn(self) -> sqlite3.Connection:
        if self._conn is not None and _ident(self.path) != self._ident:
            log.warning("mailbox %s was deleted or replaced; reopening it", self.path)
            self.close()  # SQLite neither checkpoints nor deletes the -wal of a moved database
        if self._conn is None:
            try:
                self._conn = connect(self.path, self.recover)
            except sqlite3.Error as exc:
                raise named(exc, self.path) from None
            self._ident = _ident(self.path)
        return self._conn


    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One short write transaction, taking the write lock up front (see the module docstring)."""
        conn = self.conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise named(exc, self.path) from None
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    @staticmethod
    def execute(conn: sqlite3.Connection, sql: str, params: Any = ()) -> int:
        return conn.execute(sql, params).rowcount

    @staticmethod
    def executemany(conn: sqlite3.Connection, sql: str, rows: list[Any]) -> None:
        conn.executemany(sql, rows)

    @contextmanager
    def savepoint(self, conn: sqlite3.Connection) -> Iterator[None]:
        conn.execute("SAVEPOINT spooled")
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK TO spooled")
            conn.execute("RELEASE spooled")
            raise
        conn.execute("RELEASE spooled")

    def query(self, sql: str, params: Any = ()) -> list[sqlite3.Row]:
        conn = self.conn()
        conn.row_factory = sqlite3.Row
        with closing(conn.execute(sql, list(params))) as cur:
            return cur.fetchall()

    def autocommit(self, sql: str, params: Any = ()) -> int:
        """One statement on its own (a claim, an advisory reading): no spool, no write id."""
        return self.conn().execute(sql, list(params)).rowcount

    def claim(self, sql: str, params: Any = ()) -> int:
        """One check-then-insert statement (its rowcount) that no other claim interleaves with: BEGIN
        IMMEDIATE takes the file's write lock before the check reads."""
        with self.transaction() as conn:
            return conn.execute(sql, list(params)).rowcount


def _ident(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino

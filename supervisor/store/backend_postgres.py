"""The mailbox on PostgreSQL, for a team over several hosts (`broker: {type: postgres, ...}`).

The same tables and columns as the SQLite mailbox, in PostgreSQL's types (store/schema.py). Many
hosts may connect at once: the schema is created and upgraded under a transaction-scoped advisory
lock, so exactly one of them does it and the others wait for it. Every statement has a deadline
(connect, lock and statement timeouts) so a write never hangs on a dead network; the store's
writer thread (store/remote.py) is what waits, never a watcher's relay.

psycopg is imported only here, and this module only when a team's broker is PostgreSQL.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg

from . import backend_sqlite
from .queries import BrokerError, MailboxError
from .schema import OWN_TABLES, SHARED_TABLES, add_column_sql, own_columns, postgres_schema

log = logging.getLogger(__name__)

#: Seconds to wait for a connection (a host down, a partition) before the write goes to the spool.
CONNECT_TIMEOUT = 5
#: Advisory-lock key for schema changes: any fixed number, the same in every version of us.
SCHEMA_LOCK = 0x7EA3C71
#: Advisory-lock key that serializes claims (one alert per group hit): claims are rare, one lock will do.
CLAIM_LOCK = 0x7EA3C72
#: The channel a limit hit is announced on; a payload is the limit group.
CHANNEL = "teamctl_limits"


class Row(tuple):  # type: ignore[type-arg]
    """A row read by name or by position, as sqlite3.Row is, so callers never know the engine."""

    names: Sequence[str] = ()

    def __getitem__(self, key: Any) -> Any:  # type: ignore[override]
        if isinstance(key, str):
            return tuple.__getitem__(self, self.names.index(key))
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self.names)


def _row_factory(cursor: Any) -> Any:
    names = [c.name for c in cursor.description or ()]

    def make(values: Sequence[Any]) -> Row:
        row = Row(values)
        row.names = names
        return row
    return make


def placeholders(sql: str) -> str:
    """`?` (SQLite's, and the store's queries') as psycopg's `%s`; a literal `%` doubled."""
    return sql.replace("%", "%%").replace("?", "%s")


def connect(url: str) -> psycopg.Connection[Any]:
    conn = psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT, row_factory=_row_factory,
                           keepalives=1, keepalives_idle=10, keepalives_interval=5, keepalives_count=3)
    try:
        timeout = int(backend_sqlite.BUSY_TIMEOUT_MS)  # one setting for both engines
        conn.execute(f"SET statement_timeout = {max(timeout, 1000)}")
        conn.execute(f"SET lock_timeout = {timeout}")
        if not _schema_current(conn):
            _create(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def _tables(conn: psycopg.Connection[Any]) -> dict[str, set[str]]:
    rows = conn.execute("SELECT table_name, column_name FROM information_schema.columns"
                        " WHERE table_schema = current_schema()").fetchall()
    found: dict[str, set[str]] = {}
    for table, column in rows:
        found.setdefault(table, set()).add(column)
    return found


def _missing_columns(found: dict[str, set[str]]) -> list[str]:
    return [add_column_sql(table, c, postgres=True) for table, columns in own_columns().items()
            if table in found for c in columns if c.name not in found[table]]


def _schema_current(conn: psycopg.Connection[Any]) -> bool:
    found = _tables(conn)
    wanted = {*SHARED_TABLES, *OWN_TABLES, "supervisor_applied_writes"}
    return wanted <= set(found) and not _missing_columns(found)


def _create(conn: psycopg.Connection[Any]) -> None:
    """Schema and upgrades in one transaction under the advisory lock: hosts connecting at once take
    turns, and the later ones find the work done (CREATE ... IF NOT EXISTS, columns re-read)."""
    with conn.transaction():
        conn.execute("SET LOCAL lock_timeout = 0")  # waiting for another host's schema batch is right
        conn.execute("SELECT pg_advisory_xact_lock(%s)", [SCHEMA_LOCK])
        conn.execute(postgres_schema())
        for alter in _missing_columns(_tables(conn)):
            log.warning("mailbox made by an older version: upgrading it in place (%s)", alter)
            conn.execute(alter)


class PostgresBackend:
    """One connection (autocommit outside explicit transactions), opened on first use."""

    errors: tuple[type[BaseException], ...] = (psycopg.Error, BrokerError, MailboxError)
    row_errors = (psycopg.IntegrityError, psycopg.DataError, ValueError, TypeError, OverflowError)
    remote = True

    def __init__(self, url_of: Callable[[], str]) -> None:
        self.url_of = url_of  # read at each connect: a pointer or variable fixed later is picked up
        self._conn: psycopg.Connection[Any] | None = None

    @property
    def url(self) -> str:
        return self.url_of()

    def where(self) -> str:
        """The database, named without its password."""
        try:
            info = psycopg.conninfo.conninfo_to_dict(self.url)
        except (psycopg.Error, BrokerError):
            return "the PostgreSQL mailbox"
        return f"postgresql {info.get('host', 'localhost')}:{info.get('port', 5432)}/{info.get('dbname', '')}"

    def conn(self) -> psycopg.Connection[Any]:
        if self._conn is not None and self._conn.closed:
            self._conn = None
        if self._conn is None:
            self._conn = connect(self.url)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Connection[Any]]:
        conn = self.conn()
        try:
            with conn.transaction():
                yield conn
        except psycopg.OperationalError:
            self.close()  # a broken connection is opened again on the next use
            raise

    @staticmethod
    def execute(conn: psycopg.Connection[Any], sql: str, params: Any = ()) -> int:
        return conn.execute(placeholders(sql), list(params)).rowcount

    @staticmethod
    def executemany(conn: psycopg.Connection[Any], sql: str, rows: list[Any]) -> None:
        with conn.cursor() as cur:
            cur.executemany(placeholders(sql), rows)

    @contextmanager
    def savepoint(self, conn: psycopg.Connection[Any]) -> Iterator[None]:
        with conn.transaction():
            yield

    def query(self, sql: str, params: Any = ()) -> list[Row]:
        return self._once_more(lambda: self.conn().execute(placeholders(sql), list(params)).fetchall())

    def autocommit(self, sql: str, params: Any = ()) -> int:
        return self._once_more(lambda: self.conn().execute(placeholders(sql), list(params)).rowcount)

    def claim(self, sql: str, params: Any = ()) -> int:
        """One check-then-insert statement (its rowcount) that no other claim interleaves with, on any
        host: READ COMMITTED alone would let two hosts both find nothing and both insert, so each
        claim's transaction first takes the claims' advisory lock, and its statement reads after."""
        def run() -> int:
            conn = self.conn()
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", [CLAIM_LOCK])
                return int(conn.execute(placeholders(sql), list(params)).rowcount)
        return int(self._once_more(run))

    def _once_more(self, call: Callable[[], Any]) -> Any:
        """A kept connection the server dropped (a restart, a failover) fails its next statement:
        that statement is tried once more on a new connection before the caller hears of it."""
        if self._conn is not None and not self._conn.closed:
            try:
                return call()
            except psycopg.OperationalError:
                self.close()
        with self._callers_error():
            return call()

    @contextmanager
    def _callers_error(self) -> Iterator[None]:
        """What reaches the store's callers is the error they know from SQLite (MailboxError)."""
        try:
            yield
        except (psycopg.Error, BrokerError) as exc:
            if isinstance(exc, psycopg.OperationalError) or self._conn is not None and self._conn.broken:
                self.close()
            raise MailboxError(f"{self.where()}: {str(exc).strip()}") from exc

    def notify(self, conn: psycopg.Connection[Any], group: str) -> None:
        """Inside the hit's transaction: delivered to every listener when it commits, not before."""
        conn.execute("SELECT pg_notify(%s, %s)", [CHANNEL, group])


class Listener:
    """A connection of its own that waits for limit-hit announcements (the watcher's poll stays the
    fallback: a missed NOTIFY costs one poll interval, never a hit)."""

    def __init__(self, url: str) -> None:
        self._conn = psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT)
        self._conn.execute(f"LISTEN {CHANNEL}")

    def wait(self, timeout: float) -> list[str]:
        """Groups announced within `timeout` seconds (empty: none)."""
        return [n.payload for n in self._conn.notifies(timeout=timeout, stop_after=1)]

    def close(self) -> None:
        self._conn.close()

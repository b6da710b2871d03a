"""The team's SQLite mailbox: the shared schema verbatim, our own state table, writes and queries.

Many watchers write at once, so the opener sets WAL, a long busy timeout and foreign keys before
the schema batch runs, and every write is one short `BEGIN IMMEDIATE` transaction (a deferred one
that upgrades from read to write can fail at once with "database is locked", timeout or not).

A write that still fails (locked past the timeout, read-only file, full disk) is never lost: it goes
to a spool file under state/spool/ and is replayed, in order, on the next successful write. The
problem is logged once per episode, not once per line. A spooled row that can never be written
(malformed, or refused by the schema) is moved to a quarantine file beside the spool, logged once,
and the rest goes through.

The file at the path is checked before each write: a mailbox deleted or replaced under a running
team (`rm state/mailbox.db*`, `mv` over it) is reopened, and created with the schema. A damaged one
("file is not a database") is moved aside to `mailbox.db.corrupt-<time>` and a fresh one started,
with one log line saying so (see `recover_damaged`).
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import layout
from .safefs import UnsafeState, open_private, private_dir, read_nofollow
from .schema import OWN_SCHEMA, OWN_TABLES, SHARED_SCHEMA, SHARED_TABLES

log = logging.getLogger(__name__)

#: How long a writer waits for a lock before its event goes to the spool (TEAMCTL_BUSY_TIMEOUT_MS).
BUSY_TIMEOUT_MS = int(os.environ.get("TEAMCTL_BUSY_TIMEOUT_MS", "5000"))
#: While the mailbox is failing, a replay is tried at most this often, so the relay is not held up.
REPLAY_INTERVAL = 2.0
#: Events kept in memory when not even the spool file can be written (a full disk).
MEMORY_EVENTS = 10_000

#: What SQLite says of a file whose header or pages are not a database's.
_DAMAGED = ("file is not a database", "database disk image is malformed")
#: The one-line notices of damaged mailboxes moved aside by this process (the commands print them).
RECOVERED: list[str] = []


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
            if not _schema_present(conn):
                _retry_locked(lambda: conn.executescript(SHARED_SCHEMA + OWN_SCHEMA))
        except BaseException:
            conn.close()
            raise
    finally:
        os.umask(old)
    return conn


def _schema_present(conn: sqlite3.Connection) -> bool:
    """All tables there already: skip the schema batch, which needs the write lock."""
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    return {*SHARED_TABLES, *OWN_TABLES} <= names


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


_WRITES = {
    "rate_limit": "INSERT INTO rate_limits (agent_id, runtime, hit_at, resets_at, raw_match) VALUES (?,?,?,?,?)",
    "handled": "UPDATE rate_limits SET handled_at=? WHERE agent_id=? AND hit_at=? AND handled_at IS NULL",
    "hit_update": "UPDATE rate_limits SET resets_at=?, raw_match=? WHERE agent_id=? AND hit_at=?",
    "budget": "INSERT INTO budget (project_id, agent_id, runtime, usd, input_tok, output_tok, observed_at)"
              " VALUES (?,?,?,?,?,?,?)",
    "scope": "INSERT OR REPLACE INTO supervisor_limit_scope (agent_id, hit_at, limit_group, model, action, until)"
             " VALUES (?,?,?,?,?,?)",
    "message": "INSERT INTO messages (project_id, sender, recipient, text, sent_at) VALUES (?,?,?,?,?)",
    "state": "INSERT INTO supervisor_agent_state (agent_id, runtime, state, until, detail, watcher_pid, pid,"
             " started_at, restarts, last_exit, limit_group, model, updated_at)"
             " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(agent_id) DO UPDATE SET"
             " runtime=excluded.runtime, state=excluded.state, until=excluded.until, detail=excluded.detail,"
             " watcher_pid=excluded.watcher_pid, pid=excluded.pid, started_at=excluded.started_at,"
             " restarts=excluded.restarts, last_exit=excluded.last_exit, limit_group=excluded.limit_group,"
             " model=excluded.model, updated_at=excluded.updated_at",
}
#: The same statements by event kind, for writers that commit elsewhere (store.journaled).
WRITES = _WRITES


class Store:
    """Writes that never lose a row, and the queries the commands need."""

    def __init__(self, path: Path, spool_dir: Path | None = None, spool_name: str = "writes", *,
                 recover: bool = False) -> None:
        self.path = path
        self.recover = recover
        self.spool = (spool_dir or layout.spool_dir(path.parent)) / f"{spool_name}.jsonl"
        self._conn: sqlite3.Connection | None = None
        self._failing = False
        self._next_replay = 0.0
        self._memory: list[tuple[str, list[Any]]] = []
        self._dropped = 0
        self._ident: tuple[int, int] | None = None
        self.quarantine = self.spool.with_name(f"{spool_name}.quarantine.jsonl")

    # -- connection ----------------------------------------------------------------------------
    def conn(self) -> sqlite3.Connection:
        """The open connection, reopened when the file at the path is no longer the one it has open
        (deleted or replaced under a running team); one stat, cheap beside the write it guards."""
        if self._conn is not None and _ident(self.path) != self._ident:
            log.warning("mailbox %s was deleted or replaced; reopening it", self.path)
            self.close()  # SQLite neither checkpoints nor deletes the -wal of a moved database
        if self._conn is None:
            self._conn = connect(self.path, self.recover)
            self._ident = _ident(self.path)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writes --------------------------------------------------------------------------------
    def record_rate_limit(self, agent_id: str, runtime: str, hit_at: float, resets_at: float | None,
                          raw_match: str) -> bool:
        """Insert the hit at once; True when it is in the database (False: spooled for later)."""
        return self._write("rate_limit", [agent_id, runtime, hit_at, resets_at, raw_match])

    def record_hit(self, agent_id: str, runtime: str, hit_at: float, resets_at: float | None, raw_match: str,
                   limit_group: str, model: str | None, action: str, until: float, *, update: bool = False) -> bool:
        """A hit and its scope in one transaction: a group's poll never sees the one without the other.
        `update`: the row keyed (agent, hit_at) exists (a record-only line of this limit) and is replaced."""
        hit = ("hit_update", [resets_at, raw_match, agent_id, hit_at]) if update \
            else ("rate_limit", [agent_id, runtime, hit_at, resets_at, raw_match])
        return self._write_all([hit, ("scope", [agent_id, hit_at, limit_group, model, action, until])])

    def mark_handled(self, agent_id: str, hit_at: float, handled_at: float) -> bool:
        """Keyed by (agent, hit_at) rather than rowid, so it also works on a row still in the spool."""
        return self._write("handled", [handled_at, agent_id, hit_at])

    def record_budget(self, project_id: str, agent_id: str | None, runtime: str | None, usd: float,
                      input_tok: int, output_tok: int, observed_at: float) -> bool:
        return self._write("budget", [project_id, agent_id, runtime, usd, input_tok, output_tok, observed_at])

    def send_message(self, project_id: str, sender: str, recipient: str, text: str, sent_at: float) -> bool:
        return self._write("message", [project_id, sender, recipient, text, sent_at])

    def set_state(self, agent_id: str, runtime: str, state: str, *, until: float | None = None,
                  detail: str | None = None, watcher_pid: int | None = None, pid: int | None = None,
                  started_at: float | None = None, restarts: int = 0, last_exit: int | None = None,
                  limit_group: str | None = None, model: str | None = None, now: float | None = None) -> bool:
        return self._write("state", [agent_id, runtime, state, until, detail, watcher_pid, pid, started_at,
                                     restarts, last_exit, limit_group, model, now or time.time()])

    def _write(self, kind: str, params: list[Any]) -> bool:
        return self._write_all([(kind, params)])

    def _write_all(self, writes: list[tuple[str, list[Any]]]) -> bool:
        """Rows written together, in one transaction (or spooled in order, replayed in order)."""
        if self._failing or self._memory or self.spool.exists():
            for kind, params in writes:
                self._spool(kind, params)
            if self._failing and time.monotonic() < self._next_replay:
                return False
            return self.replay_spool()
        try:
            self._execute(writes)
            return True
        except sqlite3.Error as exc:
            self._enter_failing(exc)
            for kind, params in writes:
                self._spool(kind, params)
            return False

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One short write transaction, taking the write lock up front (see the module docstring)."""
        conn = self.conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _execute(self, writes: Iterable[tuple[str, list[Any]]]) -> None:
        with self._transaction() as conn:
            for kind, params in writes:
                conn.execute(_WRITES[kind], params)

    def _enter_failing(self, exc: Exception) -> None:
        self._next_replay = time.monotonic() + REPLAY_INTERVAL
        if not self._failing:
            log.warning("mailbox %s not writable (%s); keeping events in %s until it is", self.path, exc,
                        self.spool)
        self._failing = True
        self.close()

    def _spool(self, kind: str, params: list[Any]) -> None:
        """Append to the spool file; if even that fails (a full disk), keep the event in memory."""
        if not self._memory:
            try:
                private_dir(self.spool.parent)
                fd = open_private(self.spool)  # a planted symlink is replaced, never appended through
                with os.fdopen(fd, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps([kind, params]) + "\n")
                return
            except OSError as exc:
                log.warning("spool %s not writable either (%s); keeping up to %d events in memory", self.spool,
                            exc, MEMORY_EVENTS)
        if len(self._memory) < MEMORY_EVENTS:
            self._memory.append((kind, params))
        else:
            self._dropped += 1
            if self._dropped in (1, 1000, 100000):
                log.error("%d events dropped: mailbox, spool and memory buffer all full", self._dropped)

    def has_backlog(self) -> bool:
        """Events waiting for the mailbox (in the spool file or in memory)."""
        return bool(self._memory) or self.spool.exists()

    def replay_spool(self) -> bool:
        """Write spooled events in order; True when the spool is empty afterwards."""
        if not self.spool.exists() and not self._memory:
            self._failing = False
            return True
        try:
            raw = read_nofollow(self.spool) if self.spool.exists() else b""
        except FileNotFoundError:
            raw = b""
        except OSError:
            return False
        lines = raw.decode("utf-8", "replace").splitlines()
        writes: list[tuple[str, list[Any]]] = []
        bad: list[str] = []
        for n, line in enumerate(lines):
            entry = _parse_spooled(line)
            if entry is not None:
                writes.append(entry)
            elif n < len(lines) - 1 or raw.endswith(b"\n"):
                bad.append(line)  # a torn last line (a crash mid-append) is dropped; others kept aside
        writes += self._memory  # later than everything in the file: the file stopped taking events first
        try:
            with self._transaction() as conn:
                for kind, params in writes:
                    if not _write_one(conn, kind, params):
                        bad.append(json.dumps([kind, params]))
        except sqlite3.Error as exc:
            self._enter_failing(exc)
            return False
        if bad:
            self._quarantine(bad)
        self.spool.unlink(missing_ok=True)
        self._memory.clear()
        if self._failing:
            log.warning("mailbox %s writable again; wrote %d spooled events", self.path, len(writes) - len(bad))
        self._failing = False
        return True

    def _quarantine(self, lines: list[str]) -> None:
        """Rows that can never be written: kept aside (0600) for a human, logged once per replay."""
        try:
            fd = open_private(self.quarantine)
            with os.fdopen(fd, "a", encoding="utf-8") as fh:
                fh.write("".join(line + "\n" for line in lines))
        except OSError as exc:
            log.error("cannot keep %d unwritable spool rows in %s (%s); dropped", len(lines), self.quarantine, exc)
            return
        log.error("%d spooled row%s can never be written (malformed or refused by the schema): moved to %s;"
                  " the rest of the spool went through", len(lines), "s" if len(lines) != 1 else "",
                  self.quarantine)

    # -- queries -------------------------------------------------------------------------------
    def query(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        conn = self.conn()
        conn.row_factory = sqlite3.Row
        with closing(conn.execute(sql, list(params))) as cur:
            return cur.fetchall()

    def agent_states(self) -> dict[str, AgentRow]:
        rows = self.query("SELECT * FROM supervisor_agent_state")
        return {r["agent_id"]: AgentRow(**dict(r)) for r in rows}

    def agent_state(self, agent_id: str) -> AgentRow | None:
        rows = self.query("SELECT * FROM supervisor_agent_state WHERE agent_id=?", [agent_id])
        return AgentRow(**dict(rows[0])) if rows else None

    def rate_limits(self, agent_id: str | None = None, since: float | None = None) -> list[sqlite3.Row]:
        sql = "SELECT * FROM rate_limits WHERE 1=1"
        params: list[Any] = []
        if agent_id:
            sql += " AND agent_id=?"
            params.append(agent_id)
        if since is not None:
            sql += " AND hit_at>=?"
            params.append(since)
        return self.query(sql + " ORDER BY hit_at, id", params)

    def unhandled_hits(self, agent_id: str, since: float) -> list[float]:
        """The hit_at keys of the agent's unhandled rows since `since` (which row a new hit takes
        over is the reactor's rule: core/reactor/rows.py)."""
        return [row["hit_at"] for row in self.safe_query(
            "SELECT hit_at FROM rate_limits WHERE agent_id=? AND hit_at>=? AND handled_at IS NULL", (agent_id, since))]

    def safe_query(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        """A read for the watcher's loop: an unreadable mailbox gives no rows, never an exception."""
        try:
            return self.query(sql, params)
        except sqlite3.Error as exc:
            self._enter_failing(exc)
            return []

    def active_group_limits(self, group: str, model: str | None, now: float) -> list[sqlite3.Row]:
        """Unhandled stop/resume hits in `group` whose wait is still ahead and that cover `model`."""
        rows = self.safe_query(
            "SELECT l.agent_id, l.hit_at, l.model, l.until, r.resets_at FROM supervisor_limit_scope l"
            " JOIN rate_limits r ON r.agent_id=l.agent_id AND r.hit_at=l.hit_at"
            " WHERE l.limit_group=? AND l.action!='record' AND l.until>? AND r.handled_at IS NULL",
            [group, now])
        return [r for r in rows if model_covered(r["model"], model)]

    def group_watchers(self, group: str, exclude: str) -> list[int]:
        rows = self.safe_query(
            "SELECT watcher_pid FROM supervisor_agent_state WHERE limit_group=? AND agent_id!=?"
            " AND watcher_pid IS NOT NULL AND state NOT IN ('stopped', 'failed')", [group, exclude])
        return [r["watcher_pid"] for r in rows]

    def claim_alert(self, project_id: str, day: str, kind: str, now: float) -> bool:
        """True for the one caller that gets to send this day's `kind` alert for the project."""
        try:
            conn = self.conn()
            cur = conn.execute("INSERT OR IGNORE INTO supervisor_budget_alerts (project_id, day, kind, sent_at)"
                               " VALUES (?,?,?,?)", [project_id, day, kind, now])
            return cur.rowcount == 1
        except sqlite3.Error as exc:
            log.warning("cannot record budget alert: %s", exc)
            return False

    def live_watchers(self, project_id: str | None, exclude: str) -> list[int]:
        """Watcher pids of the project's agents (all agents when project_id is None)."""
        sql = ("SELECT watcher_pid FROM supervisor_agent_state WHERE agent_id!=? AND watcher_pid IS NOT NULL"
               " AND state NOT IN ('stopped', 'failed')")
        params: list[Any] = [exclude]
        if project_id is not None:
            sql += " AND substr(agent_id, 1, ?)=?"
            params += [len(project_id) + 1, project_id + ":"]
        return [r["watcher_pid"] for r in self.safe_query(sql, params)]

    def budget_rows(self, since: float | None = None) -> Iterator[sqlite3.Row]:
        sql = "SELECT * FROM budget" + (" WHERE observed_at>=?" if since is not None else "")
        return iter(self.query(sql + " ORDER BY observed_at, id", [since] if since is not None else []))

    def register(self, projects: Iterable[tuple[str, str]],
                 agents: Iterable[tuple[str, str, str, str, bool, str | None]]) -> None:
        """Register projects and agents as teamctl does (upsert, never delete)."""
        with self._transaction() as conn:
            conn.executemany("INSERT INTO projects (id, name) VALUES (?,?) ON CONFLICT(id) DO UPDATE SET"
                             " name=excluded.name", list(projects))
            conn.executemany(
                "INSERT INTO agents (id, project_id, role, runtime, is_manager, reports_to) VALUES (?,?,?,?,?,?)"
                " ON CONFLICT(id) DO UPDATE SET project_id=excluded.project_id, role=excluded.role,"
                " runtime=excluded.runtime, is_manager=excluded.is_manager, reports_to=excluded.reports_to",
                [(a[0], a[1], a[2], a[3], int(a[4]), a[5]) for a in agents])


def _ident(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _parse_spooled(line: str) -> tuple[str, list[Any]] | None:
    """One spool line as (kind, params), or None when it is not one we wrote."""
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    if (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], str) and entry[0] in _WRITES
            and isinstance(entry[1], list)):
        return entry[0], entry[1]
    return None


#: A row's own fault: it will fail the same way every time, so it is set aside, not retried.
_ROW_ERRORS = (sqlite3.IntegrityError, sqlite3.ProgrammingError, sqlite3.InterfaceError, ValueError,
               TypeError, OverflowError)


def _write_one(conn: sqlite3.Connection, kind: str, params: list[Any]) -> bool:
    """One spooled row inside the replay's transaction; False (rolled back) when the row is bad."""
    conn.execute("SAVEPOINT spooled")
    try:
        conn.execute(_WRITES[kind], params)
    except _ROW_ERRORS:
        conn.execute("ROLLBACK TO spooled")
        conn.execute("RELEASE spooled")
        return False
    conn.execute("RELEASE spooled")
    return True


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

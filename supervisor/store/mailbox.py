"""The team's mailbox: writes that never lose a row, and the queries the commands need, on SQLite
(the default, store/backend_sqlite.py) or PostgreSQL (store/backend_postgres.py). The path picks
the engine (store/broker.py); callers never know which one they talk to.

A write that fails (locked past the timeout, read-only file, full disk, database down) is never
lost: it goes to a spool file under state/spool/ and is replayed, in order, on the next successful
write. The problem is logged once per episode, not once per line. A spooled row that can never be
written (malformed, or refused by the schema) is moved to a quarantine file beside the spool, logged
once, and the rest goes through. On PostgreSQL every write takes the spool first and a thread of
its own commits it (store/remote.py): a watcher's relay never waits on the network.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from . import backend_sqlite, layout
from .backend_sqlite import RECOVERED, connect, is_damaged, recover_damaged  # noqa: F401  (the store's API)
from .broker import open_backend
from .queries import (
    CLAIM_ALERT,
    CLAIM_HIT,
    CLAIM_HIT_NO_RESET,
    GROUP_LIMITS,
    HIT_ALERT_WINDOW,
    REPLAY_INTERVAL,
    UPSERT_AGENT,
    UPSERT_PROJECT,
    WRITES,
    AgentRow,
    model_covered,
    parse_spooled,
)
from .safefs import open_private, private_dir, read_nofollow

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = backend_sqlite.BUSY_TIMEOUT_MS
#: Events kept in memory when not even the spool file can be written (a full disk).
MEMORY_EVENTS = 10_000
#: This host's name, recorded with each watcher's pids: pokes by pid go to this host's watchers only
#: (another host's are told by NOTIFY, store/remote.py). TEAMCTL_HOST names it instead: a `teamctl`
#: run over ssh is told the compose name of its host, and tests name two "hosts" on one machine.
#: The node name is what socket.gethostname() returns; read here without loading socket (0.4 MiB in
#: each watcher).
HOST = os.environ.get("TEAMCTL_HOST") or os.uname().nodename
#: A watcher on a remote mailbox beats this often (TEAMCTL_HEARTBEAT_SECONDS overrides it); another
#: host's `status` calls its agent lost after LOST_AFTER_BEATS silent intervals.
HEARTBEAT_SECONDS = 30.0
LOST_AFTER_BEATS = 3


def heartbeat_seconds() -> float:
    """HEARTBEAT_SECONDS, or TEAMCTL_HEARTBEAT_SECONDS when that is a positive number."""
    try:
        value = float(os.environ.get("TEAMCTL_HEARTBEAT_SECONDS", ""))
    except ValueError:
        return HEARTBEAT_SECONDS
    return value if 0 < value < 86400 else HEARTBEAT_SECONDS
#: How long a command's read waits for its own earlier writes to reach a remote mailbox.
FLUSH_SECONDS = 10.0

Write = tuple[str, list[Any]]
__all__ = ["AgentRow", "Store", "connect", "model_covered", "RECOVERED", "WRITES"]


class Store:
    """Writes that never lose a row, and the queries the commands need."""

    def __init__(self, path: Path, spool_dir: Path | None = None, spool_name: str = "writes", *,
                 recover: bool = False) -> None:
        self.path = path
        self.recover = recover
        self.spool = (spool_dir or layout.spool_dir(path.parent)) / f"{spool_name}.jsonl"
        self.quarantine = self.spool.with_name(f"{spool_name}.quarantine.jsonl")
        self.backend = open_backend(path, recover)
        self._failing = False
        self._next_replay = 0.0
        self._memory: list[tuple[str, list[Any], str | None]] = []
        self._dropped = 0
        self._remote: Any = None
        self._listener: Any = None
        if self.backend.remote:
            from .remote import RemoteWriter

            self._remote = RemoteWriter(self)

    # -- connection ----------------------------------------------------------------------------
    def conn(self) -> Any:
        """The backend's open connection (reopened when the file under it was replaced)."""
        return self.backend.conn()

    def listen_for_group(self, group: str, poke: Any) -> None:
        """Call `poke` when a hit of `group` is recorded by any host. On SQLite, a no-op: the
        watchers of one host poke each other by pid (and poll)."""
        if self._remote is not None and self._listener is None:
            from .remote import GroupListener

            self._listener = GroupListener(self, group, poke)

    def close(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        if self._remote is not None:
            self._remote.close()
        self.backend.close()

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
        """The agent's row, with the host its watcher runs on (its pids mean something there only)."""
        return self._write("state", [agent_id, runtime, state, until, detail, watcher_pid, pid, started_at,
                                     restarts, last_exit, limit_group, model, now or time.time(), HOST])

    def heartbeat(self, agent_id: str, now: float) -> None:
        """The watcher's sign of life for the other hosts; through the spool like every write."""
        self._write("heartbeat", [agent_id, HOST, now])

    def heartbeats(self) -> dict[str, float]:
        """Each agent's last heartbeat (none on a SQLite mailbox: one host reads pids instead)."""
        if not self.backend.remote:
            return {}
        return {r["agent_id"]: r["beat_at"] for r in self.query("SELECT agent_id, beat_at FROM supervisor_heartbeats")}

    def _write(self, kind: str, params: list[Any]) -> bool:
        return self._write_all([(kind, params)])

    def _write_all(self, writes: list[Write]) -> bool:
        """Rows written together, in one transaction (or spooled in order, replayed in order)."""
        if self._remote is not None:
            self._remote.submit(writes)
            return False
        if self._failing or self._memory or self.spool.exists():
            for kind, params in writes:
                self._spool(kind, params)
            if self._failing and time.monotonic() < self._next_replay:
                return False
            return self.replay_spool()
        try:
            self._execute(writes)
            return True
        except self.backend.errors as exc:
            self._enter_failing(exc)
            for kind, params in writes:
                self._spool(kind, params)
            return False

    def _execute(self, writes: Iterable[Write]) -> None:
        with self.backend.transaction() as conn:
            for kind, params in writes:
                self.backend.execute(conn, WRITES[kind], params)

    def _enter_failing(self, exc: BaseException) -> None:
        self._next_replay = time.monotonic() + REPLAY_INTERVAL
        if not self._failing:
            log.warning("mailbox %s not writable (%s); keeping events in %s until it is", self.backend.where(),
                        exc, self.spool)
        self._failing = True
        self.backend.close()

    def _spool(self, kind: str, params: list[Any], write_id: str | None = None) -> None:
        """Append to the spool file; if even that fails (a full disk), keep the event in memory."""
        entry = [kind, params] if write_id is None else [kind, params, write_id]
        if not self._memory:
            try:
                private_dir(self.spool.parent)
                fd = open_private(self.spool)  # a planted symlink is replaced, never appended through
                with os.fdopen(fd, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps(entry) + "\n")
                return
            except OSError as exc:
                log.warning("spool %s not writable either (%s); keeping up to %d events in memory", self.spool,
                            exc, MEMORY_EVENTS)
        if len(self._memory) < MEMORY_EVENTS:
            self._memory.append((kind, params, write_id))
        else:
            self._dropped += 1
            if self._dropped in (1, 1000, 100000):
                log.error("%d events dropped: mailbox, spool and memory buffer all full", self._dropped)

    def has_backlog(self) -> bool:
        """Events waiting for the mailbox (in the spool file or in memory)."""
        if self._remote is not None:
            return self._remote.backlog()
        return bool(self._memory) or self.spool.exists()

    def flush(self, timeout: float = FLUSH_SECONDS) -> bool:
        """Wait until this store's writes are in the database (at once on SQLite); True if they are."""
        if self._remote is not None:
            return self._remote.flush(timeout)
        return self.replay_spool()

    def replay_spool(self) -> bool:
        """Write spooled events in order; True when the spool is empty afterwards."""
        if self._remote is not None:
            self._remote.kick()  # its thread does it: never the caller's
            return not self._remote.backlog()
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
        writes: list[Write] = []
        bad: list[str] = []
        for n, line in enumerate(lines):
            entry = parse_spooled(line)
            if entry is not None:
                writes.append(entry[:2])
            elif n < len(lines) - 1 or raw.endswith(b"\n"):
                bad.append(line)  # a torn last line (a crash mid-append) is dropped; others kept aside
        writes += [(kind, params) for kind, params, _ in self._memory]  # memory is later than the file
        be = self.backend
        try:
            with be.transaction() as conn:
                for kind, params in writes:
                    try:
                        with be.savepoint(conn):
                            be.execute(conn, WRITES[kind], params)
                    except be.row_errors as exc:
                        log.error("mailbox refused a %s row (%s): kept aside", kind, exc)
                        bad.append(json.dumps([kind, params]))
        except be.errors as exc:
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
    def query(self, sql: str, params: Iterable[Any] = ()) -> list[Any]:
        """Rows by name or position; this store's own writes so far are in them."""
        if self._remote is not None:
            self._remote.flush(FLUSH_SECONDS)
        return self.backend.query(sql, list(params))

    def agent_states(self) -> dict[str, AgentRow]:
        rows = self.query("SELECT * FROM supervisor_agent_state")
        return {r["agent_id"]: AgentRow.from_row(r) for r in rows}

    def agent_state(self, agent_id: str) -> AgentRow | None:
        rows = self.query("SELECT * FROM supervisor_agent_state WHERE agent_id=?", [agent_id])
        return AgentRow.from_row(rows[0]) if rows else None

    def rate_limits(self, agent_id: str | None = None, since: float | None = None) -> list[Any]:
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

    def safe_query(self, sql: str, params: Iterable[Any] = ()) -> list[Any]:
        """A read for the watcher's loop: an unreadable mailbox gives no rows, never an exception, and
        a remote one known to be down is not asked (the loop never waits on the network)."""
        if self._remote is not None and self._remote.failing:
            return []
        try:
            return self.backend.query(sql, list(params))
        except self.backend.errors as exc:
            if self._remote is None:
                self._enter_failing(exc)
            else:
                self.backend.close()
                self._remote.mark_down(exc)
            return []

    def active_group_limits(self, group: str, model: str | None, now: float) -> list[Any]:
        """Unhandled stop/resume hits in `group` whose wait is still ahead and that cover `model`."""
        rows = self.safe_query(GROUP_LIMITS, [group, now])
        return [r for r in rows if model_covered(r["model"], model)]

    def group_watchers(self, group: str, exclude: str) -> list[int]:
        rows = self.safe_query(
            "SELECT watcher_pid FROM supervisor_agent_state WHERE limit_group=? AND agent_id!=?"
            " AND watcher_pid IS NOT NULL AND state NOT IN ('stopped', 'failed') AND (host IS NULL OR host=?)",
            [group, exclude, HOST])
        return [r["watcher_pid"] for r in rows]

    def claim_hit_alert(self, group: str, resets_at: float | None, now: float, agent_id: str = "") -> bool:
        """True for the one watcher, on whichever host, that sends the alert of this group hit. The
        group's claims with resets within HIT_ALERT_WINDOW of each other are one hit: each agent's CLI
        words (and rounds) the account's reset its own way, so no fixed bucket could hold them all."""
        if self._remote is not None and self._remote.failing:
            return True  # a mailbox known to be down: an alert twice beats none, and no wait on it
        w = HIT_ALERT_WINDOW
        if resets_at:
            sql, params = CLAIM_HIT, [group, resets_at, now, agent_id, group, resets_at - w, resets_at + w]
        else:
            sql, params = CLAIM_HIT_NO_RESET, [group, now, agent_id, group, now - w, now + w]
        try:
            return self.backend.claim(sql, params) == 1
        except self.backend.errors as exc:
            log.warning("cannot claim the limit-hit alert (%s): sending it", exc)
            return True

    def claim_alert(self, project_id: str, day: str, kind: str, now: float) -> bool:
        """True for the one caller that gets to send this day's `kind` alert for the project."""
        try:
            return self.backend.autocommit(CLAIM_ALERT, [project_id, day, kind, now]) == 1
        except self.backend.errors as exc:
            log.warning("cannot record budget alert: %s", exc)
            return False

    def live_watchers(self, project_id: str | None, exclude: str) -> list[int]:
        """Watcher pids of the project's agents (all agents when project_id is None)."""
        sql = ("SELECT watcher_pid FROM supervisor_agent_state WHERE agent_id!=? AND watcher_pid IS NOT NULL"
               " AND state NOT IN ('stopped', 'failed') AND (host IS NULL OR host=?)")
        params: list[Any] = [exclude, HOST]
        if project_id is not None:
            sql += " AND substr(agent_id, 1, ?)=?"
            params += [len(project_id) + 1, project_id + ":"]
        return [r["watcher_pid"] for r in self.safe_query(sql, params)]

    def budget_rows(self, since: float | None = None) -> Iterator[Any]:
        sql = "SELECT * FROM budget" + (" WHERE observed_at>=?" if since is not None else "")
        return iter(self.query(sql + " ORDER BY observed_at, id", [since] if since is not None else []))

    def register(self, projects: Iterable[tuple[str, str]],
                 agents: Iterable[tuple[str, str, str, str, bool, str | None]]) -> None:
        """Register projects and agents as teamctl does (upsert, never delete)."""
        with self.backend.transaction() as conn:
            self.backend.executemany(conn, UPSERT_PROJECT, list(projects))
            self.backend.executemany(conn, UPSERT_AGENT, [(a[0], a[1], a[2], a[3], int(a[4]), a[5]) for a in agents])

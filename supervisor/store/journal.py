"""An append-only local journal of a watcher's events: on disk within a second, in the mailbox later.

The relay must never wait on the database (a lock held for a minute held output back by up to ten
seconds), and a SIGKILL must lose nothing printed more than a second before it (the spool only
took events the mailbox had refused, so a kill during a lock lost every event still waiting on
it). So `append` only queues the event in memory and returns. Two threads do the rest:

- the flusher appends queued events to the journal file and fsyncs, in batches, at most
  `flush_every` seconds after they were appended;
- the committer writes what is on disk to the mailbox (`commit`), retrying while it cannot, then
  rewrites the journal without what is committed.

Each event carries a sequence number. `commit_to_store` writes a batch and the number of its last
event in one transaction (table supervisor_journal), and skips what that number says is in: a crash
between a commit and the journal's rewrite replays the batch, and the batch lands exactly once.

File format: JSON lines; the first is {"base": N} (every event up to N is committed), then
{"seq": n, "kind": k, "params": [...]}. A torn last line (a kill mid-write) is ignored: it was
never fsync'd, so it was never promised.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .safefs import open_private, private_dir, read_nofollow

log = logging.getLogger(__name__)

#: The longest an appended event waits in memory before it is fsync'd.
FLUSH_EVERY = 0.5
#: How often the committer tries again while the mailbox refuses (locked, read-only, damaged).
RETRY_EVERY = 1.0

MARK_SCHEMA = "CREATE TABLE IF NOT EXISTS supervisor_journal (name TEXT PRIMARY KEY, seq INTEGER NOT NULL)"


@dataclass(frozen=True)
class Entry:
    seq: int
    kind: str
    params: list[Any]


Commit = Callable[[Sequence[Entry]], None]


class Journal:
    """`append` never blocks on I/O; `close` flushes and makes a last attempt to commit."""

    def __init__(self, path: Path, commit: Commit, *, flush_every: float = FLUSH_EVERY,
                 retry_every: float = RETRY_EVERY) -> None:
        self.path = path
        self._commit = commit
        self._flush_every = flush_every
        self._retry_every = retry_every
        self._lock = threading.Lock()  # the queue, the on-disk list and the file
        self._wake = threading.Condition(self._lock)
        self._queued: list[Entry] = []
        self._on_disk: list[Entry] = []  # fsync'd, not yet known to be committed
        self._closing = False
        self._soon = False  # an append_all(soon=True) waits: flush without the batching delay
        self._closed = False
        self._unwritable = False  # the last flush failed (a full disk): logged once per episode
        self._after: list[tuple[int, Callable[[], None]]] = []  # (last seq it waits for, callback)
        self._committed = threading.Condition(self._lock)
        private_dir(path.parent)
        self._base, self._on_disk = _read(path)
        self._next = max([self._base, *(e.seq for e in self._on_disk)]) + 1
        self._rewrite()  # drops a torn last line before anything is appended after it
        self._fd = open_private(path)
        self._threads = [threading.Thread(target=self._flusher, name="journal-flush", daemon=True),
                         threading.Thread(target=self._committer, name="journal-commit", daemon=True)]
        for t in self._threads:
            t.start()

    # -- the relay's side ----------------------------------------------------------------------
    def append(self, kind: str, params: list[Any]) -> int:
        """Queue one event; its sequence number. On disk within `flush_every` seconds."""
        with self._lock:
            return self._queue_locked([(kind, params)], soon=False)

    def append_all(self, writes: Sequence[tuple[str, list[Any]]], *, soon: bool = False) -> None:
        """Queue events that belong together (a hit and its scope): they are flushed in one batch,
        so they are committed in one transaction. `soon`: flush now, not at the next tick (rare
        events others read at once, such as an agent's state)."""
        with self._lock:
            self._queue_locked(writes, soon)

    def _queue_locked(self, writes: Sequence[tuple[str, list[Any]]], soon: bool) -> int:
        """Queue `writes`; the last one's sequence number. The flusher sleeps while nothing is queued:
        the first event (or one wanted soon) wakes it."""
        was_empty = not self._queued
        for kind, params in writes:
            self._queued.append(Entry(self._next, kind, list(params)))
            self._next += 1
        self._soon = self._soon or soon
        if soon or (was_empty and self._queued):
            self._wake.notify_all()
        return self._next - 1

    def after_commit(self, fn: Callable[[], None]) -> None:
        """Call `fn` on the committer's thread once every event appended so far is in the mailbox
        (tell the others to read it only when it is there to read); never if it never is."""
        with self._lock:
            self._after.append((self._next - 1, fn))
            self._wake.notify_all()

    def unsent(self) -> list[Entry]:
        """Events not yet known to be in the mailbox, oldest first (reads add them: read-your-writes)."""
        with self._lock:
            return self._on_disk + self._queued

    def sync(self) -> bool:
        """Flush now, on the caller's thread (events moved in from an older spool, before it goes);
        True when every event is on disk."""
        with self._lock:
            self._flush_locked()
            return not self._queued

    def pending(self) -> int:
        """Events not yet known to be in the mailbox."""
        with self._lock:
            return len(self._queued) + len(self._on_disk)

    def wait_committed(self, timeout: float) -> bool:
        """Until every event appended so far is in the mailbox (True), or `timeout` (False)."""
        with self._committed:
            return self._committed.wait_for(lambda: not self._queued and not self._on_disk, timeout)

    def close(self, timeout: float = 2.0) -> bool:
        """Flush, give the committer `timeout` for a last commit; False while it is still at it (its
        connection must then stay open: closing it under a commit crashes the process)."""
        with self._lock:
            self._closing = True
            self._wake.notify_all()
        flusher, committer = self._threads
        flusher.join(timeout)
        with self._lock:
            self._flush_locked()  # before the committer's join: its last batch is all there is
        committer.join(timeout)
        with self._lock:
            self._flush_locked()
            os.close(self._fd)
            self._closed = True  # a commit still under way rewrites the file, and opens nothing
        return not committer.is_alive()

    # -- the flusher -------------------------------------------------------------------------
    def _flusher(self) -> None:
        """Asleep while nothing is queued (an idle watcher's threads cost no wake-ups); once an event
        is, it waits up to `flush_every` for more to batch with it, unless one is wanted soon."""
        with self._lock:
            while not self._closing:
                if not self._queued:
                    self._wake.wait()
                    continue
                if not self._soon:
                    self._wake.wait(self._flush_every)
                self._soon = False
                self._flush_locked()

    def _flush_locked(self) -> None:
        if not self._queued:
            return
        batch, self._queued = self._queued, []
        data = "".join(json.dumps({"seq": e.seq, "kind": e.kind, "params": e.params}) + "\n" for e in batch)
        try:
            os.write(self._fd, data.encode("utf-8"))
            os.fsync(self._fd)
        except OSError as exc:  # a full disk: kept in memory, tried again at the next flush
            if not self._unwritable:
                log.warning("journal %s not writable (%s); events kept in memory", self.path, exc)
            self._unwritable = True
            self._queued = batch + self._queued
            return
        if self._unwritable:
            log.warning("journal %s writable again; %d events kept in memory are on disk", self.path, len(batch))
            self._unwritable = False
        self._on_disk.extend(batch)
        self._wake.notify_all()

    # -- the committer -----------------------------------------------------------------------
    def _committer(self) -> None:
        failing = False
        while True:
            self._run_after()
            with self._lock:
                if not self._on_disk:
                    if self._closing and not self._queued:  # the flusher's last batch is committed too
                        return
                    # a flush, an after_commit and close all notify: nothing to do until then
                    self._wake.wait(None if not (self._after or self._closing) else self._retry_every)
                    continue
                batch = list(self._on_disk)
            try:
                self._commit(batch)  # off the lock: a mailbox that waits never holds up a flush
            except Exception as exc:  # locked, read-only, damaged: the events stay in the journal
                if not failing:
                    log.warning("mailbox refuses the journal's events (%s); they wait in %s", exc, self.path)
                failing = True
                with self._lock:
                    if self._closing:
                        return
                    self._wake.wait(self._retry_every)
                continue
            if failing:
                log.warning("mailbox writable again; %d events of %s went in", len(batch), self.path)
            failing = False
            with self._lock:
                done = batch[-1].seq
                self._on_disk = [e for e in self._on_disk if e.seq > done]
                self._base = max(self._base, done)
                self._compact_locked()
                self._committed.notify_all()

    def _run_after(self) -> None:
        with self._lock:
            ready = [fn for seq, fn in self._after if seq <= self._base]
            self._after = [(seq, fn) for seq, fn in self._after if seq > self._base]
        for fn in ready:
            try:
                fn()
            except Exception:  # a poke that fails must not stop the commits
                log.exception("after-commit callback failed")

    def _compact_locked(self) -> None:
        """The file again with only what is not committed (one rename: never half of it)."""
        try:
            self._rewrite()
            if not self._closed:
                os.close(self._fd)
                self._fd = open_private(self.path)
        except OSError as exc:  # the old file stays: its committed events are skipped at replay
            log.warning("journal %s not rewritten (%s)", self.path, exc)

    def _rewrite(self) -> None:
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        fd = open_private(tmp, os.O_WRONLY | os.O_TRUNC)
        try:
            lines = [json.dumps({"base": self._base})]
            lines += [json.dumps({"seq": e.seq, "kind": e.kind, "params": e.params}) for e in self._on_disk]
            os.write(fd, ("\n".join(lines) + "\n").encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)


def _read(path: Path) -> tuple[int, list[Entry]]:
    """(base, entries after it) of a journal file; nothing when there is none."""
    try:
        raw = read_nofollow(path)
    except FileNotFoundError:
        return 0, []
    base = 0
    entries: list[Entry] = []
    for line in raw.decode("utf-8", "replace").splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue  # a torn last line: never fsync'd, never promised
        if not isinstance(item, dict):
            continue
        if "base" in item:
            base = max(base, int(item["base"]))
        elif isinstance(item.get("seq"), int) and isinstance(item.get("kind"), str):
            entries.append(Entry(item["seq"], item["kind"], list(item.get("params") or [])))
    return base, [e for e in entries if e.seq > base]


def commit_to_store(conn_of: Callable[[], Any], name: str, writes: dict[str, str],
                    on_bad: Callable[[Entry, Exception], None] | None = None) -> Commit:
    """A `commit` for Journal: each batch and its last number in one transaction of the mailbox
    (`conn_of()` gives the connection, `writes` maps an event kind to its INSERT); what the number
    says is in already is skipped, so a batch replayed after a crash lands once.

    An event that can never be written (an unknown kind, a row the schema refuses) goes to `on_bad`
    (to be kept aside and logged) and the rest of the batch goes in: one bad line must not hold back
    every event after it. A locked or unusable mailbox raises: the batch waits in the journal."""
    import sqlite3

    def commit(batch: Sequence[Entry]) -> None:
        conn = conn_of()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(MARK_SCHEMA)
            row = conn.execute("SELECT seq FROM supervisor_journal WHERE name=?", (name,)).fetchone()
            done = row[0] if row else 0
            for e in batch:
                if e.seq <= done:
                    continue
                try:
                    conn.execute(writes[e.kind], e.params)  # a failed statement undoes only itself
                except (KeyError, sqlite3.IntegrityError, sqlite3.ProgrammingError, sqlite3.InterfaceError) as exc:
                    if on_bad is None:
                        raise
                    on_bad(e, exc)
            conn.execute("INSERT INTO supervisor_journal (name, seq) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET "
                         "seq=max(seq, excluded.seq)", (name, batch[-1].seq))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    return commit

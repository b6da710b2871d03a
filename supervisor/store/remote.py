"""Writes to a mailbox across the network, made on a thread of their own: a watcher's relay never
waits on the database, and a database that is down loses nothing.

Each write is appended to the local spool first (a JSON line with a write id), then a writer thread
moves the spool aside and commits it in one transaction. The write ids go into the database in the
same transaction (supervisor_applied_writes), so a replay after a timeout, when the commit may have
landed without its answer, skips what is already there: every row exactly once.

Two processes may share a spool name (the commands all use "teamctl"): appends and the move aside
take a file lock, and one process at a time commits the moved-aside file.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .queries import REPLAY_INTERVAL, WRITES, parse_spooled
from .safefs import open_private, private_dir, read_nofollow

log = logging.getLogger(__name__)

#: Applied write ids older than this are forgotten (a spool is replayed long before).
KEEP_WRITE_IDS = 7 * 86400.0
_APPLY_ONCE = "INSERT INTO supervisor_applied_writes (write_id, applied_at) VALUES (?,?) ON CONFLICT DO NOTHING"


class RemoteWriter:
    def __init__(self, store: Any) -> None:
        from .broker import open_backend

        self.store = store
        self.backend = open_backend(store.path)  # a connection of its own, never the callers'
        self.moved = store.spool.with_name(store.spool.name + ".replaying")
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._stop = False
        self._pruned = False
        self._rounds = 0  # replays tried so far (flush: has one been tried since?)
        self.failing = False
        self._thread = threading.Thread(target=self._run, name="mailbox-writer", daemon=True)
        self._thread.start()
        self.kick()  # a spool left by an earlier run goes in now

    # -- the callers' side: never waits on the network ---------------------------------------------
    def submit(self, writes: list[tuple[str, list[Any]]]) -> None:
        write_id = uuid.uuid4().hex
        with self._lock:
            try:
                with self._file_lock(self.store.spool.with_name(self.store.spool.name + ".lock")):
                    for kind, params in writes:
                        self.store._spool(kind, params, write_id)
            except OSError:  # not even the lock file (a full disk): the store keeps them in memory
                self.store._memory += [(kind, params, write_id) for kind, params in writes]
        self.kick()

    def kick(self) -> None:
        self._idle.clear()
        self._wake.set()

    def backlog(self) -> bool:
        return self.store.spool.exists() or self.moved.exists() or bool(self.store._memory)

    def flush(self, timeout: float) -> bool:
        """Wait (a command, a test) until what was written so far is in the database; False at
        once when a try since the call found the database down (a command does not hang on it)."""
        start = self._rounds
        self.kick()
        deadline = time.monotonic() + timeout
        while not self._idle.wait(0.02):
            if self.failing and self._rounds > start or time.monotonic() > deadline:
                return False
        return True

    def close(self, timeout: float = 5.0) -> None:
        self._stop = True
        self.kick()
        self._thread.join(timeout)
        self.backend.close()

    # -- the writer thread ------------------------------------------------------------------------
    def _run(self) -> None:

        done = True
        while True:
            self._wake.wait(max(REPLAY_INTERVAL, 0.05) if self.failing or not done else None)
            self._wake.clear()
            try:
                done = self.replay()
            except Exception:  # never let the thread die: the spool keeps everything
                log.exception("mailbox writer: unexpected error; the spool keeps the events")
                done = False
            self._rounds += 1
            if done and not self.backlog():
                self._idle.set()
            if self._stop and (done or self.failing):
                return

    def replay(self) -> bool:
        """Commit the spool (and the memory buffer) once; True when nothing is left. Only the holder
        of the moved-aside file's lock adds to it, reads it or removes it."""
        with self._file_lock(self.moved.with_name(self.moved.name + ".lock"), wait=False) as mine:
            if not mine:
                return False  # another process commits this spool now: try again shortly
            self._move_aside()
            with self._lock:
                memory, self.store._memory = list(self.store._memory), []
            try:
                raw = read_nofollow(self.moved) if self.moved.exists() else b""
            except OSError:
                raw = b""
            entries, bad = _parse(raw)
            entries += memory
            if not entries and not bad:
                self.moved.unlink(missing_ok=True)
                return self._probe()
            try:
                bad += self._commit(entries)
            except self.backend.errors as exc:
                self._failed(exc)
                with self._lock:  # the file stays; memory goes back before anything newer
                    self.store._memory[:0] = memory
                return False
            if bad:
                self.store._quarantine(bad)
            self.moved.unlink(missing_ok=True)
        self._ok()
        return not self.backlog()

    def _commit(self, entries: list[tuple[str, list[Any], str | None]]) -> list[str]:
        bad: list[str] = []
        seen: dict[str, bool] = {}
        be = self.backend
        with be.transaction() as conn:
            for kind, params, write_id in entries:
                if write_id is not None and write_id not in seen:
                    seen[write_id] = be.execute(conn, _APPLY_ONCE, [write_id, time.time()]) == 1
                if write_id is not None and not seen[write_id]:
                    continue  # committed before, its answer lost: not again
                try:
                    with be.savepoint(conn):
                        be.execute(conn, WRITES[kind], params)
                        if kind == "scope" and params[4] != "record":
                            be.notify(conn, str(params[2]))
                except be.row_errors as exc:
                    log.error("mailbox refused a %s row (%s): kept aside", kind, exc)
                    bad.append(json.dumps([kind, params, write_id]))
            if not self._pruned:
                be.execute(conn, "DELETE FROM supervisor_applied_writes WHERE applied_at<?",
                           [time.time() - KEEP_WRITE_IDS])
                self._pruned = True
        return bad

    def _probe(self) -> bool:
        """Nothing to write: while marked down (a read failed), ask the database whether it is back."""
        if self.failing:
            try:
                self.backend.query("SELECT 1")
            except self.backend.errors as exc:
                self._failed(exc)
                return False
        self._ok()
        return True

    def mark_down(self, exc: BaseException) -> None:
        """A read on the callers' side failed: reads wait for this thread to see the database back
        (its connection is its own: only this thread closes it)."""
        if not self.failing:
            log.warning("mailbox %s not readable (%s); asking again shortly", self.backend.where(),
                        str(exc).strip())
        self.failing = True
        self.store._failing = True
        self.kick()

    def _move_aside(self) -> None:
        """The spool's lines, appended to the moved-aside file, under the appenders' lock."""
        spool = self.store.spool
        if not spool.exists():
            return
        with self._lock, self._file_lock(spool.with_name(spool.name + ".lock")):
            try:
                raw = read_nofollow(spool)
            except OSError:
                return
            fd = open_private(self.moved)
            with os.fdopen(fd, "ab") as fh:
                fh.write(raw)
            spool.unlink(missing_ok=True)

    def _ok(self) -> None:
        if self.failing:
            log.warning("mailbox %s reachable again; wrote the spooled events", self.backend.where())
        self.failing = False
        self.store._failing = False

    def _failed(self, exc: BaseException) -> None:
        if not self.failing:
            log.warning("mailbox %s not writable (%s); keeping events in %s until it is", self.backend.where(),
                        str(exc).strip(), self.store.spool)
        self.failing = True
        self.store._failing = True
        self.backend.close()

    @contextmanager
    def _file_lock(self, path: Any, wait: bool = True) -> Iterator[bool]:
        private_dir(path.parent)
        fd = open_private(path, os.O_RDWR)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(fd)


def _parse(raw: bytes) -> tuple[list[tuple[str, list[Any], str | None]], list[str]]:
    lines = raw.decode("utf-8", "replace").splitlines()
    entries, bad = [], []
    for n, line in enumerate(lines):
        entry = parse_spooled(line)
        if entry is not None:
            entries.append(entry)
        elif n < len(lines) - 1 or raw.endswith(b"\n"):
            bad.append(line)  # a torn last line (a crash mid-append) is dropped
    return entries, bad


class GroupListener:
    """Hears limit hits of one group from every host (LISTEN), and calls `poke` for each: the
    watcher then checks the group at once instead of at its next poll. A lost connection is
    opened again; the poll stays the fallback meanwhile."""

    def __init__(self, store: Any, group: str, poke: Any) -> None:
        self.store, self.group, self.poke = store, group, poke
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mailbox-listener", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        from .backend_postgres import Listener

        while not self._stop.is_set():
            try:
                listener = Listener(self.store.backend.url)
            except Exception:  # down, or no URL here: try again later
                self._stop.wait(max(REPLAY_INTERVAL, 0.05))
                continue
            try:
                while not self._stop.is_set():
                    if self.group in listener.wait(0.5):
                        self.poke()
            except Exception:
                self._stop.wait(max(REPLAY_INTERVAL, 0.05))
            finally:
                try:
                    listener.close()
                except Exception:
                    pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2.0)

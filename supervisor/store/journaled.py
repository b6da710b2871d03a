"""HOOK-UP of the event journal (issue 23 items 2 and 4) for the watcher: a Store whose writes go
to store.journal and return at once, while reads still go to the mailbox.

The watcher's writes all pass through `Store._write_all`; this subclass sends them to a Journal
(state/spool/<agent>.journal, 0600) instead, committed by a Store of its own on the journal's thread
(an SQLite connection is never shared by two threads' transactions). An event that can never be
written goes to the Store's quarantine file. Wiring, for the watcher:

    store = JournaledStore(mailbox, state_dir / "spool", log_name)   # instead of Store(...)
    store.replay_spool()        # once, at start: events an older version spooled
    ...
    store.finish()              # at exit, after the last write (flushes; one last commit try)

A write returning True now means "durable" (fsync'd within FLUSH_EVERY), not "in the mailbox".
The reads the watcher makes of its own writes (its unhandled hits, its group's limits, today's
spend) add the events still in the journal, in one snapshot with the journal's mark, so they are
neither missed nor counted twice. On PostgreSQL the Store already spools every write and commits
on a thread of its own (store/remote.py): there this class is the plain Store.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from .journal import Entry, Journal, commit_to_store
from .mailbox import WRITES, Store, log
from .queries import model_covered, parse_spooled
from .safefs import open_private, read_nofollow

#: Every scope of a group with its hit (GROUP_LIMITS before its filters: the journal's events go over it).
GROUP_SCOPES = ("SELECT l.agent_id, l.hit_at, l.limit_group, l.model, l.action, l.until, r.resets_at, r.handled_at"
                " FROM supervisor_limit_scope l JOIN rate_limits r ON r.agent_id=l.agent_id AND r.hit_at=l.hit_at"
                " WHERE l.limit_group=?")
SPEND_TODAY = "SELECT project_id, SUM(usd) AS usd FROM budget WHERE observed_at>=? GROUP BY project_id"


#: The writes committed at once rather than in the next batch.
SOON = frozenset({"state", "rate_limit", "scope", "hit_update"})


class JournaledStore(Store):
    def __init__(self, path: Path, spool_dir: Path | None = None, spool_name: str = "writes", **kw: Any) -> None:
        super().__init__(path, spool_dir, spool_name, **kw)
        self.name = spool_name
        self.journal: Journal | None = None
        if self._remote is not None:
            return  # remote.py spools and commits off the caller's thread already
        self._committer = Store(path, spool_dir, f"{spool_name}.committer")
        self.journal = Journal(self.spool.with_name(f"{spool_name}.journal"),
                               commit_to_store(self._committer.conn, spool_name, WRITES, on_bad=self._set_aside))

    def _write_all(self, writes: list[tuple[str, list[Any]]]) -> bool:
        if self.journal is None:
            return super()._write_all(writes)
        # a state change or a limit hit is read at once (by `status`, `up` and `down`, by the group's
        # other watchers) and is rare: on disk and in the mailbox now, not at the flusher's next tick
        self.journal.append_all(writes, soon=any(kind in SOON for kind, _ in writes))
        return True

    def _set_aside(self, entry: Entry, exc: Exception) -> None:
        log.error("event %s #%d can never be written (%s): kept in %s", entry.kind, entry.seq, exc,
                  self.quarantine)
        try:
            fd = open_private(self.quarantine)
            with os.fdopen(fd, "a", encoding="utf-8") as fh:
                fh.write(json.dumps([entry.kind, entry.params]) + "\n")
        except OSError:
            pass

    # -- the old spool, backlog, flush ----------------------------------------------------------
    def replay_spool(self) -> bool:
        """Events an older version left in the spool file move into the journal (fsync'd before the
        file goes); the mailbox is never touched here, so the caller never waits on it."""
        if self.journal is None:
            return super().replay_spool()
        try:
            raw = read_nofollow(self.spool)
        except FileNotFoundError:
            return self.journal.pending() == 0
        except OSError:
            return False
        lines = raw.decode("utf-8", "replace").splitlines()
        writes: list[tuple[str, list[Any]]] = []
        bad: list[str] = []
        for n, line in enumerate(lines):
            entry = parse_spooled(line)
            if entry is not None and entry[0] in WRITES and WRITES[entry[0]].count("?") == len(entry[1]):
                writes.append((entry[0], entry[1]))
            elif n < len(lines) - 1 or raw.endswith(b"\n"):
                bad.append(line)  # kept aside, as the old replay did; a torn last line was never promised
        self.journal.append_all(writes)
        if not self.journal.sync():
            return False  # the spool stays; its events are in memory only: appended again next time
        if bad:
            self._quarantine(bad)
        self.spool.unlink(missing_ok=True)
        log.info("moved %d spooled events into the journal %s", len(writes), self.journal.path)
        return False

    def has_backlog(self) -> bool:
        if self.journal is None:
            return super().has_backlog()
        return self.spool.exists() or self.journal.pending() > 0

    def flush(self, timeout: float = 10.0) -> bool:
        if self.journal is None:
            return super().flush(timeout)
        return self.journal.wait_committed(timeout)

    def when_committed(self, fn: Callable[[Store], None]) -> None:
        """`fn(store)` once this store's writes so far are in the mailbox (on the committer's thread,
        with its connection): a poke that makes others read them waits for them, the caller not."""
        if self.journal is None:
            fn(self)
            return
        committer = self._committer
        self.journal.after_commit(lambda: fn(committer))

    # -- reads of our own writes ----------------------------------------------------------------
    def _snapshot(self, sql: str, params: Iterable[Any]) -> tuple[list[Any], list[Entry]]:
        """Rows of `sql` and the journal's events that the same snapshot of the mailbox lacks.

        The journal's list is taken first: an event committed since is in the snapshot, and the
        mark read in the same read transaction says so, so it is counted once."""
        assert self.journal is not None
        unsent = self.journal.unsent()
        rows: list[Any] = []
        mark = 0
        try:
            conn = self.conn()
            conn.execute("BEGIN")  # deferred: one read snapshot for both statements
            try:
                rows = self.backend.query(sql, list(params))
                try:
                    got = conn.execute("SELECT seq FROM supervisor_journal WHERE name=?", (self.name,)).fetchone()
                    mark = got[0] if got else 0
                except sqlite3.OperationalError:
                    mark = 0  # no table in this snapshot: nothing of any journal is committed in it
            finally:
                if conn.in_transaction:
                    conn.execute("COMMIT")
        except self.backend.errors as exc:
            self._enter_failing(exc)  # unreadable: the journal's events alone, never an exception
            rows = []
        return rows, [e for e in unsent if e.seq > mark]

    def unhandled_hits(self, agent_id: str, since: float) -> list[float]:
        if self.journal is None:
            return super().unhandled_hits(agent_id, since)
        rows, unsent = self._snapshot("SELECT hit_at FROM rate_limits WHERE agent_id=? AND hit_at>=?"
                                      " AND handled_at IS NULL", (agent_id, since))
        hits = list(dict.fromkeys(r["hit_at"] for r in rows))
        for e in unsent:
            if e.kind == "rate_limit" and e.params[0] == agent_id and e.params[2] >= since and e.params[2] not in hits:
                hits.append(e.params[2])
            elif e.kind == "handled" and e.params[1] == agent_id and e.params[2] in hits:
                hits.remove(e.params[2])
        return hits

    def active_group_limits(self, group: str, model: str | None, now: float) -> list[Any]:
        if self.journal is None:
            return super().active_group_limits(group, model, now)
        rows, unsent = self._snapshot(GROUP_SCOPES, [group])
        # this store's events replayed over the mailbox's rows, as the same upserts would
        limits = {(r["agent_id"], r["hit_at"]): dict(r) for r in rows}
        resets: dict[tuple[str, float], Any] = {}
        for e in unsent:
            p = e.params
            if e.kind == "rate_limit":
                resets[(p[0], p[2])] = p[3]
            elif e.kind == "hit_update":
                resets[(p[2], p[3])] = p[0]
                if (p[2], p[3]) in limits:
                    limits[(p[2], p[3])]["resets_at"] = p[0]
            elif e.kind == "scope":
                old = limits.get((p[0], p[1]), {})
                limits[(p[0], p[1])] = {"agent_id": p[0], "hit_at": p[1], "limit_group": p[2], "model": p[3],
                                        "action": p[4], "until": p[5], "handled_at": old.get("handled_at"),
                                        "resets_at": resets.get((p[0], p[1]), old.get("resets_at"))}
            elif e.kind == "handled" and (p[1], p[2]) in limits and limits[(p[1], p[2])]["handled_at"] is None:
                limits[(p[1], p[2])]["handled_at"] = p[0]
        return [r for r in limits.values() if r["limit_group"] == group and r["action"] != "record"
                and r["until"] > now and r["handled_at"] is None and model_covered(r["model"], model)]

    def spend_by_project(self, since: float) -> dict[str, float]:
        """Spend since `since` per project, this watcher's cost lines still in the journal included."""
        if self.journal is None:
            rows, unsent = self.query(SPEND_TODAY, [since]), []
        else:
            rows, unsent = self._snapshot(SPEND_TODAY, [since])
        per = {r["project_id"]: r["usd"] or 0.0 for r in rows}
        for e in unsent:
            if e.kind == "budget" and e.params[6] >= since:
                per[e.params[0]] = per.get(e.params[0], 0.0) + (e.params[3] or 0.0)
        return per

    def finish(self, timeout: float = 2.0) -> None:
        """Flush the journal and close both connections (what is not committed stays on disk)."""
        if self.journal is not None and self.journal.close(timeout):
            self._committer.close()  # left open under a commit still running: the process ends it
        self.close()

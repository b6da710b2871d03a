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

A write returning True now means "durable" (fsync'd within FLUSH_EVERY), not "in the mailbox";
reads right after a write may not see it yet (up to a flush plus a commit).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .journal import Entry, Journal, commit_to_store
from .mailbox import WRITES, Store, log
from .safefs import open_private


class JournaledStore(Store):
    def __init__(self, path: Path, spool_dir: Path | None = None, spool_name: str = "writes", **kw: Any) -> None:
        super().__init__(path, spool_dir, spool_name, **kw)
        self._committer = Store(path, spool_dir, f"{spool_name}.committer")
        self.journal = Journal(self.spool.with_name(f"{spool_name}.journal"),
                               commit_to_store(self._committer.conn, spool_name, WRITES, on_bad=self._set_aside))

    def _write_all(self, writes: list[tuple[str, list[Any]]]) -> bool:
        self.journal.append_all(writes)
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

    def finish(self, timeout: float = 2.0) -> None:
        """Flush the journal and close both connections (what is not committed stays on disk)."""
        self.journal.close(timeout)
        self._committer.close()
        self.close()

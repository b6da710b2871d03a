"""One reader for every open page: a single poller builds the snapshot, and each page's stream
waits on the hub for the next one. A thousand tabs cost the mailbox and the watchers nothing more
than one tab: they share the poller's one read-only connection and its one JSON encoding, and past
`max_clients` open streams a new page is turned away instead of getting a thread of its own.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


class Hub:
    """The newest snapshot (encoded once), its version, and the count of open streams."""

    def __init__(self, build: Callable[[], dict[str, Any]], poll: float = 1.0, max_clients: int = 32) -> None:
        self.build = build
        self.poll = poll
        self.max_clients = max_clients
        self.version = 0
        self.body = b"{}"
        self.clients = 0
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_key = ""
        self._building = threading.Lock()  # the poller and an action's refresh share one connection

    def refresh(self) -> None:
        """Build once; a snapshot that differs from the last one (its clock aside) gets a new version."""
        try:
            with self._building:
                snap = self.build()
        except Exception as exc:  # a locked or half-written mailbox: keep showing the last picture
            log.warning("dashboard: snapshot failed: %s", exc)
            return
        now = snap.pop("now", None)
        key = json.dumps(snap, sort_keys=True, default=str)
        snap["now"] = now
        with self._cond:
            if key != self._last_key or self.version == 0:
                self._last_key = key
                self.body = json.dumps(snap, default=str).encode()
                self.version += 1
                self._cond.notify_all()

    def start(self) -> None:
        self.refresh()
        self._thread = threading.Thread(target=self._run, name="dashboard-poller", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.poll):
            self.refresh()

    def stop(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def latest(self) -> tuple[int, bytes]:
        with self._cond:
            return self.version, self.body

    def wait_newer(self, version: int, timeout: float) -> tuple[int, bytes]:
        """The snapshot after `version`, or the same one when `timeout` passes first (time for a ping)."""
        with self._cond:
            self._cond.wait_for(lambda: self.version != version or self._stop.is_set(), timeout)
            return self.version, self.body

    def join(self) -> bool:
        """Take a stream slot; False when `max_clients` streams are open already."""
        with self._cond:
            if self.clients >= self.max_clients:
                return False
            self.clients += 1
            return True

    def leave(self) -> None:
        with self._cond:
            self.clients -= 1

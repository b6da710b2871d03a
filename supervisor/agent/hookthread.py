"""Hook chains off the relay's thread: one worker runs them in order, each hook under a deadline.

A webhook that trickles one byte every two seconds, or a `run` hook that hangs, must never hold up
relaying, stopping or a signal. The relay hands a chain to `submit` and goes on; the worker runs the
chains one after another, so their order is kept, and a Wait first `drain`s the queue, so the wait
still follows what precedes it in the chain. The worker has its own HookRunner (and, through
`make_runner`, its own mailbox connection for `send` hooks: SQLite connections stay in their thread).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import queue

from .hooks import WAIT, HookRunner

log = logging.getLogger(__name__)


class HookQueue:
    """`submit(names, values)` returns at once; the chain runs on the worker thread."""

    def __init__(self, make_runner: Callable[[], HookRunner]) -> None:
        self._make_runner = make_runner
        #: made with the worker: most watchers never run a hook, and queue costs 0.3 MiB in each
        self._queue: queue.Queue[tuple[tuple[str, ...], dict[str, Any]] | None] | None = None
        self._thread: threading.Thread | None = None
        self._runner: HookRunner | None = None
        self._pending = 0
        self._done = threading.Condition()

    def submit(self, names: Sequence[str], values: Mapping[str, Any]) -> None:
        names = tuple(n for n in names if n != WAIT)
        if not names:
            return
        with self._done:
            self._pending += 1
        if self._queue is None or self._thread is None:
            import queue

            self._queue = queue.Queue()
            self._thread = threading.Thread(target=self._work, args=(self._queue,), name="hooks", daemon=True)
            self._thread.start()
        self._queue.put((names, dict(values)))

    def running_pids(self) -> frozenset[int]:
        """Pids of `run` hooks running now: the watcher spares them when it stops the runtime's tree."""
        runner = self._runner
        return runner.running_pids() if runner is not None else frozenset()

    def drain(self, timeout: float) -> bool:
        """Wait until every submitted chain has run (True), or `timeout` seconds (False)."""
        with self._done:
            return self._done.wait_for(lambda: self._pending == 0, timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Let queued chains finish for up to `timeout` seconds, then stop the worker."""
        if self._thread is None or self._queue is None:
            return
        self.drain(timeout)
        self._queue.put(None)
        self._thread.join(timeout)

    def _work(self, jobs: queue.Queue[tuple[tuple[str, ...], dict[str, Any]] | None]) -> None:
        runner = self._runner = self._make_runner()
        while True:
            item = jobs.get()
            if item is None:
                return
            try:
                runner.run_chain(*item)
            except Exception:  # pragma: no cover - run_chain already contains each hook's failure
                log.exception("hook chain failed")
            finally:
                with self._done:
                    self._pending -= 1
                    self._done.notify_all()

"""The runtime process under its pty (ptyspawn), and its exit status.

psutil's wait (used to stop whole trees) reaps children itself; so the status is taken here, once, by
whoever reaps first. Exit status follows the shell convention: 128+N after signal N.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

from . import procs
from .ptyspawn import set_size, spawn

if TYPE_CHECKING:
    from collections.abc import Callable


class Child:
    """A spawned runtime: its pid, pty fd and exit status."""

    def __init__(self, argv: list[str], cwd: str, env: dict[str, str], rows: int, cols: int) -> None:
        self.pid, self.fd = spawn(argv, cwd, env, rows, cols, _die_with_parent)
        self.status: int | None = None
        self._closed = False

    def poll(self) -> int | None:
        """The exit status if the runtime has exited (reaping it), else None."""
        if self.status is not None:
            return self.status
        try:
            pid, raw = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            self._reaped(1)
            return self.status
        if pid == 0:
            return None
        self._reaped(_decode(os.waitstatus_to_exitcode(raw)))
        return self.status

    def alive(self) -> bool:
        return self.poll() is None

    def wait(self, timeout: float) -> int | None:
        deadline = time.monotonic() + timeout
        while self.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.status

    def stop(self, timeout: float, extra: list | None = None) -> procs.StopResult:
        """Stop the whole tree (graceful, then SIGKILL); takes the status if psutil reaped us."""
        if self.poll() is not None and not extra:
            return procs.StopResult((), False)
        result = procs.stop_tree(self.pid, timeout=timeout, extra=extra)
        if self.pid in result.codes and self.status is None:
            self._reaped(_decode(result.codes[self.pid]))
        self.poll()
        return result

    def stop_tree(self, timeout: float, keep: Callable[[], frozenset[int]] = frozenset) -> procs.StopResult:
        """Stop the runtime's tree and the orphans of it re-parented to us (we are their subreaper);
        `keep`: our own helpers (the report, `run` hooks), which outlive the runtime."""
        from .orphans import our_children

        return self.stop(timeout, extra=our_children(self.pid, keep))

    def exit_code(self, timeout: float) -> int:
        """Its exit status, waiting up to `timeout` (then stopping it): 1 when none can be had."""
        status = self.wait(timeout)
        if status is None:
            self.stop(timeout)
            status = self.status
        return status if status is not None else 1

    def finish(self, timeout: float, keep: Callable[[], frozenset[int]] = frozenset) -> None:
        """After a session: nothing of it may be left, including orphans re-parented to us (not `keep`)."""
        from .orphans import our_children, reap_orphans

        leftovers = our_children(self.pid, keep)
        if self.alive() or leftovers:
            self.stop(timeout, extra=leftovers)
        reap_orphans(self.pid)
        self.close()

    def setwinsize(self, rows: int, cols: int) -> None:
        if self._closed:
            return
        try:
            set_size(self.fd, rows, cols)
        except OSError:
            pass

    def close(self) -> None:
        """Close our side of the pty (the process is already gone or stopped)."""
        if self._closed:
            return
        self._closed = True
        try:
            os.close(self.fd)
        except OSError:
            pass

    def _reaped(self, status: int) -> None:
        self.status = status


def _die_with_parent() -> None:
    """In the child before exec: if the watcher is SIGKILLed, the runtime is killed too (Linux), so it
    never runs on unsupervised. Grandchildren that escape are found by their TEAMCTL_AGENT_ID tag."""
    try:
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _decode(code: int | None) -> int:
    """waitstatus_to_exitcode / psutil give -N for signal N; shells say 128+N."""
    if code is None:
        return 1
    return 128 - code if code < 0 else code

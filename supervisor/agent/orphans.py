"""The runtime's tree and what it leaves behind: we are its subreaper, so orphans come to us to end.
Read from /proc without psutil where that is enough (the usual end of a session)."""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable
from contextlib import suppress
from typing import TYPE_CHECKING

from . import procs

if TYPE_CHECKING:
    import psutil  # imported where used: an idle watcher never loads it


#: Held while a helper of ours (a `run` hook, the report) is started and its pid recorded, and while
#: our children are told apart from the runtime's orphans: a helper forked just before the listing
#: would otherwise be listed before its pid is known, and ended with the runtime's leftovers.
SPAWNING = threading.Lock()


def create_time(pid: int) -> float | None:
    return procs.create_time(pid)


def become_subreaper() -> None:
    """Orphaned grandchildren of the runtime get re-parented to us, so we can still end them."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


def _only_child_is(runtime_pid: int) -> bool:
    """Whether the runtime is our one child, read from /proc (each thread's `children` file) without
    importing psutil: the usual end of a session, which then costs no 25 ms import. False where
    /proc cannot tell (psutil looks then)."""
    try:
        tasks = os.listdir("/proc/self/task")
        pids: set[str] = set()
        for task in tasks:
            with open(f"/proc/self/task/{task}/children") as fh:
                pids.update(fh.read().split())
    except OSError:
        return False
    return pids <= {str(runtime_pid)}


def our_children(runtime_pid: int, keep: Callable[[], frozenset[int]] = frozenset) -> list[psutil.Process]:
    """Our other children: orphans of the runtime's tree re-parented to this subreaper (not `keep()`,
    our own helpers such as the report and the `run` hooks, nor what they started: a hook of a stop
    hit outlives the stop). `keep` is asked after the listing, under SPAWNING, so a helper started
    before the listing is known by then."""
    if _only_child_is(runtime_pid):
        return []
    import psutil

    try:
        me = psutil.Process()
        children = me.children(recursive=True)
        with SPAWNING:
            spared = set(keep())
        for pid in tuple(spared):
            with suppress(psutil.Error):
                spared |= {c.pid for c in psutil.Process(pid).children(recursive=True)}
        return [c for c in children if c.pid != runtime_pid and c.pid not in spared]
    except psutil.Error:
        return []


def reap_orphans(runtime_pid: int) -> None:
    if _only_child_is(runtime_pid):
        return
    import psutil

    try:
        for child in psutil.Process().children():
            if child.pid != runtime_pid and child.status() == psutil.STATUS_ZOMBIE:
                try:
                    os.waitpid(child.pid, os.WNOHANG)
                except ChildProcessError:
                    pass
    except psutil.Error:
        pass


def poke_watchers(pids: list[int]) -> None:
    """SIGUSR2 to other watchers (only processes that really are `rl-watch`): check the mailbox now."""
    for pid in pids:
        if pid != os.getpid() and _is_watcher(pid):
            try:
                os.kill(pid, signal.SIGUSR2)
            except OSError:
                pass


def _is_watcher(pid: int) -> bool:
    import psutil

    try:
        return "rl-watch" in " ".join(psutil.Process(pid).cmdline())
    except psutil.Error:
        return False

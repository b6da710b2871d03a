"""One watcher per agent: an flock on state/run/<project>-<agent>.lock held for the watcher's life.

Two `teamctl up` at once (or an `up` during a `down`) may start two watchers for an agent; the second
finds the lock held and exits before it spawns anything. The kernel drops the lock when the holder
dies, however it dies, so a stale file never blocks a start. The file holds the holder's pid, which
`down` reads for every lock still held: the locks, not the mailbox rows, say which watchers live.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from ..store import layout
from ..store.safefs import open_private, private_dir

SUFFIX = layout.LOCK_SUFFIX


class AgentLocked(Exception):
    """Another watcher of the same agent holds the lock; `pid` is the holder (None if unreadable)."""

    def __init__(self, agent_id: str, path: Path, pid: int | None) -> None:
        self.agent_id, self.path, self.pid = agent_id, path, pid
        who = f"pid {pid}" if pid else "another process"
        super().__init__(f"{agent_id}: already has a watcher ({who}, lock {path}); not starting a second one")


def lock_path(state_dir: Path, agent_id: str) -> Path:
    return layout.watcher_lock(state_dir, agent_id)


class AgentLock:
    """`with AgentLock(state_dir, agent_id):` for the whole watcher; AgentLocked when held."""

    def __init__(self, state_dir: Path, agent_id: str) -> None:
        self.agent_id = agent_id
        self.path = lock_path(state_dir, agent_id)
        self._fd = -1

    def acquire(self) -> AgentLock:
        private_dir(self.path.parent.parent)
        private_dir(self.path.parent)
        fd = open_private(self.path, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            pid = _read_pid(fd)
            os.close(fd)
            raise AgentLocked(self.agent_id, self.path, pid) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # the file stays: unlinking it would race a new holder
            self._fd = -1

    def __enter__(self) -> AgentLock:
        return self.acquire()

    def __exit__(self, typ: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


def acquire(state_dir: Path, agent_id: str) -> AgentLock:
    """Take the agent's lock (AgentLocked when another watcher holds it); keep the result alive."""
    return AgentLock(state_dir, agent_id).acquire()


def held_locks(state_dir: Path) -> dict[Path, int | None]:
    """Every lock under state/run/ that a live process holds now, with the pid written in it."""
    found: dict[Path, int | None] = {}
    run = layout.run_dir(state_dir)
    try:
        names = sorted(os.listdir(run))
    except OSError:
        return found
    for name in names:
        if not name.endswith(SUFFIX):
            continue
        path = run / name
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            found[path] = _read_pid(fd)
        finally:
            os.close(fd)
    return found


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None

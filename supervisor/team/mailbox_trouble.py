"""Why the mailbox cannot be used right now, said in one line a user can act on: locked by another
program (named, when /proc says who holds the lock), read-only, its -wal deleted, or damaged.

`down` and `status` print it instead of a traceback: a mailbox in bad shape is a fact about the
team to report, never a reason to leave it running.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path


def lock_holders(db: Path) -> list[tuple[int, str]]:
    """(pid, command line) of every other process holding a write lock on `db` (from /proc/locks,
    which lists POSIX locks with their owner), else of every other process with it open."""
    try:
        inode = os.stat(db).st_ino
        with open("/proc/locks", encoding="ascii", errors="replace") as fh:
            table = fh.read().splitlines()
    except OSError:
        return []
    me = os.getpid()
    pids: list[int] = []
    for line in table:
        fields = line.split()
        if len(fields) < 6 or "->" in fields[1]:  # "->": a blocked waiter, not a holder
            continue
        try:
            pid, ident = int(fields[4]), fields[5]
        except ValueError:
            continue
        if fields[3] == "WRITE" and ident.rsplit(":", 1)[-1] == str(inode) and pid != me and pid not in pids:
            pids.append(pid)
    return [(pid, _cmdline(pid)) for pid in pids]


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            raw = fh.read(400)
    except OSError:
        return "?"
    from ..core.controls import printable

    return printable(raw.replace(b"\0", b" ").decode("utf-8", "replace").strip()) or "?"


def describe(db: Path, exc: BaseException) -> str:
    """One line: what is wrong with the mailbox at `db`, naming the lock's holder when it can."""
    text = str(exc)
    if isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text):
        holders = lock_holders(db)
        who = "; ".join(f"pid {pid}: {cmd}" for pid, cmd in holders)
        return (f"mailbox {db} is locked by another program ({who or 'holder not found'}); "
                "it lets go when that program closes it")
    if isinstance(exc, OSError) and exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return f"{exc.filename or db} cannot be written ({os.strerror(exc.errno)})"
    if "readonly" in text or "read-only" in text:
        return f"mailbox {db} is read-only ({text})"
    if "disk I/O error" in text:
        return (f"mailbox {db} cannot be read ({text}): its -wal or -shm file was deleted or damaged "
                "while it was open")
    return f"mailbox {db} cannot be used ({type(exc).__name__}: {text})"

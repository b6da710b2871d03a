"""pty and terminal quirks, named once: EIO is end of output, raw mode is always restored,
window sizes follow the real terminal, and a detached pty gets a wide window."""

from __future__ import annotations

import errno
import fcntl
import os
import struct
import termios
import tty
from collections.abc import Iterator
from contextlib import contextmanager

#: A detached runtime's window: wide, so a TUI does not wrap a limit message across lines.
DETACHED_SIZE = (50, 400)
READ_SIZE = 65536


def read_chunk(fd: int) -> bytes | None:
    """Read what the pty holds; None at end of output (Linux reports a closed pty as EIO)."""
    try:
        data = os.read(fd, READ_SIZE)
    except OSError as exc:
        if exc.errno in (errno.EIO, errno.EBADF):
            return None
        if exc.errno in (errno.EAGAIN, errno.EINTR):
            return b""
        raise
    return data or None


def write_all(fd: int, data: bytes) -> bool:
    """Write every byte (retrying short writes); False when the other side is gone."""
    try:
        n = os.write(fd, data)  # the usual case: all of it at once
    except (InterruptedError, BlockingIOError):
        n = 0
    except OSError:
        return False
    if n == len(data):
        return True
    view = memoryview(data)[n:]
    while view:
        try:
            n = os.write(fd, view)
        except InterruptedError:
            continue
        except BlockingIOError:
            import select

            select.select([], [fd], [], 1.0)
            continue
        except OSError:
            return False
        view = view[n:]
    return True


def window_size(fd: int) -> tuple[int, int] | None:
    """(rows, cols) of the terminal on `fd`, or None when it is not a terminal."""
    try:
        rows, cols, _, _ = struct.unpack("HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))
    except OSError:
        return None
    return (rows, cols) if rows and cols else None


def is_tty(fd: int) -> bool:
    try:
        return os.isatty(fd)
    except OSError:
        return False


@contextmanager
def raw_mode(fd: int, enabled: bool) -> Iterator[None]:
    """Put our terminal in raw mode so every keystroke reaches the runtime; restore on any exit."""
    if not enabled:
        yield
        return
    saved = termios.tcgetattr(fd)
    try:
        tty.setraw(fd, termios.TCSANOW)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSAFLUSH, saved)

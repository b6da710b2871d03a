"""Reading an agent's output log for `teamctl logs`: the last lines (rotations included), following
new ones across rotation, and a line as a terminal would have shown it (escapes removed).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from ..agent.logfile import log_files
from ..core.controls import CONTROLS

_ANSI = CONTROLS  # ESC- and C1-led sequences and every other control but tab (core.controls)


def clean_line(line: str) -> str:
    """A log line as a terminal would have shown it: escapes removed, only the text after the last \\r."""
    line = line.rstrip("\r")
    if "\r" in line:
        parts = [p for p in line.split("\r") if _ANSI.sub("", p).strip()]
        line = parts[-1] if parts else ""
    return _ANSI.sub("", line)


def tail_lines(path: Path, n: int) -> list[str]:
    """The last `n` lines of the log and its rotations (newest last), decoded, not cleaned."""
    return tail(path, n)[0]


def tail(path: Path, n: int, partial: bool = True) -> tuple[list[str], int]:
    """Like `tail_lines`, plus the offset in `path` where the lines end (where `follow` goes on).

    `partial=False` leaves an unfinished last line out (and the offset before it), for `follow`.
    """
    collected: list[bytes] = []
    offset = 0
    for f in reversed(log_files(path)):
        try:
            data = f.read_bytes()
        except OSError:
            continue
        if f == path:
            offset = len(data)
            if not partial and not data.endswith(b"\n"):
                offset = data.rfind(b"\n") + 1
                data = data[:offset]
        lines = data.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        collected = lines + collected
        if len(collected) >= n:
            break
    if n <= 0:
        return [], offset
    return [b.decode("utf-8", "replace") for b in collected[-n:]], offset


def follow(path: Path, poll: float = 0.25, stop: float | None = None, start: int | None = None) -> Iterator[str]:
    """Lines written to `path` after `start` (default: its end at this call, not at the first `next()`);
    survives rotation (the old file is read to its end first).

    `stop`: give up after that many seconds (tests); None follows until the caller stops iterating.
    """
    try:
        fh = open(path, "rb")  # noqa: SIM115
        fh.seek(0, os.SEEK_END)
        if start is not None and start <= fh.tell():
            fh.seek(start)
    except FileNotFoundError:
        fh = None  # it appears later: read it from its start
    return _follow(path, fh, poll, None if stop is None else time.monotonic() + stop)


def _follow(path: Path, fh: BinaryIO | None, poll: float, end: float | None) -> Iterator[str]:
    ino = os.fstat(fh.fileno()).st_ino if fh is not None else None
    buf = b""
    try:
        while end is None or time.monotonic() < end:
            if fh is None:
                try:
                    fh = open(path, "rb")  # noqa: SIM115
                    ino = os.fstat(fh.fileno()).st_ino
                except FileNotFoundError:
                    time.sleep(poll)
                    continue
            chunk = fh.read()
            if chunk:
                buf += chunk
                *lines, buf = buf.split(b"\n")
                for line in lines:
                    yield line.decode("utf-8", "replace")
                continue
            try:
                st = os.stat(path)
                rotated = st.st_ino != ino or st.st_size < fh.tell()
            except FileNotFoundError:
                rotated = True
            if rotated:  # the old file has been read to its end: go on with the new one
                fh.close()
                fh = None
                continue
            time.sleep(poll)
    finally:
        if fh is not None:
            fh.close()

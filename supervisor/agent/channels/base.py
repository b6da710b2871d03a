"""What every structured-channel reader shares: the event it emits, reading a file's new lines, and a
session file's life (found, read, parsed; turned off after a problem, with one log line).

A reader (one per file in this folder) subclasses SessionFile and fills in `find` and `parse`, or
`poll` for a file read whole; the tailer builds one per channel of the runtime.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from ...core.descriptors.loader import Channel
from ...core.lazy_dataclass import lazy_dataclass
from ...core.placeholders import fill
from ...core.scan.scanner import Event
from ...core.usage import Reading
from ..settings import WatchSettings

log = logging.getLogger(__name__)

#: A session file not found this long after the start is reported once (the screen goes on alone).
FIND_GRACE_SECONDS = 30.0
#: Rows this much older than the runtime's start belong to an earlier session (resumed file).
START_SLACK = 2.0
MAX_READ = 4 * 1024 * 1024
MAX_LINE = 8 * 1024 * 1024


@lazy_dataclass(frozen=True)
class ChannelEvent(Event):
    """A scanner-like event read from a structured channel; `source` names it (not "screen")."""

    source: str = "structured"


def expand_dir(template: str, env: dict[str, str] | Any) -> Path | None:
    """`{VAR}/sub` with the runtime's env; None when a VAR is unset or empty."""
    text = fill(template, env.get)
    return None if text is None else Path(text).expanduser()


def iso_seconds(text: object) -> float | None:
    """An ISO 8601 stamp (`Z` allowed) as epoch seconds; None when it is not one."""
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def token_count(value: object) -> int:
    """A token figure from a file we do not trust: a non-negative int, else 0."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


class NewLines:
    """New complete lines of one file, from an offset; a partial last line waits for its end."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        # the unfinished last line, in the pieces it was read in: a TUI may print no line feed for
        # megabytes, and joining it anew with every piece read would copy it over and over
        self._rest: list[bytes] = []

    def read(self) -> Iterator[bytes]:
        yield from (line for line in self.read_block().split(b"\n") if line.strip())

    def read_block(self, limit: int = MAX_READ) -> bytes:
        """The new complete lines in the next `limit` bytes, as one block (`\n` between them, none
        after; b"" for none), for a reader that looks for a few words in a flood and need not split
        it. A small `limit` also keeps each read's buffer small: a fresh multi-MiB buffer costs a
        page fault per few pages, ten times the read itself."""
        fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
        try:
            size = os.fstat(fd).st_size
            if size < self.offset:  # replaced or truncated: read it again from the start
                self.offset = 0
                self._keep_rest([])
            os.lseek(fd, self.offset, os.SEEK_SET)
            data = os.read(fd, limit)
        finally:
            os.close(fd)
        self.offset += len(data)
        cut = data.rfind(b"\n")
        if cut < 0:
            self._keep_rest([*self._rest, data] if data else self._rest)
            return b""
        block = b"".join([*self._rest, data[:cut]]) if self._rest else data[:cut]
        self._keep_rest([data[cut + 1:]] if cut + 1 < len(data) else [])
        return block

    def _keep_rest(self, parts: list[bytes]) -> None:
        """Keep the unfinished line, unless it has grown past MAX_LINE (then it is dropped)."""
        self._rest = parts if sum(len(part) for part in parts) <= MAX_LINE else []


class SessionFile:
    """One channel's file for the current session: find, read, parse; disabled after a problem."""

    def __init__(self, channel: Channel, settings: WatchSettings, started: float, emit: Callable[[Reading], None]):
        self.channel = channel
        self.s = settings
        self.started = started
        self.emit_reading = emit
        self.lines: NewLines | None = None
        self.off = False
        self.root = next((p for t in channel.dirs if (p := expand_dir(t, settings.env)) is not None), None)
        self.cwd = Path(settings.cwd).resolve()

    def say_off(self, why: str) -> None:
        if not self.off:
            log.warning("channel %s: %s; the screen is read alone", self.channel.kind, why)
        self.off = True

    def poll(self, now: float, final: bool = False) -> list[Event]:
        if self.off:
            return []
        if self.lines is None:
            found = self.find()
            if found is None:
                if now - self.started > FIND_GRACE_SECONDS:
                    self.say_off(f"no session file of this agent under {self.root}")
                return []
            log.info("channel %s: reading %s", self.channel.kind, found)
            self.lines = NewLines(found)
        try:
            rows = list(self.lines.read())
        except OSError as exc:
            self.say_off(f"{self.lines.path}: cannot read ({exc.strerror or exc})")
            return []
        events: list[Event] = []
        for raw in rows:
            try:
                row = json.loads(raw)
            except ValueError:
                log.warning("channel %s: %s: a line that is not JSON skipped", self.channel.kind, self.lines.path)
                continue
            if isinstance(row, dict):
                events += self.parse(row)
            if self.off:
                break
        return events

    def find(self) -> Path | None:
        return None

    def parse(self, row: dict[str, Any]) -> list[Event]:
        return []

    def known_version(self, version: object) -> bool:
        if not self.channel.versions:
            return True
        ok = isinstance(version, str) and version.startswith(tuple(self.channel.versions))
        if not ok:
            self.say_off(f"{self.lines.path if self.lines else '?'}: unknown version {version!r}"
                         f" (known: {', '.join(self.channel.versions)})")
        return ok

    def recent(self, path: Path) -> bool:
        try:
            return path.stat().st_mtime >= self.started - START_SLACK and path.is_file() and not path.is_symlink()
        except OSError:
            return False

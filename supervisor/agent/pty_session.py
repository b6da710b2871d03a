"""One runtime session's bytes: read them, relay them to the terminal and the log, scan them, and
hand back a Readout. The watcher never looks inside; this never looks at the watcher.

The hot path of a watcher: every byte the runtime prints passes here. While output floods in, reads
are coalesced (one select wakes for a burst, not per ~4 KiB pty read), the scanner is fed in
batches, and the reactor hears of it at most every REPORT_SECONDS; a single line still goes through
at once when the runtime pauses.
"""

from __future__ import annotations

import os
import select
import time
from collections import deque

from ..core.lazy_dataclass import lazy_dataclass
from ..core.scan.fresh_text import FreshText
from ..core.scan.scanner import Event, Scanner
from . import ptyio
from .child import Child
from .logfile import RotatingLog

#: A runtime quiet this long has finished its partial line (a prompt, a TUI row): it is scanned.
QUIET_SECONDS = 0.3
#: Output relayed is scanned in one piece once this much has come, or SCAN_DELAY after its first
#: byte: a flood costs one scan per batch, and a CLI at its own pace (a read of ~50 bytes every few
#: tens of ms while it streams) one scan per SCAN_DELAY rather than one per read. A read with a
#: rate limit's words is scanned at once (`urgent`); the rest waits as long as a partial line does
#: (QUIET_SECONDS), so one wake-up does both: at Claude Code's recorded pace that is 215 turns of
#: the loop instead of 419, and 15 % less of the watcher's CPU while it relays.
SCAN_BATCH = 32 * 1024
SCAN_DELAY = QUIET_SECONDS
#: A batch is handed to the scanner in pieces of at most this size: its passes over the bytes
#: (lower-casing, the keyword search, line ends) then run on what the CPU's cache still holds, where
#: one pass over a coalesced 256 KiB burst at a time reads memory (6.7 against 9.8 ms per MB here).
SCAN_PIECE = 32 * 1024
#: Output bytes held before one write to the log; held bytes are written with each scan (so at most
#: SCAN_DELAY after they came, and with no wake-up of their own at a CLI's pace), before any event is
#: acted on, and when the runtime exits.
LOG_HOLD = 64 * 1024
#: While output floods in, whether the runtime still lives is checked every this many reads (an
#: exit also wakes the loop through SIGCHLD).
ALIVE_EVERY = 64
#: During a flood of output with nothing found in it, the reactor is told at most this often that
#: the runtime wrote (its quiet and stall clocks need no finer grain); a read whose scan is still to
#: come is told with that scan (one turn of the reactor per scan, not per read).
REPORT_SECONDS = 0.05
#: A read that filled this much of a pty's buffer means a flood: the next reads follow at once,
#: up to COALESCE_BYTES, before the terminal and the log are written (one write per burst).
FLOOD_READ = 3 * 1024
COALESCE_BYTES = 256 * 1024


@lazy_dataclass(frozen=True)
class Readout:
    """What one turn of the session read: scanner events, whether the runtime wrote anything,
    whether it drew something new (a spinner's redraw is not), and whether its output ended."""

    events: list[Event]
    wrote: bool
    new_content: bool
    eof: bool


class PtySession:
    """One session's bytes: read, relay, log, scan; `read()` hands back a Readout when one is due."""

    def __init__(self, child: Child, scanner: Scanner, output_log: RotatingLog, out_fd: int) -> None:
        self.child = child
        self.fd = child.fd
        os.set_blocking(self.fd, False)  # a burst reads on until the pty is empty, with no select
        self.scanner = scanner
        self.log = output_log
        self.out_fd = out_fd
        self.eof = False
        self._reads = 0
        self._last_output = time.monotonic()  # real pty quiet, whatever clock the waits run on
        self._unscanned: list[bytes] = []  # relayed, not yet scanned: a flood is scanned in batches
        self._unscanned_size = 0
        self._first_unscanned = 0.0  # monotonic: when the oldest unscanned byte was read
        self._content = False
        self._wrote = False
        self._last_report = 0.0
        self._skeletons: deque[bytes] = deque(maxlen=32)
        self._fresh = FreshText()

    def timeout(self) -> float:
        """How soon this session needs a turn even if nothing is read (a quiet partial line to scan,
        a batch to scan, and with it the held log to write); inf when only new output matters."""
        if self._unscanned:  # more output joins the batch; it is scanned (and the log written) then
            return max(self._first_unscanned + SCAN_DELAY - time.monotonic(), 0.0)
        timeout = float("inf")
        if self.scanner.has_pending():
            timeout = max(self._last_output + QUIET_SECONDS - time.monotonic(), 0.0)
        return timeout

    def read(self, readable: bool, report: bool = False) -> Readout | None:
        """One turn: relay what the runtime wrote (`readable`: select said so), scan what is due.
        None: a flood in mid-stream with nothing found, not yet worth a report (`report` forces one:
        something else woke the loop)."""
        events: list[Event] = []
        if readable:
            self._last_output = time.monotonic()
            self._wrote = True
            data = self._read_burst()
            if data is None:
                self.eof = True
            elif data:
                ptyio.write_all(self.out_fd, data)
                self.log.write(data)
                if not self._unscanned:
                    self._first_unscanned = self._last_output
                self._unscanned.append(data)
                self._unscanned_size += len(data)
                self._note_content(data)
                if self._unscanned_size >= SCAN_BATCH or self.scanner.urgent(data):
                    events = self._scan_unscanned()  # a full batch, or a read with a limit's words
        events += self._scan_due(readable)
        if events or self.eof:
            self.log.flush()  # what the runtime said before a limit or its exit is logged first
        if not (report or events or self.eof or not readable
                or (not self._unscanned and self._last_output - self._last_report >= REPORT_SECONDS)):
            return None  # a read with its scan still to come: the reactor hears of both then
        self._last_report = self._last_output
        wrote, self._wrote = self._wrote or readable, False
        content, self._content = self._content, False
        return Readout(events, wrote, content, self.eof)

    def _read_burst(self) -> bytes | None:
        """A read; while it comes back full-ish, the reads waiting behind it too (a flood): one
        read call per pty buffer and no select between them, where the bare loop makes two calls."""
        data = ptyio.read_chunk(self.fd)
        if not data or len(data) < FLOOD_READ:
            return data
        parts = [data]
        size = len(data)
        while size < COALESCE_BYTES:
            more = ptyio.read_chunk(self.fd)  # non-blocking: b"" once the pty holds nothing
            if not more:
                if more is None:
                    self.eof = True
                break
            parts.append(more)
            size += len(more)
        return b"".join(parts) if len(parts) > 1 else data

    def _scan_due(self, readable: bool) -> list[Event]:
        """Scan a finished batch, a quiet partial line, and, once the runtime is gone, the rest."""
        events: list[Event] = []
        if self._unscanned and (self.eof or time.monotonic() - self._first_unscanned >= SCAN_DELAY):
            events += self._scan_unscanned()
        if not readable and self.scanner.has_pending() and time.monotonic() - self._last_output >= QUIET_SECONDS:
            events += self.scanner.flush()
        self._reads += 1
        if not self.eof and (not readable or self._reads % ALIVE_EVERY == 0) and not self.child.alive():
            events += self._scan_unscanned()
            events += self._drain()
            self.eof = True
        if self.eof:
            events += self._scan_unscanned()
            events += self.scanner.finish()
        return events

    def _note_content(self, data: bytes) -> None:
        if self._content:
            return
        skeleton = _skeleton(data)  # a spinner's ticks mostly repeat a few: those cost no more
        if skeleton and skeleton not in self._skeletons:
            self._skeletons.append(skeleton)
            self._content = self._fresh.is_new(data)

    def _scan_unscanned(self) -> list[Event]:
        if not self._unscanned:
            return []
        data = self._unscanned[0] if len(self._unscanned) == 1 else b"".join(self._unscanned)
        self._unscanned.clear()
        self._unscanned_size = 0
        self.log.flush()  # the log catches up in the same turn: no wake-up of its own
        events: list[Event] = []
        for at in range(0, len(data), SCAN_PIECE):  # one piece, the bytes themselves, at a CLI's pace
            events += self.scanner.feed(data[at:at + SCAN_PIECE])
        return events

    def _drain(self) -> list[Event]:
        """The runtime exited: relay what is still in the pty (its last words are often the limit)."""
        events: list[Event] = []
        for _ in range(1000):
            ready, _, _ = select.select([self.fd], [], [], 0.05)
            if not ready:
                break
            data = ptyio.read_chunk(self.fd)
            if not data:
                break
            ptyio.write_all(self.out_fd, data)
            self.log.write(data)
            events += self.scanner.feed(data)
        return events


_SKELETON_DROP = bytes(range(0x30, 0x3A)) + b" \t\r\n\x1b[];?()"


def _skeleton(data: bytes) -> bytes:
    """What a read draws, less digits, blanks and escape punctuation: a spinner's tick has the same
    skeleton each time (`Thinking... (53s)` and `(54s)`). A new skeleton may still be the same frame
    read in other pieces, or another glyph of the spinner: FreshText judges it by its words."""
    return data[:512].translate(None, _SKELETON_DROP)[:128]

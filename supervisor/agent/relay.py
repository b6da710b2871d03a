"""One session's bytes: read them, relay them to the terminal and the log, scan them in batches.

The hot path of a watcher: every byte the runtime prints passes here, so a read costs a select, a
read and a write, and the scanner and the reactor are told in batches (a flood) or at once (a pause).
"""

from __future__ import annotations

import select
import time
from collections import deque
from typing import TYPE_CHECKING

from ..core.scan.fresh_text import FreshText
from ..core.scan.scanner import Event
from . import ptyio

if TYPE_CHECKING:
    from .child import Child
    from .watch import AgentWatch

#: A runtime quiet this long has finished its partial line (a prompt, a TUI row): it is scanned.
QUIET_SECONDS = 0.3
#: Output relayed while more is already waiting is scanned in one piece once this much has come,
#: or at once when the runtime pauses: a flood costs one scan per batch, a single line no delay.
SCAN_BATCH = 32 * 1024
#: Output bytes held before one write to the log; held bytes are written once the runtime pauses
#: for LOG_FLUSH_SECONDS, before any event is acted on, and when it exits.
LOG_HOLD = 64 * 1024
LOG_FLUSH_SECONDS = 0.05
#: While output floods in, whether the runtime still lives is checked every this many reads (an
#: exit also wakes the loop through SIGCHLD).
ALIVE_EVERY = 64
#: The longest the loop sleeps in a session while the reactor has something due (a resume at the
#: reset, a dialog, a resume to confirm): its ticks need no finer.
TICK_SECONDS = 1.0
#: ... and while nothing is due: a quiet agent wakes this seldom (stall and group clocks run in
#: tens of seconds), so two hundred idle watchers cost well under 1 % of a core. Output, signals
#: and the runtime's exit wake the loop at once whatever this is.
IDLE_TICK_SECONDS = 15.0
#: During a flood of output with nothing found in it, the reactor is told at most this often that
#: the runtime wrote (its quiet and stall clocks need no finer grain): the relay's per-read cost
#: stays a select, a read and a write.
REPORT_SECONDS = 0.05

class Relay:
    """One session's bytes: read them, relay them to the terminal and the log, scan them in batches."""

    def __init__(self, watch: AgentWatch, child: Child) -> None:
        self.w = watch
        self.child = child
        self.fd = child.fd
        self.eof = False
        self.reads = 0
        self.output = False
        self.last_output = time.monotonic()  # real pty quiet, whatever clock the waits run on
        self.unscanned: list[bytes] = []  # relayed, not yet scanned: a flood is scanned in batches
        self.unscanned_size = 0
        self._content = False
        self._wrote = False
        self._last_report = 0.0
        self._skeletons: deque[bytes] = deque(maxlen=32)
        self._fresh = FreshText()

    def select(self) -> list[int]:
        w = self.w
        watch = [self.fd, w._wake_r] + ([w.stdin_fd] if w._keys_open else [])
        timeout = TICK_SECONDS if w.reactor.busy() else IDLE_TICK_SECONDS
        if w.scanner.has_pending():
            timeout = max(self.last_output + QUIET_SECONDS - time.monotonic(), 0.0)
        if w.output_log.held:
            timeout = min(timeout, LOG_FLUSH_SECONDS)
        if w.reactor.answer_due():
            timeout = min(timeout, 0.1)  # a dialog is answered once the screen settles
        if self.unscanned or w._signals or (w._stop_signal is not None and not getattr(w, "_stopping", False)):
            timeout = 0.0  # more output already waiting joins the batch; else scan it now
        try:
            ready, _, _ = select.select(watch, [], [], timeout)
        except InterruptedError:
            ready = []
        return ready

    def pump(self, ready: list[int]) -> list[Event]:
        """Relay what the runtime wrote; a full batch is scanned at once."""
        self.output = self.fd in ready
        events: list[Event] = []
        if self.output:
            self.last_output = time.monotonic()
            self._wrote = True
            data = ptyio.read_chunk(self.fd)
            if data is None:
                self.eof = True
            elif data:
                ptyio.write_all(self.w.stdout_fd, data)
                self.w.output_log.write(data)
                self.unscanned.append(data)
                self.unscanned_size += len(data)
                self._note_content(data)
                if self.unscanned_size >= SCAN_BATCH:
                    events = self._scan_unscanned()
        elif self.w.output_log.held:
            self.w.output_log.flush()  # the runtime paused: the log catches up
        return events

    def scan_due(self) -> list[Event]:
        """Scan a finished batch, a quiet partial line, and, once the runtime is gone, the rest."""
        w = self.w
        events: list[Event] = []
        if self.unscanned and (not self.output or self.eof):
            events += self._scan_unscanned()
        if not self.output and w.scanner.has_pending() and time.monotonic() - self.last_output >= QUIET_SECONDS:
            events += w.scanner.flush()
        self.reads += 1
        if not self.eof and (not self.output or self.reads % ALIVE_EVERY == 0) and not self.child.alive():
            events += self._scan_unscanned()
            events += self._drain()
            self.eof = True
        if self.eof:
            events += w.scanner.finish()
        return events

    def report_due(self, ready: list[int], events: list[Event]) -> bool:
        """Whether to tell the reactor now: always, unless the only thing that happened is one more
        read of a stream whose last report is under REPORT_SECONDS old."""
        if events or self.eof or not self.output or len(ready) != 1 or self.w._signals \
                or self.w._stop_signal is not None or self.last_output - self._last_report >= REPORT_SECONDS:
            self._last_report = self.last_output
            return True
        return False

    def took_output(self) -> bool:
        """Whether the runtime wrote anything since the last call."""
        wrote, self._wrote = self._wrote or self.output, False
        return wrote

    def took_content(self) -> bool:
        """Whether the runtime drew something new since the last call (a spinner's redraw is not)."""
        seen, self._content = self._content, False
        return seen

    def maintain(self) -> None:
        """Between reads: the structured channels (they poll at most once a second)."""
        events = self.w.channels.poll(self.w.clock.wall(), final=self.eof)
        if events:
            self.w._execute(self.w.reactor.output(self.w._now(), events, False, False))

    def _note_content(self, data: bytes) -> None:
        if self._content:
            return
        skeleton = _skeleton(data)  # a spinner's ticks mostly repeat a few: those cost no more
        if skeleton and skeleton not in self._skeletons:
            self._skeletons.append(skeleton)
            self._content = self._fresh.is_new(data)

    def _scan_unscanned(self) -> list[Event]:
        if not self.unscanned:
            return []
        data = self.unscanned[0] if len(self.unscanned) == 1 else b"".join(self.unscanned)
        self.unscanned.clear()
        self.unscanned_size = 0
        return self.w.scanner.feed(data)

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
            ptyio.write_all(self.w.stdout_fd, data)
            self.w.output_log.write(data)
            events += self.w.scanner.feed(data)
        return events


_SKELETON_DROP = bytes(range(0x30, 0x3A)) + b" \t\r\n\x1b[];?()"


def _skeleton(data: bytes) -> bytes:
    """What a read draws, less digits, blanks and escape punctuation: a spinner's tick has the same
    skeleton each time (`Thinking... (53s)` and `(54s)`). A new skeleton may still be the same frame
    read in other pieces, or another glyph of the spinner: FreshText judges it by its words."""
    return data[:512].translate(None, _SKELETON_DROP)[:128]

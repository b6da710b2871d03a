"""Streaming scanner: a runtime's raw terminal bytes in, frozen Events out. No I/O.

Bytes are cut into lines on `\\n` and `\\r` (a partial line waits for the next read, so a message or
an escape split across two reads still matches), ANSI is removed, invalid UTF-8 is replaced, and a
line is capped at `max_line` bytes. A cheap keyword prefilter over the raw bytes skips the regexes
for the bulk of a TUI's output; signatures only run on lines that hold one of their keywords.

Real messages are not always one line: a TUI wraps a long message at its width, so a line that does
not match alone is retried joined to the one or two lines before it; and a signature may read its
reset (or a cost figure) from the few lines that follow the hit (`lookahead` + `follow`).

This module is the byte side: lines, the partial line, the bulk skip and screen rows. What a text
is matched against is in text_scanner.py, the screen and ANSI reading in screen_text.py, the Event
type in events.py.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from ..descriptors.model import Runtime
from .events import Event
from .events import EventKind as EventKind  # imported from here too
from .json_documents import JsonDocuments
from .lookalike import FENCE_MARKS
from .prefilter import LINE_GAP, SEAM, unfold_spans
from .screen_cells import ScreenRows
from .screen_text import (
    last_row_move,
    only_escapes,
    row_end,
    row_start,
    same_row_moves,
    strip_ansi,
    text_end,
)
from .text_scanner import (
    CONTEXT_BYTES,
    JOIN_DEPTH,
    RAW_MAX,
    KeywordIndex,
    TextScanner,
    match_groups,
    search_windows,
    utcnow,
)

MAX_LINE = 64 * 1024
#: Bytes of the partial line the prefilter looks at again with each read (the longest keyword fits).
PROBE_OVERLAP = 256
#: A raw line this long is read row by row (rows split where the cursor moves to another row).
ROW_GATE = 512


class Scanner(TextScanner):
    """Feed it bytes as they arrive; it returns the events those bytes complete."""

    def __init__(self, runtime: Runtime, *, tz: ZoneInfo, clock: Callable[[], datetime] = utcnow,
                 max_line: int = MAX_LINE, prefilter: str | None = "auto", count_lines: bool = True) -> None:
        """`prefilter`: the Prefilter engine ("auto", "ahocorasick", "loop"), or None for none at
        all (every line through every signature's keywords; tests compare).
        `count_lines`: events carry their line number (`signatures test` shows it; the watcher has
        no use for it and saves a pass over every byte)."""
        super().__init__(runtime, tz, clock, prefilter, count_lines)
        self.max_line = max_line
        self._buf = b""
        self._buf_hot = False
        self._quiet_partial: bytes | None = None  # the partial line a quiet flush read and kept
        in_place = tuple(s for s in runtime.costs if s.in_place)
        self._in_place = KeywordIndex(in_place) if in_place else None
        self._cells = self._new_cells()
        self._documents = JsonDocuments() if runtime.json_documents else None
        pf = self._prefilter
        self._fence_needles = frozenset(i for i, n in enumerate(pf.needles) if n.decode() in FENCE_MARKS) \
            if pf is not None else frozenset()

    def _new_cells(self) -> ScreenRows | None:
        """The screen's rows, kept only for a runtime with a total it redraws in place."""
        if self._in_place is None:
            return None
        return ScreenRows(tuple(sorted({k for s in self._in_place.sigs for k in s.keywords})))

    # -- public --------------------------------------------------------------------------------
    def feed(self, data: bytes) -> list[Event]:
        """Scan `data`; a trailing partial line is kept for the next call."""
        events = self._feed(data)
        if self._cells is not None:
            for row in self._cells.feed(data):
                self._in_place_costs(row, events)
        if self._documents is not None:
            for doc in self._documents.feed(data):
                self._costs(doc, doc.lower(), 0, events)  # a whole document, compact: its cost only
        return events

    def _in_place_costs(self, row: str, events: list[Event]) -> None:
        """A screen row holding a total the TUI redraws in place, read whole after its frame."""
        assert self._in_place is not None
        low = row.lower()
        for sig in self._in_place.woken(frozenset(k for k in self._keywords if k in low)):
            m = search_windows(sig.regex, row)
            if m is not None:
                event = self._cost_event(sig, 0, row.strip()[:RAW_MAX], match_groups(m))
                if event is not None:
                    events.append(event)

    def _feed(self, data: bytes) -> list[Event]:
        events: list[Event] = []
        buf = self._buf + data if self._buf else data
        pf = self._prefilter
        if pf is not None:
            waiting = self._pending or self._buf_hot or self._join_left > 0
            # Where to look: the new bytes and the end of the partial line before them (a keyword
            # split across two reads); all of `buf` while its partial line may hold one already.
            at = 0 if waiting else max(len(self._buf) - PROBE_OVERLAP, 0)
            low = (buf[at:] if at else buf).lower()
            hits, wrapped = pf.scan(low)
            first_line = waiting or self._seam_hot(buf)
            # a phrase's first words end a line: read on if the next line goes on with the phrase
            wraps = pf.wraps(low, wrapped) if wrapped else []
            if wrapped is not None and not wraps and not first_line:
                if not hits:
                    self._skip(buf)  # the bulk of a TUI's output: no keyword, no line work
                    return events
                if self._fences_only(buf, hits, at):
                    return events  # a model's code blocks: fences counted, no line work
            spans = [(start + at, end + at) for _, start, end in hits]
            if wrapped is None:
                # a keyword may hide a wrap mark: look again with line breaks folded
                folded = pf.find_folded(low)
                if sorted(h[0] for h in folded) != sorted(h[0] for h in hits):
                    spans = [(start + at, end + at) for start, end in unfold_spans(low, folded)]
            else:
                spans += [(start + at, end + at) for start, end in wraps]
            if first_line:
                spans.append((0, LINE_GAP.match(buf).end() + 1))  # through the first line with text
            self._feed_hot_lines(buf, spans, events)
            return events
        self._feed_lines(buf, events)
        return events

    def _fences_only(self, buf: bytes, hits: list[tuple[int, int, int]], at: int) -> bool:
        """When every keyword hit is a code fence opening its own finished line (only escapes and
        blanks before it), toggle the fence state here, as the line path would, and say so: a
        model's markdown floods a print-mode CLI's output with fences that hold no notice. False,
        with nothing changed, as soon as one hit needs the line path."""
        fences = self._fence_needles
        cut = 0  # the end of the last fence line
        for index, start, _ in hits:
            if index not in fences:
                return False
            start += at
            # the line around it (each search bounded by the nearer line feed: no scan to the far end)
            nl = buf.rfind(b"\n", 0, start)
            line = max(nl, buf.rfind(b"\r", nl + 1, start)) + 1
            nl = buf.find(b"\n", start)
            cr = buf.find(b"\r", start, len(buf) if nl < 0 else nl)
            end = cr if cr >= 0 else nl
            if end < 0 or not only_escapes(buf[line:start]):
                return False  # in the partial line, or after text: the line path decides
            cut = max(cut, end + 1)
        for _ in hits:
            self._toggle_fence()
        self._skip(buf[:cut])  # lines and fences, then only what follows the last fence is context
        self._context.clear()
        self._context_limit = None
        self._skip(buf[cut:])
        return True

    def _feed_lines(self, buf: bytes, events: list[Event]) -> None:
        """Every line of `buf` through the line path."""
        pieces = buf.split(b"\n")
        rest = pieces.pop()
        for piece in pieces:
            for part in piece.split(b"\r"):
                if part:
                    self._line(part, events)
            self._lineno += 1
        if b"\r" in rest:
            *done, rest = rest.split(b"\r")
            for part in done:
                if part:
                    self._line(part, events)
        self._keep_partial(rest, events)

    def _keep_partial(self, rest: bytes, events: list[Event]) -> None:
        while len(rest) > self.max_line:
            head, rest = rest[: self.max_line], rest[self.max_line:]
            self._line(head, events)
        self._set_partial(rest)
        if self._buf_hot and b"\x1b[" in rest:
            self._read_drawn_rows(rest, events)

    def _read_drawn_rows(self, rest: bytes, events: list[Event]) -> None:
        """A TUI draws a row and moves the cursor to another (`\x1b[44;1H■ You've hit your usage
        limit…\x1b[47;3H`) with no newline: the rows it left are read now, not when it goes quiet."""
        rows = same_row_moves(rest)  # a jump along the same row is not a row ending
        cut = last_row_move(rows)
        if cut <= 0 or self._prefilter is None or not self._prefilter.search(rows[:cut]):
            return
        self._line(rows[:cut], events)
        self._set_partial(rows[cut:])

    def _seam_hot(self, buf: bytes) -> bool:
        """A keyword wrapped across the break between the last line read and `buf`'s first line."""
        pf = self._prefilter
        assert pf is not None
        if not self._context:
            return False
        tail = self._context[-1][-SEAM:].rstrip().lower()
        # only a line that ends with the first words of a keyword phrase can start a wrapped one
        return tail.endswith(pf.heads) and pf.search_line(tail + b" " + buf[:SEAM].lstrip())

    def _feed_hot_lines(self, buf: bytes, spans: list[tuple[int, int]], events: list[Event]) -> None:
        """Only the lines a keyword lies on, and those a hit still reads, take the line path; the
        runs of lines between them are skipped in bulk (line count and join context only)."""
        pos = 0
        for start, end in sorted(spans):
            if end <= pos:
                continue  # on lines already read
            start = max(start, pos)
            line_start = max(buf.rfind(b"\n", pos, start), buf.rfind(b"\r", pos, start), pos - 1) + 1
            if line_start > pos:
                self._skip(buf[pos:line_start])
            pos = self._walk_lines(buf, line_start, end, events)
            if pos < 0:
                return  # ran into the partial line, which is kept
        self._skip(buf[pos:])

    def _walk_lines(self, buf: bytes, pos: int, until: int, events: list[Event]) -> int:
        """Lines from `pos` through the line path, past offset `until` and then until nothing waits
        on the next line; returns the offset after the last line read, or -1 when the rest of `buf`
        is a partial line (kept)."""
        nl = buf.find(b"\n", pos)
        cr = buf.find(b"\r", pos)
        while True:
            if nl < 0 and cr < 0:
                self._keep_partial(buf[pos:], events)
                return -1
            end = cr if nl < 0 or 0 <= cr < nl else nl
            if end > pos:
                self._line(buf[pos:end], events)
            if end == nl:
                self._lineno += 1
                nl = buf.find(b"\n", end + 1)
            else:
                cr = buf.find(b"\r", end + 1)
            pos = end + 1
            if pos >= until and not self._pending and self._join_left <= 0:
                return pos

    def _set_partial(self, rest: bytes) -> None:
        """Keep the unfinished line; remember whether it already holds a keyword (then the fast path
        is off until it ends), so the prefilter never rescans a long partial line on every read."""
        self._buf = rest
        self._buf_hot = bool(rest) and (self._prefilter is None or bool(self._prefilter.search(rest)))

    def urgent(self, data: bytes) -> bool:
        """Whether `data` holds a rate-limit keyword, so that it is worth scanning at once rather than
        with the next batch (a limit row is read by the group's other watchers and by `status`)."""
        lf, pf = self._limit_filter, self._prefilter
        if lf is None or pf is None:
            return False
        if lf.engine != pf.engine:
            lf.use(pf.engine)  # switched with the main one (engine auto)
        return bool(lf.search_line(data))

    def has_pending(self) -> bool:
        """True while something waits for the runtime to go quiet: a partial line (a prompt or a
        cursor-positioned TUI row never ends in a newline) or a hit still reading its next lines."""
        return bool(self._pending) or (bool(self._buf) and self._buf is not self._quiet_partial)

    def flush(self) -> list[Event]:
        """The runtime went quiet: its partial line is read as a line, and what waited on following
        lines that did not come is emitted. A partial line in which nothing was found is kept open:
        a runtime that pauses inside a line ("You've hit your usa", then the rest) is read whole
        when the rest comes, once."""
        events: list[Event] = []
        if self._buf and self._buf is not self._quiet_partial:
            tail = self._buf
            self._line(tail, events)
            if events:
                self._set_partial(b"")
            else:
                self._quiet_partial = tail
        for pending in self._pending:
            events.append(self._finish_pending(pending))
        self._pending.clear()
        return events

    def finish(self) -> list[Event]:
        """The runtime exited: scan its trailing partial line, then emit what waits."""
        events: list[Event] = []
        if self._buf:
            tail = self._buf
            self._set_partial(b"")
            if tail is not self._quiet_partial:
                self._line(tail, events)
        for pending in self._pending:
            events.append(self._finish_pending(pending))
        self._pending.clear()
        return events

    def new_session(self) -> None:
        """A new runtime process: dialogs may be answered again, no context carries over."""
        self._answered.clear()
        self._titles.clear()
        self._context.clear()
        self._context_limit = None
        self._join_left = 0
        self._pending.clear()
        self._fence_opened = None
        self._set_partial(b"")
        self._cells = self._new_cells()
        if self._documents is not None:
            self._documents = JsonDocuments()

    # -- lines ---------------------------------------------------------------------------------
    def _skip(self, buf: bytes) -> None:
        """Fast path for a chunk with no keyword: keep line numbers and the join context only."""
        if self._count_lines:
            self._lineno += buf.count(b"\n")
        cut = max(buf.rfind(b"\n"), buf.rfind(b"\r"))
        if cut < 0:
            self._buf = buf[-self.max_line:] if len(buf) > self.max_line else buf
            self._buf_hot = False
            return
        self._buf = buf[cut + 1:]
        self._buf_hot = False
        if self._fence_opened is not None:
            return  # lines in a fenced block are never joined
        end = cut
        found: list[bytes] = []
        while len(found) < JOIN_DEPTH:
            end = text_end(buf, end)  # past a run of empty lines
            if end == 0:
                break
            start = max(buf.rfind(b"\n", 0, end), buf.rfind(b"\r", 0, end)) + 1
            found.append(buf[max(start, end - CONTEXT_BYTES):end])
            end = start
        for raw in reversed(found):
            self._context.append(raw)
            self._context_limit = None

    def _line(self, raw: bytes, events: list[Event]) -> None:
        raw = raw[: self.max_line]
        pf = self._prefilter
        if pf is not None and b"\x1b[" in raw and pf.find_lowered(raw.lower()):
            raw = same_row_moves(raw)  # only lines with a keyword: rows read whole
        if pf is None:
            self._texts([t for t in strip_ansi(raw) if t], events)
            return
        hits = pf.find_lowered(raw.lower())
        if not hits:
            if self._seam_hot(raw):
                # a keyword wrapped across the line break (`session` / `limit.`) shows only across it
                self._join_left = JOIN_DEPTH
            elif not self._pending and self._join_left <= 0:
                self._remember(raw)  # the common case: no keyword, nothing waiting on this line
                return
        if len(raw) < ROW_GATE:
            self._texts([t for t in strip_ansi(raw) if t], events)
            return
        # A TUI that positions its cursor draws a whole screen as one line: only the rows that hold
        # a keyword (or that a hit still reads) are cleaned up and read; the others only feed the
        # join context, as `_text` would have used them.
        # Rows are found around the keywords only, not by splitting the whole screen.
        starts = sorted({h[1] for h in hits})
        pos = k = 0  # pos: where the first row not yet read begins
        while True:
            while pos < len(raw) and (self._pending or self._join_left > 0):  # a hit reads on
                row = pos
                end, pos = row_end(raw, row)
                self._texts([t for t in strip_ansi(raw[row:end]) if t], events)
            while k < len(starts) and starts[k] < pos:
                k += 1
            if k == len(starts):
                break
            row, move = row_start(raw, starts[k], pos)
            if move >= pos:
                self._remember_back(raw, pos, move)  # the quiet rows before it: join context
            end, pos = row_end(raw, row)
            self._texts([t for t in strip_ansi(raw[row:end]) if t], events)
        if pos < len(raw):
            self._remember_back(raw, pos, len(raw))

    def _remember_back(self, raw: bytes, start: int, end: int) -> None:
        """The last rows with visible text in raw[start:end] (which ends where a row does), as join
        context: found walking back from `end`, so only those few are cleaned up."""
        kept: list[bytes] = []
        while len(kept) < JOIN_DEPTH:
            row, move = row_start(raw, end, start)
            kept.extend(t.encode() for t in reversed(strip_ansi(raw[row:end])) if t)
            if move < 0:
                break
            end = move
        for text in reversed(kept[:JOIN_DEPTH]):
            self._remember(text)

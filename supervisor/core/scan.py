"""Streaming scanner: a runtime's raw terminal bytes in, frozen Events out. No I/O.

Bytes are cut into lines on `\\n` and `\\r` (a partial line waits for the next read, so a message or
an escape split across two reads still matches), ANSI is removed, invalid UTF-8 is replaced, and a
line is capped at `max_line` bytes. A cheap keyword prefilter over the raw bytes skips the regexes
for the bulk of a TUI's output; signatures only run on lines that hold one of their keywords.

Real messages are not always one line: a TUI wraps a long message at its width, so a line that does
not match alone is retried joined to the one or two lines before it; and a signature may read its
reset (or a cost figure) from the few lines that follow the hit (`lookahead` + `follow`).
"""

from __future__ import annotations

import logging
import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from .figures import parse_count, parse_figure
from .prefilter import LINE_GAP, SEAM, Prefilter, unfold_spans
from .resets import parse_reset
from .signatures import Action, Runtime, Signature

log = logging.getLogger(__name__)

MAX_LINE = 64 * 1024
#: Regexes see at most this many characters at a time (overlapping windows on longer lines), and
#: each search gives up after MATCH_TIMEOUT seconds: no line a runtime prints can stall the relay.
MATCH_WINDOW = 4096
MATCH_TIMEOUT = 0.05
_WINDOW_STEP = MATCH_WINDOW - 512
JOIN_DEPTH = 2
#: A dialog that may come back (`once = false`) is answered again only after this long.
DIALOG_REPEAT = timedelta(seconds=5)
#: Bytes of the partial line the prefilter looks at again with each read (the longest keyword fits).
PROBE_OVERLAP = 256
#: A raw line this long is read row by row (rows split where the cursor moves to another row).
ROW_GATE = 512
#: Bytes of each earlier line kept for wrap joins.
CONTEXT_BYTES = 4096
#: An event's `raw` is its whole line (joined lines for wrapped or multi-line messages), capped.
RAW_MAX = 2000

# CSI sequences that move the cursor to another row start a new visual line; cursor-forward is a gap.
_CSI_NEWLINE = re.compile(rb"\x1b\[[0-9;?]*[HfABEFd]")
_CSI_GAP = re.compile(rb"\x1b\[[0-9]*[CG]")
_ESCAPES = re.compile(
    rb"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI
    rb"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC, ended by BEL or ST
    rb"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"  # DCS, SOS, PM, APC
    rb"|\x1b[()*+#%][0-~]?"  # charset selection
    rb"|\x1b[@-Z\\-_0-9=<>a-z]?"  # two-byte escapes (and a lone ESC)
    rb"|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"  # other control bytes
)


class EventKind(StrEnum):
    RATE_LIMIT = "rate_limit"
    COST = "cost"
    DIALOG = "dialog"


@dataclass(frozen=True)
class Event:
    """One thing the runtime said that the supervisor acts on: a limit hit, a cost report, a dialog."""

    kind: EventKind
    line: int
    raw: str
    signature: str
    action: Action | None = None
    resets_at: datetime | None = None
    reset_text: str | None = None
    model: str | None = None
    resume_keys: str = ""
    usd: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_tokens: int | None = None
    cached_in_input: bool = True
    total: bool = False
    send: str = ""


@dataclass
class _Pending:
    """A hit or cost line still reading its reset or figures from the lines after it."""

    sig: Signature
    line: int
    raw: str
    groups: dict[str, str | None]
    left: int
    extra: list[str] = field(default_factory=list)


def _row_start(raw: bytes, at: int, floor: int) -> tuple[int, int]:
    """(start of the screen row holding offset `at`, start of the cursor move before that row): the
    row starts just past the last move before `at`, or at `floor` (then the move is -1)."""
    e = raw.rfind(b"\x1b[", floor, at)
    while e >= 0:
        m = _CSI_NEWLINE.match(raw, e)
        if m is not None and m.end() <= at:
            return m.end(), e
        e = raw.rfind(b"\x1b[", floor, e)
    return floor, -1


def _row_end(raw: bytes, start: int) -> tuple[int, int]:
    """(end of the row that starts at `start`, start of the row after it)."""
    m = _CSI_NEWLINE.search(raw, start)
    return (m.start(), m.end()) if m is not None else (len(raw), len(raw))


def _text_end(buf: bytes, end: int) -> int:
    """Offset just past the last byte before `end` that is not a line break (0 if there is none):
    a run of empty lines is passed in a few C-speed steps, copying only a short tail at a time."""
    lo = max(end - 512, 0)
    while True:
        kept = len(buf[lo:end].rstrip(b"\r\n"))
        if kept or lo == 0:
            return lo + kept
        end, lo = lo, max(lo - 65536, 0)


_CUP = re.compile(rb"\x1b\[(\d*);(\d*)[Hf]")
_ERASE_LINE = (b"\x1b[2K", b"\x1b[K", b"\x1b[0K")


def same_row_moves(raw: bytes) -> bytes:
    """Cursor jumps to the row the cursor is already on (`\x1b[20;6HKeep\x1b[20;11Hcurrent`, as a
    ratatui TUI draws the words of one row) become column moves, so the row reads as one line. A jump
    back to column 1 that clears the row starts it again (a status bar overdrawn by `Total cost: …`)."""
    if b";" not in raw:
        return raw
    last = [b""]

    def move(m: re.Match[bytes]) -> bytes:
        row = m.group(1) or b"1"
        if row == last[0] and not (m.group(2) in (b"", b"1") and raw.startswith(_ERASE_LINE, m.end())):
            return b"\x1b[" + (m.group(2) or b"1") + b"G"
        last[0] = row
        return m.group(0)

    return _CUP.sub(move, raw)


def strip_ansi(raw: bytes) -> list[str]:
    """Visible text of one raw line, split where the cursor jumped to another row."""
    raw = _CSI_NEWLINE.sub(b"\n", same_row_moves(raw))
    raw = _CSI_GAP.sub(b" ", raw)
    raw = _ESCAPES.sub(b"", raw)
    text = raw.decode("utf-8", errors="replace")
    return [part.strip() for part in text.split("\n")]


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Scanner:
    """Feed it bytes as they arrive; it returns the events those bytes complete."""

    def __init__(self, runtime: Runtime, *, tz: ZoneInfo, clock: Callable[[], datetime] = _utcnow,
                 max_line: int = MAX_LINE, prefilter: str | None = "auto", count_lines: bool = True) -> None:
        """`prefilter`: the Prefilter engine ("auto", "ahocorasick", "loop"), or None for none at
        all (every line through every signature's keywords; tests compare).
        `count_lines`: events carry their line number (`signatures test` shows it; the watcher has
        no use for it and saves a pass over every byte)."""
        self.runtime = runtime
        self.tz = ZoneInfo(runtime.tz) if runtime.tz else tz
        self.clock = clock
        self.max_line = max_line
        self._buf = b""
        self._buf_hot = False
        self._quiet_partial: bytes | None = None  # the partial line a quiet flush read and kept
        self._lineno = 1
        self._count_lines = count_lines
        self._context: deque[bytes] = deque(maxlen=JOIN_DEPTH)
        self._context_limit: bool | None = None  # a rate-limit keyword in the context (None: not looked)
        self._join_left = 0  # lines for which the line above still holds a keyword (wrap joins)
        self._pending: list[_Pending] = []
        self._answered: dict[str, datetime] = {}
        sigs = runtime.rate_limits + runtime.costs + runtime.dialogs
        words = sorted({k for s in sigs for k in s.keywords})
        self._keywords = tuple(sorted({k for s in sigs + runtime.ignores for k in s.keywords}))
        self._found_for: str | None = None
        self._found: frozenset[str] = frozenset()
        self._limits = _KeywordIndex(runtime.rate_limits)
        self._ignores = _KeywordIndex(runtime.ignores)
        self._cost_sigs = _KeywordIndex(runtime.costs)
        self._dialog_sigs = _KeywordIndex(runtime.dialogs)
        limit_words = sorted({k for s in runtime.rate_limits for k in s.keywords})
        self._limit_keywords = frozenset(limit_words)
        # its engine follows the main prefilter's (see _may_join_limit): it never switches on its own
        self._limit_filter = Prefilter(limit_words, engine="loop" if prefilter == "auto" else prefilter) \
            if prefilter is not None and limit_words and all(s.keywords for s in runtime.rate_limits) else None
        usable = prefilter is not None and words and all(s.keywords for s in sigs)
        self._prefilter = Prefilter(words, engine=prefilter) if usable else None

    # -- public --------------------------------------------------------------------------------
    def feed(self, data: bytes) -> list[Event]:
        """Scan `data`; a trailing partial line is kept for the next call."""
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
            if not hits and wrapped == [] and not first_line:
                self._skip(buf)  # the bulk of a TUI's output: no keyword, no line work
                return events
            spans = [(start + at, end + at) for _, start, end in hits]
            if wrapped is None:
                # a keyword may hide a wrap mark: look again with line breaks folded
                folded = pf.find_folded(low)
                if sorted(h[0] for h in folded) != sorted(h[0] for h in hits):
                    spans = [(start + at, end + at) for start, end in unfold_spans(low, folded)]
            else:
                # a phrase's first words end a line: read on if the next line goes on with the phrase
                spans += [(start + at, end + at) for start, end in pf.wraps(low, wrapped)]
            if first_line:
                spans.append((0, LINE_GAP.match(buf).end() + 1))  # through the first line with text
            self._feed_hot_lines(buf, spans, events)
            return events
        self._feed_lines(buf, events)
        return events

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
        self._context.clear()
        self._context_limit = None
        self._join_left = 0
        self._pending.clear()
        self._set_partial(b"")

    # -- lines ---------------------------------------------------------------------------------
    def _keywords_in(self, low: str) -> frozenset[str]:
        """The signature keywords in one lower-cased text (one pass, reused by every signature)."""
        if low is not self._found_for:
            self._found_for = low
            self._found = frozenset(k for k in self._keywords if k in low)
        return self._found

    def _remember(self, raw: bytes) -> None:
        """Keep a line for wrap joins, raw: it is only cleaned up if a later line needs it."""
        self._context.append(raw[-CONTEXT_BYTES:])
        self._context_limit = None

    def _context_texts(self) -> list[str]:
        texts: list[str] = []
        for raw in self._context:
            texts.extend(t for t in strip_ansi(raw) if t)
        return texts[-JOIN_DEPTH:]

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
        end = cut
        found: list[bytes] = []
        while len(found) < JOIN_DEPTH:
            end = _text_end(buf, end)  # past a run of empty lines
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
                end, pos = _row_end(raw, row)
                self._texts([t for t in strip_ansi(raw[row:end]) if t], events)
            while k < len(starts) and starts[k] < pos:
                k += 1
            if k == len(starts):
                break
            row, move = _row_start(raw, starts[k], pos)
            if move >= pos:
                self._remember_back(raw, pos, move)  # the quiet rows before it: join context
            end, pos = _row_end(raw, row)
            self._texts([t for t in strip_ansi(raw[row:end]) if t], events)
        if pos < len(raw):
            self._remember_back(raw, pos, len(raw))

    def _remember_back(self, raw: bytes, start: int, end: int) -> None:
        """The last rows with visible text in raw[start:end] (which ends where a row does), as join
        context: found walking back from `end`, so only those few are cleaned up."""
        kept: list[bytes] = []
        while len(kept) < JOIN_DEPTH:
            row, move = _row_start(raw, end, start)
            kept.extend(t.encode() for t in reversed(strip_ansi(raw[row:end])) if t)
            if move < 0:
                break
            end = move
        for text in reversed(kept[:JOIN_DEPTH]):
            self._remember(text)

    def _texts(self, texts: list[str], events: list[Event]) -> None:
        i, n = 0, len(texts)
        while i < n:
            if self._prefilter is not None and not self._pending and self._join_left <= 0:
                # skip texts with no keyword (only the last ones are kept, for wrap joins) as
                # `_text` would, without its work
                j = i
                while j < n and not self._prefilter.in_text(texts[j].lower()):
                    j += 1
                for text in texts[max(i, j - JOIN_DEPTH):j]:
                    self._remember(text.encode())
                if j == n:
                    break
                i = j
            self._text(texts[i], events)
            i += 1

    def _text(self, text: str, events: list[Event]) -> None:
        line = self._lineno if self._count_lines else 0
        self._advance_pending(text, events)
        low = text.lower()
        if self._prefilter is not None and not self._prefilter.in_text(low):
            if self._join_left <= 0:
                self._remember(text.encode())
                return
            self._join_left -= 1
        elif self._prefilter is None or not self._limit_keywords.isdisjoint(self._keywords_in(low)):
            self._join_left = JOIN_DEPTH  # a limit message may go on over the next lines: join them
        hit = self._rate_limit(text, low, line, events)
        if not hit and self._may_join_limit(low):
            context = self._context_texts()
            for depth in range(1, len(context) + 1):
                joined = " ".join(context[-depth:] + [text])
                if self._rate_limit(joined, joined.lower(), line, events):
                    hit = True
                    break
        self._costs(text, low, line, events)
        self._dialogs(text, low, line, events)
        if hit:
            self._context.clear()
            self._context_limit = None
            self._join_left = 0
        else:
            self._remember(text.encode())

    def _may_join_limit(self, low: str) -> bool:
        """Whether this text joined to the lines before it could hold a rate-limit keyword: a cheap
        test on the raw context (keywords are whole in the raw bytes, as for the prefilter), so cost
        and dialog lines skip cleaning up the context for joins."""
        if not self._context:
            return False
        lf = self._limit_filter
        if lf is None:
            return True
        assert self._prefilter is not None
        if lf.engine != self._prefilter.engine:
            lf.use(self._prefilter.engine)  # switched with the main one (engine auto)
        if self._context_limit is None:  # looked at once per change of the context
            self._context_limit = lf.maybe(b"\n".join(self._context).lower())
        if self._context_limit:
            return True
        text = low.encode()
        return lf.maybe(text) or lf.maybe(self._context[-1][-SEAM:].lower() + b"\n" + text[:SEAM])

    def _rate_limit(self, text: str, low: str, line: int, events: list[Event]) -> bool:
        candidates = self._limits.woken(self._keywords_in(low))
        if not candidates or self._ignored(text, low):
            return False
        for sig in candidates:
            m = _search(sig.regex, text)
            if m is None:
                continue
            groups = _groups(m)
            reset_text = groups.get(sig.reset_group) if sig.reset != "none" else None
            if not reset_text and sig.follow is not None:
                self._pending.append(_Pending(sig, line, text[:RAW_MAX], groups, sig.lookahead))
            else:
                events.append(self._rate_event(sig, line, text[:RAW_MAX], groups))
            return True
        return False

    def _ignored(self, text: str, low: str) -> bool:
        return any(_search(s.regex, text) for s in self._ignores.woken(self._keywords_in(low)))

    def _costs(self, text: str, low: str, line: int, events: list[Event]) -> None:
        for sig in self._cost_sigs.woken(self._keywords_in(low)):
            m = _search(sig.regex, text)
            if m is None:
                continue
            groups = _groups(m)
            wanted = set(sig.follow.groupindex) if sig.follow is not None else set()
            if wanted - {k for k, v in groups.items() if v}:
                self._pending.append(_Pending(sig, line, text[:RAW_MAX], groups, sig.lookahead))
            else:
                event = self._cost_event(sig, line, text[:RAW_MAX], groups)
                if event is not None:
                    events.append(event)

    def _dialogs(self, text: str, low: str, line: int, events: list[Event]) -> None:
        for sig in self._dialog_sigs.woken(self._keywords_in(low)):
            last = self._answered.get(sig.id)
            if last is not None and (sig.once or self.clock() - last < DIALOG_REPEAT):
                continue  # a TUI redraws a dialog many times before it takes the keys: answer once
            if _search(sig.regex, text):
                self._answered[sig.id] = self.clock()
                events.append(Event(EventKind.DIALOG, line, text[:RAW_MAX], sig.id, send=sig.send))

    # -- pending lookahead ---------------------------------------------------------------------
    def _advance_pending(self, text: str, events: list[Event]) -> None:
        still: list[_Pending] = []
        for pending in self._pending:
            assert pending.sig.follow is not None
            m = _search(pending.sig.follow, text)
            if m is not None:
                for key, value in _groups(m).items():
                    if value and not pending.groups.get(key):
                        pending.groups[key] = value
                pending.extra.append(text)
            pending.left -= 1
            done = pending.left <= 0 or self._complete(pending)
            if done:
                events.append(self._finish_pending(pending))
            else:
                still.append(pending)
        self._pending = still

    def _complete(self, pending: _Pending) -> bool:
        sig = pending.sig
        if sig.kind == "rate_limit":
            return bool(pending.groups.get(sig.reset_group))
        wanted = set(sig.follow.groupindex) if sig.follow is not None else set()
        return not (wanted - {k for k, v in pending.groups.items() if v})

    def _finish_pending(self, pending: _Pending) -> Event:
        raw = " ".join([pending.raw] + pending.extra)[:RAW_MAX]
        if pending.sig.kind == "rate_limit":
            return self._rate_event(pending.sig, pending.line, raw, pending.groups)
        event = self._cost_event(pending.sig, pending.line, raw, pending.groups)
        return event if event is not None else Event(EventKind.COST, pending.line, raw, pending.sig.id)

    # -- events --------------------------------------------------------------------------------
    def _rate_event(self, sig: Signature, line: int, raw: str, groups: dict[str, str | None]) -> Event:
        reset_text = groups.get(sig.reset_group) if sig.reset != "none" else None
        resets_at = None
        if reset_text:
            zone = ZoneInfo(sig.tz) if sig.tz else self.tz
            resets_at = parse_reset(reset_text, sig.reset, self.clock(), zone)
        return Event(EventKind.RATE_LIMIT, line, raw, sig.id, action=sig.action, resets_at=resets_at,
                     reset_text=reset_text, model=groups.get(sig.model_group) or None,
                     resume_keys=sig.resume_keys)

    def _cost_event(self, sig: Signature, line: int, raw: str, groups: dict[str, str | None]) -> Event | None:
        usd = parse_figure(groups.get("usd"))
        inp = parse_count(groups.get("input"))
        out = parse_count(groups.get("output"))
        cached = parse_count(groups.get("cached"))
        if usd is None and inp is None and out is None:
            return None
        return Event(EventKind.COST, line, raw, sig.id, usd=usd, input_tokens=inp, output_tokens=out,
                     cached_tokens=cached, cached_in_input=sig.cached_in_input, total=sig.total,
                     model=groups.get("model") or None)


class _KeywordIndex:
    """Signatures by the keywords that wake them: a text's keywords give its candidates at once,
    in the order the descriptor lists them, instead of each signature testing its own."""

    def __init__(self, sigs: tuple[Signature, ...]) -> None:
        self.sigs = sigs
        by_keyword: dict[str, list[int]] = {}
        for i, sig in enumerate(sigs):
            for k in sig.keywords:
                by_keyword.setdefault(k, []).append(i)
        self.by_keyword = {k: tuple(v) for k, v in by_keyword.items()}
        self.keywordless = tuple(i for i, sig in enumerate(sigs) if not sig.keywords)

    def woken(self, found: frozenset[str]) -> list[Signature]:
        """The signatures one of `found` wakes, and those with no keyword, in order."""
        if not found:
            return [self.sigs[i] for i in self.keywordless]
        at = set(self.keywordless).union(*(self.by_keyword.get(k, ()) for k in found))
        return [self.sigs[i] for i in sorted(at)]


def _search(pattern: Any, text: str) -> Any:
    """First match in `text` (in windows when long), or None; a search that times out is a miss."""
    pattern = getattr(pattern, "compiled", pattern)  # a LazyPattern: its compiled pattern, no wrapper call
    try:
        if len(text) <= MATCH_WINDOW:
            return pattern.search(text, timeout=MATCH_TIMEOUT)
        for start in range(0, len(text), _WINDOW_STEP):
            m = pattern.search(text[start:start + MATCH_WINDOW], timeout=MATCH_TIMEOUT)
            if m is not None:
                return m
    except TimeoutError:
        log.warning("signature regex %r timed out on a %d-character line; skipped", pattern.pattern[:80],
                    len(text))
    return None


def _groups(m: Any) -> dict[str, str | None]:
    groups: dict[str, str | None] = dict(m.groupdict())
    for i in range(1, (m.re.groups or 0) + 1):
        groups.setdefault(str(i), m.group(i))
    return groups

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
#: Bytes on each side of a line break looked at for a keyword wrapped across it.
SEAM = 64
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


def strip_ansi(raw: bytes) -> list[str]:
    """Visible text of one raw line, split where the cursor jumped to another row."""
    raw = _CSI_NEWLINE.sub(b"\n", raw)
    raw = _CSI_GAP.sub(b" ", raw)
    raw = _ESCAPES.sub(b"", raw)
    text = raw.decode("utf-8", errors="replace")
    return [part.strip() for part in text.split("\n")]


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Scanner:
    """Feed it bytes as they arrive; it returns the events those bytes complete."""

    def __init__(self, runtime: Runtime, *, tz: ZoneInfo, clock: Callable[[], datetime] = _utcnow,
                 max_line: int = MAX_LINE) -> None:
        self.runtime = runtime
        self.tz = ZoneInfo(runtime.tz) if runtime.tz else tz
        self.clock = clock
        self.max_line = max_line
        self._buf = b""
        self._buf_hot = False
        self._lineno = 1
        self._context: deque[bytes] = deque(maxlen=JOIN_DEPTH)
        self._join_left = 0  # lines for which the line above still holds a keyword (wrap joins)
        self._pending: list[_Pending] = []
        self._answered: dict[str, datetime] = {}
        sigs = runtime.rate_limits + runtime.costs + runtime.dialogs
        words = sorted({k for s in sigs for k in s.keywords})
        self._prefilter = Prefilter(words) if words and all(s.keywords for s in sigs) else None

    # -- public --------------------------------------------------------------------------------
    def feed(self, data: bytes) -> list[Event]:
        """Scan `data`; a trailing partial line is kept for the next call."""
        events: list[Event] = []
        if self._prefilter is not None and not self._pending and not self._buf_hot \
                and not self._prefilter.search(self._probe(data)):
            self._skip(self._buf + data if self._buf else data)
            return events
        buf = self._buf + data if self._buf else data
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
        while len(rest) > self.max_line:
            head, rest = rest[: self.max_line], rest[self.max_line:]
            self._line(head, events)
        self._set_partial(rest)
        return events

    def _set_partial(self, rest: bytes) -> None:
        """Keep the unfinished line; remember whether it already holds a keyword (then the fast path
        is off until it ends), so the prefilter never rescans a long partial line on every read."""
        self._buf = rest
        self._buf_hot = bool(rest) and (self._prefilter is None or bool(self._prefilter.search(rest)))

    def has_pending(self) -> bool:
        """True while something waits for the runtime to go quiet: a partial line (a prompt or a
        cursor-positioned TUI row never ends in a newline) or a hit still reading its next lines."""
        return bool(self._pending) or bool(self._buf)

    def flush(self) -> list[Event]:
        """The runtime went quiet: its partial line counts as a line, and what waited on following
        lines that did not come is emitted."""
        events: list[Event] = []
        if self._buf:
            tail = self._buf
            self._set_partial(b"")
            self._line(tail, events)
        for pending in self._pending:
            events.append(self._finish_pending(pending))
        self._pending.clear()
        return events

    def finish(self) -> list[Event]:
        """The runtime exited: scan its trailing partial line, then emit what waits."""
        return self.flush()

    def new_session(self) -> None:
        """A new runtime process: dialogs may be answered again, no context carries over."""
        self._answered.clear()
        self._context.clear()
        self._join_left = 0
        self._pending.clear()
        self._set_partial(b"")

    # -- lines ---------------------------------------------------------------------------------
    def _probe(self, data: bytes) -> bytes:
        """What the prefilter looks at: the new bytes, the end of the partial line before them (a
        keyword split across two reads) and the join context (a message wrapped across lines)."""
        head = self._buf[-PROBE_OVERLAP:]
        if self._context:
            head = b" ".join(r[-512:].strip() for r in self._context) + b" " + head
        return head + data if head else data

    def _remember(self, raw: bytes) -> None:
        """Keep a line for wrap joins, raw: it is only cleaned up if a later line needs it."""
        self._context.append(raw[-CONTEXT_BYTES:])

    def _context_texts(self) -> list[str]:
        texts: list[str] = []
        for raw in self._context:
            texts.extend(t for t in strip_ansi(raw) if t)
        return texts[-JOIN_DEPTH:]

    def _skip(self, buf: bytes) -> None:
        """Fast path for a chunk with no keyword: keep line numbers and the join context only."""
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
        while end > 0 and len(found) < JOIN_DEPTH:
            start = max(buf.rfind(b"\n", 0, end), buf.rfind(b"\r", 0, end)) + 1
            if end - start > 0:
                found.append(buf[max(start, end - CONTEXT_BYTES):end])
            end = start - 1
        for raw in reversed(found):
            self._context.append(raw)

    def _line(self, raw: bytes, events: list[Event]) -> None:
        raw = raw[: self.max_line]
        joined_hot = False
        if self._prefilter is not None and not self._pending and self._join_left <= 0 \
                and not self._prefilter.search_line(raw):
            # A keyword wrapped across the line break (`session` / `limit.`) shows only across it.
            joined_hot = bool(self._context) and self._prefilter.search_line(
                self._context[-1][-SEAM:].rstrip() + b" " + raw[:SEAM].lstrip())
            if not joined_hot:
                self._remember(raw)  # the common case: no keyword, nothing waiting on this line
                return
        if joined_hot:
            self._join_left = JOIN_DEPTH
        for text in strip_ansi(raw):
            if text:
                self._text(text, events)

    def _text(self, text: str, events: list[Event]) -> None:
        line = self._lineno
        self._advance_pending(text, events)
        low = text.lower()
        if self._prefilter is not None and not self._prefilter.in_text(low):
            if self._join_left <= 0:
                self._remember(text.encode())
                return
            self._join_left -= 1
        else:
            self._join_left = JOIN_DEPTH
        hit = self._rate_limit(text, low, line, events)
        if not hit:
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
            self._join_left = 0
        else:
            self._remember(text.encode())

    def _rate_limit(self, text: str, low: str, line: int, events: list[Event]) -> bool:
        candidates = [s for s in self.runtime.rate_limits if _has_keyword(s, low)]
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
        return any(_has_keyword(s, low) and _search(s.regex, text) for s in self.runtime.ignores)

    def _costs(self, text: str, low: str, line: int, events: list[Event]) -> None:
        for sig in self.runtime.costs:
            if not _has_keyword(sig, low):
                continue
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
        for sig in self.runtime.dialogs:
            last = self._answered.get(sig.id)
            if last is not None and (sig.once or self.clock() - last < DIALOG_REPEAT):
                continue  # a TUI redraws a dialog many times before it takes the keys: answer once
            if _has_keyword(sig, low) and _search(sig.regex, text):
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


_WRAP = re.compile(rb"\n[ \t]*")


class Prefilter:
    """A fast necessary condition for "some signature may match here", on raw bytes.

    The needles are the keywords themselves (a keyword that holds another is dropped), looked for in
    the lower-cased bytes with line breaks (and the indentation after them) turned into one space, so
    a keyword wrapped across lines still trips it. `bytes.lower`, `replace` and `in` run at memory
    speed; a regex alternation of many literals is ~5x slower, and single words as needles are not
    selective enough (measured: "cache" alone is in 90% of a coding agent's 4 KiB reads).
    """

    def __init__(self, keywords: list[str]) -> None:
        phrases = {" ".join(k.split()) for k in keywords if k.strip()}
        kept = sorted(p for p in phrases if not any(o != p and o in p for o in phrases))
        self.needles = tuple(p.encode() for p in kept)
        # On one short line a single alternation beats the loop (measured 2.2 vs 4.0 us); on a whole
        # 4 KiB read the loop of `in` tests is five times faster than the alternation.
        self._line_re = re.compile(b"|".join(re.escape(n) for n in self.needles))
        self._text_re = re.compile("|".join(re.escape(p) for p in kept))

    def search(self, data: bytes) -> bool:
        low = _WRAP.sub(b" ", data.lower().replace(b"\r", b""))
        for needle in self.needles:  # a plain loop: any() with a generator costs twice as much here
            if needle in low:
                return True
        return False

    def search_line(self, raw: bytes) -> bool:
        """The same test on one raw line (no line breaks to fold)."""
        return self._line_re.search(raw.lower()) is not None

    def in_text(self, low: str) -> bool:
        """The same test on one lower-cased line of text (ANSI already removed)."""
        if "  " in low:
            low = " ".join(low.split())
        return self._text_re.search(low) is not None


def _has_keyword(sig: Signature, low: str) -> bool:
    return not sig.keywords or any(k in low for k in sig.keywords)


def _search(pattern: Any, text: str) -> Any:
    """First match in `text` (in windows when long), or None; a search that times out is a miss."""
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

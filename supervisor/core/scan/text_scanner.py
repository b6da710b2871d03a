"""The scanner's text side: each visible text of a line against the runtime's signatures.

Scanner (scanner.py) cuts raw bytes into lines and hands on the texts worth reading; this base class
holds what it matches them with. A text that does not match alone is retried joined to the one or
two texts before it (a message the TUI wrapped); a hit or cost line whose reset or figures follow
it waits for them (`lookahead` + `follow`); a dialog is answered once. Events are built here.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ..descriptors.model import Runtime, Signature
from ..lazy_dataclass import lazy_dataclass
from .events import Event, EventKind
from .figures import parse_count, parse_figure
from .lookalike import FENCE_MARKS, is_fence, shape
from .prefilter import SEAM, Prefilter
from .screen_text import strip_ansi
from .wrapped import WRAP_ROWS, Held, may_go_on, read_on

log = logging.getLogger(f"{__package__}.scan")  # the scanner's log: its records keep the name they had

#: Regexes see at most this many characters at a time (overlapping windows on longer lines), and
#: each search gives up after MATCH_TIMEOUT seconds: no line a runtime prints can stall the relay.
MATCH_WINDOW = 4096
MATCH_TIMEOUT = 0.05
_WINDOW_STEP = MATCH_WINDOW - 512
JOIN_DEPTH = 2
#: A dialog that may come back (`once = false`) is answered again only after this long.
DIALOG_REPEAT = timedelta(seconds=5)
#: A dialog with an `after` (its title) is answered only while its title was drawn this recently.
DIALOG_TITLE_WINDOW = timedelta(seconds=10)
#: Bytes of each earlier line kept for wrap joins.
CONTEXT_BYTES = 4096
#: An event's `raw` is its whole line (joined lines for wrapped or multi-line messages), capped.
RAW_MAX = 2000
#: A code fence left open (a model's unclosed block) stops hiding the lines after it this long after.
FENCE_MAX = timedelta(seconds=120)


@lazy_dataclass
class _Pending:
    """A hit or cost line still reading its reset or figures from the lines after it."""

    sig: Signature
    line: int
    raw: str
    groups: dict[str, str | None]
    left: int
    extra: list[str] = field(default_factory=list)
    held: Held | None = None  # a notice that may go on over the next rows (wrapped.py)


def utcnow() -> datetime:
    return datetime.now(UTC)


class TextScanner:
    """The signatures of one runtime, the join context and what waits on the lines to come; the
    base of Scanner, which feeds it."""

    def __init__(self, runtime: Runtime, tz: ZoneInfo, clock: Callable[[], datetime], prefilter: str | None,
                 count_lines: bool) -> None:
        """The text side's part of Scanner.__init__ (which documents the arguments)."""
        self.runtime = runtime
        self.tz = ZoneInfo(runtime.tz) if runtime.tz else tz
        self.clock = clock
        self._lineno = 1
        self._count_lines = count_lines
        self._context: deque[bytes] = deque(maxlen=JOIN_DEPTH)
        self._context_limit: bool | None = None  # a rate-limit keyword in the context (None: not looked)
        self._join_left = 0  # lines for which the line above still holds a keyword (wrap joins)
        self._pending: list[_Pending] = []
        self._answered: dict[str, datetime] = {}
        self._titles: dict[str, datetime] = {}  # when each dialog's `after` (its title) was last drawn
        self._fence_opened: datetime | None = None  # inside a fenced code block since then
        sigs = runtime.rate_limits + runtime.costs + runtime.dialogs
        words = sorted({k for s in sigs for k in s.keywords})
        self._keywords = tuple(sorted({k for s in sigs + runtime.ignores for k in s.keywords}))
        self._found_for: str | None = None
        self._found: frozenset[str] = frozenset()
        self._limits = KeywordIndex(runtime.rate_limits)
        self._ignores = KeywordIndex(runtime.ignores)
        # a total the TUI redraws in place is read from the screen's cells (Scanner), not from lines
        self._cost_sigs = KeywordIndex(tuple(s for s in runtime.costs if not s.in_place))
        self._dialog_sigs = KeywordIndex(runtime.dialogs)
        limit_words = sorted({k for s in runtime.rate_limits for k in s.keywords})
        self._limit_keywords = frozenset(limit_words)
        # its engine follows the main prefilter's (see _may_join_limit): it never switches on its own
        self._limit_filter = Prefilter(limit_words, engine="loop" if prefilter == "auto" else prefilter) \
            if prefilter is not None and limit_words and all(s.keywords for s in runtime.rate_limits) else None
        usable = prefilter is not None and words and all(s.keywords for s in sigs)
        # a fence line wakes the line path too: what lies between two fences is never a notice
        self._prefilter = Prefilter(sorted({*words, *FENCE_MARKS}), engine=prefilter) if usable else None

    # -- texts ---------------------------------------------------------------------------------
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

    def _texts(self, texts: list[str], events: list[Event]) -> None:
        i, n = 0, len(texts)
        while i < n:
            if self._prefilter is not None and not self._pending and self._join_left <= 0:
                # skip texts with no keyword (only the last ones are kept, for wrap joins) as
                # `_text` would, without its work
                j = i
                while j < n and not self._prefilter.in_text(texts[j].lower()):
                    j += 1
                if self._fence_opened is None:  # what lies in a fenced block is never joined
                    for text in texts[max(i, j - JOIN_DEPTH):j]:
                        self._remember(text.encode())
                if j == n:
                    break
                i = j
            self._text(texts[i], events)
            i += 1

    def _fenced(self, text: str) -> bool:
        """Whether `text` is a fence line or lies inside a fenced block (issue 23: fenced, diffed
        and quoted text never counts). A fence left open stops counting after FENCE_MAX."""
        if is_fence(text):
            self._toggle_fence()
            return True
        if self._fence_opened is None:
            return False
        if self.clock() - self._fence_opened > FENCE_MAX:
            self._fence_opened = None
            return False
        return True

    def _toggle_fence(self) -> None:
        """A fence line: it opens a block, or closes the open one (even one past FENCE_MAX). No
        notice wraps across a fence: the lines before it never join the lines after it."""
        self._fence_opened = None if self._fence_opened is not None else self.clock()
        self._context.clear()
        self._context_limit = None
        self._join_left = 0

    def _text(self, text: str, events: list[Event]) -> None:
        line = self._lineno if self._count_lines else 0
        if self._advance_pending(text, events):
            self._remember(text.encode())
            return  # the next row of a notice the terminal wrapped: read with it
        if self._fenced(text):
            return  # nor is it context for a join
        low = text.lower()
        if self._prefilter is not None and not self._prefilter.in_text(low):
            if self._join_left <= 0:
                self._remember(text.encode())
                return
            self._join_left -= 1
        elif self._prefilter is None or not self._limit_keywords.isdisjoint(self._keywords_in(low)):
            self._join_left = JOIN_DEPTH  # a limit message may go on over the next lines: join them
        odd = shape(text)
        hit = odd is None and self._rate_limit(text, low, line, events)
        if not hit and odd is None and self._may_join_limit(low):
            context = self._context_texts()
            for depth in range(1, len(context) + 1):
                joined = " ".join(context[-depth:] + [text])
                if shape(joined) is None and self._rate_limit(joined, joined.lower(), line, events):
                    hit = True
                    break
        if odd is None:
            self._costs(text, low, line, events)
        if shape(text, dialog=True) is None:
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
            m = search_windows(sig.regex, text)
            if m is None:
                continue
            groups = match_groups(m)
            reset_text = groups.get(sig.reset_group) if sig.reset != "none" else None
            if may_go_on(text, m, reset_text, sig.reset, sig.reset_group):
                held = Held([text], m.end(), groups={k: v for k, v in groups.items() if v})
                self._pending.append(_Pending(sig, line, text[:RAW_MAX], groups, max(sig.lookahead, WRAP_ROWS),
                                              held=held))
            elif not reset_text and sig.follow is not None:
                self._pending.append(_Pending(sig, line, text[:RAW_MAX], groups, sig.lookahead))
            else:
                events.append(self._rate_event(sig, line, text[:RAW_MAX], groups))
            return True
        return False

    def _ignored(self, text: str, low: str) -> bool:
        return any(search_windows(s.regex, text) for s in self._ignores.woken(self._keywords_in(low)))

    def _costs(self, text: str, low: str, line: int, events: list[Event]) -> None:
        for sig in self._cost_sigs.woken(self._keywords_in(low)):
            if sig.after is not None and not self._under_title(sig, text):
                continue
            m = search_windows(sig.regex, text)
            if m is None:
                continue
            groups = match_groups(m)
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
            if sig.after is not None and not self._under_title(sig, text):
                continue
            if search_windows(sig.regex, text):
                self._answered[sig.id] = self.clock()
                events.append(Event(EventKind.DIALOG, line, text[:RAW_MAX], sig.id, send=sig.send))

    def _under_title(self, sig: Signature, text: str) -> bool:
        """Whether the dialog's title (`after`) is on screen: drawn in this text or just before it.
        Its options alone ("2. Stop", "2. Yes, I accept") are what a model's numbered list looks like."""
        assert sig.after is not None
        now = self.clock()
        if search_windows(sig.after, text):
            self._titles[sig.id] = now
            return True
        seen = self._titles.get(sig.id)
        return seen is not None and now - seen <= DIALOG_TITLE_WINDOW

    # -- pending lookahead ---------------------------------------------------------------------
    def _advance_pending(self, text: str, events: list[Event]) -> bool:
        """The next text for what waits on it; True when it was the next row of a held notice."""
        still: list[_Pending] = []
        consumed = False
        for pending in self._pending:
            held = pending.held
            if held is not None and read_on(held, text, search_windows, pending.sig.regex, match_groups,
                                            pending.sig.reset_group):
                consumed = True
                pending.raw = " ".join(held.rows)[:RAW_MAX]
                pending.groups.update(held.groups)
            if pending.sig.follow is not None and (held is None or not held.grew):
                m = search_windows(pending.sig.follow, text)
                if m is not None:
                    for key, value in match_groups(m).items():
                        if value and not pending.groups.get(key):
                            pending.groups[key] = value
                    pending.extra.append(text)
            pending.left -= 1
            done = pending.left <= 0 or (not (held is not None and held.grew) and self._complete(pending))
            if done:
                events.append(self._finish_pending(pending))
            else:
                still.append(pending)
        self._pending = still
        return consumed

    def _complete(self, pending: _Pending) -> bool:
        sig = pending.sig
        if sig.kind == "rate_limit":
            return sig.reset == "none" or bool(pending.groups.get(sig.reset_group))
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
            from ..resets.parse import parse_reset  # with the first hit: an idle watcher never reads a reset

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
        out = _with_reasoning(out, inp, parse_count(groups.get("reasoning")), parse_count(groups.get("all_tokens")))
        return Event(EventKind.COST, line, raw, sig.id, usd=usd, input_tokens=inp, output_tokens=out,
                     cached_tokens=cached, cached_in_input=sig.cached_in_input, total=sig.total,
                     model=groups.get("model") or None)


def _with_reasoning(out: int | None, inp: int | None, reasoning: int | None, all_tokens: int | None) -> int | None:
    """Output tokens with the reasoning ones a CLI prints apart (opencode's `"reasoning":20` beside
    `"output":36`), or leaves out of its output but not of its total (Gemini CLI's stream-json
    `total_tokens` counts thoughts): both are billed as output."""
    if out is None:
        return out
    if reasoning:
        out += reasoning
    if all_tokens is not None and inp is not None and all_tokens - inp > out:
        out = all_tokens - inp
    return out


class KeywordIndex:
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


def search_windows(pattern: Any, text: str) -> Any:
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


def match_groups(m: Any) -> dict[str, str | None]:
    groups: dict[str, str | None] = dict(m.groupdict())
    for i in range(1, (m.re.groups or 0) + 1):
        groups.setdefault(str(i), m.group(i))
    return groups

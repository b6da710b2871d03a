"""The scanner's prefilter: which keywords a run of raw output bytes holds, and where, in one pass.

Every byte a runtime prints goes through here, so this is the relay's hot path: a Scanner reads
lines only where the prefilter found a keyword (or the start of a keyword phrase at the end of a
line, which may be wrapped onto the next one).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ..lazyre import LazyPattern

#: Bytes on each side of a line break looked at for a keyword wrapped across it.
SEAM = 64

_WRAP = re.compile(rb"\n[ \t]*")
#: A TUI that moves its cursor instead of printing blanks (`Quick\x1b[8Gsafety`) or colours a word:
#: column moves read as one blank, other CSI sequences as nothing (as the terminal shows it).
_COLUMN_MOVE = re.compile(rb"\x1b\[[0-9]*[cg]|\x1b\[[0-9]*;[0-9]*[hf]")  # (lower-cased bytes)
_OTHER_CSI = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]")
#: Bytes after a phrase's first word read again as the terminal shows them, to find the phrase.
DRAWN_WINDOW = 320
LINE_GAP = re.compile(rb"[\r\n \t]*")  # line breaks and the indentation after them

#: A hit: (needle index, start, end) in the bytes searched.
Hit = tuple[int, int, int]


def _loop_matcher(needles: tuple[bytes, ...]) -> Callable[[bytes], list[Hit]]:
    """Pure-Python stand-in for the Aho-Corasick matcher (used where its wheel is missing)."""

    def find(low: bytes) -> list[Hit]:
        hits: list[Hit] = []
        for i, needle in enumerate(needles):
            at = low.find(needle)
            while at >= 0:
                hits.append((i, at, at + len(needle)))
                at = low.find(needle, at + len(needle))
        return hits

    return find


def _ahocorasick() -> Any:
    """ahocorasick_rs, imported on first use (0.9 MB a watcher that stays quiet never pays), or
    None where its wheel is missing: the loop of `bytes.find` stands in."""
    try:
        import ahocorasick_rs
    except ImportError:  # pragma: no cover - the wheel exists for the usual platforms
        return None
    return ahocorasick_rs


def _matcher(needles: tuple[bytes, ...], engine: str) -> Callable[[bytes], list[Hit]]:
    ac = _ahocorasick() if engine == "ahocorasick" else None
    if ac is not None:
        # a DFA: about 3x the default automaton's speed on a flood with Claude Code's ~200 needles
        # and marks (430 against 130 MB/s here), for about 0.2 MiB and 1 ms to build
        dfa = getattr(getattr(ac, "Implementation", None), "DFA", None)
        return ac.BytesAhoCorasick(list(needles), matchkind=ac.MATCHKIND_LEFTMOST_FIRST,
                                   **({"implementation": dfa} if dfa is not None else {})).find_matches_as_indexes
    return _loop_matcher(needles)


#: With engine "auto", bytes scanned with the loop of `bytes.find` before switching to ahocorasick_rs
#: (each call counts at least 512): a quiet agent never loads it, a busy one switches within a
#: second of output. The loop costs about 60 ms per MiB with Claude Code's ~170 needles and marks.
AUTO_SWITCH_BYTES = 1 << 15


class Prefilter:
    """A fast necessary condition for "some signature may match here", on raw bytes, and where.

    The needles are the keywords themselves (a keyword that holds another is dropped), looked for in
    the lower-cased bytes. One pass finds them all: ahocorasick_rs (a SIMD literal matcher, 3.6 us per
    4 KiB read here) where its wheel exists, else a loop of `bytes.find` (about 1.5 us per needle per
    4 KiB). The same pass finds wrap marks, a phrase's first words at the end of a line: a keyword
    wrapped there is confirmed by what starts the next line (`wraps`). When a keyword could hide a
    mark (`_hiders`), the read is searched again with line breaks folded into one space.
    """

    def __init__(self, keywords: list[str], engine: str = "auto") -> None:
        """`engine`: "ahocorasick", "loop", or "auto" (the loop first, ahocorasick_rs once
        AUTO_SWITCH_BYTES have been scanned)."""
        phrases = {" ".join(k.split()) for k in keywords if k.strip()}
        kept = sorted(p for p in phrases if not any(o != p and o in p for o in phrases))
        self.needles = tuple(p.encode() for p in kept)
        # A phrase drawn with cursor moves between its words is found by an anchor, then confirmed
        # on the bytes after it read as drawn (see `_drawn`): anchor -> phrases it starts. The
        # anchors are the first word and the escape after it ("quick\x1b["), or the first two words
        # where the first blank is printed ("do you" of "do you\x1b[9gwant"): never a bare word,
        # which a flood of prose ("done", "todo") would hit every few hundred bytes.
        firsts: dict[bytes, list[int]] = {}
        for i, p in enumerate(kept):
            words = p.split(" ")
            if len(words) > 1:
                firsts.setdefault(words[0].encode() + b"\x1b[", []).append(i)
            if len(words) > 2:
                firsts.setdefault(" ".join(words[:2]).encode(), []).append(i)
        self._firsts = tuple(sorted(firsts))
        self._first_phrases = tuple(tuple(firsts[f]) for f in self._firsts)
        # A phrase's words up to a line break ("usage\n", "usage\r"): a phrase wrapped there shows
        # up as one of these, so a read with neither a keyword nor one of these needs no folding.
        seams = {(p[:i] + end).encode() for p in kept for i, ch in enumerate(p) if ch == " " for end in "\n\r"}
        self._marks = tuple(sorted(seams))
        self._until_switch = AUTO_SWITCH_BYTES if engine == "auto" else -1
        self.use("loop" if engine == "auto" else engine, auto=engine == "auto")
        self.heads = tuple(sorted({p[:i].encode() for p in kept for i, ch in enumerate(p) if ch == " "}))
        # A phrase's first words -> what may follow them on the next line to make a keyword.
        rests: dict[bytes, list[bytes]] = {}
        for p in kept:
            for i, ch in enumerate(p):
                if ch == " ":
                    rests.setdefault(p[:i].encode(), []).append(p[i + 1:].encode())
        self._rests = {head: tuple(r) for head, r in rests.items()}
        # A keyword that ends with another phrase's first words ("hit your" / "your session limit")
        # would hide that phrase's wrap mark (leftmost matches do not overlap): then every read with
        # such a keyword is checked folded too.
        starts = {w for h in self.heads for w in _word_prefixes(h)}  # what a phrase's wrap mark may begin with
        self._hiders = frozenset(i for i, n in enumerate(self.needles)
                                 if n in starts or any(n[at + 1:] in starts for at in _blanks(n)))
        # used on the line path only (a keyword's line): compiled there, not at every watcher's start
        self._text_re = LazyPattern("|".join(re.escape(p) for p in kept))

    def use(self, engine: str, auto: bool = False) -> None:
        """Match with `engine` ("ahocorasick" or "loop"); `auto`: keep counting toward the switch."""
        if not auto:
            self._until_switch = -1
        # marks before first words: leftmost-first matching prefers "session\n" to "session" there
        self._find = _drawn(self, _matcher(self.needles + self._firsts, engine), len(self.needles))
        self._cold = _drawn(self, _matcher(self.needles + self._marks + self._firsts, engine),
                            len(self.needles) + len(self._marks))
        self.engine = "ahocorasick" if engine == "ahocorasick" and _ahocorasick() is not None else "loop"

    def maybe(self, low: bytes) -> bool:
        """Whether lower-cased `low` holds a keyword, or the start of one wrapped at a line break."""
        return bool(self._cold(low))

    def scan(self, low: bytes) -> tuple[list[Hit], list[Hit] | None]:
        """Keyword hits in lower-cased `low`, and the wrap marks there (a phrase's first words at
        the end of a line: the phrase may go on on the next line); None for the marks when a
        keyword may hide one (see `_hiders`). One pass over the bytes for both."""
        if self._until_switch >= 0:  # engine "auto": count the bytes scanned until the switch
            self._until_switch -= max(len(low), 512)  # a call costs the loop at least this much
            if self._until_switch < 0:
                self.use("ahocorasick")
        found = self._cold(low)
        if not found:
            return found, found
        n = len(self.needles)
        hits = [h for h in found if h[0] < n]
        marks = [h for h in found if h[0] >= n] if len(hits) < len(found) else []
        return hits, (None if self._hiders and any(h[0] in self._hiders for h in hits) else marks)

    def wraps(self, low: bytes, marks: list[Hit]) -> list[tuple[int, int]]:
        """Of the wrap marks in `low`, those where the next line goes on with a keyword phrase, as
        spans from the mark to the first byte of that next line."""
        spans = []
        for _, start, end in marks:
            go_on = LINE_GAP.match(low, end).end()
            if low.startswith(self._rests[low[start:end - 1]], go_on):
                spans.append((start, go_on + 1))
        return spans

    def find_lowered(self, low: bytes) -> list[Hit]:
        """Hits in lower-cased `low` as it is (positions index `low`)."""
        return self._find(low)

    def find_folded(self, low: bytes) -> list[Hit]:
        """Hits in lower-cased `low` with line breaks folded (positions are in the folded copy)."""
        return self._find(_WRAP.sub(b" ", low.replace(b"\r", b"")))

    def search(self, data: bytes) -> bool:
        return bool(self.find_folded(data.lower()))

    def search_line(self, raw: bytes) -> bool:
        """The same test on one raw line (no line breaks to fold)."""
        return bool(self._find(raw.lower()))

    def in_text(self, low: str) -> bool:
        """The same test on one lower-cased line of text (ANSI already removed)."""
        if "  " in low:
            low = " ".join(low.split())
        return self._text_re.search(low) is not None


def _drawn(pf: Prefilter, find: Callable[[bytes], list[Hit]], first_at: int) -> Callable[[bytes], list[Hit]]:
    """`find`, with first-word hits turned into hits of the phrases they start where the bytes after
    the word, read as drawn (column moves as blanks, colours removed), go on with the phrase; the
    others dropped. An anchor with none of its phrases' next words near it needs no second look."""
    n, f = first_at, len(pf._firsts)
    # per anchor: the words after it in its phrases (the second, or the third after two words)
    seconds = tuple(tuple({pf.needles[p].split(b" ")[anchor.count(b" ") + 1] for p in phrases})
                    for anchor, phrases in zip(pf._firsts, pf._first_phrases, strict=True))

    def found(low: bytes) -> list[Hit]:
        hits = find(low)
        if not any(n <= h[0] < n + f for h in hits):
            return hits
        out = [h for h in hits if not n <= h[0] < n + f]
        drawn_cache: dict[int, bytes] = {}
        for i, start, end in hits:
            if not n <= i < n + f:
                continue
            window = low[start:start + DRAWN_WINDOW]
            if b"\x1b[" not in window:
                continue  # plain text: a phrase there is a needle hit already
            if not any(word in window for word in seconds[i - first_at]):
                continue  # no phrase's second word anywhere near: nothing to read as drawn
            drawn = drawn_cache.get(start)
            if drawn is None:
                drawn = b" ".join(_OTHER_CSI.sub(b"", _COLUMN_MOVE.sub(b" ", window)).split())
                drawn_cache[start] = drawn
            for phrase in pf._first_phrases[i - first_at]:
                if drawn.startswith(pf.needles[phrase]):
                    out.append((phrase, start, end))
        return out

    return found


def _blanks(phrase: bytes) -> list[int]:
    """Where `phrase` has a blank: each word after one starts a suffix that may hide a mark."""
    return [at for at, byte in enumerate(phrase) if byte == 0x20]


def _word_prefixes(phrase: bytes) -> list[bytes]:
    """"a b c" -> ["a", "a b", "a b c"]."""
    words = phrase.split(b" ")
    return [b" ".join(words[:i]) for i in range(1, len(words) + 1)]


def unfold_spans(low: bytes, hits: list[Hit]) -> list[tuple[int, int]]:
    """Spans found in the folded copy of `low` (see Prefilter.find_folded), as offsets in `low`."""
    nocr = low.replace(b"\r", b"")
    folds = [(m.start(), m.end()) for m in _WRAP.finditer(nocr)]
    crs: list[int] = []
    at = low.find(b"\r")
    while at >= 0:
        crs.append(at)
        at = low.find(b"\r", at + 1)

    def back(q: int) -> int:
        shift = 0
        for start, end in folds:  # each fold became one space
            if start - shift >= q:
                break
            shift += end - start - 1
        p = q + shift
        for cr in crs:  # each carriage return was dropped
            if cr > p:
                break
            p += 1
        return p

    return [(back(start), back(end - 1) + 1) for _, start, end in hits]

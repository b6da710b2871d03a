"""Usage before the hit: how much of a limit window a CLI says is used, read from its words.

A CLI warns before it stops ("You've used 91% of your session limit · resets 3pm", "Heads up, you
have less than 25% of your 5h limit left", "⚠ 5h limit: only <1% left · resets at 21:11") and its
structured channels carry the same windows exactly (Codex rollouts: used_percent, window_minutes,
resets_at). Such a line is never a hit; it is a reading of one window, recorded beside the hits so
`status` and `rate-limits` can show how close an agent is to the wall, and how fast it gets there.
The patterns are the descriptor's `[[usage]]` tables; this module only turns a match into a reading.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from .lazy_dataclass import lazy_dataclass
from .lazyre import LazyPattern

#: Window names as CLIs spell them, to the short name shown ("5h", "weekly").
_WINDOW_NAMES = {
    "session": "5h", "session limit": "5h", "5-hour": "5h", "5-hour limit": "5h", "5h": "5h",
    "5h limit": "5h", "five_hour": "5h", "weekly": "weekly", "weekly limit": "weekly",
    "seven_day": "weekly", "7d": "weekly",
}
_ANSI = LazyPattern(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[()][0-9A-Za-z]|\x1b.")
_MOVE = LazyPattern(r"\x1b\[\d*[GC]")  # a cursor move between words is a blank on the screen
_ROW = LazyPattern(r"\x1b\[[\d;]*[ABEFHfd]|\r")  # a move to another row ends the line


@lazy_dataclass(frozen=True)
class Reading:
    """One window's usage at one moment: `used` in percent (None: only "approaching"), `resets_at`
    as epoch seconds when known, `source` "screen" or the channel that told it."""

    window: str
    used: float | None
    resets_at: float | None
    seen_at: float
    source: str = "screen"
    raw: str = ""


def window_name(text: str | None = None, minutes: float | None = None) -> str:
    """A short window name from a CLI's wording or a window length in minutes."""
    if minutes:
        if minutes == 300:
            return "5h"
        if minutes == 10080:
            return "weekly"
        return f"{minutes / 60:g}h" if minutes % 60 == 0 else f"{minutes:g}m"
    key = " ".join((text or "").lower().replace("your ", "").split())
    return _WINDOW_NAMES.get(key, _WINDOW_NAMES.get(key.removesuffix(" limit"), key or "usage"))


def screen_text(data: bytes) -> str:
    """Terminal bytes as plain text: cursor moves become blanks, other escapes go."""
    text = data.decode("utf-8", "replace")
    return _ANSI.sub("", _ROW.sub("\n", _MOVE.sub(" ", text))).replace("\xa0", " ")


def candidate_lines_in(block: bytes, patterns: Sequence[object]) -> list[bytes]:
    """The raw lines of `block` (`\n` between them) that may hold a usage line: those with the
    longest word of some keyword (a keyword's words may be drawn apart by cursor moves, a word is
    not). Converting only these keeps a flood of output from costing a regex pass over every byte
    once a second; the block is searched whole, never split into a list of lines first (that alone
    cost more than the search). Blank lines are never candidates."""
    anchors = _anchors(patterns)
    if anchors is None:
        return [line for line in block.split(b"\n") if line.strip()]
    low = block.lower()
    starts: set[int] = set()
    for anchor in anchors:
        at = low.find(anchor)
        while at >= 0:
            start = block.rfind(b"\n", 0, at) + 1
            starts.add(start)
            end = block.find(b"\n", at)
            at = low.find(anchor, len(block) if end < 0 else end)
    return [block[i:j if (j := block.find(b"\n", i)) >= 0 else len(block)] for i in sorted(starts)]


def _anchors(patterns: Sequence[object]) -> set[bytes] | None:
    """The longest word of every usage keyword; None when some pattern has no keyword (then every
    line is a candidate)."""
    anchors = {max(k.lower().split(), key=len).encode() for p in patterns for k in p.keywords  # type: ignore[attr-defined]
               if k.strip()}
    if not anchors or any(not p.keywords for p in patterns):  # type: ignore[attr-defined]
        return None
    return anchors


def read_line(line: str, patterns: Sequence[object], now: float, tz: ZoneInfo) -> Reading | None:
    """The reading one line gives under the descriptor's usage patterns (first match wins).

    Groups: `used` (percent used) or `left` (percent left; "<1" reads as 1), `window` (its name),
    `reset` (a clock or date as the CLI prints it). A pattern's `window` setting names a window the
    line does not.
    """
    for pattern in patterns:
        m = pattern.regex.search(line)  # type: ignore[attr-defined]
        if m is None:
            continue
        groups = m.groupdict()
        used = _percent(groups.get("used"))
        left = _percent(groups.get("left"))
        if used is None and left is not None:
            used = max(0.0, 100.0 - left)
        name = window_name(groups.get("window")) if groups.get("window") else pattern.window  # type: ignore[attr-defined]
        reset = None
        if groups.get("reset"):
            from .resets.parse import parse_reset  # with the first usage line that has a reset

            when = parse_reset(groups["reset"], "clock", datetime.fromtimestamp(now).astimezone(), tz)
            reset = when.timestamp() if when else None
        return Reading(name or "usage", used, reset, now, "screen", m.group(0)[:200])
    return None


def read_text(text: str, patterns: Sequence[object], now: float, tz: ZoneInfo) -> list[Reading]:
    """Every reading in a block of screen text, one per line that matches."""
    keywords = [k for p in patterns for k in p.keywords]  # type: ignore[attr-defined]
    lowered = text.lower()
    if keywords and not any(k in lowered for k in keywords):
        return []
    out = []
    for line in text.splitlines():
        found = read_line(line.strip(), patterns, now, tz)
        if found is not None:
            out.append(found)
    return out


def _percent(text: str | None) -> float | None:
    if not text:
        return None
    try:
        value = float(text.strip().lstrip("<").rstrip("%"))
    except ValueError:
        return None
    return value if 0 <= value <= 100 else None


@lazy_dataclass(frozen=True)
class Burn:
    """How fast a window fills: percent per hour, and when it reaches 100 % at that pace."""

    per_hour: float
    full_at: float | None


def burn_rate(readings: Iterable[tuple[float, float]]) -> Burn | None:
    """From (seen_at, used) readings of one window in one reset period, oldest first: the rate
    between the first and the last (None with fewer than two, or no time between them)."""
    points = [(t, u) for t, u in readings if u is not None]
    if len(points) < 2 or points[-1][0] <= points[0][0]:
        return None
    (t0, u0), (t1, u1) = points[0], points[-1]
    per_hour = (u1 - u0) / (t1 - t0) * 3600
    full_at = t1 + (100 - u1) / per_hour * 3600 if per_hour > 0 and u1 < 100 else None
    return Burn(per_hour, full_at)

"""Relative reset texts ("5h 15m", "try again in 1.5 seconds", "Retry-After: 120") as exact integer
microseconds, so that `now` plus a duration is an exact instant like those the other forms give.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from types import MappingProxyType
from typing import TYPE_CHECKING

from ..lazyre import LazyPattern

if TYPE_CHECKING:
    from fractions import Fraction


_MAX_MICROS = (timedelta.max.days * 86400 + 86399) * 10**6

_UNIT_SECONDS: Mapping[str, int] = MappingProxyType(
    {
        **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1),
        **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60),
        **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 3600),
        **dict.fromkeys(("d", "day", "days"), 86400),
        **dict.fromkeys(("w", "wk", "wks", "week", "weeks"), 604800),
    }
)
_MS_UNITS = frozenset(("ms", "msec", "msecs", "millisecond", "milliseconds"))
_DURATION_PREFIX = LazyPattern(
    r"(?:please |resets? )?(?:try again in|retrying in|retry in|retry[- ]after:?|in|after)\s*",
    re.IGNORECASE,
)
RETRY_AFTER = LazyPattern(r"retry[- ]after", re.IGNORECASE)
_DURATION_PART = LazyPattern(r"(\d{1,40}(?:\.\d{1,20})?)\s?([a-z]{1,12})(?![a-z])", re.IGNORECASE)
_DURATION_SEP = LazyPattern(r"(?:,? and |, ?| )?")
_BARE_NUMBER = LazyPattern(r"\d{1,40}(?:\.\d{1,20})?")


def duration_micros(text: str, allow_bare: bool) -> int | None:
    """Sum "5h 15m" style parts into exact integer microseconds (exact, so callers can compare)."""
    body = _DURATION_PREFIX.sub("", text, count=1) if _DURATION_PREFIX.match(text) else text
    body = body.strip()
    if not body:
        return None
    if _BARE_NUMBER.fullmatch(body):
        return _to_micros(body, 1) if allow_bare else None
    total, pos = 0, 0
    while pos < len(body):
        if pos:
            sep = _DURATION_SEP.match(body, pos)
            pos = sep.end() if sep else pos
        part = _DURATION_PART.match(body, pos)
        if not part:
            return None
        unit = part[2].lower()
        if unit in _MS_UNITS:
            from fractions import Fraction

            micros = _to_micros(part[1], Fraction(1, 1000))
        elif unit in _UNIT_SECONDS:
            micros = _to_micros(part[1], _UNIT_SECONDS[unit])
        else:
            return None
        if micros is None:
            return None
        total += micros
        pos = part.end()
    return total if total <= _MAX_MICROS else None


def _to_micros(number: str, unit_seconds: int | Fraction) -> int | None:
    from fractions import Fraction  # exact arithmetic, loaded with the first duration read (and decimal with it)

    micros = round(Fraction(number) * unit_seconds * 10**6)
    return micros if micros <= _MAX_MICROS else None

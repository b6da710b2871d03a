"""Turn the reset-time text that agent CLIs print into a timezone-aware datetime.

Agent CLIs announce rate-limit resets in many shapes ("resets 4pm (Europe/Berlin)",
"try again in 5h 15m", "Retry-After: 120", an epoch, an ISO timestamp). The supervisor needs
one instant to sleep until, so this module reads them all. It is pure: no global mutable state
and no I/O of its own except in :func:`resolve_zone`, which must look at the host's configured
zone (zoneinfo itself reads tz data files when a zone is first named).

Rules that matter for callers:

* Bare clock times (``4pm``, ``16:00``, ``Mon 9am``, ``Dec 2, 9am``) resolve to the NEXT
  occurrence strictly after ``now``; a date without a year that is already past means next year.
  A date with a year is returned as is, even when it lies in the past.
* Nonexistent local times (spring-forward gap) are shifted forward by the gap length: the wall
  time is read with the offset in force before the transition (``fold=0``) and normalised
  through UTC, so 02:30 on a Berlin spring-forward day becomes 03:30 CEST.
* Ambiguous local times (fall-back overlap) take the first occurrence (``fold=0``). Only for
  relative forms (no year given) and only when that first occurrence is already past while the
  repeated one is still ahead is the repeated one (``fold=1``) used, because it is then the next
  occurrence of that wall time.
* Results are UTC datetimes, so ``==`` and ``-`` between them and ``now`` are exact instants.
* The text is untrusted: it is cut to 256 characters, regexes have no nested quantifiers and any
  unreadable or absurd value gives ``None`` rather than an exception.

The forms are read in their own modules beside this one: clock.py (wall-clock times), durations.py
(relative times), stamps.py (ISO and epoch) and zones.py (zones). This one cleans the
text and hands it to the reader its kind names, or to each in turn for ``auto``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

from ..lazyre import LazyPattern
from .clock import JUST_PASSED as JUST_PASSED  # imported from here too
from .clock import parse_clock
from .durations import RETRY_AFTER, duration_micros
from .stamps import parse_epoch, parse_iso
from .zones import ABBREVIATIONS, resolve_zone, zone_from_abbreviation

__all__ = [
    "ABBREVIATIONS",
    "KINDS",
    "ResetParseError",
    "parse_duration",
    "parse_reset",
    "resolve_zone",
    "zone_from_abbreviation",
]

KINDS = ("clock", "duration", "epoch", "iso", "auto")

MAX_TEXT = 256
"""Characters of input considered; reset texts are short, so more is noise or an attack."""

_PARSE_ERRORS = (ValueError, ArithmeticError, LookupError, OSError)  # ArithmeticError covers overflow
_T = TypeVar("_T")


class ResetParseError(ValueError):
    """Unreadable reset text, for callers that want an exception; parse_reset returns None instead."""


# --------------------------------------------------------------------------- text helpers
# Every module-level pattern is a LazyPattern: compiled with the first reset text a watcher reads.

_SPACES = LazyPattern(r"[\s\u00a0\u1680\u2000-\u200b\u202f\u205f\u3000\ufeff]+")
_TRAIL_PUNCT = LazyPattern(r"[\s.,;:!]+$")


def _clean(text: object) -> str | None:
    """Cap, unify exotic spaces (CLIs print U+202F before AM/PM) and trim; None for non-text."""
    if not isinstance(text, str):
        return None
    text = _SPACES.sub(" ", text[:MAX_TEXT]).strip()
    # Keep a dot that belongs to "a.m."/"p.m.", drop sentence punctuation otherwise.
    if re.search(r"[ap]\.m\.$", text, re.IGNORECASE):
        return text
    return _TRAIL_PUNCT.sub("", text)


# --------------------------------------------------------------------------- durations


def parse_duration(text: str) -> float | None:
    """Seconds in a relative reset ("5h 15m" -> 18900.0, "try again in 1.5 seconds", "Retry-After: 120").

    Bare numbers are seconds (the Retry-After convention). Values are exact to the microsecond and
    None is returned for anything unreadable or beyond what a timedelta can hold.
    """
    cleaned = _clean(text)
    if not cleaned:
        return None
    micros = duration_micros(cleaned, allow_bare=True)
    return None if micros is None else micros / 10**6


# --------------------------------------------------------------------------- entry point

_AUTO_EPOCH = LazyPattern(r"\d{10}|\d{13}")
_HAS_UNIT = LazyPattern(r"\d ?[a-z]", re.IGNORECASE)


def _dispatch(text: str, kind: str, now: datetime, tz: ZoneInfo) -> datetime | None:
    if kind == "clock":
        return parse_clock(text, now, tz)
    if kind == "iso":
        return parse_iso(text, now, tz)
    if kind == "epoch":
        return parse_epoch(text)
    if kind == "duration":
        micros = duration_micros(text, allow_bare=True)
        return None if micros is None else _add(now, micros)
    # auto: each reader gets its chance even if an earlier one choked on the text
    found = _attempt(parse_iso, text, now, tz)
    if found is None and _AUTO_EPOCH.fullmatch(text):
        found = _attempt(parse_epoch, text)
    retry_after = RETRY_AFTER.search(text) is not None
    if found is None and (retry_after or _HAS_UNIT.search(text)):
        micros = _attempt(duration_micros, text, retry_after)
        found = None if micros is None else _attempt(_add, now, micros)
    return found if found is not None else parse_clock(text, now, tz)


def _add(now: datetime, micros: int) -> datetime:
    return now.astimezone(UTC) + timedelta(microseconds=micros)  # exact elapsed time, not wall time


def _attempt(func: Callable[..., _T], *args: object) -> _T | None:
    try:
        return func(*args)
    except _PARSE_ERRORS:
        return None


def parse_reset(text: str, kind: str, now: datetime, tz: ZoneInfo) -> datetime | None:
    """Read a reset announcement into an aware UTC datetime, or None if unreadable.

    The result is always in UTC on purpose: Python compares and subtracts datetimes that share a
    ZoneInfo by wall time (ignoring DST and fold), so zone-local results would make ``reset - now``
    wrong by an hour around transitions. Use ``.astimezone(tz)`` for display.

    ``kind`` is one of :data:`KINDS`; ``auto`` tries iso, epoch (bare 10/13 digits), duration (only
    with units or "retry-after"), then clock. ``now`` is the aware moment the line was seen and
    ``tz`` the zone bare clock times are stated in; a zone named in the text wins. See the module
    docstring for the next-occurrence, gap and overlap rules. Never raises on untrusted ``text``;
    a naive ``now`` or an unknown ``kind`` is a caller bug and raises ValueError.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown reset kind {kind!r}; expected one of {KINDS}")
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    cleaned = _clean(text)
    if not cleaned:
        return None
    return _attempt(_dispatch, cleaned, kind, now.astimezone(UTC), tz)

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
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from types import MappingProxyType
from typing import TYPE_CHECKING, TypeVar
from zoneinfo import ZoneInfo

from .lazyre import LazyPattern

if TYPE_CHECKING:
    from fractions import Fraction

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

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_MICROS = (timedelta.max.days * 86400 + 86399) * 10**6
_LOAD_ERRORS = (ValueError, LookupError, OSError)
_PARSE_ERRORS = (ValueError, ArithmeticError, LookupError, OSError)  # ArithmeticError covers overflow
_T = TypeVar("_T")


class ResetParseError(ValueError):
    """Unreadable reset text, for callers that want an exception; parse_reset returns None instead."""


def _hm(hours: int, minutes: int = 0) -> timedelta:
    return timedelta(hours=hours, minutes=minutes if hours >= 0 else -minutes)


ABBREVIATIONS: Mapping[str, timedelta | str] = MappingProxyType(
    {
        # Universal time.
        "UTC": _hm(0), "GMT": _hm(0), "UT": _hm(0), "Z": _hm(0), "ZULU": _hm(0),
        # Europe.
        "WET": _hm(0), "WEST": _hm(1), "BST": _hm(1), "IST": _hm(5, 30),
        "CET": _hm(1), "CEST": _hm(2), "MET": _hm(1), "MEST": _hm(2),
        "EET": _hm(2), "EEST": _hm(3), "MSK": _hm(3),
        # Africa.
        "WAT": _hm(1), "CAT": _hm(2), "SAST": _hm(2), "EAT": _hm(3),
        # Asia / Pacific.
        "PKT": _hm(5), "ICT": _hm(7), "WIB": _hm(7), "SGT": _hm(8), "HKT": _hm(8), "PHT": _hm(8),
        "AWST": _hm(8), "JST": _hm(9), "KST": _hm(9), "ACST": _hm(9, 30), "ACDT": _hm(10, 30),
        "AEST": _hm(10), "AEDT": _hm(11), "NZST": _hm(12), "NZDT": _hm(13),
        # Americas (standard / daylight).
        "NST": _hm(-3, 30), "NDT": _hm(-2, 30), "AST": _hm(-4), "ADT": _hm(-3),
        "EST": _hm(-5), "EDT": _hm(-4), "CST": _hm(-6), "CDT": _hm(-5),
        "MST": _hm(-7), "MDT": _hm(-6), "PST": _hm(-8), "PDT": _hm(-7),
        "AKST": _hm(-9), "AKDT": _hm(-8), "HST": _hm(-10), "HDT": _hm(-9),
        "BRT": _hm(-3), "ART": _hm(-3),
        # Generic North-American names: whichever of standard/daylight is in force.
        "ET": "America/New_York", "CT": "America/Chicago", "MT": "America/Denver",
        "PT": "America/Los_Angeles", "AKT": "America/Anchorage",
    }
)
"""Fallback table for zone abbreviations, consulted after the runtime's own zone.

Values are a fixed UTC offset (the abbreviation pins the offset: PST is UTC-8 even in July) or an
IANA key for generic names (ET, PT, ...) that follow DST. Ambiguous abbreviations take their most
common meaning here: IST = India (+05:30), CST = US Central (-06:00), BST = British Summer Time,
AST = Atlantic; a runtime whose own zone uses the abbreviation (Dublin's IST, Shanghai's CST)
gets its own zone first.
"""

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


def _load_zone(key: str) -> ZoneInfo | None:
    """Load an IANA zone by key, refusing anything that is not a plain relative key."""
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_+\-]{0,40}(?:/[A-Za-z0-9_+\-]{1,40}){0,3}", key):
        return None
    try:
        return ZoneInfo(key)
    except _LOAD_ERRORS:
        return None


# --------------------------------------------------------------------------- zones

_OFFSET = LazyPattern(
    r"(?:UTC|GMT|UT)?(?P<sign>[+\-\u2212])(?P<h>\d{1,2})(?::?(?P<m>\d{2}))?",
    re.IGNORECASE,
)


def _offset_zone(text: str) -> timezone | None:
    """GMT-3, UTC+05:30, +0100: a fixed offset in the everyday sign convention (GMT-3 is UTC-3)."""
    m = _OFFSET.fullmatch(text)
    if not m:
        return None
    hours, minutes = int(m["h"]), int(m["m"] or 0)
    if hours > 18 or minutes > 59 or (hours == 18 and minutes):
        return None
    delta = timedelta(hours=hours, minutes=minutes)
    return timezone(-delta if m["sign"] != "+" else delta)


def zone_from_abbreviation(abbr: str, home: ZoneInfo, when: datetime) -> tzinfo | None:
    """Map a zone abbreviation or offset (PST, CET, GMT+1, UTC+05:30, Z) to a tzinfo.

    The runtime's own zone wins when it uses ``abbr`` at ``when`` (so Dublin reads IST as Irish
    time), then :data:`ABBREVIATIONS`, then numeric offsets. ``GMT-3`` means UTC-3, not the inverted
    POSIX ``Etc/GMT-3``. Returns None for anything unknown.
    """
    if not isinstance(abbr, str):
        return None
    key = abbr.strip().strip("()").strip().replace(" ", "")
    if not key or len(key) > 16:
        return None
    upper = key.upper()
    if when.tzinfo is None:
        when = when.replace(tzinfo=home)
    try:
        home_name = when.astimezone(home).tzname()
    except (OverflowError, ValueError):
        home_name = None
    if home_name and home_name.upper() == upper:
        return home
    found = ABBREVIATIONS.get(upper)
    if isinstance(found, timedelta):
        return UTC if not found else timezone(found, upper)
    if isinstance(found, str):
        return _load_zone(found)
    return _offset_zone(key)


def _zone_from_text(text: str, home: ZoneInfo, when: datetime) -> tzinfo | None:
    """A zone named after a time: IANA key if it has a slash, else abbreviation, else IANA key."""
    text = text.strip()
    if "/" in text:
        return _load_zone(text)
    return zone_from_abbreviation(text, home, when) or _load_zone(text)


def _key_from_path(path: str) -> str | None:
    marker = "zoneinfo/"
    idx = path.rfind(marker)
    return path[idx + len(marker):] if idx >= 0 else None


def _zone_from_tz_value(value: str | None) -> ZoneInfo | None:
    """Read a TZ-style value: an IANA key, optionally with glibc's leading ':' or a zoneinfo path."""
    if not value:
        return None
    value = value.strip().removeprefix(":")
    if value.startswith("/"):
        value = _key_from_path(value) or ""
    return _load_zone(value) if value else None


def _host_zone(localtime: str = "/etc/localtime", process_env: Mapping[str, str] | None = None) -> ZoneInfo:
    """The host's zone: this process's TZ (libc lets it override), then the /etc/localtime link."""
    env = os.environ if process_env is None else process_env
    zone = _zone_from_tz_value(env.get("TZ"))
    if zone is not None:
        return zone
    try:
        target = os.readlink(localtime)
    except OSError:
        target = None
    if target:
        if not os.path.isabs(target):
            target = os.path.normpath(os.path.join(os.path.dirname(localtime), target))
        key = _key_from_path(target)
        zone = _load_zone(key) if key else None
        if zone is not None:
            return zone
    return ZoneInfo("UTC")


def resolve_zone(name: str | None, env: dict[str, str] | None = None) -> ZoneInfo:
    """The zone a runtime states bare clock times in.

    Order: ``name`` (the agent's tz setting), then ``env['TZ']`` (the agent's environment; glibc's
    leading ':' accepted), then the host zone (this process's TZ, then the /etc/localtime symlink
    target), then UTC. Invalid names are skipped rather than raised, so a bad setting degrades to
    the host zone instead of stopping the supervisor.
    """
    zone = _zone_from_tz_value(name)
    if zone is None and env:
        zone = _zone_from_tz_value(env.get("TZ"))
    return zone if zone is not None else _host_zone()


# --------------------------------------------------------------------------- durations

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
_RETRY_AFTER = LazyPattern(r"retry[- ]after", re.IGNORECASE)
_DURATION_PART = LazyPattern(r"(\d{1,40}(?:\.\d{1,20})?)\s?([a-z]{1,12})(?![a-z])", re.IGNORECASE)
_DURATION_SEP = LazyPattern(r"(?:,? and |, ?| )?")
_BARE_NUMBER = LazyPattern(r"\d{1,40}(?:\.\d{1,20})?")


def _duration_micros(text: str, allow_bare: bool) -> int | None:
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


def parse_duration(text: str) -> float | None:
    """Seconds in a relative reset ("5h 15m" -> 18900.0, "try again in 1.5 seconds", "Retry-After: 120").

    Bare numbers are seconds (the Retry-After convention). Values are exact to the microsecond and
    None is returned for anything unreadable or beyond what a timedelta can hold.
    """
    cleaned = _clean(text)
    if not cleaned:
        return None
    micros = _duration_micros(cleaned, allow_bare=True)
    return None if micros is None else micros / 10**6


# --------------------------------------------------------------------------- local time resolution


def _localize(zone: tzinfo, naive: datetime) -> list[datetime]:
    """UTC instants for a wall time: one normally, two (fold 0 then 1) in an overlap.

    A wall time in a gap is read with the pre-transition offset (fold=0) and normalised through
    UTC, which moves it forward by the gap length.
    """
    first = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) != naive:  # gap: shifted forward
        return [first]
    second = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    return [first, second] if second != first else [first]


def _next_after(zone: tzinfo, naive: datetime, now: datetime) -> datetime | None:
    for candidate in _localize(zone, naive):
        if candidate > now:
            return candidate
    return None


# --------------------------------------------------------------------------- clock

_MONTHS: Mapping[str, int] = MappingProxyType(
    {
        name: number
        for number, names in enumerate(
            (
                ("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"),
                ("may",), ("jun", "june"), ("jul", "july"), ("aug", "august"),
                ("sep", "sept", "september"), ("oct", "october"), ("nov", "november"),
                ("dec", "december"),
            ),
            start=1,
        )
        for name in names
    }
)
_WEEKDAYS: Mapping[str, int] = MappingProxyType(
    {
        name: number
        for number, names in enumerate(
            (
                ("mon", "monday"), ("tue", "tues", "tuesday"), ("wed", "weds", "wednesday"),
                ("thu", "thur", "thurs", "thursday"), ("fri", "friday"), ("sat", "saturday"),
                ("sun", "sunday"),
            )
        )
        for name in names
    }
)


def _alternation(names: Mapping[str, int]) -> str:
    return "|".join(sorted(names, key=len, reverse=True))


_SEP = r"(?:,\ ?|\ )"  # escaped spaces: used inside a VERBOSE pattern
_CLOCK = LazyPattern(
    rf"""
    (?:(?P<wd>{_alternation(_WEEKDAYS)})\.?{_SEP})?
    (?:
        (?:
            (?P<mon>{_alternation(_MONTHS)})\.?\ ?(?P<day>\d{{1,2}})(?:st|nd|rd|th)?
          | (?P<day2>\d{{1,2}})(?:st|nd|rd|th)?\ (?P<mon2>{_alternation(_MONTHS)})\.?
        )
        (?:{_SEP}(?P<year>\d{{4}}))?
        {_SEP}
    )?
    (?:at\ )?
    (?P<hour>\d{{1,2}})(?::(?P<minute>\d{{2}})(?::(?P<second>\d{{2}}))?)?
    (?:\ ?(?P<ampm>[ap])\.?\ ?m\.?(?![a-z]))?
    (?:\ ?\((?P<pzone>[^()]{{1,64}})\)|\ ?(?P<zone>[A-Za-z+\-\u2212][^\s()]{{0,63}}))?
    """,
    re.IGNORECASE | re.VERBOSE,
)
_CLOCK_PREFIX = LazyPattern(
    r"(?:resets?|try again|available again|available|until|at|on|retry[- ]after:?) ", re.IGNORECASE
)


#: CLIs print reset clocks cut down to the minute ("resets 9:26pm" for 21:26:14). A clock time this
#: little in the past is the reset that just passed (the limit is "not reset yet"), never tomorrow's.
JUST_PASSED = timedelta(minutes=10)


def _parse_clock(text: str, now: datetime, tz: ZoneInfo) -> datetime | None:
    """Wall-clock forms; the next occurrence after ``now`` (less JUST_PASSED) unless a year pins the date."""
    for _ in range(4):  # "resets at", "try again at", "Retry-After: ..."
        prefix = _CLOCK_PREFIX.match(text)
        if prefix is None:
            break
        text = text[prefix.end():]
    m = _CLOCK.fullmatch(text)
    if not m:
        return None
    hour, minute, second = int(m["hour"]), int(m["minute"] or 0), int(m["second"] or 0)
    if m["ampm"]:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if m["ampm"].lower() == "p" else 0)
    elif m["minute"] is None:
        return None  # a lone number is not a clock time
    if hour > 23 or minute > 59 or second > 59:
        return None
    zone_text = m["pzone"] or m["zone"]
    zone: tzinfo | None = tz
    if zone_text:
        zone = _zone_from_text(zone_text, tz, now)
        if zone is None:
            return None
    wall = time(hour, minute, second)
    local_now = now.astimezone(zone)
    month_name = m["mon"] or m["mon2"]
    if month_name:
        month, day = _MONTHS[month_name.lower()], int(m["day"] or m["day2"])
        if m["year"]:
            naive = datetime.combine(date(int(m["year"]), month, day), wall)
            return _localize(zone, naive)[0]
        for year in range(local_now.year, local_now.year + 9):  # nine years always reaches a Feb 29
            try:
                naive = datetime.combine(date(year, month, day), wall)
            except ValueError:
                continue
            found = _next_after(zone, naive, now - JUST_PASSED)
            if found is not None:
                return found
        return None
    weekday = _WEEKDAYS[m["wd"].lower()] if m["wd"] else None
    today = local_now.date()
    for offset in range(15):
        day_ = today + timedelta(days=offset)
        if weekday is not None and day_.weekday() != weekday:
            continue
        found = _next_after(zone, datetime.combine(day_, wall), now - JUST_PASSED)
        if found is not None:
            return found
    return None


# --------------------------------------------------------------------------- iso / epoch

_ISO = LazyPattern(
    r"(?P<stamp>\d{4}-\d{2}-\d{2}"
    r"(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?(?:Z| ?[+-]\d{2}(?::?\d{2})?)?)?)"
    r"(?: ?\((?P<pzone>[^()]{1,64})\)| (?P<zone>[A-Za-z][^\s()]{0,63}))?",
    re.IGNORECASE,
)


def _parse_iso(text: str, now: datetime, tz: ZoneInfo) -> datetime | None:
    """ISO 8601; an offset-less stamp is read in a trailing zone if named, else in ``tz``."""
    m = _ISO.fullmatch(text)
    if not m:
        return None
    stamp = m["stamp"].upper().replace(",", ".")
    stamp = re.sub(r" ([+-])", r"\1", stamp)
    frac = re.search(r"\.(\d+)", stamp)
    if frac and len(frac[1]) > 6:  # fromisoformat wants at most microseconds
        stamp = stamp[: frac.start(1) + 6] + stamp[frac.end(1):]
    try:
        parsed = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        return parsed.astimezone(UTC)  # an explicit offset is authoritative; a zone name is a label
    zone_text = m["pzone"] or m["zone"]
    zone: tzinfo | None = tz
    if zone_text:
        zone = _zone_from_text(zone_text, tz, now)
        if zone is None:
            return None
    return _localize(zone, parsed)[0]


_EPOCH_TEXT = LazyPattern(r"\d{1,17}(?:\.\d{1,9})?")


def _parse_epoch(text: str) -> datetime | None:
    """Unix time: seconds below 1e11, milliseconds below 1e14, microseconds below 1e17."""
    if not _EPOCH_TEXT.fullmatch(text):
        return None
    from fractions import Fraction

    value = Fraction(text)
    if value < 10**11:
        micros = value * 10**6
    elif value < 10**14:
        micros = value * 10**3
    else:
        micros = value
    return _EPOCH + timedelta(microseconds=round(micros))


# --------------------------------------------------------------------------- entry point

_AUTO_EPOCH = LazyPattern(r"\d{10}|\d{13}")
_HAS_UNIT = LazyPattern(r"\d ?[a-z]", re.IGNORECASE)


def _dispatch(text: str, kind: str, now: datetime, tz: ZoneInfo) -> datetime | None:
    if kind == "clock":
        return _parse_clock(text, now, tz)
    if kind == "iso":
        return _parse_iso(text, now, tz)
    if kind == "epoch":
        return _parse_epoch(text)
    if kind == "duration":
        micros = _duration_micros(text, allow_bare=True)
        return None if micros is None else _add(now, micros)
    # auto: each reader gets its chance even if an earlier one choked on the text
    found = _attempt(_parse_iso, text, now, tz)
    if found is None and _AUTO_EPOCH.fullmatch(text):
        found = _attempt(_parse_epoch, text)
    retry_after = _RETRY_AFTER.search(text) is not None
    if found is None and (retry_after or _HAS_UNIT.search(text)):
        micros = _attempt(_duration_micros, text, retry_after)
        found = None if micros is None else _attempt(_add, now, micros)
    return found if found is not None else _parse_clock(text, now, tz)


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

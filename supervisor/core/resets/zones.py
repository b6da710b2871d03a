"""Time zones for reset texts: a zone the text names (IANA key, abbreviation or offset), the zone a
runtime states bare clock times in, and a wall time in a zone read as UTC instants.

The clock and ISO readers (clock.py, stamps.py) resolve their zones here; the gap and overlap
rules of the parse.py docstring are `localize`'s.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from types import MappingProxyType
from zoneinfo import ZoneInfo

from ..lazyre import LazyPattern

_LOAD_ERRORS = (ValueError, LookupError, OSError)


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


def zone_from_text(text: str, home: ZoneInfo, when: datetime) -> tzinfo | None:
    """A zone named after a time: IANA key if it has a slash, else abbreviation, else IANA key."""
    text = text.strip()
    if "/" in text:
        return _load_zone(text)
    return zone_from_abbreviation(text, home, when) or _load_zone(text)


def zone_named_or_home(text: str | None, home: ZoneInfo, when: datetime) -> tzinfo | None:
    """The zone a time names after it, else `home` (the runtime's zone); None for a name we do not
    know (a time in an unknown zone is not read at all, rather than read in the wrong one)."""
    return zone_from_text(text, home, when) if text else home


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


# --------------------------------------------------------------------------- local time resolution


def localize(zone: tzinfo, naive: datetime) -> list[datetime]:
    """UTC instants for a wall time: one normally, two (fold 0 then 1) in an overlap.

    A wall time in a gap is read with the pre-transition offset (fold=0) and normalised through
    UTC, which moves it forward by the gap length.
    """
    first = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) != naive:  # gap: shifted forward
        return [first]
    second = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    return [first, second] if second != first else [first]


def next_after(zone: tzinfo, naive: datetime, now: datetime) -> datetime | None:
    for candidate in localize(zone, naive):
        if candidate > now:
            return candidate
    return None

"""Machine-written reset texts: an ISO 8601 timestamp (in its own offset, else a zone it names, else
the runtime's) and a Unix time in seconds, milliseconds or microseconds.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from ..lazyre import LazyPattern
from .zones import localize, zone_named_or_home

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_ISO = LazyPattern(
    r"(?P<stamp>\d{4}-\d{2}-\d{2}"
    r"(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?(?:Z| ?[+-]\d{2}(?::?\d{2})?)?)?)"
    r"(?: ?\((?P<pzone>[^()]{1,64})\)| (?P<zone>[A-Za-z][^\s()]{0,63}))?",
    re.IGNORECASE,
)


def parse_iso(text: str, now: datetime, tz: ZoneInfo) -> datetime | None:
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
    zone = zone_named_or_home(m["pzone"] or m["zone"], tz, now)
    if zone is None:
        return None
    return localize(zone, parsed)[0]


_EPOCH_TEXT = LazyPattern(r"\d{1,17}(?:\.\d{1,9})?")


def parse_epoch(text: str) -> datetime | None:
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

"""Wall-clock reset texts ("resets 4pm (Europe/Berlin)", "Mon 9am", "Dec 2, 9am") as the next
occurrence of that wall time; one only minutes past is the reset that just passed (CLIs print the
clock cut down to the minute), not tomorrow's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from types import MappingProxyType
from zoneinfo import ZoneInfo

from ..lazyre import LazyPattern
from .zones import localize, next_after, zone_named_or_home

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


def parse_clock(text: str, now: datetime, tz: ZoneInfo) -> datetime | None:
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
    zone = zone_named_or_home(m["pzone"] or m["zone"], tz, now)
    if zone is None:
        return None
    wall = time(hour, minute, second)
    local_now = now.astimezone(zone)
    month_name = m["mon"] or m["mon2"]
    if month_name:
        month, day = _MONTHS[month_name.lower()], int(m["day"] or m["day2"])
        if m["year"]:
            naive = datetime.combine(date(int(m["year"]), month, day), wall)
            return localize(zone, naive)[0]
        for year in range(local_now.year, local_now.year + 9):  # nine years always reaches a Feb 29
            try:
                naive = datetime.combine(date(year, month, day), wall)
            except ValueError:
                continue
            found = next_after(zone, naive, now - JUST_PASSED)
            if found is not None:
                return found
        return None
    weekday = _WEEKDAYS[m["wd"].lower()] if m["wd"] else None
    today = local_now.date()
    for offset in range(15):
        day_ = today + timedelta(days=offset)
        if weekday is not None and day_.weekday() != weekday:
            continue
        found = next_after(zone, datetime.combine(day_, wall), now - JUST_PASSED)
        if found is not None:
            return found
    return None

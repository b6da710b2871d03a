"""Instants and lengths as a person reads them in notices and logs: `16:01 Europe/Berlin`, `2h13m`."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo


def human_duration(seconds: float) -> str:
    """`2h13m`, `4m05s`, `12s`, `3d04h`."""
    s = max(int(seconds + 0.999), 0)
    d, rem = divmod(s, 86400)
    h, rem = divmod(rem, 3600)
    m, sec = divmod(rem, 60)
    if d:
        return f"{d}d{h:02d}h"
    if h:
        return f"{h}h{m:02d}m"
    if m:
        return f"{m}m{sec:02d}s"
    return f"{sec}s"


def time_with_zone(ts: float, tz: ZoneInfo, now: float | None = None) -> str:
    """`16:01 Europe/Berlin`, with the date when it is not today in that zone (`now`: the instant
    "today" is read at; the reactor passes its own, the real clock is read only without it)."""
    when = datetime.fromtimestamp(ts, tz)
    today = (datetime.fromtimestamp(now, tz) if now is not None else datetime.now(UTC).astimezone(tz)).date()
    fmt = "%H:%M" if when.date() == today else "%a %d %b %H:%M"
    return f"{when.strftime(fmt)} {tz.key}"


def countdown_line(label: str, deadline: float, remaining: float, tz: ZoneInfo) -> str:
    """`rate-limited: resuming at 16:01 Europe/Berlin (in 2h13m)`."""
    return f"{label}: resuming at {time_with_zone(deadline, tz)} (in {human_duration(remaining)})"

"""Waiting for a wall-clock instant: a rate-limit reset, the end of a backoff, the next budget day.

The deadline is a wall-clock instant, so the wait re-reads the wall clock in short steps: a laptop
that sleeps through the reset resumes at once on waking. The length of the wait is also bounded on
the monotonic clock, so a wall clock set back does not make the agent wait longer than planned.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol
from zoneinfo import ZoneInfo

STEP = 1.0


class Clock(Protocol):
    def wall(self) -> float: ...
    def mono(self) -> float: ...


class SystemClock:
    """The real clocks."""

    def wall(self) -> float:
        return time.time()

    def mono(self) -> float:
        return time.monotonic()


class WaitEnd(StrEnum):
    DEADLINE = "deadline"
    WAKE = "wake"
    STOP = "stop"


@dataclass(frozen=True)
class WaitResult:
    end: WaitEnd
    waited: float


def wait_until(deadline: float, clock: Clock, pause: Callable[[float], WaitEnd | None],
               tick: Callable[[float], None] | None = None, step: float = STEP) -> WaitResult:
    """Block until the wall clock reaches `deadline`, `pause` reports a wake or stop, or the
    planned length has passed on the monotonic clock (wall clock set back).

    `pause(seconds)` sleeps up to `seconds` and returns why it was interrupted, or None.
    `tick(remaining)` is called on every step (the countdown line).
    """
    start_mono = clock.mono()
    planned = max(deadline - clock.wall(), 0.0)
    while True:
        remaining = deadline - clock.wall()
        elapsed = clock.mono() - start_mono
        if remaining <= 0 or elapsed >= planned:
            return WaitResult(WaitEnd.DEADLINE, elapsed)
        remaining = min(remaining, planned - elapsed)
        if tick is not None:
            tick(remaining)
        reason = pause(min(step, remaining))
        if reason is not None:
            return WaitResult(reason, clock.mono() - start_mono)


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


def local_clock(ts: float, tz: ZoneInfo) -> str:
    """`16:01 Europe/Berlin`, with the date when it is not today in that zone."""
    when = datetime.fromtimestamp(ts, tz)
    today = datetime.now(UTC).astimezone(tz).date()
    fmt = "%H:%M" if when.date() == today else "%a %d %b %H:%M"
    return f"{when.strftime(fmt)} {tz.key}"


def countdown_line(label: str, deadline: float, remaining: float, tz: ZoneInfo) -> str:
    """`rate-limited: resuming at 16:01 Europe/Berlin (in 2h13m)`."""
    return f"{label}: resuming at {local_clock(deadline, tz)} (in {human_duration(remaining)})"

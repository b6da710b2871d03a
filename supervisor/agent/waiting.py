"""Waiting for a wall-clock instant: a rate-limit reset, the end of a backoff, the next budget day.

The deadline is a wall-clock instant, so the wait re-reads the wall clock in short steps: a laptop
that sleeps through the reset resumes at once on waking. The length of the wait is also bounded on
the monotonic clock, so a wall clock set back does not make the agent wait longer than planned.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from ..core.lazy_dataclass import lazy_dataclass
from ..core.resets.clocktext import countdown_line, human_duration, time_with_zone  # noqa: F401 (re-exported)
from ..core.states import WaitEnd

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


@lazy_dataclass(frozen=True)
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

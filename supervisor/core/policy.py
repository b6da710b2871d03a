"""Restart and wait policies, built from tenacity's own objects, as small callables.

tenacity is imported by the first exit that calls for a restart decision, not at start-up: a
watcher whose runtime never exits never loads it.

A rate-limit stop is always followed by a wait and a respawn; what happens after the runtime exits
on its own is the restart policy: `always`, `on-failure` or `never`, with exponential backoff and
jitter after a crash, a reset after stable uptime, and a give-up rule for crash loops.
"""

from __future__ import annotations

from collections import deque
from dataclasses import replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from .lazy_dataclass import lazy_dataclass

if TYPE_CHECKING:
    import tenacity


class Restart(StrEnum):
    ALWAYS = "always"
    ON_FAILURE = "on-failure"
    NEVER = "never"


@lazy_dataclass(frozen=True)
class Decision:
    """After an exit: respawn after `delay` seconds, or stop (`give_up` when it is a crash loop)."""

    restart: bool
    delay: float = 0.0
    give_up: bool = False
    attempt: int = 0


@lazy_dataclass(frozen=True)
class CrashSettings:
    """Backoff 1 s doubling to 5 min with jitter; give up after N quick exits within a window.
    Each default is written here once: `rl-watch`'s options and their help text read it."""

    restart: Restart = Restart.ALWAYS
    initial: float = 1.0
    cap: float = 300.0
    jitter: float = 1.0
    stable_after: float = 600.0
    give_up_exits: int = 5
    give_up_window: float = 120.0
    quick_uptime: float = 10.0


class CrashPolicy:
    """The crash policy's state over exits (attempts, quick exits) on its CrashSettings.
    `CrashPolicy(initial=2.0)` is `CrashPolicy(CrashSettings(initial=2.0))`."""

    def __init__(self, settings: CrashSettings | None = None, **changes: Any) -> None:
        self.settings = replace(settings or CrashSettings(), **changes)
        self._attempt = 0
        self._quick: deque[float] = deque()
        self._rules: tuple[Any, Any] | None = None

    def _backoff(self) -> tuple[Any, Any]:
        """tenacity's (wait, stop) for these settings, built on first use."""
        if self._rules is None:
            import tenacity

            st = self.settings
            wait = tenacity.wait_exponential(multiplier=st.initial, max=st.cap) + tenacity.wait_random(
                0, st.jitter * st.initial)
            self._rules = (wait, tenacity.stop_after_attempt(st.give_up_exits))
        return self._rules

    def wants_restart(self, code: int) -> bool:
        """The restart mode alone: does an exit with `code` call for a respawn at all?"""
        if self.settings.restart is Restart.NEVER:
            return False
        return self.settings.restart is Restart.ALWAYS or code != 0

    def on_exit(self, code: int, uptime: float, now: float) -> Decision:
        """`uptime` and `now` on the monotonic clock."""
        if not self.wants_restart(code):
            return Decision(False)
        if uptime >= self.settings.stable_after:
            self._attempt = 0
            self._quick.clear()
        if uptime < self.settings.quick_uptime:
            self._quick.append(now)
        while self._quick and now - self._quick[0] > self.settings.give_up_window:
            self._quick.popleft()
        wait, give_up = self._backoff()
        if give_up(_state(len(self._quick))):
            return Decision(False, give_up=True, attempt=self._attempt)
        self._attempt += 1
        if code == 0 and uptime >= self.settings.quick_uptime:
            return Decision(True, 0.0, attempt=self._attempt)
        return Decision(True, min(float(wait(_state(self._attempt))), self.settings.cap), attempt=self._attempt)

    def reset(self) -> None:
        self._attempt = 0
        self._quick.clear()


def _state(attempt: int) -> tenacity.RetryCallState:
    import tenacity

    state = tenacity.RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
    state.attempt_number = attempt
    return state


@lazy_dataclass(frozen=True)
class WaitPlan:
    """Until when a rate-limited agent waits, and why (for the log and the countdown line)."""

    deadline: float
    capped: bool = False
    guessed: bool = False


def plan_wait(hit_at: float, resets_at: float | None, *, margin: float, fallback: float,
              max_wait: float) -> WaitPlan:
    """resets_at + margin; the fallback when the reset is unknown; never past hit_at + max_wait.

    A fallback of 0 is refused upstream (config validation): an agent must never respawn straight
    into the same wall.
    """
    if resets_at is None:
        return WaitPlan(hit_at + min(max(fallback, 1.0), max_wait), guessed=True, capped=fallback > max_wait)
    deadline = max(resets_at, hit_at) + margin
    if deadline - hit_at > max_wait:
        return WaitPlan(hit_at + max_wait, capped=True)
    return WaitPlan(deadline)

"""Tests for supervisor.policy (restart backoff, give-up, wait plans) and supervisor.waiting (fake clocks)."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from teamctl_supervisor.agent.waiting import WaitEnd, countdown_line, human_duration, time_with_zone, wait_until
from teamctl_supervisor.core.policy import CrashPolicy, Decision, Restart, plan_wait

# -- crash policy ----------------------------------------------------------------------------------


def test_backoff_grows_exponentially_to_the_cap_within_jitter_bounds() -> None:
    for _ in range(20):  # jitter is random: check the bounds on many runs
        policy = CrashPolicy(quick_uptime=0.0)  # slow exits: never a crash loop
        delays = []
        for attempt in range(1, 13):
            d = policy.on_exit(1, uptime=30.0, now=attempt * 1000.0)
            assert d.restart and not d.give_up and d.attempt == attempt
            delays.append(d.delay)
        for attempt, delay in enumerate(delays, start=1):
            base = 2.0 ** (attempt - 1)
            assert min(base, 300.0) <= delay <= min(base + 1.0, 300.0), (attempt, delay)
        assert delays[-1] == 300.0 and delays[-2] == 300.0


def test_backoff_resets_after_stable_uptime() -> None:
    policy = CrashPolicy(quick_uptime=0.0)
    for i in range(6):
        policy.on_exit(1, uptime=30.0, now=i * 1000.0)
    assert policy.on_exit(1, uptime=30.0, now=7000.0).delay >= 64.0
    after_stable = policy.on_exit(1, uptime=600.0, now=9000.0)
    assert after_stable.restart and after_stable.attempt == 1
    assert 1.0 <= after_stable.delay <= 2.0


def test_backoff_to_failed_after_five_quick_exits() -> None:
    policy = CrashPolicy()
    decisions = [policy.on_exit(1, uptime=2.0, now=10.0 * i) for i in range(5)]
    assert all(d.restart for d in decisions[:4])
    assert decisions[4] == Decision(False, give_up=True, attempt=4)


def test_quick_exits_spread_beyond_the_window_do_not_give_up() -> None:
    policy = CrashPolicy()
    for i in range(30):  # one quick exit every 61 s: never 5 within 120 s
        d = policy.on_exit(1, uptime=2.0, now=61.0 * i)
        assert d.restart and not d.give_up, i


def test_slow_exits_do_not_give_up() -> None:
    policy = CrashPolicy()
    for i in range(30):
        d = policy.on_exit(1, uptime=15.0, now=1.0 * i)
        assert d.restart and not d.give_up, i


def test_stable_run_clears_the_quick_exit_count() -> None:
    policy = CrashPolicy()
    for i in range(4):
        assert policy.on_exit(1, uptime=1.0, now=float(i)).restart
    assert policy.on_exit(1, uptime=700.0, now=5.0).restart
    for i in range(4):
        assert policy.on_exit(1, uptime=1.0, now=6.0 + i).restart


@pytest.mark.parametrize(("mode", "code", "restart"), [
    (Restart.ALWAYS, 0, True), (Restart.ALWAYS, 1, True), (Restart.ALWAYS, -9, True),
    (Restart.ON_FAILURE, 0, False), (Restart.ON_FAILURE, 2, True), (Restart.ON_FAILURE, -15, True),
    (Restart.NEVER, 0, False), (Restart.NEVER, 1, False),
])
def test_restart_modes(mode: Restart, code: int, restart: bool) -> None:
    policy = CrashPolicy(restart=mode)
    assert policy.wants_restart(code) is restart
    d = policy.on_exit(code, uptime=60.0, now=100.0)
    assert d.restart is restart
    assert d.give_up is False


def test_clean_exit_after_normal_uptime_restarts_at_once_under_always() -> None:
    d = CrashPolicy(restart=Restart.ALWAYS).on_exit(0, uptime=60.0, now=100.0)
    assert d.restart and d.delay == 0.0


def test_reset_forgets_attempts() -> None:
    policy = CrashPolicy()
    for i in range(4):
        policy.on_exit(1, uptime=1.0, now=float(i))
    policy.reset()
    d = policy.on_exit(1, uptime=1.0, now=5.0)
    assert d.restart and d.attempt == 1 and d.delay <= 2.0


# -- wait plans -------------------------------------------------------------------------------------


def test_plan_wait_adds_the_margin() -> None:
    plan = plan_wait(1000.0, 4600.0, margin=60.0, fallback=1800.0, max_wait=86400.0)
    assert (plan.deadline, plan.capped, plan.guessed) == (4660.0, False, False)


def test_plan_wait_uses_the_fallback_when_the_reset_is_unknown() -> None:
    plan = plan_wait(1000.0, None, margin=60.0, fallback=1800.0, max_wait=86400.0)
    assert (plan.deadline, plan.capped, plan.guessed) == (2800.0, False, True)


def test_plan_wait_never_uses_a_zero_fallback() -> None:
    assert plan_wait(1000.0, None, margin=60.0, fallback=0.0, max_wait=86400.0).deadline > 1000.0


def test_plan_wait_caps_at_max_wait() -> None:
    plan = plan_wait(1000.0, 1000.0 + 30 * 86400, margin=60.0, fallback=1800.0, max_wait=8 * 86400.0)
    assert (plan.deadline, plan.capped) == (1000.0 + 8 * 86400, True)


def test_plan_wait_fallback_is_also_capped_at_max_wait() -> None:
    # The docstring: "never past hit_at + max_wait"; `teamctl rl-watch --fallback-wait 7200 --max-wait 3600`
    # reaches plan_wait with fallback > max_wait (only compose validates the pair).
    plan = plan_wait(1000.0, None, margin=60.0, fallback=7200.0, max_wait=3600.0)
    assert plan.deadline <= 1000.0 + 3600.0


def test_plan_wait_reset_in_the_past_waits_only_the_margin() -> None:
    plan = plan_wait(1000.0, 400.0, margin=60.0, fallback=1800.0, max_wait=86400.0)
    assert (plan.deadline, plan.capped, plan.guessed) == (1060.0, False, False)


# -- waiting with a fake clock ------------------------------------------------------------------------


class FakeClock:
    """wall() and mono() that only move when pause() advances them (plus scripted jumps)."""

    def __init__(self, wall: float = 1_700_000_000.0, mono: float = 5000.0) -> None:
        self._wall = wall
        self._mono = mono
        self.pauses: list[float] = []
        self.jumps: dict[int, float] = {}  # pause index -> wall clock jump after it
        self.stop_at: dict[int, WaitEnd] = {}

    def wall(self) -> float:
        return self._wall

    def mono(self) -> float:
        return self._mono

    def pause(self, seconds: float) -> WaitEnd | None:
        assert seconds > 0
        self._wall += seconds
        self._mono += seconds
        index = len(self.pauses)
        self.pauses.append(seconds)
        self._wall += self.jumps.get(index, 0.0)
        return self.stop_at.get(index)


def test_wait_ends_at_the_deadline() -> None:
    clock = FakeClock()
    ticks: list[float] = []
    result = wait_until(clock.wall() + 10.5, clock, clock.pause, tick=ticks.append)
    assert result.end is WaitEnd.DEADLINE
    assert result.waited == pytest.approx(10.5)
    assert sum(clock.pauses) == pytest.approx(10.5)
    assert max(clock.pauses) <= 1.0
    assert ticks[0] == pytest.approx(10.5) and ticks[-1] == pytest.approx(0.5)


def test_deadline_in_the_past_ends_at_once() -> None:
    clock = FakeClock()
    result = wait_until(clock.wall() - 5, clock, clock.pause)
    assert (result.end, result.waited, clock.pauses) == (WaitEnd.DEADLINE, 0.0, [])


def test_wall_clock_jumping_past_the_deadline_ends_the_wait_at_once() -> None:
    clock = FakeClock()
    clock.jumps = {2: 3 * 3600.0}  # the laptop slept through the reset
    result = wait_until(clock.wall() + 3600.0, clock, clock.pause)
    assert result.end is WaitEnd.DEADLINE
    assert len(clock.pauses) == 3
    assert result.waited == pytest.approx(3.0)


def test_wall_clock_set_back_still_ends_after_the_planned_duration() -> None:
    clock = FakeClock()
    clock.jumps = {5: -3600.0}
    start_mono = clock.mono()
    result = wait_until(clock.wall() + 600.0, clock, clock.pause, step=10.0)
    assert result.end is WaitEnd.DEADLINE
    assert clock.mono() - start_mono == pytest.approx(600.0)
    assert result.waited == pytest.approx(600.0)


@pytest.mark.parametrize("reason", [WaitEnd.WAKE, WaitEnd.STOP])
def test_wake_and_stop_end_the_wait_with_their_reason(reason: WaitEnd) -> None:
    clock = FakeClock()
    clock.stop_at = {3: reason}
    result = wait_until(clock.wall() + 3600.0, clock, clock.pause)
    assert result.end is reason
    assert result.waited == pytest.approx(4.0)


@pytest.mark.timeout(10)  # a guard against real sleeping, not a speed assertion
def test_five_hour_wait_takes_milliseconds_of_real_time() -> None:
    clock = FakeClock()
    result = wait_until(clock.wall() + 5 * 3600.0, clock, clock.pause)
    assert result.end is WaitEnd.DEADLINE
    assert result.waited == pytest.approx(5 * 3600.0)


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0s"), (0.2, "1s"), (12, "12s"), (59.5, "1m00s"), (245, "4m05s"), (3600, "1h00m"),
    (2 * 3600 + 13 * 60, "2h13m"), (3 * 86400 + 4 * 3600, "3d04h"), (-5, "0s"),
])
def test_human_duration(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text


def test_countdown_line_today_shows_the_clock_time() -> None:
    tz = ZoneInfo("Europe/Berlin")
    deadline = time.time() + 60
    line = countdown_line("rate-limited", deadline, 7980, tz)
    hhmm = datetime.fromtimestamp(deadline, tz).strftime("%H:%M")
    expected = rf"rate-limited: resuming at (\w{{3}} \d{{2}} \w{{3}} )?{hhmm} Europe/Berlin \(in 2h13m\)"
    assert re.fullmatch(expected, line), line


def test_local_clock_names_the_date_when_not_today() -> None:
    tz = ZoneInfo("Asia/Kolkata")
    ts = datetime(2031, 5, 6, 10, 0, tzinfo=UTC).timestamp()
    assert time_with_zone(ts, tz) == "Tue 06 May 15:30 Asia/Kolkata"

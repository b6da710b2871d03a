"""The reactor's rules as tables: input sequences on an injected clock, and the commands they give.

No pty, no process, no database: each case feeds inputs and compares what comes out. Together they
cover every path a session of the watcher can end on (the old loop's outcomes): a plain exit under
each restart policy, a backoff, a crash loop, a stop hit, a resume hit, a resume hit whose CLI exits,
a record-only hit before a failing exit, a limit group, a budget cap, a stop signal, a failed spawn;
and the real-CLI rules: a reset that already passed, the limit seen again after a resume, history
redrawn by a resumed session, a CLI that waits in place, and a stall.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from teamctl_supervisor.core import reactor as r
from teamctl_supervisor.core.descriptors.loader import Action
from teamctl_supervisor.core.policy import CrashPolicy, Restart
from teamctl_supervisor.core.scan.scanner import Event, EventKind
from teamctl_supervisor.core.states import AgentState, WaitEnd

T0 = 1_800_000_000.0  # a wall-clock instant; the monotonic clock starts at 0


class Clock:
    def __init__(self) -> None:
        self.wall, self.mono = T0, 0.0

    def now(self) -> r.Now:
        return r.Now(self.wall, self.mono)

    def advance(self, seconds: float) -> r.Now:
        self.wall += seconds
        self.mono += seconds
        return self.now()


def limit(action: Action = Action.STOP, resets_in: float | None = 3600.0, raw: str = "You've hit your limit",
          keys: str = "", at: float = T0) -> Event:
    resets = datetime.fromtimestamp(at + resets_in, UTC) if resets_in is not None else None
    return Event(EventKind.RATE_LIMIT, 1, raw, "sig", action=action, resets_at=resets, resume_keys=keys)


def make(restart: Restart = Restart.ALWAYS, **rules: object) -> r.Reactor:
    policy = CrashPolicy(restart=restart, initial=2.0, cap=60.0, jitter=0.0, give_up_exits=3, give_up_window=100.0,
                         quick_uptime=10.0)
    return r.Reactor(replace(r.ReactorSettings(margin=60.0, post_hooks=("after",)), **rules), policy)


def kinds(commands: list[r.Command]) -> list[str]:
    return [type(c).__name__ for c in commands]


def answered(reactor: r.Reactor, clock: Clock, commands: list[r.Command], found: tuple[float, ...] = ()
             ) -> list[r.Command]:
    """The commands with each FindRows answered (`found`: the mailbox's unhandled rows)."""
    out: list[r.Command] = []
    for c in commands:
        out += reactor.rows(clock.now(), c.hit, c.until, found) if isinstance(c, r.FindRows) else [c]
    return out


def running(reactor: r.Reactor, clock: Clock, resumed: bool = False) -> None:
    """Start the watcher and its first session (no group limit, no cap)."""
    assert kinds(reactor.start(clock.now())) == ["CheckLimits"]
    assert reactor.limits(clock.now(), None, None) == [r.Spawn(False)]
    assert reactor.spawned(clock.now(), resumed) == [r.SetState(AgentState.RUNNING)]


# -- a plain exit, each restart policy ---------------------------------------------------------

@pytest.mark.parametrize(("restart", "code", "expected"), [
    (Restart.NEVER, 0, ["SetState", "Exit"]),
    (Restart.NEVER, 3, ["SetState", "Exit"]),
    (Restart.ON_FAILURE, 0, ["SetState", "Exit"]),
    (Restart.ON_FAILURE, 3, ["Notice", "Wait"]),  # a failure backs off
    (Restart.ALWAYS, 0, ["CheckLimits"]),  # a long-lived session ended well: respawn at once
])
def test_a_plain_exit_follows_the_restart_policy(restart: Restart, code: int, expected: list[str]) -> None:
    reactor, clock = make(restart), Clock()
    running(reactor, clock)
    out = reactor.exited(clock.advance(600), code)
    assert kinds(out) == expected
    if expected[-1] == "Exit":
        assert out[-1] == r.Exit(code) and out[0].detail == f"exited {code}"
    elif expected[-1] == "Wait":
        assert out[-1].kind == "backoff"
    else:
        assert reactor.limits(clock.now(), None, None) == [r.Spawn(False)]  # a fresh session, not resumed


def test_quick_exits_back_off_then_give_up_as_failed() -> None:
    reactor, clock = make(), Clock()
    running(reactor, clock)
    out = reactor.exited(clock.advance(1), 1)
    assert kinds(out) == ["Notice", "Wait"]
    wait = out[1]
    assert (wait.kind, wait.state, wait.deadline) == ("backoff", AgentState.BACKING_OFF, clock.wall + 2.0)
    assert kinds(reactor.waited("backoff", WaitEnd.DEADLINE, clock.advance(2))) == ["CheckLimits"]
    assert reactor.limits(clock.now(), None, None) == [r.Spawn(False)]
    reactor.spawned(clock.now(), False)
    assert kinds(reactor.exited(clock.advance(1), 1)) == ["Notice", "Wait"]
    reactor.waited("backoff", WaitEnd.DEADLINE, clock.advance(4))
    reactor.limits(clock.now(), None, None)
    reactor.spawned(clock.now(), False)
    out = reactor.exited(clock.advance(1), 1)
    assert kinds(out) == ["SetState", "Notice", "Exit"]
    assert out[0].state is AgentState.FAILED and out[-1] == r.Exit(1)


# -- rate-limit hits -----------------------------------------------------------------------------

def test_a_stop_hit_records_runs_hooks_stops_waits_to_the_reset_and_respawns_resumed() -> None:
    reactor, clock = make(), Clock()
    running(reactor, clock)
    out = reactor.readout(clock.advance(5), [limit(Action.STOP, 3600, at=clock.wall + 5)])
    assert kinds(out) == ["FindRows", "RunHooks", "PokeGroup", "Notice", "Stop"]
    hit = out[0].hit
    assert out[0].until == hit.resets_at + 60.0 and out[1].names == ("wait",)
    # the TUI redraws the message: still one hit
    assert reactor.readout(clock.advance(1), [limit(Action.STOP, 3600)]) == []
    out = reactor.exited(clock.advance(1), 143)
    assert kinds(out) == ["Wait"] and out[0].kind == "hit" and out[0].deadline == hit.resets_at + 60.0
    out = reactor.waited("hit", WaitEnd.DEADLINE, clock.advance(3660))
    assert kinds(out) == ["MarkHandled", "RunHooks", "CheckLimits"] and out[1].names == ("after",)
    assert reactor.limits(clock.now(), None, None) == [r.Spawn(True)]
    assert reactor.restarts == 1


def test_a_resume_hit_keeps_the_session_types_the_keys_at_the_reset_and_says_resumed_only_later() -> None:
    reactor, clock = make(), Clock()
    running(reactor, clock)
    out = reactor.readout(clock.advance(1), [limit(Action.RESUME, 120, keys="continue\r", at=clock.wall + 1)])
    assert kinds(out) == ["FindRows", "RunHooks", "PokeGroup", "SetState", "Notice"]
    assert out[3].state is AgentState.RATE_LIMITED and out[3].detail == "resume at reset"
    assert reactor.tick(clock.advance(100)) == []
    out = reactor.tick(clock.advance(81))  # reset + margin passed
    assert kinds(out) == ["SetState", "SendKeys", "ArmTurns", "MarkHandled", "RunHooks"]
    assert out[1] == r.SendKeys("continue\r") and out[0].detail == "resuming" and out[2] == r.ArmTurns("continue\r")
    assert reactor.tick(clock.advance(r.RESUME_CONFIRM_SECONDS + 5)) == []  # no model turn: not yet resumed
    out = reactor.turn(clock.advance(1), "claude-transcript")  # "resumed" only on evidence
    assert out == [r.SetState(AgentState.RUNNING), r.Notice("resumed the session: model turn seen (claude-transcript)"),
                   r.RunEvent("resumed", "model turn seen (claude-transcript)")]


def test_a_cli_that_waits_in_place_gets_no_keys_and_is_watched() -> None:
    reactor, clock = make(), Clock()
    running(reactor, clock)
    out = reactor.readout(clock.advance(1), [limit(Action.RESUME, 100, keys="", at=clock.wall + 1)])
    assert out[3].detail == "waiting in place"
    out = reactor.tick(clock.advance(161))
    assert "SendKeys" not in kinds(out) and out[0].detail == "resuming"


def test_the_limit_back_right_after_the_resume_is_not_reset_yet_and_rechecks_with_growing_waits() -> None:
    reactor, clock = make(), Clock()
    running(reactor, clock)
    reactor.readout(clock.advance(1), [limit(Action.RESUME, 60, keys="continue\r", at=clock.wall + 1)])
    reactor.tick(clock.advance(121))  # keys sent
    waits = []
    for _ in range(6):
        out = reactor.readout(clock.advance(2), [limit(Action.RESUME, -2, keys="continue\r", at=clock.wall)])
        assert "FindRows" not in kinds(out)  # the same limit: no new row
        state = next(c for c in out if isinstance(c, r.SetState))
        assert state.detail == "not reset yet"
        waits.append(state.until - clock.wall)
        out = reactor.tick(clock.advance(state.until - clock.wall))
        assert r.SendKeys("continue\r") in out
    assert waits == [30.0, 60.0, 120.0, 240.0, 480.0, 600.0]  # grows, capped: never hours


def test_a_hit_whose_minute_rounded_reset_is_a_few_seconds_past_is_a_new_hit_waited_past_the_margin() -> None:
    """"resets 9:26pm" seen at 21:26:07 (the real reset 21:26:30): a new hit, resumed at 21:27."""
    reactor, clock = make(margin=60.0), Clock()
    running(reactor, clock)
    out = reactor.readout(clock.now(), [limit(Action.STOP, -7, raw="resets 9:26pm")])
    assert kinds(out) == ["FindRows", "RunHooks", "PokeGroup", "Notice", "Stop"]
    wait = reactor.exited(clock.advance(1), 143)[0]
    assert wait.deadline == pytest.approx(T0 - 7 + 60)


def test_a_hit_whose_reset_is_long_past_is_checked_again_in_30_seconds_not_tomorrow() -> None:
    reactor, clock = make(margin=5.0), Clock()
    running(reactor, clock)
    out = reactor.readout(clock.now(), [limit(Action.STOP, -300, raw="resets 9:26pm")])
    assert kinds(out)[:2] == ["Log", "FindRows"]
    wait = reactor.exited(clock.advance(1), 143)[0]
    assert wait.deadline - clock.wall == pytest.approx(29.0)


def test_a_stop_hit_with_the_reset_already_waited_out_counts_as_not_reset_yet() -> None:
    reactor, clock = make(margin=1.0), Clock()
    running(reactor, clock)
    first = limit(Action.STOP, 30, at=clock.wall)
    reactor.readout(clock.now(), [first])
    reactor.exited(clock.advance(1), 143)
    reactor.waited("hit", WaitEnd.DEADLINE, clock.advance(30))
    reactor.limits(clock.now(), None, None)
    reactor.spawned(clock.advance(1), True)
    clock.advance(r.REPLAY_WINDOW_SECONDS)  # past the replay window: a real new request
    again = replace(first, raw="You've hit your limit (again)")
    out = reactor.readout(clock.now(), [again])
    assert "FindRows" not in kinds(out) and "Stop" in kinds(out)
    wait = reactor.exited(clock.advance(1), 143)[0]
    assert wait.deadline - clock.wall == pytest.approx(29.0)


def test_history_redrawn_by_a_resumed_session_is_not_a_new_hit() -> None:
    reactor, clock = make(), Clock()
    running(reactor, clock)
    old = limit(Action.STOP, 600, raw="■ You've hit your usage limit. Try again at 9:26 PM.", at=clock.wall)
    reactor.readout(clock.now(), [old])
    reactor.exited(clock.advance(1), 143)
    reactor.waited("hit", WaitEnd.DEADLINE, clock.advance(660))
    reactor.limits(clock.now(), None, None)
    reactor.spawned(clock.now(), True)  # `resume --last` redraws the old screen
    replayed = limit(Action.STOP, 600 + 86400, raw="■  You've hit your usage limit. Try again at 9:26 PM.",
                     at=clock.wall)
    out = reactor.readout(clock.advance(1), [replayed])
    assert kinds(out) == ["Log"] and "history" in out[0].text
    assert reactor.exited(clock.advance(600), 0) == [r.CheckLimits(group=True)]  # no wait of a day


def test_history_redrawn_after_a_resize_is_not_a_new_hit_but_a_new_limit_later_is() -> None:
    reactor, clock = make(), Clock()
    reactor.remember(r.Hit(limit(raw="You've hit your limit · resets 3pm"), T0 - 7200, T0 - 3600))
    running(reactor, clock)
    clock.advance(r.REPLAY_WINDOW_SECONDS)  # the start's own redraw is over
    reactor.resized(clock.now())
    assert kinds(reactor.readout(clock.advance(1), [limit(raw="You've hit your limit · resets 3pm")])) == ["Log"]
    clock.advance(r.RESIZE_REPLAY_SECONDS)
    assert "FindRows" in kinds(reactor.readout(clock.now(), [limit(raw="You've hit your limit · resets 3pm")]))


def test_a_resume_hit_whose_cli_exits_before_the_reset_is_waited_out_then_respawned() -> None:
    reactor, clock = make(), Clock()
    running(reactor, clock)
    reactor.readout(clock.now(), [limit(Action.RESUME, 300, keys="continue\r")])
    out = reactor.exited(clock.advance(10), 0)
    assert kinds(out) == ["Wait"] and out[0].deadline == T0 + 360


def test_a_resumed_session_that_exits_is_an_exit_like_any_other() -> None:
    reactor, clock = make(Restart.ON_FAILURE), Clock()
    running(reactor, clock)
    reactor.readout(clock.now(), [limit(Action.RESUME, 1, keys="continue\r")])
    reactor.tick(clock.advance(61))
    assert reactor.exited(clock.advance(1), 0)[-1] == r.Exit(0)


def test_record_only_hits_are_deduplicated_and_a_failing_exit_after_one_waits_for_its_reset() -> None:
    reactor, clock = make(), Clock()
    running(reactor, clock)
    assert kinds(reactor.readout(clock.now(), [limit(Action.RECORD, 600)])) == ["FindRows"]
    assert reactor.readout(clock.advance(30), [limit(Action.RECORD, 570)]) == []
    assert kinds(reactor.readout(clock.advance(31), [limit(Action.RECORD, 539)])) == ["FindRows"]
    out = reactor.exited(clock.advance(1), 1)
    assert kinds(out) == ["Wait"] and out[0].kind == "hit"


@pytest.mark.parametrize("record_first", [True, False])
def test_a_retry_status_line_and_the_limit_menu_of_one_limit_are_one_row(record_first: bool) -> None:
    """Claude Code 2.1.197 draws `Session limit reached · Retrying in …` (record) beside its limit
    menu (resume); read in one batch or apart (a loaded relay), in either order: one row."""
    reactor, clock = make(), Clock()
    running(reactor, clock)
    status, menu = limit(Action.RECORD, 18000, "Session limit reached · Retrying in 5h"), limit(Action.RESUME, 17990)
    first = reactor.readout(clock.now(), [status if record_first else menu])
    second = reactor.readout(clock.advance(0.3), [menu if record_first else status])
    hits = [c for c in answered(reactor, clock, first + second) if isinstance(c, r.RecordHit)]
    if record_first:  # the menu's hit takes over the status line's row (same key: the row's hit_at)
        assert [h.update for h in hits] == [False, True]
        assert hits[1].row == hits[0].row == hits[0].hit.hit_at and hits[1].hit.event is menu
        assert "SetState" in kinds(second)
    else:
        assert [h.update for h in hits] == [False] and second == []


def test_a_record_line_of_another_limit_before_a_hit_keeps_its_own_row() -> None:
    reactor, clock = make(), Clock()
    running(reactor, clock)
    reactor.readout(clock.now(), [limit(Action.RECORD, 600)])
    out = reactor.readout(clock.advance(5), [limit(Action.STOP, 7200)])  # resets nearly two hours apart
    assert [c.update for c in answered(reactor, clock, out) if isinstance(c, r.RecordHit)] == [False]


def test_a_record_only_hit_then_a_clean_exit_is_a_plain_exit() -> None:
    reactor, clock = make(Restart.ON_FAILURE), Clock()
    running(reactor, clock)
    reactor.readout(clock.now(), [limit(Action.RECORD, 600)])
    assert reactor.exited(clock.advance(1), 0)[-1] == r.Exit(0)


# -- groups, budgets, signals -------------------------------------------------------------------

def test_a_limit_group_pauses_before_a_spawn_unless_woken() -> None:
    reactor, clock = make(), Clock()
    reactor.start(clock.now())
    out = reactor.limits(clock.now(), T0 + 500, None)
    assert kinds(out) == ["Wait"] and out[0].kind == "group-before"
    assert kinds(reactor.waited("group-before", WaitEnd.WAKE, clock.advance(5))) == ["Notice", "CheckLimits"]
    assert reactor.limits(clock.now(), T0 + 500, None) == [r.Spawn(False)]  # woken: go now


def test_a_group_limit_or_budget_cap_seen_while_running_stops_and_waits_then_resumes() -> None:
    for pause, answer in (("group", (T0 + 900, None)), ("budget", (None, T0 + 900))):
        reactor, clock = make(), Clock()
        running(reactor, clock)
        assert reactor.tick(clock.advance(r.FIRST_GROUP_POLL_SECONDS)) == [r.CheckLimits(group=True)]
        assert reactor.limits(clock.now(), None, None) == []  # nothing yet: polled again in 30 s
        assert reactor.tick(clock.advance(10)) == []
        out = reactor.tick(clock.advance(r.GROUP_POLL_SECONDS))
        assert out == [r.CheckLimits(group=True)]
        out = reactor.limits(clock.now(), *answer)
        assert kinds(out)[-1] == "Stop"
        out = reactor.exited(clock.advance(1), 143)
        assert kinds(out) == ["Wait"] and out[0].kind == pause and out[0].deadline == T0 + 900
        assert reactor.waited(pause, WaitEnd.DEADLINE, clock.advance(900))[-1] == r.CheckLimits(group=True)
        assert reactor.limits(clock.now(), None, None) == [r.Spawn(True)]


def test_a_session_polls_its_group_soon_after_it_starts_and_ticks_every_second_until_then() -> None:
    """A group-mate that hit its limit while this watcher was starting poked only the watchers whose rows
    it could see: the first poll, a few seconds in, finds that limit instead of the 30 s poll."""
    reactor, clock = make(), Clock()
    running(reactor, clock)
    assert reactor.busy()  # the shell ticks every second until the first poll
    assert reactor.tick(clock.advance(1)) == []
    assert reactor.tick(clock.advance(r.FIRST_GROUP_POLL_SECONDS - 1)) == [r.CheckLimits(group=True)]
    assert not reactor.busy()
    out = reactor.limits(clock.now(), T0 + 900, None)  # the group-mate's limit, recorded during our start
    assert kinds(out)[-1] == "Stop"


def test_a_cost_line_is_recorded_and_the_budget_checked() -> None:
    reactor, clock = make(), Clock()
    running(reactor, clock)
    cost = Event(EventKind.COST, 1, "Total cost: $0.01", "cost", usd=0.01, total=True)
    assert reactor.readout(clock.now(), [cost]) == [r.RecordCost(cost), r.CheckLimits(group=False)]
    assert reactor.limits(clock.now(), None, T0 + 3600) == [r.Stop("budget cap")]


def test_a_budget_pause_woken_lets_the_agent_run() -> None:
    reactor, clock = make(), Clock()
    reactor.start(clock.now())
    assert kinds(reactor.limits(clock.now(), None, T0 + 100)) == ["Wait"]
    assert kinds(reactor.waited("budget-before", WaitEnd.WAKE, clock.now())) == ["Notice", "BudgetWoken",
                                                                                   "CheckLimits"]


def test_a_dialog_is_answered_with_its_keys_once_the_screen_settles() -> None:
    """A TUI still starting up drops keys: they are typed once its output has been still a moment."""
    reactor, clock = make(), Clock()
    running(reactor, clock)
    dialog = Event(EventKind.DIALOG, 1, "Do you trust the files?", "trust", send="1")
    assert reactor.readout(clock.now(), [dialog]) == [] and reactor.answer_due()
    assert reactor.readout(clock.advance(0.3), [], new_content=False, wrote=True) == []
    assert reactor.tick(clock.advance(0.3)) == []  # it wrote 0.3 s ago: not settled
    out = reactor.tick(clock.advance(r.DIALOG_SETTLE_SECONDS))
    assert out[-1] == r.SendKeys("1") and not reactor.answer_due()


def test_a_stop_signal_stops_the_runtime_and_exits_128_plus_the_signal() -> None:
    reactor, clock = make(), Clock()
    running(reactor, clock)
    assert reactor.stop_signal(15) == [r.Stop("signal 15")]
    assert reactor.exited(clock.advance(1), -15) == [r.SetState(AgentState.STOPPED, detail="signal 15"),
                                                     r.Exit(143)]
    reactor2 = make()
    reactor2.start(clock.now())
    reactor2.limits(clock.now(), T0 + 100, None)
    reactor2.stop_signal(2)
    assert reactor2.waited("group-before", WaitEnd.STOP, clock.now())[-1] == r.Exit(130)


def test_a_failed_spawn_counts_as_exit_127() -> None:
    reactor, clock = make(Restart.NEVER), Clock()
    reactor.start(clock.now())
    reactor.limits(clock.now(), None, None)
    out = reactor.spawn_failed(clock.now(), "'nope': not found")
    assert kinds(out) == ["Notice", "SetState", "Exit"] and out[-1] == r.Exit(127)


def test_a_wake_during_a_kept_session_resumes_now() -> None:
    reactor, clock = make(), Clock()
    running(reactor, clock)
    reactor.readout(clock.now(), [limit(Action.RESUME, 3600, keys="continue\r")])
    assert r.SendKeys("continue\r") in reactor.wake(clock.advance(5))


# -- stalls --------------------------------------------------------------------------------------

@pytest.mark.parametrize("restart", [False, True])
def test_a_stall_is_shown_and_logged_and_restarted_when_the_descriptor_says_so(restart: bool) -> None:
    reactor, clock = make(stall_seconds=120.0, stall_restart=restart), Clock()
    running(reactor, clock)
    assert reactor.readout(clock.advance(60), [], new_content=False) == []
    out = [c for c in reactor.tick(clock.advance(61)) if not isinstance(c, r.CheckLimits)]
    state = next(c for c in out if isinstance(c, r.SetState))
    assert state.detail.startswith("stalled since ")
    assert ("Stop" in kinds(out)) is restart
    assert kinds(reactor.readout(clock.advance(1), [], new_content=True)) == ["Log", "SetState"]


def test_a_cli_that_says_it_continues_by_itself_after_its_limit_line_is_watched_not_typed_into() -> None:
    """Claude Code 2.1.333: "You've hit your 5-hour limit · resets …", then "Usage limit reached · set
    to continue automatically at …": the second tells the watcher to keep its hands off."""
    reactor, clock = make(), Clock()
    running(reactor, clock)
    reactor.readout(clock.now(), [limit(Action.RESUME, 100, keys="continue\r")])
    out = reactor.readout(clock.advance(1), [limit(Action.RESUME, 100, keys="", raw="Usage limit reached · set to")])
    assert kinds(out) == ["Log", "SetState"] and out[1].detail == "waiting in place"
    out = reactor.tick(clock.advance(200))
    assert "SendKeys" not in kinds(out) and out[0].detail == "resuming"


def test_its_own_hit_seen_while_a_group_poll_stops_it_is_waited_out_and_marked_handled() -> None:
    """Two agents of one account hit the wall at once: the group poll stops this one, whose own limit
    line arrives while it stops. Its own hit is the one waited out, and marked handled after."""
    reactor, clock = make(), Clock()
    running(reactor, clock)
    reactor.tick(clock.advance(r.GROUP_POLL_SECONDS))
    assert kinds(reactor.limits(clock.now(), T0 + 100, None)) == ["Notice", "Stop"]
    assert "FindRows" in kinds(reactor.readout(clock.advance(0.1), [limit(Action.STOP, 60, at=clock.wall)]))
    wait = reactor.exited(clock.advance(0.1), 143)[0]
    assert wait.kind == "hit"
    assert kinds(reactor.waited("hit", WaitEnd.DEADLINE, clock.advance(120)))[0] == "MarkHandled"


def test_another_limit_right_after_the_resume_is_a_new_hit_waited_to_its_own_reset() -> None:
    """The 5-hour limit resets, the resumed session meets the weekly one: a new row, never the 30 s ladder."""
    reactor, clock = make(), Clock()
    running(reactor, clock)
    reactor.readout(clock.advance(1), [limit(Action.RESUME, 60, keys="continue\r", at=clock.wall + 1)])
    assert r.SendKeys("continue\r") in reactor.tick(clock.advance(121))
    weekly = limit(Action.RESUME, 86_400, raw="You've hit your weekly limit", keys="continue\r", at=clock.wall + 2)
    out = reactor.readout(clock.advance(2), [weekly])
    assert kinds(out)[:3] == ["FindRows", "RunHooks", "PokeGroup"]
    state = next(c for c in out if isinstance(c, r.SetState))
    assert state.until == pytest.approx(clock.wall + 86_400 + 60) and state.detail == "resume at reset"


def test_a_cli_that_stops_waiting_by_itself_gets_the_keys_at_the_reset() -> None:
    """Claude Code 2.1.333 waits in place, then says it "will not resume on its own": we type then."""
    reactor, clock = make(), Clock()
    running(reactor, clock)
    reactor.readout(clock.advance(1), [limit(Action.RESUME, 100, keys="continue\r", at=clock.wall + 1)])
    out = reactor.readout(clock.advance(1), [limit(Action.RESUME, 100, raw="set to continue automatically", keys="",
                                                 at=clock.wall - 1)])
    assert next(c for c in out if isinstance(c, r.SetState)).detail == "waiting in place"
    out = reactor.readout(clock.advance(5), [limit(Action.RESUME, None, raw="Automatic continue stopped",
                                                 keys="continue\r")])
    assert "FindRows" not in kinds(out)  # the same limit: no new row
    assert next(c for c in out if isinstance(c, r.SetState)).detail == "resume at reset"
    out = reactor.tick(clock.advance(160))
    assert r.SendKeys("continue\r") in out


def test_a_wake_while_the_runtime_stops_for_its_limit_is_not_lost() -> None:
    """`teamctl wake` lands after the hit's row, before the runtime is gone: no wait follows."""
    reactor, clock = make(), Clock()
    running(reactor, clock)
    assert kinds(reactor.readout(clock.advance(1), [limit(Action.STOP, 300)]))[-1] == "Stop"
    assert kinds(reactor.wake(clock.advance(0.1))) == ["Log"]
    out = reactor.exited(clock.advance(0.5), 143)
    assert "Wait" not in kinds(out) and r.Notice("woken early") in out
    assert out[-1] == r.CheckLimits(group=True)
    assert reactor.limits(clock.now(), None, None) == [r.Spawn(True)]  # the session goes on, at once

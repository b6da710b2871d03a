"""The reactor's table: every (phase, input) pair is handled or raises; and the rules added with it
(a crash resumes, a print-mode run that meets its limit again is "not reset yet", blocked, one row
per limit with the CLI's own hook), each as an input sequence on an injected clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from teamctl_supervisor.core import reactor as r
from teamctl_supervisor.core.descriptors.loader import Action
from teamctl_supervisor.core.policy import CrashPolicy, Restart
from teamctl_supervisor.core.reactor.session import Session
from teamctl_supervisor.core.scan.scanner import Event, EventKind
from teamctl_supervisor.core.states import AgentState, WaitEnd

T0 = 1_800_000_000.0


def make(restart: Restart = Restart.ALWAYS, **settings: object) -> r.Reactor:
    policy = CrashPolicy(restart=restart, initial=2.0, cap=60.0, jitter=0.0, give_up_exits=5, give_up_window=100.0,
                         quick_uptime=10.0)
    return r.Reactor(replace(r.ReactorSettings(margin=60.0, post_hooks=("after",)), **settings), policy)


def now(t: float = 0.0) -> r.Now:
    return r.Now(T0 + t, t)


def limit(action: Action = Action.STOP, resets_at: float | None = T0 + 3600, raw: str = "usage limit reached",
          keys: str = "") -> Event:
    resets = datetime.fromtimestamp(resets_at, UTC) if resets_at is not None else None
    return Event(EventKind.RATE_LIMIT, 1, raw, "sig", action=action, resets_at=resets, resume_keys=keys)


def kinds(commands: list[r.Command]) -> list[str]:
    return [type(c).__name__ for c in commands]


def answered(reactor: r.Reactor, t: float, commands: list[r.Command], found: tuple[float, ...] = ()
             ) -> list[r.Command]:
    out: list[r.Command] = []
    for c in commands:
        out += reactor.rows(now(t), c.hit, c.until, found) if isinstance(c, r.FindRows) else [c]
    return out


def session(reactor: r.Reactor, t: float = 0.0, resume: bool = False) -> None:
    reactor.start(now(t))
    assert reactor.limits(now(t), None, None) == [r.Spawn(resume)]
    reactor.spawned(now(t), resume)


# -- the table ---------------------------------------------------------------------------------------

_ARGS = {
    r.Input.START: lambda: (now(),),
    r.Input.LIMITS: lambda: (now(), None, None),
    r.Input.WAITED: lambda: (r.WaitKind.BACKOFF, WaitEnd.DEADLINE, now()),
    r.Input.SPAWNED: lambda: (now(), False),
    r.Input.SPAWN_FAILED: lambda: (now(), "nope"),
    r.Input.READOUT: lambda: (now(), [], True, True),
    r.Input.ROWS: lambda: (now(), r.Hit(limit(), T0, T0 + 3600), T0 + 3660, []),
    r.Input.TICK: lambda: (now(),),
    r.Input.RESIZED: lambda: (now(),),
    r.Input.POKE: lambda: (now(),),
    r.Input.WAKE: lambda: (now(),),
    r.Input.STOP_SIGNAL: lambda: (15,),
    r.Input.EXITED: lambda: (now(), 0),
    r.Input.TURN: lambda: (now(), "claude-transcript"),
}


@pytest.mark.parametrize("phase", list(r.Phase))
@pytest.mark.parametrize("got", list(r.Input))
def test_every_phase_and_input_pair_is_handled_or_raises(phase: r.Phase, got: r.Input) -> None:
    reactor = make()
    reactor.phase = phase
    if phase in r.SESSION_PHASES:
        reactor._session = Session(resumed=False, started=0.0)
    method = getattr(reactor, got.value)
    if (phase, got) in r.TABLE:
        assert isinstance(method(*_ARGS[got]()), list)
    else:
        with pytest.raises(r.UnexpectedInput) as info:
            method(*_ARGS[got]())
        assert info.value.phase is phase and info.value.input is got


def test_the_table_lists_what_a_session_needs_and_refuses_output_between_sessions() -> None:
    for phase in r.SESSION_PHASES:
        for got in (r.Input.READOUT, r.Input.TICK, r.Input.EXITED, r.Input.STOP_SIGNAL):
            assert (phase, got) in r.TABLE
    assert (r.Phase.WAITING, r.Input.READOUT) not in r.TABLE
    assert (r.Phase.DONE, r.Input.START) not in r.TABLE
    reactor = make()
    with pytest.raises(r.UnexpectedInput):
        reactor.exited(now(), 0)  # no session: a bug in the shell, never a silent []


def test_wait_kinds_are_an_enum_and_a_pause_is_a_typed_value() -> None:
    reactor = make()
    session(reactor)
    reactor.tick(now(r.GROUP_POLL_SECONDS))
    assert reactor.limits(now(r.GROUP_POLL_SECONDS), None, T0 + 900) == [r.Stop("budget cap")]
    assert reactor._session is not None and reactor._session.pause == r.Pause(r.WaitKind.BUDGET, T0 + 900)
    wait = reactor.exited(now(40), 143)[0]
    assert isinstance(wait, r.Wait) and wait.kind is r.WaitKind.BUDGET


# -- a crash resumes the conversation ------------------------------------------------------------------

def test_a_crash_after_the_runtime_worked_respawns_into_its_own_session() -> None:
    reactor = make(Restart.ON_FAILURE)
    session(reactor)
    reactor.readout(now(5), [], new_content=True)
    out = reactor.exited(now(30), 1)
    assert kinds(out) == ["Notice", "Wait"] and out[1].kind is r.WaitKind.BACKOFF
    reactor.waited(r.WaitKind.BACKOFF, WaitEnd.DEADLINE, now(33))
    assert reactor.limits(now(33), None, None) == [r.Spawn(True)]


def test_a_runtime_that_never_started_a_conversation_and_a_clean_exit_start_fresh() -> None:
    reactor = make()
    session(reactor)
    reactor.exited(now(1), 1)  # died drawing nothing: nothing to resume
    reactor.waited(r.WaitKind.BACKOFF, WaitEnd.DEADLINE, now(4))
    assert reactor.limits(now(4), None, None) == [r.Spawn(False)]
    reactor.spawned(now(4), False)
    reactor.readout(now(5), [], new_content=True)
    assert reactor.exited(now(700), 0) == [r.CheckLimits(group=True)]  # `always`, a clean end
    assert reactor.limits(now(700), None, None) == [r.Spawn(False)]


def test_a_resumed_run_that_dies_at_once_drawing_nothing_falls_back_to_a_fresh_one() -> None:
    reactor = make(Restart.ON_FAILURE)
    session(reactor)
    reactor.readout(now(5), [], new_content=True)
    reactor.exited(now(30), 1)
    reactor.waited(r.WaitKind.BACKOFF, WaitEnd.DEADLINE, now(33))
    reactor.limits(now(33), None, None)
    reactor.spawned(now(33), True)
    out = reactor.exited(now(34), 1)
    assert "fresh conversation" in next(c.text for c in out if isinstance(c, r.Log))
    reactor.waited(r.WaitKind.BACKOFF, WaitEnd.DEADLINE, now(40))
    assert reactor.limits(now(40), None, None) == [r.Spawn(False)]


# -- issue 22, item 3: `claude -p` respawned before an unaligned reset ---------------------------------

def test_a_print_mode_run_meeting_its_limit_again_before_the_real_reset_is_not_reset_yet() -> None:
    """`--margin 1 --restart on-failure -- claude -p`: the real reset at hh:mm:45 is printed as hh:mm;
    the respawn at hh:mm:01 meets the limit again and exits 1. Not history, not a crash: re-checks
    with growing waits, one row, and success after the real reset."""
    reactor = make(Restart.ON_FAILURE, margin=1.0)
    printed, real = T0 + 60, T0 + 105  # hh:mm (printed) and hh:mm:45 (real)
    line = limit(Action.RESUME, printed, raw="usage limit reached · resets 10:01", keys="continue\r")
    session(reactor)
    out = answered(reactor, 10, reactor.readout(now(10), [line]))
    rows = [c for c in out if isinstance(c, r.RecordHit)]
    wait = reactor.exited(now(10.5), 1)[0]
    assert isinstance(wait, r.Wait) and wait.kind is r.WaitKind.HIT and wait.deadline == printed + 1
    t = wait.deadline - T0
    waits = []
    while T0 + t < real:
        out = reactor.waited(r.WaitKind.HIT, WaitEnd.DEADLINE, now(t))
        assert reactor.limits(now(t), None, None) == [r.Spawn(True)]  # the session goes on
        reactor.spawned(now(t), True)
        out = answered(reactor, t + 1, reactor.readout(now(t + 1), [line]))
        rows += [c for c in out if isinstance(c, r.RecordHit)]
        out = reactor.exited(now(t + 1.5), 1)
        assert "Notice" not in kinds(out) or "backing off" not in str(out)
        wait = next(c for c in out if isinstance(c, r.Wait))
        assert wait.kind is r.WaitKind.HIT and any("not reset yet" in c.text for c in out if isinstance(c, r.Log))
        waits.append(wait.deadline - (T0 + t + 1.5))
        t = wait.deadline - T0
    assert waits == [30.0, 60.0]  # 30 s, then 60 s, from each exit on the limit line
    reactor.waited(r.WaitKind.HIT, WaitEnd.DEADLINE, now(t))
    reactor.limits(now(t), None, None)
    reactor.spawned(now(t), True)
    reactor.readout(now(t + 1), [], new_content=True)
    out = reactor.exited(now(t + 2), 0)
    assert out == [r.SetState(AgentState.STOPPED, detail="exited 0"), r.Exit(0)]
    assert len(rows) == 1  # one row per real hit


def test_a_resumed_tui_redrawing_its_old_line_is_still_history() -> None:
    reactor = make()
    line = limit(Action.STOP, T0 + 60, raw="usage limit reached · resets 10:01")
    session(reactor)
    reactor.readout(now(1), [line])
    wait = reactor.exited(now(2), 143)[0]
    reactor.waited(r.WaitKind.HIT, WaitEnd.DEADLINE, now(wait.deadline - T0))
    reactor.limits(now(200), None, None)
    reactor.spawned(now(200), True)
    assert kinds(reactor.readout(now(201), [line])) == ["Log"]
    assert reactor.tick(now(202)) == [] and reactor.phase is r.Phase.RESUMING  # going on, not yet proven


# -- blocked ---------------------------------------------------------------------------------------------

def test_a_block_with_a_stated_reset_is_waited_out_as_blocked_then_resumed() -> None:
    reactor = make()
    session(reactor)
    out = reactor.readout(now(1), [limit(Action.BLOCK, T0 + 3600, raw="Your organization is paused")])
    assert kinds(out)[-1] == "Stop"
    wait = reactor.exited(now(2), 143)[0]
    assert (wait.kind, wait.state, wait.deadline) == (r.WaitKind.BLOCKED, AgentState.BLOCKED, T0 + 3660)
    assert "organization is paused" in (wait.detail or "")
    out = reactor.waited(r.WaitKind.BLOCKED, WaitEnd.DEADLINE, now(3660))
    assert kinds(out) == ["MarkHandled", "RunHooks", "CheckLimits"]
    assert reactor.limits(now(3660), None, None) == [r.Spawn(True)]


def test_a_block_without_a_reset_shows_the_reason_and_is_never_respawned_in_a_loop() -> None:
    reactor = make(Restart.ON_FAILURE)
    session(reactor)
    out = reactor.readout(now(1), [limit(Action.BLOCK, None, raw="Credit balance is too low")])
    state = next(c for c in out if isinstance(c, r.SetState))
    assert state.state is AgentState.BLOCKED and "Credit balance" in (state.detail or "")
    assert reactor.phase is r.Phase.BLOCKED and reactor.tick(now(400)) == []
    wait = reactor.exited(now(500), 1)[0]  # the CLI gives up: a wait on a person, not a backoff
    assert wait.kind is r.WaitKind.BLOCKED and wait.deadline == T0 + 500 + 8 * 86400
    out = reactor.waited(r.WaitKind.BLOCKED, WaitEnd.WAKE, now(600))  # `teamctl wake`: fixed
    assert kinds(out)[-1] == "CheckLimits" and reactor.limits(now(600), None, None) == [r.Spawn(True)]


# -- one limit, one row -----------------------------------------------------------------------------------

def test_a_row_the_clis_own_hook_wrote_first_is_taken_over_and_marked_handled() -> None:
    reactor = make()
    session(reactor)
    out = reactor.readout(now(5), [limit(Action.STOP, T0 + 60)])
    find = out[0]
    assert isinstance(find, r.FindRows) and find.since == T0 + 5 - r.SAME_HIT_SECONDS
    record = reactor.rows(now(5), find.hit, find.until, [T0 + 3])
    assert record == [r.RecordHit(find.hit, find.until, T0 + 3, update=True)]
    wait = reactor.exited(now(6), 143)[0]
    out = reactor.waited(r.WaitKind.HIT, WaitEnd.DEADLINE, now(wait.deadline - T0))
    assert out[0] == r.MarkHandled(find.hit, T0 + 3)


def test_rows_of_its_own_are_never_adopted_and_the_hook_skips_a_known_hit() -> None:
    assert r.adopted_row([T0, T0 + 3], mine=[T0]) == T0 + 3
    assert r.adopted_row([T0], mine=[T0]) is None
    assert r.hook_report_is_known([T0], T0 + 100) and not r.hook_report_is_known([T0], T0 + 121)


def test_the_reactors_messages_read_its_clock_not_the_real_one() -> None:
    """T0 is a day in 2027: "today" is read at the reactor's now, so a reset that day shows no date."""
    reactor = make()
    session(reactor)
    out = reactor.readout(now(1), [limit(Action.RESUME, T0 + 600, keys="continue\r")])
    notice = next(c.text for c in out if isinstance(c, r.Notice))
    assert notice == f"rate limit (session kept): resuming at {datetime.fromtimestamp(T0 + 660, UTC):%H:%M} UTC"

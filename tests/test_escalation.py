""""Resumed" on evidence (issue 22 item 2), as input sequences on an injected clock: after a resume in
place, a respawn to go on or a wait in place, the agent is resuming until a model turn is seen; without
one by the deadline it is pushed: continue typed, then a respawn into its own session, then `stuck`."""

from __future__ import annotations

import pytest
from teamctl_supervisor.core import reactor as r
from teamctl_supervisor.core.descriptors.loader import Action
from teamctl_supervisor.core.states import AgentState, WaitEnd
from test_reactor_table import T0, kinds, limit, make, now, session

DEADLINE = 10.0


def in_place(keys: str = "", **settings: object) -> r.Reactor:
    """A session kept at a limit that resets at T0+100, resumed in place at the reset + 60 s margin."""
    settings.setdefault("resume_deadline", DEADLINE)
    reactor = make(**settings)
    session(reactor)
    reactor.readout(now(1), [limit(Action.RESUME, T0 + 100, keys=keys)])
    assert reactor.phase is r.Phase.LIMITED
    return reactor


def resumed_at(reactor: r.Reactor, t: float) -> list[r.Command]:
    out = reactor.tick(now(t))
    assert reactor.phase is r.Phase.RESUMING
    return out


def test_a_resume_in_place_is_not_resumed_until_a_model_turn() -> None:
    reactor = in_place()
    out = resumed_at(reactor, 161)
    assert r.ArmTurns("") in out and not [c for c in out if isinstance(c, r.SendKeys)]  # it waits in place
    assert not [c for c in out if isinstance(c, r.Notice) and "resumed" in c.text]
    assert reactor.tick(now(161 + DEADLINE - 1)) == []  # quiet, before the deadline: nothing said
    assert reactor.readout(now(165), [], True, True) == []  # output alone is no proof
    out = reactor.turn(now(166), "claude-transcript")
    assert out == [r.SetState(AgentState.RUNNING), r.Notice("resumed the session: model turn seen (claude-transcript)"),
                   r.RunEvent("resumed", "model turn seen (claude-transcript)")]
    assert reactor.phase is r.Phase.RUNNING and reactor.escalation.level == 0
    assert reactor.turn(now(170), "claude-transcript") == []  # said once


def test_no_turn_types_continue_then_respawns_then_marks_stuck_with_the_reason() -> None:
    reactor = in_place()
    resumed_at(reactor, 161)
    # (a) the deadline: the runtime's continue keys, and the look starts over (the keys are not a turn)
    out = reactor.tick(now(161 + DEADLINE))
    assert kinds(out)[:3] == ["Notice", "SendKeys", "ArmTurns"]
    assert out[1] == r.SendKeys("continue\r") and out[2] == r.ArmTurns("continue\r")
    assert reactor.phase is r.Phase.RESUMING
    # (b) still nothing: stop it and respawn into its own session
    out = reactor.tick(now(161 + 2 * DEADLINE))
    assert kinds(out)[:2] == ["Notice", "Stop"] and "respawning into its own session" in out[0].text
    assert reactor.phase is r.Phase.STOPPING
    assert reactor.exited(now(175 + 2 * DEADLINE), 143) == [r.CheckLimits(group=True)]  # no wait, no crash
    assert reactor.limits(now(176 + 2 * DEADLINE), None, None) == [r.Spawn(True)]
    out = reactor.spawned(now(177 + 2 * DEADLINE), True)
    assert out == [r.SetState(AgentState.RUNNING, detail="resuming"), r.ArmTurns("")]
    assert reactor.phase is r.Phase.RESUMING and reactor.restarts == 1
    # (c) nothing after the respawn either: stuck, with the reason (its hook runs from the state change)
    out = reactor.tick(now(177 + 3 * DEADLINE))
    stuck = [c for c in out if isinstance(c, r.SetState)]
    assert stuck == [r.SetState(AgentState.STUCK, detail="stuck: no model turn after typing continue and a "
                                                         "respawn (10s each)")]
    assert not [c for c in reactor.tick(now(177 + 9 * DEADLINE)) if not isinstance(c, r.CheckLimits)]  # no loop
    assert not reactor.busy()  # a stuck agent ticks seldom
    # a turn later still proves it back at work
    assert kinds(reactor.turn(now(177 + 10 * DEADLINE), "screen")) == ["SetState", "Notice", "RunEvent"]
    assert reactor.phase is r.Phase.RUNNING and reactor.escalation.level == 0


def test_a_turn_after_the_keys_ends_the_escalation() -> None:
    reactor = in_place()
    resumed_at(reactor, 161)
    reactor.tick(now(161 + DEADLINE))
    assert kinds(reactor.turn(now(165 + DEADLINE), "codex-rollout")) == ["SetState", "Notice", "RunEvent"]
    assert reactor.tick(now(161 + 5 * DEADLINE)) == [] or reactor.phase is r.Phase.RUNNING
    assert not [c for c in reactor.tick(now(161 + 6 * DEADLINE)) if isinstance(c, r.Stop)]


def test_without_continue_keys_the_first_step_is_the_respawn() -> None:
    reactor = in_place(continue_keys="")
    resumed_at(reactor, 161)
    out = reactor.tick(now(161 + DEADLINE))
    assert [type(c) for c in out if isinstance(c, r.SendKeys | r.Stop)] == [r.Stop]


def test_a_deadline_of_zero_never_escalates() -> None:
    reactor = in_place(resume_deadline=0.0)
    resumed_at(reactor, 161)
    assert not [c for c in reactor.tick(now(161 + 1000)) if isinstance(c, r.SendKeys | r.Stop | r.SetState)]


@pytest.mark.parametrize("source", ["claude-transcript", "screen"])
def test_a_cli_that_goes_on_by_itself_after_its_reset_is_resumed_before_the_margin(source: str) -> None:
    reactor = in_place()
    assert reactor.turn(now(50), source) == []  # before its reset: no proof of anything
    assert reactor.phase is r.Phase.LIMITED
    out = reactor.turn(now(110), source)  # after the reset, inside our margin: it went on by itself
    assert kinds(out) == ["MarkHandled", "RunHooks", "SetState", "Notice", "RunEvent"]
    assert reactor.phase is r.Phase.RUNNING
    assert reactor.tick(now(200)) == [] or reactor.phase is r.Phase.RUNNING  # nothing typed at the old resume


def test_a_respawn_after_a_limit_is_resuming_until_a_turn() -> None:
    reactor = make(resume_deadline=DEADLINE)
    session(reactor)
    reactor.readout(now(1), [limit(Action.STOP, T0 + 100)])
    wait = reactor.exited(now(2), 143)[-1]
    assert isinstance(wait, r.Wait)
    reactor.waited(r.WaitKind.HIT, WaitEnd.DEADLINE, now(wait.deadline - T0))
    assert reactor.limits(now(161), None, None) == [r.Spawn(True)]
    assert reactor.spawned(now(161), True)[0] == r.SetState(AgentState.RUNNING, detail="resuming")
    assert reactor.phase is r.Phase.RESUMING
    assert kinds(reactor.turn(now(170), "claude-transcript")) == ["SetState", "Notice", "RunEvent"]


def test_a_crash_respawn_or_a_first_spawn_is_running_not_resuming() -> None:
    reactor = make(resume_deadline=DEADLINE)
    session(reactor)
    assert reactor.phase is r.Phase.RUNNING and reactor.turn(now(1), "screen") == []
    reactor.readout(now(2), [], True, True)
    wait = reactor.exited(now(30), 1)[-1]  # a crash: backed off, then respawned with its session
    assert isinstance(wait, r.Wait) and wait.kind is r.WaitKind.BACKOFF
    assert reactor.waited(r.WaitKind.BACKOFF, WaitEnd.DEADLINE, now(33)) == [r.CheckLimits(group=True)]
    assert reactor.limits(now(33), None, None) == [r.Spawn(True)]
    assert reactor.spawned(now(33), True) == [r.SetState(AgentState.RUNNING)]
    assert reactor.phase is r.Phase.RUNNING


def test_a_new_limit_while_resuming_after_a_respawn_is_its_own_hit_not_a_crash() -> None:
    reactor = make(resume_deadline=DEADLINE)
    session(reactor)
    reactor.readout(now(1), [limit(Action.STOP, T0 + 100)])
    wait = reactor.exited(now(2), 143)[-1]
    reactor.waited(r.WaitKind.HIT, WaitEnd.DEADLINE, now(wait.deadline - T0))
    reactor.limits(now(161), None, None)
    reactor.spawned(now(161), True)
    reactor.readout(now(165), [limit(Action.STOP, T0 + 20000, raw="weekly limit reached")])
    out = reactor.exited(now(166), 1)
    assert isinstance(out[-1], r.Wait) and out[-1].kind is r.WaitKind.HIT


def test_status_shows_resuming_and_stuck_with_its_reason() -> None:
    from types import SimpleNamespace

    from teamctl_supervisor.core.states import state_text

    reason = "stuck: no model turn after typing continue and a respawn (2m each)"
    assert state_text(SimpleNamespace(state="stuck", detail=reason, until=None), T0) == reason
    assert state_text(SimpleNamespace(state="running", detail="resuming", until=None), T0) == "resuming"
    assert state_text(SimpleNamespace(state="running", detail=None, until=None), T0) == "running"


def test_the_deadline_is_a_launch_key_of_the_descriptor(tmp_path) -> None:
    from teamctl_supervisor.agent.turn_feed import escalation_settings
    from teamctl_supervisor.core.descriptors.loader import load_runtime
    from teamctl_supervisor.core.descriptors.tables import parse_launch
    from teamctl_supervisor.core.errors import DescriptorError

    path = tmp_path / "x.toml"
    assert parse_launch(path, {"binary": "x"}).resume_deadline is None
    assert parse_launch(path, {"binary": "x", "resume_deadline_seconds": 15}).resume_deadline == 15.0
    for bad in ("soon", -1, True, 10**6):
        with pytest.raises(DescriptorError, match="launch.resume_deadline_seconds"):
            parse_launch(path, {"binary": "x", "resume_deadline_seconds": bad})
    claude = escalation_settings(load_runtime("claude-code"))
    assert claude == {"resume_deadline": 120.0, "continue_keys": "continue\r"}
    assert escalation_settings(load_runtime("gemini"))["resume_deadline"] == 120.0  # evidence's default


def test_the_screen_feeds_a_turn_only_for_new_model_text_and_once() -> None:
    from types import SimpleNamespace

    from teamctl_supervisor.agent.evidence import TurnWatch
    from teamctl_supervisor.agent.turn_feed import TurnFeed

    reactor = in_place()
    resumed_at(reactor, 161)
    watch = TurnWatch(None)  # a runtime without a session file: its screen is the evidence
    feed = TurnFeed(SimpleNamespace(turns=watch), hooks=None)  # type: ignore[arg-type]
    assert feed.turns(reactor, now(162), b" old banner text drawn earlier \r\n") == []  # not armed yet
    watch.arm(T0 + 163, None, typed=["continue\r"])
    assert feed.turns(reactor, now(164), b" continue \r\n") == []  # our own keys, echoed
    assert feed.turns(reactor, now(165), b" old banner text drawn earlier \r\n") == []  # a redraw
    line = limit(Action.RESUME, T0 + 9000, raw="session limit hit again")
    assert feed.turns(reactor, now(166), b" session limit hit again tomorrow \r\n", [line]) == []
    out = feed.turns(reactor, now(167), b" Refactored the parser module as asked \r\n")
    assert kinds(out) == ["SetState", "Notice", "RunEvent"] and out[2].detail == "model turn seen (screen)"
    assert feed.turns(reactor, now(168), b" Another answer entirely different \r\n") == []  # said once

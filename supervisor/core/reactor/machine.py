"""One agent's life as a state machine: inputs in, commands out, no I/O (the shape of h11's Connection).

The watcher shell (agent/watch.py) owns the pty, the store, the hooks and the clocks. It tells this
reactor what happened and executes the commands it gets back, in order. Each input is dispatched
through one table, TABLE[(phase, input)] -> handler; a pair the table does not list raises
UnexpectedInput. Handlers change the phase first, then say what to do (h11's rule). The rules
themselves (limits, rows, rechecks, history) are in limits.py; the crash policy in core/policy.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..policy import CrashPolicy
from ..resets.clocktext import human_duration, time_with_zone
from ..scan.scanner import Event, EventKind
from ..states import AgentState, WaitEnd
from .commands import (
    BudgetWoken,
    CheckLimits,
    Command,
    Exit,
    Hit,
    Log,
    Notice,
    Now,
    RecordCost,
    SendKeys,
    SetState,
    Spawn,
    Stop,
    Wait,
)
from .escalation import RESPAWN, Escalation
from .inputs import Inputs
from .limits import LimitRules
from .phases import SESSION_PHASES, Input, Pause, Phase, UnexpectedInput, WaitKind
from .rows import adopted_row
from .session import Session
from .settings import (
    DIALOG_SETTLE_SECONDS,
    FIRST_GROUP_POLL_SECONDS,
    GROUP_POLL_SECONDS,
    REPLAY_WINDOW_SECONDS,
    RESIZE_REPLAY_SECONDS,
    ReactorSettings,
)

_BEFORE_WAITS = {WaitKind.GROUP_BEFORE: (AgentState.RATE_LIMITED, "rate-limited (group)"),
                 WaitKind.BUDGET_BEFORE: (AgentState.PAUSED_BUDGET, "paused (budget)")}


class Reactor(Inputs):
    """The rules of one agent's life. Each input method returns the commands to execute, in order."""

    def __init__(self, settings: ReactorSettings, policy: CrashPolicy | None = None) -> None:
        self.settings = settings
        self.policy = policy or CrashPolicy(settings.crash)
        self.phase = Phase.IDLE
        self.restarts = 0
        self.last_exit: int | None = None
        self.limits_rules = LimitRules(settings)
        self.escalation = Escalation(settings)
        self._session: Session | None = None
        self._resume_next = False
        self._conversation = False  # a session of this agent has started a conversation to resume
        self._woken = False
        self._stop_signal: int | None = None
        self._next_poll = 0.0

    def remember(self, hit: Hit) -> None:
        """A hit from an earlier watcher of this agent (the mailbox): its redraw is history too."""
        self.limits_rules.handled.append(hit)

    @property
    def stopping_for(self) -> int | None:
        """The stop signal the watcher was told of (it then exits 128 + that), or None."""
        return self._stop_signal

    def busy(self) -> bool:
        """Whether something in this session is due within seconds (a reset to resume at, a dialog to
        answer, a resume to confirm, the session's first poll): the shell then ticks every second, else
        seldom."""
        s = self._session
        due = self.phase is Phase.RESUMING and s is not None and s.proof_due is not None
        first_poll = s is not None and self._next_poll <= s.started + FIRST_GROUP_POLL_SECONDS and self._polls(s)
        return self.phase in (Phase.LIMITED, Phase.STOPPING) or due or first_poll or self.answer_due()

    def answer_due(self) -> bool:
        """A dialog waits for the screen to settle: the shell should tick again soon."""
        return self._session is not None and bool(self._session.answers)

    def _dispatch(self, got: Input, *args: Any) -> list[Command]:
        handler = TABLE.get((self.phase, got))
        if handler is None:
            raise UnexpectedInput(self.phase, got)
        return handler(self, *args)

    # -- between sessions ----------------------------------------------------------------------
    def _on_start(self, now: Now) -> list[Command]:
        self.phase = Phase.CHECKING
        return [CheckLimits(group=True)]

    def _limits_before_spawn(self, now: Now, group_until: float | None, budget_until: float | None) -> list[Command]:
        woken, self._woken = self._woken, False
        if group_until is not None and not woken:
            return self._wait(WaitKind.GROUP_BEFORE, group_until)
        if budget_until is not None:
            return self._wait(WaitKind.BUDGET_BEFORE, budget_until)
        self.phase = Phase.SPAWNING
        return [Spawn(self._resume_next)]

    def _wait(self, kind: WaitKind, until: float, state: AgentState | None = None, label: str = "",
              detail: str | None = None) -> list[Command]:
        self.phase = Phase.WAITING
        if state is None:
            state, label = _BEFORE_WAITS.get(kind) or _PAUSE_WAITS[kind]
        return [Wait(kind, state, until, label, detail)]

    def _on_waited(self, kind: WaitKind, end: WaitEnd, now: Now) -> list[Command]:
        if end is WaitEnd.STOP:
            return self._stopped()
        self.phase = Phase.CHECKING
        out: list[Command] = []
        if end is WaitEnd.WAKE:
            self._woken = True
            out.append(Notice("woken early"))
            if kind in (WaitKind.BUDGET, WaitKind.BUDGET_BEFORE):
                out.append(BudgetWoken())
        if kind in (WaitKind.HIT, WaitKind.BLOCKED):
            out += self.limits_rules.pending_handled()
        if kind in (WaitKind.HIT, WaitKind.BLOCKED, WaitKind.GROUP, WaitKind.BUDGET):
            self._resume_next = True  # stopped for a limit or a cap: the session goes on
            self.escalation.await_next = True  # ... and is proven to by a model turn
            self.restarts += 1
        return [*out, CheckLimits(group=True)]

    # -- a session -----------------------------------------------------------------------------
    def _on_spawned(self, now: Now, resumed: bool) -> list[Command]:
        self.phase = Phase.RUNNING
        # only a CLI started with its resume flag can redraw its history (a fresh run cannot)
        self._session = Session(resumed=resumed, started=now.mono, last_content=now.mono,
                                replay_until=now.mono + REPLAY_WINDOW_SECONDS if resumed else 0.0)
        self._next_poll = now.mono + FIRST_GROUP_POLL_SECONDS
        if resumed and self.escalation.await_next:  # respawned to go on: resuming until a model turn
            self.escalation.await_next = False
            self.phase = Phase.RESUMING
            return [SetState(AgentState.RUNNING, detail="resuming"), *self.escalation.begin(self._session, now)]
        self.escalation.await_next = False
        return [SetState(AgentState.RUNNING)]

    def _on_spawn_failed(self, now: Now, message: str) -> list[Command]:
        return [Notice(f"cannot start: {message}"), *self._after_exit(127, now, uptime=0.0)]

    def _on_resized(self, now: Now) -> list[Command]:
        s = self._live()
        s.replay_until = max(s.replay_until, now.mono + RESIZE_REPLAY_SECONDS)
        return []

    def _on_readout(self, now: Now, events: list[Event], new_content: bool, wrote: bool) -> list[Command]:
        s = self._live()
        out: list[Command] = []
        if wrote or new_content:
            s.last_output = now.mono
        if new_content:
            s.last_content, s.drew_content = now.mono, True
            if s.stalled:
                s.stalled = False
                out += [Log("output again: no longer stalled"), SetState(AgentState.RUNNING)]
        for event in events:
            if event.kind is EventKind.RATE_LIMIT:
                out += self._on_limit(s, event, now)
            elif event.kind is EventKind.COST:
                out += [RecordCost(event), CheckLimits(group=False)]
            elif event.kind is EventKind.DIALOG:
                s.answers.append(event)
        return out

    def _on_limit(self, s: Session, event: Event, now: Now) -> list[Command]:
        phase, out = self.limits_rules.on_limit(self.phase, s, event, now)
        self.phase = phase
        return out

    def _on_rows(self, now: Now, hit: Hit, until: float, found: list[float]) -> list[Command]:
        row = adopted_row(found, self.limits_rules.rows_mine())
        return [self.limits_rules.record(hit, until, row)]

    def _on_tick(self, now: Now) -> list[Command]:
        s = self._live()
        out: list[Command] = []
        if s.answers and now.mono - s.last_output >= DIALOG_SETTLE_SECONDS:
            for event in s.answers:
                out += [Log(f"dialog {event.signature} answered: {event.raw[:120]!r}"), SendKeys(event.send)]
            s.answers.clear()
        if self.phase is Phase.LIMITED and s.resume_at is not None and now.wall >= s.resume_at:
            out += self._resume_now(s, now)
        if self.phase is Phase.RESUMING and s.proof_due is not None and now.mono >= s.proof_due:
            step, commands = self.escalation.step(s, now)
            if step == RESPAWN:
                self.phase = Phase.STOPPING
            out += commands
        if self._polls(s) and now.mono >= self._next_poll:
            self._next_poll = now.mono + GROUP_POLL_SECONDS
            out.append(CheckLimits(group=True))
        stall = self.settings.stall_seconds
        if stall and self.phase is Phase.RUNNING and not s.stalled and now.mono - s.last_content >= stall:
            s.stalled = True
            since = time_with_zone(now.wall - (now.mono - s.last_content), self.settings.tz, now.wall)
            out += [Log(f"stalled: no new output for {human_duration(now.mono - s.last_content)}", "warning"),
                    SetState(AgentState.RUNNING, detail=f"stalled since {since}")]
            if self.settings.stall_restart:
                self.phase = Phase.STOPPING
                out += [Notice("stalled: restarting the runtime"), Stop("stalled")]
        return out

    def _resume_now(self, s: Session, now: Now) -> list[Command]:
        assert s.hit is not None
        self.phase = Phase.RESUMING
        s.resume_at, s.resuming_since = None, now.mono
        out: list[Command] = [SetState(AgentState.RATE_LIMITED, detail="resuming")]
        if s.hit.event.resume_keys:
            out.append(SendKeys(s.hit.event.resume_keys))
        out += self.escalation.begin(s, now, s.hit.event.resume_keys)
        return [*out, *self.limits_rules.handled_hit(s.hit)]

    def _on_turn(self, now: Now, source: str) -> list[Command]:
        s = self._live()
        out = self.escalation.proof(self.phase, s, now, source, self.limits_rules)
        if out is not None:
            self.phase = Phase.RUNNING
        return out or []

    def _polls(self, s: Session) -> bool:
        """A session that polls its group and caps: running, or respawned and not yet proven."""
        return self.phase is Phase.RUNNING or (self.phase is Phase.RESUMING and s.hit is None)

    def _limits_in_session(self, now: Now, group_until: float | None, budget_until: float | None) -> list[Command]:
        s = self._live()
        if not self._polls(s):
            return []  # this session already ends or waits for its own reason
        if budget_until is not None:
            self.phase, s.pause = Phase.STOPPING, Pause(WaitKind.BUDGET, budget_until)
            return [Stop("budget cap")]
        if group_until is not None:
            self.phase, s.pause = Phase.STOPPING, Pause(WaitKind.GROUP, group_until)
            return [Notice(f"limit group {self.settings.limit_group} is rate-limited; pausing"), Stop("group limit")]
        return []

    def _on_poke(self, now: Now) -> list[Command]:
        return [CheckLimits(group=True)] if self.phase is Phase.RUNNING else []

    def _on_wake(self, now: Now) -> list[Command]:
        s = self._live()
        if self.phase in (Phase.LIMITED, Phase.BLOCKED) and s.hit is not None:
            return self._resume_now(s, now)
        if self.phase is Phase.STOPPING and s.hit is not None:  # its runtime still stopping: no wait after
            s.woken = True
            return [Log("woken while the runtime stops: respawning as soon as it is gone")]
        return []

    def _on_stop_signal(self, signum: int) -> list[Command]:
        self._stop_signal = signum
        if self._session is not None and self.phase in SESSION_PHASES:
            self.phase = Phase.STOPPING
            self._session.stop_signal = signum
            return [Stop(f"signal {signum}")]
        return []

    def _on_exited(self, now: Now, code: int) -> list[Command]:
        s, self._session = self._live(), None
        if s.stop_signal is not None:
            return self._stopped()
        self.last_exit = code
        if s.respawn:  # an escalation step: straight back into its own session
            self._resume_next, self.escalation.await_next = True, True
            self.restarts += 1
            self.phase = Phase.CHECKING
            return [CheckLimits(group=True)]
        self._conversation = self._conversation or s.drew_content or s.resumed
        hit, note = self.limits_rules.exit_hit(s, code, now)
        if hit is not None:  # its own hit, even when a group poll stopped it a moment before
            self.limits_rules.pending = hit
            if s.woken:
                self.phase = Phase.WAITING
                return [*note, *self._on_waited(WaitKind.HIT, WaitEnd.WAKE, now)]
            kind, state, label, deadline = self.limits_rules.wait_for(hit, now)
            return [*note, *self._wait(kind, deadline, state, label,
                                       detail=_reason(hit) if kind is WaitKind.BLOCKED else None)]
        if s.pause is not None:
            return self._wait(s.pause.kind, s.pause.until)
        return self._after_exit(code, now, uptime=now.mono - s.started, session=s)

    def _after_exit(self, code: int, now: Now, uptime: float, session: Session | None = None) -> list[Command]:
        self.last_exit = code
        crash = self.policy.settings
        decision = self.policy.on_exit(code, uptime, now.mono)
        if decision.give_up:
            self.phase = Phase.DONE
            return [SetState(AgentState.FAILED,
                             detail=f"gave up after {crash.give_up_exits} quick exits (last {code})"),
                    Notice(f"gave up: {crash.give_up_exits} exits within {crash.give_up_window:.0f}s"), Exit(code)]
        if not decision.restart:
            self.phase = Phase.DONE
            return [SetState(AgentState.STOPPED, detail=f"exited {code}"), Exit(code)]
        self.restarts += 1
        out: list[Command] = []
        # a crash resumes the agent's conversation; a clean exit, or a runtime that never started
        # one (or whose resumed run died drawing nothing), starts fresh
        failed_resume = session is not None and session.resumed and not session.drew_content \
            and uptime < crash.quick_uptime
        self._resume_next = code != 0 and self._conversation and not failed_resume
        if failed_resume and code != 0:
            out.append(Log("the resumed run exited at once: the next one starts a fresh conversation", "warning"))
        if decision.delay > 0:
            return [*out, Notice(f"runtime exited {code}; backing off ({decision.attempt}) "
                                 f"{human_duration(decision.delay)}"),
                    *self._wait(WaitKind.BACKOFF, now.wall + decision.delay, AgentState.BACKING_OFF,
                                "backing off", detail=f"backing off ({decision.attempt})")]
        self.phase = Phase.CHECKING
        return [*out, CheckLimits(group=True)]

    def _stopped(self) -> list[Command]:
        self.phase = Phase.DONE
        sig = self._stop_signal or 15
        return [SetState(AgentState.STOPPED, detail=f"signal {sig}"), Exit(128 + sig)]

    def _nothing(self, *args: Any) -> list[Command]:
        return []

    def _live(self) -> Session:
        assert self._session is not None, f"no session in phase {self.phase}"
        return self._session


def _reason(hit: Hit) -> str:
    return f"blocked: {hit.event.raw[:160]}"


_PAUSE_WAITS = {WaitKind.GROUP: (AgentState.RATE_LIMITED, "rate-limited (group)"),
                WaitKind.BUDGET: (AgentState.PAUSED_BUDGET, "paused (budget)")}

Handler = Callable[..., list[Command]]
_SESSION = SESSION_PHASES
_BETWEEN = frozenset({Phase.CHECKING, Phase.WAITING, Phase.SPAWNING})
_ROWS: list[tuple[Iterable[Phase], Input, Handler]] = [
    ({Phase.IDLE}, Input.START, Reactor._on_start),
    ({Phase.CHECKING}, Input.LIMITS, Reactor._limits_before_spawn),
    (_SESSION, Input.LIMITS, Reactor._limits_in_session),
    ({Phase.WAITING}, Input.WAITED, Reactor._on_waited),
    ({Phase.SPAWNING}, Input.SPAWNED, Reactor._on_spawned),
    ({Phase.SPAWNING}, Input.SPAWN_FAILED, Reactor._on_spawn_failed),
    (_SESSION, Input.READOUT, Reactor._on_readout),
    (_SESSION, Input.ROWS, Reactor._on_rows),
    (_SESSION, Input.TICK, Reactor._on_tick),
    (_SESSION, Input.RESIZED, Reactor._on_resized),
    (_BETWEEN | {Phase.IDLE}, Input.RESIZED, Reactor._nothing),  # the next session draws afresh
    (_SESSION, Input.POKE, Reactor._on_poke),
    (_BETWEEN | {Phase.IDLE}, Input.POKE, Reactor._nothing),  # the check before each spawn sees it
    (_SESSION, Input.WAKE, Reactor._on_wake),
    (_BETWEEN | {Phase.IDLE}, Input.WAKE, Reactor._nothing),  # a Wait hears a wake as its own end
    (_SESSION | _BETWEEN | {Phase.IDLE}, Input.STOP_SIGNAL, Reactor._on_stop_signal),
    (_SESSION, Input.EXITED, Reactor._on_exited),
    (_SESSION, Input.TURN, Reactor._on_turn),
    (_BETWEEN | {Phase.IDLE}, Input.TURN, Reactor._nothing),  # a turn read late: the next spawn looks anew
]
#: The one table of transitions: (phase, input) -> handler. Unlisted pairs raise UnexpectedInput.
TABLE: dict[tuple[Phase, Input], Handler] = {
    (phase, got): handler for phases, got, handler in _ROWS for phase in phases}

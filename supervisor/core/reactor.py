"""One agent's life as a state machine: inputs in, commands out, no I/O (the shape of h11's Connection).

The watcher shell (agent/watch.py) owns the pty, the store, the hooks and the clocks. It feeds this
reactor what happened (scanner events, the runtime's exit, a tick, a signal, the answer to a limits
poll, the end of a wait) and executes the commands it gets back, in order. Every rule of an agent's
life lives here, so each can be table-tested on an injected clock:

- one hit per runtime session (a TUI redraws its limit message), record-only hits deduplicated;
- stop-and-respawn vs keep-the-session-and-resume vs wait-in-place (a CLI that retries by itself);
- a reset that already passed (minute-rounded clocks) and a limit seen again after its reset mean
  "not reset yet": re-check after a short wait that grows, never a sleep of hours;
- history a resumed session redraws (its old limit line) is not a new hit;
- "resumed" is said only once the CLI has worked a while without hitting the limit again;
- budget caps and limit groups pause the agent; a stall (spinner only) is noticed;
- crashes back off on the tenacity policy and a crash loop is given up on.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace
from zoneinfo import ZoneInfo

from .descriptors.loader import Action
from .policy import CrashPolicy, plan_wait
from .resets.clocktext import human_duration, time_with_zone
from .scan.scanner import Event, EventKind
from .states import AgentState, WaitEnd

#: Record-only hits (the CLI retries by itself) closer together than this are one hit.
RECORD_DEDUP_SECONDS = 60.0
#: two readings of one reset: a duration counted from two moments, or a clock rounded to the minute
SAME_RESET_SECONDS = 120.0
#: How often a running agent polls the mailbox for its limit group and budget caps.
GROUP_POLL_SECONDS = 30.0
#: "Not reset yet" re-checks: first wait, growth factor, cap.
RECHECK_FIRST, RECHECK_CAP = 30.0, 600.0
#: A resumed session that works this long without the limit coming back has really resumed.
RESUME_CONFIRM_SECONDS = 15.0
#: After a respawn with resume (or a resize), a limit line the CLI redraws from its history in this
#: window, matching a hit already handled, is history, not a new hit.
REPLAY_WINDOW_SECONDS = 20.0
RESIZE_REPLAY_SECONDS = 5.0
#: A dialog is answered once the screen has been still this long: a TUI that is still starting up
#: (asking the terminal what it can do) drops keys typed into it.
DIALOG_SETTLE_SECONDS = 0.5
#: Handled hits remembered for telling history from a new hit.
REMEMBERED_HITS = 16


# -- what the reactor is told -------------------------------------------------------------------

@dataclass(frozen=True)
class Now:
    """Both clocks at one instant: wall for reset instants and rows, monotonic for lengths."""

    wall: float
    mono: float


@dataclass(frozen=True)
class Hit:
    """A rate-limit hit: the event, when it was seen, its reset instant (None: unknown)."""

    event: Event
    hit_at: float
    resets_at: float | None
    recheck: int = 0  # > 0: seen again after its reset, the n-th "not reset yet"


# -- what the reactor asks for ------------------------------------------------------------------

@dataclass(frozen=True)
class Spawn:
    resume: bool


@dataclass(frozen=True)
class Stop:
    """Stop the runtime's whole tree; `exited` follows."""

    reason: str


@dataclass(frozen=True)
class SendKeys:
    keys: str


@dataclass(frozen=True)
class RecordHit:
    hit: Hit
    until: float
    #: the row of a record-only line of the same limit seen just before: made this hit, not a second row
    replaces_record: bool = False


@dataclass(frozen=True)
class RecordCost:
    event: Event


@dataclass(frozen=True)
class MarkHandled:
    hit: Hit


@dataclass(frozen=True)
class RunHooks:
    names: tuple[str, ...]
    hit: Hit


@dataclass(frozen=True)
class PokeGroup:
    """Tell the other watchers of the limit group to poll now."""


@dataclass(frozen=True)
class CheckLimits:
    """Poll the mailbox: the group's active limit (when `group`) and the budget cap; answer `limits`."""

    group: bool = True


@dataclass(frozen=True)
class SetState:
    state: AgentState
    until: float | None = None
    detail: str | None = None


@dataclass(frozen=True)
class Notice:
    """A line for the person watching (the pane) and the log."""

    text: str


@dataclass(frozen=True)
class Log:
    text: str
    level: str = "info"


@dataclass(frozen=True)
class Wait:
    """Block until `deadline` (wall), a wake or a stop; answer `waited(kind, end)`."""

    kind: str  # "hit", "group", "budget", "backoff"
    state: AgentState
    deadline: float
    label: str
    detail: str | None = None


@dataclass(frozen=True)
class BudgetWoken:
    """`teamctl wake` ended a budget pause: the guard lets the agent run for the rest of the day."""


@dataclass(frozen=True)
class Exit:
    code: int


Command = (Spawn | Stop | SendKeys | RecordHit | RecordCost | MarkHandled | RunHooks | PokeGroup | CheckLimits
           | SetState | Notice | Log | Wait | BudgetWoken | Exit)


@dataclass(frozen=True)
class Rules:
    """The settings the rules read (from compose, the descriptor and the command line)."""

    margin: float = 60.0
    fallback_wait: float = 1800.0
    max_wait: float = 8 * 86400.0
    pre_hooks: tuple[str, ...] = ("wait",)
    post_hooks: tuple[str, ...] = ()
    give_up_exits: int = 5
    give_up_window: float = 120.0
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    limit_group: str = ""
    stall_seconds: float = 300.0  # 0: never
    stall_restart: bool = False


@dataclass
class _Session:
    """What one runtime session has done so far."""

    resumed: bool
    started: float  # mono
    hit: Hit | None = None  # the stop/resume hit of this session
    resume_at: float | None = None  # wall: when to resume in place
    resuming_since: float | None = None  # mono: resume keys sent (or the reset passed), not yet confirmed
    pause: tuple[str, float] | None = None  # ("budget"|"group", until) once stopped for it
    stop_signal: int | None = None
    woken: bool = False  # `teamctl wake` while the runtime was being stopped for its limit
    last_content: float = 0.0  # mono
    stalled: bool = False
    replay_until: float = 0.0  # mono
    last_output: float = 0.0  # mono: the runtime last wrote anything (content or a redraw)
    answers: list[Event] = field(default_factory=list)  # dialogs seen, answered once the screen settles


class Reactor:
    """The rules of one agent's life. Each input method returns the commands to execute, in order."""

    def __init__(self, rules: Rules, policy: CrashPolicy) -> None:
        self.rules = rules
        self.policy = policy
        self.restarts = 0
        self.last_exit: int | None = None
        self._session: _Session | None = None
        self._resume_next = False
        self._woken = False
        self._pending_hit: Hit | None = None  # waited out between sessions
        self._last_record: float = -1e18  # mono
        self._last_record_hit: Hit | None = None
        self._handled: deque[Hit] = deque(maxlen=REMEMBERED_HITS)
        self._stop_signal: int | None = None
        self._next_poll = 0.0

    # -- between sessions --------------------------------------------------------------------
    def start(self, now: Now) -> list[Command]:
        """The watcher starts: look before the first spawn (a group's limit, a budget cap)."""
        return [CheckLimits(group=True)]

    def remember(self, hit: Hit) -> None:
        """A hit from an earlier watcher of this agent (the mailbox): its redraw is history too."""
        self._handled.append(hit)

    def limits(self, now: Now, group_until: float | None, budget_until: float | None) -> list[Command]:
        """The answer to CheckLimits: the group's active limit (None: none) and the budget cap."""
        s = self._session
        if s is None:  # before a spawn
            woken, self._woken = self._woken, False
            if group_until is not None and not woken:
                return [Wait("group-before", AgentState.RATE_LIMITED, group_until, "rate-limited (group)")]
            if budget_until is not None:
                return [Wait("budget-before", AgentState.PAUSED_BUDGET, budget_until, "paused (budget)")]
            return [Spawn(self._resume_next)]
        if s.hit is not None or s.pause is not None or s.stop_signal is not None:
            return []  # this session already ends or waits for its own reason
        if budget_until is not None:
            s.pause = ("budget", budget_until)
            return [Stop("budget cap")]
        if group_until is not None:
            s.pause = ("group", group_until)
            return [Notice(f"limit group {self.rules.limit_group} is rate-limited; pausing"), Stop("group limit")]
        return []

    def waited(self, kind: str, end: WaitEnd, now: Now) -> list[Command]:
        """A Wait ended (its deadline, a wake, or a stop signal)."""
        if end is WaitEnd.STOP:
            return self._stopped()
        out: list[Command] = []
        if end is WaitEnd.WAKE:
            self._woken = True
            out.append(Notice("woken early"))
            if kind in ("budget", "budget-before"):
                out.append(BudgetWoken())
        if kind == "hit":
            hit, self._pending_hit = self._pending_hit, None
            if hit is not None:
                out += self._handled_hit(hit)
        if kind in ("hit", "group", "budget"):
            self._resume_next = True  # stopped for a limit or a cap: the session goes on
            self.restarts += 1
        elif kind == "backoff":
            self._resume_next = False
        return [*out, CheckLimits(group=True)]

    # -- a session ---------------------------------------------------------------------------
    def spawned(self, now: Now, resumed: bool) -> list[Command]:
        # a CLI started with its resume flag (or by a user's own --continue) redraws its history first
        self._session = _Session(resumed=resumed, started=now.mono, last_content=now.mono,
                                 replay_until=now.mono + REPLAY_WINDOW_SECONDS)
        self._next_poll = now.mono + GROUP_POLL_SECONDS
        return [SetState(AgentState.RUNNING)]

    def resized(self, now: Now) -> list[Command]:
        """The window changed: the CLI redraws its screen, old limit lines included."""
        if self._session is not None:
            self._session.replay_until = max(self._session.replay_until, now.mono + RESIZE_REPLAY_SECONDS)
        return []

    def output(self, now: Now, events: list[Event], content: bool = True, wrote: bool = True) -> list[Command]:
        """Scanner events from the runtime's output; `content`: it drew something new (not a spinner);
        `wrote`: it wrote anything at all since the last call."""
        s = self._session
        if s is None:
            return []
        if wrote or content:
            s.last_output = now.mono
        if content:
            s.last_content = now.mono
            if s.stalled:
                s.stalled = False
                out: list[Command] = [Log("output again: no longer stalled"), SetState(AgentState.RUNNING)]
            else:
                out = []
        else:
            out = []
        for event in events:
            if event.kind is EventKind.RATE_LIMIT:
                out += self._on_limit(s, event, now)
            elif event.kind is EventKind.COST:
                out += [RecordCost(event), CheckLimits(group=False)]
            elif event.kind is EventKind.DIALOG:
                s.answers.append(event)
        return out

    def busy(self) -> bool:
        """Whether something in this session is due within seconds (a reset to resume at, a dialog to
        answer, a resume to confirm): the shell then ticks every second, else seldom."""
        s = self._session
        return s is not None and (s.hit is not None or bool(s.answers) or s.resuming_since is not None)

    def answer_due(self) -> bool:
        """A dialog waits for the screen to settle: the shell should tick again soon."""
        return self._session is not None and bool(self._session.answers)

    def tick(self, now: Now) -> list[Command]:
        """Time passed in a session: resume at the reset, confirm a resume, poll, notice a stall."""
        s = self._session
        if s is None:
            return []
        out: list[Command] = []
        if s.answers and now.mono - s.last_output >= DIALOG_SETTLE_SECONDS:
            for event in s.answers:
                out += [Log(f"dialog {event.signature} answered: {event.raw[:120]!r}"), SendKeys(event.send)]
            s.answers.clear()
        if s.resume_at is not None and s.hit is not None and now.wall >= s.resume_at:
            out += self._resume_now(s, now)
        if s.resuming_since is not None and s.hit is not None \
                and now.mono - s.resuming_since >= RESUME_CONFIRM_SECONDS:
            s.hit, s.resuming_since = None, None
            out += [SetState(AgentState.RUNNING), Notice("limit reset: resumed the session")]
        if now.mono >= self._next_poll and s.hit is None:
            self._next_poll = now.mono + GROUP_POLL_SECONDS
            out.append(CheckLimits(group=True))
        stall = self.rules.stall_seconds
        if stall and not s.stalled and s.hit is None and now.mono - s.last_content >= stall:
            s.stalled = True
            since = now.wall - (now.mono - s.last_content)
            out += [Log(f"stalled: no new output for {human_duration(now.mono - s.last_content)}", "warning"),
                    SetState(AgentState.RUNNING, detail=f"stalled since {time_with_zone(since, self.rules.tz)}")]
            if self.rules.stall_restart:
                out += [Notice("stalled: restarting the runtime"), Stop("stalled")]
        return out

    def poke(self, now: Now) -> list[Command]:
        """SIGUSR2: another watcher of the group hit a limit, or a cap was reached: poll now."""
        return [CheckLimits(group=True)] if self._session is not None and self._session.hit is None else []

    def wake(self, now: Now) -> list[Command]:
        """SIGUSR1 (`teamctl wake`) during a session: a pending resume happens now."""
        s = self._session
        if s is not None and s.hit is not None and s.resume_at is not None:
            return self._resume_now(s, now)
        if s is not None and s.hit is not None:  # a stop hit, its runtime still stopping: no wait after
            s.woken = True
            return [Log("woken while the runtime stops: respawning as soon as it is gone")]
        return []

    def stop_signal(self, signum: int) -> list[Command]:
        """SIGTERM/SIGINT/SIGHUP: stop the runtime (if any) and exit 128+signum."""
        self._stop_signal = signum
        if self._session is not None:
            self._session.stop_signal = signum
            return [Stop(f"signal {signum}")]
        return []

    def spawn_failed(self, now: Now, message: str) -> list[Command]:
        return [Notice(f"cannot start: {message}"), *self._after_exit(127, now, uptime=0.0)]

    def exited(self, now: Now, code: int) -> list[Command]:
        """The runtime's session ended (by itself or stopped)."""
        s, self._session = self._session, None
        if s is None:
            return self._after_exit(code, now, uptime=0.0)
        if s.stop_signal is not None:
            return self._stopped()
        self.last_exit = code
        hit = s.hit if s.resuming_since is None else None  # resumed already: an exit like any other
        record, self._last_record_hit = self._last_record_hit, None
        if hit is None and s.pause is None and record is not None and code != 0 and record.resets_at \
                and record.resets_at > now.wall:
            hit = record  # a CLI that said it retries, then gave up: its limit is the cause
        if hit is not None:  # its own hit, even when a group poll stopped it a moment before
            if s.woken:
                self._pending_hit = hit
                return self.waited("hit", WaitEnd.WAKE, now)
            return self._wait_for(hit, now)
        if s.pause is not None:
            kind, until = s.pause
            if kind == "budget":
                return [Wait("budget", AgentState.PAUSED_BUDGET, until, "paused (budget)")]
            return [Wait("group", AgentState.RATE_LIMITED, until, "rate-limited (group)")]
        return self._after_exit(code, now, uptime=now.mono - s.started)

    # -- rules -------------------------------------------------------------------------------
    def _on_limit(self, s: _Session, event: Event, now: Now) -> list[Command]:
        hit = Hit(event, now.wall, event.resets_at.timestamp() if event.resets_at else None)
        if self._is_history(s, hit, now):
            return [Log(f"limit line redrawn from history, not a new hit: {event.raw[:160]!r}")]
        if event.action is Action.RECORD:
            if now.mono - self._last_record < RECORD_DEDUP_SECONDS \
                    or (s.hit is not None and s.resuming_since is None):  # the blocking hit has its row
                return []
            self._last_record = now.mono
            self._last_record_hit = hit
            return [RecordHit(hit, self._plan(hit, now)[0])]
        if s.resuming_since is not None and s.hit is not None:
            if not _later_limit(hit, s.hit, now):
                return self._recheck(s, s.hit, now)  # the limit is back right after the resume: not reset yet
            s.hit, s.resuming_since = None, None  # the old limit did reset; this is another (a weekly after a 5-hour)
        if s.hit is not None:
            if event.action is Action.RESUME and not event.resume_keys and s.hit.event.resume_keys \
                    and s.resume_at is not None:
                # the CLI says it goes on by itself at the reset: watch it, never type into it
                s.hit = replace(s.hit, event=replace(s.hit.event, resume_keys=""))
                return [Log("the CLI continues by itself at the reset: watching it, typing nothing"),
                        SetState(AgentState.RATE_LIMITED, until=s.resume_at, detail="waiting in place")]
            if event.action is Action.RESUME and event.resume_keys and not s.hit.event.resume_keys \
                    and s.resume_at is not None:
                # the CLI stopped waiting by itself ("will not resume on its own"): we type at the reset
                s.hit = replace(s.hit, event=replace(s.hit.event, resume_keys=event.resume_keys))
                return [Log("the CLI stopped waiting for the reset: the watcher types at the reset"),
                        SetState(AgentState.RATE_LIMITED, until=s.resume_at, detail="resume at reset")]
            return []  # one hit per session: a TUI redraws the same message
        recheck = self._recheck_count(hit, now)
        if recheck:
            hit = Hit(event, now.wall, hit.resets_at, recheck)
        replaces = not recheck and self._same_as_last_record(hit, now)
        if replaces:
            assert self._last_record_hit is not None
            hit = Hit(event, self._last_record_hit.hit_at, hit.resets_at)  # its row, keyed by hit_at
            self._last_record_hit = None
        s.hit = hit
        deadline, notes = self._plan(hit, now)
        out: list[Command] = [*notes]
        if not recheck:
            out += [RecordHit(hit, deadline, replaces), RunHooks(self.rules.pre_hooks, hit), PokeGroup()]
        else:
            out.append(Log(f"limit seen again after its reset: not reset yet (re-check {recheck})"))
        if event.action is Action.STOP:
            self._pending_hit = hit
            return [*out, Notice(f"rate limit: {event.raw[:200]}"), Stop("rate limit")]
        s.resume_at = deadline
        how = "waiting in place" if not event.resume_keys else "resume at reset"
        return [*out, SetState(AgentState.RATE_LIMITED, until=deadline, detail=how),
                Notice(f"rate limit (session kept): resuming at {time_with_zone(deadline, self.rules.tz)}")]

    def _same_as_last_record(self, hit: Hit, now: Now) -> bool:
        """A blocking line of the limit a record-only line reported seconds ago (Claude Code 2.1.197
        draws `Session limit reached · Retrying in 5h` beside its limit menu; under load the two
        are read apart): one limit, one row."""
        last = self._last_record_hit
        if last is None or now.mono - self._last_record >= RECORD_DEDUP_SECONDS:
            return False
        return last.resets_at is None or hit.resets_at is None \
            or abs(last.resets_at - hit.resets_at) <= SAME_RESET_SECONDS

    def _is_history(self, s: _Session, hit: Hit, now: Now) -> bool:
        """A limit line drawn again right after a resume or resize, the same as one already handled."""
        if now.mono >= s.replay_until:
            return False
        raw = _normal(hit.event.raw)
        return any(_normal(h.event.raw) == raw for h in self._handled)

    def _recheck_count(self, hit: Hit, now: Now) -> int:
        """> 0 when this limit's reset was already waited out: "not reset yet" (the n-th time)."""
        if hit.resets_at is None:
            return 0
        same = [h.recheck for h in self._handled if h.resets_at is not None and abs(h.resets_at - hit.resets_at) < 1.0]
        return max(same) + 1 if same else 0

    def _recheck(self, s: _Session, hit: Hit, now: Now) -> list[Command]:
        again = Hit(hit.event, now.wall, hit.resets_at, hit.recheck + 1)
        s.hit, s.resuming_since = again, None
        deadline, _ = self._plan(again, now)
        s.resume_at = deadline
        return [Log(f"limit back after the resume: not reset yet (re-check {again.recheck})"),
                SetState(AgentState.RATE_LIMITED, until=deadline, detail="not reset yet"),
                Notice(f"not reset yet: checking again at {time_with_zone(deadline, self.rules.tz)}")]

    def _resume_now(self, s: _Session, now: Now) -> list[Command]:
        assert s.hit is not None
        s.resume_at = None
        s.resuming_since = now.mono
        keys = s.hit.event.resume_keys
        out: list[Command] = [SetState(AgentState.RATE_LIMITED, detail="resuming")]
        if keys:
            out.append(SendKeys(keys))
        return [*out, *self._handled_hit(s.hit)]

    def _plan(self, hit: Hit, now: Now) -> tuple[float, list[Command]]:
        """The instant to resume or respawn, and what to say about it."""
        if hit.recheck:
            return self._recheck_deadline(hit, now), []
        plan = plan_wait(hit.hit_at, hit.resets_at, margin=self.rules.margin, fallback=self.rules.fallback_wait,
                         max_wait=self.rules.max_wait)
        notes: list[Command] = []
        if plan.deadline < now.wall + RECHECK_FIRST and hit.resets_at is not None and hit.resets_at + 60 < now.wall:
            # a reset more than a minute past (a clock cut down to the minute is at most that much
            # early) and the limit still here: look again soon, never wait for tomorrow's
            return hit.hit_at + RECHECK_FIRST, [Log("the reset it names has passed: checking again shortly")]
        if plan.capped:
            when = time_with_zone(hit.resets_at, self.rules.tz) if hit.resets_at else "unknown"
            notes += [Log(f"reset {when} is more than {self.rules.max_wait:.0f}s away; capped", "warning"),
                      Notice(f"reset is more than {human_duration(self.rules.max_wait)} away: capped")]
        if plan.guessed:
            notes.append(Log(f"reset time unknown; waiting the fallback {self.rules.fallback_wait:.0f}s"))
        return plan.deadline, notes

    @staticmethod
    def _recheck_deadline(hit: Hit, now: Now) -> float:
        """30 s, 1 min, 2 min, ... capped at 10 min after seeing the limit again (from the hit)."""
        return hit.hit_at + min(RECHECK_FIRST * 2 ** (hit.recheck - 1), RECHECK_CAP)

    def _wait_for(self, hit: Hit, now: Now) -> list[Command]:
        self._pending_hit = hit
        deadline, _ = self._plan(hit, now) if not hit.recheck else (self._recheck_deadline(hit, now), [])
        return [Wait("hit", AgentState.RATE_LIMITED, deadline, "rate-limited")]

    def _handled_hit(self, hit: Hit) -> list[Command]:
        self._handled.append(hit)
        return [MarkHandled(hit), RunHooks(self.rules.post_hooks, hit)] if hit.recheck == 0 else [MarkHandled(hit)]

    def _after_exit(self, code: int, now: Now, uptime: float) -> list[Command]:
        self.last_exit = code
        decision = self.policy.on_exit(code, uptime, now.mono)
        if decision.give_up:
            return [SetState(AgentState.FAILED,
                             detail=f"gave up after {self.rules.give_up_exits} quick exits (last {code})"),
                    Notice(f"gave up: {self.rules.give_up_exits} exits within {self.rules.give_up_window:.0f}s"),
                    Exit(code)]
        if not decision.restart:
            return [SetState(AgentState.STOPPED, detail=f"exited {code}"), Exit(code)]
        self.restarts += 1
        self._resume_next = False
        if decision.delay > 0:
            return [Notice(f"runtime exited {code}; backing off ({decision.attempt}) {human_duration(decision.delay)}"),
                    Wait("backoff", AgentState.BACKING_OFF, now.wall + decision.delay, "backing off",
                         detail=f"backing off ({decision.attempt})")]
        return [CheckLimits(group=True)]

    def _stopped(self) -> list[Command]:
        sig = self._stop_signal or 15
        return [SetState(AgentState.STOPPED, detail=f"signal {sig}"), Exit(128 + sig)]


def _later_limit(new: Hit, old: Hit, now: Now) -> bool:
    """A hit naming a reset well after the one just waited out, and still ahead, is a new limit.

    "Resets in 0s" seen again after the wait names a later instant too, but not one ahead: that is
    the same limit, not reset yet."""
    if new.resets_at is None or old.resets_at is None:
        return False
    return new.resets_at > old.resets_at + 60 and new.resets_at > now.wall + 60


def _normal(text: str) -> str:
    """A limit line compared as text: case and runs of blanks do not matter."""
    return " ".join(text.lower().split())

"""The rate-limit rules of one agent: what a limit line means in each phase, which row it writes,
when it is waited out, and when it is history or "not reset yet". Pure: told the time, never reads it.

- one hit per runtime session (a TUI redraws its limit message), record-only hits deduplicated;
- one limit, one row (rows.py): a record-only line, the screen and the CLI's hook share a row;
- stop-and-respawn, keep-the-session-and-resume, wait-in-place (a CLI that retries by itself), and
  block (billing, an organisation pause: waits on a person, never respawned in a loop);
- a reset that already passed (minute-rounded clocks) and a limit seen again after its reset mean
  "not reset yet": re-check after a short wait that grows, never a sleep of hours;
- history a resumed session redraws (its old limit line) is not a new hit; but a run that exits on
  such a line (a print-mode CLI, which never redraws) met the limit again: not reset yet;
- an exit that follows a limit line is the limit's, not a crash.
"""

from __future__ import annotations

from collections import deque
from dataclasses import replace

from ..descriptors.loader import Action
from ..policy import plan_wait
from ..resets.clocktext import human_duration, time_with_zone
from ..scan.scanner import Event
from ..states import AgentState
from .commands import (
    Command,
    FindRows,
    Hit,
    Log,
    MarkHandled,
    Notice,
    Now,
    PokeGroup,
    RecordHit,
    RunHooks,
    SetState,
    Stop,
)
from .phases import Phase, WaitKind
from .rows import rows_since, same_limit_as_record
from .session import Session
from .settings import RECHECK_CAP, RECHECK_FIRST, RECORD_DEDUP_SECONDS, REMEMBERED_HITS, ReactorSettings


class LimitRules:
    """What the reactor remembers of hits across sessions, and the rules that read it."""

    def __init__(self, settings: ReactorSettings) -> None:
        self.settings = settings
        self.handled: deque[Hit] = deque(maxlen=REMEMBERED_HITS)
        self.pending: Hit | None = None  # waited out between sessions
        self._last_record = -1e18  # mono
        self._last_record_hit: Hit | None = None
        self._row_of: dict[float, float] = {}  # a hit's hit_at -> the hit_at keying its row

    # -- a limit line in a session ---------------------------------------------------------------
    def on_limit(self, phase: Phase, s: Session, event: Event, now: Now) -> tuple[Phase, list[Command]]:
        hit = Hit(event, now.wall, event.resets_at.timestamp() if event.resets_at else None)
        if self._is_history(s, hit, now):
            s.history = hit
            return phase, [Log(f"limit line redrawn from history, not a new hit (unless the runtime exits on "
                               f"it): {event.raw[:160]!r}")]
        if event.action is Action.RECORD:
            if now.mono - self._last_record < RECORD_DEDUP_SECONDS \
                    or (s.hit is not None and phase is not Phase.RESUMING):  # the blocking hit has its row
                return phase, []
            self._last_record, self._last_record_hit = now.mono, hit
            return phase, [FindRows(hit, self._plan(hit, now)[0], rows_since(hit.hit_at))]
        if phase is Phase.RESUMING and s.hit is not None:
            if not _later_limit(hit, s.hit, now):
                return Phase.LIMITED, self._recheck(s, s.hit, now)  # back right after the resume: not reset yet
            s.hit, s.resuming_since = None, None  # the old limit did reset; this is another (a weekly after a 5-hour)
        if s.hit is not None:
            return phase, self._same_hit(s, event)
        return self._new_hit(s, hit, now)

    def _new_hit(self, s: Session, hit: Hit, now: Now) -> tuple[Phase, list[Command]]:
        event = hit.event
        recheck = self._recheck_count(hit)
        if recheck:
            hit = Hit(event, now.wall, hit.resets_at, recheck)
            self._row_of[hit.hit_at] = self._key_of_reset(hit.resets_at)
        last = self._last_record_hit
        replaces = not recheck and last is not None \
            and same_limit_as_record(last.resets_at, hit.resets_at, now.mono - self._last_record)
        s.hit = hit
        deadline, notes = self._plan(hit, now)
        out: list[Command] = [*notes]
        if replaces:
            assert last is not None
            self._last_record_hit = None
            self._row_of[hit.hit_at] = self.key(last)
            out.append(RecordHit(hit, deadline, self.key(last), update=True))
        elif not recheck:
            out.append(FindRows(hit, deadline, rows_since(hit.hit_at)))
        if not recheck:
            out += [RunHooks(self.settings.pre_hooks, hit), PokeGroup()]
        else:
            out.append(Log(f"limit seen again after its reset: not reset yet (re-check {recheck})"))
        if event.action is Action.STOP or (event.action is Action.BLOCK and hit.resets_at is not None):
            self.pending = hit
            what = "blocked" if event.action is Action.BLOCK else "rate limit"
            return Phase.STOPPING, [*out, Notice(f"{what}: {event.raw[:200]}"), Stop(what)]
        if event.action is Action.BLOCK:  # no reset stated: it waits on a person, the session kept
            return Phase.BLOCKED, [*out, SetState(AgentState.BLOCKED, detail=f"blocked: {event.raw[:160]}"),
                                   Notice(f"blocked (waits on a person): {event.raw[:200]}")]
        s.resume_at = deadline
        how = "waiting in place" if not event.resume_keys else "resume at reset"
        return Phase.LIMITED, [*out, SetState(AgentState.RATE_LIMITED, until=deadline, detail=how),
                               Notice(f"rate limit (session kept): resuming at {self._clock(deadline, now)}")]

    def _same_hit(self, s: Session, event: Event) -> list[Command]:
        """The session's hit drawn again, or the CLI changing its mind about who resumes."""
        assert s.hit is not None
        if event.action is Action.RESUME and s.resume_at is not None:
            if not event.resume_keys and s.hit.event.resume_keys:
                # the CLI says it goes on by itself at the reset: watch it, never type into it
                s.hit = replace(s.hit, event=replace(s.hit.event, resume_keys=""))
                return [Log("the CLI continues by itself at the reset: watching it, typing nothing"),
                        SetState(AgentState.RATE_LIMITED, until=s.resume_at, detail="waiting in place")]
            if event.resume_keys and not s.hit.event.resume_keys:
                # the CLI stopped waiting by itself ("will not resume on its own"): we type at the reset
                s.hit = replace(s.hit, event=replace(s.hit.event, resume_keys=event.resume_keys))
                return [Log("the CLI stopped waiting for the reset: the watcher types at the reset"),
                        SetState(AgentState.RATE_LIMITED, until=s.resume_at, detail="resume at reset")]
        return []  # one hit per session: a TUI redraws the same message

    def _recheck(self, s: Session, hit: Hit, now: Now) -> list[Command]:
        again = Hit(hit.event, now.wall, hit.resets_at, hit.recheck + 1)
        self._row_of[again.hit_at] = self.key(hit)
        s.hit, s.resuming_since = again, None
        deadline = self._recheck_deadline(again)
        s.resume_at = deadline
        return [Log(f"limit back after the resume: not reset yet (re-check {again.recheck})"),
                SetState(AgentState.RATE_LIMITED, until=deadline, detail="not reset yet"),
                Notice(f"not reset yet: checking again at {self._clock(deadline, now)}")]

    # -- rows --------------------------------------------------------------------------------------
    def record(self, hit: Hit, until: float, adopted: float | None) -> RecordHit:
        """FindRows answered: a row the CLI's own hook wrote moments before is this hit's (the
        structured report wins, the screen adds no second row); else the hit keys its own."""
        key = adopted if adopted is not None else hit.hit_at
        self._row_of[hit.hit_at] = key
        return RecordHit(hit, until, key, update=adopted is not None)

    def rows_mine(self) -> set[float]:
        return set(self._row_of.values())

    def key(self, hit: Hit) -> float:
        return self._row_of.get(hit.hit_at, hit.hit_at)

    def _key_of_reset(self, resets_at: float | None) -> float:
        same = [h for h in self.handled if h.resets_at is not None and resets_at is not None
                and abs(h.resets_at - resets_at) < 1.0]
        return self.key(same[0]) if same else 0.0

    # -- between sessions --------------------------------------------------------------------------
    def exit_hit(self, s: Session, code: int, now: Now) -> tuple[Hit | None, list[Command]]:
        """The hit the session's exit belongs to, if any: then it is waited out, never a crash."""
        hit = s.hit if s.resuming_since is None else None  # resumed already: an exit like any other
        record, self._last_record_hit = self._last_record_hit, None
        if hit is None and s.pause is None and record is not None and code != 0 and record.resets_at \
                and record.resets_at > now.wall:
            return record, []  # a CLI that said it retries, then gave up: its limit is the cause
        if hit is None and s.pause is None and s.history is not None and code != 0:
            # a run that exits on a limit line it met again (a print-mode CLI never redraws history)
            old = max((h for h in self.handled if _normal(h.event.raw) == _normal(s.history.event.raw)),
                      key=lambda h: h.recheck, default=None)
            again = Hit(s.history.event, now.wall, s.history.resets_at or (old.resets_at if old else None),
                        (old.recheck if old else 0) + 1)
            if old is not None:
                self._row_of[again.hit_at] = self.key(old)
            return again, [Log(f"the runtime exited on its limit line: not reset yet (re-check {again.recheck})")]
        return hit, []

    def wait_for(self, hit: Hit, now: Now) -> tuple[WaitKind, AgentState, str, float]:
        deadline = self._recheck_deadline(hit) if hit.recheck else self._plan(hit, now)[0]
        if hit.event.action is Action.BLOCK:
            if hit.resets_at is None:
                deadline = now.wall + self.settings.max_wait  # a person ends it: `teamctl wake`
            return WaitKind.BLOCKED, AgentState.BLOCKED, "blocked", deadline
        return WaitKind.HIT, AgentState.RATE_LIMITED, "rate-limited", deadline

    def pending_handled(self) -> list[Command]:
        hit, self.pending = self.pending, None
        return self.handled_hit(hit) if hit is not None else []

    def handled_hit(self, hit: Hit) -> list[Command]:
        self.handled.append(hit)
        mark = MarkHandled(hit, self.key(hit))
        return [mark, RunHooks(self.settings.post_hooks, hit)] if hit.recheck == 0 else [mark]

    # -- reading a hit -------------------------------------------------------------------------------
    def _is_history(self, s: Session, hit: Hit, now: Now) -> bool:
        """A limit line drawn again right after a resume or resize, the same as one already handled."""
        if now.mono >= s.replay_until:
            return False
        raw = _normal(hit.event.raw)
        return any(_normal(h.event.raw) == raw for h in self.handled)

    def _recheck_count(self, hit: Hit) -> int:
        """> 0 when this limit's reset was already waited out: "not reset yet" (the n-th time)."""
        if hit.resets_at is None:
            return 0
        same = [h.recheck for h in self.handled if h.resets_at is not None and abs(h.resets_at - hit.resets_at) < 1.0]
        return max(same) + 1 if same else 0

    def _plan(self, hit: Hit, now: Now) -> tuple[float, list[Command]]:
        """The instant to resume or respawn, and what to say about it."""
        if hit.recheck:
            return self._recheck_deadline(hit), []
        st = self.settings
        plan = plan_wait(hit.hit_at, hit.resets_at, margin=st.margin, fallback=st.fallback_wait, max_wait=st.max_wait)
        notes: list[Command] = []
        if plan.deadline < now.wall + RECHECK_FIRST and hit.resets_at is not None and hit.resets_at + 60 < now.wall:
            # a reset more than a minute past (a clock cut down to the minute is at most that much
            # early) and the limit still here: look again soon, never wait for tomorrow's
            return hit.hit_at + RECHECK_FIRST, [Log("the reset it names has passed: checking again shortly")]
        if plan.capped:
            when = self._clock(hit.resets_at, now) if hit.resets_at else "unknown"
            notes += [Log(f"reset {when} is more than {st.max_wait:.0f}s away; capped", "warning"),
                      Notice(f"reset is more than {human_duration(st.max_wait)} away: capped")]
        if plan.guessed:
            notes.append(Log(f"reset time unknown; waiting the fallback {st.fallback_wait:.0f}s"))
        return plan.deadline, notes

    @staticmethod
    def _recheck_deadline(hit: Hit) -> float:
        """30 s, 1 min, 2 min, ... capped at 10 min after seeing the limit again (from the hit)."""
        return hit.hit_at + min(RECHECK_FIRST * 2 ** (hit.recheck - 1), RECHECK_CAP)

    def _clock(self, ts: float, now: Now) -> str:
        return time_with_zone(ts, self.settings.tz, now.wall)


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

""""Resumed" on evidence (issue 22): after a resume in place, a respawn to go on or a wait in place,
the agent is resuming until a model turn is seen. Without one by the runtime's deadline it is pushed,
one step at a time: type the continue keys where the CLI waits at a prompt, then respawn it into its
own session, then mark it `stuck` with the reason. Pure: told the time, never reads it."""

from __future__ import annotations

from ..resets.clocktext import human_duration
from ..states import AgentState
from .commands import ArmTurns, Command, Notice, Now, RunEvent, SendKeys, SetState, Stop
from .limits import LimitRules
from .phases import Phase
from .session import Session
from .settings import ReactorSettings

#: The steps, in order; `level` counts those taken since the last model turn.
KEYS, RESPAWN, STUCK = "keys", "respawn", "stuck"


class Escalation:
    """The steps taken since the last model turn; they survive a respawn (one of them)."""

    def __init__(self, settings: ReactorSettings) -> None:
        self.settings = settings
        self.level = 0
        self.await_next = False  # the next spawn resumes work: prove it

    def begin(self, s: Session, now: Now, typed: str = "") -> list[Command]:
        """Start looking for a turn (the keys just typed are not one); the next step is due at the deadline."""
        deadline = self.settings.resume_deadline
        s.proof_due = now.mono + deadline if deadline > 0 else None
        return [ArmTurns(typed)]

    def proof(self, phase: Phase, s: Session, now: Now, source: str, rules: LimitRules) -> list[Command] | None:
        """A model turn: a resume (in place, or a respawn) is proven, and so is a CLI that went on by
        itself after its reset while we waited out the margin. None: nothing to prove (the phase stays)."""
        went_on = phase is Phase.LIMITED and s.hit is not None and s.hit.resets_at is not None \
            and now.wall >= s.hit.resets_at
        if phase is not Phase.RESUMING and not went_on:
            return None
        out = rules.handled_hit(s.hit) if went_on and s.hit is not None else []
        s.hit, s.resuming_since, s.resume_at, s.proof_due = None, None, None, None
        self.level, self.await_next = 0, False
        detail = f"model turn seen ({source})"
        return [*out, SetState(AgentState.RUNNING), Notice(f"resumed the session: {detail}"),
                RunEvent("resumed", detail)]

    def step(self, s: Session, now: Now) -> tuple[str, list[Command]]:
        """The deadline passed without a turn: the next step and its commands."""
        waited = human_duration(self.settings.resume_deadline)
        keys = s.hit.event.resume_keys if s.hit is not None and s.hit.event.resume_keys \
            else self.settings.continue_keys
        if self.level == 0 and keys:
            self.level = 1
            return KEYS, [Notice(f"no model turn {waited} after the resume: typing the continue keys"),
                          SendKeys(keys), *self.begin(s, now, keys)]
        if self.level <= 1:
            self.level, s.proof_due, s.respawn = 2, None, True
            return RESPAWN, [Notice(f"no model turn {waited} after the resume"
                                    f"{' and typing continue' if keys else ''}: respawning into its own session"),
                             Stop("no model turn")]
        self.level, s.proof_due = 3, None
        reason = f"stuck: no model turn after {'typing continue and ' if keys else ''}a respawn ({waited} each)"
        return STUCK, [SetState(AgentState.STUCK, detail=reason), Notice(reason)]

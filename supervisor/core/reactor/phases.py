"""Where an agent's life is (Phase), what it is told (Input), and what it waits for (WaitKind)."""

from __future__ import annotations

from enum import StrEnum

from ..lazy_dataclass import lazy_dataclass


class Phase(StrEnum):
    """The one place the reactor's state is named; the table dispatches on it."""

    IDLE = "idle"  # before start()
    CHECKING = "checking"  # between sessions: a limits poll is out
    WAITING = "waiting"  # between sessions: a Wait is out
    SPAWNING = "spawning"  # a Spawn is out
    RUNNING = "running"  # a session, no limit in it
    LIMITED = "limited"  # a session kept at its limit: resume at the reset, or the CLI waits in place
    RESUMING = "resuming"  # resumed in place or respawned to go on: no model turn seen yet (escalates)
    BLOCKED = "blocked"  # a session blocked on a person (billing, an org pause) with no stated reset
    STOPPING = "stopping"  # a Stop is out: its `exited` follows
    DONE = "done"  # Exit said


#: Phases with a runtime session alive.
SESSION_PHASES = frozenset({Phase.RUNNING, Phase.LIMITED, Phase.RESUMING, Phase.BLOCKED, Phase.STOPPING})


class Input(StrEnum):
    """What the shell can tell the reactor (one method each)."""

    START = "start"
    LIMITS = "limits"
    WAITED = "waited"
    SPAWNED = "spawned"
    SPAWN_FAILED = "spawn_failed"
    READOUT = "readout"
    ROWS = "rows"
    TICK = "tick"
    RESIZED = "resized"
    POKE = "poke"
    WAKE = "wake"
    STOP_SIGNAL = "stop_signal"
    EXITED = "exited"
    TURN = "turn"


class WaitKind(StrEnum):
    """What a Wait between sessions is for."""

    HIT = "hit"
    GROUP = "group"
    BUDGET = "budget"
    BACKOFF = "backoff"
    BLOCKED = "blocked"
    GROUP_BEFORE = "group-before"
    BUDGET_BEFORE = "budget-before"


@lazy_dataclass(frozen=True)
class Pause:
    """A session stopped for its limit group or its budget cap: waited out until `until` (wall)."""

    kind: WaitKind  # GROUP or BUDGET
    until: float


class UnexpectedInput(RuntimeError):
    """An input the table does not list for the phase: a bug in the shell or the rules, never ignored."""

    def __init__(self, phase: Phase, got: Input) -> None:
        super().__init__(f"reactor: input {got.value!r} is not expected in phase {phase.value!r}")
        self.phase, self.input = phase, got

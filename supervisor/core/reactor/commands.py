"""What the reactor is told (Now, Hit) and what it asks the shell to do (the commands)."""

from __future__ import annotations

from ..lazy_dataclass import lazy_dataclass
from ..scan.scanner import Event
from ..states import AgentState
from .phases import WaitKind


@lazy_dataclass(frozen=True)
class Now:
    """Both clocks at one instant, read by the shell: wall for reset instants and rows, monotonic
    for lengths. The reactor never reads a clock itself."""

    wall: float
    mono: float


@lazy_dataclass(frozen=True)
class Hit:
    """A rate-limit hit: the event, when it was seen, its reset instant (None: unknown)."""

    event: Event
    hit_at: float
    resets_at: float | None
    recheck: int = 0  # > 0: seen again after its reset, the n-th "not reset yet"


@lazy_dataclass(frozen=True)
class Spawn:
    resume: bool


@lazy_dataclass(frozen=True)
class Stop:
    """Stop the runtime's whole tree; `exited` follows."""

    reason: str


@lazy_dataclass(frozen=True)
class SendKeys:
    keys: str


@lazy_dataclass(frozen=True)
class FindRows:
    """Ask the mailbox for this agent's unhandled hit rows since `since` (a CLI's own hook may have
    written this hit first); answer `rows(hit, until, found)`."""

    hit: Hit
    until: float
    since: float


@lazy_dataclass(frozen=True)
class RecordHit:
    """Write the hit's row, keyed by (agent, `row`), and its scope; `update`: that row exists already
    (a record-only line of this limit, or the CLI's own hook's report), this hit takes it over."""

    hit: Hit
    until: float
    row: float
    update: bool = False


@lazy_dataclass(frozen=True)
class RecordCost:
    event: Event


@lazy_dataclass(frozen=True)
class MarkHandled:
    hit: Hit
    row: float  # the hit_at keying its row


@lazy_dataclass(frozen=True)
class RunHooks:
    names: tuple[str, ...]
    hit: Hit


@lazy_dataclass(frozen=True)
class PokeGroup:
    """Tell the other watchers of the limit group to poll now."""


@lazy_dataclass(frozen=True)
class CheckLimits:
    """Poll the mailbox: the group's active limit (when `group`) and the budget cap; answer `limits`."""

    group: bool = True


@lazy_dataclass(frozen=True)
class SetState:
    state: AgentState
    until: float | None = None
    detail: str | None = None


@lazy_dataclass(frozen=True)
class Notice:
    """A line for the person watching (the pane) and the log."""

    text: str


@lazy_dataclass(frozen=True)
class Log:
    text: str
    level: str = "info"


@lazy_dataclass(frozen=True)
class Wait:
    """Block until `deadline` (wall), a wake or a stop; answer `waited(kind, end)`."""

    kind: WaitKind
    state: AgentState
    deadline: float
    label: str
    detail: str | None = None


@lazy_dataclass(frozen=True)
class BudgetWoken:
    """`teamctl wake` ended a budget pause: the guard lets the agent run for the rest of the day."""


@lazy_dataclass(frozen=True)
class ArmTurns:
    """Look for a model turn from now on (evidence.TurnWatch.arm); the `typed` keys are not one."""

    typed: str = ""


@lazy_dataclass(frozen=True)
class RunEvent:
    """Run the agent's on_event hooks for `event` ("resumed", proven by a model turn)."""

    event: str
    detail: str


@lazy_dataclass(frozen=True)
class Exit:
    code: int


Command = (Spawn | Stop | SendKeys | FindRows | RecordHit | RecordCost | MarkHandled | RunHooks | PokeGroup
           | CheckLimits | SetState | Notice | Log | Wait | BudgetWoken | ArmTurns | RunEvent | Exit)

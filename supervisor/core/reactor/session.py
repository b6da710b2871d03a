"""What one runtime session has done so far: the data the reactor's phases act on."""

from __future__ import annotations

from dataclasses import field

from ..lazy_dataclass import lazy_dataclass
from ..scan.scanner import Event
from .commands import Hit
from .phases import Pause


@lazy_dataclass
class Session:
    resumed: bool  # spawned with its resume flag: the CLI may redraw its history
    started: float  # mono
    hit: Hit | None = None  # the stop/resume/block hit of this session
    resume_at: float | None = None  # wall: when to resume in place
    resuming_since: float | None = None  # mono: resume keys sent (or the reset passed), not yet confirmed
    pause: Pause | None = None  # once stopped for a group limit or a budget cap
    stop_signal: int | None = None
    woken: bool = False  # `teamctl wake` while the runtime was being stopped for its limit
    last_content: float = 0.0  # mono
    stalled: bool = False
    replay_until: float = 0.0  # mono
    last_output: float = 0.0  # mono: the runtime last wrote anything (content or a redraw)
    answers: list[Event] = field(default_factory=list)  # dialogs seen, answered once the screen settles
    history: Hit | None = None  # a limit line taken for history: the limit's, if the runtime exits on it
    drew_content: bool = False  # the runtime drew something new: it has a conversation to resume
    proof_due: float | None = None  # mono: no model turn by then, the next escalation step
    respawn: bool = False  # stopped to respawn into its own session (an escalation step)

"""The one message type between the parts: what a runtime said that the supervisor acts on.

The scanner (and the structured channels beside it, agent/channels/) emit frozen Events; the
reactor and the spend accounting (costs.py) only read them.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from ..descriptors.model import Action
from ..lazy_dataclass import lazy_dataclass


class EventKind(StrEnum):
    RATE_LIMIT = "rate_limit"
    COST = "cost"
    DIALOG = "dialog"


@lazy_dataclass(frozen=True)
class Event:
    """One thing the runtime said that the supervisor acts on: a limit hit, a cost report, a dialog."""

    kind: EventKind
    line: int
    raw: str
    signature: str
    action: Action | None = None
    resets_at: datetime | None = None
    reset_text: str | None = None
    model: str | None = None
    resume_keys: str = ""
    usd: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_tokens: int | None = None
    cached_in_input: bool = True
    total: bool = False
    send: str = ""

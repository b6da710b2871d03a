"""What a team operation (up, down, wake, restart, a remote host's part) says of one agent."""

from __future__ import annotations

from ..core.compose_model import Agent
from ..core.lazy_dataclass import lazy_dataclass


@lazy_dataclass
class Outcome:
    agent: Agent
    status: str  # started | running | failed | stopped | killed | not-running
    message: str
    ok: bool = True

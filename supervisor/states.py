"""An agent's life as an explicit enum; `AgentWatch.change_state` is the one transition point."""

from __future__ import annotations

from enum import StrEnum


class AgentState(StrEnum):
    STARTING = "starting"
    RUNNING = "running"
    RATE_LIMITED = "rate_limited"
    BACKING_OFF = "backing_off"
    PAUSED_BUDGET = "paused_budget"
    STOPPING = "stopping"
    STOPPED = "stopped"
    FAILED = "failed"


#: States in which the watcher process is expected to be alive.
LIVE_STATES = frozenset({AgentState.STARTING, AgentState.RUNNING, AgentState.RATE_LIMITED,
                         AgentState.BACKING_OFF, AgentState.PAUSED_BUDGET, AgentState.STOPPING})
#: States that wait for a wall-clock instant and can be ended early by `teamctl wake`.
WAITING_STATES = frozenset({AgentState.RATE_LIMITED, AgentState.BACKING_OFF, AgentState.PAUSED_BUDGET})

"""An agent's life as an explicit enum; `AgentWatch.change_state` is the one transition point."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any


class AgentState(StrEnum):
    STARTING = "starting"
    RUNNING = "running"
    RATE_LIMITED = "rate_limited"
    BACKING_OFF = "backing_off"
    PAUSED_BUDGET = "paused_budget"
    STOPPING = "stopping"
    STOPPED = "stopped"
    FAILED = "failed"
    BLOCKED = "blocked"  # waits on a person (billing, an organisation pause): never respawned in a loop
    STUCK = "stuck"  # no evidence of work after every escalation
    LOST = "lost"  # shown by `status` only: its watcher's host has not beaten for three intervals


class WaitEnd(StrEnum):
    """Why a wait ended: its deadline came, `teamctl wake`, or a stop signal."""

    DEADLINE = "deadline"
    WAKE = "wake"
    STOP = "stop"


#: States in which the watcher process is expected to be alive.
LIVE_STATES = frozenset({AgentState.STARTING, AgentState.RUNNING, AgentState.RATE_LIMITED,
                         AgentState.BACKING_OFF, AgentState.PAUSED_BUDGET, AgentState.STOPPING, AgentState.BLOCKED,
                         AgentState.STUCK})
#: States that wait for a wall-clock instant and can be ended early by `teamctl wake`.
WAITING_STATES = frozenset({AgentState.RATE_LIMITED, AgentState.BACKING_OFF, AgentState.PAUSED_BUDGET,
                            AgentState.BLOCKED})


def short_time(ts: float, now: float) -> str:
    """`16:01`; with seconds when it is minutes away (`16:01:07`), with the date when not today."""
    when = datetime.fromtimestamp(ts)
    if when.date() == datetime.fromtimestamp(now).date():
        return when.strftime("%H:%M:%S" if 0 <= ts - now < 600 else "%H:%M")
    return when.strftime("%b %d %H:%M")


def state_text(row: Any, now: float) -> str:
    """`rate-limited until 16:01`, `backing off (3) until 16:01:07`, `paused-budget until ...`."""
    until = f" until {short_time(row.until, now)}" if row.until else ""
    if row.state == AgentState.RATE_LIMITED.value:
        waiting = f" ({row.detail})" if row.detail in ("waiting in place", "not reset yet", "resuming") else ""
        return f"rate-limited{until}{waiting}"
    if row.state == AgentState.RUNNING.value and row.detail and row.detail.startswith("stalled"):
        return f"running, {row.detail}"
    if row.state == AgentState.RUNNING.value and row.detail == "resuming":
        return "resuming"  # respawned to go on: no model turn seen yet (issue 22)
    if row.state == AgentState.STUCK.value:
        return row.detail or "stuck"  # "stuck: no model turn after ...": the reason is the point
    if row.state == AgentState.BACKING_OFF.value:
        return f"{row.detail or 'backing off'}{until}"
    if row.state == AgentState.BLOCKED.value:
        return f"{row.detail or 'blocked'}{until}"
    if row.state == AgentState.PAUSED_BUDGET.value:
        return f"paused-budget{until}"
    return row.state.replace("_", "-")

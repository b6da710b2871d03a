"""An agent's watcher as teamctl finds it: its names and files, whether a recorded pid is still it,
the processes that escaped it, and what a command did to it (Outcome).

The mailbox's `supervisor_agent_state` row is the truth about a watcher (each watcher writes its
own); tmux sessions are only the place the watcher runs in. A recorded pid counts as our watcher
only when that process still runs `rl-watch <agent>` and is older than its runtime, so a reused pid
is never signalled.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import psutil

from ..agent import procs
from ..core.states import LIVE_STATES
from ..store.mailbox import AgentState as StateRow
from .backends import tmux as tmux_backend
from .compose import Agent, Team

_LIVE = {s.value for s in LIVE_STATES}


# --------------------------------------------------------------------------------------------------
# Names and files


def session_name(team: Team, agent: Agent) -> str:
    return tmux_backend.session_name(team.tmux_prefix, agent.project, agent.name)


def log_name(agent: Agent) -> str:
    return agent.id.replace(":", "-")


def output_log(team: Team, agent: Agent) -> Path:
    return team.state_dir / "logs" / f"{log_name(agent)}.log"


def _marker(team: Team, agent: Agent) -> Path:
    """Present while the agent's watcher was started in tmux (for the "tmux server gone" notice)."""
    return team.state_dir / "run" / f"{log_name(agent)}.tmux"


# --------------------------------------------------------------------------------------------------
# Watcher identity


def watcher_process(agent_id: str, row: StateRow | None) -> psutil.Process | None:
    """The recorded watcher, when it is still the same `rl-watch` process."""
    if row is None or not row.watcher_pid:
        return None
    return _as_watcher(row.watcher_pid, agent_id, row.started_at)


def _as_watcher(pid: int, agent_id: str, runtime_started: float | None = None) -> psutil.Process | None:
    try:
        p = psutil.Process(pid)
        if p.status() == psutil.STATUS_ZOMBIE:
            return None
        cmd = p.cmdline()
        if "rl-watch" not in cmd or agent_id not in cmd:
            return None
        if runtime_started is not None and p.create_time() > runtime_started + 2.0:
            return None  # a watcher is always older than its runtime: this pid was reused
        return p
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None


def find_watcher(team: Team, agent: Agent, row: StateRow | None,
                 sessions: set[str] | None) -> psutil.Process | None:
    """The row's watcher, else the process in the agent's tmux session (before it wrote its row)."""
    p = watcher_process(agent.id, row)
    if p is not None:
        return p
    name = session_name(team, agent)
    if sessions and name in sessions:
        pid = tmux_backend.pane_pid(name)
        if pid:
            return _as_watcher(pid, agent.id)
    return None


def _tmux_sessions() -> set[str]:
    return tmux_backend.sessions() or set()


# --------------------------------------------------------------------------------------------------
# Leftovers and outcomes


def end_leftovers(team: Team, agent_ids: set[str]) -> dict[str, int]:
    """End processes of these agents that escaped their watcher's tree (a double fork with setsid, or
    a watcher that was SIGKILLed): every runtime process carries its agent id in its environment."""
    if not agent_ids:
        return {}
    ended: dict[str, int] = {}
    found = procs.find_tagged(str(team.state_dir), agent_ids)
    for p in found:
        try:
            agent_id = p.environ().get(procs.TAG_AGENT, "")
        except psutil.Error:
            continue
        ended[agent_id] = ended.get(agent_id, 0) + 1
    procs.end_all(found, grace=procs.LEFTOVER_GRACE)  # all at once: one grace period, not one each
    return ended


@dataclass
class Outcome:
    agent: Agent
    status: str  # started | running | failed | stopped | killed | not-running
    message: str
    ok: bool = True

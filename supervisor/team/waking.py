"""`teamctl wake`: SIGUSR1 to each waiting watcher, which then ends its rate-limit, backoff or budget
wait at once.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Sequence

import psutil

from ..core.states import WAITING_STATES, state_text
from ..store.mailbox import AgentRow
from .compose import Agent, Team
from .loading import store
from .watchers import Outcome, watcher_process

_WAITING = {s.value for s in WAITING_STATES}


def wake(team: Team, agents: Sequence[Agent]) -> list[Outcome]:
    """SIGUSR1 to each waiting watcher: it ends its rate-limit / backoff / budget wait now."""
    out: list[Outcome] = []
    rows: dict[str, AgentRow] = {}
    if team.mailbox_path.exists():  # never started: every agent is "not running", nothing is created
        with store(team) as st:
            rows = st.agent_states()
    for agent in agents:
        row = rows.get(agent.id)
        watcher = watcher_process(agent.id, row)
        if row is not None and row.state == "failed":  # the watcher gave up: only a new start helps
            why = f" ({row.detail})" if row.detail else ""
            out.append(Outcome(agent, "failed", f"{agent.id}: failed{why}, nothing to wake: "
                                                f"`teamctl restart {agent.id}` starts it again", ok=False))
            continue
        if row is None or watcher is None:
            out.append(Outcome(agent, "not-running", f"{agent.id}: not running (`teamctl up {agent.id}` starts it)",
                               ok=False))
            continue
        if row.state not in _WAITING:
            out.append(Outcome(agent, "running", f"{agent.id}: not waiting ({row.state.replace('_', '-')})"))
            continue
        try:
            watcher.send_signal(signal.SIGUSR1)
        except psutil.Error as exc:
            out.append(Outcome(agent, "failed", f"{agent.id}: cannot signal the watcher: {exc}", ok=False))
            continue
        out.append(Outcome(agent, "woken", f"{agent.id}: woken (was {state_text(row, time.time())})"))
    return out

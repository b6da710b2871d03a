"""`up`'s settle time: a runtime that dies at once (not logged in, a bad flag) is reported by `up`
itself, with its exit status and the last line it printed, instead of a `started` that `status`
contradicts seconds later.

The watcher records a quick exit in its state row (restarts, last_exit, `backing_off` or `failed`);
the runtime's last words are in its output log.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from ..core.states import AgentState
from ..store.mailbox import AgentRow as AgentRow
from .compose import Agent, Team
from .loading import store
from .watchers import Outcome, output_log

#: Seconds `up` watches new agents before it calls them started ($TEAMCTL_UP_SETTLE, or --settle).
SETTLE_SECONDS = 2.0
_DIED = {AgentState.BACKING_OFF.value, AgentState.FAILED.value, AgentState.STOPPED.value}


def died(row: AgentRow | None, watcher_pid: int | None) -> bool:
    """The runtime of the watcher just started (`watcher_pid`) has already exited."""
    if row is None or watcher_pid is None or row.watcher_pid != watcher_pid:
        return False
    # a runtime the watcher stopped itself (a limit's stop action) waits in rate_limited: not died
    if row.state == AgentState.STOPPED.value and row.last_exit == 0:
        return False  # a runtime not restarted on success (restart: on-failure) that finished its job
    return row.state in _DIED and (row.last_exit is not None or row.state == AgentState.FAILED.value)


def last_output_line(team: Team, agent: Agent) -> str:
    """The last non-blank line the runtime printed (escapes removed), "" when it printed none."""
    from .report import clean_line, tail_lines

    for line in reversed(tail_lines(output_log(team, agent), 20)):
        text = clean_line(line).strip()
        if text:
            return text[:200]
    return ""


def settle(team: Team, started: Sequence[tuple[Agent, int | None]], seconds: float,
           on_died: Callable[[Outcome], None] | None = None) -> dict[str, Outcome]:
    """Watch the agents just started (with their watcher pids) for `seconds`; an Outcome (failed)
    for each whose runtime died."""
    agents = [a for a, _ in started]
    pids = {a.id: pid for a, pid in started}
    out: dict[str, Outcome] = {}
    if not agents or seconds <= 0:
        return out
    deadline = time.monotonic() + seconds
    with store(team) as st:
        while True:
            rows = st.agent_states()
            for agent in agents:
                row = rows.get(agent.id)
                if agent.id not in out and died(row, pids[agent.id]):
                    out[agent.id] = _failed(team, agent, row)
                    if on_died is not None:
                        on_died(out[agent.id])
            if len(out) == len(agents) or time.monotonic() >= deadline:
                return out
            time.sleep(0.1)


def _failed(team: Team, agent: Agent, row: AgentRow | None) -> Outcome:
    code = row.last_exit if row is not None else None
    said = last_output_line(team, agent)
    text = f"{agent.id}: failed: the runtime exited" + (f" {code}" if code is not None else "") + " at once"
    if said:
        text += f"; its last line: {said!r}"
    text += f" (teamctl logs {agent.id}"
    if row is not None and row.state == AgentState.BACKING_OFF.value:
        text += f"; it is retried with a backoff until `teamctl down {agent.id}`"
    return Outcome(agent, "failed", text + ")", ok=False)

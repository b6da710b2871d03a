"""`teamctl down`: SIGTERM each watcher (it stops its runtime), kill what is left after the grace
period, then sweep for what the mailbox does not know of. `down_recorded` does it without a compose
tree that loads.
"""

from __future__ import annotations

import signal
from collections.abc import Sequence
from pathlib import Path

import psutil

from ..agent import procs
from ..core.states import AgentState
from ..store import layout
from ..store.mailbox import AgentRow, Store
from ..store.safefs import check_state_dir
from . import sweep
from .backends import tmux as tmux_backend
from .compose import Agent, Team
from .loading import store
from .watchers import (
    LIVE_STATE_NAMES,
    Outcome,
    end_leftovers,
    find_watcher,
    session_is_ours,
    team_sessions,
    tmux_marker_file,
    watcher_process,
)


def down(team: Team, agents: Sequence[Agent], timeout: float = 15.0) -> list[Outcome]:
    """SIGTERM each watcher (it stops its runtime), wait, then kill what is left of each tree; then
    sweep for watchers the rows do not know of (by lock and tag) until nothing of them is left."""
    check_state_dir(team.state_dir, team.team_dir)
    with sweep.team_lock(team.state_dir):
        results = _down(team, agents, timeout)
        ids = {a.id for a in agents}
        if sweep.sweep(team.state_dir, team.team_dir, None if len(ids) == len(team.agents) else ids, timeout):
            for agent in agents:
                if results[agent.id].status == "not-running":
                    results[agent.id] = Outcome(agent, "stopped", f"{agent.id}: stopped (found by its lock)")
        return [results[a.id] for a in agents]


def _down(team: Team, agents: Sequence[Agent], timeout: float) -> dict[str, Outcome]:
    with store(team) as st:
        rows = st.agent_states()
        sessions = team_sessions(team)  # agent id -> session: this team's only, never a clone's
        targets: list[tuple[Agent, psutil.Process, list[psutil.Process]]] = []
        results: dict[str, Outcome] = {}
        for agent in agents:
            row = rows.get(agent.id)
            watcher = find_watcher(team, agent, row, sessions)
            if watcher is None:
                if agent.id in sessions:
                    tmux_backend.kill_session(sessions[agent.id])
                    text = f"{agent.id}: stopped (closed tmux session)"
                    results[agent.id] = Outcome(agent, "stopped", text)
                else:
                    results[agent.id] = Outcome(agent, "not-running", f"{agent.id}: not running")
                if row is not None and row.state in LIVE_STATE_NAMES:
                    _mark_stopped(st, row, "watcher gone")
                tmux_marker_file(team, agent).unlink(missing_ok=True)
                continue
            tree = procs.tree(watcher.pid)
            targets.append((agent, watcher, tree))
            try:
                watcher.send_signal(signal.SIGTERM)
            except psutil.Error:
                pass
        everything = [p for _, _, tree in targets for p in tree]
        psutil.wait_procs(everything, timeout=timeout)
        for agent, watcher, tree in targets:
            left = [p for p in tree if _running(p)]
            if left:
                procs.stop_tree(watcher.pid, timeout=2.0, sig=signal.SIGKILL, extra=left)
                results[agent.id] = Outcome(agent, "killed", f"{agent.id}: killed after timeout")
                row = st.agent_state(agent.id)
                if row is not None:
                    _mark_stopped(st, row, "killed by teamctl down")
            else:
                results[agent.id] = Outcome(agent, "stopped", f"{agent.id}: stopped")
                row = st.agent_state(agent.id)
                if row is not None and row.state in LIVE_STATE_NAMES:  # e.g. it died before it could write
                    _mark_stopped(st, row, "stopped by teamctl down")
            if agent.id in sessions:
                tmux_backend.kill_session(sessions[agent.id])
            tmux_marker_file(team, agent).unlink(missing_ok=True)
    for agent_id, count in end_leftovers(team, {a.id for a in agents}).items():
        outcome = results[agent_id]
        results[agent_id] = Outcome(outcome.agent, "killed",
                                    f"{agent_id}: killed {count} leftover process{'es' if count > 1 else ''}")
    return results


def down_recorded(tdir: Path, timeout: float = 15.0) -> list[str]:
    """`down` when the compose tree no longer loads (a typo while the team runs): stop every watcher
    recorded in the team's default mailbox, their tmux sessions (from the markers `up` left) and any
    tagged leftover, since a broken file must never keep a team from being stopped."""
    state_dir = layout.state_dir(tdir)
    db = layout.mailbox(state_dir)
    lines: list[str] = []
    if db.exists():
        with Store(db, layout.spool_dir(state_dir), "teamctl", recover=True) as st:
            rows = st.agent_states()
            targets = [(row, w) for row in rows.values() if (w := watcher_process(row.agent_id, row)) is not None]
            trees = {row.agent_id: procs.tree(w.pid) for row, w in targets}
            for _, w in targets:
                try:
                    w.send_signal(signal.SIGTERM)
                except psutil.Error:
                    pass
            psutil.wait_procs([p for tree in trees.values() for p in tree], timeout=timeout)
            for row, w in targets:
                left = [p for p in trees[row.agent_id] if _running(p)]
                if left:
                    procs.stop_tree(w.pid, timeout=2.0, sig=signal.SIGKILL, extra=left)
                    _mark_stopped(st, row, "killed by teamctl down")
                lines.append(f"{row.agent_id}: {'killed after timeout' if left else 'stopped'}")
    found = tmux_backend.listing() or {}
    for marker in sorted(layout.run_dir(state_dir).glob("*.tmux")):
        name = marker.read_text().strip()
        if name and session_is_ours(tdir, found.get(name)):  # never a clone's session of that name
            tmux_backend.kill_session(name)
        marker.unlink(missing_ok=True)
    for p in procs.find_tagged(str(state_dir)):
        procs.stop_tree(p.pid, timeout=2.0)
        lines.append(f"pid {p.pid}: killed (left over)")
    if sweep.sweep(state_dir, tdir, None, timeout):
        lines.append("stopped watchers found by their locks")
    return lines or ["no agent was running"]


def _running(p: psutil.Process) -> bool:
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _mark_stopped(st: Store, row: AgentRow, detail: str) -> None:
    st.set_state(row.agent_id, row.runtime, AgentState.STOPPED.value, detail=detail,
                 started_at=row.started_at, restarts=row.restarts, last_exit=row.last_exit,
                 limit_group=row.limit_group, model=row.model)

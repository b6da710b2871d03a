"""`teamctl down`: SIGTERM each watcher (it stops its runtime), kill what is left after the grace
period, then sweep for what the mailbox does not know of. `down_recorded` does it without a compose
tree that loads.

The mailbox only says where to look first and records the stops: locked by another program, damaged,
read-only, missing its -wal, or under a read-only state/, it costs `down` its records (each outcome
says which could not be written), never the stop itself (the sweep finds watchers by lock and tag).
"""

from __future__ import annotations

import signal
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import psutil

from ..agent import procs
from ..core.states import AgentState
from ..store import layout
from ..store.mailbox import AgentRow, Store
from ..store.safefs import UnsafeState, check_state_dir
from . import mailbox_trouble, sweep
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

_MAILBOX_ERRORS = (sqlite3.Error, OSError, UnsafeState)


class Records:
    """The mailbox as `down` uses it: rows read and stops written when it can; `problem` says why
    not, and `unrecorded` which agents' stops are not in it (in the spool, or nowhere)."""

    def __init__(self, open_store: object, path: Path) -> None:
        self.path = path
        self.problem: str | None = None
        self.rows: dict[str, AgentRow] = {}
        self.unrecorded: dict[str, str] = {}
        self._st: Store | None = None
        try:
            self._st = open_store()  # type: ignore[operator]
            self.rows = self._st.agent_states()
        except _MAILBOX_ERRORS as exc:
            self._fail(exc)

    def _fail(self, exc: BaseException) -> None:
        self.problem = self.problem or mailbox_trouble.describe(self.path, exc)
        if self._st is not None:
            try:
                self._st.close()
            except _MAILBOX_ERRORS:
                pass
        self._st = None

    def row(self, agent_id: str) -> AgentRow | None:
        """The agent's row as it is now (it may have written since), else as first read."""
        if self._st is not None:
            try:
                return self._st.agent_state(agent_id)
            except _MAILBOX_ERRORS as exc:
                self._fail(exc)
        return self.rows.get(agent_id)

    def mark_stopped(self, agent_id: str, row: AgentRow | None, detail: str) -> None:
        if row is None:
            return
        written = False
        if self._st is not None:
            try:
                written = _mark_stopped(self._st, row, detail)
            except _MAILBOX_ERRORS as exc:
                self._fail(exc)
        if not written:
            kept = self._st is not None and self._st.spool.exists()
            self.unrecorded[agent_id] = "kept in state/spool, written when the mailbox can be" if kept \
                else "not recorded"

    def note(self, agent_id: str) -> str:
        """What of this agent's stop the mailbox does not hold ("" when it holds it all)."""
        if agent_id in self.unrecorded:
            return f" ({self.unrecorded[agent_id]}: {self.problem or 'mailbox not writable'})"
        if self.problem and agent_id not in self.rows:
            return f" (not recorded: {self.problem})"
        return ""

    def close(self) -> None:
        if self._st is not None:
            try:
                self._st.close()
            except _MAILBOX_ERRORS:
                pass


def down(team: Team, agents: Sequence[Agent], timeout: float = 15.0) -> list[Outcome]:
    """SIGTERM each watcher (it stops its runtime), wait, then kill what is left of each tree; then
    sweep for watchers the rows do not know of (by lock and tag) until nothing of them is left."""
    check_state_dir(team.state_dir, team.team_dir)
    with sweep.team_lock(team.state_dir):
        records = Records(lambda: store(team), team.mailbox_path)
        try:
            results = _down(team, agents, timeout, records)
            ids = {a.id for a in agents}
            if sweep.sweep(team.state_dir, team.team_dir, None if len(ids) == len(team.agents) else ids, timeout):
                for agent in agents:
                    if results[agent.id].status == "not-running":
                        results[agent.id] = Outcome(agent, "stopped", f"{agent.id}: stopped (found by its lock)")
        finally:
            records.close()
        out = []
        for agent in agents:
            outcome = results[agent.id]
            note = records.note(agent.id) if outcome.status != "not-running" else ""
            out.append(Outcome(outcome.agent, outcome.status, outcome.message + note, outcome.ok))
        return out


def _down(team: Team, agents: Sequence[Agent], timeout: float, records: Records) -> dict[str, Outcome]:
    rows = records.rows
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
                records.mark_stopped(agent.id, row, "watcher gone")
            _unlink(tmux_marker_file(team, agent))
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
            records.mark_stopped(agent.id, records.row(agent.id), "killed by teamctl down")
        else:
            results[agent.id] = Outcome(agent, "stopped", f"{agent.id}: stopped")
            row = records.row(agent.id)
            if row is not None and row.state in LIVE_STATE_NAMES:  # e.g. it died before it could write
                records.mark_stopped(agent.id, row, "stopped by teamctl down")
        if agent.id in sessions:
            tmux_backend.kill_session(sessions[agent.id])
        _unlink(tmux_marker_file(team, agent))
    for agent_id, count in end_leftovers(team, {a.id for a in agents}).items():
        outcome = results[agent_id]
        results[agent_id] = Outcome(outcome.agent, "killed",
                                    f"{agent_id}: killed {count} leftover process{'es' if count > 1 else ''}")
    return results


def _unlink(path: Path) -> None:
    """A marker that cannot be removed (a read-only state/) is left: the next `up` replaces it."""
    try:
        path.unlink(missing_ok=True)
    except OSError:
        pass


def down_recorded(tdir: Path, timeout: float = 15.0) -> list[str]:
    """`down` when the compose tree no longer loads (a typo while the team runs): stop every watcher
    recorded in the team's default mailbox, their tmux sessions (from the markers `up` left) and any
    tagged leftover, since a broken file must never keep a team from being stopped."""
    state_dir = layout.state_dir(tdir)
    db = layout.mailbox(state_dir)
    lines: list[str] = []
    if db.exists():
        records = Records(lambda: Store(db, layout.spool_dir(state_dir), "teamctl", recover=True), db)
        try:
            rows = records.rows
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
                    records.mark_stopped(row.agent_id, row, "killed by teamctl down")
                lines.append(f"{row.agent_id}: {'killed after timeout' if left else 'stopped'}"
                             f"{records.note(row.agent_id)}")
        finally:
            records.close()
        if records.problem:
            lines.append(f"not recorded: {records.problem}")
    found = tmux_backend.listing() or {}
    for marker in sorted(layout.run_dir(state_dir).glob("*.tmux")):
        name = marker.read_text().strip()
        if name and session_is_ours(tdir, found.get(name)):  # never a clone's session of that name
            tmux_backend.kill_session(name)
        _unlink(marker)
    leftovers = procs.find_tagged(str(state_dir))
    procs.end_all(leftovers, grace=procs.LEFTOVER_GRACE)
    lines.extend(f"pid {p.pid}: killed (left over)" for p in leftovers)
    if sweep.sweep(state_dir, tdir, None, timeout):
        lines.append("stopped watchers found by their locks")
    return lines or ["no agent was running"]


def _running(p: psutil.Process) -> bool:
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _mark_stopped(st: Store, row: AgentRow, detail: str) -> bool:
    """True when the stop is in the mailbox (False: spooled, or kept in memory)."""
    return st.set_state(row.agent_id, row.runtime, AgentState.STOPPED.value, detail=detail,
                        started_at=row.started_at, restarts=row.restarts, last_exit=row.last_exit,
                        limit_group=row.limit_group, model=row.model)

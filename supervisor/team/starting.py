"""`teamctl up`: start a watcher for each selected agent that is not running (in tmux, or as a
plain process), then wait until each has written its state row or has died.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..agent import procs
from ..agent.lock import held_locks, lock_path
from ..core.signatures import Runtime
from ..store.safefs import check_state_dir, private_dir, write_private
from . import sweep
from .backends import process as process_backend
from .backends import tmux as tmux_backend
from .compose import Agent, ComposeError, Team, load_team
from .loading import NoTeam, binary_problem, launch_plan, register, store
from .watchers import Outcome, _marker, _tmux_sessions, end_leftovers, log_name, session_name, watcher_process

START_WAIT_SECONDS = 5.0
#: Environment handed to a watcher in tmux: the tmux server's own environment may be older than ours.
PASS_ENV = ("PATH", "HOME", "USER", "LANG", "LC_ALL", "TZ", "PYTHONPATH", "VIRTUAL_ENV",
            tmux_backend.SOCKET_ENV)


@dataclass
class _Started:
    agent: Agent
    pid: int | None
    backend: str
    session: str | None = None
    popen: object | None = None
    console: Path | None = None


def watcher_argv(team: Team, agent: Agent, argv: Sequence[str]) -> list[str]:
    return [sys.executable, "-m", "teamctl_supervisor", "rl-watch", agent.id, "--root", str(team.team_dir), "--",
            *argv]


def watcher_env(team: Team, agent: Agent, base: dict[str, str] | None = None) -> dict[str, str]:
    """What the watcher must see whatever server starts it; compose `env` is applied by the watcher."""
    env = dict(base if base is not None else {k: os.environ[k] for k in PASS_ENV if k in os.environ})
    env["TEAMCTL_ROOT"] = str(team.team_dir)
    if team.broker_url_env and os.environ.get(team.broker_url_env):  # the watcher opens the database too
        env[team.broker_url_env] = os.environ[team.broker_url_env]
    env["TEAMCTL_AGENT"] = agent.id
    return env


def choose_backend(requested: str | None) -> str:
    if requested == "process":
        return "process"
    if tmux_backend.available():
        return "tmux"
    if requested == "tmux":
        raise NoTeam("--backend tmux: tmux is not installed (use --backend process)")
    return "process"


def up(team: Team, agents: Sequence[Agent], backend: str, wait: float = START_WAIT_SECONDS) -> list[Outcome]:
    """Start every selected agent that is not running; one Outcome per agent, in team order.
    Two `up`s, or an `up` and a `down`, of one team take turns (sweep.team_lock)."""
    check_state_dir(team.state_dir, team.team_dir)
    with sweep.team_lock(team.state_dir):
        return _up(team, agents, backend, wait)


def _up(team: Team, agents: Sequence[Agent], backend: str, wait: float) -> list[Outcome]:
    with store(team) as st:
        try:  # state/ exists now: keep the parsed tree for the watchers about to start (compose_cache)
            load_team(team.team_dir, None, cache=True)
        except ComposeError:
            pass  # changed since it was checked: each watcher reads it itself
        register(team, st)
        rows = st.agent_states()
    sessions = _tmux_sessions()
    results: dict[str, Outcome] = {}
    started: list[_Started] = []
    t0 = time.time()
    stale = {a.id for a in agents
             if session_name(team, a) not in sessions and watcher_process(a.id, rows.get(a.id)) is None}
    end_leftovers(team, stale)
    loaded: dict[str, Runtime] = {}
    locked = {path.stem for path in held_locks(team.state_dir)}
    for agent in agents:
        row = rows.get(agent.id)
        name = session_name(team, agent)
        if name in sessions or watcher_process(agent.id, row) is not None or log_name(agent) in locked:
            where = f"tmux session {name}" if name in sessions else "process"
            results[agent.id] = Outcome(agent, "running", f"{agent.id}: already running ({where})")
            continue
        argv, env = launch_plan(team, agent, loaded)
        problem = binary_problem(argv[0], env.get("PATH"))
        if problem is not None:
            results[agent.id] = Outcome(agent, "failed", f"{agent.id}: {problem}", ok=False)
            continue
        cmd = watcher_argv(team, agent, argv)
        try:
            if backend == "tmux":
                pid = tmux_backend.new_session(name, agent.cwd, cmd, watcher_env(team, agent))
                marker = _marker(team, agent)
                private_dir(marker.parent)
                write_private(marker, name + "\n")  # 0600, never through a planted link
                started.append(_Started(agent, pid, "tmux", session=name))
            else:
                console = process_backend.console_log(team.state_dir, log_name(agent))
                popen = process_backend.start(cmd, agent.cwd, watcher_env(team, agent, dict(os.environ)),
                                              console)
                _marker(team, agent).unlink(missing_ok=True)
                started.append(_Started(agent, popen.pid, "process", popen=popen, console=console))
        except tmux_backend.TmuxError as exc:
            if "duplicate session" in str(exc):  # started since we looked (another `up`): running
                results[agent.id] = Outcome(agent, "running", f"{agent.id}: already running (tmux session {name})")
            else:
                results[agent.id] = Outcome(agent, "failed", f"{agent.id}: cannot start: {exc}", ok=False)
        except OSError as exc:
            results[agent.id] = Outcome(agent, "failed", f"{agent.id}: cannot start: {exc}", ok=False)
    results.update(_await_rows(team, started, t0, wait))
    return [results[a.id] for a in agents if a.id in results]


def _await_rows(team: Team, started: list[_Started], t0: float, wait: float) -> dict[str, Outcome]:
    """Wait (up to `wait` s) until each new watcher has written its state row, or has died."""
    out: dict[str, Outcome] = {}
    pending = list(started)
    deadline = time.monotonic() + wait
    with store(team) as st:
        while pending:
            rows = st.agent_states()
            for s in list(pending):
                row = rows.get(s.agent.id)
                if row is not None and row.watcher_pid == s.pid and row.updated_at >= t0 - 1:
                    out[s.agent.id] = Outcome(s.agent, "started", _started_text(s))
                    pending.remove(s)
                elif not _pid_alive(s) and lock_path(team.state_dir, s.agent.id).stem in {
                        p.stem for p in held_locks(team.state_dir)}:
                    out[s.agent.id] = Outcome(s.agent, "running", f"{s.agent.id}: already running (process)")
                    pending.remove(s)
                elif not _pid_alive(s):
                    where = f"see {s.console}" if s.console else f"tmux session {s.session} closed"
                    text = f"{s.agent.id}: watcher exited at once ({where})"
                    out[s.agent.id] = Outcome(s.agent, "failed", text, ok=False)
                    pending.remove(s)
            if not pending or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    for s in pending:  # alive but slow: started all the same
        out[s.agent.id] = Outcome(s.agent, "started", _started_text(s) + " (no state row yet)")
    return out


def _started_text(s: _Started) -> str:
    if s.backend == "tmux":
        return f"{s.agent.id}: started (tmux session {s.session})"
    return f"{s.agent.id}: started (process {s.pid})"


def _pid_alive(s: _Started) -> bool:
    if s.popen is not None:
        return s.popen.poll() is None  # type: ignore[attr-defined]
    return procs.alive(s.pid)

"""`teamctl up`: start a watcher for each selected agent that is not running (in tmux, or as a
plain process), then wait until each has written its state row or has died.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import field
from pathlib import Path

from ..agent import procs
from ..agent.lock import held_locks, lock_path
from ..agent.sessions import forget as forget_session
from ..core.descriptors.files import runtime_files
from ..core.descriptors.loader import Runtime
from ..core.lazy_dataclass import lazy_dataclass
from ..store import layout
from ..store.broker import write_url_value
from ..store.safefs import check_state_dir, private_dir, write_private
from . import launch_inputs, sweep
from .backends import process as process_backend
from .backends import tmux as tmux_backend
from .compose import Agent, ComposeError, Team, load_team
from .loading import NoTeam, binary_problem, launch_plan, prompt_in_argv, register, store
from .settling import settle
from .watchers import (
    Outcome,
    end_leftovers,
    log_name,
    start_session_name,
    team_sessions,
    tmux_marker_file,
    watcher_process,
)

START_WAIT_SECONDS = 5.0
#: Environment handed to a watcher in tmux: the tmux server's own environment may be older than ours.
PASS_ENV = ("PATH", "HOME", "USER", "LANG", "LC_ALL", "TZ", "PYTHONPATH", "VIRTUAL_ENV",
            "TEAMCTL_HOST", tmux_backend.SOCKET_ENV)


@lazy_dataclass
class _Started:
    agent: Agent
    pid: int | None
    backend: str
    session: str | None = None
    popen: object | None = None
    console: Path | None = None
    launched: float = field(default_factory=time.time)


def watcher_argv(team: Team, agent: Agent, argv: Sequence[str]) -> list[str]:
    """The watcher's command; with no `argv` the watcher builds the runtime's from the tree itself."""
    head = [sys.executable, "-m", "teamctl_supervisor", "rl-watch", agent.id, "--root", str(team.team_dir)]
    return [*head, "--", *argv] if argv else head


def watcher_env(team: Team, agent: Agent, base: dict[str, str] | None = None,
                launch: str | None = None) -> dict[str, str]:
    """What the watcher must see whatever server starts it; compose `env` is applied by the watcher.
    `launch`: the key of the agent's part of the tree written for it (launch_inputs)."""
    env = dict(base if base is not None else {k: os.environ[k] for k in PASS_ENV if k in os.environ})
    env.pop(launch_inputs.LAUNCH_ENV, None)
    if launch:
        env[launch_inputs.LAUNCH_ENV] = launch
    env["TEAMCTL_ROOT"] = str(team.team_dir)
    if team.broker_url_env and base is None:  # tmux: the value is read from state/ (hand_over_broker_url)
        env[team.broker_url_env] = ""  # set, and empty: a tmux server's older value must not win
    elif team.broker_url_env and os.environ.get(team.broker_url_env):  # the watcher opens the database too
        env[team.broker_url_env] = os.environ[team.broker_url_env]
    env["TEAMCTL_AGENT"] = agent.id
    return env


def hand_over_broker_url(team: Team) -> None:
    """The broker's `url_env` value, for the watchers about to start, in a 0600 file under state/:
    never on a command line (store/broker.py, write_url_value)."""
    value = os.environ.get(team.broker_url_env or "")
    if team.broker_url_env and value:
        write_url_value(team.mailbox_path, value)


def choose_backend(requested: str | None) -> str:
    if requested == "process":
        return "process"
    if tmux_backend.available():
        return "tmux"
    if requested == "tmux":
        raise NoTeam("--backend tmux: tmux is not installed (use --backend process)")
    return "process"


@lazy_dataclass
class Progress:
    """What `up` tells its caller as it goes: `starting(agent, i, n)` before each launch and
    `done(outcome)` as soon as an agent's outcome is known (a caller that prints shows it at once)."""

    starting: Callable[[Agent, int, int], None] | None = None
    done: Callable[[Outcome], None] | None = None

    def told(self, outcome: Outcome) -> Outcome:
        if self.done is not None:
            self.done(outcome)
        return outcome


def up(team: Team, agents: Sequence[Agent], backend: str, wait: float = START_WAIT_SECONDS,
       settle_seconds: float = 0.0, progress: Progress | None = None, fresh: bool = False) -> list[Outcome]:
    """Start every selected agent that is not running; one Outcome per agent, in team order.
    `settle_seconds`: watch new agents that long and report a runtime that died at once as failed.
    `fresh`: each agent started forgets its session and begins a new conversation (a running one
    keeps its own). Two `up`s, or an `up` and a `down`, of one team take turns (sweep.team_lock)."""
    check_state_dir(team.state_dir, team.team_dir)
    progress = progress or Progress()
    with sweep.team_lock(team.state_dir):
        return _up(team, agents, backend, wait, settle_seconds, progress, fresh)


def _up(team: Team, agents: Sequence[Agent], backend: str, wait: float, settle_seconds: float,
        progress: Progress, fresh: bool = False) -> list[Outcome]:
    hand_over_broker_url(team)
    with store(team) as st:
        tree = _tree_for_watchers(team)
        register(team, st)
        rows = st.agent_states()
    found = tmux_backend.listing() or {}
    sessions = team_sessions(team, found)  # this team's only: a clone's same-named agents are not ours
    results: dict[str, Outcome] = {}
    started: list[_Started] = []
    t0 = time.time()
    stale = {a.id for a in agents
             if a.id not in sessions and watcher_process(a.id, rows.get(a.id)) is None}
    end_leftovers(team, stale)
    loaded: dict[str, Runtime] = {}
    locked = {path.stem for path in held_locks(team.state_dir)}
    for index, agent in enumerate(agents, 1):
        if progress.starting is not None:
            progress.starting(agent, index, len(agents))
        row = rows.get(agent.id)
        name = sessions.get(agent.id) or start_session_name(team, agent, found)
        if agent.id in sessions or watcher_process(agent.id, row) is not None or log_name(agent) in locked:
            where = f"tmux session {name}" if agent.id in sessions else "process"
            results[agent.id] = progress.told(Outcome(agent, "running", f"{agent.id}: already running ({where})"))
            continue
        argv, env = launch_plan(team, agent, loaded)
        problem = binary_problem(argv[0], env.get("PATH"))
        if problem is not None:
            results[agent.id] = progress.told(Outcome(agent, "failed", f"{agent.id}: {problem}", ok=False))
            continue
        # a role prompt's text in argv (a CLI without a file option) stays out of the watcher's own
        # command line: the watcher reads the prompt from its file and builds the same argv
        cmd = watcher_argv(team, agent, [] if prompt_in_argv(loaded[agent.runtime]) else argv)
        if fresh:
            forget_session(team.state_dir, log_name(agent))
        launch = _launch_inputs(tree, agent)
        try:
            if backend == "tmux":
                pid = tmux_backend.new_session(name, agent.cwd, cmd, watcher_env(team, agent, launch=launch))
                tmux_backend.tag_session(name, agent.project, agent.name, str(team.team_dir))
                marker = tmux_marker_file(team, agent)
                private_dir(marker.parent)
                write_private(marker, name + "\n")  # 0600, never through a planted link
                started.append(_Started(agent, pid, "tmux", session=name))
            else:
                console = layout.console_log(team.state_dir, log_name(agent))
                popen = process_backend.start(cmd, agent.cwd, watcher_env(team, agent, dict(os.environ), launch),
                                              console)
                tmux_marker_file(team, agent).unlink(missing_ok=True)
                started.append(_Started(agent, popen.pid, "process", popen=popen, console=console))
        except tmux_backend.TmuxError as exc:
            if "duplicate session" in str(exc):  # started since we looked (another `up`): running
                results[agent.id] = progress.told(
                    Outcome(agent, "running", f"{agent.id}: already running (tmux session {name})"))
            else:
                results[agent.id] = progress.told(
                    Outcome(agent, "failed", f"{agent.id}: cannot start: {exc}", ok=False))
        except OSError as exc:
            results[agent.id] = progress.told(Outcome(agent, "failed", f"{agent.id}: cannot start: {exc}", ok=False))
    awaited = _await_rows(team, started, t0, wait)
    new = [(s.agent, s.pid) for s in started if awaited[s.agent.id].status == "started"]
    last_launch = max((s.launched for s in started), default=t0)  # the last one gets the full settle
    awaited.update(settle(team, new, settle_seconds - (time.time() - last_launch) if new else 0))
    for s in started:
        results[s.agent.id] = progress.told(awaited[s.agent.id])
    return [results[a.id] for a in agents if a.id in results]


def _tree_for_watchers(team: Team) -> tuple[Team, dict[str, object]] | None:
    """The tree as each watcher would load it, with what it was read from; state/ exists now, so
    the parsed files are kept too (compose_cache). None: it changed since it was checked, and each
    watcher reads it itself."""
    stamp = launch_inputs.tree_stamp(team.team_dir, launch_inputs.compose_files(team), ())
    try:
        tree = load_team(team.team_dir, set(runtime_files(team.team_dir)), cache=True)
    except ComposeError:
        return None
    if launch_inputs.compose_files(tree) != launch_inputs.compose_files(team):
        return None
    stamp["roles"] = sorted({str(f) for f in launch_inputs.role_files(tree)})
    return tree, stamp


def _launch_inputs(tree: tuple[Team, dict[str, object]] | None, agent: Agent) -> str | None:
    """Write the agent's part of the tree for its watcher; the key to pass it, or None."""
    if tree is None:
        return None
    loaded, stamp = tree
    same = [a for a in loaded.agents if a.id == agent.id]
    return launch_inputs.write(loaded, same[0], stamp) if same else None


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

"""Team operations behind `teamctl up/down/status/logs/wake/rate-limits`, free of click.

The mailbox's `supervisor_agent_state` row is the truth about a watcher (each watcher writes its
own); tmux sessions are only the place the watcher runs in. A recorded pid counts as our watcher
only when that process still runs `rl-watch <agent>` and is older than its runtime, so a reused pid
is never signalled.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

from ..agent import procs
from ..agent.launch import find_binary
from ..agent.lock import held_locks, lock_path
from ..core.signatures import DescriptorError, Runtime, load_runtime, runtime_files
from ..core.states import LIVE_STATES, WAITING_STATES, AgentState, state_text
from ..store.mailbox import AgentState as StateRow
from ..store.mailbox import Store
from ..store.safefs import check_state_dir, private_dir, write_private
from . import sweep
from .backends import process as process_backend
from .backends import tmux as tmux_backend
from .compose import Agent, ComposeError, Problem, Team, find_root, load_team

START_WAIT_SECONDS = 5.0
#: Environment handed to a watcher in tmux: the tmux server's own environment may be older than ours.
PASS_ENV = ("PATH", "HOME", "USER", "LANG", "LC_ALL", "TZ", "PYTHONPATH", "VIRTUAL_ENV",
            tmux_backend.SOCKET_ENV)
_LIVE = {s.value for s in LIVE_STATES}
_WAITING = {s.value for s in WAITING_STATES}


class NoTeam(Exception):
    """No compose tree where one was looked for."""


# --------------------------------------------------------------------------------------------------
# Loading


def team_dir(root: str | None, cwd: Path | None = None) -> Path:
    """The dir holding team-compose.yaml (--root, then $TEAMCTL_ROOT, then walking up), or NoTeam."""
    cwd = cwd or Path.cwd()
    found = find_root(root, os.environ, cwd)
    if found is not None:
        return found
    if root:
        raise NoTeam(f"--root {root}: no team-compose.yaml there (nor in {root}/.team)")
    if os.environ.get("TEAMCTL_ROOT"):
        raise NoTeam(f"TEAMCTL_ROOT={os.environ['TEAMCTL_ROOT']}: no team-compose.yaml there "
                     "(nor in its .team/)")
    raise NoTeam(f"no compose tree found: no .team/team-compose.yaml in {cwd} or above "
                 "(use --root DIR or set TEAMCTL_ROOT)")


def load(root: str | None, strict: bool = True) -> Team:
    """The validated team (ComposeError on any error).

    `strict` (for starting agents): runtime names must be known and their descriptors must load.
    Without it a team whose runtime files are broken can still be inspected and stopped.
    """
    tdir = team_dir(root)
    if not strict:
        return load_team(tdir, None, cache=True)
    team = load_team(tdir, set(runtime_files(tdir)), cache=True)
    problems = runtime_problems(team)
    if problems:
        raise ComposeError([*problems, *team.warnings])
    return team


def runtime_problems(team: Team) -> list[Problem]:
    """A descriptor that does not load is an error of every agent that uses it (reported once)."""
    found: list[Problem] = []
    for name in sorted({a.runtime for a in team.agents}):
        try:
            load_runtime(name, team.team_dir)
        except DescriptorError as exc:
            user = next(a for a in team.agents if a.runtime == name)
            found.append(Problem(user.source, f"{'managers' if user.is_manager else 'workers'}.{user.name}"
                                 ".runtime", f"runtime {name!r} cannot be used: {exc}"))
    return found


def binary_warnings(team: Team) -> list[Problem]:
    """Runtimes whose binary is not on PATH: `up` would report these agents as failed."""
    found: list[Problem] = []
    loaded: dict[str, Runtime] = {}
    for agent in team.agents:
        try:
            argv, env = launch_plan(team, agent, loaded, write_files=False)
        except DescriptorError:
            continue
        problem = binary_problem(argv[0], env.get("PATH"))
        if problem is not None:
            found.append(Problem(agent.source, f"{'managers' if agent.is_manager else 'workers'}.{agent.name}"
                                 ".runtime", problem, "warning"))
    return found


def binary_problem(name: str, env_path: str | None) -> str | None:
    """Why the runtime binary cannot be started (naming the file), or None."""
    found = find_binary(name, env_path)
    if found is None:
        import shutil

        bare = shutil.which(name, mode=os.F_OK, path=env_path) if "/" not in name else None
        if bare is not None:
            return f"runtime binary {bare} is not executable (chmod +x {bare})"
        return f"runtime binary {name!r} not found on PATH"
    if not os.access(found, os.X_OK) or os.path.isdir(found):
        return f"runtime binary {found} is not executable (chmod +x {found})"
    return None


def launch_plan(team: Team, agent: Agent, loaded: dict[str, Runtime] | None = None,
                write_files: bool = True) -> tuple[list[str], dict[str, str]]:
    """The runtime argv and environment the watcher will use for `agent`; `loaded` caches
    descriptors across the agents of one command (fifty agents share a handful of runtimes)."""
    from ..agent.settings import settings_for_agent

    cache = loaded if loaded is not None else {}
    if agent.runtime not in cache:
        cache[agent.runtime] = load_runtime(agent.runtime, team.team_dir)
    settings = settings_for_agent(team, agent, runtime=cache[agent.runtime], write_files=write_files)
    return list(settings.argv), dict(settings.env)


def store(team: Team) -> Store:
    return Store(team.mailbox_path, team.state_dir / "spool", "teamctl", recover=True)


def register(team: Team, st: Store) -> None:
    """Projects and agents into the mailbox, as teamctl does."""
    st.register(projects=[(p.id, p.name) for p in team.projects],
                agents=[(a.id, a.project, a.name, a.runtime, a.is_manager, a.reports_to)
                        for a in team.agents])


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
# up


@dataclass
class Outcome:
    agent: Agent
    status: str  # started | running | failed | stopped | killed | not-running
    message: str
    ok: bool = True


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


# --------------------------------------------------------------------------------------------------
# down


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
        sessions = _tmux_sessions()
        targets: list[tuple[Agent, psutil.Process, list[psutil.Process]]] = []
        results: dict[str, Outcome] = {}
        for agent in agents:
            row = rows.get(agent.id)
            name = session_name(team, agent)
            watcher = find_watcher(team, agent, row, sessions)
            if watcher is None:
                if name in sessions:
                    tmux_backend.kill_session(name)
                    text = f"{agent.id}: stopped (closed tmux session)"
                    results[agent.id] = Outcome(agent, "stopped", text)
                else:
                    results[agent.id] = Outcome(agent, "not-running", f"{agent.id}: not running")
                if row is not None and row.state in _LIVE:
                    _mark_stopped(st, row, "watcher gone")
                _marker(team, agent).unlink(missing_ok=True)
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
                if row is not None and row.state in _LIVE:  # e.g. it died before it could write
                    _mark_stopped(st, row, "stopped by teamctl down")
            name = session_name(team, agent)
            if tmux_backend.has_session(name):
                tmux_backend.kill_session(name)
            _marker(team, agent).unlink(missing_ok=True)
    for agent_id, count in end_leftovers(team, {a.id for a in agents}).items():
        outcome = results[agent_id]
        results[agent_id] = Outcome(outcome.agent, "killed",
                                    f"{agent_id}: killed {count} leftover process{'es' if count > 1 else ''}")
    return results


def down_recorded(tdir: Path, timeout: float = 15.0) -> list[str]:
    """`down` when the compose tree no longer loads (a typo while the team runs): stop every watcher
    recorded in the team's default mailbox, their tmux sessions (from the markers `up` left) and any
    tagged leftover, since a broken file must never keep a team from being stopped."""
    state_dir = tdir / "state"
    db = state_dir / "mailbox.db"
    lines: list[str] = []
    if db.exists():
        with Store(db, state_dir / "spool", "teamctl", recover=True) as st:
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
    for marker in sorted((state_dir / "run").glob("*.tmux")):
        name = marker.read_text().strip()
        if name and tmux_backend.has_session(name):
            tmux_backend.kill_session(name)
        marker.unlink(missing_ok=True)
    for p in procs.find_tagged(str(state_dir)):
        procs.stop_tree(p.pid, timeout=2.0)
        lines.append(f"pid {p.pid}: killed (left over)")
    if sweep.sweep(state_dir, tdir, None, timeout):
        lines.append("stopped watchers found by their locks")
    return lines or ["no agent was running"]


def end_leftovers(team: Team, agent_ids: set[str]) -> dict[str, int]:
    """End processes of these agents that escaped their watcher's tree (a double fork with setsid, or
    a watcher that was SIGKILLed): every runtime process carries its agent id in its environment."""
    if not agent_ids:
        return {}
    ended: dict[str, int] = {}
    for p in procs.find_tagged(str(team.state_dir), agent_ids):
        try:
            agent_id = p.environ().get(procs.TAG_AGENT, "")
        except psutil.Error:
            continue
        procs.stop_tree(p.pid, timeout=2.0)
        ended[agent_id] = ended.get(agent_id, 0) + 1
    return ended


def _running(p: psutil.Process) -> bool:
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _mark_stopped(st: Store, row: StateRow, detail: str) -> None:
    st.set_state(row.agent_id, row.runtime, AgentState.STOPPED.value, detail=detail,
                 started_at=row.started_at, restarts=row.restarts, last_exit=row.last_exit,
                 limit_group=row.limit_group, model=row.model)


# --------------------------------------------------------------------------------------------------
# wake


def wake(team: Team, agents: Sequence[Agent]) -> list[Outcome]:
    """SIGUSR1 to each waiting watcher: it ends its rate-limit / backoff / budget wait now."""
    out: list[Outcome] = []
    rows: dict[str, StateRow] = {}
    if team.mailbox_path.exists():  # never started: every agent is "not running", nothing is created
        with store(team) as st:
            rows = st.agent_states()
    for agent in agents:
        row = rows.get(agent.id)
        watcher = watcher_process(agent.id, row)
        if row is None or watcher is None:
            out.append(Outcome(agent, "not-running", f"{agent.id}: not running", ok=False))
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

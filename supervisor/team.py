"""Team operations behind `teamctl up/down/status/logs/wake/rate-limits`, free of click.

The mailbox's `supervisor_agent_state` row is the truth about a watcher (each watcher writes its
own); tmux sessions are only the place the watcher runs in. A recorded pid counts as our watcher
only when that process still runs `rl-watch <agent>` and is older than its runtime, so a reused pid
is never signalled.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import BinaryIO
from zoneinfo import ZoneInfo

import psutil

from . import procs
from .backends import process as process_backend
from .backends import tmux as tmux_backend
from .compose import Agent, ComposeError, Problem, Team, find_root, load_team
from .launch import find_binary
from .logfile import log_files
from .signatures import DescriptorError, Runtime, load_runtime, runtime_files
from .states import LIVE_STATES, WAITING_STATES, AgentState
from .store import AgentState as StateRow
from .store import Store

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
        return load_team(tdir, None)
    team = load_team(tdir, set(runtime_files(tdir)))
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
            argv, env = launch_plan(team, agent, loaded)
        except DescriptorError:
            continue
        if find_binary(argv[0], env.get("PATH")) is None:
            found.append(Problem(agent.source, f"{'managers' if agent.is_manager else 'workers'}.{agent.name}"
                                 ".runtime", f"runtime binary {argv[0]!r} not found on PATH", "warning"))
    return found


def launch_plan(team: Team, agent: Agent, loaded: dict[str, Runtime] | None = None) -> tuple[list[str], dict[str, str]]:
    """The runtime argv and environment the watcher will use for `agent`; `loaded` caches
    descriptors across the agents of one command (fifty agents share a handful of runtimes)."""
    from .cmd_watch import settings_for_agent

    cache = loaded if loaded is not None else {}
    if agent.runtime not in cache:
        cache[agent.runtime] = load_runtime(agent.runtime, team.team_dir)
    settings = settings_for_agent(team, agent, runtime=cache[agent.runtime])
    return list(settings.argv), dict(settings.env)


def store(team: Team) -> Store:
    return Store(team.mailbox_path, team.state_dir / "spool", "teamctl")


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
    return [sys.executable, "-m", "supervisor", "rl-watch", agent.id, "--root", str(team.team_dir), "--",
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
    """Start every selected agent that is not running; one Outcome per agent, in team order."""
    with store(team) as st:
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
    for agent in agents:
        row = rows.get(agent.id)
        name = session_name(team, agent)
        if name in sessions or watcher_process(agent.id, row) is not None:
            where = f"tmux session {name}" if name in sessions else "process"
            results[agent.id] = Outcome(agent, "running", f"{agent.id}: already running ({where})")
            continue
        argv, env = launch_plan(team, agent, loaded)
        if find_binary(argv[0], env.get("PATH")) is None:
            results[agent.id] = Outcome(agent, "failed", f"{agent.id}: runtime binary {argv[0]!r} not found",
                                        ok=False)
            continue
        cmd = watcher_argv(team, agent, argv)
        try:
            if backend == "tmux":
                pid = tmux_backend.new_session(name, agent.cwd, cmd, watcher_env(team, agent))
                marker = _marker(team, agent)
                marker.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                marker.write_text(name + "\n")
                started.append(_Started(agent, pid, "tmux", session=name))
            else:
                console = process_backend.console_log(team.state_dir, log_name(agent))
                popen = process_backend.start(cmd, agent.cwd, watcher_env(team, agent, dict(os.environ)),
                                              console)
                _marker(team, agent).unlink(missing_ok=True)
                started.append(_Started(agent, popen.pid, "process", popen=popen, console=console))
        except (tmux_backend.TmuxError, OSError) as exc:
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
    """SIGTERM each watcher (it stops its runtime), wait, then kill what is left of each tree."""
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
    return [results[a.id] for a in agents]


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


# --------------------------------------------------------------------------------------------------
# status


@dataclass
class Status:
    id: str
    runtime: str
    state: str
    text: str
    until: float | None = None
    detail: str | None = None
    pid: int | None = None
    watcher_pid: int | None = None
    uptime: float | None = None
    restarts: int = 0
    cpu_percent: float | None = None
    rss: int | None = None
    cost_today: float = 0.0
    session: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id, "runtime": self.runtime, "state": self.state, "text": self.text,
            "until": self.until, "detail": self.detail, "pid": self.pid, "watcher_pid": self.watcher_pid,
            "uptime_seconds": None if self.uptime is None else round(self.uptime, 1),
            "restarts": self.restarts,
            "cpu_percent": None if self.cpu_percent is None else round(self.cpu_percent, 1),
            "rss_bytes": self.rss, "cost_today_usd": round(self.cost_today, 6), "session": self.session,
        }


@dataclass
class Report:
    agents: list[Status]
    notices: list[str] = field(default_factory=list)


def local_time(ts: float, now: float) -> str:
    """`16:01`; with seconds when it is minutes away (`16:01:07`), with the date when not today."""
    when = datetime.fromtimestamp(ts)
    if when.date() == datetime.fromtimestamp(now).date():
        return when.strftime("%H:%M:%S" if 0 <= ts - now < 600 else "%H:%M")
    return when.strftime("%b %d %H:%M")


def state_text(row: StateRow, now: float) -> str:
    until = f" until {local_time(row.until, now)}" if row.until else ""
    if row.state == AgentState.RATE_LIMITED.value:
        return f"rate-limited{until}"
    if row.state == AgentState.BACKING_OFF.value:
        return f"{row.detail or 'backing off'}{until}"
    if row.state == AgentState.PAUSED_BUDGET.value:
        return f"paused-budget{until}"
    return row.state.replace("_", "-")


def day_start(tz_name: str | None, now: float) -> float:
    """Local midnight of today in `tz_name` (host zone when None)."""
    if tz_name:
        zone = ZoneInfo(tz_name)
        today = datetime.fromtimestamp(now, zone).date()
        return datetime.combine(today, dtime(0), zone).timestamp()
    today = datetime.fromtimestamp(now).date()
    return datetime.combine(today, dtime(0)).timestamp()


def costs_today(team: Team, st: Store, now: float) -> dict[str, float]:
    since = day_start(team.budget.tz, now)
    rows = st.query("SELECT agent_id, SUM(usd) AS usd FROM budget"
                    " WHERE observed_at>=? AND agent_id IS NOT NULL GROUP BY agent_id", [since])
    return {r["agent_id"]: float(r["usd"] or 0.0) for r in rows}


def status(team: Team, agents: Sequence[Agent] | None = None, now: float | None = None) -> Report:
    """One Status per agent: one query for states, one for costs, psutil once per process."""
    now = now or time.time()
    agents = list(agents if agents is not None else team.agents)
    with store(team) as st:
        rows = st.agent_states()
        costs = costs_today(team, st, now)
    sessions = tmux_backend.sessions()
    ppids = _ppid_map() if any(r.pid for r in rows.values()) else {}
    out: list[Status] = []
    stale_in_tmux = 0
    for agent in agents:
        row = rows.get(agent.id)
        name = session_name(team, agent)
        s = Status(agent.id, agent.runtime, "not-started", "not started", cost_today=costs.get(agent.id, 0.0),
                   session=name if sessions and name in sessions else None)
        out.append(s)
        if row is None:
            if s.session:
                s.state, s.text = "starting", "starting"
            continue
        s.restarts, s.until, s.detail = row.restarts, row.until, row.detail
        s.state, s.text = row.state, state_text(row, now)
        # `up` leaves a marker for a tmux agent and only `down` removes it: a marker with no tmux
        # server means the server died under the agent (its watcher got SIGHUP, or was killed).
        server_gone = sessions is None and _marker(team, agent).exists()
        if row.state in _LIVE:
            if watcher_process(agent.id, row) is None:
                s.state, s.text = "stale", "stale"
                stale_in_tmux += server_gone
                continue
        elif server_gone and row.state == AgentState.STOPPED.value:
            s.text = "stopped (tmux server gone)"
            stale_in_tmux += 1
            s.watcher_pid = row.watcher_pid
            if row.pid:
                m = _metrics(row.pid, ppids)
                if m is not None:
                    s.pid, s.cpu_percent, s.rss = row.pid, m[0], m[1]
                    s.uptime = now - row.started_at if row.started_at else m[2]
    report = Report(out)
    if stale_in_tmux:
        many = stale_in_tmux != 1
        report.notices.append(f"tmux server not running: {stale_in_tmux} agent{'s' if many else ''}"
                              f" it ran {'are' if many else 'is'} down; run `teamctl up`")
    return report


def _ppid_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for p in psutil.process_iter(["ppid"]):
        ppid = p.info.get("ppid")
        if ppid is not None:
            children.setdefault(ppid, []).append(p.pid)
    return children


def _metrics(pid: int, children: dict[int, list[int]]) -> tuple[float, int, float] | None:
    """CPU % since start (summed over the tree), RSS of the tree, uptime of `pid`; no sampling interval."""
    pids, todo = [], [pid]
    while todo:
        cur = todo.pop()
        pids.append(cur)
        todo.extend(children.get(cur, ()))
    cpu, rss, uptime, now = 0.0, 0, None, time.time()
    for p_id in pids:
        try:
            p = psutil.Process(p_id)
            with p.oneshot():
                created = p.create_time()
                times = p.cpu_times()
                rss += p.memory_info().rss
                cpu += (times.user + times.system) / max(now - created, 1e-3) * 100
                if p_id == pid:
                    uptime = now - created
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            if p_id == pid:
                return None
    return cpu, rss, uptime or 0.0


def human_uptime(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def human_bytes(n: int | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "K", "M", "G"):
        if n < 1024 or unit == "G":
            return f"{n:.0f}{unit}" if unit == "B" else f"{n:.1f}{unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n}B"


def status_table(report: Report) -> list[str]:
    header = ("AGENT", "RUNTIME", "STATE", "PID", "UPTIME", "RESTARTS", "CPU%", "RSS", "COST TODAY")
    rows = [header]
    for s in report.agents:
        rows.append((s.id, s.runtime, s.text, str(s.pid) if s.pid else "-",
                     human_uptime(s.uptime) if s.pid else "-", str(s.restarts),
                     "-" if s.cpu_percent is None else f"{s.cpu_percent:.1f}", human_bytes(s.rss),
                     f"${s.cost_today:.2f}"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(r)).rstrip() for r in rows]
    return lines + report.notices


# --------------------------------------------------------------------------------------------------
# logs

_ANSI = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"  # DCS, SOS, PM, APC
    r"|\x1b[()*+#%][0-~]?"  # charset selection
    r"|\x1b[@-Z\\-_0-9=<>a-z]?"  # two-byte escapes, lone ESC
    r"|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"  # other control characters (\t, \n, \r kept)
)


def clean_line(line: str) -> str:
    """A log line as a terminal would have shown it: escapes removed, only the text after the last \\r."""
    line = line.rstrip("\r")
    if "\r" in line:
        parts = [p for p in line.split("\r") if _ANSI.sub("", p).strip()]
        line = parts[-1] if parts else ""
    return _ANSI.sub("", line)


def tail_lines(path: Path, n: int) -> list[str]:
    """The last `n` lines of the log and its rotations (newest last), decoded, not cleaned."""
    return tail(path, n)[0]


def tail(path: Path, n: int, partial: bool = True) -> tuple[list[str], int]:
    """Like `tail_lines`, plus the offset in `path` where the lines end (where `follow` goes on).

    `partial=False` leaves an unfinished last line out (and the offset before it), for `follow`.
    """
    collected: list[bytes] = []
    offset = 0
    for f in reversed(log_files(path)):
        try:
            data = f.read_bytes()
        except OSError:
            continue
        if f == path:
            offset = len(data)
            if not partial and not data.endswith(b"\n"):
                offset = data.rfind(b"\n") + 1
                data = data[:offset]
        lines = data.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        collected = lines + collected
        if len(collected) >= n:
            break
    if n <= 0:
        return [], offset
    return [b.decode("utf-8", "replace") for b in collected[-n:]], offset


def follow(path: Path, poll: float = 0.25, stop: float | None = None, start: int | None = None) -> Iterator[str]:
    """Lines written to `path` after `start` (default: its end at this call, not at the first `next()`);
    survives rotation (the old file is read to its end first).

    `stop`: give up after that many seconds (tests); None follows until the caller stops iterating.
    """
    try:
        fh = open(path, "rb")  # noqa: SIM115
        fh.seek(0, os.SEEK_END)
        if start is not None and start <= fh.tell():
            fh.seek(start)
    except FileNotFoundError:
        fh = None  # it appears later: read it from its start
    return _follow(path, fh, poll, None if stop is None else time.monotonic() + stop)


def _follow(path: Path, fh: BinaryIO | None, poll: float, end: float | None) -> Iterator[str]:
    ino = os.fstat(fh.fileno()).st_ino if fh is not None else None
    buf = b""
    try:
        while end is None or time.monotonic() < end:
            if fh is None:
                try:
                    fh = open(path, "rb")  # noqa: SIM115
                    ino = os.fstat(fh.fileno()).st_ino
                except FileNotFoundError:
                    time.sleep(poll)
                    continue
            chunk = fh.read()
            if chunk:
                buf += chunk
                *lines, buf = buf.split(b"\n")
                for line in lines:
                    yield line.decode("utf-8", "replace")
                continue
            try:
                st = os.stat(path)
                rotated = st.st_ino != ino or st.st_size < fh.tell()
            except FileNotFoundError:
                rotated = True
            if rotated:  # the old file has been read to its end: go on with the new one
                fh.close()
                fh = None
                continue
            time.sleep(poll)
    finally:
        if fh is not None:
            fh.close()


# --------------------------------------------------------------------------------------------------
# rate limits

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(text: str, now: float) -> float:
    """`2h`, `30m`, `3d`, an ISO date-time (local when it names no zone) or a date (its local midnight)."""
    m = _DURATION.match(text)
    if m:
        return now - float(m.group(1)) * _UNITS[m.group(2).lower()]
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise ValueError(f"{text!r}: use a duration (2h, 30m, 3d), an ISO time or a date") from exc
    return when.timestamp()


@dataclass
class Hit:
    agent_id: str
    runtime: str
    hit_at: float
    resets_at: float | None
    handled_at: float | None
    raw_match: str

    @property
    def waited(self) -> float | None:
        return None if self.handled_at is None else self.handled_at - self.hit_at

    def as_dict(self) -> dict[str, object]:
        iso = _iso
        return {"agent": self.agent_id, "runtime": self.runtime, "hit_at": iso(self.hit_at),
                "resets_at": iso(self.resets_at), "handled_at": iso(self.handled_at),
                "waited_seconds": None if self.waited is None else round(self.waited, 1),
                "handled": self.handled_at is not None, "raw_match": self.raw_match}


def _iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts).astimezone().isoformat(timespec="seconds")


def rate_limit_hits(team: Team, agent_ids: Iterable[str] | None, since: float) -> list[Hit]:
    ids = list(agent_ids or [])
    sql = "SELECT * FROM rate_limits WHERE hit_at>=?"
    params: list[object] = [since]
    if ids:
        sql += f" AND agent_id IN ({','.join('?' * len(ids))})"
        params += ids
    with store(team) as st:
        rows = st.query(sql + " ORDER BY hit_at, id", params)
    return [Hit(r["agent_id"], r["runtime"], r["hit_at"], r["resets_at"], r["handled_at"], r["raw_match"])
            for r in rows]


def hits_table(hits: Sequence[Hit], now: float, width: int = 60) -> list[str]:
    def when(ts: float | None) -> str:
        if ts is None:
            return "-"
        return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")

    header = ("AGENT", "HIT", "RESETS", "WAITED", "HANDLED", "MATCH")
    rows = [header]
    for h in hits:
        raw = " ".join(h.raw_match.split())
        raw = raw if len(raw) <= width else raw[: width - 1] + "…"
        waited = human_uptime(h.waited) if h.waited is not None else (
            f"waiting ({human_uptime(now - h.hit_at)})" if h.resets_at and h.resets_at > now else "-")
        handled = "yes" if h.handled_at else "no"
        rows.append((h.agent_id, when(h.hit_at), when(h.resets_at), waited, handled, raw))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    return ["  ".join(c.ljust(widths[i]) for i, c in enumerate(r)).rstrip() for r in rows]


def default_since(now: float) -> float:
    return (datetime.fromtimestamp(now) - timedelta(hours=24)).timestamp()

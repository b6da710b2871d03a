"""An agent's watcher as teamctl finds it: its names and files, whether a recorded pid is still it,
the processes that escaped it, and what a command did to it (Outcome).

The mailbox's `supervisor_agent_state` row is the truth about a watcher (each watcher writes its
own); tmux sessions are only the place the watcher runs in. A recorded pid counts as our watcher
only when that process still runs `rl-watch <agent>` and is older than its runtime, so a reused pid
is never signalled.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import psutil

from ..agent import procs
from ..core.states import LIVE_STATES
from ..store import layout
from ..store.mailbox import AgentRow
from .backends import tmux as tmux_backend
from .compose import DEFAULT_TMUX_PREFIX, LEGACY_TMUX_PREFIX, Agent, Team
from .outcome import Outcome  # noqa: F401 (the team operations' result, named here too)

LIVE_STATE_NAMES = {s.value for s in LIVE_STATES}


# --------------------------------------------------------------------------------------------------
# Names and files


def session_name(team: Team, agent: Agent) -> str:
    """The name upstream gives the agent's session: `<tmux_prefix><project>-<agent>`."""
    return tmux_backend.session_name(team.tmux_prefix, agent.project, agent.name)


def _root_key(path: str | Path) -> str:
    return os.path.realpath(str(path))


def _clone_name(team: Team, agent: Agent) -> str:
    """The name used when another team (a second clone of one repo) holds upstream's name."""
    digest = hashlib.sha256(_root_key(team.team_dir).encode()).hexdigest()[:6]
    return f"{session_name(team, agent)}-{digest}"


def _candidate_names(team: Team, agent: Agent) -> list[str]:
    names = [session_name(team, agent), _clone_name(team, agent)]
    if team.tmux_prefix == DEFAULT_TMUX_PREFIX:  # sessions of builds whose default prefix was "t-"
        names.append(tmux_backend.session_name(LEGACY_TMUX_PREFIX, agent.project, agent.name))
    return names


def _pane_root(name: str) -> str | None:
    """The team root an untagged session's watcher was started for (its `--root`), if it is ours."""
    pid = tmux_backend.pane_pid(name)
    if not pid:
        return None
    try:
        cmd = psutil.Process(pid).cmdline()
    except psutil.Error:
        return None
    if "rl-watch" in cmd and "--root" in cmd and cmd.index("--root") + 1 < len(cmd):
        return _root_key(cmd[cmd.index("--root") + 1])
    return None


def session_is_ours(team_dir: Path, session: tmux_backend.Session | None) -> bool:
    """A session of the team at `team_dir`: tagged with its root, or (untagged: an older build, or
    the moment before tagging) running a watcher started with `--root team_dir`."""
    if session is None:
        return False
    if session.tagged:
        return bool(session.root) and _root_key(session.root) == _root_key(team_dir)
    return _pane_root(session.name) == _root_key(team_dir)


def team_sessions(team: Team, found: dict[str, tmux_backend.Session] | None = None) -> dict[str, str]:
    """Agent id -> the name of this team's tmux session for it. Another team's sessions (a clone of
    the same repo: same project names, same prefix) are never in it."""
    found = tmux_backend.listing() if found is None else found
    if not found:
        return {}
    root = _root_key(team.team_dir)
    by_key = {(a.project, a.name): a.id for a in team.agents}
    out: dict[str, str] = {}
    for s in found.values():
        if s.tagged and (s.project, s.agent) in by_key and s.root and _root_key(s.root) == root:
            out[by_key[(s.project, s.agent)]] = s.name
    for agent in team.agents:
        if agent.id in out:
            continue
        for name in _candidate_names(team, agent):
            s = found.get(name)
            if s is not None and not s.tagged and _pane_root(name) == root:
                out[agent.id] = name
                break
    return out


def start_session_name(team: Team, agent: Agent, found: dict[str, tmux_backend.Session]) -> str:
    """Upstream's name, unless a session of that name is there already (another team's)."""
    name = session_name(team, agent)
    return name if name not in found else _clone_name(team, agent)


def log_name(agent: Agent) -> str:
    return layout.agent_file_name(agent.id)


def output_log(team: Team, agent: Agent) -> Path:
    return layout.output_log(team.state_dir, log_name(agent))


def tmux_marker_file(team: Team, agent: Agent) -> Path:
    """Present while the agent's watcher was started in tmux (for the "tmux server gone" notice)."""
    return layout.tmux_marker(team.state_dir, log_name(agent))


# --------------------------------------------------------------------------------------------------
# Watcher identity


def watcher_process(agent_id: str, row: AgentRow | None) -> psutil.Process | None:
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


def find_watcher(team: Team, agent: Agent, row: AgentRow | None,
                 sessions: dict[str, str] | None) -> psutil.Process | None:
    """The row's watcher, else the process in the agent's tmux session (before it wrote its row);
    `sessions` is team_sessions(): this team's only."""
    p = watcher_process(agent.id, row)
    if p is not None:
        return p
    name = (sessions or {}).get(agent.id)
    if name:
        pid = tmux_backend.pane_pid(name)
        if pid:
            return _as_watcher(pid, agent.id)
    return None


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

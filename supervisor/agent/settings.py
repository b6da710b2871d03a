"""Watcher settings: everything one watcher needs, resolved from compose and the command line.

Resolution lives here, beside the dataclass, so `teamctl up` (team layer) and `teamctl rl-watch`
(cli) build the same settings for an agent. Only compose's data model is imported: no YAML.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from zoneinfo import ZoneInfo

from ..core.compose_model import Agent, Team
from ..core.descriptors.loader import Runtime, load_runtime, runtime_files
from ..core.errors import UsageProblem
from ..core.policy import Restart
from ..core.resets.parse import resolve_zone
from ..store import layout
from ..store.safefs import private_dir
from .budget import Caps, Price, load_prices
from .hooks import HookLike
from .launch import build_argv
from .logfile import DEFAULT_BACKUPS, DEFAULT_MAX_BYTES
from .loghandler import RotatingLogHandler
from .scope import mcp_config_file, role_prompt_file


@dataclass(frozen=True)
class WatchSettings:
    """Everything one watcher needs, resolved from compose and the command line."""

    agent_id: str
    project_id: str
    runtime: Runtime
    argv: tuple[str, ...]
    cwd: Path
    env: Mapping[str, str]
    tz: ZoneInfo
    mailbox: Path
    state_dir: Path
    margin: float = 60.0
    fallback_wait: float = 1800.0
    max_wait: float = 8 * 86400.0
    restart: Restart = Restart.ALWAYS
    stop_timeout: float = 10.0
    backoff_initial: float = 1.0
    backoff_max: float = 300.0
    stable_after: float = 600.0
    give_up_exits: int = 5
    give_up_window: float = 120.0
    quick_uptime: float = 10.0
    hooks: Mapping[str, HookLike] = field(default_factory=lambda: MappingProxyType({}))
    chain: tuple[str, ...] = ("wait",)
    limit_group: str | None = None
    model: str | None = None
    log_max_bytes: int = DEFAULT_MAX_BYTES
    log_backups: int = DEFAULT_BACKUPS
    caps: Caps = field(default_factory=Caps)
    prices: Mapping[str, Price] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def log_name(self) -> str:
        return layout.agent_file_name(self.agent_id)



def settings_for_agent(team: Team, agent: Agent, argv: list[str] | None = None,
                       runtime: Runtime | None = None, write_files: bool = True) -> WatchSettings:
    """Everything compose says about one agent, as watcher settings (`runtime`: already loaded).
    `write_files` False: the per-agent files under state/agent-scope/ are named, not written."""
    runtime = runtime or load_runtime(agent.runtime, team.team_dir)
    env = {**os.environ, **runtime.launch.env, **agent.env}
    role_prompt = role_prompt_file(team.state_dir, agent, write_files)
    if role_prompt and runtime.launch.role_prompt_env:  # e.g. Gemini CLI: GEMINI_SYSTEM_MD=<file>
        env[runtime.launch.role_prompt_env] = str(role_prompt)
    if not argv:
        mcp = mcp_config_file(team.state_dir, agent, write_files) if "mcp_config" in runtime.launch.options else None
        argv = build_argv(runtime, model=agent.model, role_prompt=role_prompt, mcp_config=mcp,
                          permission_mode=agent.permission_mode, effort=agent.effort)
    rl = team.rate_limits
    chain = agent.on_rate_limit or rl.default_on_hit or ("wait",)
    hooks = {h.name: h for h in rl.hooks if h.name}
    return WatchSettings(
        caps=team_caps(team), prices=MappingProxyType(load_prices(team.team_dir)),
        agent_id=agent.id, project_id=agent.project, runtime=runtime, argv=tuple(argv), cwd=agent.cwd,
        env=MappingProxyType(env), tz=resolve_zone(agent.tz, env), mailbox=team.mailbox_path,
        state_dir=team.state_dir, margin=rl.margin_seconds, fallback_wait=rl.fallback_wait_seconds,
        max_wait=rl.max_wait_seconds, restart=Restart(agent.restart), hooks=MappingProxyType(hooks),
        chain=tuple(chain), limit_group=agent.limit_group, model=agent.model)


def adhoc_settings(agent_id: str, runtime_name: str | None, argv: list[str], root: Path) -> WatchSettings:
    """No compose tree: `--root DIR` is the team root, state lives in DIR/state."""
    if not argv:
        raise UsageProblem("no compose tree here: give the runtime command after `--`")
    name = runtime_name or guess_runtime(argv[0], root)
    if name is None:
        raise UsageProblem(f"cannot tell the runtime of {argv[0]!r}: pass --runtime NAME")
    runtime = load_runtime(name, root)
    env = {**os.environ, **runtime.launch.env}
    project = agent_id.split(":", 1)[0]
    state = layout.state_dir(root)
    return WatchSettings(
        agent_id=agent_id, project_id=project, runtime=runtime, argv=tuple(argv), cwd=Path.cwd(),
        env=MappingProxyType(env), tz=resolve_zone(None, env), mailbox=layout.mailbox(state),
        state_dir=state, limit_group=runtime.name, prices=MappingProxyType(load_prices(root)))


def team_caps(team: Team) -> Caps:
    """The compose `budget` block as caps; days in `budget.tz`, else the host's zone."""
    b = team.budget
    per = b.per_project_usd_limit
    return Caps(daily_usd_limit=b.daily_usd_limit,
                per_project=MappingProxyType(dict(per)) if isinstance(per, dict) else per,
                warn_threshold_pct=b.warn_threshold_pct, tz=resolve_zone(b.tz, dict(os.environ)),
                on_cap=tuple(b.on_cap), on_warn=tuple(b.on_warn), report_at=b.report_at,
                on_report=tuple(b.on_report))


def guess_runtime(binary: str, team_dir: Path | None) -> str | None:
    """The runtime whose descriptor launches `binary` (e.g. `claude` -> claude-code)."""
    base = Path(binary).name
    files = runtime_files(team_dir)
    if base in files:
        return base
    for name in sorted(set(files.values())):
        if name.suffix != ".toml":
            continue
        try:
            runtime = load_runtime(name.stem, team_dir, generic=False)
        except Exception:  # a broken descriptor is reported when it is actually used
            continue
        if Path(runtime.launch.binary).name == base:
            return runtime.name
    return None


def configure_logging(settings: WatchSettings) -> None:
    """The watcher's own log: state/logs/<project>-<agent>.supervisor.log, rotated, 0600."""
    private_dir(layout.logs_dir(settings.state_dir))  # never through a planted symlink
    handler = RotatingLogHandler(layout.supervisor_log(settings.state_dir, settings.log_name), 1024 * 1024, 3)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)

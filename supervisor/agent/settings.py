"""Watcher settings: everything one watcher needs, resolved from compose and the command line.

Resolution lives here, beside the dataclass, so `teamctl up` (team layer) and `teamctl rl-watch`
(cli) build the same settings for an agent. Only compose's data model is imported: no YAML.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import field, fields, replace
from pathlib import Path
from types import MappingProxyType
from zoneinfo import ZoneInfo

from ..core.compose_model import Agent, Team
from ..core.descriptors.loader import Runtime, load_runtime, runtime_files
from ..core.errors import UsageProblem
from ..core.lazy_dataclass import lazy_dataclass
from ..core.policy import Restart
from ..core.reactor.settings import DEFAULTS, ReactorSettings
from ..core.resets.zones import resolve_zone
from ..store import layout
from ..store.descriptor_checks import DescriptorChecks
from ..store.safefs import private_dir
from .agent_env import launch_env
from .budget import Caps, Price, load_prices
from .hooks import HookLike
from .launch import build_argv
from .logfile import DEFAULT_BACKUPS, DEFAULT_MAX_BYTES
from .loghandler import RotatingLogHandler
from .scope import mcp_config_file, role_prompt_file


@lazy_dataclass(frozen=True)
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
    #: the waits and the crash policy (core/reactor/settings.py, core/policy.py: defaults said there)
    reactor: ReactorSettings = DEFAULTS
    stop_timeout: float = 10.0
    hooks: Mapping[str, HookLike] = field(default_factory=lambda: MappingProxyType({}))
    chain: tuple[str, ...] = ("wait",)
    limit_group: str | None = None
    model: str | None = None
    log_max_bytes: int = DEFAULT_MAX_BYTES
    log_backups: int = DEFAULT_BACKUPS
    # issue 22 (compose `auto_resume`, `max_resumes_per_day`, `on_event`)
    auto_resume: bool = True
    max_resumes_per_day: int | None = None
    event_hooks: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    caps: Caps = field(default_factory=Caps)
    prices: Mapping[str, Price] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def log_name(self) -> str:
        return layout.agent_file_name(self.agent_id)


#: Where each setting a command-line option can change lives: "field" of WatchSettings,
#: "reactor.field" of its ReactorSettings, "reactor.crash.field" of the crash policy's.
def default_of(path: str) -> object:
    """A setting's default, read from the dataclass that declares it (the help text shows it)."""
    *outer, name = path.split(".")
    if not outer:
        return next(f.default for f in fields(WatchSettings) if f.name == name)
    holder: object = DEFAULTS
    for part in outer[1:]:
        holder = getattr(holder, part)
    return getattr(holder, name)


def with_setting(settings: WatchSettings, path: str, value: object) -> WatchSettings:
    """`settings` with the setting at `path` (see default_of) changed to `value`."""
    *outer, name = path.split(".")
    if not outer:
        return replace(settings, **{name: value})
    chain: list[object] = [settings.reactor]
    for part in outer[1:]:
        chain.append(getattr(chain[-1], part))
    new = replace(chain.pop(), **{name: value})  # type: ignore[type-var]
    for part in reversed(outer[1:]):
        new = replace(chain.pop(), **{part: new})  # type: ignore[type-var]
    return replace(settings, reactor=new)  # type: ignore[arg-type]


def settings_for_agent(team: Team, agent: Agent, argv: list[str] | None = None,
                       runtime: Runtime | None = None, write_files: bool = True) -> WatchSettings:
    """Everything compose says about one agent, as watcher settings (`runtime`: already loaded).
    `write_files` False: the per-agent files under state/agent-scope/ are named, not written."""
    runtime = runtime or load_runtime(agent.runtime, team.team_dir,
                                      checks=DescriptorChecks(team.state_dir, read_only=not write_files))
    env = launch_env(runtime, agent.id, os.environ, agent.env)
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
        state_dir=team.state_dir, hooks=MappingProxyType(hooks),
        reactor=replace(DEFAULTS, margin=rl.margin_seconds, fallback_wait=rl.fallback_wait_seconds,
                        max_wait=rl.max_wait_seconds, crash=replace(DEFAULTS.crash, restart=Restart(agent.restart))),
        chain=tuple(chain), limit_group=agent.limit_group, model=agent.model, auto_resume=agent.auto_resume,
        max_resumes_per_day=agent.max_resumes_per_day, event_hooks=MappingProxyType(dict(agent.on_event)))


def adhoc_settings(agent_id: str, runtime_name: str | None, argv: list[str], root: Path) -> WatchSettings:
    """No compose tree: `--root DIR` is the team root, state lives in DIR/state."""
    if not argv:
        raise UsageProblem("no compose tree here: give the runtime command after `--`")
    name = runtime_name or guess_runtime(argv[0], root)
    if name is None:
        raise UsageProblem(f"cannot tell the runtime of {argv[0]!r}: pass --runtime NAME")
    state = layout.state_dir(root)
    runtime = load_runtime(name, root, checks=DescriptorChecks(state))
    env = launch_env(runtime, agent_id, os.environ)
    project = agent_id.split(":", 1)[0]
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

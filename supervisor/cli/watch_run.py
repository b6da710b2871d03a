"""What `teamctl rl-watch` does once its line is read (by click, or by watch_args.parse): resolve the
agent's settings, take its lock, run the watcher.

No click here: a watcher started by `up` never loads it. A mistake in the line is raised as
WatchUsage, which cli/watch.py turns into click's own error (and cli.main, on the quick path, hands
the whole line to click for that). The compose loader (with yaml) is imported only when there is a
compose tree to load.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import replace
from pathlib import Path

from ..agent.launch import find_binary
from ..agent.settings import WatchSettings, adhoc_settings, configure_logging, settings_for_agent, with_setting
from ..core.compose_model import Team, find_root
from ..core.descriptors.loader import load_runtime
from ..core.errors import UsageProblem
from ..core.policy import Restart
from ..core.resets.zones import resolve_zone
from ..store.descriptor_checks import DescriptorChecks
from ..team import launch_inputs
from .watch_args import OPTIONS

AGENT_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*:[A-Za-z0-9_][A-Za-z0-9_.-]*$")


class WatchUsage(Exception):
    """A mistake in rl-watch's line; `param` names the option or argument (click's param hint)."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


def run_watch(agent: str | None, argv: tuple[str, ...], agent_opt: str | None, runtime: str | None,
              root: str | None, tz: str | None, **options: object) -> int:
    """Resolve, lock and run one agent's watcher; its exit status."""
    fallback = options.get("fallback_wait")
    if isinstance(fallback, float) and fallback <= 0:
        raise WatchUsage("must be more than 0", "'--fallback-wait'")
    args = list(argv)
    agent_hint = "--agent" if agent_opt is not None else "AGENT"
    if agent is not None and agent_opt is not None:
        args.insert(0, agent)
        agent = agent_opt
    agent = agent or agent_opt
    if not agent:
        raise WatchUsage("name the agent: teamctl rl-watch PROJECT:AGENT -- COMMAND...")
    team = _team(root, agent)
    if team is not None and (":" not in agent or any(a.id == agent for a in team.agents)):
        member = team.agent(agent)
        settings = settings_for_agent(team, member, args)
        if runtime and runtime != member.runtime:
            settings = replace(settings, runtime=load_runtime(runtime, team.team_dir,
                                                                 checks=DescriptorChecks(team.state_dir)))
    else:
        if not AGENT_ID.match(agent):
            raise WatchUsage(f"{agent!r}: an agent id is PROJECT:AGENT, letters, digits, '_', '.', '-'",
                             repr(agent_hint))
        if team is not None:
            raise WatchUsage(f"{agent} is not an agent of the team in {team.team_dir}")
        try:
            settings = adhoc_settings(agent, runtime, args, Path(root or ".").resolve())
        except UsageProblem as exc:
            raise WatchUsage(str(exc)) from None
    if tz:
        settings = replace(settings, tz=resolve_zone(tz, None))
    settings = _with_options(settings, options)
    if find_binary(settings.argv[0], settings.env.get("PATH")) is None:
        sys.stderr.write(f"teamctl: {settings.agent_id}: runtime binary {settings.argv[0]!r} not found on PATH\n")
        return 127
    return _run_locked(settings, Path(root or ".").resolve() if team is None else team.team_dir)


def _team(root: str | None, agent: str) -> Team | None:
    """The compose tree at --root (or found from here), or None: ad hoc, without importing yaml.
    A watcher that `up` started gets its part of the tree as `up` loaded it (launch_inputs)."""
    key = launch_inputs.take_key(os.environ)  # never inherited by the runtime
    team_dir = find_root(root, os.environ, Path.cwd())
    if team_dir is None:
        return None
    part = launch_inputs.read(team_dir, agent, key) if ":" in agent else None
    if part is not None:
        return part
    from ..team.compose import load_compose

    return load_compose(root)


def _with_options(settings: WatchSettings, options: dict[str, object]) -> WatchSettings:
    """The settings the command line changes (watch_args.OPTIONS: the ones naming a setting)."""
    for option in OPTIONS:
        value = options.get(option.dest)
        if option.setting is not None and value is not None:
            settings = with_setting(settings, option.setting, Restart(value) if option.kind == "restart" else value)
    return settings


def _run_locked(settings: WatchSettings, team_dir: Path) -> int:
    from ..agent.lock import AgentLock, AgentLocked
    from ..store.safefs import check_state_dir

    check_state_dir(settings.state_dir, team_dir)
    try:
        lock = AgentLock(settings.state_dir, settings.agent_id).acquire()
    except AgentLocked as exc:
        sys.stderr.write(f"teamctl: {exc}\n")
        return 1
    try:  # the lock is held for the watcher's whole life: never two watchers of one agent
        configure_logging(settings)
        from ..agent.watch import AgentWatch

        return AgentWatch(settings).run()
    finally:
        lock.release()

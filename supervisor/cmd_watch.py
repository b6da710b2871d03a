"""`teamctl rl-watch`: supervise one agent, inside a compose tree or ad hoc with `--root`.

One watcher runs per agent, for days, so what it imports it holds fifty times over: its options are
parsed by leanargs from the table below (not by click), and the compose loader (with yaml) is
imported only when there is a compose tree to load.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .budget import Caps, load_prices
from .compose_model import Agent, Team, find_root
from .launch import build_argv, find_binary
from .leanargs import Command, Option, Parsed
from .loghandler import RotatingLogHandler
from .policy import Restart
from .resets import resolve_zone
from .signatures import Runtime, load_runtime, runtime_files
from .watch import AgentWatch, WatchSettings

AGENT_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*:[A-Za-z0-9_][A-Za-z0-9_.-]*$")

#: The rl-watch options: parsing, `--help` and the `teamctl --help` listing all come from here.
OPTIONS = (
    Option("--agent", "Agent id <project>:<agent> (when no positional AGENT)."),
    Option("--runtime", "Runtime descriptor name (default: from compose, or guessed from argv)."),
    Option("--root", "Team root (default: nearest .team/ above, else the current directory).", short="-C"),
    Option("--margin", "Seconds to wait past the reset time (default 60).", float),
    Option("--fallback-wait", "Seconds to wait when the reset is unknown (default 1800).", float),
    Option("--max-wait", "Longest wait for one reset, seconds (default 8 days).", float),
    Option("--restart", "Restart policy.", choices=tuple(r.value for r in Restart)),
    Option("--stop-timeout", "Seconds between SIGTERM and SIGKILL (default 10).", float),
    Option("--backoff-initial", "First crash backoff, seconds (default 1).", float),
    Option("--backoff-max", "Crash backoff cap, seconds (default 300).", float),
    Option("--give-up-exits", "Quick exits within the window that mean a crash loop (5).", int),
    Option("--give-up-window", "Crash-loop window, seconds (default 120).", float),
    Option("--quick-uptime", "An exit before this many seconds is quick (default 10).", float),
    Option("--stable-after", "Uptime that resets the backoff, seconds (default 600).", float),
    Option("--tz", "IANA zone the runtime states bare clock times in."),
    Option("--limit-group", "Agents sharing a limit group share a rate limit (default: runtime)."),
    Option("--model", "Model the agent runs (for model-scoped limits)."),
    Option("--log-max-bytes", "Output log size before rotation (default 10 MiB).", int),
)

COMMAND = Command(
    prog="teamctl rl-watch", arguments="[AGENT] [ARGV]...", options=OPTIONS,
    summary="Run one agent's runtime under a pty; record and wait out its rate limits; respawn it.",
    examples=("teamctl rl-watch hello:dev -- claude --model claude-sonnet-4-6",
              'teamctl rl-watch --runtime codex --agent solo:dev -- codex "fix the tests"'))


def known_runtimes(team_dir: Path | None) -> set[str]:
    return set(runtime_files(team_dir))


def load_compose(root: str | None, cwd: Path | None = None) -> Team | None:
    """The team at --root / TEAMCTL_ROOT / the nearest .team above cwd, or None when there is none."""
    team_dir = find_root(root, os.environ, cwd or Path.cwd())
    if team_dir is None:
        return None
    from .compose import load_team  # the YAML loader: only when there is a compose tree

    return load_team(team_dir, known_runtimes(team_dir), cache=True)


def settings_for_agent(team: Team, agent: Agent, argv: list[str] | None = None,
                       runtime: Runtime | None = None) -> WatchSettings:
    """Everything compose says about one agent, as watcher settings (`runtime`: already loaded)."""
    runtime = runtime or load_runtime(agent.runtime, team.team_dir)
    env = {**os.environ, **runtime.launch.env, **agent.env}
    if not argv:
        argv = build_argv(runtime, model=agent.model, role_prompt=agent.role_prompt,
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
        raise COMMAND.problem("no compose tree here: give the runtime command after `--`")
    name = runtime_name or guess_runtime(argv[0], root)
    if name is None:
        raise COMMAND.problem(f"cannot tell the runtime of {argv[0]!r}: pass --runtime NAME")
    runtime = load_runtime(name, root)
    env = {**os.environ, **runtime.launch.env}
    project = agent_id.split(":", 1)[0]
    state = root / "state"
    return WatchSettings(
        agent_id=agent_id, project_id=project, runtime=runtime, argv=tuple(argv), cwd=Path.cwd(),
        env=MappingProxyType(env), tz=resolve_zone(None, env), mailbox=state / "mailbox.db",
        state_dir=state, limit_group=runtime.name, prices=MappingProxyType(load_prices(root)))


def team_caps(team: Team) -> Caps:
    """The compose `budget` block as caps; days in `budget.tz`, else the host's zone."""
    b = team.budget
    per = b.per_project_usd_limit
    return Caps(daily_usd_limit=b.daily_usd_limit,
                per_project=MappingProxyType(dict(per)) if isinstance(per, dict) else per,
                warn_threshold_pct=b.warn_threshold_pct, tz=resolve_zone(b.tz, dict(os.environ)),
                on_cap=tuple(b.on_cap), on_warn=tuple(b.on_warn))


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
    logs = settings.state_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True, mode=0o700)
    handler = RotatingLogHandler(logs / f"{settings.log_name}.supervisor.log", 1024 * 1024, 3)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)


#: rl-watch options that override a WatchSettings field of the same name.
_OVERRIDES = ("margin", "fallback_wait", "max_wait", "stop_timeout", "backoff_max", "backoff_initial",
              "give_up_exits", "give_up_window", "quick_uptime", "stable_after", "limit_group", "model",
              "log_max_bytes")


def main(args: Sequence[str]) -> int:
    """`teamctl rl-watch ARGS`: the exit status; bad input raises UsageProblem (errors.run_guarded
    turns it into a message and status 2)."""
    parsed = COMMAND.parse(args)
    if parsed.help:
        import shutil

        sys.stdout.write(COMMAND.help_text(min(shutil.get_terminal_size().columns, 80)))
        return 0
    return rl_watch(parsed)


def rl_watch(parsed: Parsed) -> int:
    """Run one agent's runtime under a pty; record and wait out its rate limits; respawn it."""
    options: dict[str, Any] = parsed.values
    agent_opt, runtime, root, tz = (options.get(k) for k in ("agent", "runtime", "root", "tz"))
    agent = parsed.positionals[0] if parsed.positionals else None
    args = parsed.positionals[1:]
    agent_hint = "--agent" if agent_opt is not None else "AGENT"
    if agent is not None and agent_opt is not None:
        args.insert(0, agent)
        agent = agent_opt
    agent = agent or agent_opt
    if args and args[0] == "--":
        args = args[1:]
    if not agent:
        raise COMMAND.problem("name the agent: teamctl rl-watch PROJECT:AGENT -- COMMAND...")
    team = load_compose(root)
    if team is not None and (":" not in agent or any(a.id == agent for a in team.agents)):
        member = team.agent(agent)
        settings = settings_for_agent(team, member, args)
        if runtime and runtime != member.runtime:
            settings = replace(settings, runtime=load_runtime(runtime, team.team_dir))
    else:
        if not AGENT_ID.match(agent):
            raise COMMAND.problem(f"Invalid value for {agent_hint!r}: {agent!r}: an agent id is PROJECT:AGENT, "
                                  "letters, digits, '_', '.', '-'")
        if team is not None:
            raise COMMAND.problem(f"{agent} is not an agent of the team in {team.team_dir}")
        settings = adhoc_settings(agent, runtime, args, Path(root or ".").resolve())
    if tz:
        settings = replace(settings, tz=resolve_zone(tz, None))
    changes = {name: options[name] for name in _OVERRIDES if options.get(name) is not None}
    if options.get("restart"):
        changes["restart"] = Restart(options["restart"])
    if changes.get("fallback_wait") is not None and changes["fallback_wait"] <= 0:
        raise COMMAND.problem("Invalid value for '--fallback-wait': must be more than 0")
    settings = replace(settings, **changes)
    if find_binary(settings.argv[0], settings.env.get("PATH")) is None:
        sys.stderr.write(f"teamctl: {settings.agent_id}: runtime binary {settings.argv[0]!r} not found on PATH\n")
        return 127
    configure_logging(settings)
    return AgentWatch(settings).run()

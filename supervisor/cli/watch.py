"""`teamctl rl-watch`: supervise one agent, inside a compose tree or ad hoc with `--root`.

Parsed by click like every other command. The watcher runs for days, one per agent, so this module
imports only the agent layer at the top: the compose loader (with yaml) is imported only when there
is a compose tree to load.
"""

from __future__ import annotations

import math
import re
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from ..agent.launch import find_binary
from ..agent.settings import adhoc_settings, configure_logging, default_of, settings_for_agent, with_setting
from ..core.descriptors.loader import load_runtime
from ..core.errors import UsageProblem
from ..core.policy import Restart
from ..core.resets.clocktext import human_duration
from ..core.resets.parse import resolve_zone

AGENT_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*:[A-Za-z0-9_][A-Za-z0-9_.-]*$")


class FiniteFloat(click.ParamType):
    """click's float, less nan and inf: a wait of nan seconds is refused by name."""

    name = "float"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        number = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


SECONDS = FiniteFloat()

#: rl-watch options that change one setting: (option, where it lives, type, help). Each default is
#: read from the dataclass that declares it (agent/settings.default_of) into the help text.
_OVERRIDES: tuple[tuple[str, str, Any, str], ...] = (
    ("--margin", "reactor.margin", SECONDS, "Seconds to wait past the reset time"),
    ("--fallback-wait", "reactor.fallback_wait", SECONDS, "Seconds to wait when the reset is unknown"),
    ("--max-wait", "reactor.max_wait", SECONDS, "Longest wait for one reset"),
    ("--restart", "reactor.crash.restart", click.Choice([r.value for r in Restart]), "Restart policy"),
    ("--stop-timeout", "stop_timeout", SECONDS, "Seconds between SIGTERM and SIGKILL"),
    ("--backoff-initial", "reactor.crash.initial", SECONDS, "First crash backoff, seconds"),
    ("--backoff-max", "reactor.crash.cap", SECONDS, "Crash backoff cap, seconds"),
    ("--give-up-exits", "reactor.crash.give_up_exits", int, "Quick exits within the window that mean a crash loop"),
    ("--give-up-window", "reactor.crash.give_up_window", SECONDS, "Crash-loop window, seconds"),
    ("--quick-uptime", "reactor.crash.quick_uptime", SECONDS, "An exit before this many seconds is quick"),
    ("--stable-after", "reactor.crash.stable_after", SECONDS, "Uptime that resets the backoff, seconds"),
    ("--log-max-bytes", "log_max_bytes", int, "Output log size before rotation"),
)
#: Options that name a setting with no default of its own (None: from compose or the runtime).
_PLAIN = ("limit_group", "model")


def _shown(path: str) -> str:
    value = default_of(path)
    if path == "reactor.max_wait":
        return human_duration(float(value))  # type: ignore[arg-type]
    if path == "log_max_bytes":
        return f"{int(value) // (1024 * 1024)} MiB"  # type: ignore[call-overload]
    return value.value if isinstance(value, Restart) else f"{value:g}"  # type: ignore[str-format]


def _override_options(command: Any) -> Any:
    for flag, path, kind, text in reversed(_OVERRIDES):
        command = click.option(flag, _dest(flag), type=kind, help=f"{text} (default {_shown(path)}).")(command)
    return command


def _dest(flag: str) -> str:
    return flag.lstrip("-").replace("-", "_")


EPILOG = """\b
Examples:
  teamctl rl-watch hello:dev -- claude --model claude-sonnet-4-6
  teamctl rl-watch --runtime codex --agent solo:dev -- codex "fix the tests"
"""


@click.command("rl-watch", epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("agent", required=False)
@click.argument("argv", nargs=-1, type=click.UNPROCESSED)
@click.option("--agent", "agent_opt", help="Agent id <project>:<agent> (when no positional AGENT).")
@click.option("--runtime", help="Runtime descriptor name (default: from compose, or guessed from argv).")
@click.option("-C", "--root", help="Team root (default: nearest .team/ above, else the current directory).")
@_override_options
@click.option("--tz", help="IANA zone the runtime states bare clock times in.")
@click.option("--limit-group", help="Agents sharing a limit group share a rate limit (default: runtime).")
@click.option("--model", help="Model the agent runs (for model-scoped limits).")
def rl_watch(agent: str | None, argv: tuple[str, ...], agent_opt: str | None, runtime: str | None,
             root: str | None, tz: str | None, **options: Any) -> int:
    """Run one agent's runtime under a pty; record and wait out its rate limits; respawn it.

    Give the runtime's own command after `--`: everything after it is passed on verbatim.
    """
    if options.get("fallback_wait") is not None and options["fallback_wait"] <= 0:
        raise click.BadParameter("must be more than 0", param_hint="'--fallback-wait'")
    args = list(argv)
    agent_hint = "--agent" if agent_opt is not None else "AGENT"
    if agent is not None and agent_opt is not None:
        args.insert(0, agent)
        agent = agent_opt
    agent = agent or agent_opt
    if not agent:
        raise click.UsageError("name the agent: teamctl rl-watch PROJECT:AGENT -- COMMAND...")
    from ..team.compose import load_compose  # the YAML loader: only inside a compose tree

    team = load_compose(root)
    if team is not None and (":" not in agent or any(a.id == agent for a in team.agents)):
        member = team.agent(agent)
        settings = settings_for_agent(team, member, args)
        if runtime and runtime != member.runtime:
            settings = replace(settings, runtime=load_runtime(runtime, team.team_dir))
    else:
        if not AGENT_ID.match(agent):
            raise click.BadParameter(f"{agent!r}: an agent id is PROJECT:AGENT, letters, digits, '_', '.', '-'",
                                     param_hint=repr(agent_hint))
        if team is not None:
            raise click.UsageError(f"{agent} is not an agent of the team in {team.team_dir}")
        try:
            settings = adhoc_settings(agent, runtime, args, Path(root or ".").resolve())
        except UsageProblem as exc:
            raise click.UsageError(str(exc)) from None
    if tz:
        settings = replace(settings, tz=resolve_zone(tz, None))
    for flag, path, _kind, _text in _OVERRIDES:
        value = options.get(_dest(flag))
        if value is not None:
            settings = with_setting(settings, path, Restart(value) if path.endswith(".restart") else value)
    settings = replace(settings, **{name: options[name] for name in _PLAIN if options.get(name) is not None})
    if find_binary(settings.argv[0], settings.env.get("PATH")) is None:
        sys.stderr.write(f"teamctl: {settings.agent_id}: runtime binary {settings.argv[0]!r} not found on PATH\n")
        return 127
    from ..agent.lock import AgentLock, AgentLocked
    from ..store.safefs import check_state_dir

    check_state_dir(settings.state_dir, Path(root or ".").resolve() if team is None else team.team_dir)
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

"""Team commands: up, down, restart, wake, attach, rate-limits, validate (status and logs: views.py).

The work is in supervisor/team/; these functions parse, print and pick the exit status
(0 ok, 1 an agent failed, 2 bad configuration).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import click

from ..core.compose_model import Agent
from ..core.descriptors.loader import runtime_files
from ..store import layout
from ..team import hosts, report
from ..team import ops as ops
from ..team.backends import tmux as tmux_backend
from ..team.compose import ComposeError, Team, load_team
from ..team.session_check import session_warnings
from ..team.solo import solo_team
from .completion import complete_agents
from .up_report import run_up, settle_option

COMMANDS: list = []

root_option = click.option("--root", "-C", "root", metavar="DIR",
                           help="Team root (default: $TEAMCTL_ROOT, else the nearest .team/ above).")


def _command(fn: click.Command) -> click.Command:
    COMMANDS.append(fn)
    return fn


def not_in_a_team(exc: Exception) -> str:
    """Every command's words for "no team here", with the way to make one."""
    return f"{exc}; `teamctl init` writes a new team here"


def team_for_command(root: str | None, strict: bool = False, solo: bool = False) -> Team:
    """The team; no compose tree is a usage problem (exit 2). `strict`: runtimes checked too (for up).
    `solo` (read-only commands, wake): a root `rl-watch --root DIR` left, a mailbox and no compose tree."""
    from ..cli import UsageProblem

    try:
        return ops.load(root, strict)
    except ops.NoTeam as exc:
        found = solo_team(root) if solo else None
        if found is None:
            raise UsageProblem(not_in_a_team(exc)) from exc
        return found


def _print_problems(exc: ComposeError, err: bool = True) -> None:
    for p in exc.problems:
        click.echo(str(p), err=err)
    n, w = len(exc.errors), len(exc.warnings)
    click.echo(f"{n} error{'s' if n != 1 else ''}, {w} warning{'s' if w != 1 else ''}", err=err)


def _echo_outcomes(outcomes: list[ops.Outcome]) -> int:
    for o in outcomes:
        click.echo(o.message)
    return 0 if all(o.ok for o in outcomes) else 1


# --------------------------------------------------------------------------------------------------


@_command
@click.command("validate")
@root_option
def validate(root: str | None) -> int:
    """Check the compose tree and the runtimes it uses; print every problem with file and key."""
    from ..cli import UsageProblem

    try:
        team_dir = ops.team_dir(root)
    except ops.NoTeam as exc:
        raise UsageProblem(not_in_a_team(exc)) from exc
    try:
        team = load_team(team_dir, set(runtime_files(team_dir)))
    except ComposeError as exc:
        _print_problems(exc, err=False)
        return 2
    errors = ops.runtime_problems(team)
    warnings = [*team.warnings, *ops.launch_warnings(team), *session_warnings(team)] if not errors \
        else list(team.warnings)
    if errors:
        _print_problems(ComposeError([*errors, *warnings]), err=False)
        return 2
    for p in warnings:
        click.echo(str(p))
    n = len(team.agents)
    click.echo(f"ok: {team.compose_file}: {n} agent{'s' if n != 1 else ''} in {len(team.projects)} "
               f"project{'s' if len(team.projects) != 1 else ''}"
               + (f", {len(warnings)} warning{'s' if len(warnings) != 1 else ''}" if warnings else ""))
    return 0


def _load_for_start(root: str | None) -> Team | None:
    try:
        return team_for_command(root, strict=True)
    except ComposeError as exc:
        _print_problems(exc)
        click.echo("nothing started: fix the compose tree first (teamctl validate)", err=True)
        return None


@_command
@click.command("up")
@click.argument("agents", nargs=-1, shell_complete=complete_agents)
@click.option("--backend", type=click.Choice(["tmux", "process"]), envvar="TEAMCTL_BACKEND",
              help="Where watchers run (default: tmux when installed, else detached processes).")
@click.option("--strict", is_flag=True, help="Refuse to start when validate has warnings.")
@settle_option
@click.option("--fresh", is_flag=True, help="Start each agent in a new conversation, not its own earlier one.")
@root_option
def up(agents: tuple[str, ...], backend: str | None, strict: bool, settle: float, root: str | None,
       fresh: bool = False) -> int:
    """Start the team's agents (all, or the AGENTs named); running agents are left alone."""
    team = _load_for_start(root)
    if team is None:
        return 2
    warnings = [*team.warnings, *ops.launch_warnings(team), *session_warnings(team)]  # what validate prints
    for p in warnings:
        click.echo(str(p), err=True)
    if strict and warnings:
        n = len(warnings)
        click.echo(f"nothing started: --strict and {n} warning{'s' if n != 1 else ''} (teamctl validate)",
                   err=True)
        return 2
    selected = team.select(list(agents))
    try:
        chosen = ops.choose_backend(backend)
    except ops.NoTeam as exc:
        click.echo(f"teamctl: {exc}", err=True)
        return 2
    local, remote = hosts.by_host(team, selected)
    code = run_up(team, local, chosen, settle, fresh) if local or not remote else 0
    if remote:
        there = ["up", "--settle", str(settle), *(["--backend", backend] if backend else []),
                 *(["--fresh"] if fresh else [])]
        code = max(code, _echo_outcomes(hosts.on_hosts(team, remote, there, check=True)))
    return code


@_command
@click.command("down")
@click.argument("agents", nargs=-1, shell_complete=complete_agents)
@click.option("--timeout", type=float, default=15.0, show_default=True,
              help="Seconds to wait for a graceful stop before killing the whole tree.")
@root_option
def down(agents: tuple[str, ...], timeout: float, root: str | None) -> int:
    """Stop agents (all, or the AGENTs named) and every process they started."""
    try:
        team = team_for_command(root)
    except ComposeError as exc:
        if agents:
            raise  # naming agents needs the tree; stopping them all does not
        _print_problems(exc)
        tdir = ops.team_dir(root)
        click.echo(f"teamctl: the compose tree does not load; stopping every agent recorded in "
                   f"{layout.mailbox(layout.state_dir(tdir))}", err=True)
        for line in ops.down_recorded(tdir, timeout):
            click.echo(line)
        return 0
    local, remote = hosts.by_host(team, team.select(list(agents)))
    outcomes = ops.down(team, local, timeout) if local or not remote else []
    return _echo_outcomes(outcomes + hosts.on_hosts(team, remote, ["down", "--timeout", str(timeout)]))


@_command
@click.command("restart")
@click.argument("agents", nargs=-1, shell_complete=complete_agents)
@click.option("--timeout", type=float, default=15.0, show_default=True, help="Stop timeout, seconds.")
@click.option("--backend", type=click.Choice(["tmux", "process"]), envvar="TEAMCTL_BACKEND", help="As for `up`.")
@settle_option
@click.option("--fresh", is_flag=True, help="Start over in a new conversation (default: resume the agent's own).")
@root_option
def restart(agents: tuple[str, ...], timeout: float, backend: str | None, settle: float, root: str | None,
            fresh: bool = False) -> int:
    """Stop, then start, the AGENTs named (no name: every agent)."""
    team = _load_for_start(root)
    if team is None:
        return 2
    local, remote = hosts.by_host(team, team.select(list(agents)))
    code = 0
    if local or not remote:
        stopped = _echo_outcomes(ops.down(team, local, timeout))
        code = max(stopped, run_up(team, local, ops.choose_backend(backend), settle, fresh))
    if remote:  # the same restart on each host for its agents, over ssh
        there = ["restart", "--timeout", str(timeout), "--settle", str(settle),
                 *(["--backend", backend] if backend else []), *(["--fresh"] if fresh else [])]
        code = max(code, _echo_outcomes(hosts.on_hosts(team, remote, there)))
    return code


@_command
@click.command("wake")
@click.argument("agents", nargs=-1, shell_complete=complete_agents)
@root_option
def wake(agents: tuple[str, ...], root: str | None) -> int:
    """End a rate-limit wait, a crash backoff or a budget pause now (no name: every agent)."""
    team = team_for_command(root, solo=True)
    local, remote = hosts.by_host(team, team.select(list(agents)))
    outcomes = ops.wake(team, local) if local or not remote else []
    return _echo_outcomes(outcomes + hosts.on_hosts(team, remote, ["wake"]))


@_command
@click.command("attach")
@click.argument("agent", shell_complete=complete_agents)
@click.option("--rw", is_flag=True, help="Attach read-write (default: read-only).")
@root_option
def attach(agent: str, rw: bool, root: str | None) -> int:
    """Open the agent's tmux session (read-only unless --rw; detach with C-b d)."""
    team = team_for_command(root, solo=True)
    member = team.agent(agent)
    if not hosts.is_local(member):
        return _attach_remote(team, member, rw)
    name = ops.team_sessions(team).get(member.id)
    if name is None:
        row = None
        if team.mailbox_path.exists():
            with ops.store(team) as st:
                row = st.agent_state(member.id)
        if ops.watcher_process(member.id, row) is not None:
            click.echo(f"{member.id} runs as a detached process: attach needs tmux. "
                       f"Use `teamctl logs -f {member.id}`.", err=True)
        else:
            click.echo(f"{member.id}: not running in tmux (no session {ops.session_name(team, member)} "
                       f"of this team)", err=True)
        return 1
    argv = tmux_backend.attach_argv(name, read_only=not rw)
    sys.stdout.flush()
    os.execvp(argv[0], argv)
    return 0  # pragma: no cover


def _attach_remote(team: Team, member: Agent, rw: bool) -> int:
    """Another host's agent: its session there, through ssh with a terminal; a host ssh cannot reach
    is exit 2 before any terminal is taken."""
    host = next((h for h in team.hosts if h.name == member.host), None)
    if host is None:
        click.echo(f"teamctl: attach {member.id}: no host {member.host!r} under hosts:", err=True)
        return 2
    with hosts.Ssh(hosts.STATUS_CONNECT_TIMEOUT) as ssh:
        reply = ssh.run(host, ["true"], timeout=hosts.STATUS_CONNECT_TIMEOUT + 3)  # opens the master
        if not reply.ok:
            click.echo(f"teamctl: attach {member.id}: {hosts.unreachable_text(reply)}", err=True)
            return 2
        sys.stdout.flush()
        return subprocess.run(ssh.attach_argv(host, team, member, rw)).returncode


@_command
@click.command("rate-limits")
@click.option("--agent", "agent", help="Only this agent (id or unique name).")
@click.option("--since", default=None, metavar="WHEN",
              help="2h, 30m, 3d, an ISO time or a date (default 24h).")
@click.option("--json", "as_json", is_flag=True, help="A JSON list.")
@root_option
def rate_limits(agent: str | None, since: str | None, as_json: bool, root: str | None) -> int:
    """Recent rate-limit hits: when, reset time (local), how long the agent waited, handled or not."""
    team = team_for_command(root, solo=True)
    now = time.time()
    try:
        start = report.parse_since(since, now) if since else report.default_since(now)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from exc
    ids = [team.agent(agent).id] if agent else None
    hits = report.rate_limit_hits(team, ids, start)
    if as_json:
        click.echo(json.dumps([h.as_dict() for h in hits], indent=2))
    else:
        if not hits:
            click.echo("no rate-limit hits since " + time.strftime("%Y-%m-%d %H:%M", time.localtime(start)))
        else:
            for line in report.hits_table(hits, now):
                click.echo(line)
        windows = report.windows_table(team, ids, now)
        if windows:
            click.echo("")
            for line in windows:
                click.echo(line)
    return 0

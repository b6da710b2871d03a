"""`teamctl status` (`ps`) and `teamctl logs`: what the team is doing, for all agents or those named.

Both still work when the compose tree does not load while the team runs (a typo mid-edit): they
show the agents the mailbox records, after one warning line, as `down` does. Colour only on a
terminal, and never with $NO_COLOR set (no-color.org).
"""

from __future__ import annotations

import json
import os
import queue
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Collection, Sequence
from pathlib import Path

import click

from ..core.controls import printable
from ..store import layout
from ..team import hosts, mailbox_trouble, report
from ..team import ops as ops
from ..team.compose import Agent, ComposeError, Team
from ..team.solo import MAILBOX, mailbox_team
from .completion import complete_agents
from .team import root_option, team_for_command

#: Colour of a state in `status` (ANSI SGR): green runs, yellow waits, red needs you, dim is idle.
_STATE_COLOURS = {"running": "32", "starting": "36", "rate_limited": "33", "backing_off": "33",
                  "paused_budget": "33", "stopping": "36", "failed": "31;1", "stale": "31", "lost": "31",
                  "stopped": "2", "not-started": "2"}
#: Colours of agent name prefixes in `logs` of several agents, in turn.
_NAME_COLOURS = ("36", "33", "32", "35", "34", "91", "96", "93", "92", "95")


def colour_on(stream: object = None) -> bool:
    """Colour for a terminal only, and not when NO_COLOR is set to anything non-empty."""
    stream = stream if stream is not None else sys.stdout
    return bool(getattr(stream, "isatty", lambda: False)()) and not os.environ.get("NO_COLOR")


def paint(text: str, sgr: str | None, on: bool) -> str:
    return f"\x1b[{sgr}m{text}\x1b[0m" if on and sgr else text


def load_view(root: str | None) -> Team:
    """The team for a read-only view; when its tree does not load, the agents its mailbox records."""
    try:
        return team_for_command(root, solo=True)
    except ComposeError as exc:
        tdir = ops.team_dir(root)
        if not (tdir / MAILBOX).is_file():
            raise
        n = len(exc.errors)
        click.echo(f"teamctl: {tdir / 'team-compose.yaml'} does not load ({n} error{'s' if n != 1 else ''}: "
                   f"teamctl validate); showing the agents recorded in {tdir / MAILBOX}", err=True)
        return mailbox_team(tdir)


# --------------------------------------------------------------------------------------------------
# status


def status_lines(team: Team, agents: Sequence[Agent], on: bool, unreachable: Collection[str] = ()) -> list[str]:
    rep = report.status(team, agents, unreachable=unreachable)
    lines = report.status_table(rep)
    if not on:
        return lines
    out = lines[:1]
    for s, line in zip(rep.agents, lines[1:], strict=False):
        at = line.find(s.text, len(s.id) + len(s.runtime))
        out.append(line if at < 0 else line[:at] + paint(s.text, _STATE_COLOURS.get(s.state), on)
                   + line[at + len(s.text):])
    return out + lines[1 + len(rep.agents):]


def _status_once(team: Team, agents: Sequence[Agent], as_json: bool) -> int:
    """1 when a host of these agents could not be reached (their state is then unknown), else 0."""
    unreachable = hosts.unreachable_hosts(team, agents)
    if as_json:
        rep = report.status(team, agents, unreachable=unreachable)
        click.echo(json.dumps([s.as_dict() for s in rep.agents], indent=2))
        for notice in rep.notices:
            click.echo(notice, err=True)
    else:
        for line in status_lines(team, agents, colour_on(), unreachable):
            click.echo(line)
    for name in sorted(unreachable):
        click.echo(f"teamctl: status: host {name} unreachable over ssh: its agents' state is unknown", err=True)
    return 1 if unreachable else 0


@click.command("status")
@click.argument("agents", nargs=-1, shell_complete=complete_agents)
@click.option("--json", "as_json", is_flag=True, help="A JSON list, one object per agent.")
@click.option("--watch", is_flag=True, help="Redraw every 2 seconds until Ctrl-C.")
@root_option
def status(agents: tuple[str, ...], as_json: bool, watch: bool, root: str | None) -> int:
    """Every agent (or the AGENTs and projects named): state, pid, uptime, restarts, CPU, memory,
    cost today, usage."""
    team = load_view(root)
    selected = team.select(list(agents))
    if not watch:
        try:
            return _status_once(team, selected, as_json)
        except (sqlite3.Error, OSError) as exc:  # locked by another program, -wal deleted, ...
            click.echo(f"teamctl: status: {mailbox_trouble.describe(team.mailbox_path, exc)}", err=True)
            return 1
    try:
        while True:
            if not as_json:
                click.echo("\x1b[H\x1b[2J", nl=False)
                click.echo(time.strftime("%H:%M:%S") + f"  {team.compose_file}\n")
            _status_once(team, selected, as_json)
            time.sleep(2.0)
    except KeyboardInterrupt:
        return 0


ps = click.Command("ps", callback=status.callback, params=status.params, help="Alias of `status`.")


# --------------------------------------------------------------------------------------------------
# logs


def _log_path(team: Team, agent: Agent, own: bool) -> Path:
    path = ops.output_log(team, agent)
    return layout.supervisor_log(team.state_dir, ops.log_name(agent)) if own else path


def _follow_all(paths: dict[str, Path], starts: dict[str, int], out: queue.Queue[tuple[str, str]]) -> None:
    """One thread per log, each putting (agent id, line) on `out`: lines interleave as written."""
    def pump(agent_id: str, path: Path) -> None:
        for line in report.follow(path, start=starts.get(agent_id)):
            out.put((agent_id, line))

    for agent_id, path in paths.items():
        threading.Thread(target=pump, args=(agent_id, path), daemon=True, name=f"logs {agent_id}").start()


def _remote_logs(there: dict[str, tuple[hosts.HostSpec, subprocess.Popen[str]]],
                 show: Callable[[str, str], None]) -> int:
    """Each remote agent's lines, as its host's `teamctl logs` printed them (controls removed)."""
    code = 0
    for agent_id, (host, proc) in there.items():
        out, err = proc.communicate(timeout=hosts.COMMAND_TIMEOUT)
        for line in out.splitlines():
            show(agent_id, printable(line))
        if proc.returncode:
            why = (f"unknown ({hosts.unreachable_text(hosts.Reply(host, False, 255, '', err.strip()))})"
                   if proc.returncode == 255 else printable(err.strip().splitlines()[-1] if err.strip() else ""))
            click.echo(f"{agent_id}: {why} [host {host.name}]", err=True)
            code = 1
    return code


def _follow_remote(there: dict[str, tuple[hosts.HostSpec, subprocess.Popen[str]]],
                   out: queue.Queue[tuple[str, str]]) -> None:
    def pump(agent_id: str, proc: subprocess.Popen[str]) -> None:
        for line in proc.stdout or ():
            out.put((agent_id, printable(line.rstrip("\n"))))

    for agent_id, (_, proc) in there.items():
        threading.Thread(target=pump, args=(agent_id, proc), daemon=True, name=f"logs {agent_id}").start()


@click.command("logs")
@click.argument("targets", nargs=-1, metavar="[AGENT|PROJECT]...", shell_complete=complete_agents)
@click.option("-f", "--follow", is_flag=True, help="Keep printing new output (Ctrl-C ends).")
@click.option("-n", "--lines", "lines", type=int, default=50, show_default=True,
              help="Lines to show (of each agent).")
@click.option("--raw", is_flag=True, help="Keep terminal escapes.")
@click.option("--supervisor", "own", is_flag=True,
              help="The watcher's own log instead: hits, waits, hooks, state changes.")
@root_option
def logs(targets: tuple[str, ...], follow: bool, lines: int, raw: bool, own: bool, root: str | None) -> int:
    """Runtime output from state/logs/ (rotations included), escapes removed. One agent as it is;
    several (no name: every agent; a project: its agents) each line after its agent's name."""
    team = load_view(root)
    members = team.select(list(targets))
    single = len(targets) == 1 and len(members) == 1 and targets[0] in (members[0].id, members[0].name)
    on = colour_on() and not raw
    width = max((len(m.id) for m in members), default=0)
    prefixes = {m.id: "" if single else paint(m.id.ljust(width), _NAME_COLOURS[i % len(_NAME_COLOURS)], on)
                + ("" if single else " | ") for i, m in enumerate(members)}

    def show(agent_id: str, line: str) -> None:
        text = line if raw else report.clean_line(line)
        sys.stdout.write(prefixes[agent_id] + text + "\n")
        sys.stdout.flush()

    local, remote = hosts.by_host(team, members)
    paths = {m.id: _log_path(team, m, own) for m in local}
    if single and local and not paths[members[0].id].exists() and not follow:
        click.echo(f"{members[0].id}: no output yet ({paths[members[0].id]})", err=True)
        return 0
    starts: dict[str, int] = {}
    for m in local:
        shown, starts[m.id] = report.tail(paths[m.id], lines, partial=not follow)
        for line in shown:
            show(m.id, line)
    lines_in: queue.Queue[tuple[str, str]] = queue.Queue()
    if not remote and not follow:
        return 0
    with hosts.Ssh() as ssh:
        there = {a.id: (host, ssh.stream(host, team, "logs", a.id, "--lines", str(lines),
                                         *(["--follow"] if follow else []), *(["--supervisor"] if own else [])))
                 for host, agents in remote.items() for a in agents}
        try:
            code = 0 if follow else _remote_logs(there, show)
            if not follow:
                return code
            _follow_all(paths, starts, lines_in)
            _follow_remote(there, lines_in)
            while True:
                show(*lines_in.get())
        except KeyboardInterrupt:
            return 0
        finally:
            for _, proc in there.values():
                if proc.poll() is None:
                    proc.terminate()
                proc.wait()

"""`teamctl startup` / `teamctl unstartup`: bring the team back at boot, or stop doing so.

The work is in team/startup.py; here the method is chosen, files written, and the steps that need
the user's say (lingering, a missing cron) printed.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import click

from ..store.safefs import write_private
from ..team import startup as boot
from .team import root_option, team_for_command

_METHOD = click.option("--method", type=click.Choice(["auto", "systemd", "cron"]), default="auto", show_default=True,
                       help="auto: a systemd user unit where systemd runs, else a crontab @reboot line.")


def _systemctl(*args: str) -> bool:
    try:
        return subprocess.run(["systemctl", "--user", *args], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _lingering(user: str) -> bool:
    return Path("/var/lib/systemd/linger", user).exists()


def _method(chosen: str) -> str:
    if chosen != "auto":
        return chosen
    return "systemd" if boot.systemd_runs() else "cron"


@click.command("startup")
@_METHOD
@click.option("--print", "show", is_flag=True, help="Print the unit or crontab line; write nothing.")
@root_option
def startup(method: str, show: bool, root: str | None) -> int:
    """Start this team at boot (`teamctl up`): a systemd user unit, else a crontab @reboot line."""
    team = team_for_command(root)
    p = boot.plan(team.team_dir)
    how = _method(method)
    if how == "systemd":
        text, path = boot.unit_text(p), boot.unit_path(p)
        if show:
            click.echo(text, nl=False)
            return 0
        path.parent.mkdir(parents=True, exist_ok=True)
        write_private(path, text)
        click.echo(f"wrote {path}")
        unit = path.name
        if _systemctl("daemon-reload") and _systemctl("enable", unit):
            click.echo(f"enabled {unit}: it runs `teamctl up` when your user's systemd starts")
        else:
            click.echo(f"systemctl --user is not reachable here; run:\n"
                       f"  systemctl --user daemon-reload && systemctl --user enable {unit}")
        user = os.environ.get("USER") or os.environ.get("LOGNAME") or "$USER"
        if not _lingering(user):
            click.echo(f"to start it at boot, before you log in, let your user's systemd run without a login "
                       f"(once, needs your password or root):\n  loginctl enable-linger {user}")
        return 0
    line = boot.cron_line(p)
    if show:
        click.echo(line)
        return 0
    try:
        boot.install_cron(p)
    except boot.StartupError as exc:
        click.echo(f"teamctl startup: {exc}; add this line to what runs at boot (crontab -e, with cron "
                   f"installed: apt-get install cron):\n{line}", err=True)
        return 1
    click.echo(f"added to your crontab:\n{line}")
    return 0


@click.command("unstartup")
@root_option
def unstartup(root: str | None) -> int:
    """Stop starting this team at boot: remove its systemd user unit and its crontab line."""
    team = team_for_command(root)
    p = boot.plan(team.team_dir)
    removed = []
    path = boot.unit_path(p)
    if path.exists():
        _systemctl("disable", path.name)
        path.unlink()
        _systemctl("daemon-reload")
        removed.append(f"removed {path}")
    try:
        if boot.remove_cron(p):
            removed.append("removed its @reboot line from your crontab")
    except boot.StartupError:
        pass  # no crontab command: there is no line of ours to remove
    for line in removed or ["nothing to remove: this team does not start at boot"]:
        click.echo(line)
    return 0

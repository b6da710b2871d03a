"""`teamctl startup` / `unstartup`: what brings a team back after a reboot.

Where systemd runs, a systemd user unit that runs `teamctl up` at boot (and `down` when stopped);
it starts before anyone logs in only with lingering on (`loginctl enable-linger`), which needs the
user's say, so that step is printed, not run. Elsewhere, a crontab `@reboot` line. Both name the
team by its root, so two teams of one user each get their own.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from ..core.lazy_dataclass import lazy_dataclass

#: Environment the boot-time `up` needs from the shell that ran `startup` (a runtime on PATH, the
#: tmux server the team uses); nothing else, so no secret of the shell lands in a unit or crontab.
CARRIED_ENV = ("PATH", "TEAMCTL_TMUX_SOCKET", "TEAMCTL_BACKEND", "LANG", "TZ")
CRON_MARK = "# teamctl startup "


class StartupError(RuntimeError):
    """The boot entry could not be written or removed; the message says what to do by hand."""


@lazy_dataclass(frozen=True)
class Plan:
    team_dir: Path
    python: str
    env: tuple[tuple[str, str], ...]

    @property
    def name(self) -> str:
        """`teamctl-<folder>-<hash>`: readable, and unique per team root."""
        root = os.path.realpath(self.team_dir)
        folder = Path(root).parent.name if Path(root).name == ".team" else Path(root).name
        safe = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in folder)[:40] or "team"
        return f"teamctl-{safe}-{hashlib.sha256(root.encode()).hexdigest()[:8]}"

    def argv(self, command: str) -> list[str]:
        return [self.python, "-m", "teamctl_supervisor", command, "-C", str(self.team_dir)]


def plan(team_dir: Path, env: Mapping[str, str] | None = None, python: str | None = None) -> Plan:
    env = os.environ if env is None else env
    return Plan(team_dir.resolve(), python or sys.executable,
                tuple((k, env[k]) for k in CARRIED_ENV if env.get(k)))


def systemd_runs() -> bool:
    """A running systemd (not merely its tools installed): sd_booted()'s test."""
    return Path("/run/systemd/system").is_dir() and shutil.which("systemctl") is not None


# --------------------------------------------------------------------------------------------------
# systemd


def _unit_word(word: str) -> str:
    """One argv word for ExecStart=: systemd's own quoting; `%` and `$` are not expanded."""
    escaped = word.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%").replace("$", "$$")
    return f'"{escaped}"'


def _plain(value: str) -> str:
    """A value systemd takes whole (no quotes, no $ expansion): only its % specifiers escaped."""
    return value.replace("%", "%%")


def unit_text(p: Plan) -> str:
    env_lines = "".join(f"Environment={_unit_word(f'{k}={v}')}\n" for k, v in p.env)
    return (
        "# Written by `teamctl startup`; `teamctl unstartup` removes it.\n"
        "[Unit]\n"
        f"Description=teamctl team {_plain(str(p.team_dir))}\n"
        "\n[Service]\n"
        "Type=oneshot\n"
        "RemainAfterExit=yes\n"
        f"WorkingDirectory={_plain(str(p.team_dir))}\n"
        f"{env_lines}"
        f"ExecStart={' '.join(_unit_word(w) for w in p.argv('up'))}\n"
        f"ExecStop={' '.join(_unit_word(w) for w in p.argv('down'))}\n"
        "TimeoutStartSec=300\n"
        "\n[Install]\n"
        "WantedBy=default.target\n"
    )


def unit_path(p: Plan, home: Path | None = None) -> Path:
    base = Path(os.environ.get("XDG_CONFIG_HOME") or (home or Path.home()) / ".config")
    return base / "systemd" / "user" / f"{p.name}.service"


# --------------------------------------------------------------------------------------------------
# cron


def cron_line(p: Plan) -> str:
    """`@reboot` line for /bin/sh: every value quoted; its output in the team's state/logs/."""
    env = " ".join(shlex.quote(f"{k}={v}") for k, v in p.env)
    up = " ".join(shlex.quote(w) for w in p.argv("up"))
    # state/logs/ may not exist before the first `up`: made private (umask 077), as teamctl makes it
    line = (f"@reboot cd {shlex.quote(str(p.team_dir))} && umask 077 && mkdir -p state/logs && "
            f"env {env} {up} >> state/logs/startup.log 2>&1 {CRON_MARK}{p.team_dir}")
    return line.replace("%", "\\%")  # cron makes a bare % a line break


def _mark(p: Plan) -> str:
    return f"{CRON_MARK}{p.team_dir}".replace("%", "\\%")


def _crontab(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("crontab")
    if binary is None:
        raise StartupError("no crontab command")
    return subprocess.run([binary, *args], input=stdin, capture_output=True, text=True, timeout=30)


def _current_crontab() -> list[str]:
    done = _crontab("-l")
    if done.returncode != 0:  # "no crontab for user" is an empty table
        return []
    return done.stdout.splitlines()


def install_cron(p: Plan) -> str:
    """Add (or replace) this team's @reboot line; the line."""
    line = cron_line(p)
    kept = [x for x in _current_crontab() if not x.endswith(_mark(p))]
    done = _crontab("-", stdin="\n".join([*kept, line]) + "\n")
    if done.returncode != 0:
        raise StartupError(f"crontab refused the new table: {done.stderr.strip()}")
    return line


def remove_cron(p: Plan) -> bool:
    """Remove this team's @reboot line; False when there was none."""
    lines = _current_crontab()
    kept = [x for x in lines if not x.endswith(_mark(p))]
    if len(kept) == len(lines):
        return False
    done = _crontab("-", stdin="\n".join(kept) + "\n" if kept else "")
    if done.returncode != 0:
        raise StartupError(f"crontab refused the new table: {done.stderr.strip()}")
    return True

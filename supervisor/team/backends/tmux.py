"""The tmux backend: every tmux call goes through `tmux()`, on the server named by $TEAMCTL_TMUX_SOCKET.

Commands are passed to `new-session` as separate arguments, which tmux (>= 3.0) execs directly with
execvp, without a shell: values with spaces and quotes reach the watcher unchanged.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from ...core.lazy_dataclass import lazy_dataclass

SOCKET_ENV = "TEAMCTL_TMUX_SOCKET"
WIDTH, HEIGHT = 250, 50
#: Upstream teamctl's session user options (its `teamctl sessions`, TUI and bot find agents by
#: them): "1", the project id, the agent name and the team root (the dir holding team-compose.yaml).
TAG, TAG_PROJECT, TAG_AGENT, TAG_ROOT = "@teamctl", "@teamctl-project", "@teamctl-agent", "@teamctl-root"
_SEP = "\x1f"  # between fields of one list-sessions line: in no path or name we write


class TmuxError(RuntimeError):
    """A tmux command failed; the message carries tmux's own words."""


def binary() -> str | None:
    return shutil.which("tmux")


def available() -> bool:
    return binary() is not None


def socket_args(env: Mapping[str, str] | None = None) -> list[str]:
    """`-L name` (or `-S path` for a value with a slash) from $TEAMCTL_TMUX_SOCKET; [] = default server."""
    sock = (env if env is not None else os.environ).get(SOCKET_ENV, "")
    if not sock:
        return []
    return ["-S", sock] if "/" in sock else ["-L", sock]


def command(*args: str) -> list[str]:
    """The full argv of one tmux call."""
    return [binary() or "tmux", *socket_args(), *args]


def tmux(*args: str, check: bool = True, timeout: float = 10.0) -> subprocess.CompletedProcess[str]:
    """Run one tmux command; the only place that starts tmux."""
    try:
        result = subprocess.run(command(*args), stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                timeout=timeout)
    except FileNotFoundError as exc:
        raise TmuxError("tmux is not installed") from exc
    except subprocess.TimeoutExpired as exc:
        raise TmuxError(f"tmux {args[0] if args else ''} timed out") from exc
    if check and result.returncode != 0:
        raise TmuxError(result.stderr.strip() or f"tmux {' '.join(args)} exited {result.returncode}")
    return result


def session_name(prefix: str, project: str, agent: str) -> str:
    """`<prefix><project>-<agent>` with the characters tmux would rewrite ('.' and ':') made '_'."""
    return sanitize(f"{prefix}{project}-{agent}")


def sanitize(name: str) -> str:
    return name.replace(".", "_").replace(":", "_")


def _exact(name: str) -> str:
    return f"={name}"


def sessions() -> set[str] | None:
    """Names of the sessions on our server; None when the server is not running (or no tmux)."""
    if not available():
        return None
    result = tmux("list-sessions", "-F", "#{session_name}", check=False)
    if result.returncode != 0:
        return None
    return {line for line in result.stdout.splitlines() if line}


@lazy_dataclass(frozen=True)
class Session:
    """One session on our server and its teamctl tags ("" when untagged: another program's
    session, or one started by a build before the tags)."""

    name: str
    tagged: bool
    project: str = ""
    agent: str = ""
    root: str = ""


def listing() -> dict[str, Session] | None:
    """Every session with its tags, in one tmux call; None when the server is not running."""
    if not available():
        return None
    fmt = _SEP.join(f"#{{{k}}}" for k in (TAG, TAG_PROJECT, TAG_AGENT, TAG_ROOT)) + _SEP + "#{session_name}"
    result = tmux("list-sessions", "-F", fmt, check=False)
    if result.returncode != 0:
        return None
    found: dict[str, Session] = {}
    for line in result.stdout.splitlines():
        parts = line.split(_SEP, 4)
        if len(parts) != 5 or not parts[4]:
            continue
        tag, project, agent, root, name = parts
        found[name] = Session(name, tag == "1", project, agent, root)
    return found


def tag_session(name: str, project: str, agent: str, root: str) -> None:
    """Set upstream's tags on a session we started (best effort: a failure leaves it untagged, and
    teamctl still knows it by its watcher's --root)."""
    target = f"={name}:"
    tags = ((TAG, "1"), (TAG_PROJECT, project), (TAG_AGENT, agent), (TAG_ROOT, root))
    if any(v.endswith(";") for _, v in tags):  # tmux would split its argv there: one call per tag
        for key, value in tags:
            tmux("set-option", "-q", "-t", target, key, value, check=False)
        return
    args: list[str] = []
    for key, value in tags:
        args += [*([";"] if args else []), "set-option", "-q", "-t", target, key, value]
    tmux(*args, check=False)


def server_running() -> bool:
    return sessions() is not None


def has_session(name: str) -> bool:
    if not available():
        return False
    return tmux("has-session", "-t", _exact(name), check=False).returncode == 0


def pane_pid(name: str) -> int | None:
    """Pid of the process in the session's first pane (our watcher: tmux execs it directly)."""
    if not available():
        return None
    result = tmux("list-panes", "-t", _exact(name), "-F", "#{pane_pid}", check=False)
    if result.returncode != 0:
        return None
    for line in result.stdout.split():
        if line.isdigit():
            return int(line)
    return None


def new_session(name: str, cwd: Path, argv: Sequence[str], env: Mapping[str, str]) -> int | None:
    """Start a detached session running `argv` (no shell); returns its pane pid."""
    args = ["new-session", "-d", "-s", name, "-x", str(WIDTH), "-y", str(HEIGHT), "-c", str(cwd)]
    for key, value in env.items():
        args += ["-e", f"{key}={value}"]
    # A single-element command would go through the shell; "--" and >= 2 elements keep it an execvp.
    out = tmux(*args, "-P", "-F", "#{pane_pid}", "--", *argv).stdout.strip()
    return int(out) if out.isdigit() else pane_pid(name)


def kill_session(name: str) -> bool:
    if not available():
        return False
    return tmux("kill-session", "-t", _exact(name), check=False).returncode == 0


def attach_argv(name: str, read_only: bool = True) -> list[str]:
    return command("attach-session", *(["-r"] if read_only else []), "-t", _exact(name))

"""Agents on other hosts, reached over ssh the way Ansible and pm2 reach theirs.

Compose names each host once (`hosts: {b: {ssh: user@host-b, root: /srv/team/.team}}`) and an agent
says where it runs (`host: b`). A command that concerns agents of another host runs `teamctl` there
with those agents named, over one ssh connection per host (ControlMaster: the first call opens it,
the others reuse it), all hosts in parallel. The remote side is told which host it is
(TEAMCTL_HOST) and then starts them as local agents. A host that cannot be reached never fails the
command for the others: its agents get an outcome saying so.

Nothing from a runtime's output goes into an ssh command line: only compose's names and paths,
each quoted for the remote shell.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ..core.compose_model import Agent, HostSpec, Team
from ..core.lazy_dataclass import lazy_dataclass
from .compose_checker import Checker, join
from .outcome import Outcome

#: The environment variable that tells a `teamctl` run over ssh which host it is.
HOST_ENV = "TEAMCTL_HOST"
#: The ssh command (like GIT_SSH_COMMAND), e.g. `ssh -F ~/.ssh/teamctl_config`; default `ssh`.
SSH_ENV = "TEAMCTL_SSH"
#: Seconds to wait for a host's ssh connection before its agents are "host unreachable".
CONNECT_TIMEOUT = 5
#: `status` waits this long per host (all at once) before its agents show "host unreachable".
STATUS_CONNECT_TIMEOUT = 2
#: How long a remote command may take (an `up` waits for its watchers' first rows).
COMMAND_TIMEOUT = 120.0
_HOST_KEYS = ("ssh", "port", "root", "teamctl")
_DEST_RE = re.compile(r"[A-Za-z0-9_.@:\[\]-]+")


def parse_hosts(c: Checker, data: dict[str, Any]) -> tuple[HostSpec, ...]:
    """The compose `hosts:` map, checked (each problem names its key)."""
    raw = c.mapping(data, "hosts", "")
    found = []
    for name, spec in raw.items():
        path = join("hosts", str(name))
        if not isinstance(spec, dict):
            spec = {"ssh": spec} if isinstance(spec, str) else {}
            if not spec:
                c.error(path, "must be an ssh destination or a mapping with 'ssh'")
                continue
        c.keys(spec, _HOST_KEYS, path)
        if not c.name_ok(str(name), path, "host name"):
            continue
        dest = c.string(spec, "ssh", path, required=True) or ""
        if dest and (dest.startswith("-") or not _DEST_RE.fullmatch(dest)):
            c.error(join(path, "ssh"), f"{dest!r} is not an ssh destination ([user@]host)")
        port = c.number(spec, "port", path, None, positive=True, maximum=65535)
        found.append(HostSpec(name=str(name), ssh=dest, port=int(port) if port else None,
                              root=c.string(spec, "root", path), teamctl=c.string(spec, "teamctl", path)
                              or "teamctl"))
    return tuple(found)


def check_agent_hosts(c: Checker, agents: Iterable[tuple[Agent, str, Path]], hosts: Sequence[HostSpec]) -> None:
    """`agents` are (agent, the key that names its host, its file)."""
    names = {h.name for h in hosts}
    for agent, key, file in agents:
        if agent.host is not None and agent.host not in names:
            c.error(key, f"no host {agent.host!r} under hosts: (known: "
                         f"{', '.join(sorted(names)) or 'none'})", file)


def here() -> str | None:
    """The host this command runs on, when another host's `teamctl` started it over ssh."""
    return os.environ.get(HOST_ENV) or None


def is_local(agent: Agent) -> bool:
    return agent.host is None or agent.host == here()


def by_host(team: Team, agents: Sequence[Agent]) -> tuple[list[Agent], dict[HostSpec, list[Agent]]]:
    """The agents of this host, and the others' grouped by host."""
    specs = {h.name: h for h in team.hosts}
    local: list[Agent] = []
    remote: dict[HostSpec, list[Agent]] = {}
    for agent in agents:
        if is_local(agent):
            local.append(agent)
        else:
            remote.setdefault(specs[agent.host or ""], []).append(agent)
    return local, remote


@lazy_dataclass(frozen=True)
class Reply:
    host: HostSpec
    ok: bool  # ssh reached the host and the command ran (its own exit status is `status`)
    status: int
    out: str
    err: str


class Ssh:
    """One master connection per host for this command, closed by `close`."""

    def __init__(self, connect_timeout: int = CONNECT_TIMEOUT) -> None:
        import tempfile  # (the commands only: a watcher loads compose, never ssh)

        self.connect_timeout = connect_timeout
        # 0700: the control sockets. A socket's path has room for about 107 bytes, %C takes 40: a
        # long TMPDIR would leave ssh refusing every host ("ControlPath too long"), so /tmp then
        base = tempfile.gettempdir()
        self.dir = Path(tempfile.mkdtemp(prefix="teamctl-ssh-", dir=base if len(base) <= 40 else "/tmp"))

    def argv(self, host: HostSpec, remote: Sequence[str]) -> list[str]:
        opts = ["-o", "ControlMaster=auto", "-o", f"ControlPath={self.dir}/%C", "-o", "ControlPersist=60",
                "-o", "BatchMode=yes", "-o", f"ConnectTimeout={self.connect_timeout}", "-o", "ServerAliveInterval=5"]
        if host.port:
            opts += ["-p", str(host.port)]
        return [*_ssh(), *opts, host.ssh, "--", " ".join(shlex.quote(a) for a in remote)]

    def attach_argv(self, host: HostSpec, team: Team, agent: Agent, rw: bool = False) -> list[str]:
        """`ssh -t HOST teamctl attach AGENT` (over this master): the host's own `attach` finds the
        session on the tmux server its `up` used and runs `tmux attach-session -r` (no -r with --rw)."""
        argv = self.argv(host, teamctl_argv(host, team, ["attach", agent.id, *(["--rw"] if rw else [])]))
        at = argv.index(host.ssh)
        return [*argv[:at], "-t", *argv[at:]]

    def run(self, host: HostSpec, remote: Sequence[str], timeout: float = COMMAND_TIMEOUT) -> Reply:
        try:
            done = subprocess.run(self.argv(host, remote), capture_output=True, text=True, timeout=timeout,
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return Reply(host, False, 255, "", f"no answer within {timeout:g} s")
        except OSError as exc:
            return Reply(host, False, 255, "", str(exc))
        # 255 is ssh's own failure (refused, timed out, denied); anything else is the command's
        return Reply(host, done.returncode != 255, done.returncode, done.stdout, done.stderr.strip())

    def teamctl(self, host: HostSpec, team: Team, *args: str) -> Reply:
        """`teamctl ARGS --root ROOT` on the host, told which host it is."""
        return self.run(host, teamctl_argv(host, team, args))

    def stream(self, host: HostSpec, team: Team, *args: str) -> subprocess.Popen[str]:
        """`teamctl ARGS` on the host with its output as it comes (`logs -f`); the caller ends it.
        What it prints is another host's, runtime-made text: print it through `printable` only."""
        return subprocess.Popen(self.argv(host, teamctl_argv(host, team, args)), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace")

    def each(self, work: dict[HostSpec, Sequence[str]], team: Team) -> list[Reply]:
        """The same kind of command on several hosts at once, one reply per host."""
        if not work:
            return []
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=min(16, len(work))) as pool:
            return list(pool.map(lambda item: self.teamctl(item[0], team, *item[1]), work.items()))

    def close(self) -> None:
        for sock in self.dir.iterdir():
            subprocess.run([*_ssh(), "-o", f"ControlPath={sock}", "-O", "exit", "x"], capture_output=True, timeout=10)
        for sock in self.dir.iterdir():
            sock.unlink(missing_ok=True)
        self.dir.rmdir()

    def __enter__(self) -> Ssh:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def unreachable_hosts(team: Team, agents: Sequence[Agent]) -> set[str]:
    """The names of the hosts of `agents` that ssh cannot reach now (no ssh at all when every agent
    is local): one `true` each, all at once, over a master connection that `close` ends."""
    _, remote = by_host(team, agents)
    if not remote:
        return set()
    from concurrent.futures import ThreadPoolExecutor

    with Ssh(STATUS_CONNECT_TIMEOUT) as ssh, ThreadPoolExecutor(max_workers=min(16, len(remote))) as pool:
        replies = list(pool.map(lambda h: ssh.run(h, ["true"], timeout=STATUS_CONNECT_TIMEOUT + 3), remote))
    return {r.host.name for r in replies if not r.ok}


def teamctl_argv(host: HostSpec, team: Team, args: Sequence[str]) -> list[str]:
    root = host.root or str(team.team_dir)
    return ["env", f"{HOST_ENV}={host.name}", *shlex.split(host.teamctl), *args, "--root", root]


def _ssh() -> list[str]:
    return shlex.split(os.environ.get(SSH_ENV) or "ssh")


def unreachable_text(reply: Reply) -> str:
    return f"host {reply.host.name} ({reply.host.ssh}) unreachable: {reply.err.splitlines()[-1] if reply.err else ''}"


def on_hosts(team: Team, remote: dict[HostSpec, list[Agent]], command: Sequence[str],
             check: bool = False) -> list[Any]:
    """`teamctl COMMAND AGENT...` on each host for its agents, in parallel; one Outcome per agent.
    An agent the host's answer does not mention, or of a host not reached, is not ok. `check` (up):
    each host is checked first, over the same connection, and a host with a problem starts nothing."""

    outcomes = []
    remote = dict(remote)
    with Ssh() as ssh:
        for host, (reached, problem) in (preflight(ssh, team, remote) if check else {}).items():
            for a in remote.pop(host):
                outcomes.append(Outcome(a, "failed", f"{a.id}: not started: {problem}", ok=False) if reached
                                else Outcome(a, "unknown", f"{a.id}: unknown ({problem})", ok=False))
        replies = ssh.each({host: [*command, *(a.id for a in agents)] for host, agents in remote.items()}, team)
    for reply in replies:
        lines = [_printable(line) for line in reply.out.splitlines()]
        for agent in remote[reply.host]:
            if not reply.ok:
                outcomes.append(Outcome(agent, "unknown", f"{agent.id}: unknown ({unreachable_text(reply)})", ok=False))
                continue
            said = next((line for line in lines if line.startswith(f"{agent.id}:")), None)
            outcomes.append(Outcome(agent, "remote", f"{said or agent.id + ': no answer'} [host {reply.host.name}]",
                                    ok=said is not None and reply.status == 0))
    return outcomes


#: What `up` asks each host first: its clock, tmux, the team root, and teamctl's version.
_PROBE = ('date +%s; command -v tmux >/dev/null && echo tmux=yes || echo tmux=no; '
          'if [ -f "$1/team-compose.yaml" ]; then echo root=yes; else echo root=no; fi; shift; '
          '"$@" --version 2>&1 | head -n 1')
#: A host whose clock is further off than this gets a warning (limit resets are wall-clock instants).
CLOCK_SKEW_SECONDS = 10.0


def preflight(ssh: Ssh, team: Team, hosts: dict[HostSpec, list[Agent]]) -> dict[HostSpec, tuple[bool, str]]:
    """Every host's problem at once (in parallel), as (reached, text); warnings (tmux, clock) are
    logged, not fatal. A host's agents' runtime binaries and folders are checked there too."""
    import logging
    import time
    from concurrent.futures import ThreadPoolExecutor

    from .. import __version__

    def probe(host: HostSpec) -> tuple[HostSpec, tuple[bool, str] | None]:
        before = time.time()
        reply = ssh.run(host, ["sh", "-c", _PROBE, "sh", host.root or str(team.team_dir), *shlex.split(host.teamctl)])
        now = (before + time.time()) / 2
        if not reply.ok:
            return host, (False, unreachable_text(reply))
        lines = [_printable(line) for line in reply.out.splitlines()] + ["", "", "", ""]
        where = f"host {host.name} ({host.ssh})"
        if lines[2] != "root=yes":
            return host, (True, f"{where}: no team-compose.yaml in {host.root or team.team_dir}"
                                f" (hosts.{host.name}.root)")
        if not lines[3].startswith("teamctl, version "):
            return host, (True, f"{where}: {host.teamctl!r} does not run there (hosts.{host.name}.teamctl):"
                                f" {lines[3][:200]}")
        theirs = lines[3].rsplit(" ", 1)[-1]
        if theirs.split(".")[:2] != __version__.split(".")[:2]:
            return host, (True, f"{where}: teamctl {theirs} there, {__version__} here: use the same release")
        if lines[1] != "tmux=yes":
            logging.getLogger(__name__).warning("%s: no tmux there; its watchers run as detached processes", where)
        if lines[0].isdigit() and abs(int(lines[0]) - now) > CLOCK_SKEW_SECONDS:
            logging.getLogger(__name__).warning("%s: its clock is %+.0f s off this host's (limit resets are"
                                                " wall-clock times: run NTP)", where, int(lines[0]) - now)
        missing = _missing_there(ssh, team, host, hosts[host])
        return host, ((True, f"{where}: {missing}") if missing else None)

    if not hosts:
        return {}
    with ThreadPoolExecutor(max_workers=min(16, len(hosts))) as pool:
        return {host: problem for host, problem in pool.map(probe, hosts) if problem}


#: Prints each `b=BINARY` not on PATH and each `d=DIR` that is not a folder, of its arguments.
_NEEDS = ('for x; do case $x in b=*) command -v "${x#b=}" >/dev/null 2>&1 || echo "$x";; '
          'd=*) [ -d "${x#d=}" ] || echo "$x";; esac; done')


def _missing_there(ssh: Ssh, team: Team, host: HostSpec, agents: Sequence[Agent]) -> str:
    """What the host lacks for these agents (every runtime binary and working folder, each naming
    its agents), or "" when nothing."""
    from ..core.descriptors.loader import load_runtime
    from ..core.errors import DescriptorError

    needs: dict[str, list[str]] = {}
    for agent in agents:
        try:
            needs.setdefault(f"b={load_runtime(agent.runtime, team.team_dir).launch.binary}", []).append(agent.id)
        except DescriptorError:
            pass  # validate reports it
        needs.setdefault(f"d={remote_cwd(host, team, agent)}", []).append(agent.id)
    reply = ssh.run(host, ["sh", "-c", _NEEDS, "sh", *needs])
    lacking = [line for line in reply.out.splitlines() if line in needs]
    return "; ".join(f"{'runtime binary' if x[0] == 'b' else 'working folder'} {x[2:]!r}"
                     f" {'not on PATH' if x[0] == 'b' else 'missing'} there ({', '.join(needs[x])})" for x in lacking)


def remote_cwd(host: HostSpec, team: Team, agent: Agent) -> str:
    """The agent's folder on the host: a folder beside or under the team dir is found at the same
    place relative to the host's `root`; any other stays the absolute path compose names."""
    import posixpath

    base = team.team_dir.parent
    if not host.root or not agent.cwd.is_relative_to(base):
        return str(agent.cwd)
    return posixpath.normpath(posixpath.join(posixpath.dirname(host.root.rstrip("/")),
                                             agent.cwd.relative_to(base).as_posix()))


def _printable(text: str) -> str:
    """A line from another host, without terminal controls (C0 and C1)."""
    return "".join(ch for ch in text if ch.isprintable())

"""Process trees: stop one with escalation, find the team's escaped processes, tell whether a pid is still ours.

CLIs start grandchildren (MCP servers, shells, language servers), some in sessions of their own, so
signalling the process group is not enough: the whole tree is collected with psutil first, then
signalled, so a child re-parented to init when its parent dies is still found.

psutil is imported by the functions that use it, not with this module: an idle watcher never stops a
tree or checks a pid, and psutil is over a megabyte of its memory.
"""

from __future__ import annotations

import os
import signal
from dataclasses import field
from typing import TYPE_CHECKING

from ..core.lazy_dataclass import lazy_dataclass

if TYPE_CHECKING:
    import psutil


@lazy_dataclass(frozen=True)
class StopResult:
    """What stopping a tree took: `killed` is True when SIGKILL was needed."""

    pids: tuple[int, ...]
    killed: bool
    survivors: tuple[int, ...] = ()
    codes: dict[int, int] = field(default_factory=dict)


def tree(pid: int) -> list[psutil.Process]:
    """The process and all its descendants (empty when it is gone)."""
    import psutil

    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return []


def stop_tree(pid: int, timeout: float = 10.0, sig: int = signal.SIGTERM,
              extra: list[psutil.Process] | None = None) -> StopResult:
    """Send `sig` to the tree (and its process group), wait up to `timeout`, then SIGKILL what is left.

    `extra` adds processes found earlier (e.g. before the parent died) that belong to the same run.
    """
    import psutil

    procs = tree(pid)
    seen = {p.pid for p in procs}
    for p in extra or []:
        if p.pid not in seen:
            procs.append(p)
            seen.add(p.pid)
    if not procs:
        return StopResult((), False)
    _signal_group(pid, sig)
    for p in procs:
        _send(p, sig)
    procs += [c for c in _descendants(procs) if c.pid not in seen]
    codes: dict[int, int] = {}

    def gone(p: psutil.Process) -> None:
        if getattr(p, "returncode", None) is not None:
            codes[p.pid] = p.returncode

    _, alive = psutil.wait_procs(procs, timeout=timeout, callback=gone)
    killed = bool(alive)
    if alive:
        # Late children forked while we waited belong to the tree too.
        alive += [c for c in _descendants(alive) if c.pid not in {a.pid for a in alive}]
        _signal_group(pid, signal.SIGKILL)
        for p in alive:
            _send(p, signal.SIGKILL)
        _, alive = psutil.wait_procs(alive, timeout=5, callback=gone)
    return StopResult(tuple(p.pid for p in procs), killed, tuple(p.pid for p in alive), codes)


def _descendants(procs: list[psutil.Process]) -> list[psutil.Process]:
    import psutil

    found: list[psutil.Process] = []
    for p in procs:
        try:
            found.extend(p.children(recursive=True))
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return found


def _send(p: psutil.Process, sig: int) -> None:
    import psutil

    try:
        p.send_signal(sig)
    except (psutil.NoSuchProcess, psutil.AccessDenied, ProcessLookupError):
        pass


def _signal_group(pid: int, sig: int) -> None:
    """Signal the process group led by `pid` (the runtime is a session leader under its pty)."""
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError, OSError):
        pass


#: Seconds a team's leftovers get between SIGTERM and SIGKILL (all of them share these).
LEFTOVER_GRACE = 2.0


def end_all(found: list[psutil.Process], grace: float = LEFTOVER_GRACE) -> tuple[int, ...]:
    """End many processes at once (leftovers of a team): SIGTERM to all of them, their descendants
    and the process groups they lead, one wait of `grace` for all, then SIGKILL to what is left.

    One at a time, 150 leftovers that ignore SIGTERM took 2 s each; together they take one grace
    period. Returns the pids still alive after SIGKILL (none, unless a process is stuck in the kernel).
    """
    import psutil

    everything = {p.pid: p for p in found}
    for c in _descendants(list(found)):
        everything.setdefault(c.pid, c)
    if not everything:
        return ()
    procs = list(everything.values())
    leaders = [pid for pid in everything if _leads_group(pid)]
    for pid in leaders:
        _signal_group(pid, signal.SIGTERM)
    for p in procs:
        _send(p, signal.SIGTERM)
    _, alive = psutil.wait_procs(procs, timeout=grace)
    if not alive:
        return ()
    alive += [c for c in _descendants(alive) if c.pid not in everything]  # forked while we waited
    for pid in leaders:
        _signal_group(pid, signal.SIGKILL)
    for p in alive:
        _send(p, signal.SIGKILL)
    _, alive = psutil.wait_procs(alive, timeout=5)
    return tuple(p.pid for p in alive)


def _leads_group(pid: int) -> bool:
    try:
        return os.getpgid(pid) == pid
    except OSError:
        return False


#: Every runtime process carries these in its environment (inherited by its children), so a process
#: of the team that escaped its tree (setsid + double fork, or its watcher was SIGKILLed) is found.
TAG_AGENT = "TEAMCTL_AGENT_ID"
TAG_STATE = "TEAMCTL_STATE_DIR"


def find_tagged(state_dir: str, agent_ids: set[str] | None = None) -> list[psutil.Process]:
    """Processes started for this team (its state dir), optionally only for some agents."""
    import psutil

    found = []
    me = os.getpid()
    for p in psutil.process_iter(["pid"]):
        if p.pid == me:
            continue
        try:
            env = p.environ()
        except (psutil.Error, OSError):
            continue
        if env.get(TAG_STATE) == state_dir and (agent_ids is None or env.get(TAG_AGENT) in agent_ids):
            found.append(p)
    return found


def alive(pid: int | None, started_at: float | None = None) -> bool:
    """True when `pid` runs and, if `started_at` is given, is the same process (not a reused pid)."""
    if not pid:
        return False
    import psutil

    try:
        p = psutil.Process(pid)
        if p.status() == psutil.STATUS_ZOMBIE:
            return False
        if started_at is not None and abs(p.create_time() - started_at) > 2.0:
            return False
        return True
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def create_time(pid: int) -> float | None:
    """When `pid` started, in seconds since the epoch: what psutil's `Process.create_time()` returns
    (runtimes' start times are stored and compared with it to tell a reused pid), None when the
    process is gone. Read from /proc on Linux, without importing psutil: this runs at every spawn."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
        with open("/proc/stat", "rb") as fh:
            boot = next(line for line in fh if line.startswith(b"btime"))
    except FileNotFoundError:  # no such process, or no /proc at all
        if os.path.isdir("/proc/self"):
            return None
        return _psutil_create_time(pid)
    except (OSError, StopIteration):
        return _psutil_create_time(pid)
    # psutil's formula: starttime (field 22, clock ticks since boot) / CLK_TCK + btime. The name in
    # parentheses may hold spaces and ')', so fields are counted after its last ')'.
    fields = stat[stat.rfind(b")") + 2:].split()
    return float(fields[19]) / os.sysconf("SC_CLK_TCK") + float(boot.split()[1])


def _psutil_create_time(pid: int) -> float | None:
    import psutil

    try:
        return psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None

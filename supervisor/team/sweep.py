"""Find and end everything of a team, whatever the mailbox says: `down`'s last word.

A watcher is found three ways, none of them the mailbox (which may be damaged, deleted or behind):
by the agent lock it holds (agent.lock), by the environment `up` started it with (TEAMCTL_ROOT,
TEAMCTL_AGENT: a watcher that has not taken its lock yet), and its runtime's processes by their
tags (procs.TAG_STATE). `sweep` ends them and looks again until a look finds nothing.

`team_lock` makes `up` and `down` of one team take turns, so a `down` never races the starts of an
`up` (an agent started after the sweep looked would be left running).
"""

from __future__ import annotations

import fcntl
import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil

from ..agent import procs
from ..agent.lock import held_locks
from ..store import layout
from ..store.safefs import open_private, private_dir

ROOT_ENV, AGENT_ENV = "TEAMCTL_ROOT", "TEAMCTL_AGENT"


@contextmanager
def team_lock(state_dir: Path) -> Iterator[None]:
    """Exclusive for the length of one `up` or `down` of the team."""
    try:
        private_dir(layout.run_dir(state_dir))
        fd = open_private(layout.team_lock(state_dir), os.O_RDWR)
    except OSError:  # a read-only state/: a lock file that is there still serves, read-only
        try:
            fd = os.open(layout.team_lock(state_dir), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            yield  # none there and none can be made: `down` must still stop the team
            return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _watcher_cmd(p: psutil.Process) -> bool:
    try:
        return "rl-watch" in p.cmdline() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def watchers(state_dir: Path, team_dir: Path, agent_ids: set[str] | None = None) -> dict[int, str]:
    """pid -> agent id of every live watcher of the team (agent id "" when only its lock names it)."""
    names = None if agent_ids is None else {layout.agent_file_name(a) for a in agent_ids}
    found: dict[int, str] = {}
    for path, pid in held_locks(state_dir).items():
        if pid and (names is None or path.stem in names):
            try:
                p = psutil.Process(pid)
            except psutil.Error:
                continue
            if _watcher_cmd(p):
                found[pid] = ""
    me = os.getpid()
    for p in psutil.process_iter(["pid"]):
        if p.pid == me or p.pid in found:
            continue
        try:
            env = p.environ()
        except (psutil.Error, OSError):
            continue
        if env.get(ROOT_ENV) == str(team_dir) and AGENT_ENV in env and _watcher_cmd(p) and (
                agent_ids is None or env[AGENT_ENV] in agent_ids):
            found[p.pid] = env[AGENT_ENV]
    return found


def sweep(state_dir: Path, team_dir: Path, agent_ids: set[str] | None = None, timeout: float = 15.0,
          deadline: float = 60.0) -> int:
    """End every watcher (SIGTERM, then SIGKILL after `timeout`) and tagged process of the team, and
    look again until nothing is left (or `deadline` s pass); the number of processes ended."""
    ended = 0
    give_up = time.monotonic() + deadline
    while time.monotonic() < give_up:
        found = watchers(state_dir, team_dir, agent_ids)
        tagged = procs.find_tagged(str(state_dir), agent_ids)
        if not found and not tagged:
            break
        trees = [q for pid in found for q in procs.tree(pid)]
        for pid in found:
            try:
                os.kill(pid, signal.SIGTERM)
            except OSError:
                pass
        _, alive = psutil.wait_procs(trees, timeout=timeout)
        procs.end_all(alive, grace=0.0)  # past their timeout: SIGKILL, all at once
        procs.end_all(tagged, grace=procs.LEFTOVER_GRACE)
        ended += len(found) + len(tagged)
    return ended

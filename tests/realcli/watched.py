"""A real agent CLI under `teamctl rl-watch`, in a pane of a private tmux server, as `teamctl up` runs it.

The watcher's root is a throwaway team root (`--root`): its mailbox, logs and state rows are what the
real-CLI tests assert on. Nothing here touches the user's tmux server: each agent has its own
`tmux -L` server, killed (with everything in it) by `close()`.
"""

from __future__ import annotations

import os
import shlex
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

REPO = Path(__file__).resolve().parent.parent.parent


class WatchedAgent:
    """`teamctl rl-watch solo:<name> --runtime <runtime> -- <argv>` in a tmux pane of `size`."""

    def __init__(self, root: Path, name: str, runtime: str, argv: list[str], env: dict[str, str], cwd: Path,
                 *options: str, size: tuple[int, int] = (200, 50)) -> None:
        self.root, self.agent = root, f"solo:{name}"
        root.mkdir(parents=True, exist_ok=True)
        self.socket = f"tcs-watch-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.zone = _zone(env.get("TZ"))  # the zone the watcher's log is stamped in (None: this machine's)
        env = {**env, "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
        watch = [sys.executable, "-m", "teamctl_supervisor", "rl-watch", self.agent, "--runtime", runtime,
                 "--root", str(root), *options, "--", *argv]
        envs = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        cmd = f"cd {shlex.quote(str(cwd))} && env -i {envs} {shlex.join(watch)}"  # no exec: the pane outlives it
        cols, rows = size
        self._tmux("-f", "/dev/null", "new-session", "-d", "-s", "a", "-x", str(cols), "-y", str(rows),
                   "bash", "-c", cmd + "; echo watcher-exited-$?; sleep 3600")

    def _tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], check=True, capture_output=True,
                              text=True).stdout

    # -- what the tests read -------------------------------------------------------------------
    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", "a")

    def rows(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        db = self.root / "state" / "mailbox.db"
        if not db.exists():
            return []
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        con.row_factory = sqlite3.Row
        try:
            return con.execute(sql, args).fetchall()
        except sqlite3.OperationalError:
            return []
        finally:
            con.close()

    def hits(self) -> list[sqlite3.Row]:
        return self.rows("SELECT * FROM rate_limits WHERE agent_id=? ORDER BY id", (self.agent,))

    def state(self) -> sqlite3.Row | None:
        found = self.rows("SELECT * FROM supervisor_agent_state WHERE agent_id=?", (self.agent,))
        return found[0] if found else None

    def log(self) -> str:
        path = self.root / "state" / "logs" / f"{self.agent.replace(':', '-')}.supervisor.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def respawn_began(self, since: float) -> float | None:
        """When the watcher began a run of the runtime after `since` (epoch): the stamp of its log line
        "state starting", written after the last run's whole tree was reaped and before the new one
        starts, so every model request after it is the new run's. (The state row's `started_at` is the
        CLI's create time as psutil reads it, up to a second early: too coarse for a quick respawn.)"""
        for line in self.log().splitlines():
            if line.endswith(": state starting"):  # "2026-12-07 10:56:33,234 INFO ...: state starting"
                at = datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").replace(tzinfo=self.zone).timestamp()
                if at > since:
                    return at
        return None

    def send(self, *keys: str, literal: bool = False) -> None:
        self._tmux("send-keys", "-t", "a", *(["-l"] if literal else []), *keys)

    def press_enter_until(self, came: Callable[[], Any], tries: int = 5, each: float = 5.0) -> bool:
        """Press Enter until `came()` (a model request reached the fake API): a TUI busy drawing may
        drop a key. False when none came after `tries` presses."""
        for _ in range(tries):
            self.send("Enter")
            deadline = time.monotonic() + each
            while not came() and time.monotonic() < deadline:
                time.sleep(0.1)
            if came():
                return True
        return False

    def wait_for(self, pred: Callable[[], Any], timeout: float, what: str) -> Any:
        """Poll `pred` until truthy; on timeout fail with the screen and the watcher's log."""
        deadline = time.monotonic() + timeout
        while True:
            value = pred()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}\n--- screen:\n{self.screen()}"
                                     f"\n--- supervisor log:\n{self.log()[-3000:]}")
            time.sleep(0.2)

    def close(self) -> None:
        """Kill this agent's private tmux server; the watcher stops its runtime on SIGHUP."""
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)


def _zone(tz: str | None) -> ZoneInfo | None:
    try:
        return ZoneInfo(tz.lstrip(":")) if tz else None
    except (ZoneInfoNotFoundError, ValueError):
        return None

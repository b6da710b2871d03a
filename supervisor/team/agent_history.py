"""What the views need of an agent's files, read without writing anything: the state changes its
watcher logged (for timelines and the report), and the last lines of its runtime output.

Both files can be megabytes; a dashboard asks every second. Reads are cached by the file's size and
change time, so an agent that did nothing costs one stat per file per poll.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from ..agent.sessions import last_turn
from ..core.history import Transition, parse_transitions
from ..store import layout
from .compose import Agent, Team
from .report import clean_line, tail
from .watchers import log_name, output_log

#: How many watcher-log lines are read back for a history (state lines are a small share of them).
HISTORY_LINES = 20_000
#: How much of the end of a runtime's output log an output tail reads (a log grows to 10 MiB, and a
#: busy agent's changes every second: reading it whole each time would cost the dashboard a core).
TAIL_BYTES = 64 * 1024

T = TypeVar("T")


def supervisor_log(team: Team, agent: Agent) -> Path:
    return layout.supervisor_log(team.state_dir, log_name(agent))


class FileCache:
    """Results computed from a file, recomputed only when its size or change time moves."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[tuple[Path, str], tuple[tuple[int, int, int] | None, object]] = {}

    def get(self, path: Path, key: str, compute: Callable[[Path], T]) -> T:
        try:
            st = os.stat(path)
            ident: tuple[int, int, int] | None = (st.st_ino, st.st_size, st.st_mtime_ns)
        except OSError:
            ident = None
        with self._lock:
            hit = self._seen.get((path, key))
            if hit is not None and hit[0] == ident:
                return hit[1]  # type: ignore[return-value]
        value = compute(path)
        with self._lock:
            self._seen[(path, key)] = (ident, value)
        return value


_DEFAULT_CACHE = FileCache()


def transitions(team: Team, agent: Agent, cache: FileCache | None = None) -> list[Transition]:
    """The agent's state changes, oldest first, as far back as its watcher log (and rotations) go."""
    return (cache or _DEFAULT_CACHE).get(supervisor_log(team, agent), "transitions",
                                         lambda p: parse_transitions(tail(p, HISTORY_LINES)[0]))


def output_tail(team: Team, agent: Agent, n: int = 20, cache: FileCache | None = None) -> list[str]:
    """The last `n` non-empty lines of the runtime's output, escapes removed (still untrusted text)."""
    def read(p: Path) -> list[str]:
        lines = [clean_line(line) for line in _last_bytes(p, TAIL_BYTES).split("\n")[1:]]
        return [line for line in lines if line.strip()][-n:]

    return (cache or _DEFAULT_CACHE).get(output_log(team, agent), f"tail{n}", read)


def _last_bytes(path: Path, size: int) -> str:
    """The file's last `size` bytes, decoded; led by a newline so the caller can drop the partial
    first line (a file shorter than `size` loses nothing)."""
    try:
        with open(path, "rb") as fh:
            end = fh.seek(0, os.SEEK_END)
            fh.seek(max(0, end - size))
            data = fh.read(size)
    except OSError:
        return ""
    text = data.decode("utf-8", "replace")
    return ("\n" + text) if end <= size else text


def last_output_at(team: Team, agent: Agent) -> float | None:
    """When the runtime last wrote anything (its output log's change time): the last model activity
    the supervisor can see for any runtime."""
    try:
        return os.stat(output_log(team, agent)).st_mtime
    except OSError:
        return None


def last_model_turn(team: Team, agent: Agent) -> float | None:
    """When the model last took a turn in the agent's own session (evidence, not our keys)."""
    return last_turn(team.state_dir, log_name(agent))

"""Evidence of a new model turn: what makes an agent "resumed", not our having typed or respawned.

Two sources, the structured one first. The agent's own session file (Claude Code's transcript,
Codex's rollout: the file its SessionKeeper resumes, never another agent's) grows by a row that the
model wrote, an answer or a tool call, not a synthetic error turn nor the user's prompt. Or the
screen shows words it never showed before, in this session or an earlier one: a banner redrawn at a
respawn, history replayed by a resumed TUI, a spinner's frames, a limit line and the keys we typed
are not new. `TurnWatch.arm()` starts looking (at a resume, a respawn, a wait in place); the first
turn seen after it is reported once, and `last` keeps the latest turn for `status`.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..core.lazy_dataclass import lazy_dataclass
from ..core.scan.fresh_text import FreshText, words_of
from .turns import TEXT_KINDS, row_reader

#: A runtime without a per-runtime figure: seconds after a resume with no model turn before escalating.
DEFAULT_DEADLINE_SECONDS = 120.0
#: The most of a session file read per poll (a resumed session's history is skipped, not read).
MAX_READ = 4 * 1024 * 1024

#: Codex rollout rows the model writes (@openai/codex 0.171.0, captured against the fake API:
#: `response_item` payloads of type message/role assistant, function calls and reasoning)
_CODEX_MODEL_ITEMS = {"function_call", "custom_tool_call", "local_shell_call", "reasoning", "web_search_call"}


@lazy_dataclass(frozen=True)
class Turn:
    """A model turn seen at `at` (wall clock), by `source` ("claude-transcript", "codex-rollout", a reader
    kind of agent/turns/, or "screen")."""

    at: float
    source: str


def model_turn(kind: str, row: Any) -> bool:
    """Whether one session-file row is the model's own output (pure: the format knowledge in one place)."""
    reader = row_reader(kind)  # the other CLIs' session files (agent/turns/)
    if reader is not None:
        return reader(row)
    if not isinstance(row, dict):
        return False
    if kind == "claude-transcript":
        # @anthropic-ai/claude-code 2.1.334 transcripts: {"type":"assistant","message":{"model":...}};
        # a limit or API error is written as an assistant row with model "<synthetic>" / isApiErrorMessage
        msg = row.get("message")
        return (row.get("type") == "assistant" and isinstance(msg, dict) and msg.get("model") != "<synthetic>"
                and not row.get("isApiErrorMessage"))
    if kind == "codex-rollout":
        payload = row.get("payload")
        if row.get("type") != "response_item" or not isinstance(payload, dict):
            return False
        if payload.get("type") == "message":
            return payload.get("role") == "assistant"
        return payload.get("type") in _CODEX_MODEL_ITEMS
    return False


class TurnWatch:
    """One agent's model turns, from its session file and its screen."""

    def __init__(self, kind: str | None) -> None:
        self.kind = kind  # the session file's format (a channel kind), None: the screen only
        self.armed_at: float | None = None
        self.proof: Turn | None = None  # the first turn since arm()
        self.last: Turn | None = None
        self._words = FreshText()  # kept across sessions: a redraw of old text is not new
        self._quiet: set[bytes] = set()
        self._file: Path | None = None
        self._offset = 0
        self._rest = b""
        self._newest = 0.0  # the newest store row seen (stamp())
        self._lock = threading.RLock()  # the keeper's thread polls; the watcher's loop arms and reads the screen

    def arm(self, now: float, session_file: Path | None, typed: Iterable[str] = ()) -> None:
        """Look for a new turn from now on: what the file holds so far, and the words we type or give
        on the command line, are not one."""
        with self._lock:
            self.armed_at, self.proof = now, None
            self._quiet = {w for text in typed for w in words_of(f" {text} ".encode())}
            self._skip_to_end(session_file)

    def rearm(self, now: float, typed: Iterable[str] = ()) -> None:
        """arm() again on the file found so far (after a resume in place, or keys typed)."""
        with self._lock:
            self.arm(now, self._file, typed)

    def stamp(self, now: float, newest: float | None) -> Turn | None:
        """A store's newest model row (seconds since the epoch, agent/turns/ STORE_READERS): a turn when
        written since `arm()` and newer than the last one seen. Returns it when it is the first since `arm()`."""
        with self._lock:
            if newest is None or self.armed_at is None or newest < self.armed_at or newest <= self._newest:
                return None
            self._newest = newest
            return self._seen(Turn(now, self.kind or "store"))

    def _skip_to_end(self, path: Path | None) -> None:
        self._file, self._rest = path, b""
        try:
            self._offset = os.stat(path).st_size if path is not None else 0
        except OSError:
            self._offset = 0

    def _seen(self, turn: Turn) -> Turn | None:
        self.last = turn if self.last is None or turn.at >= self.last.at else self.last
        if self.armed_at is None or self.proof is not None:
            return None
        self.proof = turn
        return turn

    def screen(self, data: bytes, now: float, limit_line: bool = False) -> Turn | None:
        """A read of the runtime's output. New words are a turn, unless the read is a limit notice or
        only echoes what we typed. Returns the turn when it is the first since `arm()`."""
        if not data:
            return None
        words = [w for w in words_of(data) if w not in self._quiet]
        fresh = self._words.is_new(b" " + b" ".join(words) + b" ") if words else False
        if not fresh or limit_line:
            return None
        with self._lock:
            return self._seen(Turn(now, "screen"))

    def poll(self, now: float, session_file: Path | None = None) -> Turn | None:
        """Read what the session file gained; a model row is a turn (the first since `arm()` returned)."""
        with self._lock:
            return self._poll(now, session_file)

    def _poll(self, now: float, session_file: Path | None) -> Turn | None:
        if session_file is not None and session_file != self._file:
            self._file, self._offset, self._rest = session_file, 0, b""  # found after arm(): all of it is new
        if self._file is None or self.kind is None:
            return None
        try:
            fd = os.open(self._file, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
            try:
                size = os.fstat(fd).st_size
                if size < self._offset:
                    self._offset, self._rest = 0, b""  # replaced: read it anew
                os.lseek(fd, self._offset, os.SEEK_SET)
                chunk = os.read(fd, MAX_READ)
            finally:
                os.close(fd)
        except OSError:
            return None
        self._offset += len(chunk)
        *lines, self._rest = (self._rest + chunk).split(b"\n")
        found: Turn | None = None
        text = self.kind in TEXT_KINDS  # a markdown history (aider's): its lines are the rows
        for line in lines:
            try:
                row = line.decode("utf-8", "replace") if text else json.loads(line)
            except ValueError:
                continue
            if model_turn(self.kind, row):
                found = self._seen(Turn(now, self.kind)) or found
        return found

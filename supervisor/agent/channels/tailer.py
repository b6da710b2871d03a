"""Structured channels beside the screen: this agent's own session files, tailed once a second.

The screen is read as it is drawn and loses figures to rounding and wrapping; a CLI's session file
(Claude Code's transcript, Codex's rollout) has them exactly. A tailer finds the file of the session
its watcher started (by the runtime's cwd and the process's start time, or the path a Stop hook
left under state/channels/, never another agent's), reads what is appended, and turns it into
cost events marked with their `source`, so the cost ledger counts the structured report and not
the screen's copy. Limit windows in the file, and usage lines on the screen (read from the output
log, off the relay's path), become readings in the usage-windows table. A missing, unreadable or
unknown-version file leaves the screen path alone, with one log line.

One reader per file of this folder; this module picks them by the descriptor's channel kind, and
imports only the readers (and the hook channel) its runtime names: an idle watcher of one CLI does
not hold the other CLIs' readers.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from importlib import import_module

from ...core.descriptors.loader import Channel
from ...core.scan.scanner import Event
from ...core.usage import Reading, candidate_lines_in, read_text, screen_text
from ...store import layout
from ...store.mailbox import Store
from ...store.usage import record_window
from ..settings import WatchSettings
from .base import MAX_READ, NewLines, SessionFile

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0
#: The output log is read back for usage lines in pieces this big (see NewLines.read_block).
SCREEN_PIECE = 256 * 1024
#: The reader of each channel kind a descriptor may name: (module of this folder, class), imported
#: when a runtime names the kind (the modules' KIND constants say the same names).
READERS: dict[str, tuple[str, str]] = {
    "claude-transcript": ("claude_transcript", "ClaudeTranscript"),
    "codex-rollout": ("codex_rollout", "CodexRollout"),
    "copilot-usage-file": ("copilot_usage", "CopilotUsageFile"),
    "droid-session": ("droid_session", "DroidSession"),
}


def reader(kind: str) -> type[SessionFile]:
    """The reader class of a channel kind in READERS."""
    module, name = READERS[kind]
    return getattr(import_module(f"{__package__}.{module}"), name)  # type: ignore[no-any-return]


class ChannelTailer:
    """All structured channels of one agent, and its screen's usage lines, polled from the watcher's loop."""

    def __init__(self, settings: WatchSettings, store: Store, started: Callable[[], float | None]) -> None:
        self.s = settings
        self.store = store
        self.started = started
        self._session: float | None = None
        self._files: list[SessionFile] = []
        self._next = 0.0
        self._store_warned = False
        self._screen = NewLines(layout.output_log(settings.state_dir, settings.log_name))
        self._skip_old_screen()

    def launch_args(self, argv: list[str]) -> list[str]:
        """The hook channel's launch options (`--settings <json>`), unless the argv has its own."""
        out: list[str] = []
        for ch in self.s.runtime.channels:
            if ch.kind == "copilot-usage-file":
                out += self._usage_file_args(ch, argv)
            if ch.kind != "claude-hooks":
                continue
            flag = next((a for a in ch.option if a != "{settings}"), None)
            if flag and flag in argv:
                log.info("channel claude-hooks: the command line has its own %s; hooks not added", flag)
                continue
            from .claude_hooks import hook_settings

            value = hook_settings(self.s, ch)
            out += [value if a == "{settings}" else a for a in ch.option]
        return out

    def _usage_file_args(self, ch: Channel, argv: list[str]) -> list[str]:
        """`--usage-output-file <state/channels/…>` for this run (unless the argv names its own file)."""
        flag = next((a for a in ch.option if a != "{file}"), None)
        if flag and any(a == flag or a.startswith(flag + "=") for a in argv):
            log.info("channel %s: the command line has its own %s; not read", ch.kind, flag)
            return []
        from . import copilot_usage

        path = str(copilot_usage.prepare(self.s.state_dir, self.s.log_name))
        return [path if a == "{file}" else a for a in ch.option]

    def poll(self, now: float, final: bool = False) -> list[Event]:
        """At most once a second: the events appended to this session's files since the last poll.
        `final`: the runtime has exited (files written at exit are read now, at once)."""
        mono = time.monotonic()
        if mono < self._next and not final:
            return []
        self._next = mono + POLL_SECONDS
        started = self.started()
        if started is not None and started != self._session:
            self._session = started
            self._files = [reader(c.kind)(c, self.s, started, self._record) for c in self.s.runtime.channels
                           if c.kind in READERS]
        events: list[Event] = []
        for f in self._files:
            events += f.poll(now, final)
        self._poll_screen(now)
        return events

    def _skip_old_screen(self) -> None:
        try:
            self._screen.offset = self._screen.path.stat().st_size
        except OSError:
            pass

    def _poll_screen(self, now: float) -> None:
        if not self.s.runtime.usage:
            return
        lines: list[bytes] = []
        for _ in range(MAX_READ // SCREEN_PIECE):  # a flood's growth in pieces, as much as one read took
            offset = self._screen.offset
            try:
                block = self._screen.read_block(SCREEN_PIECE)
            except OSError:
                return  # no output yet
            if block:
                lines += candidate_lines_in(block, self.s.runtime.usage)
            if self._screen.offset - offset < SCREEN_PIECE:
                break
        if not lines:
            return
        for reading in read_text(screen_text(b"\n".join(lines)), self.s.runtime.usage, now, self.s.tz):
            self._record(reading)

    def _record(self, reading: Reading) -> None:
        try:
            record_window(self.store, self.s.runtime.name, self.s.agent_id, reading.window, reading.used,
                          reading.resets_at, reading.seen_at, reading.source)
        except sqlite3.Error as exc:
            if not self._store_warned:
                log.warning("usage window not recorded (%s); later ones may be lost too", exc)
            self._store_warned = True

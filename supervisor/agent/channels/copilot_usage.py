"""GitHub Copilot CLI's usage file (`--usage-output-file`): exact tokens, read once the run is over.

Copilot draws its tokens rounded (`↑ 1.2k (200 cached) • ↓ 56`) and with `--output-format json` prints
none at all. The file it writes when it exits has them exactly, per model, for the whole session (a
`--continue`d session's file holds the earlier runs too: @github/copilot-linux-x64 1.0.102, captured).
The watcher gives each run a file of its own under state/channels/ and reads it when the run ends, as
a structured channel: its figures win over the screen's copy of the same turns.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from ...core.scan.scanner import Event, EventKind
from ...store import layout
from ...store.safefs import private_dir
from .base import MAX_READ, START_SLACK, ChannelEvent, SessionFile, token_count

log = logging.getLogger(__name__)
KIND = "copilot-usage-file"


def prepare(state_dir: Path, log_name: str) -> Path:
    """The usage file for the run about to start, with any earlier run's file gone."""
    path = layout.copilot_usage_file(state_dir, log_name)
    private_dir(path.parent)
    try:
        os.unlink(path)  # a symlink left there is removed, never followed
    except FileNotFoundError:
        pass
    return path


class CopilotUsageFile(SessionFile):
    """Read at the end of the run; nothing to tail while it runs (the file is written at exit)."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.path = layout.copilot_usage_file(self.s.state_dir, self.s.log_name)
        self.done = False

    def poll(self, now: float, final: bool = False) -> list[Event]:
        if self.off or self.done or not final:
            return []
        self.done = True
        data = self._read()
        if data is None:
            return []
        try:
            doc = json.loads(data)
        except ValueError:
            self.say_off(f"{self.path}: not JSON (cut short?)")
            return []
        metrics = doc.get("modelMetrics") if isinstance(doc, dict) else None
        if not isinstance(metrics, dict) or not all(isinstance(m, dict) and isinstance(m.get("usage"), dict)
                                                    for m in metrics.values()):
            self.say_off(f"{self.path}: unknown format (no modelMetrics with usage)")
            return []
        events: list[Event] = []
        for model, m in metrics.items():
            usage = m["usage"]
            inp, out, cached = token_count(usage.get("inputTokens")), token_count(usage.get("outputTokens")), \
                token_count(usage.get("cacheReadTokens"))
            if inp or out:
                # input holds the cache reads (1,234 = 1,034 + 200), output the reasoning
                events.append(ChannelEvent(EventKind.COST, 0, f"usage file {model}", KIND, model=str(model),
                                           input_tokens=inp, output_tokens=out, cached_tokens=cached,
                                           cached_in_input=True, total=True, source=KIND))
        return events

    def _read(self) -> bytes | None:
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except FileNotFoundError:
            self.say_off(f"{self.path}: the run wrote no usage file")
            return None
        except OSError as exc:
            self.say_off(f"{self.path}: cannot read ({exc.strerror or exc})")
            return None
        with os.fdopen(fd, "rb") as fh:
            st = os.fstat(fh.fileno())
            if st.st_mtime < self.started - START_SLACK:
                self.say_off(f"{self.path}: older than this run")
                return None
            return fh.read(MAX_READ)

"""Claude Code's transcript: <config>/projects/<cwd slug>/<session>.jsonl, each assistant message's
exact usage (the screen draws it rounded, if at all)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ...core.scan.events import EventKind
from ...core.scan.scanner import Event
from ...store import layout
from .base import START_SLACK, ChannelEvent, NewLines, SessionFile, iso_seconds, token_count


def claude_slug(cwd: Path) -> str:
    """Claude Code's project folder name: the cwd with every non-alphanumeric as "-"."""
    return re.sub(r"[^A-Za-z0-9]", "-", str(cwd))


def message_figures(usage: dict[str, Any]) -> tuple[int, int, int]:
    """One message's (input with cache writes, output, cache reads)."""
    return (token_count(usage.get("input_tokens")) + token_count(usage.get("cache_creation_input_tokens")),
            token_count(usage.get("output_tokens")), token_count(usage.get("cache_read_input_tokens")))


class ClaudeTranscript(SessionFile):
    """<config>/projects/<cwd slug>/<session>.jsonl: each assistant message's exact usage."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.seen: dict[str, tuple[int, int, int]] = {}
        self.version_checked = False

    def find(self) -> Path | None:
        pointer = layout.transcript_pointer(self.s.state_dir, self.s.log_name)
        try:
            named = Path(pointer.read_text(encoding="utf-8").strip())
            if named.parent.name == claude_slug(self.cwd) and self.recent(named):
                return named
        except OSError:
            pass
        if self.root is None:
            return None
        folder = self.root / claude_slug(self.cwd)
        try:
            found = [p for p in folder.glob("*.jsonl") if self.recent(p)]
        except OSError:
            return None
        return found[0] if len(found) == 1 else None  # several: wait for the Stop hook's pointer

    def parse(self, row: dict[str, Any]) -> list[Event]:
        if row.get("type") != "assistant":
            return []
        if not self.version_checked:
            self.version_checked = True
            if not self.known_version(row.get("version")):
                return []
        ts = iso_seconds(row.get("timestamp"))
        msg = row.get("message")
        if not isinstance(msg, dict) or (ts is not None and ts < self.started - START_SLACK):
            return []
        usage = msg.get("usage")
        model = msg.get("model")
        if not isinstance(usage, dict) or model == "<synthetic>" or row.get("isApiErrorMessage"):
            return []
        figures = message_figures(usage)
        key = str(msg.get("id") or row.get("uuid"))
        before = self.seen.get(key, (0, 0, 0))
        self.seen[key] = tuple(max(a, b) for a, b in zip(before, figures, strict=True))  # type: ignore[assignment]
        inp, out, cached = (max(a - b, 0) for a, b in zip(figures, before, strict=True))
        if not (inp or out or cached):
            return []
        return [ChannelEvent(EventKind.COST, 0, f"transcript {key}", "claude-transcript",
                             model=model if isinstance(model, str) else None, input_tokens=inp,
                             output_tokens=out, cached_tokens=cached, cached_in_input=False,
                             source="claude-transcript")]


def transcript_usage(path: Path) -> dict[str, tuple[int, int, int]]:
    """A Claude Code transcript's usage per model: (input with cache writes, output, cache reads),
    each message counted once (its largest figures), synthetic error turns not at all."""
    per_message: dict[str, tuple[str, tuple[int, int, int]]] = {}
    for raw in NewLines(path).read():
        try:
            row = json.loads(raw)
        except ValueError:
            continue
        msg = row.get("message") if isinstance(row, dict) and row.get("type") == "assistant" else None
        if not isinstance(msg, dict) or not isinstance(msg.get("usage"), dict) or row.get("isApiErrorMessage"):
            continue
        model, usage = msg.get("model"), msg["usage"]
        if not isinstance(model, str) or model == "<synthetic>":
            continue
        figures = message_figures(usage)
        key = str(msg.get("id") or row.get("uuid"))
        old = per_message.get(key, (model, (0, 0, 0)))[1]
        per_message[key] = (model, tuple(max(a, b) for a, b in zip(old, figures, strict=True)))  # type: ignore[assignment]
    out: dict[str, tuple[int, int, int]] = {}
    for model, figures in per_message.values():
        have = out.get(model, (0, 0, 0))
        out[model] = tuple(a + b for a, b in zip(have, figures, strict=True))  # type: ignore[assignment]
    return out

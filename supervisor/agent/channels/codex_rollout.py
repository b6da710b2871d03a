"""Codex's rollout: CODEX_HOME/sessions/YYYY/MM/DD/rollout-*.jsonl, the session's token totals and
its limit windows (the primary and the weekly)."""

from __future__ import annotations

import json
import os
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ...core.scan.events import EventKind
from ...core.scan.scanner import Event
from ...core.usage import Reading, window_name
from .base import START_SLACK, ChannelEvent, SessionFile, iso_seconds, token_count


class CodexRollout(SessionFile):
    """CODEX_HOME/sessions/YYYY/MM/DD/rollout-*.jsonl: token totals and the limit windows."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.total = (0, 0, 0)
        self.model: str | None = None
        self.meta_seen = False

    def find(self) -> Path | None:
        if self.root is None:
            return None
        best: tuple[float, Path] | None = None
        day = datetime.fromtimestamp(self.started)
        for d in (day - timedelta(days=1), day, day + timedelta(days=1)):
            folder = self.root / f"{d:%Y}" / f"{d:%m}" / f"{d:%d}"
            try:
                files = [p for p in folder.glob("rollout-*.jsonl") if self.recent(p)]
            except OSError:
                continue
            for path in files:
                meta = _first_row(path)
                payload = meta.get("payload") if meta else None
                if not isinstance(payload, dict) or meta.get("type") != "session_meta":  # type: ignore[union-attr]
                    continue
                try:
                    same = Path(str(payload.get("cwd"))).resolve() == self.cwd
                except OSError:
                    same = False
                began = iso_seconds(payload.get("timestamp")) or 0.0
                if same and (best is None or began > best[0]):
                    best = (began, path)
        return best[1] if best else None

    def parse(self, row: dict[str, Any]) -> list[Event]:
        kind, payload = row.get("type"), row.get("payload")
        if not isinstance(payload, dict):
            return []
        if kind == "session_meta" and not self.meta_seen:
            self.meta_seen = True
            self.known_version(payload.get("cli_version"))
            return []
        if kind == "turn_context" and isinstance(payload.get("model"), str):
            self.model = payload["model"]
            return []
        if kind != "event_msg" or payload.get("type") != "token_count":
            return []
        ts = iso_seconds(row.get("timestamp")) or time.time()
        self._windows(payload.get("rate_limits"), ts)
        info = payload.get("info")
        total = info.get("total_token_usage") if isinstance(info, dict) else None
        if not isinstance(total, dict):
            return []
        now = (token_count(total.get("input_tokens")), token_count(total.get("output_tokens")),
               token_count(total.get("cached_input_tokens")))
        before, self.total = self.total, tuple(max(a, b) for a, b in zip(now, self.total, strict=True))  # type: ignore[assignment]
        if ts < self.started - START_SLACK:
            return []  # an earlier session's totals (a resumed rollout): the base, not new spend
        inp, out, cached = (max(a - b, 0) for a, b in zip(now, before, strict=True))
        if not (inp or out):
            return []  # at a limit Codex writes the same totals again
        return [ChannelEvent(EventKind.COST, 0, "rollout token_count", "codex-rollout", model=self.model,
                             input_tokens=inp, output_tokens=out, cached_tokens=cached, cached_in_input=True,
                             source="codex-rollout")]

    def _windows(self, limits: object, ts: float) -> None:
        if not isinstance(limits, dict):
            return
        for key in ("primary", "secondary"):
            w = limits.get(key)
            if not isinstance(w, dict) or not isinstance(w.get("used_percent"), int | float):
                continue
            minutes = w.get("window_minutes") if isinstance(w.get("window_minutes"), int | float) else None
            reset = w.get("resets_at") if isinstance(w.get("resets_at"), int | float) else None
            self.emit_reading(Reading(window_name(key, minutes) if minutes else key, float(w["used_percent"]),
                                      float(reset) if reset else None, ts, "codex-rollout"))


def _first_row(path: Path) -> dict[str, Any] | None:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        try:
            head = os.read(fd, 256 * 1024)
        finally:
            os.close(fd)
        row = json.loads(head.split(b"\n", 1)[0])
    except (OSError, ValueError):
        return None
    return row if isinstance(row, dict) else None

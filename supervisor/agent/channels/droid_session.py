"""Factory droid's session settings file: the session's exact token usage, which its TUI never draws.

droid keeps `<sessions dir>/<cwd slug>/<session id>.settings.json` beside each session's transcript and
rewrites it after every turn; its `tokenUsage` is the session's whole (@factory/cli-linux-x64 0.225.2,
captured: `{"inputTokens":2068,"outputTokens":112,"cacheCreationTokens":0,"cacheReadTokens":400,
"thinkingTokens":0,"factoryCredits":0}` after two answers, input without the cache reads). The watcher
reads it again whenever it changes, as a structured channel: a session total, weighed with anything
the screen shows. Only a file of this agent's cwd, changed since its runtime started, is read; when
several are, none is (another droid may share the folder).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ...core.scan.scanner import Event, EventKind
from .base import MAX_READ, ChannelEvent, SessionFile, token_count

KIND = "droid-session"


def droid_slug(cwd: Path) -> str:
    """droid's folder name for a cwd: its path with "/" as "-" (`/tmp/a/work` -> `-tmp-a-work`)."""
    return str(cwd).replace("/", "-")


class DroidSession(SessionFile):
    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.path: Path | None = None
        self.mtime = 0.0

    def _model(self, name: object) -> str | None:
        """A BYOK model's own name (`custom:Fake-API-0` is customModels[0] of droid's settings), so the
        price table knows it; None when it cannot be told (the agent's model is used then)."""
        if not isinstance(name, str):
            return None
        if not name.startswith("custom:"):
            return name
        index = name.rsplit("-", 1)[-1]
        if self.root is None or not index.isdigit():
            return None
        try:
            custom = json.loads((self.root.parent / "settings.json").read_text(encoding="utf-8"))["customModels"]
            model = custom[int(index)]["model"]
        except (OSError, ValueError, KeyError, IndexError, TypeError):
            return None
        return model if isinstance(model, str) else None

    def find(self) -> Path | None:
        if self.root is None:
            return None
        try:
            found = [p for p in (self.root / droid_slug(self.cwd)).glob("*.settings.json") if self.recent(p)]
        except OSError:
            return None
        return found[0] if len(found) == 1 else None

    def poll(self, now: float, final: bool = False) -> list[Event]:
        if self.off:
            return []
        if self.path is None:
            self.path = self.find()
            if self.path is None:
                if final:
                    self.say_off(f"no session settings file of this agent under {self.root}")
                return []
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError as exc:
            self.say_off(f"{self.path}: cannot read ({exc.strerror or exc})")
            return []
        with os.fdopen(fd, "rb") as fh:
            mtime = os.fstat(fh.fileno()).st_mtime
            if mtime == self.mtime:
                return []
            data = fh.read(MAX_READ)
        try:
            doc = json.loads(data)
        except ValueError:
            return []  # caught mid-rewrite: read at the next change (or poll)
        self.mtime = mtime
        usage = doc.get("tokenUsage") if isinstance(doc, dict) else None
        if not isinstance(usage, dict) or "inputTokens" not in usage:
            self.say_off(f"{self.path}: unknown format (no tokenUsage)")
            return []
        inp, out = token_count(usage.get("inputTokens")) + token_count(usage.get("cacheCreationTokens")), \
            token_count(usage.get("outputTokens")) + token_count(usage.get("thinkingTokens"))
        if not (inp or out):
            return []
        return [ChannelEvent(EventKind.COST, 0, f"droid session {self.path.name}", KIND,
                             model=self._model(doc.get("model")), input_tokens=inp, output_tokens=out,
                             cached_tokens=token_count(usage.get("cacheReadTokens")), cached_in_input=False, total=True,
                             source=KIND)]

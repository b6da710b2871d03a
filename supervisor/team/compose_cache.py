"""Parsed compose files, kept by content in state/cache: when `up` starts fifty watchers, each of
them finds the tree `up` just read and skips loading PyYAML and parsing the files again.

A file's entry holds its parsed data and key line numbers, and is used only while the file's bytes
are the same (length and CRC-32); data that JSON cannot carry exactly (dates, non-string keys) is
not cached. Nor is a file with an `env:` block: its values may be secrets, and nothing under
state/ may hold one (such a file is parsed again by each watcher, which is what it costs).
Nothing here decides whether a tree is valid: the checker still checks the data.
"""

from __future__ import annotations

import json
import os
import zlib
from pathlib import Path
from typing import Any

from ..store.safefs import UnsafeState, check_state_dir, open_private, private_dir

VERSION = 1
#: Most nodes a cached tree may have (what the YAML limits allow): a bigger one is not walked.
MAX_NODES = 100_000


def _stamp(raw: bytes) -> list[int]:
    return [len(raw), zlib.crc32(raw)]


def _small(data: Any, limit: int = MAX_NODES) -> bool:
    """Whether `data` has at most `limit` nodes, counting a shared object at every place it appears
    (as JSON would write it); stops counting at the limit, so an alias bomb costs `limit` steps."""
    stack, seen = [data], 0
    while stack:
        seen += 1
        if seen > limit:
            return False
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return True


def _has_env(data: Any) -> bool:
    """Whether any mapping in `data` has a non-empty `env` (compose's per-agent environment)."""
    if isinstance(data, dict):
        return any(k == "env" and v or _has_env(v) for k, v in data.items())
    if isinstance(data, list):
        return any(_has_env(v) for v in data)
    return False


class ParseCache:
    """One JSON file of parsed YAML files; `save` writes it (0600) only if something was added."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._files: dict[str, Any] = {}
        self._dirty = False
        try:
            loaded = json.loads(path.read_bytes())
            if isinstance(loaded, dict) and loaded.get("version") == VERSION and isinstance(loaded.get("files"), dict):
                self._files = loaded["files"]
                secret = [k for k, e in self._files.items() if isinstance(e, dict) and _has_env(e.get("data"))]
                for key in secret:  # written by an older version: rewritten without them
                    del self._files[key]
                self._dirty = bool(secret)
        except (OSError, ValueError):
            pass  # no cache yet, or a broken one: it is rebuilt

    def get(self, file: Path, raw: bytes) -> tuple[Any, dict[str, int]] | None:
        """(data, key lines) parsed from exactly these bytes, or None."""
        entry = self._files.get(str(file))
        if not isinstance(entry, dict) or entry.get("stamp") != _stamp(raw):
            return None
        return entry.get("data"), entry.get("lines") or {}

    def put(self, file: Path, raw: bytes, data: Any, lines: dict[str, int]) -> None:
        if not _small(data) or _has_env(data):  # never walk, nor write, an expanded alias bomb
            return
        try:
            exact = json.loads(json.dumps(data, allow_nan=False)) == data
        except (TypeError, ValueError):
            exact = False
        if exact:
            self._files[str(file)] = {"stamp": _stamp(raw), "data": data, "lines": lines}
            self._dirty = True

    def save(self) -> None:
        """Write the cache if something was added, only into an existing state/ (a command that
        fails must not leave a state/ behind)."""
        if not self._dirty or not self.path.parent.parent.is_dir():
            return
        try:
            state = self.path.parent.parent
            check_state_dir(state, state.parent)  # a state/ linked outside the team gets nothing
            private_dir(self.path.parent)
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}")
            fd = open_private(tmp, os.O_WRONLY | os.O_TRUNC)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump({"version": VERSION, "files": self._files}, fh)
            os.replace(tmp, self.path)  # readers see the old file or the new one, never half of one
            self._dirty = False
        except (OSError, UnsafeState):
            pass  # a cache that cannot be written only costs the next reader a parse

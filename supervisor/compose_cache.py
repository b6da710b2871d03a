"""Parsed compose files, kept by content in state/cache: when `up` starts fifty watchers, each of
them finds the tree `up` just read and skips loading PyYAML and parsing the files again.

A file's entry holds its parsed data and key line numbers, and is used only while the file's bytes
are the same (length and CRC-32); data that JSON cannot carry exactly (dates, non-string keys) is
not cached. Nothing here decides whether a tree is valid: the checker still checks the data.
"""

from __future__ import annotations

import json
import os
import zlib
from pathlib import Path
from typing import Any

VERSION = 1


def _stamp(raw: bytes) -> list[int]:
    return [len(raw), zlib.crc32(raw)]


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
        except (OSError, ValueError):
            pass  # no cache yet, or a broken one: it is rebuilt

    def get(self, file: Path, raw: bytes) -> tuple[Any, dict[str, int]] | None:
        """(data, key lines) parsed from exactly these bytes, or None."""
        entry = self._files.get(str(file))
        if not isinstance(entry, dict) or entry.get("stamp") != _stamp(raw):
            return None
        return entry.get("data"), entry.get("lines") or {}

    def put(self, file: Path, raw: bytes, data: Any, lines: dict[str, int]) -> None:
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
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump({"version": VERSION, "files": self._files}, fh)
            os.replace(tmp, self.path)  # readers see the old file or the new one, never half of one
            self._dirty = False
        except OSError:
            pass  # a cache that cannot be written only costs the next reader a parse

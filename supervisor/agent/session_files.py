"""Learn the id a CLI chose from the session files it wrote since the agent's spawn.

A CLI that picks its own id (droid, Codex) is caught holding its session file open where it can be;
droid (@factory/cli-linux-x64 0.225.2) opens its file only while it appends a row, so its TUI was seen
running for a minute, answered, and never caught. The files themselves then tell: the new ones since
the spawn that no other agent holds. A TUI may also write a session that never gets a turn (droid's
"New Session" stub, seen at a start against the fake API), so where the runtime's file has a reader
(agent/turns/), only a file holding a model turn is a candidate while the CLI runs.
"""

from __future__ import annotations

import glob
import json
import os
import re
from collections.abc import Iterable

from .evidence import MAX_READ, model_turn
from .turns import TEXT_KINDS


def _has_turn(path: str, kind: str) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        try:
            data = os.read(fd, MAX_READ)
        finally:
            os.close(fd)
    except OSError:
        return False
    for line in data.split(b"\n"):
        try:
            row = line.decode("utf-8", "replace") if kind in TEXT_KINDS else json.loads(line)
        except ValueError:
            continue
        if model_turn(kind, row):
            return True
    return False


def new_ids(patterns: Iterable[str], capture: str, since: float, others: set[str],
            turn_kind: str | None = None) -> set[str]:
    """Ids (the `id` group of `capture`) of the files the `patterns` match, written since `since`, that no
    other agent holds; with `turn_kind`, only those holding a model turn."""
    rx = re.compile(capture)
    found: set[str] = set()
    for pattern in patterns:
        for path in glob.glob(pattern):
            m = rx.search(path)
            try:
                fresh = os.path.getmtime(path) >= since
            except OSError:
                fresh = False
            if m and fresh and m.group("id") not in others and (turn_kind is None or _has_turn(path, turn_kind)):
                found.add(m.group("id"))
    return found

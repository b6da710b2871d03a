"""What every watcher's start works out the same way, kept under state/cache for the next watchers.

Two things, each the same text turned into the same result in each of the 200 watchers `up` starts:
- the records' methods: `dataclasses` writes each record's `__init__`, `__eq__`, `__repr__` ... as
  source text and compiles it when the record is built. A watcher builds some 26 records as it
  starts: about a tenth of the start's CPU.
- the TOML files it reads (core/toml_text.py): its descriptor, the generic patterns, the prices.

`start` takes what earlier watchers kept, and has `dataclasses` compile through `_exec`: a text
compiled before runs from its kept code, and only a new one is compiled. When the start is over
(`finish`: the first idle turn, or the watcher's end) `dataclasses` compiles as before and the rest
is let go; a start that had to work something out writes state/cache/start.<interpreter> anew with
what it used and what it made. It does not read the file again to merge it, and an entry is
unpacked only when its text is asked for: objects made at the start and freed at its end leave heap
behind that the watcher idles with for days (merging cost 0.6 MiB a watcher; now a team's first
`up`, the one that writes, costs 0.3 MiB, and the ones after it nothing).

The file is marshal's, read only by the interpreter that wrote it (its first line is `sys.version`).
Kept code runs in the watcher, so a file that is not a regular one, not the user's own, or writable by
anyone else is never read; a damaged one is ignored. Either way the start works everything out again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import marshal
import os
import sys
import zlib
from pathlib import Path
from types import CodeType
from typing import Any

from ..core import toml_text
from ..core.team_root import find_root
from ..store import layout
from ..store.safefs import UnsafeState, private_dir, read_nofollow, real_folder, write_private

#: What the file holds at most: far more than a start compiles and parses.
MAX_BYTES = 4 << 20
log = logging.getLogger(__name__)
_HEADER = (sys.version + "\n").encode()

#: Kept code by (length, CRC-32) of its text, each entry marshal's bytes of (text, code): only the
#: entries a start runs are unpacked (and their text compared), so the others never become objects
#: on the heap that the watcher then idles with.
_kept: dict[tuple[int, int], bytes] = {}
_new: dict[tuple[int, int], bytes] = {}
_taken: dict[tuple[int, int], bytes] = {}  # the kept entries this start ran
_state: list[Path] = []  # the state/ folder of the start in progress


def _exec(source: Any, globals: Any = None, locals: Any = None) -> None:
    """`exec`, for `dataclasses`: its method text compiled once, as exec compiles a text."""
    if isinstance(source, str):
        key = (len(source), zlib.crc32(source.encode()))
        entry = _kept.get(key)  # once: `finish` may clear the table from another thread meanwhile
        code = _unpack(entry, source)
        if code is None:
            code = compile(source, "<string>", "exec", dont_inherit=True)
            _new[key] = _kept[key] = marshal.dumps((source, code))
        elif entry is not None:
            _taken[key] = entry
        source = code
    exec(source, globals, locals)


def _unpack(entry: bytes | None, source: str) -> CodeType | None:
    """The code of a kept entry, if it is the code of `source`."""
    if entry is None:
        return None
    try:
        text, code = marshal.loads(entry)
    except (EOFError, ValueError, TypeError):
        return None
    return code if text == source and isinstance(code, CodeType) else None


def _path(state_dir: Path) -> Path:
    return layout.start_cache(state_dir, sys.implementation.cache_tag or sys.implementation.name)


def _table(value: object, key: type) -> dict[Any, bytes]:
    if isinstance(value, dict) and all(isinstance(k, key) and isinstance(v, bytes) for k, v in value.items()):
        return value
    return {}


def _read(path: Path) -> tuple[dict[tuple[int, int], bytes], dict[str, bytes]]:
    """The kept code and TOML values in `path`; nothing when it is not there, not ours alone, another
    interpreter's or damaged."""
    try:
        data = read_nofollow(path, owned=True, limit=MAX_BYTES)
    except OSError:
        return {}, {}
    if not data.startswith(_HEADER):
        return {}, {}
    try:
        kept = marshal.loads(data[len(_HEADER):])
    except (EOFError, ValueError, TypeError):
        return {}, {}
    if not isinstance(kept, dict):
        return {}, {}
    return _table(kept.get("code"), tuple), _table(kept.get("toml"), str)


def start(root: str | None) -> None:
    """Work the start out from what the watchers of the team found from `root` (as the watcher finds
    it) kept, until `finish`. Nothing for a watcher outside a team."""
    team_dir = find_root(root, os.environ, Path.cwd())
    if team_dir is None or _state:
        return
    state_dir = layout.state_dir(team_dir)
    code, toml = _read(_path(state_dir)) if real_folder(state_dir) else ({}, {})
    _kept.update(code)
    toml_text.learn(toml)
    _state.append(state_dir)
    vars(dataclasses)["exec"] = _exec


def finish() -> None:
    """The start is over: `dataclasses` compiles as before; what was new is kept for the next watchers."""
    if not _state:
        return
    vars(dataclasses).pop("exec", None)
    state_dir = _state.pop()
    code, new_code = {**_taken, **_new}, len(_new)
    used_toml, made_toml = toml_text.taught()
    log.info("start-up's record methods: %d run from earlier starts' code, %d compiled; %d TOML texts parsed",
             len(_taken), new_code, len(made_toml))
    _kept.clear()
    _new.clear()
    _taken.clear()
    if not (new_code or made_toml) or not real_folder(state_dir):
        return  # state/ is made (and judged) by the watcher, not here
    path = _path(state_dir)
    with contextlib.suppress(OSError, UnsafeState, ValueError):
        data = marshal.dumps({"code": code, "toml": {**used_toml, **made_toml}})
        if len(data) <= MAX_BYTES:
            private_dir(path.parent)
            write_private(path, _HEADER + data)

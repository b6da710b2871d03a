"""What every watcher's start works out the same way, kept under state/cache for the next watchers.

Two things, each the same text turned into the same result in each of the 200 watchers `up` starts:
- the records' methods: `dataclasses` writes each record's `__init__`, `__eq__`, `__repr__` ... as
  source text and compiles it when the record is built. A watcher builds some 26 records as it
  starts: about a tenth of the start's CPU.
- the TOML files it reads (core/toml_text.py): its descriptor, the generic patterns, the prices.

`start` takes what earlier watchers kept, and has `dataclasses` compile through `_exec`: a text
compiled before runs from its kept code, and only a new one is compiled. When the start is over
(`finish`: the first idle turn, or the watcher's end) `dataclasses` compiles as before, what was new
is added to state/cache/start.<interpreter>, and the rest is let go.

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
import stat
import sys
from pathlib import Path
from types import CodeType
from typing import Any

from ..core import toml_text
from ..core.team_root import find_root
from ..store import layout
from ..store.safefs import UnsafeState, private_dir, write_private

#: What the file holds at most: far more than a start compiles and parses.
MAX_BYTES = 4 << 20
log = logging.getLogger(__name__)
_HEADER = (sys.version + "\n").encode()

_kept: dict[str, CodeType] = {}
_new: dict[str, CodeType] = {}
_taken: list[int] = []  # one per method run from kept code
_state: list[Path] = []  # the state/ folder of the start in progress


def _exec(source: Any, globals: Any = None, locals: Any = None) -> None:
    """`exec`, for `dataclasses`: its method text compiled once, as exec compiles a text."""
    if isinstance(source, str):
        code = _kept.get(source)
        if code is None:
            code = _new[source] = _kept[source] = compile(source, "<string>", "exec", dont_inherit=True)
        else:
            _taken.append(1)
        source = code
    exec(source, globals, locals)


def _path(state_dir: Path) -> Path:
    return layout.start_cache(state_dir, sys.implementation.cache_tag or sys.implementation.name)


def _table(value: object, kind: type) -> dict[str, Any]:
    if isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, kind) for k, v in value.items()):
        return value
    return {}


def _read(path: Path) -> tuple[dict[str, CodeType], dict[str, bytes]]:
    """The kept code and TOML values in `path`; nothing when it is not there, not ours alone, another
    interpreter's or damaged."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return {}, {}
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o022 or st.st_size > MAX_BYTES:
            return {}, {}
        with os.fdopen(os.dup(fd), "rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except OSError:
        return {}, {}
    finally:
        os.close(fd)
    if not data.startswith(_HEADER):
        return {}, {}
    try:
        kept = marshal.loads(data[len(_HEADER):])
    except (EOFError, ValueError, TypeError):
        return {}, {}
    if not isinstance(kept, dict):
        return {}, {}
    return _table(kept.get("code"), CodeType), _table(kept.get("toml"), bytes)


def _a_folder(state_dir: Path) -> bool:
    """state/ is a folder, not a link to one (check_state_dir judges the rest)."""
    try:
        return stat.S_ISDIR(os.lstat(state_dir).st_mode)
    except OSError:
        return False


def start(root: str | None) -> None:
    """Work the start out from what the watchers of the team found from `root` (as the watcher finds
    it) kept, until `finish`. Nothing for a watcher outside a team."""
    team_dir = find_root(root, os.environ, Path.cwd())
    if team_dir is None or _state:
        return
    state_dir = layout.state_dir(team_dir)
    code, toml = _read(_path(state_dir)) if _a_folder(state_dir) else ({}, {})
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
    new_code, new_toml = dict(_new), toml_text.taught()
    log.info("start-up's record methods: %d run from earlier starts' code, %d compiled; %d TOML texts parsed",
             len(_taken), len(new_code), len(new_toml))
    _kept.clear()
    _new.clear()
    _taken.clear()
    if not (new_code or new_toml) or not _a_folder(state_dir):
        return  # state/ is made (and judged) by the watcher, not here
    path = _path(state_dir)
    with contextlib.suppress(OSError, UnsafeState, ValueError):
        code, toml = _read(path)  # another watcher's may have come meanwhile
        data = marshal.dumps({"code": {**code, **new_code}, "toml": {**toml, **new_toml}})
        if len(data) > MAX_BYTES:
            data = marshal.dumps({"code": new_code, "toml": new_toml})
        private_dir(path.parent)
        write_private(path, _HEADER + data)

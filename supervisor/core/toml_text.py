"""TOML text read into values, once per text for a team's watchers.

A watcher reads the same files at every start: its runtime's descriptor, the generic patterns, the
price table, the head of each descriptor (for its aliases). `tomllib` takes about a twentieth of
that start, half of it compiling its own regular expressions on import. While a watcher starts
(agent/start_cache.py), a text parsed by an earlier watcher comes from its kept value (marshal's
bytes, a fresh copy at each call), and `tomllib` is imported only for a text not seen before.
"""

from __future__ import annotations

import marshal
from typing import Any

_known: dict[str, bytes] = {}
_new: dict[str, bytes] = {}
_used: dict[str, bytes] = {}  # known texts this start read
_learning: list[bool] = []


class TomlSyntaxError(ValueError):
    """The text is not TOML (tomllib's message)."""


def loads(text: str) -> dict[str, Any]:
    """`tomllib.loads(text)`; TomlSyntaxError when it refuses the text."""
    kept = _known.get(text)
    if kept is not None:
        try:
            value = marshal.loads(kept)
        except (EOFError, ValueError, TypeError):
            value = None
        if isinstance(value, dict):
            _used[text] = kept
            return value
    import tomllib

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TomlSyntaxError(str(exc)) from None
    if _learning:
        try:
            _known[text] = _new[text] = marshal.dumps(data)
        except ValueError:  # a TOML date or time: marshal has no such type; parsed at each start
            pass
    return data


def learn(known: dict[str, bytes]) -> None:
    """Take the values of `known` texts, and keep those of new ones, until `taught`."""
    _known.update(known)
    _learning[:] = [True]


def taught() -> tuple[dict[str, bytes], dict[str, bytes]]:
    """The values of the known texts read since `learn`, and of those first parsed since; everything
    kept is let go."""
    used, new = dict(_used), dict(_new)
    _known.clear()
    _new.clear()
    _used.clear()
    _learning.clear()
    return used, new

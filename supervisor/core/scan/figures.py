"""Numbers as CLIs print them: thousands separators, compact suffixes and currency signs."""

from __future__ import annotations

import re

from ..lazyre import LazyPattern

# Compiled with the first cost line read, not at every watcher's start.
_NUMBER = LazyPattern(r"^\s*\$?\s*([0-9][0-9,_]*(?:\.[0-9]+)?|\.[0-9]+)\s*([kmb])?\s*$", re.IGNORECASE)
_SUFFIX = {"k": 1e3, "m": 1e6, "b": 1e9}


def parse_figure(text: str | None) -> float | None:
    """Read `48,213`, `12.3k`, `1.2M`, `$0.0123` as a float; None for anything else.

    A comma is a thousands separator only (CLIs print figures in an English locale).
    """
    if text is None or len(text) > 40:
        return None
    m = _NUMBER.match(text)
    if not m:
        return None
    digits, suffix = m.groups()
    try:
        value = float(digits.replace(",", "").replace("_", ""))
    except ValueError:
        return None
    if suffix:
        value *= _SUFFIX[suffix.lower()]
    return value


def parse_count(text: str | None) -> int | None:
    """A token count: a figure rounded to an integer."""
    value = parse_figure(text)
    return None if value is None else int(round(value))

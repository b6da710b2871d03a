"""Regexes compiled on first use.

A watcher process lives per agent, and most of them never see a rate-limit line: compiling every
reset-text and signature pattern (and importing the `regex` engine for them) at start-up is memory
and CPU paid fifty times over for nothing. A LazyPattern keeps the source and compiles it the first
time anything but `.pattern` is asked of it; after that it is the compiled pattern in all but type.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any


class LazyPattern:
    """A pattern's source and flags; attribute access (search, groupindex, ...) goes to the pattern
    compiled by `compile` on first use. `.pattern` is the source text and never compiles."""

    __slots__ = ("pattern", "_flags", "_compile", "_compiled")

    def __init__(self, pattern: str, flags: int = 0, compile: Callable[[str, int], Any] = re.compile) -> None:
        self.pattern = pattern
        self._flags = flags
        self._compile = compile
        self._compiled: Any = None

    @property
    def compiled(self) -> Any:
        """The compiled pattern (compiled now if it was not yet)."""
        compiled = self._compiled
        if compiled is None:
            compiled = self._compiled = self._compile(self.pattern, self._flags)
        return compiled

    @property
    def is_compiled(self) -> bool:
        return self._compiled is not None

    def search(self, *args: Any, **kwargs: Any) -> Any:
        return self.compiled.search(*args, **kwargs)

    def match(self, *args: Any, **kwargs: Any) -> Any:
        return self.compiled.match(*args, **kwargs)

    def fullmatch(self, *args: Any, **kwargs: Any) -> Any:
        return self.compiled.fullmatch(*args, **kwargs)

    def sub(self, *args: Any, **kwargs: Any) -> Any:
        return self.compiled.sub(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in LazyPattern.__slots__:  # copy/pickle probes, unset slots
            raise AttributeError(name)
        return getattr(self.compiled, name)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, LazyPattern):
            return (self.pattern, self._flags, self._compile) == (other.pattern, other._flags, other._compile)
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.pattern, self._flags))

    def __repr__(self) -> str:
        return f"LazyPattern({self.pattern!r}, {self._flags!r})"


"""Dataclasses built on first use.

`dataclasses.dataclass` writes each class's methods as source text and compiles them with exec when
the class is defined: about 1 ms for a frozen class, 63 ms of the 125 ms a watcher spends importing
its 65 records, though it makes instances of only a score of them. `up` starts fifty to two hundred
watchers at once, so that compile time is paid thousands of times for nothing.

`lazy_dataclass(...)` takes the same options and leaves the class as it was written until it is first
used: its first instance, or anything that asks for its fields (`dataclasses.fields`, `is_dataclass`,
`replace`, `asdict`). Then the real `dataclasses.dataclass` builds it, in place, with those options.
From then on it is the dataclass it would have been.

A class first used by two threads at once is built once: taking it from `_PENDING` is one dict
operation, atomic under the GIL, and the thread that did not get it yields until the other is done.
core takes no thread primitives (tests/test_layers.py), and that wait happens at most once per class.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, TypeVar, dataclass_transform

T = TypeVar("T")

#: Classes waiting to be built, with the options they were declared with.
_PENDING: dict[type, dict[str, Any]] = {}
#: Every class declared lazy, and those whose build is over.
_LAZY: set[type] = set()
_BUILT: set[type] = set()


class _FieldsOnFirstAsk:
    """Sits at `__dataclass_fields__` until the class is built: any question about the fields builds it."""

    def __get__(self, instance: object, owner: type) -> Any:
        for klass in owner.__mro__:  # the owner, or the lazy base a plain subclass inherits this from
            build(klass)
        return owner.__dataclass_fields__  # type: ignore[attr-defined]


def build(cls: type) -> None:
    """Build `cls` (its lazy bases first) if it is still waiting; return once it is built."""
    options = _PENDING.pop(cls, None)
    if options is None:
        while cls in _LAZY and cls not in _BUILT:
            time.sleep(0)  # another thread is building it
        return
    try:
        for base in cls.__mro__[1:]:
            build(base)
        del cls.__init__  # type: ignore[misc]  # dataclass adds __init__ only where the class has none
        del cls.__dataclass_fields__  # type: ignore[attr-defined]
        dataclasses.dataclass(cls, **options)
    finally:
        _BUILT.add(cls)


def pending() -> list[type]:
    """The classes not built yet (a test builds them all to find a bad declaration early)."""
    return list(_PENDING)


@dataclass_transform(field_specifiers=(dataclasses.field, dataclasses.Field))
def lazy_dataclass(cls: type[T] | None = None, /, **options: Any) -> Any:
    """`dataclasses.dataclass`, applied the first time the class is used (same options)."""

    def wrap(klass: type[T]) -> type[T]:
        if options.get("slots") or "__init__" in klass.__dict__:  # a new class, or an __init__ of its own
            return dataclasses.dataclass(klass, **options)

        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
            build(klass)
            klass.__init__(self, *args, **kwargs)  # type: ignore[misc]

        __init__.__qualname__ = f"{klass.__qualname__}.__init__"
        klass.__init__ = __init__  # type: ignore[misc]
        klass.__dataclass_fields__ = _FieldsOnFirstAsk()  # type: ignore[attr-defined]
        _LAZY.add(klass)
        _PENDING[klass] = options
        return klass

    return wrap if cls is None else wrap(cls)

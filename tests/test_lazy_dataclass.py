"""core/lazy_dataclass.py: a record is built on first use and is then the dataclass it would have been.

Every record in supervisor/ is built here once, so a bad declaration (a mutable default, a field
without a default after one with) fails in this test, not in a watcher the first time it is used.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import threading
from dataclasses import field

import pytest
import teamctl_supervisor
from teamctl_supervisor.core.lazy_dataclass import build, lazy_dataclass, pending


def test_every_record_in_the_package_builds_into_a_dataclass() -> None:
    records = []
    for info in pkgutil.walk_packages(teamctl_supervisor.__path__, "teamctl_supervisor."):
        if info.name.endswith(".__main__") or ".store." in info.name:  # the command line; store's are plain
            continue
        module = importlib.import_module(info.name)
        records += [cls for cls in vars(module).values() if isinstance(cls, type)
                    and cls.__module__ == module.__name__ and "__dataclass_fields__" in cls.__dict__]
    assert len(records) > 60  # every record of core, agent, team and web is declared lazy
    for cls in records:
        build(cls)
        assert "__repr__" in cls.__dict__ and dataclasses.is_dataclass(cls), cls  # methods written: built
    assert not [cls for cls in pending() if cls.__module__.startswith("teamctl_supervisor.")]


def _records() -> tuple[type, type, type]:
    @lazy_dataclass(frozen=True)
    class Base:
        """A frozen record with a factory default."""

        x: int
        items: list[int] = field(default_factory=list)

    @lazy_dataclass(frozen=True)
    class Child(Base):
        name: str = "child"

    class Plain(Base):
        """Not a dataclass itself: it inherits Base's."""

    return Base, Child, Plain


def test_a_record_waits_until_first_used_then_behaves_as_the_dataclass() -> None:
    base, child, plain = _records()
    assert {base, child} <= set(pending())
    assert "__repr__" not in base.__dict__ and "__eq__" not in child.__dict__  # nothing compiled yet
    made = child(1, [2], "c")  # the first instance builds its lazy base first
    assert base not in pending() and child not in pending()
    assert "__repr__" in base.__dict__ and "__eq__" in child.__dict__
    assert made == child(1, [2], "c") and made != child(1, [2], "d")
    assert repr(made).endswith("Child(x=1, items=[2], name='c')")
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.x = 5  # type: ignore[misc]
    assert dataclasses.replace(made, x=9) == child(9, [2], "c")
    assert dataclasses.asdict(made) == {"x": 1, "items": [2], "name": "c"}
    assert plain(4).items == [] and plain(4) is not plain(4)
    with pytest.raises(TypeError):
        base()  # type: ignore[call-arg]  # x has no default: the real __init__ says so


def test_asking_for_the_fields_builds_the_record_without_an_instance() -> None:
    base, child, plain = _records()
    assert [f.name for f in dataclasses.fields(plain)] == ["x", "items"]  # through the plain subclass
    assert base not in pending() and child in pending()
    assert dataclasses.is_dataclass(child)  # asks for its fields: built
    assert child not in pending()
    assert [f.name for f in dataclasses.fields(child)] == ["x", "items", "name"]


def _first_use_at_once(record: type, threads: int) -> tuple[list[object], list[BaseException]]:
    start = threading.Barrier(threads)
    made: list[object] = []
    errors: list[BaseException] = []

    def use() -> None:
        start.wait()
        try:
            made.append(record(7))
        except BaseException as exc:  # noqa: BLE001 - returned to the test
            errors.append(exc)

    running = [threading.Thread(target=use) for _ in range(threads)]
    for t in running:
        t.start()
    for t in running:
        t.join(10)
    return made, errors


def test_two_threads_using_a_record_first_at_once_both_get_the_real_instance() -> None:
    for _ in range(20):
        _base, child, _plain = _records()
        made, errors = _first_use_at_once(child, 4)
        assert not errors and len(made) == 4
        assert all(m == child(7) for m in made)
        assert "__init__" in child.__dict__ and child.__init__.__code__.co_filename != __file__

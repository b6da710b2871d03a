"""agent/start_cache.py: the record methods a watcher's start compiles and the TOML it parses are kept in
state/cache for the next watchers, which then compile and parse none of them; a file that is not ours
alone, another interpreter's or damaged is never read; and once the start is over `dataclasses`
compiles as it always did."""

from __future__ import annotations

import dataclasses
import marshal
import os
import re
import subprocess
import sys
from dataclasses import field
from pathlib import Path

import pytest
from reliakit import hanging_team
from teamctl_supervisor.agent import start_cache
from teamctl_supervisor.core.lazy_dataclass import lazy_dataclass
from teamctl_supervisor.store import layout
from watchkit import fake_env, make_team


def _record() -> type:
    """A fresh frozen record, its text the same at every call (so a second one is a text seen before)."""

    @lazy_dataclass(frozen=True)
    class Spend:
        source: str
        usd: float = 0.0
        models: tuple[str, ...] = ()
        notes: tuple[str, ...] = field(default_factory=tuple)

    return Spend


@pytest.fixture
def team(tmp_path: Path) -> Path:
    team = make_team(tmp_path, {"a": ""})
    (team / "state").mkdir(mode=0o700)
    yield team
    start_cache.finish()


def _kept(team: Path) -> Path:
    return layout.start_cache(team / "state", sys.implementation.cache_tag)


def test_a_second_start_runs_the_kept_code_and_its_records_behave_the_same(team: Path) -> None:
    start_cache.start(str(team))
    first = _record()
    made = first("claude", 1.5, ("m",))
    assert "exec" in vars(dataclasses)
    start_cache.finish()
    assert "exec" not in vars(dataclasses)  # compiles as before once the start is over
    kept = marshal.loads(_kept(team).read_bytes().split(b"\n", 1)[1])["code"]
    assert any("def __init__(self,source:" in marshal.loads(entry)[0] for entry in kept.values())

    compiled: list[str] = []
    real_compile = compile

    def counting(source, *args, **kwargs):  # type: ignore[no-untyped-def]
        compiled.append(source)
        return real_compile(source, *args, **kwargs)

    start_cache.start(str(team))
    vars(start_cache)["compile"] = counting
    try:
        second = _record()
        again = second("claude", 1.5, ("m",))
    finally:
        del vars(start_cache)["compile"]
        start_cache.finish()
    assert compiled == []  # every method came from the kept code
    assert repr(again) == repr(made) and again.notes == () and hash(again) == hash(second("claude", 1.5, ("m",)))
    assert again == second("claude", 1.5, ("m",)) and again != second("claude", 2.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        again.usd = 3.0  # type: ignore[misc]
    assert [f.name for f in dataclasses.fields(second)] == ["source", "usd", "models", "notes"]
    assert dataclasses.replace(again, usd=2.0).usd == 2.0


SPOILS = ["others_may_write", "a_link", "another_python", "damaged", "not_a_table", "too_big"]
SPOILS += ["another_users"] if os.geteuid() == 0 else []  # only root can give a file away


@pytest.mark.parametrize("spoil", SPOILS)
def test_a_file_not_ours_alone_or_not_this_pythons_is_never_read(team: Path, tmp_path: Path, spoil: str) -> None:
    start_cache.start(str(team))
    _record()("x")
    start_cache.finish()
    path = _kept(team)
    assert start_cache._read(path)[0]  # the good file is read
    good = path.read_bytes()
    if spoil == "others_may_write":
        os.chmod(path, 0o666)
    elif spoil == "another_users":
        os.chown(path, 65534, 65534)
    elif spoil == "a_link":
        elsewhere = tmp_path / "planted"
        elsewhere.write_bytes(good)
        elsewhere.chmod(0o600)
        path.unlink()
        path.symlink_to(elsewhere)
    elif spoil == "another_python":
        path.write_bytes(good.replace(sys.version.encode(), b"3.99.0 (elsewhere)"))
    elif spoil == "too_big":
        path.write_bytes(good + b"\0" * (start_cache.MAX_BYTES + 1 - len(good)))  # marshal ignores the tail
    elif spoil == "damaged":
        path.write_bytes(good[: len(good) // 2])
    else:
        path.write_bytes(good.split(b"\n", 1)[0] + b"\n" + marshal.dumps(["not", "a", "table"]))
    assert start_cache._read(path) == ({}, {})
    start_cache.start(str(team))
    try:
        assert _record()("x", 2.0).usd == 2.0  # the records compile as before
    finally:
        start_cache.finish()


def test_a_watcher_outside_a_team_keeps_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEAMCTL_ROOT", raising=False)
    monkeypatch.chdir(tmp_path)
    start_cache.start(None)
    assert "exec" not in vars(dataclasses)
    start_cache.finish()
    assert not list(tmp_path.rglob("start.*"))


def test_the_next_watcher_of_the_team_works_out_nothing_the_first_one_kept(tmp_path: Path) -> None:
    """Two watchers of one agent, one after the other, each through its whole life (start, the runtime's
    end, its own end): the first compiles its records' methods and parses its TOML and keeps both;
    the second compiles and parses none (tomllib is never imported), and leaves the file as it was."""
    team = hanging_team(tmp_path, 1, steps=("print:up",), extra="    restart: never\n")
    path = _kept(team)
    log = team / "state" / "logs" / "p-a0.supervisor.log"

    def watch() -> tuple[str, bool]:
        """The watcher's line about its start, and whether it imported tomllib."""
        size = log.stat().st_size if log.exists() else 0
        done = subprocess.run([sys.executable, "-X", "importtime", "-m", "teamctl_supervisor", "rl-watch", "p:a0",
                               "--root", str(team)], env=fake_env(team), capture_output=True, text=True, timeout=60,
                              stdin=subprocess.DEVNULL)
        assert done.returncode == 0, done.stderr[-2000:]
        lines = [line for line in log.read_bytes()[size:].decode().splitlines() if "start-up's record methods" in line]
        assert len(lines) == 1, lines
        return lines[0], bool(re.search(r"\| +tomllib$", done.stderr, re.M))

    first, parsed = watch()
    assert re.search(r": 0 run from earlier starts' code, [1-9]\d+ compiled; [1-9]\d* TOML texts parsed$", first), first
    assert parsed
    before = path.stat()
    second, parsed = watch()
    assert re.search(r": [1-9]\d+ run from earlier starts' code, 0 compiled; 0 TOML texts parsed$", second), second
    assert not parsed
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_a_start_that_made_something_writes_what_it_used_and_made_not_the_rest(team: Path) -> None:
    """The file is written anew, never unpacked again to merge: another start's entries this one did not
    use are left out (the next start that needs them compiles and keeps them again). An entry whose
    text is not the one asked for (the same length and CRC-32) is compiled, not run."""
    start_cache.start(str(team))
    _record()("x")
    start_cache.finish()
    path = _kept(team)
    header, body = path.read_bytes().split(b"\n", 1)
    kept = marshal.loads(body)
    other = ("# another start's text\n", compile("pass", "<string>", "exec"))
    kept["code"][(len(other[0]), 1)] = marshal.dumps(other)
    path.write_bytes(header + b"\n" + marshal.dumps(kept))
    path.chmod(0o600)

    start_cache.start(str(team))
    _record()("x")  # its methods: from the kept code

    @lazy_dataclass(frozen=True)
    class Fresh:
        name: str

    Fresh("new")  # compiled: this start made something
    start_cache.finish()
    code = start_cache._read(path)[0]
    assert (len(other[0]), 1) not in code
    assert set(kept["code"]) - {(len(other[0]), 1)} < set(code)  # what it used, and what it made


def test_a_kept_entry_for_another_text_is_never_run(team: Path) -> None:
    start_cache.start(str(team))
    made = _record()("x")
    start_cache.finish()
    path = _kept(team)
    header, body = path.read_bytes().split(b"\n", 1)
    kept = marshal.loads(body)
    for key, entry in kept["code"].items():  # each entry's code swapped for code that raises
        text, _ = marshal.loads(entry)
        kept["code"][key] = marshal.dumps((text + "# not this text\n", compile("1/0", "<string>", "exec")))
    path.write_bytes(header + b"\n" + marshal.dumps(kept))
    start_cache.start(str(team))
    try:
        assert repr(_record()("x")) == repr(made)
    finally:
        start_cache.finish()

"""A team's own descriptor is checked in full once per text, then loaded as the built-ins are.

The hardest realistic case: a copy of the largest built-in descriptor (Claude Code's, every regex a
team could write) as a team's own, the same text started again, and then an edit that adds a regex
the check refuses, which must be refused even though the old text's record is there."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from teamctl_supervisor.core.descriptors.checked import record_content
from teamctl_supervisor.core.descriptors.files import BUILTIN_DIR
from teamctl_supervisor.core.descriptors.loader import DescriptorError, load_runtime
from teamctl_supervisor.core.lazyre import LazyPattern
from teamctl_supervisor.store import layout
from teamctl_supervisor.store.descriptor_checks import DescriptorChecks
from watchkit import fake_env

BAD = '\n[[rate_limit]]\nid = "mine-bad"\nmatch = \'(a+)+ limit\'\nkeywords = ["limit"]\n'

# Runs `teamctl rl-watch ARGS` in this process and writes sys.modules to argv[1] at exit.
WRAPPER = r"""
import atexit, sys
atexit.register(lambda: open(sys.argv[1], "w").write("\n".join(sorted(sys.modules))))
from teamctl_supervisor.cli import main
sys.exit(main(["rl-watch", *sys.argv[2:]]))
"""


def _team_copy(root: Path) -> Path:
    (root / "runtimes").mkdir(parents=True)
    text = (BUILTIN_DIR / "claude-code.toml").read_text(encoding="utf-8")
    path = root / "runtimes" / "mine.toml"
    path.write_text(text.replace('name = "claude-code"', 'name = "mine"', 1), encoding="utf-8")
    return path


def _own(runtime, path: Path) -> list:
    """The team file's own signatures (the generic patterns file's are built in, always lazy)."""
    return [s for s in (*runtime.rate_limits, *runtime.costs, *runtime.dialogs, *runtime.ignores)
            if s.source == str(path)]


def test_a_checked_text_loads_lazily_and_an_edited_one_is_checked_again(tmp_path: Path) -> None:
    path = _team_copy(tmp_path)
    checks = DescriptorChecks(layout.state_dir(tmp_path))
    first = load_runtime("mine", tmp_path, checks=checks)
    own = _own(first, path)
    assert len(own) >= 10
    assert not any(isinstance(s.regex, LazyPattern) for s in own)  # compiled and checked here
    record = layout.descriptor_check(layout.state_dir(tmp_path), "mine.toml")
    assert record.read_text(encoding="utf-8") == record_content(path.read_text(encoding="utf-8"))
    assert (record.stat().st_mode & 0o777) == 0o600

    again = load_runtime("mine", tmp_path, checks=checks)
    own_again = _own(again, path)
    assert [s.id for s in own_again] == [s.id for s in own]
    assert all(isinstance(s.regex, LazyPattern) and not s.regex.is_compiled for s in own_again)
    # compiled on first use, the same pattern as the checked one
    line = "Claude AI usage limit reached|1796205076 · Total cost: $1.25 · Do you trust the files in this folder?"
    found = [bool(s.regex.search(line)) for s in own]
    assert any(found) and [bool(s.regex.search(line)) for s in own_again] == found

    path.write_text(path.read_text(encoding="utf-8") + BAD, encoding="utf-8")
    with pytest.raises(DescriptorError) as err:
        load_runtime("mine", tmp_path, checks=checks)
    assert "mine.toml" in str(err.value) and "rate_limit[" in str(err.value) and "nested" in str(err.value)


def test_without_a_record_every_load_checks_in_full(tmp_path: Path) -> None:
    path = _team_copy(tmp_path)
    for _ in range(2):
        assert not any(isinstance(s.regex, LazyPattern) for s in _own(load_runtime("mine", tmp_path), path))
    assert not layout.state_dir(tmp_path).exists()


def test_a_link_planted_at_a_record_is_not_a_record_and_is_never_written_through(tmp_path: Path) -> None:
    path = _team_copy(tmp_path)
    state = layout.state_dir(tmp_path)
    content = record_content(path.read_text(encoding="utf-8"))
    record = layout.descriptor_check(state, "mine.toml")
    record.parent.mkdir(parents=True)
    target = tmp_path / "elsewhere.txt"
    target.write_text(content)  # even a link to the very text is not a record
    record.symlink_to(target)
    checks = DescriptorChecks(state)
    assert not checks.passed("mine.toml", content)
    runtime = load_runtime("mine", tmp_path, checks=checks)
    assert not any(isinstance(s.regex, LazyPattern) for s in _own(runtime, path))
    assert target.read_text() == content
    assert not record.is_symlink() and record.is_file() and checks.passed("mine.toml", content)
    record.unlink()
    os.mkfifo(record)  # a fifo at the name: no record, and no read that waits for a writer
    assert not checks.passed("mine.toml", content)


def test_validate_leaves_a_tree_without_state_as_it_is(tmp_path: Path) -> None:
    _team_copy(tmp_path)
    state = layout.state_dir(tmp_path)
    load_runtime("mine", tmp_path, checks=DescriptorChecks(state, create=False))
    assert not state.exists()
    state.mkdir()
    load_runtime("mine", tmp_path, checks=DescriptorChecks(state, create=False))
    assert len(list((state / "cache" / "descriptor-checks").iterdir())) == 1


def _watch(tmp_path: Path, root: Path, n: int) -> tuple[subprocess.CompletedProcess, set[str]]:
    out = tmp_path / f"modules-{n}.txt"
    proc = subprocess.run([sys.executable, "-c", WRAPPER, str(out), "solo:mine", "--root", str(root), "--runtime",
                           "mine", "--restart", "never", "--", "true"], cwd=root, env=fake_env(root),
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    return proc, set(out.read_text().split("\n")) if out.exists() else set()


def test_a_second_watcher_on_the_same_text_never_loads_the_regex_engine(tmp_path: Path) -> None:
    root = tmp_path / "team"
    path = _team_copy(root)
    first, mods = _watch(tmp_path, root, 1)
    assert first.returncode == 0, first.stderr
    assert "regex" in mods  # the first start checked every regex on the engine
    second, mods = _watch(tmp_path, root, 2)
    assert second.returncode == 0, second.stderr
    assert "regex" not in mods and "_hashlib" not in mods and "teamctl_supervisor.agent.watch" in mods

    path.write_text(path.read_text(encoding="utf-8") + BAD, encoding="utf-8")
    before = sorted(os.listdir(layout.state_dir(root)))
    third, _ = _watch(tmp_path, root, 3)
    assert third.returncode == 2
    assert "mine.toml" in third.stderr and "nested unbounded repetition" in third.stderr
    assert sorted(os.listdir(layout.state_dir(root))) == before  # nothing half-started


def test_a_state_folder_that_is_a_link_is_neither_read_nor_written(tmp_path: Path) -> None:
    path = _team_copy(tmp_path)
    content = record_content(path.read_text(encoding="utf-8"))
    outside = tmp_path / "outside"
    (outside / "cache" / "descriptor-checks").mkdir(parents=True)
    (outside / "cache" / "descriptor-checks" / "mine.toml").write_text(content)  # a record, but not ours
    layout.state_dir(tmp_path).symlink_to(outside)
    checks = DescriptorChecks(layout.state_dir(tmp_path))
    assert not checks.passed("mine.toml", content)
    (outside / "cache" / "descriptor-checks" / "mine.toml").unlink()
    runtime = load_runtime("mine", tmp_path, checks=checks)
    assert not any(isinstance(s.regex, LazyPattern) for s in _own(runtime, path))
    assert list((outside / "cache" / "descriptor-checks").iterdir()) == []


def test_a_read_only_record_is_read_and_never_written(tmp_path: Path) -> None:
    path = _team_copy(tmp_path)
    state = layout.state_dir(tmp_path)
    state.mkdir()
    load_runtime("mine", tmp_path, checks=DescriptorChecks(state, read_only=True))
    assert not (state / "cache").exists()
    load_runtime("mine", tmp_path, checks=DescriptorChecks(state))
    again = load_runtime("mine", tmp_path, checks=DescriptorChecks(state, read_only=True))
    assert all(isinstance(s.regex, LazyPattern) for s in _own(again, path))

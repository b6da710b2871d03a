"""A near-miss key that changes what runs is an error (exit 2, nothing started): `runtim: codex`
once started claude-code with exit 0. Other near misses stay warnings."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import FakeBin, copy_example
from teamctl_supervisor.cli import main


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEAMCTL_ROOT", raising=False)


def _edit(root: Path, change) -> Path:
    project = root / ".team" / "projects" / "hello.yaml"
    data = yaml.safe_load(project.read_text())
    change(data)
    project.write_text(yaml.safe_dump(data, sort_keys=False))
    return project


@pytest.mark.parametrize(("where", "typo", "meant"), [
    (("workers", "dev"), "runtim", "runtime"),
    (("workers", "dev"), "modle", "model"),
    (("project",), "cdw", "cwd"),
])
def test_a_near_miss_of_a_key_that_changes_what_runs_is_an_error(
        where: tuple[str, ...], typo: str, meant: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        fake_bin: FakeBin) -> None:
    root = copy_example("hello-team", tmp_path)

    def change(data: dict) -> None:
        node = data
        for k in where:
            node = node[k]
        node.pop(meant, None)
        node[typo] = "codex" if meant == "runtime" else "."

    project = _edit(root, change)
    assert main(["validate", "-C", str(root)]) == 2
    out = capsys.readouterr().out
    assert f"{project}: {'.'.join(where)}.{typo}: unknown key {typo!r} (did you mean {meant!r}?)" in out
    assert f"rename it to {meant!r}" in out and "1 error" in out
    assert main(["up", "-C", str(root)]) == 2
    assert "nothing started" in capsys.readouterr().err
    assert not (root / ".team" / "state" / "mailbox.db").exists()


def test_other_near_misses_stay_warnings(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         fake_bin: FakeBin) -> None:
    root = copy_example("hello-team", tmp_path)
    _edit(root, lambda d: d["workers"]["dev"].update({"limit_grup": "x"}))
    assert main(["validate", "-C", str(root)]) == 0
    out = capsys.readouterr().out
    assert "unknown key 'limit_grup' (did you mean 'limit_group'?); ignored" in out

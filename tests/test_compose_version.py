"""Upstream's `version` is semver and a new optional field raises the minor: any 2.x.y loads; one
newer than the newest schema we know gets one warning for the whole tree (not one per file)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import FakeBin, copy_example
from teamctl_supervisor.cli import main


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEAMCTL_ROOT", raising=False)


def _set_version(root: Path, value: str) -> None:
    for f in [root / ".team" / "team-compose.yaml", *(root / ".team" / "projects").glob("*.yaml")]:
        f.write_text(re.sub(r"(?m)^version: .*$", f"version: {value}", f.read_text()))


def _validate(root: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["validate", "-C", str(root)])
    return code, capsys.readouterr().out


@pytest.mark.parametrize("value", ['"2.1.0"', "2.1", '"2.12.3"'])
def test_a_newer_minor_loads_with_one_warning(value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              fake_bin: FakeBin) -> None:
    root = copy_example("hello-team", tmp_path)
    _set_version(root, value)
    code, out = _validate(root, capsys)
    assert code == 0, out
    assert out.count("is newer than the newest this supervisor knows (2.0.1)") == 1
    assert out.count(": version: warning:") == 1


@pytest.mark.parametrize("value", ["2", '"2.0.0"', '"2.0.1"'])
def test_known_versions_have_no_warning(value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                        fake_bin: FakeBin) -> None:
    root = copy_example("hello-team", tmp_path)
    _set_version(root, value)
    code, out = _validate(root, capsys)
    assert code == 0 and ": version: warning" not in out, out


@pytest.mark.parametrize("value", ['"3.0.0"', '"2.x"', "true", '"v2"'])
def test_other_versions_are_errors(value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                   fake_bin: FakeBin) -> None:
    root = copy_example("hello-team", tmp_path)
    _set_version(root, value)
    code, out = _validate(root, capsys)
    assert code == 2 and "unsupported version" in out and "(any 2.x.y)" in out, out

"""Following an upstream example's README (`mkdir -p workspace` beside .team/, YAML `cwd:
./workspace`) gives an error that names both paths and the one-line fix, and upstream's rule (cwd is
resolved against the .team dir) stays as it is."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import UPSTREAM, FakeBin
from teamctl_supervisor.cli import main


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEAMCTL_ROOT", raising=False)


def _as_the_readme_says(tmp_path: Path) -> Path:
    root = tmp_path / "startup-team"
    shutil.copytree(UPSTREAM / "startup-team", root)
    assert "mkdir -p workspace" in (root / "README.md").read_text()
    (root / "workspace").mkdir()  # the README's step, run in the example's directory
    return root


def test_the_error_names_both_paths_and_the_fix(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                fake_bin: FakeBin) -> None:
    root = _as_the_readme_says(tmp_path)
    assert main(["validate", "-C", str(root)]) == 2
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if "project.cwd" in x)
    assert f"working directory does not exist: {root / '.team' / 'workspace'}" in line
    assert f"{root / 'workspace'} exists one level up: write `cwd: ../workspace`" in line
    assert "resolved against" in line


def test_the_fix_works_and_the_rule_is_upstreams(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                 fake_bin: FakeBin) -> None:
    root = _as_the_readme_says(tmp_path)
    project = root / ".team" / "projects" / "startup.yaml"
    project.write_text(project.read_text().replace("cwd: ./workspace", "cwd: ../workspace"))
    assert main(["validate", "-C", str(root)]) == 0, capsys.readouterr().out
    project.write_text(project.read_text().replace("cwd: ../workspace", "cwd: ./workspace"))
    (root / ".team" / "workspace").mkdir()  # resolved against .team/, as upstream does
    assert main(["validate", "-C", str(root)]) == 0, capsys.readouterr().out

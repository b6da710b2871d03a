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


@pytest.mark.parametrize("name", sorted(p.name for p in UPSTREAM.iterdir() if (p / ".team").is_dir()))
def test_every_upstream_example_as_its_readme_says_validates_or_names_the_fix(
        name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_bin: FakeBin) -> None:
    """The held-out check: each tree, with its README's `mkdir -p` lines run where the README runs
    them, either validates or fails with a message that names the one-line fix."""
    root = tmp_path / name
    shutil.copytree(UPSTREAM / name, root)
    for line in (root / "README.md").read_text().splitlines():
        if line.startswith("mkdir -p "):
            for d in line.split()[2:]:
                (root / d).mkdir(parents=True, exist_ok=True)
    code = main(["validate", "-C", str(root)])
    out = capsys.readouterr().out
    problems = [x for x in out.splitlines() if x.startswith(str(root)) and ": warning: " not in x]
    assert code in (0, 2), out
    if code == 2:  # only a cwd the README's mkdir put one level up, each naming the fix
        assert problems and all("project.cwd: working directory does not exist" in x for x in problems), out
        assert all("write `cwd: ../" in x for x in problems), out

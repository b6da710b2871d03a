"""`teamctl init` scaffolds a team that validates, on a CLI found on PATH, and never overwrites."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from conftest import FakeBin
from teamctl_supervisor.cli import main


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEAMCTL_ROOT", raising=False)


def test_init_writes_a_team_on_the_cli_found_on_path_and_validate_passes(
        tmp_path: Path, fake_bin: FakeBin, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    fake_bin.remove("claude")  # only codex and gemini are installed: codex comes first of those
    monkeypatch.setenv("PATH", str(fake_bin.dir))
    base = tmp_path / "My Repo"
    base.mkdir()
    monkeypatch.chdir(base)
    assert main(["init"]) == 0
    out = capsys.readouterr().out
    team = base / ".team"
    for rel in ("team-compose.yaml", "projects/my-repo.yaml", "roles/dev.md", ".gitignore"):
        assert (team / rel).is_file() and f"wrote .team/{rel}" in out
    project = yaml.safe_load((team / "projects" / "my-repo.yaml").read_text())
    assert project["project"]["id"] == "my-repo"
    assert project["workers"] == {"dev": {"runtime": "codex", "role_prompt": "roles/dev.md"}}
    assert main(["validate"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"ok: {team.resolve() / 'team-compose.yaml'}: 1 agent in 1 project") and "warning" not in out
    code = main(["--help"])
    assert code == 0 and "init" in capsys.readouterr().out


def test_init_never_overwrites_and_writes_nothing_when_a_file_exists(
        tmp_path: Path, fake_bin: FakeBin, capsys: pytest.CaptureFixture[str]) -> None:
    role = tmp_path / ".team" / "roles" / "dev.md"
    role.parent.mkdir(parents=True)
    role.write_text("my own role\n")
    assert main(["init", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"{role} already exists" in err and "never overwrites" in err
    assert role.read_text() == "my own role\n"
    assert sorted(p.name for p in (tmp_path / ".team").rglob("*")) == ["dev.md", "roles"]
    link = tmp_path / "other" / ".team" / "team-compose.yaml"
    link.parent.mkdir(parents=True)
    os.symlink(tmp_path / "elsewhere.yaml", link)  # a dangling link is an existing file too
    assert main(["init", str(tmp_path / "other")]) == 2
    assert not (tmp_path / "elsewhere.yaml").exists()


def test_init_with_no_cli_on_path_still_validates_and_says_what_to_install(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert main(["init", str(tmp_path), "--project", "demo"]) == 0
    assert "no agent CLI found on PATH; the agent uses claude-code" in capsys.readouterr().err
    assert main(["validate", "-C", str(tmp_path)]) == 0
    assert "runtime binary 'claude' not found on PATH" in capsys.readouterr().out

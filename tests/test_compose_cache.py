"""The parse cache: watchers started by `up` find the compose tree already parsed, by content."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import copy_example
from teamctl_supervisor.team.compose import load_team

# Loads the tree in a fresh interpreter and prints whether PyYAML had to be imported.
PROBE = (
    "import sys, json; from teamctl_supervisor.team.compose import load_team; "
    "t = load_team(sys.argv[1], None, cache=True); "
    "print(json.dumps({'yaml': 'yaml' in sys.modules, 'agents': [a.id for a in t.agents], "
    "'models': [a.model for a in t.agents]}))"
)


def probe(team_dir: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", PROBE, str(team_dir)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_a_second_load_skips_yaml_and_gives_the_same_team(tmp_path: Path) -> None:
    team_dir = copy_example("startup-team", tmp_path) / ".team"
    (team_dir / "state").mkdir()
    first = probe(team_dir)
    assert first["yaml"] is True
    cache = team_dir / "state" / "cache" / "compose.json"
    assert oct(cache.stat().st_mode & 0o777) == "0o600"
    again = probe(team_dir)
    assert again["yaml"] is False
    assert again["agents"] == first["agents"] and again["models"] == first["models"]
    assert load_team(team_dir, None) == load_team(team_dir, None, cache=True)


def test_an_edited_file_is_read_again(tmp_path: Path) -> None:
    team_dir = copy_example("hello-team", tmp_path) / ".team"
    (team_dir / "state").mkdir()
    before = probe(team_dir)
    project = next((team_dir / "projects").glob("*.yaml"))
    text = project.read_text()
    model = next(m for m in before["models"] if m)
    project.write_text(text.replace(model, "edited-model-1"))  # same length or not: the bytes differ
    after = probe(team_dir)
    assert after["yaml"] is True
    assert "edited-model-1" in after["models"] and model not in after["models"]


def test_no_cache_without_state_dir_nor_for_data_json_cannot_carry(tmp_path: Path) -> None:
    team_dir = copy_example("hello-team", tmp_path) / ".team"
    load_team(team_dir, None, cache=True)
    assert not (team_dir / "state").exists()  # a load never creates state/ by itself
    (team_dir / "state").mkdir()
    compose = team_dir / "team-compose.yaml"
    compose.write_text(compose.read_text() + "x-released: 2026-11-27\n")  # a date: not JSON
    load_team(team_dir, None, cache=True)
    files = json.loads((team_dir / "state" / "cache" / "compose.json").read_text())["files"]
    assert str(compose) not in files and len(files) >= 1  # the project files are cached


def test_a_broken_cache_file_is_ignored_and_rebuilt(tmp_path: Path) -> None:
    team_dir = copy_example("hello-team", tmp_path) / ".team"
    cache = team_dir / "state" / "cache" / "compose.json"
    cache.parent.mkdir(parents=True)
    cache.write_text("{not json")
    team = load_team(team_dir, None, cache=True)
    assert team.agents
    assert json.loads(cache.read_text())["version"] == 1

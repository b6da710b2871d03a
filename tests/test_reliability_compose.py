"""Hostile compose input (issue 23 item 6, build item 4): an alias bomb or deep nesting is refused
with exit 2 naming the file, and `status` and `down` still reach a running team from state/."""

from __future__ import annotations

import json

import pytest
from reliakit import hanging_team, kill_all, team_procs, teamctl
from teamctl_supervisor.core import yaml_limits
from teamctl_supervisor.core.descriptors.loader import load_descriptor
from teamctl_supervisor.core.descriptors.upstream_yaml import load_yaml_override
from teamctl_supervisor.core.errors import DescriptorError
from watchkit import wait_for

#: Nine levels of nine: 9^9 (387 million) scalars once expanded, 9 lines of text.
BOMB = "x0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"x{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 9))
DEEP = "x: " + "[" * 5000 + "]" * 5000 + "\n"


def test_limits_count_aliases_by_what_they_name_without_expanding_them():
    assert yaml_limits.check(BOMB) is not None
    assert "alias" in yaml_limits.check(BOMB).message
    assert "nested deeper" in yaml_limits.check(DEEP).message
    # a deep chain of small aliases: each level is shallow, the expanded tree is not
    chain = "a0: &a0 [x]\n" + "".join(f"a{i}: &a{i} [*a{i - 1}]\n" for i in range(1, 80))
    assert "nested deeper" in yaml_limits.check(chain).message
    # what compose files really do: a few anchors and merge keys
    ok = "d: &d {runtime: codex, model: m}\nw:\n  a: {<<: *d, x: 1}\n  b: {<<: *d}\n  c: [*d, *d]\n"
    assert yaml_limits.check(ok) is None


@pytest.mark.parametrize("text", [BOMB, DEEP], ids=["alias-bomb", "deep-nesting"])
def test_hostile_compose_is_refused_and_status_and_down_still_reach_the_running_team(tmp_path, text):
    team = hanging_team(tmp_path, 2)
    compose = team / "team-compose.yaml"
    try:
        assert teamctl(team, "up", "--backend", "process").returncode == 0
        wait_for(lambda: len(team_procs(team)) == 4, what="two watchers and runtimes")
        compose.write_text(compose.read_text() + text)
        check = teamctl(team, "validate", timeout=60)
        assert check.returncode == 2, check.stdout + check.stderr
        assert str(compose) in check.stdout and "refused" in check.stdout
        assert "Traceback" not in check.stdout + check.stderr
        status = teamctl(team, "status", "--json", timeout=60)
        assert status.returncode == 0 and "Traceback" not in status.stderr, status.stderr
        assert str(compose) in status.stderr
        assert sorted(s["id"] for s in json.loads(status.stdout)) == ["p:a0", "p:a1"]
        assert not (team / "state" / "cache" / "compose.json").exists() or "x8" not in (
            team / "state" / "cache" / "compose.json").read_text()
        done = teamctl(team, "down", timeout=60)
        assert done.returncode == 0 and "Traceback" not in done.stderr, done.stdout + done.stderr
        assert team_procs(team) == []
    finally:
        kill_all(team_procs(team))


def test_an_upstream_runtime_yaml_bomb_is_a_descriptor_error(tmp_path):
    path = tmp_path / "claude-code.yaml"
    path.write_text(BOMB)
    with pytest.raises(DescriptorError, match="alias bomb"):
        load_yaml_override(path, "claude-code", load_descriptor)
    path.write_text(DEEP)
    with pytest.raises(DescriptorError, match="nested deeper"):
        load_yaml_override(path, "claude-code", load_descriptor)


def test_the_parse_cache_never_walks_nor_keeps_an_expanded_alias_bomb(tmp_path):
    from teamctl_supervisor.team.compose_cache import ParseCache

    level: list = ["lol"] * 9
    for _ in range(7):  # 9^8 (43 million) leaves by shared references, as PyYAML builds aliases
        level = [level] * 9
    cache = ParseCache(tmp_path / "state" / "cache" / "compose.json")
    source = tmp_path / "team-compose.yaml"
    cache.put(source, b"x", {"x": level}, {})
    assert cache.get(source, b"x") is None
    cache.put(source, b"y", {"x": [["ok"] * 9] * 9}, {})
    assert cache.get(source, b"y") is not None

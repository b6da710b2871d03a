"""Bad input that used to pass validate (issue 13 items 11, 12, 13)."""

from __future__ import annotations

import pytest
from reliakit import hanging_team, teamctl
from watchkit import make_team


def test_names_too_long_for_their_files_are_refused_by_validate(tmp_path):
    team = make_team(tmp_path, {"a" * 240: ""}, project="p" * 200)
    out = teamctl(team, "validate")
    assert out.returncode == 2, out.stdout + out.stderr
    assert out.stderr.count("characters long: at most 64") + out.stdout.count("characters long: at most 64") >= 2


@pytest.mark.parametrize("regex, words", [("(?:foo)?$", "empty string"), ("(a|a)*$", "unbounded repeat"),
                                          ("^(a|aa)*b", "exponential")])
def test_descriptor_regexes_that_match_nothing_or_explode_are_refused(tmp_path, regex, words):
    team = hanging_team(tmp_path, 1)
    desc = team / "runtimes" / "claude-code.toml"
    desc.write_text(desc.read_text() + f"\n[[rate_limit]]\nid = \"bad\"\nmatch = '{regex}'\n")
    out = teamctl(team, "validate")
    assert out.returncode == 2 and words in out.stdout + out.stderr and "claude-code.toml" in out.stdout + out.stderr


def test_a_huge_descriptor_is_refused_quickly_with_a_clear_error(tmp_path):
    team = hanging_team(tmp_path, 1)
    desc = team / "runtimes" / "claude-code.toml"
    many = "".join(f"\n[[ignore]]\nid = \"i{i}\"\nmatch = 'noise {i}'\n" for i in range(600))
    desc.write_text(desc.read_text() + many)
    out = teamctl(team, "validate", timeout=20)
    assert out.returncode == 2 and "at most 500" in out.stdout + out.stderr
    desc.write_text(desc.read_text() + "#" * (300 * 1024))
    out = teamctl(team, "validate", timeout=20)
    assert out.returncode == 2 and "bytes: a descriptor is at most" in out.stdout + out.stderr


def test_a_runtime_binary_that_is_not_executable_is_named_by_validate_and_up(tmp_path):
    team = hanging_team(tmp_path, 1)
    binary = tmp_path / "not-exec-agent"
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o644)
    desc = team / "runtimes" / "claude-code.toml"
    desc.write_text(desc.read_text().replace('binary = "fake_agent.py"', f'binary = "{binary}"'))
    out = teamctl(team, "validate")
    assert f"runtime binary {binary} is not executable" in out.stdout + out.stderr
    up = teamctl(team, "up", "--backend", "process")
    assert up.returncode != 0 and f"{binary} is not executable" in up.stdout + up.stderr

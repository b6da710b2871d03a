"""Bad input: a clear message naming the file and key or line, exit 2, nothing started or half-written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from teamctl_supervisor.core.descriptors.loader import load_descriptor
from teamctl_supervisor.core.scan.scanner import Scanner
from watchkit import fake_env, make_team

pytestmark = pytest.mark.usefixtures("tmux_socket")


def teamctl(team: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "teamctl_supervisor", *args, "-C", str(team)], env=fake_env(team),
                          capture_output=True, text=True, timeout=60)


def sessions() -> str:
    done = subprocess.run(["tmux", "-L", os.environ["TEAMCTL_TMUX_SOCKET"], "list-sessions"],
                          capture_output=True, text=True)
    return done.stdout


def assert_refused(team: Path, *needles: str, command: str = "up") -> str:
    done = teamctl(team, command)
    out = done.stdout + done.stderr
    assert done.returncode == 2, out
    for needle in needles:
        assert needle in out, out
    assert not (team / "state").exists()  # nothing started, nothing half-written
    assert "p-" not in sessions()
    return out


@pytest.fixture
def team(tmp_path: Path) -> Path:
    return make_team(tmp_path, {"dev": ""})


def test_malformed_compose_yaml_names_the_file_and_line(team):
    (team / "team-compose.yaml").write_text("version: 2\nprojects:\n  - file: [unclosed\n")
    assert_refused(team, "team-compose.yaml", "line")


def test_malformed_project_yaml(team):
    (team / "projects" / "p.yaml").write_text("version: 2\nproject: {id: p\nworkers: {}\n")
    assert_refused(team, "p.yaml")


def test_wrong_type_names_the_key(team):
    text = (team / "team-compose.yaml").read_text()
    (team / "team-compose.yaml").write_text(text.replace("projects:", "rate_limits:\n  fallback_wait_seconds: soon\n"
                                                         "projects:"))
    assert_refused(team, "team-compose.yaml", "rate_limits.fallback_wait_seconds")


def test_unknown_key_is_a_warning_with_a_did_you_mean(team):
    text = (team / "projects" / "p.yaml").read_text()
    (team / "projects" / "p.yaml").write_text(text.replace("    runtime:", "    limit_grup: x\n    runtime:"))
    done = teamctl(team, "validate")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "limit_grup" in done.stdout + done.stderr and "did you mean 'limit_group'" in done.stdout + done.stderr


def test_descriptor_regex_that_does_not_compile(team):
    path = team / "runtimes" / "claude-code.toml"
    path.write_text(path.read_text().replace("match = 'usage limit reached", "match = '(usage limit reached", 1))
    assert_refused(team, "claude-code.toml", "rate_limit[0].match", "does not compile")


def test_malformed_descriptor_toml(team):
    (team / "runtimes" / "claude-code.toml").write_text("[launch\nbinary = 'x'\n")
    assert_refused(team, "claude-code.toml", "TOML")


def test_descriptor_unknown_key_and_missing_group(team):
    path = team / "runtimes" / "claude-code.toml"
    path.write_text(path.read_text().replace('keywords = ["usage limit"]', 'keywords = ["usage limit"]\nrset = "x"'))
    assert_refused(team, "claude-code.toml", "rate_limit[0].rset", "did you mean 'reset'")
    path.write_text(path.read_text().replace('\nrset = "x"', "").replace('reset = "auto"', 'reset = "auto"\n'
                                                                        'reset_group = "when"', 1))
    assert_refused(team, "claude-code.toml", "rate_limit[0].reset_group", "'when'")


@pytest.mark.timeout(60)  # bounded: each search times out (and is logged), never hangs
def test_catastrophic_regex_is_refused_and_a_slow_allowed_one_is_bounded(team, tmp_path):
    path = team / "runtimes" / "claude-code.toml"
    path.write_text(path.read_text().replace("match = 'usage limit reached", "match = '(a+)+$usage limit reached", 1))
    assert_refused(team, "claude-code.toml", "exponential")
    slow = tmp_path / "slow.toml"
    slow.write_text("[launch]\nbinary = 'x'\n[[rate_limit]]\nid = 'q'\nmatch = '(?:a|a)*[^a]|limit!'\n")
    # refused by a full check since issue 13 (overlapping alternatives): loaded unchecked, as a
    # built-in is, to show the engine's timeout still bounds it
    scanner = Scanner(load_descriptor(slow, lazy=True), tz=__import__("zoneinfo").ZoneInfo("UTC"))
    events = scanner.feed(b"a" * 65536 + b"\n") + scanner.feed(b"limit!\n")
    assert [e.signature for e in events] == ["q"]  # the relay went on past the hostile line


def test_missing_role_prompt(team):
    (team / "roles" / "dev.md").unlink()
    assert_refused(team, "p.yaml", "role_prompt")


def test_project_file_outside_the_tree_or_missing(team, tmp_path):
    (tmp_path / "evil.yaml").write_text("version: 2\nproject: {id: evil, name: E, cwd: .}\n")
    text = (team / "team-compose.yaml").read_text()
    (team / "team-compose.yaml").write_text(text.replace("projects/p.yaml", "../../evil.yaml"))
    assert_refused(team, "projects[0].file")
    (team / "team-compose.yaml").write_text(text.replace("projects/p.yaml", "projects/nope.yaml"))
    assert_refused(team, "projects[0].file", "nope.yaml")


@pytest.mark.parametrize("name", ["dev;rm", "../dev", "dev/x", "$(id)", "-dev"])
def test_agent_id_with_shell_metacharacters_or_separators_is_refused(team, name):
    text = (team / "projects" / "p.yaml").read_text()
    (team / "projects" / "p.yaml").write_text(text.replace("  dev:", f"  '{name}':"))
    assert_refused(team, "p.yaml")


def test_no_compose_tree_is_exit_2(tmp_path):
    done = subprocess.run([sys.executable, "-m", "teamctl_supervisor", "up"], cwd=tmp_path, env=fake_env(tmp_path),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "team-compose.yaml" in done.stdout + done.stderr

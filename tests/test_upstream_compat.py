"""Upstream teamctl's newer inputs read as upstream reads them: runtime YAML, schema 2.0.1, cwd."""

from __future__ import annotations

import json
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import copy_example
from teamctl_supervisor.agent.settings import settings_for_agent
from teamctl_supervisor.core.descriptors.loader import load_runtime, runtime_files
from teamctl_supervisor.core.errors import DescriptorError
from teamctl_supervisor.core.scan.scanner import EventKind, Scanner
from teamctl_supervisor.team.compose import ComposeError, load_team

NOW = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
RUNTIMES = {"claude-code", "codex", "gemini"}

# --------------------------------------------------------------------------------------------------
# 5. runtime YAML: the two examples of upstream's rate-limits doc, and its shipped claude-code.yaml

DOC_EXAMPLE = textwrap.dedent('''\
    rate_limit_patterns:
      - match: "(?i)limit reached.*resets at"
        resets_at_capture: "(?i)resets at ([0-9]{1,2}(?::[0-9]{2})?\\\\s*(?:am|pm)?)"

      - match: "(?i)rate.?limit"
        resets_in_capture: "(?i)(?:retry|wait)\\\\s*(?:in|after)?\\\\s*([0-9]+\\\\s*(?:s|m|h)[a-z]*)"
    ''')

SHIPPED = textwrap.dedent('''\
    binary: claude
    supports_mcp: true
    session_resume: "--continue"
    default_model: claude-opus-4-7
    env:
      CLAUDE_PROJECT_DIR_MODE: "compose"
    rate_limit_patterns:
      - match: "(?i)limit reached.*resets at"
        resets_at_capture: "(?i)resets at ([0-9]{1,2}(?::[0-9]{2})?\\\\s*(?:am|pm)?)"
      - match: "(?i)usage limit reached"
        resets_at_capture: "(?i)reset(?:s)? at ([0-9]{1,2}:[0-9]{2}(?:\\\\s*[A-Z]{2,5})?)"
      - match: "(?i)rate.?limit"
        resets_in_capture: "(?i)(?:retry|wait|back off)\\\\s*(?:in|after)?\\\\s*([0-9]+\\\\s*(?:s|sec|m|min|h|hr)[a-z]*)"
    ''')  # noqa: E501 (upstream's file, unchanged)


def yaml_runtime(tmp_path: Path, text: str, name: str = "claude-code") -> Path:
    team = tmp_path / ".team"
    (team / "runtimes").mkdir(parents=True, exist_ok=True)
    (team / "runtimes" / f"{name}.yaml").write_text(text)
    return team


def hits(team: Path, data: bytes, name: str = "claude-code") -> list:
    rt = load_runtime(name, team, generic=False)
    scanner = Scanner(rt, tz=ZoneInfo("UTC"), clock=lambda: NOW)
    # finish(): the input ends there (a hit whose reset may come on the next row waits for one)
    return [e for e in scanner.feed(data) + scanner.finish() if e.kind == EventKind.RATE_LIMIT]


def test_doc_example_clock_capture_is_its_own_regex(tmp_path: Path) -> None:
    team = yaml_runtime(tmp_path, DOC_EXAMPLE)
    [e] = hits(team, b"5-hour limit reached - resets at 4pm\n")
    assert e.signature == "yaml-0"
    assert e.resets_at == datetime(2026, 3, 4, 16, 0, tzinfo=UTC)


def test_doc_example_duration_capture_is_its_own_regex(tmp_path: Path) -> None:
    team = yaml_runtime(tmp_path, DOC_EXAMPLE)
    [e] = hits(team, b"Rate limit exceeded, retry in 120s\n")
    assert e.signature == "yaml-1"
    assert e.resets_at == NOW + timedelta(seconds=120)


def test_a_pattern_without_a_capture_match_still_counts_with_no_reset(tmp_path: Path) -> None:
    team = yaml_runtime(tmp_path, DOC_EXAMPLE)
    [e] = hits(team, b"429 rate-limited\n")
    assert e.signature == "yaml-1" and e.resets_at is None


def test_upstream_shipped_claude_yaml_loads_and_overrides_launch(tmp_path: Path) -> None:
    team = yaml_runtime(tmp_path, SHIPPED)
    rt = load_runtime("claude-code", team, generic=False)
    assert rt.launch.binary == "claude" and rt.launch.resume_args == ("--continue",)
    assert rt.launch.env["CLAUDE_PROJECT_DIR_MODE"] == "compose"
    [e] = hits(team, b"Claude usage limit reached. Your limit will reset at 16:00 UTC.\n")
    assert e.signature == "yaml-1" and e.resets_at == datetime(2026, 3, 4, 16, 0, tzinfo=UTC)
    yaml_runtime(tmp_path, "binary: my-claude-fork\n")
    assert load_runtime("claude-code", team, generic=False).launch.binary == "my-claude-fork"


def test_a_capture_with_no_group_is_refused_naming_the_key(tmp_path: Path) -> None:
    team = yaml_runtime(tmp_path, "rate_limit_patterns:\n  - match: 'limit'\n    resets_in_capture: 'in \\\\d+s'\n")
    with pytest.raises(DescriptorError) as info:
        load_runtime("claude-code", team, generic=False)
    assert info.value.where == "rate_limit_patterns[0].resets_in_capture"
    assert "capture group" in str(info.value)


def test_a_team_with_the_doc_example_validates(tmp_path: Path) -> None:
    root = copy_example("hello-team", tmp_path)
    yaml_runtime(root, DOC_EXAMPLE)
    team = load_team(root / ".team", set(runtime_files(root / ".team")))
    assert [w for w in team.warnings if "not applied by this supervisor" not in w.message] == []
    for a in team.agents:
        assert settings_for_agent(team, a).runtime.rate_limits[0].id == "yaml-0"


# --------------------------------------------------------------------------------------------------
# 6, 7. the newer upstream trees: schema 2.0.1 keys, role_prompt lists, cwd against .team/


@pytest.mark.parametrize("name", ["autonomous-prototyper", "product-team", "solo-founder-ops"])
def test_newer_upstream_examples_load_unchanged(name: str, tmp_path: Path) -> None:
    root = copy_example(name, tmp_path).resolve()
    team = load_team(root / ".team", RUNTIMES)
    assert team.agents
    assert not [w for w in team.warnings if "unknown key" in w.message]
    for a in team.agents:
        assert a.cwd.is_dir() and a.role_prompts and all(p.is_file() for p in a.role_prompts)


def test_cwd_resolves_against_the_team_folder_as_upstream_does(tmp_path: Path) -> None:
    root = copy_example("autonomous-prototyper", tmp_path).resolve()
    team = load_team(root / ".team", RUNTIMES)
    assert {a.cwd for a in team.agents} == {root / "workspace"}  # `cwd: ../workspace`
    pt = load_team(copy_example("product-team", tmp_path).resolve() / ".team", RUNTIMES)
    assert {a.cwd for a in pt.agents} == {(tmp_path / "product-team" / "habit-tracker").resolve()}


def test_role_prompt_list_is_joined_in_order_under_state(tmp_path: Path) -> None:
    root = copy_example("product-team", tmp_path).resolve()
    team = load_team(root / ".team", RUNTIMES)
    pm = team.agent("pm")
    assert [p.name for p in pm.role_prompts] == ["_base.md", "_telegram.md", "pm.md"]
    s = settings_for_agent(team, pm)
    joined = team.state_dir / "agent-scope" / "product-team-pm" / "role_prompt.md"
    text = joined.read_text()
    parts = [(root / ".team" / "roles" / n).read_text().strip() for n in ("_base.md", "_telegram.md", "pm.md")]
    assert text.index(parts[0][:40]) < text.index(parts[1][:40]) < text.index(parts[2][:40])
    assert joined.stat().st_mode & 0o777 == 0o600
    assert str(joined) in s.argv  # claude-code: --append-system-prompt-file, the text never in argv
    assert not any(text.strip()[:40] in arg for arg in s.argv)


def test_claude_extras_not_applied_are_named_by_validate(tmp_path: Path) -> None:
    team = load_team(copy_example("product-team", tmp_path) / ".team", RUNTIMES)
    warned = {(w.key, w.message.split(":")[0]) for w in team.warnings}
    assert ("workers.eng-claude.hooks", "per-agent Claude Code hooks are not installed (upstream renders "
            "them into --settings)") in warned
    assert any(k == "managers.pm.subagents" for k, _ in warned)


def write_team(tmp_path: Path, agent: str, *, version: str = '"2.0.1"') -> Path:
    team = tmp_path / ".team"
    (team / "projects").mkdir(parents=True)
    (tmp_path / "work").mkdir()
    (team / "team-compose.yaml").write_text(
        f"version: {version}\nattachments: {{enabled: true, max_size_bytes: 100}}\n"
        "supervisor: {type: tmux, tmux_prefix: x-, drain_timeout_secs: 5}\nprojects: [{file: projects/p.yaml}]\n")
    (team / "projects" / "p.yaml").write_text(
        "version: 2\nproject: {id: p, name: P, cwd: ../work}\nworkers:\n  dev:\n" + textwrap.indent(agent, "    "))
    return team


def test_effort_levels_are_upstreams_enum(tmp_path: Path) -> None:
    team = load_team(write_team(tmp_path / "a", "effort: xhigh\ndisplay_name: Dev\nultracode: false\n"), RUNTIMES)
    assert team.agent("dev").effort == "xhigh" and team.agent("dev").display_name == "Dev"
    assert team.warnings == ()
    with pytest.raises(ComposeError) as info:
        load_team(write_team(tmp_path / "b", "effort: hgih\n"), RUNTIMES)
    [p] = info.value.errors
    assert p.key == "workers.dev.effort" and "low|medium|high|xhigh|max" in p.message


def test_mcps_go_into_the_runtimes_mcp_config(tmp_path: Path) -> None:
    team_dir = write_team(tmp_path, "mcps:\n  gh:\n    command: npx\n    args: [-y, gh-mcp]\n    env: {TOKEN: x}\n")
    team = load_team(team_dir, RUNTIMES)
    s = settings_for_agent(team, team.agent("dev"))
    i = s.argv.index("--mcp-config")
    config = json.loads(Path(s.argv[i + 1]).read_text())
    assert config == {"mcpServers": {"gh": {"command": "npx", "args": ["-y", "gh-mcp"], "env": {"TOKEN": "x"}}}}
    with pytest.raises(ComposeError) as info:
        load_team(write_team(tmp_path / "t", "mcps:\n  team: {command: x}\n"), RUNTIMES)
    assert info.value.errors[0].key == "workers.dev.mcps.team"


# --------------------------------------------------------------------------------------------------
# 8. Gemini's role prompt through GEMINI_SYSTEM_MD (the descriptor's launch.role_prompt_env)


def test_gemini_role_prompt_goes_through_its_env_variable(tmp_path: Path) -> None:
    team_dir = write_team(tmp_path, "runtime: gemini\nrole_prompt: [roles/a.md, roles/b.md]\n")
    (team_dir / "roles").mkdir()
    (team_dir / "roles" / "a.md").write_text("You are A.\n")
    (team_dir / "roles" / "b.md").write_text("Also B.\n")
    (team_dir / "runtimes").mkdir()
    (team_dir / "runtimes" / "gemini.toml").write_text(
        '[launch]\nbinary = "gemini"\nrole_prompt_env = "GEMINI_SYSTEM_MD"\n')
    team = load_team(team_dir, RUNTIMES)
    s = settings_for_agent(team, team.agent("dev"))
    assert Path(s.env["GEMINI_SYSTEM_MD"]).read_text() == "You are A.\n\nAlso B.\n"

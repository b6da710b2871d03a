"""Tests for supervisor.launch: argv from a descriptor and an agent's settings, never through a shell."""

from __future__ import annotations

from pathlib import Path

import pytest
from teamctl_supervisor.agent.launch import build_argv, fill, find_binary
from teamctl_supervisor.core.descriptors.loader import Runtime, load_descriptor

DESCRIPTOR = """\
# Test launch table modelled on @anthropic-ai/claude-code's flags.
[launch]
binary = "claude"
args = ["--verbose"]
resume_args = ["--continue"]

[launch.options]
model = ["--model", "{model}"]
role_prompt = ["--append-system-prompt-file", "{role_prompt}"]
role_prompt_text = ["--system-prompt", "{role_prompt_text}"]
mcp_config = ["--mcp-config", "{mcp_config}"]
effort = ["--effort={effort}"]

[launch.permission]
auto = ["--permission-mode", "acceptEdits"]
bypass = ["--dangerously-skip-permissions"]
"""


@pytest.fixture
def runtime(tmp_path: Path) -> Runtime:
    path = tmp_path / "claude-code.toml"
    path.write_text(DESCRIPTOR)
    return load_descriptor(path)


def test_no_settings_gives_binary_and_fixed_args_only(runtime: Runtime) -> None:
    assert build_argv(runtime) == ["claude", "--verbose"]


def test_option_fragment_only_when_its_setting_is_present(runtime: Runtime, tmp_path: Path) -> None:
    assert build_argv(runtime, model="opus") == ["claude", "--verbose", "--model", "opus"]
    assert build_argv(runtime, effort="high") == ["claude", "--verbose", "--effort=high"]
    mcp = tmp_path / "mcp.json"
    assert build_argv(runtime, mcp_config=mcp) == ["claude", "--verbose", "--mcp-config", str(mcp)]
    assert build_argv(runtime, model="", effort=None) == ["claude", "--verbose"]


def test_all_settings_in_descriptor_order(runtime: Runtime, tmp_path: Path) -> None:
    prompt = tmp_path / "role.md"
    prompt.write_text("You are the dev.")
    mcp = tmp_path / "mcp.json"
    argv = build_argv(runtime, model="sonnet", role_prompt=prompt, mcp_config=mcp, permission_mode="auto",
                      effort="low")
    assert argv == ["claude", "--verbose", "--model", "sonnet", "--append-system-prompt-file", str(prompt),
                    "--system-prompt", "You are the dev.", "--mcp-config", str(mcp), "--effort=low",
                    "--permission-mode", "acceptEdits"]


@pytest.mark.parametrize(("mode", "tail"), [
    ("auto", ["--permission-mode", "acceptEdits"]), ("bypass", ["--dangerously-skip-permissions"]),
    ("default", []), (None, []),
])
def test_permission_fragment(runtime: Runtime, mode: str | None, tail: list[str]) -> None:
    assert build_argv(runtime, permission_mode=mode) == ["claude", "--verbose", *tail]


def test_values_with_spaces_and_quotes_stay_one_element(runtime: Runtime, tmp_path: Path) -> None:
    model = "opus 4 \"quoted\" 'single' ; rm -rf ~ $(id) `id`"
    folder = tmp_path / "my prompts; $(id)"
    folder.mkdir()
    prompt = folder / "role 'dev'.md"
    text = "Line one with \"quotes\".\nLine two; $(touch x) && echo {model}\n"
    prompt.write_text(text)
    argv = build_argv(runtime, model=model, role_prompt=prompt)
    assert argv == ["claude", "--verbose", "--model", model, "--append-system-prompt-file", str(prompt),
                    "--system-prompt", text]


def test_placeholders_are_not_expanded_recursively(runtime: Runtime, tmp_path: Path) -> None:
    prompt = tmp_path / "role.md"
    prompt.write_text("uses {model} and {role_prompt_text}")
    argv = build_argv(runtime, model="{role_prompt}", role_prompt=prompt, effort="{model}")
    assert argv[2:4] == ["--model", "{role_prompt}"]
    assert argv[argv.index("--system-prompt") + 1] == "uses {model} and {role_prompt_text}"
    assert "--effort={model}" in argv


def test_unreadable_role_prompt_drops_only_the_text_fragment(runtime: Runtime, tmp_path: Path) -> None:
    missing = tmp_path / "missing.md"
    argv = build_argv(runtime, role_prompt=missing)
    assert argv == ["claude", "--verbose", "--append-system-prompt-file", str(missing)]


def test_fill_is_one_pass_and_keeps_unknown_placeholders() -> None:
    assert fill(("{a}-{b}", "{c}"), {"a": "{b}", "b": "x"}) == ["{b}-x", "{c}"]


def test_find_binary(tmp_path: Path) -> None:
    exe = tmp_path / "my-cli"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    assert find_binary("my-cli", env_path=str(tmp_path)) == str(exe)
    assert find_binary("not-there", env_path=str(tmp_path)) is None
    assert find_binary(str(exe)) == str(exe)
    assert find_binary(str(tmp_path / "nope")) is None

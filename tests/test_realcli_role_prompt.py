"""Role prompts go to the CLI by file or environment, not argv (issue 23 item 11, build item 9).

The real Claude Code (each pinned version) reads `--append-system-prompt-file` and sends the text as
system prompt to the fake API; the built-in descriptors put no prompt text on any command line but
where the CLI has no other way in, and there `validate` says the prompt is visible to local users."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from realcli import claude
from realcli.fakeapi import FakeAPI
from teamctl_supervisor.agent.launch import build_argv
from teamctl_supervisor.core.descriptors.loader import load_runtime
from watchkit import fake_env

SECRET = "Role prompt marker 5531: answer as the release manager."
#: Runtimes whose CLI takes a system prompt only as text (qwen-code 0.24.4: `--append-system-prompt
#: <text>`; QWEN_SYSTEM_MD replaces the whole built-in prompt, tools included, so it is not used).
TEXT_ONLY = {"qwen-code"}


@pytest.mark.parametrize("version", claude.VERSIONS)
def test_claude_code_reads_the_role_prompt_from_the_file_it_is_given(version, tmp_path):
    prompt = tmp_path / "role.md"
    prompt.write_text(SECRET + "\n")
    argv = build_argv(load_runtime("claude-code", None), role_prompt=prompt)
    assert SECRET not in " ".join(argv)
    with FakeAPI(reply_text="ok") as api:
        env = claude.prepare(tmp_path / "home", api.base_url, version, trust=True)
        done = subprocess.run([str(claude.binary(version)), *argv[1:], "-p", "hi"], env=env,
                              cwd=tmp_path / "home" / "work", capture_output=True, text=True, timeout=60,
                              stdin=subprocess.DEVNULL)
        assert done.returncode == 0, done.stderr
        [req] = api.model_requests()
        assert SECRET in json.dumps(req.body.get("system"))


@pytest.mark.parametrize("name", ["aider", "claude-code", "codex", "copilot", "droid", "gemini", "opencode",
                                  "qwen-code"])
def test_no_builtin_descriptor_puts_the_prompt_text_on_the_command_line_unless_it_must(name, tmp_path):
    prompt = tmp_path / "role.md"
    prompt.write_text(SECRET)
    argv = build_argv(load_runtime(name, None), role_prompt=prompt)
    assert (SECRET in argv) == (name in TEXT_ONLY)


def test_validate_warns_that_a_prompt_on_the_command_line_is_visible_to_local_users(tmp_path):
    from reliakit import hanging_team

    team = hanging_team(tmp_path, 1)
    (team / "runtimes" / "claude-code.toml").unlink()  # the built-in descriptors, as users have them
    project = team / "projects" / "p.yaml"
    project.write_text(project.read_text() + "  q:\n    runtime: qwen-code\n    role_prompt: roles/a0.md\n")
    out = subprocess.run([sys.executable, "-m", "teamctl_supervisor", "validate", "-C", str(team)],
                         env=fake_env(team), capture_output=True, text=True, timeout=60)
    warned = [line for line in out.stdout.splitlines() if "visible to every local user" in line]
    assert len(warned) == 1 and "workers.q" in warned[0], out.stdout

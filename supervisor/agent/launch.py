"""Build a runtime's argv from its descriptor and an agent's settings.

Every value stays one argv element (it never passes through a shell), and placeholders are
substituted once: a model name that contains `{role_prompt}` is not expanded again.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ..core.descriptors.loader import Runtime
from .hooks import substitute
from .ptyspawn import which
from .sessions import SessionChoice


def fill(fragment: tuple[str, ...], values: Mapping[str, str]) -> list[str]:
    """Substitute `{name}` in each element, in one pass (the same substitution hooks use)."""
    return [substitute(part, values) for part in fragment]


def build_argv(runtime: Runtime, *, model: str | None = None, role_prompt: Path | None = None,
               mcp_config: Path | None = None, permission_mode: str | None = None,
               effort: str | None = None) -> list[str]:
    """binary + args + the option fragments whose setting is present + the permission fragment."""
    launch = runtime.launch
    values: dict[str, str] = {}
    if model:
        values["model"] = model
    if role_prompt:
        values["role_prompt"] = str(role_prompt)
        try:
            values["role_prompt_text"] = role_prompt.read_text(encoding="utf-8")
        except OSError:
            pass
    if mcp_config:
        values["mcp_config"] = str(mcp_config)
    if effort:
        values["effort"] = effort
    argv = [launch.binary, *fill(launch.args, values)]
    for key, fragment in launch.options.items():
        if key in values:
            argv += fill(fragment, values)
    if permission_mode and permission_mode in launch.permission:
        argv += fill(launch.permission[permission_mode], values)
    return argv


def find_binary(name: str, env_path: str | None = None) -> str | None:
    """Full path of `name` on PATH (or `env_path`), or None when it is not installed."""
    if "/" in name:
        return name if Path(name).is_file() else None
    return which(name, env_path)  # shutil.which's answer; shutil itself loads bz2, lzma and zlib


def argv(runtime: Runtime, base_argv: list[str], session: SessionChoice | None, resume: bool) -> list[str]:
    """The argv of one spawn of an agent (issue 22: one conversation per agent).

    A runtime that names sessions (`launch.session_*`) resumes the agent's own session whenever it
    exists, whatever `resume` says (after a crash too), and starts it under the agent's id otherwise;
    only `--fresh` (a new id) starts over. A runtime without session keys keeps its old shape:
    `resume_args` ("the latest conversation here") when `resume`."""
    keys = runtime.launch.session
    if keys is None or session is None:
        return [*base_argv, *runtime.launch.resume_argv(base_argv)] if resume else list(base_argv)
    if session.id is None:  # the CLI picks the id at its first run; the keeper learns it then
        return list(base_argv)
    values = {"session_id": session.id, "session_home": session.home}
    if session.resume:
        sub = next((a for a in base_argv[1:] if a in keys.resume_for), None)
        if sub is not None:
            at = base_argv.index(sub, 1) + 1
            return [*base_argv[:at], *fill(keys.resume_for[sub], values), *base_argv[at:]]
        return [base_argv[0], *fill(keys.resume, values), *base_argv[1:]]
    if keys.start:
        return [base_argv[0], *fill(keys.start, values), *base_argv[1:]]
    return list(base_argv)

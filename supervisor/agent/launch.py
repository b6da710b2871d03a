"""Build a runtime's argv from its descriptor and an agent's settings.

Every value stays one argv element (it never passes through a shell), and placeholders are
substituted once: a model name that contains `{role_prompt}` is not expanded again.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path

from ..core.descriptors.loader import Runtime
from .hooks import substitute


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
    return shutil.which(name, path=env_path)

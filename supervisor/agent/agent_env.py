"""The environment a runtime is launched with: the descriptor's per-agent defaults (`[launch] agent_env`),
then the user's environment, the descriptor's `env`, and the agent's own compose `env`, each winning
over the one before.

A per-agent default exists so agents of one user do not share a store they cannot tell apart in:
opencode keeps every session in one database unless OPENCODE_DB names another, and two agents
started together could not tell their new sessions apart. A user (or compose) who sets the variable
keeps their choice: the agents then share, as before.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from ..core.descriptors.loader import Runtime
from ..core.placeholders import fill
from ..store import layout


def file_slug(agent_id: str) -> str:
    """`{agent_file}`: the agent's `<project>-<agent>` file name, anything but [A-Za-z0-9._-] made `_`,
    so it stays one file name in any path it is put in."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", layout.agent_file_name(agent_id)).lstrip(".") or "_"


def xdg_data_home(env: Mapping[str, str]) -> str:
    """`{xdg_data_home}`: $XDG_DATA_HOME, else $HOME/.local/share (the XDG base directory default);
    "" when neither is set as an absolute path."""
    xdg = env.get("XDG_DATA_HOME", "")
    if os.path.isabs(xdg):
        return xdg
    home = env.get("HOME", "")
    return os.path.join(home, ".local", "share") if os.path.isabs(home) else ""


def per_agent(templates: Mapping[str, str], agent_id: str, env: Mapping[str, str]) -> dict[str, str]:
    """The descriptor's `agent_env` filled in for one agent (`env`: what the runtime sees otherwise);
    a variable whose placeholder has no value is left out (the CLI's own default applies)."""
    values = {"agent_file": file_slug(agent_id), "xdg_data_home": xdg_data_home(env)}
    filled = {name: fill(template, values.get) for name, template in templates.items()}
    return {name: text for name, text in filled.items() if text is not None}


def launch_env(runtime: Runtime, agent_id: str, user: Mapping[str, str],
               agent: Mapping[str, str] | None = None) -> dict[str, str]:
    """agent_env < the user's environment < the descriptor's env < the agent's compose env."""
    env = {**user, **runtime.launch.env, **(agent or {})}
    return {**per_agent(runtime.launch.agent_env, agent_id, env), **env}

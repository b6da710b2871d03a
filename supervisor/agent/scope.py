"""Per-agent files a runtime is launched with, written under state/agent-scope/<project>-<agent>/.

Upstream teamctl renders these at `up`: a role prompt given as a list of files is concatenated in
declared order, and per-agent MCP servers go into the runtime's MCP config. They live under state/
(0700 folders, 0600 files, never through a symlink), rewritten at every start so an edit applies.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..core.compose_model import Agent
from ..store import layout
from ..store.safefs import private_dir, write_private


def scope_dir(state_dir: Path, agent: Agent) -> Path:
    return layout.agent_scope_dir(state_dir, agent.id)


def role_prompt_file(state_dir: Path, agent: Agent, write: bool = True) -> Path | None:
    """The agent's one role prompt file; several are joined into one file (blank line between).
    `write` False (validate, a read-only command): only the path, nothing created."""
    if len(agent.role_prompts) <= 1:
        return agent.role_prompt
    if not write:
        return scope_dir(state_dir, agent) / "role_prompt.md"
    parts = [p.read_text(encoding="utf-8").rstrip("\n") for p in agent.role_prompts]
    path = private_dir(scope_dir(state_dir, agent)) / "role_prompt.md"
    write_private(path, "\n\n".join(parts) + "\n")
    return path


def mcp_config_file(state_dir: Path, agent: Agent, write: bool = True) -> Path | None:
    """`{"mcpServers": {...}}` (the shape Claude Code's --mcp-config reads), or None with none."""
    if not agent.mcps:
        return None
    if not write:
        return scope_dir(state_dir, agent) / "mcp.json"
    servers = {m.name: {"command": m.command, "args": list(m.args), "env": dict(m.env)} for m in agent.mcps}
    path = private_dir(scope_dir(state_dir, agent)) / "mcp.json"
    write_private(path, json.dumps({"mcpServers": servers}, indent=2) + "\n")
    return path

"""`validate` and `up` warn where agents may resume each other's conversation (issue 22).

A runtime whose descriptor cannot name a session resumes "the latest conversation in this folder"
(`resume_args`), and the agents of a project often share one folder: after a respawn one of them may
continue another's conversation. Said once per agent that shares its folder and runtime with another.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..core.descriptors.loader import DescriptorError, Runtime, load_runtime
from .compose import Problem, Team

#: @google/gemini-cli 0.61.0 (cleanupExpiredSessions, run at every start while
#: general.sessionRetention.enabled is on, the default) deletes any session file holding no
#: conversation together with every file of that session's 8-character id; a `--resume <id>` in a
#: later minute than the session began leaves such a file. So another Gemini agent started in the same
#: folder deletes this one's whole conversation. Only the user's own settings turn it off (a system
#: settings file counts only when root owns it and every folder above it).
GEMINI_RETENTION_KEY = "general.sessionRetention.enabled"


def session_warnings(team: Team) -> list[Problem]:
    return [*_latest_only_warnings(team), *_gemini_cleanup_warnings(team)]


def _gemini_settings(agent_env: dict[str, str]) -> Path:
    home = agent_env.get("GEMINI_CLI_HOME") or os.environ.get("GEMINI_CLI_HOME") \
        or agent_env.get("HOME") or str(Path.home())
    return Path(home) / ".gemini" / "settings.json"


def _retention_off(settings: Path) -> bool:
    try:
        data = json.loads(settings.read_text(encoding="utf-8"))
        return data["general"]["sessionRetention"]["enabled"] is False
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _gemini_cleanup_warnings(team: Team) -> list[Problem]:
    """Gemini agents sharing a folder while the CLI's session cleanup is on: said once per folder."""
    first: dict[Path, str] = {}
    warned: set[Path] = set()
    found: list[Problem] = []
    for agent in team.agents:
        if agent.runtime != "gemini":
            continue
        where = agent.cwd.resolve()
        other = first.setdefault(where, agent.id)
        settings = _gemini_settings(dict(agent.env))
        if other == agent.id or where in warned or _retention_off(settings):
            continue
        warned.add(where)
        role = "managers" if agent.is_manager else "workers"
        found.append(Problem(agent.source, f"{role}.{agent.name}.runtime",
                             f"{agent.id} and {other} share {where} on Gemini CLI, whose start-up cleanup can "
                             f"delete another agent's resumed session there: set {GEMINI_RETENTION_KEY} to "
                             f"false in {settings}", "warning"))
    return found


def _latest_only_warnings(team: Team) -> list[Problem]:
    loaded: dict[str, Runtime | None] = {}
    first: dict[tuple[Path, str], str] = {}
    found: list[Problem] = []
    for agent in team.agents:
        if agent.runtime not in loaded:
            try:
                loaded[agent.runtime] = load_runtime(agent.runtime, team.team_dir)
            except DescriptorError:
                loaded[agent.runtime] = None  # reported by runtime_problems
        runtime = loaded[agent.runtime]
        if runtime is None or runtime.launch.session is not None or not runtime.launch.resume_args:
            continue
        key = (agent.cwd.resolve(), agent.runtime)
        other = first.setdefault(key, agent.id)
        if other != agent.id:
            role = "managers" if agent.is_manager else "workers"
            found.append(Problem(agent.source, f"{role}.{agent.name}.runtime",
                                 f"{agent.id} and {other} share {key[0]} on runtime {agent.runtime!r}, which "
                                 f"cannot name a session: a respawn may resume the other's conversation "
                                 f"({' '.join(runtime.launch.resume_args)} picks the latest one there)",
                                 "warning"))
    return found

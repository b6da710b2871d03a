"""`validate` and `up` warn where agents may resume each other's conversation (issue 22).

A runtime whose descriptor cannot name a session resumes "the latest conversation in this folder"
(`resume_args`), and the agents of a project often share one folder: after a respawn one of them may
continue another's conversation. Said once per agent that shares its folder and runtime with another.
"""

from __future__ import annotations

from pathlib import Path

from ..core.descriptors.loader import DescriptorError, Runtime, load_runtime
from .compose import Problem, Team


def session_warnings(team: Team) -> list[Problem]:
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

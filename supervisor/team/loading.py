"""A team, loaded for one command: where its compose tree is, the validated tree (its runtimes'
descriptors too, when agents are to start), each agent's launch plan, and the team's mailbox.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..agent.launch import find_binary
from ..core.descriptors.loader import DescriptorError, Runtime, load_runtime, runtime_files
from ..store import layout
from ..store.descriptor_checks import DescriptorChecks
from ..store.mailbox import Store
from .compose import Agent, ComposeError, Problem, Team, broker_selected, find_root, load_team


class NoTeam(Exception):
    """No compose tree where one was looked for."""


def team_dir(root: str | None, cwd: Path | None = None) -> Path:
    """The dir holding team-compose.yaml (--root, then $TEAMCTL_ROOT, then walking up), or NoTeam."""
    cwd = cwd or Path.cwd()
    found = find_root(root, os.environ, cwd)
    if found is not None:
        return found
    if root:
        raise NoTeam(f"--root {root}: no team-compose.yaml there (nor in {root}/.team)")
    if os.environ.get("TEAMCTL_ROOT"):
        raise NoTeam(f"TEAMCTL_ROOT={os.environ['TEAMCTL_ROOT']}: no team-compose.yaml there "
                     "(nor in its .team/)")
    raise NoTeam(f"no compose tree found: no .team/team-compose.yaml in {cwd} or above "
                 "(use --root DIR or set TEAMCTL_ROOT)")


def load(root: str | None, strict: bool = True) -> Team:
    """The validated team (ComposeError on any error).

    `strict` (for starting agents): runtime names must be known and their descriptors must load.
    Without it a team whose runtime files are broken can still be inspected and stopped.
    """
    tdir = team_dir(root)
    if not strict:
        return broker_selected(load_team(tdir, None, cache=True))
    team = load_team(tdir, set(runtime_files(tdir)), cache=True)
    problems = runtime_problems(team)
    if problems:
        raise ComposeError([*problems, *team.warnings])
    return broker_selected(team)


def runtime_problems(team: Team) -> list[Problem]:
    """A descriptor that does not load is an error of every agent that uses it (reported once)."""
    found: list[Problem] = []
    for name in sorted({a.runtime for a in team.agents}):
        try:
            load_runtime(name, team.team_dir, checks=DescriptorChecks(team.state_dir, create=False))
        except DescriptorError as exc:
            user = next(a for a in team.agents if a.runtime == name)
            found.append(Problem(user.source, f"{'managers' if user.is_manager else 'workers'}.{user.name}"
                                 ".runtime", f"runtime {name!r} cannot be used: {exc}"))
    return found


def binary_warnings(team: Team) -> list[Problem]:
    """Runtimes whose binary is not on PATH: `up` would report these agents as failed."""
    found: list[Problem] = []
    loaded: dict[str, Runtime] = {}
    for agent in team.agents:
        try:
            argv, env = launch_plan(team, agent, loaded, write_files=False)
        except DescriptorError:
            continue
        problem = binary_problem(argv[0], env.get("PATH"))
        if problem is not None:
            found.append(Problem(agent.source, f"{'managers' if agent.is_manager else 'workers'}.{agent.name}"
                                 ".runtime", problem, "warning"))
    return found


def launch_warnings(team: Team) -> list[Problem]:
    """What validate and up say of the launch plans: missing binaries, prompts on the command line."""
    return [*binary_warnings(team), *prompt_warnings(team)]


def prompt_warnings(team: Team) -> list[Problem]:
    """Agents whose role prompt goes to the CLI as argv text (its descriptor has no file or
    environment way in): anyone on the machine can read it with `ps`."""
    found: list[Problem] = []
    loaded: dict[str, Runtime | None] = {}
    for agent in team.agents:
        if agent.role_prompt is None and not agent.role_prompts:
            continue
        if agent.runtime not in loaded:
            try:
                loaded[agent.runtime] = load_runtime(agent.runtime, team.team_dir)
            except DescriptorError:
                loaded[agent.runtime] = None
        runtime = loaded[agent.runtime]
        if runtime is None or not prompt_in_argv(runtime):
            continue
        found.append(Problem(agent.source, f"{'managers' if agent.is_manager else 'workers'}.{agent.name}"
                             ".role_prompt", f"runtime {agent.runtime!r} takes the role prompt only on its "
                             "command line: its text is visible to every local user (ps)", "warning"))
    return found


def prompt_in_argv(runtime: Runtime) -> bool:
    """Whether this descriptor passes the role prompt's text as an argument (no file, no env var)."""
    launch = runtime.launch
    return "role_prompt_text" in launch.options and "role_prompt" not in launch.options \
        and not launch.role_prompt_env


def binary_problem(name: str, env_path: str | None) -> str | None:
    """Why the runtime binary cannot be started (naming the file), or None."""
    found = find_binary(name, env_path)
    if found is None:
        import shutil

        bare = shutil.which(name, mode=os.F_OK, path=env_path) if "/" not in name else None
        if bare is not None:
            return f"runtime binary {bare} is not executable (chmod +x {bare})"
        return f"runtime binary {name!r} not found on PATH"
    if not os.access(found, os.X_OK) or os.path.isdir(found):
        return f"runtime binary {found} is not executable (chmod +x {found})"
    return None


def launch_plan(team: Team, agent: Agent, loaded: dict[str, Runtime] | None = None,
                write_files: bool = True) -> tuple[list[str], dict[str, str]]:
    """The runtime argv and environment the watcher will use for `agent`; `loaded` caches
    descriptors across the agents of one command (fifty agents share a handful of runtimes)."""
    from ..agent.settings import settings_for_agent

    cache = loaded if loaded is not None else {}
    if agent.runtime not in cache:
        checks = DescriptorChecks(team.state_dir, create=False, read_only=not write_files)
        cache[agent.runtime] = load_runtime(agent.runtime, team.team_dir, checks=checks)
    settings = settings_for_agent(team, agent, runtime=cache[agent.runtime], write_files=write_files)
    return list(settings.argv), dict(settings.env)


def store(team: Team) -> Store:
    return Store(broker_selected(team).mailbox_path, layout.spool_dir(team.state_dir), "teamctl", recover=True)


def register(team: Team, st: Store) -> None:
    """Projects and agents into the mailbox, as teamctl does."""
    st.register(projects=[(p.id, p.name) for p in team.projects],
                agents=[(a.id, a.project, a.name, a.runtime, a.is_manager, a.reports_to)
                        for a in team.agents])

"""Load and validate a teamctl compose tree (`.team/team-compose.yaml` + `projects/*.yaml`).

The loader turns the YAML into frozen dataclasses so the rest of the supervisor never touches raw
dicts, and it reports every problem in one pass (with file and dotted key) because a user fixing a
compose tree should not have to rerun `validate` once per typo.

Path rules (same as upstream teamctl): `broker.path`, `projects[].file` and `role_prompt` are
relative to the team dir (the folder holding team-compose.yaml), and so is a project's `cwd`:
upstream's `up` does `compose.root.join(&project.project.cwd)` with the root being `.team/`, so
`cwd: ../workspace` is a folder beside `.team/`.

The work is split by job: compose_checker (YAML and typed getters), compose_sections (the global
sections), compose_projects (project files and agents); this module walks the tree and cross-checks.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

from ..core.compose_model import (
    COMPOSE_FILE,
    TEAM_DIRNAME,
    WAIT_HOOK,
    Agent,
    BudgetSettings,
    ComposeError,
    FrozenMap,
    HookSpec,
    Problem,
    Project,
    RateLimitSettings,
    Team,
    UnknownAgentError,
    did_you_mean,
    find_root,
)
from ..core.descriptors.loader import runtime_files
from ..store import layout
from ..store.broker import POINTER, write_pointer
from . import compose_unserved
from .compose_cache import ParseCache
from .compose_checker import ENV_NAME_RE, MISSING, PREFIX_RE, Checker, index, join, resolve, type_name
from .compose_projects import RESTART_POLICIES, RawAgent, parse_project
from .compose_sections import (
    HOOK_ACTIONS,
    check_passthrough,
    check_version,
    parse_budget,
    parse_rate_limits,
)
from .hosts import check_agent_hosts, parse_hosts

__all__ = [
    "COMPOSE_FILE",
    "HOOK_ACTIONS",
    "RESTART_POLICIES",
    "WAIT_HOOK",
    "Agent",
    "BudgetSettings",
    "ComposeError",
    "FrozenMap",
    "HookSpec",
    "Problem",
    "Project",
    "RateLimitSettings",
    "Team",
    "UnknownAgentError",
    "find_root",
    "load_team",
]

#: Upstream's default; "t-" was ours until 2026-12 and sessions made with it are still found.
DEFAULT_TMUX_PREFIX = "a-"
LEGACY_TMUX_PREFIX = "t-"
DEFAULT_MAILBOX = str(layout.DEFAULT_MAILBOX)

# Keys we read or knowingly pass through. Anything else gets a did-you-mean warning.
_TOP_KEYS = (
    "version", "broker", "supervisor", "budget", "hitl", "interfaces", "projects", "rate_limits",
    "telegram", "attachments", "hosts",
)
_BROKER_KEYS = ("type", "path", "url", "url_env")
_SUPERVISOR_KEYS = ("type", "tmux_prefix", "drain_timeout_secs")
_PROJECT_REF_KEYS = ("file",)


# --------------------------------------------------------------------------------------------------
# Entry point


def load_team(team_dir: Path, known_runtimes: Collection[str] | None = None, *, cache: bool = False) -> Team:
    """Parse + validate; raises ComposeError listing EVERY problem at once (not just the first).

    Warnings (unknown keys, with a did-you-mean) are kept in team.warnings and do not raise.
    `known_runtimes`, when given, makes an agent naming any other runtime an error.
    `cache`: use and refresh state/cache/compose.json (written only for a tree that loads).
    """
    team_dir = Path(team_dir).expanduser().resolve()
    if not (team_dir / COMPOSE_FILE).is_file() and (team_dir / TEAM_DIRNAME / COMPOSE_FILE).is_file():
        team_dir = team_dir / TEAM_DIRNAME  # tolerate being handed the folder that contains .team
    compose_file = team_dir / COMPOSE_FILE
    base_dir = team_dir.parent if team_dir.name == TEAM_DIRNAME else team_dir
    c = Checker(ParseCache(layout.compose_cache(layout.state_dir(team_dir))) if cache else None)
    data = c.read_yaml(compose_file)
    if data is MISSING:
        raise ComposeError(c.problems)
    assert isinstance(data, dict)

    c.keys(data, _TOP_KEYS, "")
    check_version(c, data)
    broker = c.mapping(data, "broker", "")
    c.keys(broker, _BROKER_KEYS, "broker")
    btype = c.string(broker, "type", "broker", default="sqlite")
    if btype not in ("sqlite", "postgres"):
        c.error("broker.type", f"unsupported broker {btype!r}; 'sqlite' (the default) or 'postgres'")
    mailbox_raw = c.string(broker, "path", "broker", default=DEFAULT_MAILBOX) or DEFAULT_MAILBOX
    mailbox_path = resolve(team_dir, mailbox_raw)
    broker_url, broker_url_env = parse_postgres_broker(c, broker, btype)
    if btype == "postgres":
        mailbox_path = team_dir / "state" / POINTER  # a pointer to the database (store/broker.py)
    sup = c.mapping(data, "supervisor", "")
    c.keys(sup, _SUPERVISOR_KEYS, "supervisor")
    c.string(sup, "type", "supervisor")
    tmux_prefix = c.string(sup, "tmux_prefix", "supervisor", default=DEFAULT_TMUX_PREFIX)
    tmux_prefix = DEFAULT_TMUX_PREFIX if tmux_prefix is None else tmux_prefix
    if not PREFIX_RE.fullmatch(tmux_prefix):
        c.error("supervisor.tmux_prefix", f"{tmux_prefix!r} is not allowed: at most 32 of letters, "
                                          "digits, '_', '.', '-' and do not start with '-' or '.'")
    check_passthrough(c, data)
    compose_unserved.check_tree(c, data)
    stray = base_dir / "runtimes"
    if team_dir.name == TEAM_DIRNAME and stray.is_dir():  # a natural guess, and silently unused
        c.warn("", f"ignored: team runtimes are read from {team_dir / 'runtimes'}/, not from this folder "
                   "beside .team/ (move the files there)", stray)
    rate_limits, hook_where = parse_rate_limits(c, data)
    budget = parse_budget(c, data)

    projects: list[Project] = []
    raw_agents: list[RawAgent] = []
    refs = data.get("projects")
    if refs is None:
        c.error("projects", "missing: list the project files, e.g. `projects: [{file: projects/x.yaml}]`")
        refs = []
    elif not isinstance(refs, list):
        c.error("projects", f"must be a list of {{file: ...}} entries, got {type_name(refs)}")
        refs = []
    elif not refs:
        c.error("projects", "is empty: a team needs at least one project")
    parsed_refs: list[tuple[str, str]] = []
    for i, ref in enumerate(refs):
        rp = index("projects", i)
        if isinstance(ref, str):
            ref = {"file": ref}  # tolerate the short form `- projects/x.yaml`
        if not isinstance(ref, dict):
            c.error(rp, f"must be a mapping with a 'file' key, got {type_name(ref)}")
            continue
        c.keys(ref, _PROJECT_REF_KEYS, rp)
        f = c.string(ref, "file", rp, required=True)
        if f:
            parsed_refs.append((join(rp, "file"), f))

    first_seen: dict[str, Path] = {}
    for ref_path, f in parsed_refs:
        result = parse_project(c, ref_path, f, team_dir, compose_file, known_runtimes)
        c.file = compose_file
        if result is None:
            continue
        project, agents = result
        if project.id in first_seen:
            c.error(ref_path, f"duplicate project id {project.id!r} (also in {first_seen[project.id]})")
            continue
        first_seen[project.id] = project.file
        projects.append(project)
        raw_agents.extend(agents)

    # Cross-references that need the whole tree.
    def check_hooks(names: Sequence[str], key: str, file: Path) -> None:
        for i, n in enumerate(names):
            if n not in hook_where:
                c.error(index(key, i) if len(names) > 1 else key,
                        f"unknown hook {n!r}{did_you_mean(n, hook_where)}; declare it under "
                        f"rate_limits.hooks (known: {', '.join(sorted(hook_where))})", file)

    check_hooks(rate_limits.default_on_hit, "rate_limits.default_on_hit", compose_file)
    check_hooks(budget.on_cap, "budget.on_cap", compose_file)
    check_hooks(budget.on_warn, "budget.on_warn", compose_file)
    check_hooks(budget.on_report, "budget.on_report", compose_file)
    for ra in raw_agents:
        check_hooks(ra.agent.on_rate_limit, join(ra.path, "on_rate_limit"), ra.file)
        for event, names in ra.agent.on_event.items():  # issue 22: hooks for the night
            check_hooks(names, join(join(ra.path, "on_event"), event), ra.file)
    no_wait = "chain has no 'wait' hook: the agent is respawned without waiting for the limit to reset"
    if "wait" not in rate_limits.default_on_hit:
        c.warn("rate_limits.default_on_hit", no_wait, compose_file)
    for ra in raw_agents:
        if ra.agent.on_rate_limit and "wait" not in ra.agent.on_rate_limit:
            c.warn(join(ra.path, "on_rate_limit"), no_wait, ra.file)
    if isinstance(budget.per_project_usd_limit, dict):
        for pid in budget.per_project_usd_limit:
            if pid not in first_seen:
                c.error(join("budget.per_project_usd_limit", pid),
                        f"no project {pid!r}{did_you_mean(pid, first_seen)}")

    agents = tuple(ra.agent for ra in raw_agents)
    hooks = list(rate_limits.hooks)
    for i, h in enumerate(hooks):
        if h.action != "send" or h.to is None:
            continue
        resolved = _resolve_recipient(h.to, agents)
        if resolved is None:
            # `known-project:typo` is surely a mistake; anything else may be a non-agent recipient
            # (e.g. an interface address), so it only warns.
            report = c.error if h.to.split(":", 1)[0] in first_seen and ":" in h.to else c.warn
            report(join(hook_where.get(h.name or "", "rate_limits.hooks"), "to"),
                   f"{h.to!r} does not name an agent in this team"
                   f"{did_you_mean(h.to, [a.id for a in agents])}", compose_file)
        elif resolved != h.to:
            hooks[i] = dataclasses.replace(h, to=resolved)
    rate_limits = dataclasses.replace(rate_limits, hooks=tuple(hooks))
    hosts = parse_hosts(c, data)
    check_agent_hosts(c, [(ra.agent, ra.host_key, ra.file) for ra in raw_agents], hosts)

    ordered = _ordered(c.problems)
    if c.has_errors:
        raise ComposeError(ordered)
    if c.cache is not None:
        c.cache.save()
    return Team(
        team_dir=team_dir,
        base_dir=base_dir,
        compose_file=compose_file,
        tmux_prefix=tmux_prefix,
        mailbox_path=mailbox_path,
        state_dir=layout.state_dir(team_dir),
        rate_limits=rate_limits,
        budget=budget,
        projects=tuple(projects),
        agents=agents,
        warnings=tuple(ordered),
        broker_url=broker_url,
        broker_url_env=broker_url_env,
        hosts=hosts,
    )


def parse_postgres_broker(c: Checker, broker: dict[str, Any], btype: str | None) -> tuple[str | None, str | None]:
    """broker.url / broker.url_env: exactly one for 'postgres', neither for 'sqlite'."""
    url = c.string(broker, "url", "broker")
    url_env = c.string(broker, "url_env", "broker")
    if btype != "postgres":
        for key in ("url", "url_env"):
            if key in broker:
                c.error(f"broker.{key}", "only for broker.type postgres (SQLite's mailbox is broker.path)")
        return None, None
    if "path" in broker:
        c.error("broker.path", "not for broker.type postgres: the mailbox is the database at broker.url")
    if bool(url) == bool(url_env):
        c.error("broker", "broker.type postgres needs one of 'url' (postgresql://...) or 'url_env' (a variable"
                          " holding it, so that no password sits in this file)")
    if url and not re.match(r"postgres(ql)?://", url):
        c.error("broker.url", f"must start with postgresql://, got {url[:40]!r}")
    if url_env and not ENV_NAME_RE.fullmatch(url_env):
        c.error("broker.url_env", f"{url_env!r} is not an environment variable name")
    return url, url_env


def _ordered(problems: Sequence[Problem]) -> list[Problem]:
    """Group by file (in the order files were first read), then by line, so output reads top-down."""
    first: dict[Path, int] = {}
    for p in problems:
        first.setdefault(p.file, len(first))
    return sorted(problems, key=lambda p: (first[p.file], p.line is None, p.line or 0))


def _resolve_recipient(to: str, agents: Sequence[Agent]) -> str | None:
    """Full agent id for a `send` recipient given as `project:agent` or a unique bare name."""
    if any(a.id == to for a in agents):
        return to
    matches = [a.id for a in agents if a.name == to]
    return matches[0] if len(matches) == 1 else None



def load_compose(root: str | None, cwd: Path | None = None) -> Team | None:
    """The team at --root / TEAMCTL_ROOT / the nearest .team above cwd, or None when there is none."""
    team_dir = find_root(root, os.environ, cwd or Path.cwd())
    if team_dir is None:
        return None
    return broker_selected(load_team(team_dir, set(runtime_files(team_dir)), cache=True))


def broker_selected(team: Team) -> Team:
    """A PostgreSQL team's mailbox path is a pointer to its database (store/broker.py): written here,
    so that watchers, hooks and `down` open `Store(team.mailbox_path)` as on SQLite. It holds the URL
    as compose gives it (or the variable's name), never the variable's value."""
    if team.broker_url or team.broker_url_env:
        write_pointer(team.mailbox_path, team.broker_url, team.broker_url_env)
    return team

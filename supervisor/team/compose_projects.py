"""Parsers for one project file: its `project:` block, channels, and every manager and worker."""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..agent.hooks import EVENTS
from ..core.compose_model import Agent, FrozenMap, McpServer, Project, did_you_mean
from ..core.lazy_dataclass import lazy_dataclass
from . import compose_unserved
from .compose_checker import (
    MISSING,
    Checker,
    index,
    inside,
    join,
    resolve,
    type_name,
)
from .compose_sections import check_version, parse_env

DEFAULT_RUNTIME = "claude-code"  # upstream default when an agent names no runtime
RESTART_POLICIES = ("always", "on-failure", "never")
_PROJECT_FILE_KEYS = ("version", "project", "channels", "managers", "workers", "interfaces")
_PROJECT_META_KEYS = ("id", "name", "cwd", "host")
_CHANNEL_KEYS = ("name", "members")
_AGENT_KEYS = (
    # read by this supervisor
    "runtime", "model", "role_prompt", "permission_mode", "effort", "on_rate_limit", "restart", "tz",
    "env", "limit_group", "reports_to", "auto_resume", "max_resumes_per_day", "on_event", "host",
    # upstream teamctl keys we pass through (mailbox, HITL, interfaces, TUI, Claude Code extras)
    "autonomy", "can_dm", "can_broadcast", "interfaces", "telegram", "telegram_inbox",
    "reports_to_user", "display_name", "hooks", "mcps", "subagents", "skills", "ultracode",
)
#: Agent keys whose near miss is an error: ignoring `runtim: codex` would start claude-code.
_DECISIVE_AGENT_KEYS = ("runtime", "model")
EFFORT_LEVELS = ("low", "medium", "high", "xhigh", "max")  # upstream's EffortLevel (schema 2.0.1)
_HOOK_SPEC_KEYS = ("event", "matcher", "command")
_MCP_KEYS = ("command", "args", "env")
# What upstream renders for Claude Code that this supervisor does not pass on (validate warns).
_NOT_APPLIED = {
    "hooks": "per-agent Claude Code hooks are not installed (upstream renders them into --settings)",
    "subagents": "sub-agents are not passed (upstream renders them into `claude --agents` JSON)",
    "skills": "skills are not passed (upstream links them into a scope dir given to `claude --add-dir`)",
    "ultracode": "ultracode is not set (upstream writes it into the --settings JSON)",
}



@lazy_dataclass
class RawAgent:
    agent: Agent
    path: str  # dotted key in the project file, e.g. workers.dev
    file: Path
    host_key: str = ""  # the key that placed it on a host: its own `host`, else `project.host`


def _missing_cwd(team_dir: Path, raw: str, cwd: Path) -> str:
    """A missing cwd. Upstream resolves it against the .team dir, so an upstream README's
    `mkdir -p workspace` (beside .team/) with `cwd: ./workspace` misses: name both places and the
    one-line fix, and leave the rule as it is."""
    text = f"working directory does not exist: {cwd} ({raw!r} is resolved against {team_dir}, as upstream does)"
    beside = resolve(team_dir.parent, raw)
    if not Path(raw).is_absolute() and beside.is_dir() and beside != cwd:
        fix = os.path.relpath(beside, team_dir)
        return text + f"; {beside} exists one level up: write `cwd: {fix}`, or create {cwd}"
    return text + f"; create it (mkdir -p {cwd}) or point cwd at an existing directory"


def parse_agent(c: Checker, name: object, a: object, path: str, *, project: str, is_manager: bool,
                 team_dir: Path, cwd: Path, known_runtimes: Collection[str] | None) -> RawAgent | None:
    if not isinstance(name, str):
        c.error(path, f"agent name must be a string, got {type_name(name)} {name!r}")
        return None
    c.name_ok(name, path, "agent name")
    if a is None:
        a = {}
    if not isinstance(a, dict):
        c.error(path, f"agent must be a mapping, got {type_name(a)}")
        return None
    c.keys(a, _AGENT_KEYS, path, decisive=_DECISIVE_AGENT_KEYS)

    runtime = c.string(a, "runtime", path, default=DEFAULT_RUNTIME) or DEFAULT_RUNTIME
    if c.name_ok(runtime, join(path, "runtime"), "runtime") and known_runtimes is not None \
            and runtime not in known_runtimes:
        hint = did_you_mean(runtime, known_runtimes)
        c.error(join(path, "runtime"), f"unknown runtime {runtime!r}{hint}; "
                                        f"known: {', '.join(sorted(known_runtimes)) or '(none)'}")

    role_prompts = _role_prompts(c, a, path, team_dir)
    effort = c.string(a, "effort", path)
    if effort is not None and effort not in EFFORT_LEVELS:
        c.error(join(path, "effort"), f"must be one of {'|'.join(EFFORT_LEVELS)}, got {effort!r}"
                                       f"{did_you_mean(effort, EFFORT_LEVELS)}")
        effort = None
    display_name = c.string(a, "display_name", path)
    if display_name is not None and not 0 < len(display_name) <= 64:
        c.error(join(path, "display_name"), "must be 1 to 64 characters")
    mcps = _parse_mcps(c, a, path)
    _check_claude_extras(c, a, path, runtime)
    compose_unserved.check_agent(c, a, path)

    restart = c.string(a, "restart", path, default="always") or "always"
    if restart not in RESTART_POLICIES:
        c.error(join(path, "restart"), f"must be one of {', '.join(RESTART_POLICIES)}, got {restart!r}"
                                        f"{did_you_mean(restart, RESTART_POLICIES)}")
        restart = "always"

    limit_group = runtime
    if a.get("limit_group") is not None:
        limit_group = c.string(a, "limit_group", path, default=runtime) or runtime
        c.name_ok(limit_group, join(path, "limit_group"), "limit_group")

    reports_to = c.string(a, "reports_to", path)
    if reports_to and reports_to.startswith(f"{project}:"):
        reports_to = reports_to.split(":", 1)[1]

    agent = Agent(
        id=f"{project}:{name}",
        project=project,
        name=name,
        runtime=runtime,
        model=c.string(a, "model", path),
        role_prompt=role_prompts[0] if role_prompts else None,
        permission_mode=c.string(a, "permission_mode", path),
        effort=effort,
        on_rate_limit=c.names(a, "on_rate_limit", path) or (),
        restart=restart,
        tz=c.tz(a, "tz", path),
        env=parse_env(c, a, path),
        limit_group=limit_group,
        is_manager=is_manager,
        reports_to=reports_to,
        cwd=cwd,
        source=c.file,
        role_prompts=role_prompts,
        display_name=display_name,
        mcps=mcps,
        **_parse_resume_keys(c, a, path),
        host=c.string(a, "host", path),
    )
    return RawAgent(agent, path, c.file)


def _parse_resume_keys(c: Checker, a: Mapping[str, Any], path: str) -> dict[str, Any]:
    """`auto_resume: false`, `max_resumes_per_day: N` and `on_event: {stuck: [hook, ...]}` (issue 22)."""
    out: dict[str, Any] = {}
    auto = a.get("auto_resume")
    if auto is not None:
        if isinstance(auto, bool):
            out["auto_resume"] = auto
        else:
            c.error(join(path, "auto_resume"), f"must be true or false, got {type_name(auto)} {auto!r}")
    cap = a.get("max_resumes_per_day")
    if cap is not None:
        if isinstance(cap, int) and not isinstance(cap, bool) and cap >= 0:
            out["max_resumes_per_day"] = cap
        else:
            c.error(join(path, "max_resumes_per_day"), f"must be a whole number 0 or more, got {cap!r}")
    raw = a.get("on_event")
    if raw is None:
        return out
    kp = join(path, "on_event")
    if not isinstance(raw, dict):
        c.error(kp, f"must be a mapping of event: hook names, got {type_name(raw)}")
        return out
    events: dict[str, tuple[str, ...]] = {}
    for event in raw:
        if event not in EVENTS:
            c.error(join(kp, str(event)), f"unknown event {event!r}{did_you_mean(str(event), EVENTS)}; "
                                          f"known: {', '.join(EVENTS)}")
            continue
        names = c.names(raw, event, kp)
        if names:
            events[event] = names
    out["on_event"] = FrozenMap(events)
    return out


def parse_project(c: Checker, ref_path: str, raw_file: str, team_dir: Path,
                   compose_file: Path, known_runtimes: Collection[str] | None
                   ) -> tuple[Project, list[RawAgent]] | None:
    pfile = resolve(team_dir, raw_file)
    if not inside(pfile, team_dir):
        c.error(ref_path, f"project file {raw_file!r} is outside the team dir {team_dir}", compose_file)
        return None
    if not pfile.is_file():
        c.error(ref_path, f"project file not found: {pfile}", compose_file)
        return None
    data = c.read_yaml(pfile)
    if data is MISSING:
        return None
    assert isinstance(data, dict)
    c.keys(data, _PROJECT_FILE_KEYS, "")
    check_version(c, data)
    meta = c.mapping(data, "project", "", required=True)
    c.keys(meta, _PROJECT_META_KEYS, "project", decisive=("cwd",))
    pid = c.string(meta, "id", "project", required=True)
    if pid is not None:
        c.name_ok(pid, "project.id", "project id")
    pid = pid or pfile.stem
    pname = c.string(meta, "name", "project", default=pid) or pid
    raw_cwd = c.string(meta, "cwd", "project", default=".") or "."
    cwd = resolve(team_dir, raw_cwd)  # upstream: compose.root.join(project.cwd), root = the .team dir
    if not cwd.exists():
        c.error("project.cwd", _missing_cwd(team_dir, raw_cwd, cwd))
    elif not cwd.is_dir():
        c.error("project.cwd", f"working directory is not a directory: {cwd}")
    phost = c.string(meta, "host", "project")  # every agent's host unless it names its own

    compose_unserved.check_tree(c, data)
    channels = data.get("channels")
    if channels is not None and not isinstance(channels, list):
        c.error("channels", f"must be a list, got {type_name(channels)}")
    for i, ch in enumerate(channels if isinstance(channels, list) else []):
        cp = index("channels", i)
        if not isinstance(ch, dict):
            c.error(cp, f"channel must be a mapping, got {type_name(ch)}")
            continue
        c.keys(ch, _CHANNEL_KEYS, cp)
        c.string(ch, "name", cp, required=True)
        members = ch.get("members")
        if members is not None and members != "*" and not (
                isinstance(members, list) and all(isinstance(m, str) for m in members)):
            c.error(join(cp, "members"), 'must be a list of agent names or "*"')

    agents: list[RawAgent] = []
    seen: dict[str, str] = {}
    for section, is_manager in (("managers", True), ("workers", False)):
        block = c.mapping(data, section, "")
        for name, a in block.items():
            ap = join(section, name)
            ra = parse_agent(c, name, a, ap, project=pid, is_manager=is_manager, team_dir=team_dir,
                              cwd=cwd, known_runtimes=known_runtimes)
            if ra is None:
                continue
            if ra.agent.name in seen:
                c.error(ap, f"duplicate agent id {ra.agent.id!r} (also defined at {seen[ra.agent.name]})")
                continue
            seen[ra.agent.name] = ap
            ra.host_key = join(ap, "host")
            if phost is not None and ra.agent.host is None:
                ra.agent, ra.host_key = replace(ra.agent, host=phost), "project.host"
            agents.append(ra)
    if not agents:
        c.warn("", "project defines no managers or workers")
    for ra in agents:
        rt = ra.agent.reports_to
        if rt is None:
            continue
        kp = join(ra.path, "reports_to")
        if rt == ra.agent.name:
            c.error(kp, "an agent cannot report to itself")
        elif rt not in seen:
            c.error(kp, f"reports_to names {rt!r}, which is not an agent in project {pid!r}"
                        f"{did_you_mean(rt, seen)}")
    return Project(id=pid, name=pname, cwd=cwd, file=pfile), agents


def _role_prompts(c: Checker, a: Mapping[str, Any], path: str, team_dir: Path) -> tuple[Path, ...]:
    """One file or a list of files (upstream 2.0: concatenated in declared order), each checked."""
    rp = a.get("role_prompt")
    kp = join(path, "role_prompt")
    if rp is None:
        return ()
    if rp == "" or rp == []:
        c.error(kp, "must not be empty (remove the key for no role prompt)")
        return ()
    items = [(kp, rp)] if isinstance(rp, str) else list(enumerate(rp)) if isinstance(rp, list) else None
    if items is None:
        c.error(kp, f"must be a path or a list of paths, got {type_name(rp)}")
        return ()
    out: list[Path] = []
    for where, raw in items:
        key = where if isinstance(where, str) else index(kp, where)
        if not isinstance(raw, str) or not raw:
            c.error(key, f"must be a non-empty path string, got {type_name(raw)}")
            continue
        file = resolve(team_dir, raw)
        if not file.exists():
            c.error(key, f"role prompt file not found: {file}")
        elif not file.is_file():
            c.error(key, f"role prompt is not a file: {file}")
        else:
            out.append(file)
    return tuple(out)


def _parse_mcps(c: Checker, a: Mapping[str, Any], path: str) -> tuple[McpServer, ...]:
    """`mcps: {name: {command, args, env}}`; `team` is upstream's own mailbox server, so refused."""
    raw = a.get("mcps")
    kp = join(path, "mcps")
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        c.error(kp, f"must be a mapping of server name to {{command, args, env}}, got {type_name(raw)}")
        return ()
    out: list[McpServer] = []
    for name, spec in raw.items():
        sp = join(kp, name)
        if name == "team":
            c.error(sp, "'team' is the name of teamctl's own mailbox server; pick another name")
            continue
        if not isinstance(spec, dict):
            c.error(sp, f"must be a mapping with 'command', got {type_name(spec)}")
            continue
        c.keys(spec, _MCP_KEYS, sp)
        command = c.string(spec, "command", sp, required=True)
        args = spec.get("args") or []
        if not isinstance(args, list) or not all(isinstance(x, str) for x in args):
            c.error(join(sp, "args"), "must be a list of strings")
            args = []
        env = spec.get("env") or {}
        if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
            c.error(join(sp, "env"), "must be a mapping of NAME: string")
            env = {}
        if command:
            out.append(McpServer(str(name), command, tuple(args), FrozenMap({str(k): v for k, v in env.items()})))
    return tuple(out)


def _check_claude_extras(c: Checker, a: Mapping[str, Any], path: str, runtime: str) -> None:
    """Check the shapes of upstream's Claude Code extras, and warn that they are not applied."""
    hooks = a.get("hooks")
    if hooks is not None and not isinstance(hooks, list):
        c.error(join(path, "hooks"), f"must be a list of {{event, matcher, command}}, got {type_name(hooks)}")
    for i, h in enumerate(hooks if isinstance(hooks, list) else []):
        hp = index(join(path, "hooks"), i)
        if not isinstance(h, dict):
            c.error(hp, f"must be a mapping with 'event' and 'command', got {type_name(h)}")
            continue
        c.keys(h, _HOOK_SPEC_KEYS, hp)
        c.string(h, "event", hp, required=True)
        c.string(h, "matcher", hp)
        c.string(h, "command", hp, required=True)
    for key in ("subagents", "skills"):
        v = a.get(key)
        if v is not None and not (isinstance(v, list) and all(isinstance(x, str) and x for x in v)):
            c.error(join(path, key), "must be a list of paths")
    if a.get("ultracode") is not None and not isinstance(a.get("ultracode"), bool):
        c.error(join(path, "ultracode"), "must be true or false")
    for key, what in _NOT_APPLIED.items():
        if a.get(key) not in (None, [], False):
            where = "" if runtime == "claude-code" else f" (and upstream applies it to claude-code only, not {runtime})"
            c.warn(join(path, key), f"{what}: not applied by this supervisor{where}")


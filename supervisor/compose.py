"""Load and validate a teamctl compose tree (`.team/team-compose.yaml` + `projects/*.yaml`).

The loader turns the YAML into frozen dataclasses so the rest of the supervisor never touches raw
dicts, and it reports every problem in one pass (with file and dotted key) because a user fixing a
compose tree should not have to rerun `validate` once per typo.

Path rules (same as upstream teamctl): `broker.path`, `projects[].file` and `role_prompt` are
relative to the team dir (the folder holding team-compose.yaml); a project's `cwd` is relative to
the folder that contains `.team`.
"""

from __future__ import annotations

import dataclasses
import math
import re
import zoneinfo
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .compose_cache import ParseCache
from .compose_model import (
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

SUPPORTED_VERSION = 2
DEFAULT_RUNTIME = "claude-code"  # upstream default when an agent names no runtime
DEFAULT_TMUX_PREFIX = "t-"
DEFAULT_MAILBOX = "state/mailbox.db"
RESTART_POLICIES = ("always", "on-failure", "never")
HOOK_ACTIONS = ("wait", "send", "webhook", "run")
WEBHOOK_METHODS = ("POST", "PUT", "GET", "PATCH")
DEFAULT_SEND_TEXT = "{agent} hit a rate limit; resets {resets_at_local}"

# Names end up in tmux session names, file names and argv: no shell metacharacters, no separators,
# nothing tmux or a CLI could read as an option or a hidden file.
_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_PREFIX_RE = re.compile(r"(?:[A-Za-z0-9_][A-Za-z0-9_.-]*)?")
_ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_VERSION_RE = re.compile(r"2(?:\.0){0,2}")

# Keys we read or knowingly pass through. Anything else gets a did-you-mean warning.
_TOP_KEYS = (
    "version", "broker", "supervisor", "budget", "hitl", "interfaces", "projects", "rate_limits",
    "telegram",
)
_BROKER_KEYS = ("type", "path")
_SUPERVISOR_KEYS = ("type", "tmux_prefix")
_HITL_KEYS = ("globally_sensitive_actions", "auto_approve_windows")
_AUTO_APPROVE_KEYS = ("action", "project", "agent", "scope", "until")
_INTERFACE_KEYS = ("type", "name", "config")
_PROJECT_REF_KEYS = ("file",)
_RATE_LIMIT_KEYS = ("hooks", "default_on_hit", "fallback_wait_seconds", "margin_seconds", "max_wait_seconds")
_HOOK_KEYS = (
    "name", "action", "to", "text", "template", "url", "url_env", "method", "argv", "command", "timeout",
)
_HOOK_KEYS_BY_ACTION = {
    "wait": {"name", "action", "timeout"},
    "send": {"name", "action", "to", "text", "template", "timeout"},
    "webhook": {"name", "action", "url", "url_env", "method", "text", "template", "timeout"},
    "run": {"name", "action", "argv", "command", "timeout"},
}
_BUDGET_KEYS = (
    "daily_usd_limit", "per_project_usd_limit", "warn_threshold_pct", "tz", "on_cap", "on_warn",
    "message_ttl_hours",
)
_PROJECT_FILE_KEYS = ("version", "project", "channels", "managers", "workers")
_PROJECT_META_KEYS = ("id", "name", "cwd")
_CHANNEL_KEYS = ("name", "members")
_AGENT_KEYS = (
    # read by this supervisor
    "runtime", "model", "role_prompt", "permission_mode", "effort", "on_rate_limit", "restart", "tz",
    "env", "limit_group", "reports_to",
    # upstream teamctl keys we pass through (mailbox, HITL, interfaces, TUI, Claude Code extras)
    "autonomy", "can_dm", "can_broadcast", "interfaces", "telegram", "telegram_inbox",
    "reports_to_user", "display_name", "hooks", "mcps", "subagents", "skills",
)


# --------------------------------------------------------------------------------------------------
# YAML reading with key line numbers and duplicate-key detection


if TYPE_CHECKING:
    import yaml


@cache
def _loader() -> type:
    """A SafeLoader subclass, so our tweaks never leak into yaml.SafeLoader. PyYAML is imported
    here, on the first file not found in the parse cache."""
    import yaml

    return type("_Loader", (yaml.SafeLoader,), {})


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def _index(path: str, i: int) -> str:
    return f"{path}[{i}]"


def _walk_nodes(node: yaml.Node, path: str, lines: dict[str, int], dups: list[tuple[str, int]],
                seen: set[int]) -> None:
    """Record the line of every mapping key by dotted path, and any key repeated in one mapping.

    PyYAML silently keeps the last of two equal keys; two `dev:` workers would vanish into one.
    """
    import yaml

    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        local: set[str] = set()
        for knode, vnode in node.value:
            if isinstance(knode, yaml.ScalarNode) and knode.tag != "tag:yaml.org,2002:merge":
                kpath = _join(path, knode.value)
                line = knode.start_mark.line + 1
                if knode.value in local:
                    dups.append((kpath, line))
                local.add(knode.value)
                lines.setdefault(kpath, line)
                _walk_nodes(vnode, kpath, lines, dups, seen)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            ipath = _index(path, i)
            lines.setdefault(ipath, item.start_mark.line + 1)
            _walk_nodes(item, ipath, lines, dups, seen)


# --------------------------------------------------------------------------------------------------
# Validation helpers

_MISSING = object()


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    return {dict: "mapping", list: "list", str: "string", bool: "boolean", int: "integer",
            float: "number"}.get(type(value), type(value).__name__)


class _Checker:
    """Collects problems for one load; `file`/`lines` point at the YAML file being checked."""

    def __init__(self, cache: ParseCache | None = None) -> None:
        self.problems: list[Problem] = []
        self.file = Path()
        self._lines: dict[Path, dict[str, int]] = {}
        self.cache = cache

    # -- reporting

    def _line(self, file: Path, key: str) -> int | None:
        """Line of `key`, or of its nearest parent that has one (a missing key has no line)."""
        lines = self._lines.get(file, {})
        k = key
        while k:
            if k in lines:
                return lines[k]
            cut = max(k.rfind("."), k.rfind("["))
            k = k[:cut] if cut > 0 else ""
        return None

    def error(self, key: str, message: str, file: Path | None = None) -> None:
        self._add(key, message, "error", file)

    def warn(self, key: str, message: str, file: Path | None = None) -> None:
        self._add(key, message, "warning", file)

    def _add(self, key: str, message: str, severity: str, file: Path | None) -> None:
        f = file or self.file
        self.problems.append(Problem(f, key, message, severity, self._line(f, key)))

    @property
    def has_errors(self) -> bool:
        return any(p.severity == "error" for p in self.problems)

    # -- files

    def read_yaml(self, path: Path) -> object:
        """Parse `path`, recording line numbers; returns _MISSING after reporting a problem."""
        self.file = path
        lines = self._lines.setdefault(path, {})
        try:
            raw = path.read_bytes()
            text = raw.decode("utf-8")
        except FileNotFoundError:
            self.error("", "file not found")
            return _MISSING
        except (OSError, UnicodeDecodeError) as exc:
            self.error("", f"cannot read file: {exc}")
            return _MISSING
        cached = self.cache.get(path, raw) if self.cache is not None else None
        if cached is not None and isinstance(cached[0], dict):
            lines.update(cached[1])
            return cached[0]
        data = self._parse(path, text, lines)
        if data is not _MISSING and self.cache is not None and not self.has_errors:
            self.cache.put(path, raw, data, lines)
        return data

    def _parse(self, path: Path, text: str, lines: dict[str, int]) -> object:
        import yaml

        loader = _loader()(text)
        try:
            node = loader.get_single_node()
            if node is None:
                self.error("", "file is empty; expected a mapping")
                return _MISSING
            dups: list[tuple[str, int]] = []
            _walk_nodes(node, "", lines, dups, set())
            for kpath, line in dups:
                self.problems.append(Problem(path, kpath, "duplicate key; YAML would silently keep only "
                                             "the last one", "error", line))
            data = loader.construct_document(node)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
            what = "; ".join(x for x in (exc.context, exc.problem) if x)
            self.error("", f"YAML syntax error: {where}{what}")
            return _MISSING
        except yaml.YAMLError as exc:
            self.error("", f"YAML error: {exc}")
            return _MISSING
        finally:
            loader.dispose()
        if not isinstance(data, dict):
            self.error("", f"expected a mapping at the top level, got {_type_name(data)}")
            return _MISSING
        return data

    # -- typed getters (each reports and returns the default on a bad value)

    def keys(self, m: Mapping[Any, Any], known: Collection[str], path: str) -> None:
        """Warn about unknown keys with a did-you-mean, since a typo'd key is otherwise ignored."""
        for k in m:
            if not isinstance(k, str):
                self.error(_join(path, k), f"key must be a string, got {_type_name(k)}")
            elif k not in known:
                self.warn(_join(path, k), f"unknown key {k!r}{did_you_mean(k, known)}; ignored")

    def mapping(self, m: Mapping[str, Any], key: str, path: str, *, required: bool = False) -> dict[str, Any]:
        v = m.get(key)
        if v is None:
            if required:
                self.error(_join(path, key), "required mapping is missing")
            return {}
        if not isinstance(v, dict):
            self.error(_join(path, key), f"must be a mapping, got {_type_name(v)}")
            return {}
        return v

    def string(self, m: Mapping[str, Any], key: str, path: str, *, required: bool = False,
               default: str | None = None) -> str | None:
        v = m.get(key)
        if v is None:
            if required:
                self.error(_join(path, key), "required string is missing")
            return default
        if not isinstance(v, str):
            self.error(_join(path, key), f"must be a string, got {_type_name(v)}")
            return default
        if v == "" and required:
            self.error(_join(path, key), "must not be empty")
            return default
        return v

    def number(self, m: Mapping[str, Any], key: str, path: str, default: float | None, *,
               positive: bool = False, non_negative: bool = False,
               maximum: float | None = None) -> float | None:
        v = m.get(key)
        if v is None:
            return default
        kp = _join(path, key)
        if not _is_number(v):
            self.error(kp, f"must be a number, got {_type_name(v)} {v!r}")
            return default
        v = float(v)
        if positive and v <= 0:
            self.error(kp, f"must be greater than 0, got {v:g}")
            return default
        if non_negative and v < 0:
            self.error(kp, f"must not be negative, got {v:g}")
            return default
        if maximum is not None and v > maximum:
            self.error(kp, f"must be at most {maximum:g}, got {v:g}")
            return default
        return v

    def names(self, m: Mapping[str, Any], key: str, path: str) -> tuple[str, ...] | None:
        """A single string or a list of strings; None when absent or invalid."""
        v = m.get(key)
        if v is None:
            return None
        kp = _join(path, key)
        if isinstance(v, str):
            return (v,)
        if not isinstance(v, list):
            self.error(kp, f"must be a string or a list of strings, got {_type_name(v)}")
            return None
        out: list[str] = []
        for i, item in enumerate(v):
            if not isinstance(item, str) or not item:
                self.error(_index(kp, i), f"must be a non-empty string, got {_type_name(item)}")
            else:
                out.append(item)
        return tuple(out)

    def name_ok(self, value: str, key: str, what: str) -> bool:
        if _NAME_RE.fullmatch(value):
            return True
        self.error(key, f"{what} {value!r} is not allowed: use only letters, digits, '_', '.', '-' and "
                        "do not start with '-' or '.' (it becomes a tmux session / file name)")
        return False

    def tz(self, m: Mapping[str, Any], key: str, path: str) -> str | None:
        v = self.string(m, key, path)
        if v is None:
            return None
        try:
            zoneinfo.ZoneInfo(v)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
            self.error(_join(path, key), f"unknown time zone {v!r} (use an IANA name like Europe/Berlin)")
            return None
        return v


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True


def _resolve(base: Path, raw: str) -> Path:
    return (base / Path(raw).expanduser()).resolve()


# --------------------------------------------------------------------------------------------------
# Sections


def _check_version(c: _Checker, data: Mapping[str, Any]) -> None:
    v = data.get("version", _MISSING)
    if v is _MISSING or v is None:
        c.error("version", f"missing; this supervisor reads version {SUPPORTED_VERSION}")
        return
    ok = (
        (_is_number(v) and float(v) == SUPPORTED_VERSION)
        or (isinstance(v, str) and _VERSION_RE.fullmatch(v.strip()) is not None)
    )
    if not ok:
        c.error("version", f"unsupported version {v!r}; this supervisor reads version {SUPPORTED_VERSION}")


def _parse_hook(c: _Checker, h: object, path: str) -> HookSpec | None:
    if not isinstance(h, dict):
        c.error(path, f"hook must be a mapping, got {_type_name(h)}")
        return None
    c.keys(h, _HOOK_KEYS, path)
    name = c.string(h, "name", path, required=True)
    action = c.string(h, "action", path, required=True)
    if action is None:
        return None
    if action not in HOOK_ACTIONS:
        c.error(_join(path, "action"), f"unknown action {action!r}{did_you_mean(action, HOOK_ACTIONS)}; "
                                       f"expected one of {', '.join(HOOK_ACTIONS)}")
        return None
    for k in h:
        if isinstance(k, str) and k in _HOOK_KEYS and k not in _HOOK_KEYS_BY_ACTION[action]:
            c.warn(_join(path, k), f"key {k!r} has no effect on a {action!r} hook")
    if "text" in h and "template" in h:
        c.error(_join(path, "template"), "give either 'text' or its alias 'template', not both")
    text = c.string(h, "text", path) or c.string(h, "template", path)
    timeout = c.number(h, "timeout", path, 10.0, positive=True)
    spec: dict[str, Any] = {"action": action, "name": name, "timeout": timeout}
    if action == "send":
        spec["to"] = c.string(h, "to", path, required=True)
        spec["text"] = text if text is not None else DEFAULT_SEND_TEXT
    elif action == "webhook":
        url = c.string(h, "url", path)
        url_env = c.string(h, "url_env", path)
        if not url and not url_env:
            c.error(_join(path, "url"), "a webhook hook needs 'url' or 'url_env'")
        if url and not re.match(r"https?://", url, re.IGNORECASE):
            c.error(_join(path, "url"), f"url must start with http:// or https://, got {url!r}")
        if url_env and not _ENV_NAME_RE.fullmatch(url_env):
            c.error(_join(path, "url_env"), f"{url_env!r} is not an environment variable name")
        method = (c.string(h, "method", path) or "POST").upper()
        if method not in WEBHOOK_METHODS:
            c.error(_join(path, "method"), f"unsupported method {method!r}; use {', '.join(WEBHOOK_METHODS)}")
        spec.update(url=url, url_env=url_env, text=text, method=method)
    elif action == "run":
        if "argv" in h and "command" in h:
            c.error(_join(path, "command"), "give either 'argv' or its alias 'command', not both")
        akey = "argv" if "argv" in h else "command"
        raw = h.get(akey)
        kp = _join(path, akey)
        argv: list[str] = []
        if isinstance(raw, str):
            c.error(kp, "must be a list of arguments (it is run without a shell), not a string")
        elif not isinstance(raw, list) or not raw:
            c.error(_join(path, "argv"), "a run hook needs a non-empty argv list")
        else:
            for i, arg in enumerate(raw):
                if isinstance(arg, str):
                    argv.append(arg)
                elif _is_number(arg):
                    argv.append(str(arg))
                else:
                    c.error(_index(kp, i), f"argument must be a string, got {_type_name(arg)}")
            if argv and not argv[0]:
                c.error(_index(kp, 0), "program name must not be empty")
        spec["argv"] = tuple(argv)
    return HookSpec(**spec)


def _parse_rate_limits(c: _Checker, data: Mapping[str, Any]) -> tuple[RateLimitSettings, dict[str, str]]:
    """Return settings plus {hook name: key path} for later cross-checks."""
    rl = c.mapping(data, "rate_limits", "")
    c.keys(rl, _RATE_LIMIT_KEYS, "rate_limits")
    hooks: list[HookSpec] = []
    where: dict[str, str] = {}
    raw_hooks = rl.get("hooks")
    if raw_hooks is not None and not isinstance(raw_hooks, list):
        c.error("rate_limits.hooks", f"must be a list of hooks, got {_type_name(raw_hooks)}")
        raw_hooks = []
    for i, h in enumerate(raw_hooks or []):
        hp = _index("rate_limits.hooks", i)
        spec = _parse_hook(c, h, hp)
        if spec is None or spec.name is None:
            if isinstance(h, dict) and isinstance(h.get("name"), str):
                where.setdefault(h["name"], hp)  # still a known name: avoid cascading "unknown hook"
            continue
        if spec.name in where:
            c.error(_join(hp, "name"), f"duplicate hook name {spec.name!r} (first at {where[spec.name]})")
            continue
        where[spec.name] = hp
        hooks.append(spec)
    if "wait" not in where:
        hooks.append(WAIT_HOOK)
        where["wait"] = "(built-in)"
    default = c.names(rl, "default_on_hit", "rate_limits") or ("wait",)
    fallback = c.number(rl, "fallback_wait_seconds", "rate_limits", 1800.0, positive=True)
    margin = c.number(rl, "margin_seconds", "rate_limits", 60.0, non_negative=True)
    max_wait = c.number(rl, "max_wait_seconds", "rate_limits", 8 * 86400.0, positive=True)
    assert fallback is not None and margin is not None and max_wait is not None
    if fallback > max_wait:
        c.error("rate_limits.fallback_wait_seconds",
                f"{fallback:g} exceeds max_wait_seconds ({max_wait:g})")
    settings = RateLimitSettings(tuple(hooks), default, fallback, margin, max_wait)
    return settings, where


def _parse_budget(c: _Checker, data: Mapping[str, Any]) -> BudgetSettings:
    b = c.mapping(data, "budget", "")
    c.keys(b, _BUDGET_KEYS, "budget")
    daily = c.number(b, "daily_usd_limit", "budget", None, positive=True)
    per_project: float | dict[str, float] | None = None
    raw = b.get("per_project_usd_limit")
    if isinstance(raw, dict):
        per_project = {}
        for pid, lim in raw.items():
            kp = _join("budget.per_project_usd_limit", pid)
            if not isinstance(pid, str):
                c.error(kp, f"project id must be a string, got {_type_name(pid)}")
            elif not _is_number(lim) or lim <= 0:
                c.error(kp, f"must be a number greater than 0, got {lim!r}")
            else:
                per_project[pid] = float(lim)
    elif raw is not None:
        per_project = c.number(b, "per_project_usd_limit", "budget", None, positive=True)
    warn = c.number(b, "warn_threshold_pct", "budget", 80.0, positive=True, maximum=100.0)
    assert warn is not None
    return BudgetSettings(
        daily_usd_limit=daily,
        per_project_usd_limit=per_project,
        warn_threshold_pct=warn,
        tz=c.tz(b, "tz", "budget"),
        on_cap=c.names(b, "on_cap", "budget") or (),
        on_warn=c.names(b, "on_warn", "budget") or (),
        message_ttl_hours=c.number(b, "message_ttl_hours", "budget", None, positive=True),
    )


def _check_passthrough(c: _Checker, data: Mapping[str, Any]) -> None:
    """Light checks on upstream sections we do not use, so typos there still surface."""
    hitl = c.mapping(data, "hitl", "")
    c.keys(hitl, _HITL_KEYS, "hitl")
    windows = hitl.get("auto_approve_windows")
    if isinstance(windows, list):
        for i, w in enumerate(windows):
            if isinstance(w, dict):
                c.keys(w, _AUTO_APPROVE_KEYS, _index("hitl.auto_approve_windows", i))
    ifaces = data.get("interfaces")
    if ifaces is not None and not isinstance(ifaces, list):
        c.error("interfaces", f"must be a list, got {_type_name(ifaces)}")
    for i, iface in enumerate(ifaces if isinstance(ifaces, list) else []):
        if isinstance(iface, dict):
            c.keys(iface, _INTERFACE_KEYS, _index("interfaces", i))  # `config` is adapter-specific
        else:
            c.error(_index("interfaces", i), f"must be a mapping, got {_type_name(iface)}")


def _parse_env(c: _Checker, a: Mapping[str, Any], path: str) -> FrozenMap:
    raw = a.get("env")
    if raw is None:
        return FrozenMap()
    kp = _join(path, "env")
    if not isinstance(raw, dict):
        c.error(kp, f"must be a mapping of NAME: value, got {_type_name(raw)}")
        return FrozenMap()
    env: dict[str, str] = {}
    for k, v in raw.items():
        vp = _join(kp, k)
        if not isinstance(k, str) or not _ENV_NAME_RE.fullmatch(k):
            c.error(vp, f"{k!r} is not an environment variable name")
        elif isinstance(v, str):
            env[k] = v
        elif _is_number(v):
            env[k] = str(v)
        else:
            c.error(vp, f"value must be a string (quote it), got {_type_name(v)}")
    return FrozenMap(env)


@dataclass
class _RawAgent:
    agent: Agent
    path: str  # dotted key in the project file, e.g. workers.dev
    file: Path


def _parse_agent(c: _Checker, name: object, a: object, path: str, *, project: str, is_manager: bool,
                 team_dir: Path, cwd: Path, known_runtimes: Collection[str] | None) -> _RawAgent | None:
    if not isinstance(name, str):
        c.error(path, f"agent name must be a string, got {_type_name(name)} {name!r}")
        return None
    c.name_ok(name, path, "agent name")
    if a is None:
        a = {}
    if not isinstance(a, dict):
        c.error(path, f"agent must be a mapping, got {_type_name(a)}")
        return None
    c.keys(a, _AGENT_KEYS, path)

    runtime = c.string(a, "runtime", path, default=DEFAULT_RUNTIME) or DEFAULT_RUNTIME
    if c.name_ok(runtime, _join(path, "runtime"), "runtime") and known_runtimes is not None \
            and runtime not in known_runtimes:
        hint = did_you_mean(runtime, known_runtimes)
        c.error(_join(path, "runtime"), f"unknown runtime {runtime!r}{hint}; "
                                        f"known: {', '.join(sorted(known_runtimes)) or '(none)'}")

    role_prompt: Path | None = None
    rp = a.get("role_prompt")
    if isinstance(rp, str) and rp:
        role_prompt = _resolve(team_dir, rp)
        if not role_prompt.exists():
            c.error(_join(path, "role_prompt"), f"role prompt file not found: {role_prompt}")
        elif not role_prompt.is_file():
            c.error(_join(path, "role_prompt"), f"role prompt is not a file: {role_prompt}")
    elif rp == "":
        c.error(_join(path, "role_prompt"), "must not be empty (remove the key for no role prompt)")
    elif isinstance(rp, list):
        c.error(_join(path, "role_prompt"), "a list of prompt files is not supported here; give one file")
    elif rp is not None:
        c.error(_join(path, "role_prompt"), f"must be a path string, got {_type_name(rp)}")

    restart = c.string(a, "restart", path, default="always") or "always"
    if restart not in RESTART_POLICIES:
        c.error(_join(path, "restart"), f"must be one of {', '.join(RESTART_POLICIES)}, got {restart!r}"
                                        f"{did_you_mean(restart, RESTART_POLICIES)}")
        restart = "always"

    limit_group = runtime
    if a.get("limit_group") is not None:
        limit_group = c.string(a, "limit_group", path, default=runtime) or runtime
        c.name_ok(limit_group, _join(path, "limit_group"), "limit_group")

    reports_to = c.string(a, "reports_to", path)
    if reports_to and reports_to.startswith(f"{project}:"):
        reports_to = reports_to.split(":", 1)[1]

    agent = Agent(
        id=f"{project}:{name}",
        project=project,
        name=name,
        runtime=runtime,
        model=c.string(a, "model", path),
        role_prompt=role_prompt,
        permission_mode=c.string(a, "permission_mode", path),
        effort=c.string(a, "effort", path),
        on_rate_limit=c.names(a, "on_rate_limit", path) or (),
        restart=restart,
        tz=c.tz(a, "tz", path),
        env=_parse_env(c, a, path),
        limit_group=limit_group,
        is_manager=is_manager,
        reports_to=reports_to,
        cwd=cwd,
        source=c.file,
    )
    return _RawAgent(agent, path, c.file)


def _parse_project(c: _Checker, ref_path: str, raw_file: str, team_dir: Path, base_dir: Path,
                   compose_file: Path, known_runtimes: Collection[str] | None
                   ) -> tuple[Project, list[_RawAgent]] | None:
    pfile = _resolve(team_dir, raw_file)
    if not _inside(pfile, team_dir):
        c.error(ref_path, f"project file {raw_file!r} is outside the team dir {team_dir}", compose_file)
        return None
    if not pfile.is_file():
        c.error(ref_path, f"project file not found: {pfile}", compose_file)
        return None
    data = c.read_yaml(pfile)
    if data is _MISSING:
        return None
    assert isinstance(data, dict)
    c.keys(data, _PROJECT_FILE_KEYS, "")
    _check_version(c, data)
    meta = c.mapping(data, "project", "", required=True)
    c.keys(meta, _PROJECT_META_KEYS, "project")
    pid = c.string(meta, "id", "project", required=True)
    if pid is not None:
        c.name_ok(pid, "project.id", "project id")
    pid = pid or pfile.stem
    pname = c.string(meta, "name", "project", default=pid) or pid
    raw_cwd = c.string(meta, "cwd", "project", default=".") or "."
    cwd = _resolve(base_dir, raw_cwd)
    if not cwd.exists():
        c.error("project.cwd", f"working directory does not exist: {cwd} (create it, e.g. mkdir -p)")
    elif not cwd.is_dir():
        c.error("project.cwd", f"working directory is not a directory: {cwd}")

    channels = data.get("channels")
    if channels is not None and not isinstance(channels, list):
        c.error("channels", f"must be a list, got {_type_name(channels)}")
    for i, ch in enumerate(channels if isinstance(channels, list) else []):
        cp = _index("channels", i)
        if not isinstance(ch, dict):
            c.error(cp, f"channel must be a mapping, got {_type_name(ch)}")
            continue
        c.keys(ch, _CHANNEL_KEYS, cp)
        c.string(ch, "name", cp, required=True)
        members = ch.get("members")
        if members is not None and members != "*" and not (
                isinstance(members, list) and all(isinstance(m, str) for m in members)):
            c.error(_join(cp, "members"), 'must be a list of agent names or "*"')

    agents: list[_RawAgent] = []
    seen: dict[str, str] = {}
    for section, is_manager in (("managers", True), ("workers", False)):
        block = c.mapping(data, section, "")
        for name, a in block.items():
            ap = _join(section, name)
            ra = _parse_agent(c, name, a, ap, project=pid, is_manager=is_manager, team_dir=team_dir,
                              cwd=cwd, known_runtimes=known_runtimes)
            if ra is None:
                continue
            if ra.agent.name in seen:
                c.error(ap, f"duplicate agent id {ra.agent.id!r} (also defined at {seen[ra.agent.name]})")
                continue
            seen[ra.agent.name] = ap
            agents.append(ra)
    if not agents:
        c.warn("", "project defines no managers or workers")
    for ra in agents:
        rt = ra.agent.reports_to
        if rt is None:
            continue
        kp = _join(ra.path, "reports_to")
        if rt == ra.agent.name:
            c.error(kp, "an agent cannot report to itself")
        elif rt not in seen:
            c.error(kp, f"reports_to names {rt!r}, which is not an agent in project {pid!r}"
                        f"{did_you_mean(rt, seen)}")
    return Project(id=pid, name=pname, cwd=cwd, file=pfile), agents


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
    c = _Checker(ParseCache(team_dir / "state" / "cache" / "compose.json") if cache else None)
    data = c.read_yaml(compose_file)
    if data is _MISSING:
        raise ComposeError(c.problems)
    assert isinstance(data, dict)

    c.keys(data, _TOP_KEYS, "")
    _check_version(c, data)
    broker = c.mapping(data, "broker", "")
    c.keys(broker, _BROKER_KEYS, "broker")
    btype = c.string(broker, "type", "broker", default="sqlite")
    if btype != "sqlite":
        c.error("broker.type", f"unsupported broker {btype!r}; only 'sqlite' is supported")
    mailbox_raw = c.string(broker, "path", "broker", default=DEFAULT_MAILBOX) or DEFAULT_MAILBOX
    mailbox_path = _resolve(team_dir, mailbox_raw)
    sup = c.mapping(data, "supervisor", "")
    c.keys(sup, _SUPERVISOR_KEYS, "supervisor")
    c.string(sup, "type", "supervisor")
    tmux_prefix = c.string(sup, "tmux_prefix", "supervisor", default=DEFAULT_TMUX_PREFIX)
    tmux_prefix = DEFAULT_TMUX_PREFIX if tmux_prefix is None else tmux_prefix
    if not _PREFIX_RE.fullmatch(tmux_prefix):
        c.error("supervisor.tmux_prefix", f"{tmux_prefix!r} is not allowed: use only letters, digits, "
                                          "'_', '.', '-' and do not start with '-' or '.'")
    _check_passthrough(c, data)
    rate_limits, hook_where = _parse_rate_limits(c, data)
    budget = _parse_budget(c, data)

    projects: list[Project] = []
    raw_agents: list[_RawAgent] = []
    refs = data.get("projects")
    if refs is None:
        c.error("projects", "missing: list the project files, e.g. `projects: [{file: projects/x.yaml}]`")
        refs = []
    elif not isinstance(refs, list):
        c.error("projects", f"must be a list of {{file: ...}} entries, got {_type_name(refs)}")
        refs = []
    elif not refs:
        c.error("projects", "is empty: a team needs at least one project")
    parsed_refs: list[tuple[str, str]] = []
    for i, ref in enumerate(refs):
        rp = _index("projects", i)
        if isinstance(ref, str):
            ref = {"file": ref}  # tolerate the short form `- projects/x.yaml`
        if not isinstance(ref, dict):
            c.error(rp, f"must be a mapping with a 'file' key, got {_type_name(ref)}")
            continue
        c.keys(ref, _PROJECT_REF_KEYS, rp)
        f = c.string(ref, "file", rp, required=True)
        if f:
            parsed_refs.append((_join(rp, "file"), f))

    first_seen: dict[str, Path] = {}
    for ref_path, f in parsed_refs:
        result = _parse_project(c, ref_path, f, team_dir, base_dir, compose_file, known_runtimes)
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
                c.error(_index(key, i) if len(names) > 1 else key,
                        f"unknown hook {n!r}{did_you_mean(n, hook_where)}; declare it under "
                        f"rate_limits.hooks (known: {', '.join(sorted(hook_where))})", file)

    check_hooks(rate_limits.default_on_hit, "rate_limits.default_on_hit", compose_file)
    check_hooks(budget.on_cap, "budget.on_cap", compose_file)
    check_hooks(budget.on_warn, "budget.on_warn", compose_file)
    for ra in raw_agents:
        check_hooks(ra.agent.on_rate_limit, _join(ra.path, "on_rate_limit"), ra.file)
    no_wait = "chain has no 'wait' hook: the agent is respawned without waiting for the limit to reset"
    if "wait" not in rate_limits.default_on_hit:
        c.warn("rate_limits.default_on_hit", no_wait, compose_file)
    for ra in raw_agents:
        if ra.agent.on_rate_limit and "wait" not in ra.agent.on_rate_limit:
            c.warn(_join(ra.path, "on_rate_limit"), no_wait, ra.file)
    if isinstance(budget.per_project_usd_limit, dict):
        for pid in budget.per_project_usd_limit:
            if pid not in first_seen:
                c.error(_join("budget.per_project_usd_limit", pid),
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
            report(_join(hook_where.get(h.name or "", "rate_limits.hooks"), "to"),
                   f"{h.to!r} does not name an agent in this team"
                   f"{did_you_mean(h.to, [a.id for a in agents])}", compose_file)
        elif resolved != h.to:
            hooks[i] = dataclasses.replace(h, to=resolved)
    rate_limits = dataclasses.replace(rate_limits, hooks=tuple(hooks))

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
        state_dir=team_dir / "state",
        rate_limits=rate_limits,
        budget=budget,
        projects=tuple(projects),
        agents=agents,
        warnings=tuple(ordered),
    )


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


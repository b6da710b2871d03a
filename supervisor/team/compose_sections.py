"""Parsers for the global sections of team-compose.yaml: version, rate_limits and its hooks,
budget, the upstream sections we only check (hitl, interfaces, attachments), and per-agent env."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..core.compose_model import (
    WAIT_HOOK,
    BudgetSettings,
    FrozenMap,
    HookSpec,
    RateLimitSettings,
    did_you_mean,
)
from .compose_checker import (
    ENV_NAME_RE,
    MISSING,
    Checker,
    index,
    is_number,
    join,
    type_name,
)

SUPPORTED_VERSION = 2
HOOK_ACTIONS = ("wait", "send", "webhook", "run")
WEBHOOK_METHODS = ("POST", "PUT", "GET", "PATCH")
DEFAULT_SEND_TEXT = "{agent} hit a rate limit; resets {resets_at_local}"
#: Upstream's `version` is semver; a new optional field raises the minor: any 2.x.y is read.
_VERSION_RE = re.compile(r"2(?:\.([0-9]+)(?:\.([0-9]+))?)?")  # 2, 2.0, "2.0.0", "2.0.1", "2.1.0"
#: The newest schema whose keys this supervisor knows (upstream's EffortLevel came with 2.0.1).
NEWEST_KNOWN_VERSION = (2, 0, 1)

_HITL_KEYS = ("globally_sensitive_actions", "auto_approve_windows")
_AUTO_APPROVE_KEYS = ("action", "project", "agent", "scope", "until")
_INTERFACE_KEYS = ("type", "name", "config")
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
    "message_ttl_hours", "report_at", "on_report",
)
_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def check_version(c: Checker, data: Mapping[str, Any]) -> None:
    v = data.get("version", MISSING)
    if v is MISSING or v is None:
        c.error("version", f"missing; this supervisor reads version {SUPPORTED_VERSION}")
        return
    text = str(v).strip() if is_number(v) or isinstance(v, str) else ""
    match = _VERSION_RE.fullmatch(text) if not isinstance(v, bool) else None
    if match is None:
        c.error("version", f"unsupported version {v!r}; this supervisor reads version {SUPPORTED_VERSION} "
                           "(any 2.x.y)")
        return
    found = (2, int(match.group(1) or 0), int(match.group(2) or 0))
    if found > NEWEST_KNOWN_VERSION and "version" not in c.once:
        c.once.add("version")
        newest = ".".join(map(str, NEWEST_KNOWN_VERSION))
        c.warn("version", f"version {text} is newer than the newest this supervisor knows ({newest}): "
                          "it is read as 2.x, and keys it added are reported as unknown and ignored")


def parse_hook(c: Checker, h: object, path: str) -> HookSpec | None:
    if not isinstance(h, dict):
        c.error(path, f"hook must be a mapping, got {type_name(h)}")
        return None
    c.keys(h, _HOOK_KEYS, path)
    name = c.string(h, "name", path, required=True)
    action = c.string(h, "action", path, required=True)
    if action is None:
        return None
    if action not in HOOK_ACTIONS:
        c.error(join(path, "action"), f"unknown action {action!r}{did_you_mean(action, HOOK_ACTIONS)}; "
                                       f"expected one of {', '.join(HOOK_ACTIONS)}")
        return None
    for k in h:
        if isinstance(k, str) and k in _HOOK_KEYS and k not in _HOOK_KEYS_BY_ACTION[action]:
            c.warn(join(path, k), f"key {k!r} has no effect on a {action!r} hook")
    if "text" in h and "template" in h:
        c.error(join(path, "template"), "give either 'text' or its alias 'template', not both")
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
            c.error(join(path, "url"), "a webhook hook needs 'url' or 'url_env'")
        if url and not re.match(r"https?://", url, re.IGNORECASE):
            c.error(join(path, "url"), f"url must start with http:// or https://, got {url!r}")
        if url_env and not ENV_NAME_RE.fullmatch(url_env):
            c.error(join(path, "url_env"), f"{url_env!r} is not an environment variable name")
        method = (c.string(h, "method", path) or "POST").upper()
        if method not in WEBHOOK_METHODS:
            c.error(join(path, "method"), f"unsupported method {method!r}; use {', '.join(WEBHOOK_METHODS)}")
        spec.update(url=url, url_env=url_env, text=text, method=method)
    elif action == "run":
        if "argv" in h and "command" in h:
            c.error(join(path, "command"), "give either 'argv' or its alias 'command', not both")
        akey = "argv" if "argv" in h else "command"
        raw = h.get(akey)
        kp = join(path, akey)
        argv: list[str] = []
        if isinstance(raw, str):
            c.error(kp, "must be a list of arguments (it is run without a shell), not a string")
        elif not isinstance(raw, list) or not raw:
            c.error(join(path, "argv"), "a run hook needs a non-empty argv list")
        else:
            for i, arg in enumerate(raw):
                if isinstance(arg, str):
                    argv.append(arg)
                elif is_number(arg):
                    argv.append(str(arg))
                else:
                    c.error(index(kp, i), f"argument must be a string, got {type_name(arg)}")
            if argv and not argv[0]:
                c.error(index(kp, 0), "program name must not be empty")
        spec["argv"] = tuple(argv)
    return HookSpec(**spec)


def parse_rate_limits(c: Checker, data: Mapping[str, Any]) -> tuple[RateLimitSettings, dict[str, str]]:
    """Return settings plus {hook name: key path} for later cross-checks."""
    rl = c.mapping(data, "rate_limits", "")
    c.keys(rl, _RATE_LIMIT_KEYS, "rate_limits")
    hooks: list[HookSpec] = []
    where: dict[str, str] = {}
    raw_hooks = rl.get("hooks")
    if raw_hooks is not None and not isinstance(raw_hooks, list):
        c.error("rate_limits.hooks", f"must be a list of hooks, got {type_name(raw_hooks)}")
        raw_hooks = []
    for i, h in enumerate(raw_hooks or []):
        hp = index("rate_limits.hooks", i)
        spec = parse_hook(c, h, hp)
        if spec is None or spec.name is None:
            if isinstance(h, dict) and isinstance(h.get("name"), str):
                where.setdefault(h["name"], hp)  # still a known name: avoid cascading "unknown hook"
            continue
        if spec.name in where:
            c.error(join(hp, "name"), f"duplicate hook name {spec.name!r} (first at {where[spec.name]})")
            continue
        where[spec.name] = hp
        hooks.append(spec)
    if "wait" not in where:
        hooks.append(WAIT_HOOK)
        where["wait"] = "(built-in)"
    default = c.names(rl, "default_on_hit", "rate_limits") or ("wait",)
    fallback = c.number(rl, "fallback_wait_seconds", "rate_limits", RateLimitSettings.fallback_wait_seconds,
                        positive=True)
    margin = c.number(rl, "margin_seconds", "rate_limits", RateLimitSettings.margin_seconds, non_negative=True)
    max_wait = c.number(rl, "max_wait_seconds", "rate_limits", RateLimitSettings.max_wait_seconds, positive=True)
    assert fallback is not None and margin is not None and max_wait is not None
    if fallback > max_wait:
        c.error("rate_limits.fallback_wait_seconds",
                f"{fallback:g} exceeds max_wait_seconds ({max_wait:g})")
    settings = RateLimitSettings(tuple(hooks), default, fallback, margin, max_wait)
    return settings, where


def parse_budget(c: Checker, data: Mapping[str, Any]) -> BudgetSettings:
    b = c.mapping(data, "budget", "")
    c.keys(b, _BUDGET_KEYS, "budget")
    daily = c.number(b, "daily_usd_limit", "budget", None, positive=True)
    per_project: float | dict[str, float] | None = None
    raw = b.get("per_project_usd_limit")
    if isinstance(raw, dict):
        per_project = {}
        for pid, lim in raw.items():
            kp = join("budget.per_project_usd_limit", pid)
            if not isinstance(pid, str):
                c.error(kp, f"project id must be a string, got {type_name(pid)}")
            elif not is_number(lim) or lim <= 0:
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
        report_at=_report_at(c, b),
        on_report=c.names(b, "on_report", "budget") or (),
    )


def _report_at(c: Checker, b: Mapping[str, Any]) -> str | None:
    """`report_at: "07:30"`: a local time of day (in budget.tz). YAML reads an unquoted 07:30 as the
    number 450 (base 60), so a number gets its own message."""
    v = b.get("report_at")
    if v is None:
        return None
    if not isinstance(v, str):
        c.error("budget.report_at", f'must be a quoted time of day such as "07:30", got {v!r}')
        return None
    m = _CLOCK.match(v.strip())
    if m is None:
        c.error("budget.report_at", f"must be a time of day HH:MM (24 h), got {v!r}")
        return None
    return f"{int(m.group(1)):02d}:{m.group(2)}"


def check_passthrough(c: Checker, data: Mapping[str, Any]) -> None:
    """Light checks on upstream sections we do not use, so typos there still surface."""
    hitl = c.mapping(data, "hitl", "")
    c.keys(hitl, _HITL_KEYS, "hitl")
    windows = hitl.get("auto_approve_windows")
    if isinstance(windows, list):
        for i, w in enumerate(windows):
            if isinstance(w, dict):
                c.keys(w, _AUTO_APPROVE_KEYS, index("hitl.auto_approve_windows", i))
    ifaces = data.get("interfaces")
    if ifaces is not None and not isinstance(ifaces, list):
        c.error("interfaces", f"must be a list, got {type_name(ifaces)}")
    for i, iface in enumerate(ifaces if isinstance(ifaces, list) else []):
        if isinstance(iface, dict):
            c.keys(iface, _INTERFACE_KEYS, index("interfaces", i))  # `config` is adapter-specific
        else:
            c.error(index("interfaces", i), f"must be a mapping, got {type_name(iface)}")


def parse_env(c: Checker, a: Mapping[str, Any], path: str) -> FrozenMap:
    raw = a.get("env")
    if raw is None:
        return FrozenMap()
    kp = join(path, "env")
    if not isinstance(raw, dict):
        c.error(kp, f"must be a mapping of NAME: value, got {type_name(raw)}")
        return FrozenMap()
    env: dict[str, str] = {}
    for k, v in raw.items():
        vp = join(kp, k)
        if not isinstance(k, str) or not ENV_NAME_RE.fullmatch(k):
            c.error(vp, f"{k!r} is not an environment variable name")
        elif isinstance(v, str):
            env[k] = v
        elif is_number(v):
            env[k] = str(v)
        else:
            c.error(vp, f"value must be a string (quote it), got {type_name(v)}")
    return FrozenMap(env)

"""Each table of a TOML descriptor, checked and turned into its model: [launch], [[rate_limit]],
[[cost]], [[dialog]], [[ignore]], [stall], [[channel]] and [[usage]].

Every mistake raises DescriptorError naming file, table and key (with the close match for a
misspelt key), since a user fixing a signature at 3am needs to know exactly where to look.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..errors import DescriptorError
from ..lazyre import LazyPattern
from .model import (
    CHANNEL_KINDS,
    RESET_KINDS,
    Action,
    Channel,
    Launch,
    SessionKeys,
    Signature,
    StallRule,
    UsagePattern,
)
from .regexes import compile_regex, engine_compile

if TYPE_CHECKING:
    import regex as regex_engine


PLACEHOLDER_KEYS = ("model", "role_prompt", "role_prompt_text", "mcp_config", "effort")
#: `[launch] agent_env` placeholders: the agent's `<project>-<agent>` file name, and the XDG data
#: dir ($XDG_DATA_HOME, else $HOME/.local/share); each safe in a path (agent/agent_env.py fills them)
AGENT_ENV_PLACEHOLDERS = ("agent_file", "xdg_data_home")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MAX_LOOKAHEAD = 5
TOP_KEYS = {"name", "aliases", "tz", "launch", "rate_limit", "cost", "dialog", "ignore", "stall", "channel",
             "usage", "json_documents"}
_CHANNEL_KEYS = {"kind", "dirs", "versions", "events", "option"}
_USAGE_KEYS = {"id", "match", "keywords", "window", "case_sensitive"}
_LAUNCH_KEYS = {"binary", "args", "resume_args", "resume_for", "env", "agent_env", "options", "permission",
                "role_prompt_env", "session_start", "session_resume", "session_resume_for", "session_files",
                "session_capture", "session_capture_db", "session_capture_query", "resume_deadline_seconds"}
_COMMON = {"id", "match", "keywords", "lookahead", "follow", "case_sensitive"}
_TABLE_KEYS = {
    "rate_limit": _COMMON | {"reset", "reset_group", "tz", "model_group", "action", "resume_keys"},
    "cost": _COMMON | {"total", "cached_in_input", "in_place", "after"},
    "dialog": _COMMON | {"send", "once", "after"},
    "ignore": {"match", "keywords", "case_sensitive", "id"},
}


def array_of_tables(path: Path, name: str, entries: Any, known: set[str]) -> Iterator[tuple[int, str, dict]]:
    """`[[name]]` tables in order, each with its index and place (`name[i]`), checked for unknown keys."""
    if not isinstance(entries, list):
        raise DescriptorError(path, name, f"must be an array of tables ([[{name}]])")
    for i, raw in enumerate(entries):
        where = f"{name}[{i}]"
        if not isinstance(raw, dict):
            raise DescriptorError(path, where, "must be a table")
        no_unknown_keys(path, where, raw, known)
        yield i, where, raw


def parse_channels(path: Path, entries: Any) -> list[Channel]:
    """`[[channel]] kind = ..., dirs = [...], versions = [...], events = [...], option = [...]`."""
    out = []
    for _, where, raw in array_of_tables(path, "channel", entries, _CHANNEL_KEYS):
        kind = raw.get("kind")
        if kind not in CHANNEL_KINDS:
            raise DescriptorError(path, f"{where}.kind", f"must be one of {', '.join(CHANNEL_KINDS)}, not {kind!r}")
        lists = {key: tuple(str_list(path, f"{where}.{key}", raw.get(key, []))) for key in _CHANNEL_KEYS - {"kind"}}
        if kind == "claude-hooks" and "{settings}" not in lists["option"]:
            raise DescriptorError(path, f"{where}.option", "must hold \"{settings}\" (the hook JSON's place)")
        if kind == "copilot-usage-file" and "{file}" not in lists["option"]:
            raise DescriptorError(path, f"{where}.option", "must hold \"{file}\" (the usage file's place)")
        if kind not in ("claude-hooks", "copilot-usage-file") and not lists["dirs"]:
            raise DescriptorError(path, f"{where}.dirs", "missing: the directories its session files are under")
        out.append(Channel(kind, lists["dirs"], lists["versions"], lists["events"], lists["option"]))
    return out


def parse_usage(path: Path, entries: Any, lazy: bool) -> list[UsagePattern]:
    """`[[usage]] id, match (groups used|left, window, reset), keywords, window`."""
    out = []
    for i, where, raw in array_of_tables(path, "usage", entries, _USAGE_KEYS):
        flags = 0 if check_bool(path, f"{where}.case_sensitive", raw.get("case_sensitive", False)) else re.IGNORECASE
        regex = _pattern(path, f"{where}.match", raw.get("match"), flags, lazy)
        if not lazy and not {"used", "left", "window"} & set(regex.groupindex):
            raise DescriptorError(path, f"{where}.match",
                                  "needs a group (?P<used>...), (?P<left>...) or (?P<window>...)")
        keywords = tuple(k.lower() for k in str_list(path, f"{where}.keywords", raw.get("keywords", [])))
        window = optional_str(path, f"{where}.window", raw.get("window")) or ""
        out.append(UsagePattern(str(raw.get("id", f"usage-{i}")), regex, keywords, window))
    return out


def all_problems(path: Path, problems: list[DescriptorError]) -> DescriptorError:
    """One problem as it is; several as one error listing each `key: message` on its own line
    (`.problems` keeps them), as compose errors are reported all at once."""
    if len(problems) == 1:
        return problems[0]
    lines = [str(p).removeprefix(f"{p.file}: ") for p in problems]
    combined = DescriptorError(path, "", f"{len(problems)} problems:\n  " + "\n  ".join(lines))
    combined.problems = list(problems)  # type: ignore[attr-defined]
    return combined


def parse_stall(path: Path, table: Any) -> StallRule:
    """`[stall] seconds = 300, action = "record" | "restart"`."""
    if not isinstance(table, dict):
        raise DescriptorError(path, "stall", "must be a table: [stall] seconds = 300, action = \"record\"")
    no_unknown_keys(path, "stall", table, {"seconds", "action"})
    seconds = table.get("seconds", StallRule.seconds)
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 <= seconds <= 86400:
        raise DescriptorError(path, "stall.seconds", f"must be a number of seconds from 0 to 86400, not {seconds!r}")
    action = table.get("action", "record")
    if action not in ("record", "restart"):
        raise DescriptorError(path, "stall.action", f"must be \"record\" or \"restart\", not {action!r}")
    return StallRule(float(seconds), action == "restart")


def parse_launch(path: Path, raw: Any) -> Launch:
    if not isinstance(raw, dict):
        raise DescriptorError(path, "launch", "must be a table")
    no_unknown_keys(path, "launch", raw, _LAUNCH_KEYS)
    binary = raw.get("binary")
    if not isinstance(binary, str) or not binary.strip():
        raise DescriptorError(path, "launch.binary", "must be a non-empty string")
    env = raw.get("env", {})
    if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
        raise DescriptorError(path, "launch.env", "must be a table of strings")
    options = _fragments(path, "launch.options", raw.get("options", {}))
    for key in options:
        if key not in PLACEHOLDER_KEYS:
            raise DescriptorError(path, f"launch.options.{key}",
                                  f"unknown setting (known: {', '.join(PLACEHOLDER_KEYS)})")
    return Launch(
        binary=binary,
        args=tuple(str_list(path, "launch.args", raw.get("args", []))),
        resume_args=tuple(str_list(path, "launch.resume_args", raw.get("resume_args", []))),
        env=MappingProxyType(dict(env)),
        agent_env=MappingProxyType(_agent_env(path, raw.get("agent_env", {}))),
        options=MappingProxyType(options),
        permission=MappingProxyType(_fragments(path, "launch.permission", raw.get("permission", {}))),
        role_prompt_env=optional_str(path, "launch.role_prompt_env", raw.get("role_prompt_env")),
        resume_for=MappingProxyType(_fragments(path, "launch.resume_for", raw.get("resume_for", {}))),
        session=_parse_session(path, raw),
        resume_deadline=_resume_deadline(path, raw.get("resume_deadline_seconds")),
    )


def _agent_env(path: Path, raw: Any) -> dict[str, str]:
    """`agent_env = { VAR = "template" }`: strings naming only AGENT_ENV_PLACEHOLDERS."""
    if not isinstance(raw, dict):
        raise DescriptorError(path, "launch.agent_env", "must be a table of strings")
    for name, value in raw.items():
        where = f"launch.agent_env.{name}"
        if not _ENV_NAME.fullmatch(name):
            raise DescriptorError(path, where, "not an environment variable name")
        if not isinstance(value, str) or not value:
            raise DescriptorError(path, where, "must be a non-empty string")
        for found in re.findall(r"\{([^{}]*)\}", value):
            if found not in AGENT_ENV_PLACEHOLDERS:
                raise DescriptorError(path, where, f"unknown placeholder {{{found}}} (known: "
                                      + ", ".join(f"{{{k}}}" for k in AGENT_ENV_PLACEHOLDERS) + ")")
    return dict(raw)


def _resume_deadline(path: Path, value: Any) -> float | None:
    """`resume_deadline_seconds`: no model turn this long after a resume escalates (0: never)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 86400:
        raise DescriptorError(path, "launch.resume_deadline_seconds",
                              f"must be a number of seconds from 0 to 86400, not {value!r}")
    return float(value)


def _parse_session(path: Path, raw: dict[str, Any]) -> SessionKeys | None:
    """The `session_*` launch keys (issue 22): None when the descriptor names no session."""
    if not any(k.startswith("session_") for k in raw):
        return None
    start = tuple(str_list(path, "launch.session_start", raw.get("session_start", [])))
    resume = tuple(str_list(path, "launch.session_resume", raw.get("session_resume", [])))
    resume_for = _fragments(path, "launch.session_resume_for", raw.get("session_resume_for", {}))
    files = tuple(str_list(path, "launch.session_files", raw.get("session_files", [])))
    capture = optional_str(path, "launch.session_capture", raw.get("session_capture")) or ""
    capture_db = tuple(str_list(path, "launch.session_capture_db", raw.get("session_capture_db", [])))
    capture_query = optional_str(path, "launch.session_capture_query", raw.get("session_capture_query")) or ""
    if bool(capture_db) != bool(capture_query):
        raise DescriptorError(path, "launch.session_capture_query" if capture_db else "launch.session_capture_db",
                              "missing: session_capture_db and session_capture_query go together")
    if capture_query and ":since" not in capture_query:
        raise DescriptorError(path, "launch.session_capture_query",
                              'must use ":since" (the spawn\'s time): only sessions started since are the agent\'s')
    for key, fragment in [("session_start", start), ("session_resume", resume),
                          *((f"session_resume_for.{k}", v) for k, v in resume_for.items())]:
        if fragment and not any(m in part for part in fragment for m in ("{session_id}", "{session_home}")):
            raise DescriptorError(path, f"launch.{key}", 'must hold "{session_id}" (the agent\'s session id) '
                                  'or "{session_home}" (its own folder under state/)')
    if not resume:
        raise DescriptorError(path, "launch.session_resume", "missing: how the CLI resumes a named session")
    if not start and not capture and not capture_db:
        raise DescriptorError(path, "launch.session_capture",
                              "missing: without session_start the CLI picks the id, and a regex must learn it")
    if capture:
        try:
            if "id" not in re.compile(capture).groupindex:
                raise DescriptorError(path, "launch.session_capture", "must have a group (?P<id>...)")
        except re.error as exc:
            raise DescriptorError(path, "launch.session_capture", f"not a valid regex: {exc}") from None
    return SessionKeys(start=start, resume=resume, resume_for=MappingProxyType(resume_for), files=files,
                       capture=capture, capture_db=capture_db, capture_query=capture_query)


def _fragments(path: Path, where: str, raw: Any) -> dict[str, tuple[str, ...]]:
    if not isinstance(raw, dict):
        raise DescriptorError(path, where, "must be a table of string lists")
    return {k: tuple(str_list(path, f"{where}.{k}", v)) for k, v in raw.items()}


def parse_signature(path: Path, kind: str, index: int, raw: Any, *, lazy: bool = False) -> Signature:
    where = f"{kind}[{index}]"
    if not isinstance(raw, dict):
        raise DescriptorError(path, where, "must be a table")
    table_kind = "rate_limit" if kind == "rate_limit_patterns" else kind
    no_unknown_keys(path, where, raw, _TABLE_KEYS[table_kind])
    sig_id = raw.get("id", f"{table_kind}-{index}")
    if not isinstance(sig_id, str) or not sig_id:
        raise DescriptorError(path, f"{where}.id", "must be a non-empty string")
    flags = 0 if check_bool(path, f"{where}.case_sensitive", raw.get("case_sensitive", False)) else re.IGNORECASE
    regex = _pattern(path, f"{where}.match", raw.get("match"), flags, lazy)
    keywords = tuple(k.lower() for k in str_list(path, f"{where}.keywords", raw.get("keywords", [])))
    lookahead = raw.get("lookahead", 0)
    if not isinstance(lookahead, int) or isinstance(lookahead, bool) or not 0 <= lookahead <= MAX_LOOKAHEAD:
        raise DescriptorError(path, f"{where}.lookahead", f"must be an integer 0..{MAX_LOOKAHEAD}")
    follow = _pattern(path, f"{where}.follow", raw["follow"], flags, lazy) if "follow" in raw else None
    if follow is not None and lookahead == 0:
        raise DescriptorError(path, f"{where}.follow", "needs `lookahead` of 1 or more")
    fields: dict[str, Any] = {}
    if table_kind == "rate_limit":
        fields.update(_rate_limit_fields(path, where, raw, None if lazy else regex, follow))
    elif table_kind == "cost":
        fields["total"] = check_bool(path, f"{where}.total", raw.get("total", False))
        fields["cached_in_input"] = check_bool(path, f"{where}.cached_in_input", raw.get("cached_in_input", True))
        fields["in_place"] = check_bool(path, f"{where}.in_place", raw.get("in_place", False))
        if "after" in raw:  # the panel's heading: a figure counts only under it (never a catted file's)
            fields["after"] = _pattern(path, f"{where}.after", raw["after"], flags, lazy)
        if fields["in_place"] and not fields["total"]:
            raise DescriptorError(path, f"{where}.in_place", "needs `total = true` (only a running total is redrawn)")
        groups = None if lazy else set(regex.groupindex) | set(follow.groupindex if follow else ())
        if groups is not None and not groups & {"usd", "input", "output"}:
            raise DescriptorError(path, f"{where}.match",
                                  "needs at least one named group: usd, input or output")
    elif table_kind == "dialog":
        send = raw.get("send")
        if not isinstance(send, str) or not send:
            raise DescriptorError(path, f"{where}.send", "must be a non-empty string of keys")
        fields["send"] = send
        fields["once"] = check_bool(path, f"{where}.once", raw.get("once", True))
        if "after" in raw:  # the dialog's title: its options count only under it (never on prose)
            fields["after"] = _pattern(path, f"{where}.after", raw["after"], flags, lazy)
    return Signature(kind=table_kind, id=sig_id, regex=regex, keywords=keywords, lookahead=lookahead,
                     follow=follow, source=str(path), **fields)


def _rate_limit_fields(path: Path, where: str, raw: dict, regex: regex_engine.Pattern | None,
                       follow: regex_engine.Pattern | LazyPattern | None) -> dict[str, Any]:
    """The rate-limit keys, checked; `regex` None: a lazy (built-in) signature, groups not checked."""
    reset = raw.get("reset", "none")
    if reset not in RESET_KINDS:
        raise DescriptorError(path, f"{where}.reset", f"must be one of {', '.join(RESET_KINDS)}")
    group = raw.get("reset_group", "reset")
    if not isinstance(group, str):
        raise DescriptorError(path, f"{where}.reset_group", "must be a group name")
    if reset != "none" and regex is not None:
        in_match = group in regex.groupindex or (group.isdigit() and 0 < int(group) <= regex.groups)
        in_follow = follow is not None and group in follow.groupindex
        if not (in_match or in_follow):
            raise DescriptorError(path, f"{where}.reset_group",
                                  f"group {group!r} is not in `match`{' or `follow`' if follow else ''}")
    tz = optional_str(path, f"{where}.tz", raw.get("tz"))
    if tz:
        check_zone(path, f"{where}.tz", tz)
    action = raw.get("action", "stop")
    try:
        action = Action(action)
    except ValueError:
        raise DescriptorError(path, f"{where}.action", "must be stop, resume, record or block") from None
    keys = raw.get("resume_keys", "continue\r")
    if not isinstance(keys, str):  # "": the CLI goes on by itself at the reset (watched, not typed into)
        raise DescriptorError(path, f"{where}.resume_keys", "must be a string (\"\": the CLI resumes by itself)")
    model_group = raw.get("model_group", "model")
    if not isinstance(model_group, str):
        raise DescriptorError(path, f"{where}.model_group", "must be a group name")
    return {"reset": reset, "reset_group": group, "tz": tz, "action": action, "resume_keys": keys,
            "model_group": model_group}


def _pattern(path: Path, where: str, pattern: Any, flags: int, lazy: bool) -> regex_engine.Pattern | LazyPattern:
    """The compiled, checked regex; or when `lazy` (built-ins only) one compiled by its first search."""
    if not lazy:
        return compile_regex(path, where, pattern, flags)
    if not isinstance(pattern, str) or not pattern:
        raise DescriptorError(path, where, "must be a non-empty regex string")
    return LazyPattern(pattern, flags, engine_compile)


def no_unknown_keys(path: Path, where: str, table: dict, known: set[str]) -> None:
    for key in table:
        if key not in known:
            import difflib

            close = difflib.get_close_matches(key, sorted(known), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            prefix = f"{where}." if where else ""
            raise DescriptorError(path, f"{prefix}{key}", f"unknown key{hint}")


def str_list(path: Path, where: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DescriptorError(path, where, "must be a list of strings")
    return value


def optional_str(path: Path, where: str, value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise DescriptorError(path, where, "must be a string")
    return value


def check_bool(path: Path, where: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise DescriptorError(path, where, "must be true or false")
    return value


def check_zone(path: Path, where: str, name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise DescriptorError(path, where, f"unknown timezone {name!r}") from None

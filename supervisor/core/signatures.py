"""Runtime descriptors: load, validate and compile the TOML file that describes one agent CLI.

Adding a runtime means adding one file; nothing here names a particular CLI. The format is
documented in docs/runtime-descriptors.md. Every mistake is reported with file, table and key, since
a user fixing a signature at 3am needs to know exactly where to look.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import DescriptorError as DescriptorError  # defined in errors.py; imported from here too
from .lazyre import LazyPattern

if TYPE_CHECKING:
    import regex as regex_engine

try:  # the parser behind `re`; public as sre_parse before 3.11
    from re import _constants as sre_constants
    from re import _parser as sre_parse
except ImportError:  # pragma: no cover
    import sre_constants  # type: ignore[no-redef]
    import sre_parse  # type: ignore[no-redef]

BUILTIN_DIR = Path(__file__).parent.parent / "runtimes"
PLACEHOLDER_KEYS = ("model", "role_prompt", "role_prompt_text", "mcp_config", "effort")
MAX_LOOKAHEAD = 5
#: A descriptor is one CLI's text: far below these (the largest built-in: 10 KB, 21 signatures).
#: The caps keep a huge file from stalling `validate` and every watcher's start.
MAX_DESCRIPTOR_BYTES = 256 * 1024
MAX_SIGNATURES = 500
_SIGNATURE_TABLES = ("rate_limit", "cost", "dialog", "ignore")


class Action(StrEnum):
    """What the watcher does after a rate-limit hit."""

    STOP = "stop"
    RESUME = "resume"
    RECORD = "record"


RESET_KINDS = ("none", "clock", "duration", "epoch", "iso", "auto")


@dataclass(frozen=True)
class Signature:
    """One line signature (rate limit, cost, dialog or ignore).

    `regex` and `follow` are compiled patterns, or for built-in descriptors LazyPatterns that compile
    on first use (see load_descriptor); both answer `.search`, `.groupindex` and `.pattern`.
    """

    kind: str
    id: str
    regex: regex_engine.Pattern | LazyPattern
    keywords: tuple[str, ...] = ()
    reset: str = "none"
    reset_group: str = "reset"
    tz: str | None = None
    lookahead: int = 0
    follow: regex_engine.Pattern | LazyPattern | None = None
    model_group: str = "model"
    action: Action = Action.STOP
    resume_keys: str = "continue\r"
    total: bool = False
    cached_in_input: bool = True
    send: str = ""
    once: bool = True
    source: str = ""


@dataclass(frozen=True)
class Launch:
    """How to start the CLI: binary, fixed args, optional fragments per setting, resume flag, env."""

    binary: str
    args: tuple[str, ...] = ()
    resume_args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    options: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    permission: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    role_prompt_env: str | None = None  # env var given the role prompt file's path (GEMINI_SYSTEM_MD)


@dataclass(frozen=True)
class StallRule:
    """A CLI that retries silently behind a spinner: after `seconds` with no new content the agent
    is shown as stalled and logged; `restart` also restarts the runtime. 0 seconds: never."""

    seconds: float = 300.0
    restart: bool = False


@dataclass(frozen=True)
class Runtime:
    """A loaded descriptor; `rate_limits` already has the generic signatures appended."""

    name: str
    path: Path
    launch: Launch
    aliases: tuple[str, ...] = ()
    tz: str | None = None
    rate_limits: tuple[Signature, ...] = ()
    costs: tuple[Signature, ...] = ()
    dialogs: tuple[Signature, ...] = ()
    ignores: tuple[Signature, ...] = ()
    stall: StallRule = StallRule()
    channels: tuple[Channel, ...] = ()
    usage: tuple[UsagePattern, ...] = ()


#: Structured channels a watcher can read beside the screen (docs/runtime-descriptors.md, Channels).
CHANNEL_KINDS = ("claude-hooks", "claude-transcript", "codex-rollout")


@dataclass(frozen=True)
class Channel:
    """One structured channel: hooks given at launch (`option` with `{settings}`), or session files
    under the first of `dirs` whose `{VAR}`s the runtime's env all sets, in a format of `versions`."""

    kind: str
    dirs: tuple[str, ...] = ()
    versions: tuple[str, ...] = ()
    events: tuple[str, ...] = ()
    option: tuple[str, ...] = ()


@dataclass(frozen=True)
class UsagePattern:
    """A line that says how much of a limit window is used: a reading, never a hit."""

    id: str
    regex: regex_engine.Pattern | LazyPattern
    keywords: tuple[str, ...] = ()
    window: str = ""


_TOP_KEYS = {"name", "aliases", "tz", "launch", "rate_limit", "cost", "dialog", "ignore", "stall", "channel",
             "usage"}
_CHANNEL_KEYS = {"kind", "dirs", "versions", "events", "option"}
_USAGE_KEYS = {"id", "match", "keywords", "window", "case_sensitive"}
_LAUNCH_KEYS = {"binary", "args", "resume_args", "env", "options", "permission", "role_prompt_env"}
_COMMON = {"id", "match", "keywords", "lookahead", "follow", "case_sensitive"}
_TABLE_KEYS = {
    "rate_limit": _COMMON | {"reset", "reset_group", "tz", "model_group", "action", "resume_keys"},
    "cost": _COMMON | {"total", "cached_in_input"},
    "dialog": _COMMON | {"send", "once"},
    "ignore": {"match", "keywords", "case_sensitive", "id"},
}


def generic_patterns_path() -> Path:
    """`patterns/ratelimits.toml`, wherever the package is installed."""
    return Path(str(resources.files("teamctl_supervisor.patterns").joinpath("ratelimits.toml")))


def runtime_files(team_dir: Path | None = None) -> dict[str, Path]:
    """Every known runtime name (and alias) mapped to its descriptor file; team files win."""
    found: dict[str, Path] = {}
    dirs = [BUILTIN_DIR] + ([team_dir / "runtimes"] if team_dir else [])
    for directory in dirs:
        if not directory.is_dir():
            continue
        for path in sorted(directory.iterdir()):
            if path.suffix in (".toml", ".yaml", ".yml") and not path.name.startswith("."):
                found[path.stem] = path
    for path in list(found.values()):
        if path.suffix == ".toml":
            for alias in _peek_aliases(path):
                found.setdefault(alias, path)
    return found


_ALIASES: dict[tuple[str, int, int], list[str]] = {}


def _peek_aliases(path: Path) -> list[str]:
    """A descriptor's `aliases`: from its top-level keys only (the text before its first table),
    and once per file version in a process: every command lists the runtimes, a watcher twice."""
    try:
        st = path.stat()
        key = (str(path), st.st_mtime_ns, st.st_size)
        if key in _ALIASES:
            return _ALIASES[key]
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    head = text.split("\n[", 1)[0]
    try:
        data = tomllib.loads(head)
    except tomllib.TOMLDecodeError:
        try:
            data = tomllib.loads(text)  # a top-level value spread over lines that start with "["
        except tomllib.TOMLDecodeError:
            data = {}
    aliases = data.get("aliases", [])
    found = [a for a in aliases if isinstance(a, str)] if isinstance(aliases, list) else []
    _ALIASES[key] = found
    return found


def load_runtime(name: str, team_dir: Path | None = None, *, generic: bool = True) -> Runtime:
    """Load runtime `name` (team override first), with the generic signatures appended."""
    files = runtime_files(team_dir)
    if name not in files:
        known = ", ".join(sorted(files))
        raise DescriptorError(team_dir / "runtimes" if team_dir else BUILTIN_DIR, "",
                              f"unknown runtime {name!r} (known: {known})")
    path = files[name]
    runtime = load_yaml_override(path, name) if path.suffix in (".yaml", ".yml") else load_descriptor(path)
    if not generic or not generic_patterns_path().is_file():
        return runtime
    extra = load_descriptor(generic_patterns_path(), generic=True)
    return dataclasses.replace(runtime, rate_limits=runtime.rate_limits + extra.rate_limits,
                               ignores=runtime.ignores + extra.ignores)


def load_descriptor(path: Path, *, generic: bool = False, lazy: bool | None = None) -> Runtime:
    """Parse and validate one TOML descriptor (or the generic patterns file when `generic`).

    A team's own descriptor is checked in full here (every regex compiled, its groups checked), so a
    mistake fails at load naming file, table and key. The built-in ones (`lazy` None: whether `path`
    is built in) get LazyPatterns instead: the test suite compiles and checks every one of them, and
    a watcher whose runtime never prints a keyword never compiles a regex or imports the engine.
    """
    if lazy is None:
        lazy = _is_builtin(path)
    try:
        if path.stat().st_size > MAX_DESCRIPTOR_BYTES:
            raise DescriptorError(path, "", f"{path.stat().st_size:,} bytes: a descriptor is at most "
                                            f"{MAX_DESCRIPTOR_BYTES:,} bytes")
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DescriptorError(path, "", f"cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise DescriptorError(path, "", "not UTF-8 text") from exc
    except tomllib.TOMLDecodeError as exc:
        raise DescriptorError(path, "", f"TOML syntax: {exc}") from exc
    count = sum(len(v) for k in _SIGNATURE_TABLES if isinstance(v := data.get(k), list))
    if count > MAX_SIGNATURES:  # checked first: parsing that many would be the cost it guards against
        raise DescriptorError(path, "", f"{count:,} signatures: a descriptor holds at most {MAX_SIGNATURES}"
                                        " (rate_limit, cost, dialog and ignore together)")
    # Every part is checked even after one fails, so one `validate` names every problem of the file.
    problems: list[DescriptorError] = []

    def part(check: Callable[[], Any], default: Any = None) -> Any:
        try:
            return check()
        except DescriptorError as exc:
            problems.append(exc)
            return default

    part(lambda: _no_unknown(path, "", data, _TOP_KEYS))
    name = part(lambda: _opt_str(path, "name", data.get("name"))) or path.stem
    tz = part(lambda: _opt_str(path, "tz", data.get("tz")))
    if tz:
        part(lambda: _check_zone(path, "tz", tz))
    aliases = tuple(part(lambda: _str_list(path, "aliases", data.get("aliases", [])), []))
    launch = Launch(binary="")
    if not generic:
        if "launch" not in data:
            problems.append(DescriptorError(path, "launch", "missing table [launch] (it needs at least `binary`)"))
        else:
            launch = part(lambda: _parse_launch(path, data["launch"]), launch)
    tables: dict[str, list[Signature]] = {kind: [] for kind in _SIGNATURE_TABLES}
    for kind in _SIGNATURE_TABLES:
        entries = data.get(kind, [])
        if not isinstance(entries, list):
            problems.append(DescriptorError(path, kind, f"must be an array of tables ([[{kind}]])"))
            continue
        for i, e in enumerate(entries):
            sig = part(lambda kind=kind, i=i, e=e: _parse_signature(path, kind, i, e, lazy=lazy))
            if sig is not None:
                tables[kind].append(sig)
    stall = part(lambda: _parse_stall(path, data.get("stall", {})), StallRule())
    channels = tuple(part(lambda: _parse_channels(path, data.get("channel", [])), []))
    usage = tuple(part(lambda: _parse_usage(path, data.get("usage", []), lazy), []))
    if problems:
        raise _all_problems(path, problems)
    return Runtime(
        name=name, path=path, launch=launch, aliases=aliases, tz=tz,
        rate_limits=tuple(tables["rate_limit"]), costs=tuple(tables["cost"]),
        dialogs=tuple(tables["dialog"]), ignores=tuple(tables["ignore"]),
        stall=stall, channels=channels, usage=usage,
    )


def _parse_channels(path: Path, entries: Any) -> list[Channel]:
    """`[[channel]] kind = ..., dirs = [...], versions = [...], events = [...], option = [...]`."""
    if not isinstance(entries, list):
        raise DescriptorError(path, "channel", "must be an array of tables ([[channel]])")
    out = []
    for i, raw in enumerate(entries):
        where = f"channel[{i}]"
        if not isinstance(raw, dict):
            raise DescriptorError(path, where, "must be a table")
        _no_unknown(path, where, raw, _CHANNEL_KEYS)
        kind = raw.get("kind")
        if kind not in CHANNEL_KINDS:
            raise DescriptorError(path, f"{where}.kind", f"must be one of {', '.join(CHANNEL_KINDS)}, not {kind!r}")
        lists = {key: tuple(_str_list(path, f"{where}.{key}", raw.get(key, []))) for key in _CHANNEL_KEYS - {"kind"}}
        if kind == "claude-hooks" and "{settings}" not in lists["option"]:
            raise DescriptorError(path, f"{where}.option", "must hold \"{settings}\" (the hook JSON's place)")
        if kind != "claude-hooks" and not lists["dirs"]:
            raise DescriptorError(path, f"{where}.dirs", "missing: the directories its session files are under")
        out.append(Channel(kind, lists["dirs"], lists["versions"], lists["events"], lists["option"]))
    return out


def _parse_usage(path: Path, entries: Any, lazy: bool) -> list[UsagePattern]:
    """`[[usage]] id, match (groups used|left, window, reset), keywords, window`."""
    if not isinstance(entries, list):
        raise DescriptorError(path, "usage", "must be an array of tables ([[usage]])")
    out = []
    for i, raw in enumerate(entries):
        where = f"usage[{i}]"
        if not isinstance(raw, dict):
            raise DescriptorError(path, where, "must be a table")
        _no_unknown(path, where, raw, _USAGE_KEYS)
        flags = 0 if _bool(path, f"{where}.case_sensitive", raw.get("case_sensitive", False)) else re.IGNORECASE
        regex = _pattern(path, f"{where}.match", raw.get("match"), flags, lazy)
        if not lazy and not {"used", "left", "window"} & set(regex.groupindex):
            raise DescriptorError(path, f"{where}.match",
                                  "needs a group (?P<used>...), (?P<left>...) or (?P<window>...)")
        keywords = tuple(k.lower() for k in _str_list(path, f"{where}.keywords", raw.get("keywords", [])))
        window = _opt_str(path, f"{where}.window", raw.get("window")) or ""
        out.append(UsagePattern(str(raw.get("id", f"usage-{i}")), regex, keywords, window))
    return out


def _all_problems(path: Path, problems: list[DescriptorError]) -> DescriptorError:
    """One problem as it is; several as one error listing each `key: message` on its own line
    (`.problems` keeps them), as compose errors are reported all at once."""
    if len(problems) == 1:
        return problems[0]
    lines = [str(p).removeprefix(f"{p.file}: ") for p in problems]
    combined = DescriptorError(path, "", f"{len(problems)} problems:\n  " + "\n  ".join(lines))
    combined.problems = list(problems)  # type: ignore[attr-defined]
    return combined


def _parse_stall(path: Path, table: Any) -> StallRule:
    """`[stall] seconds = 300, action = "record" | "restart"`."""
    if not isinstance(table, dict):
        raise DescriptorError(path, "stall", "must be a table: [stall] seconds = 300, action = \"record\"")
    _no_unknown(path, "stall", table, {"seconds", "action"})
    seconds = table.get("seconds", StallRule.seconds)
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 <= seconds <= 86400:
        raise DescriptorError(path, "stall.seconds", f"must be a number of seconds from 0 to 86400, not {seconds!r}")
    action = table.get("action", "record")
    if action not in ("record", "restart"):
        raise DescriptorError(path, "stall.action", f"must be \"record\" or \"restart\", not {action!r}")
    return StallRule(float(seconds), action == "restart")


def load_yaml_override(path: Path, name: str) -> Runtime:
    """Upstream teamctl's runtime YAML, read as upstream reads it (`crates/team-core/src/runtimes.rs`).

    `rate_limit_patterns: [{match, resets_at_capture, resets_in_capture}]`: `match` is a regex tried
    on each line; each capture is a separate regex with one capture group tried on the same line, the
    clock time first, then the duration. `binary`, `env` and `session_resume` override the built-in
    descriptor of the same name, whose launch settings and signatures are kept otherwise.
    """
    import yaml  # only this format is YAML: a watcher on a TOML descriptor never loads yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise DescriptorError(path, "", f"cannot read YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise DescriptorError(path, "", "must be a mapping")
    builtin = BUILTIN_DIR / f"{path.stem}.toml"
    base = load_descriptor(builtin) if builtin.is_file() else None
    launch = _yaml_launch(path, data, base.launch if base else None, name)
    patterns = data.get("rate_limit_patterns") or []
    if not isinstance(patterns, list):
        raise DescriptorError(path, "rate_limit_patterns", "must be a list of {match, resets_at_capture, ...}")
    sigs: list[Signature] = []
    for i, entry in enumerate(patterns):
        sigs.extend(_yaml_pattern(path, i, entry))
    own = tuple(sigs) + (base.rate_limits if base else ())
    return Runtime(
        name=name, path=path, launch=launch, aliases=base.aliases if base else (),
        tz=base.tz if base else None, rate_limits=own, costs=base.costs if base else (),
        dialogs=base.dialogs if base else (), ignores=base.ignores if base else (),
        stall=base.stall if base else StallRule(),
    )


def _yaml_launch(path: Path, data: dict, base: Launch | None, name: str) -> Launch:
    binary = _opt_str(path, "binary", data.get("binary")) or (base.binary if base else name)
    env = data.get("env") or {}
    if not isinstance(env, dict):
        raise DescriptorError(path, "env", "must be a mapping of NAME: value")
    resume = _opt_str(path, "session_resume", data.get("session_resume"))
    launch = base or Launch(binary=binary)
    return dataclasses.replace(
        launch, binary=binary, env=MappingProxyType({**launch.env, **{str(k): str(v) for k, v in env.items()}}),
        resume_args=(resume,) if resume else launch.resume_args)


_RUST_FLAGS = re.compile(r"\(\?([imsxu]+)\)")


def _scoped(pattern: str) -> str:
    """`(?i)rest` -> `(?i:rest)`: a leading flag group stays scoped once the regex is embedded."""
    m = _RUST_FLAGS.match(pattern)
    return f"(?{m.group(1)}:{pattern[m.end():]})" if m else f"(?:{pattern})"


def _yaml_pattern(path: Path, i: int, entry: Any) -> list[Signature]:
    """One upstream pattern as signatures: `match` must hold on the line; a capture, when it is
    there, fills the reset. With both captures: a signature that needs the clock time, then one for
    the duration (upstream tries them in that order on the same line)."""
    where = f"rate_limit_patterns[{i}]"
    if not isinstance(entry, dict) or "match" not in entry:
        raise DescriptorError(path, where, "needs a `match` regex")
    _no_unknown(path, where, entry, {"match", "resets_at_capture", "resets_in_capture", "action"})
    match = compile_regex(path, f"{where}.match", entry["match"], 0)
    captures = []
    for key, reset in (("resets_at_capture", "auto"), ("resets_in_capture", "duration")):
        if entry.get(key) is None:
            continue
        cap = compile_regex(path, f"{where}.{key}", entry[key], 0)
        if cap.groups < 1:
            raise DescriptorError(path, f"{where}.{key}", "needs one capture group, e.g. 'resets at (\\S+)'")
        captures.append((key, reset))
    head = f"^(?=.*?{_scoped(entry['match'])})"
    table: dict[str, Any] = {"id": f"yaml-{i}", "match": entry["match"], "case_sensitive": True}
    if "action" in entry:
        table["action"] = entry["action"]
    if not captures:
        return [_parse_signature(path, "rate_limit_patterns", i, table)]
    sigs = []
    for n, (key, reset) in enumerate(captures):
        last = n == len(captures) - 1
        tail = f"(?:.*?{_scoped(entry[key])}){'?' if last else ''}"
        sig = _parse_signature(path, "rate_limit_patterns", i, {**table, "reset": reset, "reset_group": "1"},
                               lazy=True)
        # Both parts were checked above; the join only adds lazy `.*?` scans, bounded by the line
        # cap, the 4 KiB window and the search timeout.
        sigs.append(dataclasses.replace(sig, id=f"yaml-{i}" if n == 0 else f"yaml-{i}-{key[7:9]}",
                                        regex=_regex_compile(head + tail, 0),
                                        reset_group=str(match.groups + 1)))
    return sigs


def _parse_launch(path: Path, raw: Any) -> Launch:
    if not isinstance(raw, dict):
        raise DescriptorError(path, "launch", "must be a table")
    _no_unknown(path, "launch", raw, _LAUNCH_KEYS)
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
        args=tuple(_str_list(path, "launch.args", raw.get("args", []))),
        resume_args=tuple(_str_list(path, "launch.resume_args", raw.get("resume_args", []))),
        env=MappingProxyType(dict(env)),
        options=MappingProxyType(options),
        permission=MappingProxyType(_fragments(path, "launch.permission", raw.get("permission", {}))),
        role_prompt_env=_opt_str(path, "launch.role_prompt_env", raw.get("role_prompt_env")),
    )


def _fragments(path: Path, where: str, raw: Any) -> dict[str, tuple[str, ...]]:
    if not isinstance(raw, dict):
        raise DescriptorError(path, where, "must be a table of string lists")
    return {k: tuple(_str_list(path, f"{where}.{k}", v)) for k, v in raw.items()}


def _parse_signature(path: Path, kind: str, index: int, raw: Any, *, lazy: bool = False) -> Signature:
    where = f"{kind}[{index}]"
    if not isinstance(raw, dict):
        raise DescriptorError(path, where, "must be a table")
    table_kind = "rate_limit" if kind == "rate_limit_patterns" else kind
    _no_unknown(path, where, raw, _TABLE_KEYS[table_kind])
    sig_id = raw.get("id", f"{table_kind}-{index}")
    if not isinstance(sig_id, str) or not sig_id:
        raise DescriptorError(path, f"{where}.id", "must be a non-empty string")
    flags = 0 if _bool(path, f"{where}.case_sensitive", raw.get("case_sensitive", False)) else re.IGNORECASE
    regex = _pattern(path, f"{where}.match", raw.get("match"), flags, lazy)
    keywords = tuple(k.lower() for k in _str_list(path, f"{where}.keywords", raw.get("keywords", [])))
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
        fields["total"] = _bool(path, f"{where}.total", raw.get("total", False))
        fields["cached_in_input"] = _bool(path, f"{where}.cached_in_input", raw.get("cached_in_input", True))
        groups = None if lazy else set(regex.groupindex) | set(follow.groupindex if follow else ())
        if groups is not None and not groups & {"usd", "input", "output"}:
            raise DescriptorError(path, f"{where}.match",
                                  "needs at least one named group: usd, input or output")
    elif table_kind == "dialog":
        send = raw.get("send")
        if not isinstance(send, str) or not send:
            raise DescriptorError(path, f"{where}.send", "must be a non-empty string of keys")
        fields["send"] = send
        fields["once"] = _bool(path, f"{where}.once", raw.get("once", True))
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
    tz = _opt_str(path, f"{where}.tz", raw.get("tz"))
    if tz:
        _check_zone(path, f"{where}.tz", tz)
    action = raw.get("action", "stop")
    try:
        action = Action(action)
    except ValueError:
        raise DescriptorError(path, f"{where}.action", "must be stop, resume or record") from None
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
    return LazyPattern(pattern, flags, _regex_compile)


def _regex_compile(pattern: str, flags: int) -> regex_engine.Pattern:
    import regex as regex_engine

    return regex_engine.compile(pattern, flags)


def compile_regex(path: Path, where: str, pattern: Any, flags: int = re.IGNORECASE) -> regex_engine.Pattern:
    """Compile a signature regex, refusing ones whose cost can explode on a long line.

    Signatures run on the `regex` engine (Python `re` syntax), whose searches take a timeout: the one
    bound no static check can give (see scan.MATCH_TIMEOUT). The static check still refuses the
    shapes known to explode, so a user learns at load time rather than from a log line.
    """
    if not isinstance(pattern, str) or not pattern:
        raise DescriptorError(path, where, "must be a non-empty regex string")
    import regex as regex_engine

    try:
        compiled = regex_engine.compile(pattern, flags)
    except regex_engine.error as exc:
        raise DescriptorError(path, where, f"regex does not compile: {exc}") from exc
    if not _is_builtin(path):  # built-ins are checked by the test suite, not at every watcher start
        problem = regex_hazard(pattern, flags) or _empty_match(compiled)
        if problem:
            raise DescriptorError(path, where, problem)
    return compiled


#: Texts on which a regex that can match nothing at all shows it (`x*`, `(a|a)*$`, `(?<=a)b?`).
_EMPTY_PROBES = ("", "a", " ", "0", "a b\n")


def _empty_match(compiled: regex_engine.Pattern) -> str | None:
    """A regex that matches the empty string makes every line a hit: refused."""
    for probe in _EMPTY_PROBES:
        try:
            m = compiled.search(probe, timeout=0.05)
        except TimeoutError:
            continue
        if m is not None and m.end() == m.start():
            return "regex matches the empty string, so every line would match: make it require some text"
    return None


def _is_builtin(path: Path) -> bool:
    return path.parent == BUILTIN_DIR or path == generic_patterns_path()


_REPEATS = {sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT}


def _is_wide(item: Any) -> bool:
    """`.`, `[^x]`, `\\S`: a class that matches almost anything, so repeats of it overlap."""
    op, av = item
    if op in (sre_constants.ANY, sre_constants.NOT_LITERAL):
        return True
    if op == sre_constants.IN:
        return any(o == sre_constants.NEGATE for o, _ in av) or any(
            o == sre_constants.CATEGORY and "NOT" in str(a) for o, a in av)
    return op == sre_constants.CATEGORY and "NOT" in str(av)


def _first_chars(items: Any) -> set[int] | None:
    """Characters a sequence can start with; None: any (a class, a group, an empty sequence)."""
    if not items:
        return None
    op, av = items[0]
    if op == sre_constants.LITERAL:
        return {av}
    if op == sre_constants.IN and all(o == sre_constants.LITERAL for o, _ in av):
        return {a for _, a in av}
    if op == sre_constants.SUBPATTERN:
        return _first_chars(av[-1])
    return None


def _branches_overlap(branches: Any) -> bool:
    """Two alternatives may start alike (or one is empty): a repeat of them backtracks exponentially."""
    seen: set[int] = set()
    for branch in branches:
        first = _first_chars(branch)
        if first is None or first & seen:
            return True
        seen |= first
    return False


def regex_hazard(pattern: str, flags: int = 0) -> str | None:
    """Name the shape that makes a regex slow on long untrusted lines, or None.

    Python's `re` has no timeout, so the cost is bounded up front: lines are capped (see scan.py)
    and two shapes are refused: an unbounded repeat inside another unbounded repeat (exponential
    backtracking) and more than two unbounded repeats of a wide class such as `.*` (high-degree
    polynomial backtracking).
    """
    try:
        tree = sre_parse.parse(pattern, flags)
    except re.error:
        return None
    wide = 0

    def walk(items: Any, inside_repeat: bool) -> str | None:
        nonlocal wide
        for op, av in items:
            if op in _REPEATS or op == getattr(sre_constants, "POSSESSIVE_REPEAT", None):
                lo, hi, sub = av
                unbounded = hi == sre_constants.MAXREPEAT or hi > 1000
                if unbounded and inside_repeat:
                    return "nested unbounded repetition (like `(a+)+`) can take exponential time"
                if unbounded and len(sub) == 1 and _is_wide(sub[0]):
                    wide += 1
                found = walk(sub, inside_repeat or unbounded)
                if found:
                    return found
            elif op == sre_constants.SUBPATTERN:
                found = walk(av[-1], inside_repeat)
                if found:
                    return found
            elif op == sre_constants.BRANCH:
                if inside_repeat and _branches_overlap(av[1]):
                    return ("alternatives that can match the same text under an unbounded repeat (like"
                            " `(a|aa)*`) can take exponential time")
                for branch in av[1]:
                    found = walk(branch, inside_repeat)
                    if found:
                        return found
            elif op in (sre_constants.ASSERT, sre_constants.ASSERT_NOT):
                found = walk(av[1], inside_repeat)
                if found:
                    return found
            elif op == getattr(sre_constants, "ATOMIC_GROUP", None):
                found = walk(av, inside_repeat)
                if found:
                    return found
            elif op == sre_constants.GROUPREF_EXISTS:
                for branch in av[1:]:
                    if branch is not None:
                        found = walk(branch, inside_repeat)
                        if found:
                            return found
        return None

    found = walk(tree, False)
    if found:
        return found
    if wide > 2:
        return "more than two unbounded wildcard repeats (like `.*`); use bounded ones such as .{0,200}"
    return None


def _no_unknown(path: Path, where: str, table: dict, known: set[str]) -> None:
    for key in table:
        if key not in known:
            import difflib

            close = difflib.get_close_matches(key, sorted(known), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            prefix = f"{where}." if where else ""
            raise DescriptorError(path, f"{prefix}{key}", f"unknown key{hint}")


def _str_list(path: Path, where: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DescriptorError(path, where, "must be a list of strings")
    return value


def _opt_str(path: Path, where: str, value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise DescriptorError(path, where, "must be a string")
    return value


def _bool(path: Path, where: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise DescriptorError(path, where, "must be true or false")
    return value


def _check_zone(path: Path, where: str, name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise DescriptorError(path, where, f"unknown timezone {name!r}") from None

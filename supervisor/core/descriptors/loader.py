"""Runtime descriptors: load, validate and compile the TOML file that describes one agent CLI.

Adding a runtime means adding one file; nothing here names a particular CLI. The format is
documented in docs/runtime-descriptors.md. Every mistake is reported with file, table and key, since
a user fixing a signature at 3am needs to know exactly where to look.

This module loads a descriptor (by file, or a runtime by name) and is where the rest of the code
imports descriptor names from. The parts, beside it in core/descriptors/: model.py (the types),
files.py (where descriptors are), tables.py (each table, checked), regexes.py (compiling and
checking a regex) and upstream_yaml.py (upstream teamctl's YAML format).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import toml_text
from ..errors import DescriptorError
from . import files as descriptor_files
from .checked import CheckRecord, record_content
from .files import BUILTIN_DIR, generic_patterns_path, is_builtin, package_data_dir, runtime_files
from .model import (
    CHANNEL_KINDS,
    RESET_KINDS,
    Action,
    Channel,
    Launch,
    Runtime,
    Signature,
    StallRule,
    UsagePattern,
)
from .regexes import compile_regex, regex_hazard
from .tables import (
    MAX_LOOKAHEAD,
    PLACEHOLDER_KEYS,
    TOP_KEYS,
    all_problems,
    check_bool,
    check_zone,
    no_unknown_keys,
    optional_str,
    parse_channels,
    parse_launch,
    parse_signature,
    parse_stall,
    parse_usage,
    str_list,
)

__all__ = [
    "BUILTIN_DIR", "CHANNEL_KINDS", "MAX_DESCRIPTOR_BYTES", "MAX_LOOKAHEAD", "MAX_SIGNATURES", "PLACEHOLDER_KEYS",
    "RESET_KINDS", "Action", "Channel", "DescriptorError", "Launch", "Runtime", "Signature", "StallRule",
    "UsagePattern", "compile_regex", "generic_patterns_path", "load_descriptor", "load_runtime", "package_data_dir",
    "regex_hazard", "runtime_files",
]

#: A descriptor is one CLI's text: far below these (the largest built-in: 10 KB, 21 signatures).
#: The caps keep a huge file from stalling `validate` and every watcher's start.
MAX_DESCRIPTOR_BYTES = 256 * 1024
MAX_SIGNATURES = 500
_SIGNATURE_TABLES = ("rate_limit", "cost", "dialog", "ignore")


def load_runtime(name: str, team_dir: Path | None = None, *, generic: bool = True,
                 checks: CheckRecord | None = None) -> Runtime:
    """Load runtime `name` (team override first), with the generic signatures appended. `checks`:
    the team's record of descriptor texts already checked in full (see checked.py)."""
    files = runtime_files(team_dir)
    if name not in files:
        known = ", ".join(sorted(files))
        raise DescriptorError(team_dir / "runtimes" if team_dir else descriptor_files.BUILTIN_DIR, "",
                              f"unknown runtime {name!r} (known: {known})")
    path = files[name]
    if path.suffix in (".yaml", ".yml"):
        from .upstream_yaml import load_yaml_override  # only a team with an upstream YAML file loads it

        runtime = load_yaml_override(path, name, load_descriptor)
    else:
        runtime = load_descriptor(path, checks=checks)
    if not generic or not generic_patterns_path().is_file():
        return runtime
    extra = load_descriptor(generic_patterns_path(), generic=True)
    return dataclasses.replace(runtime, rate_limits=runtime.rate_limits + extra.rate_limits,
                               ignores=runtime.ignores + extra.ignores)


def load_descriptor(path: Path, *, generic: bool = False, lazy: bool | None = None,
                    checks: CheckRecord | None = None) -> Runtime:
    """Parse and validate one TOML descriptor (or the generic patterns file when `generic`).

    A team's own descriptor is checked in full here (every regex compiled, its groups checked), so a
    mistake fails at load naming file, table and key. The built-in ones (`lazy` None: whether `path`
    is built in) get LazyPatterns instead: the test suite compiles and checks every one of them, and
    a watcher whose runtime never prints a keyword never compiles a regex or imports the engine.
    A team's descriptor whose text `checks` holds as passed is loaded lazily too; one checked in
    full here is noted there.
    """
    content = None
    try:
        if path.stat().st_size > MAX_DESCRIPTOR_BYTES:
            raise DescriptorError(path, "", f"{path.stat().st_size:,} bytes: a descriptor is at most "
                                            f"{MAX_DESCRIPTOR_BYTES:,} bytes")
        text = path.read_text(encoding="utf-8")
        if lazy is None:
            lazy = is_builtin(path)
            if not lazy and checks is not None:
                content = record_content(text)
                lazy = checks.passed(path.name, content)
        data = toml_text.loads(text)
    except OSError as exc:
        raise DescriptorError(path, "", f"cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise DescriptorError(path, "", "not UTF-8 text") from exc
    except toml_text.TomlSyntaxError as exc:
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

    part(lambda: no_unknown_keys(path, "", data, TOP_KEYS))
    name = part(lambda: optional_str(path, "name", data.get("name"))) or path.stem
    tz = part(lambda: optional_str(path, "tz", data.get("tz")))
    if tz:
        part(lambda: check_zone(path, "tz", tz))
    aliases = tuple(part(lambda: str_list(path, "aliases", data.get("aliases", [])), []))
    json_documents = part(lambda: check_bool(path, "json_documents", data.get("json_documents", False)), False)
    launch = Launch(binary="")
    if not generic:
        if "launch" not in data:
            problems.append(DescriptorError(path, "launch", "missing table [launch] (it needs at least `binary`)"))
        else:
            launch = part(lambda: parse_launch(path, data["launch"]), launch)
    tables: dict[str, list[Signature]] = {kind: [] for kind in _SIGNATURE_TABLES}
    for kind in _SIGNATURE_TABLES:
        entries = data.get(kind, [])
        if not isinstance(entries, list):
            problems.append(DescriptorError(path, kind, f"must be an array of tables ([[{kind}]])"))
            continue
        for i, e in enumerate(entries):
            sig = part(lambda kind=kind, i=i, e=e: parse_signature(path, kind, i, e, lazy=lazy))
            if sig is not None:
                tables[kind].append(sig)
    stall = part(lambda: parse_stall(path, data.get("stall", {})), StallRule())
    channels = tuple(part(lambda: parse_channels(path, data.get("channel", [])), []))
    usage = tuple(part(lambda: parse_usage(path, data.get("usage", []), lazy), []))
    if problems:
        raise all_problems(path, problems)
    if checks is not None and content is not None and not lazy:
        checks.note(path.name, content)
    return Runtime(
        name=name, path=path, launch=launch, aliases=aliases, tz=tz,
        rate_limits=tuple(tables["rate_limit"]), costs=tuple(tables["cost"]),
        dialogs=tuple(tables["dialog"]), ignores=tuple(tables["ignore"]),
        stall=stall, channels=channels, usage=usage, json_documents=json_documents,
    )

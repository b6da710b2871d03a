"""Upstream teamctl's runtime YAML (`rate_limit_patterns`, `binary`, `env`, `session_resume`), read
as upstream reads it, on top of the built-in descriptor of the same name.

Only a team that keeps such a file loads this module, and with it the yaml package.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .. import yaml_limits
from ..errors import DescriptorError
from . import files as descriptor_files
from .model import Launch, Runtime, Signature, StallRule
from .regexes import compile_regex, engine_compile
from .tables import no_unknown_keys, optional_str, parse_signature


def load_yaml_override(path: Path, name: str, load_base: Callable[[Path], Runtime]) -> Runtime:
    """Upstream teamctl's runtime YAML, read as upstream reads it (`crates/team-core/src/runtimes.rs`).

    `rate_limit_patterns: [{match, resets_at_capture, resets_in_capture}]`: `match` is a regex tried
    on each line; each capture is a separate regex with one capture group tried on the same line, the
    clock time first, then the duration. `binary`, `env` and `session_resume` override the built-in
    descriptor of the same name (read with `load_base`), whose launch settings and signatures are kept
    otherwise.
    """
    import yaml  # only this format is YAML: a watcher on a TOML descriptor never loads yaml

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DescriptorError(path, "", f"cannot read YAML: {exc}") from exc
    too_big = yaml_limits.check(text)
    if too_big is not None:
        where = f" (line {too_big.line})" if too_big.line else ""
        raise DescriptorError(path, "", f"{too_big.message}{where}")
    try:
        data = yaml.safe_load(text) or {}
    except (yaml.YAMLError, RecursionError) as exc:
        raise DescriptorError(path, "", f"cannot read YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise DescriptorError(path, "", "must be a mapping")
    builtin = descriptor_files.BUILTIN_DIR / f"{path.stem}.toml"
    base = load_base(builtin) if builtin.is_file() else None
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
    binary = optional_str(path, "binary", data.get("binary")) or (base.binary if base else name)
    env = data.get("env") or {}
    if not isinstance(env, dict):
        raise DescriptorError(path, "env", "must be a mapping of NAME: value")
    resume = optional_str(path, "session_resume", data.get("session_resume"))
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
    no_unknown_keys(path, where, entry, {"match", "resets_at_capture", "resets_in_capture", "action"})
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
        return [parse_signature(path, "rate_limit_patterns", i, table)]
    sigs = []
    for n, (key, reset) in enumerate(captures):
        last = n == len(captures) - 1
        tail = f"(?:.*?{_scoped(entry[key])}){'?' if last else ''}"
        sig = parse_signature(path, "rate_limit_patterns", i, {**table, "reset": reset, "reset_group": "1"},
                               lazy=True)
        # Both parts were checked above; the join only adds lazy `.*?` scans, bounded by the line
        # cap, the 4 KiB window and the search timeout.
        sigs.append(dataclasses.replace(sig, id=f"yaml-{i}" if n == 0 else f"yaml-{i}-{key[7:9]}",
                                        regex=engine_compile(head + tail, 0),
                                        reset_group=str(match.groups + 1)))
    return sigs

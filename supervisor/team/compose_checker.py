"""The compose checker: YAML read with key line numbers, and typed getters that report, not raise.

Every getter records a Problem (file, dotted key, line) and returns a default, so one load reports
every mistake in a tree at once. The section parsers (compose_sections, compose_projects) use it.
"""

from __future__ import annotations

import math
import re
import zoneinfo
from collections.abc import Collection, Mapping
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core import yaml_limits
from ..core.compose_model import Problem, did_you_mean
from .compose_cache import ParseCache

# Names end up in tmux session names, file names and argv: no shell metacharacters, no separators,
# nothing tmux or a CLI could read as an option or a hidden file.
NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
PREFIX_RE = re.compile(r"(?:[A-Za-z0-9_][A-Za-z0-9_.-]{0,31})?")
#: Longest project or agent name: file names built from both (plus the longest suffix, 17 bytes)
#: stay far under the 255-byte limit, tmux session names (with a 32-character prefix) too.
NAME_MAX = 64
ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


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


def join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def index(path: str, i: int) -> str:
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
                kpath = join(path, knode.value)
                line = knode.start_mark.line + 1
                if knode.value in local:
                    dups.append((kpath, line))
                local.add(knode.value)
                lines.setdefault(kpath, line)
                _walk_nodes(vnode, kpath, lines, dups, seen)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            ipath = index(path, i)
            lines.setdefault(ipath, item.start_mark.line + 1)
            _walk_nodes(item, ipath, lines, dups, seen)


# --------------------------------------------------------------------------------------------------
# Validation helpers

MISSING = object()


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def type_name(value: object) -> str:
    if value is None:
        return "null"
    return {dict: "mapping", list: "list", str: "string", bool: "boolean", int: "integer",
            float: "number"}.get(type(value), type(value).__name__)


class Checker:
    """Collects problems for one load; `file`/`lines` point at the YAML file being checked."""

    def __init__(self, cache: ParseCache | None = None) -> None:
        self.problems: list[Problem] = []
        self.file = Path()
        self._lines: dict[Path, dict[str, int]] = {}
        self.cache = cache
        self.once: set[str] = set()  # notices given once per load, not once per file

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
        """Parse `path`, recording line numbers; returns MISSING after reporting a problem."""
        self.file = path
        lines = self._lines.setdefault(path, {})
        try:
            raw = path.read_bytes()
            text = raw.decode("utf-8")
        except FileNotFoundError:
            self.error("", "file not found")
            return MISSING
        except (OSError, UnicodeDecodeError) as exc:
            self.error("", f"cannot read file: {exc}")
            return MISSING
        cached = self.cache.get(path, raw) if self.cache is not None else None
        if cached is not None and isinstance(cached[0], dict):
            lines.update(cached[1])
            return cached[0]
        data = self._parse(path, text, lines)
        if data is not MISSING and self.cache is not None and not self.has_errors:
            self.cache.put(path, raw, data, lines)
        return data

    def _parse(self, path: Path, text: str, lines: dict[str, int]) -> object:
        import yaml

        too_big = yaml_limits.check(text)
        if too_big is not None:  # refused before it is built: nothing downstream walks a bomb
            self.problems.append(Problem(path, "", too_big.message, "error", too_big.line))
            return MISSING
        loader = _loader()(text)
        try:
            node = loader.get_single_node()
            if node is None:
                self.error("", "file is empty; expected a mapping")
                return MISSING
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
            return MISSING
        except yaml.YAMLError as exc:
            self.error("", f"YAML error: {exc}")
            return MISSING
        except RecursionError:  # the limits above keep the composer far from this; a last word
            self.error("", "nested too deeply to read; refused")
            return MISSING
        finally:
            loader.dispose()
        if not isinstance(data, dict):
            self.error("", f"expected a mapping at the top level, got {type_name(data)}")
            return MISSING
        return data

    # -- typed getters (each reports and returns the default on a bad value)

    def keys(self, m: Mapping[Any, Any], known: Collection[str], path: str,
             decisive: Collection[str] = ()) -> None:
        """Warn about unknown keys with a did-you-mean, since a typo'd key is otherwise ignored.
        A near miss of a `decisive` key (one that changes what runs: `runtim` for `runtime`) that is
        not set itself is an error: ignoring it would start something else, with exit 0."""
        for k in m:
            if not isinstance(k, str):
                self.error(join(path, k), f"key must be a string, got {type_name(k)}")
            elif k not in known:
                hint = did_you_mean(k, known)
                meant = hint.split("'")[1] if hint else ""
                if meant in decisive and meant not in m:
                    self.error(join(path, k), f"unknown key {k!r}{hint}; it would change what runs, "
                                              f"so it is not ignored: rename it to {meant!r}")
                else:
                    self.warn(join(path, k), f"unknown key {k!r}{hint}; ignored")

    def mapping(self, m: Mapping[str, Any], key: str, path: str, *, required: bool = False) -> dict[str, Any]:
        v = m.get(key)
        if v is None:
            if required:
                self.error(join(path, key), "required mapping is missing")
            return {}
        if not isinstance(v, dict):
            self.error(join(path, key), f"must be a mapping, got {type_name(v)}")
            return {}
        return v

    def string(self, m: Mapping[str, Any], key: str, path: str, *, required: bool = False,
               default: str | None = None) -> str | None:
        v = m.get(key)
        if v is None:
            if required:
                self.error(join(path, key), "required string is missing")
            return default
        if not isinstance(v, str):
            self.error(join(path, key), f"must be a string, got {type_name(v)}")
            return default
        if v == "" and required:
            self.error(join(path, key), "must not be empty")
            return default
        return v

    def number(self, m: Mapping[str, Any], key: str, path: str, default: float | None, *,
               positive: bool = False, non_negative: bool = False,
               maximum: float | None = None) -> float | None:
        v = m.get(key)
        if v is None:
            return default
        kp = join(path, key)
        if not is_number(v):
            self.error(kp, f"must be a number, got {type_name(v)} {v!r}")
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
        kp = join(path, key)
        if isinstance(v, str):
            return (v,)
        if not isinstance(v, list):
            self.error(kp, f"must be a string or a list of strings, got {type_name(v)}")
            return None
        out: list[str] = []
        for i, item in enumerate(v):
            if not isinstance(item, str) or not item:
                self.error(index(kp, i), f"must be a non-empty string, got {type_name(item)}")
            else:
                out.append(item)
        return tuple(out)

    def name_ok(self, value: str, key: str, what: str) -> bool:
        if len(value) > NAME_MAX:  # every derived name fits: <project>-<agent>.supervisor.log.3, tmux's
            self.error(key, f"{what} {value[:20]!r}... is {len(value)} characters long: at most {NAME_MAX}"
                            " (it becomes part of file and tmux session names)")
            return False
        if NAME_RE.fullmatch(value):
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
            self.error(join(path, key), f"unknown time zone {v!r} (use an IANA name like Europe/Berlin)")
            return None
        return v


def inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True


def resolve(base: Path, raw: str) -> Path:
    return (base / Path(raw).expanduser()).resolve()

"""Where runtime descriptors are: the built-in ones, a team's own (which win) and the generic
patterns file; every runtime name and alias mapped to its file.

A team may replace a built-in in tests: code that needs the built-in folder reads
`descriptor_files.BUILTIN_DIR` when it runs, never a copy taken at import.
"""

from __future__ import annotations

from pathlib import Path

from .. import toml_text

BUILTIN_DIR = Path(__file__).parents[2] / "runtimes"


def generic_patterns_path() -> Path:
    """`patterns/ratelimits.toml`, wherever the package is installed."""
    return package_data_dir() / "ratelimits.toml"


def package_data_dir() -> Path:
    """The installed `patterns/` folder, found without importlib.resources (whose zip support pulls
    zipfile, tempfile, bz2 and lzma into every watcher)."""
    import importlib.util

    spec = importlib.util.find_spec("teamctl_supervisor.patterns")
    assert spec is not None and spec.origin is not None, "teamctl_supervisor.patterns is part of the package"
    return Path(spec.origin).parent


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
        data = toml_text.loads(head)
    except toml_text.TomlSyntaxError:
        try:
            data = toml_text.loads(text)  # a top-level value spread over lines that start with "["
        except toml_text.TomlSyntaxError:
            data = {}
    aliases = data.get("aliases", [])
    found = [a for a in aliases if isinstance(a, str)] if isinstance(aliases, list) else []
    _ALIASES[key] = found
    return found


def is_builtin(path: Path) -> bool:
    return path.parent == BUILTIN_DIR or path == generic_patterns_path()

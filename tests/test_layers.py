"""The layering of supervisor/, read from the imports themselves (function-level ones included).

core is pure (no process, terminal, socket or database modules), its folders included; store stands
alone; agent may use core and store; team may use agent; cli may use everything, and nothing imports
cli. No module imports itself back through others, and every package folder is installed.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

PKG = Path(__file__).parent.parent / "supervisor"
NAME = "teamctl_supervisor"
LAYERS = ("core", "store", "agent", "team", "web", "cli")
MAY_USE = {
    "core": {"core"},
    "store": {"store"},
    "agent": {"core", "store", "agent"},
    "team": {"core", "store", "agent", "team"},
    "web": {"core", "store", "team", "web"},
    "cli": set(LAYERS),
}
#: Standard-library and third-party modules that mean I/O: never in core.
IO_MODULES = {"subprocess", "sqlite3", "pexpect", "ptyprocess", "psutil", "select", "selectors", "socket", "pty",
              "tty", "termios", "fcntl", "signal", "threading", "urllib", "http"}


def _modules() -> dict[str, Path]:
    out = {}
    for f in PKG.rglob("*.py"):
        parts = f.relative_to(PKG).with_suffix("").parts
        out[".".join(p for p in parts if p != "__init__")] = f
    return out


def _imports(dotted: str, path: Path) -> set[str]:
    """Absolute names of what a module imports (relative imports resolved against its package)."""
    is_pkg = path.name == "__init__.py"
    package = dotted.split(".") if is_pkg else dotted.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join([NAME, *base, *([node.module] if node.module else [])])
                found.add(target)
                found |= {f"{target}.{a.name}" for a in node.names}  # a name may be a module
            else:
                found.add(node.module or "")
    return found


def _layer(absolute: str) -> str | None:
    parts = absolute.split(".")
    if parts[0] != NAME:
        return None
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else "top"


def test_every_module_is_in_a_layer() -> None:
    loose = [m for m in _modules() if m and m.split(".")[0] not in (*LAYERS, "runtimes", "__main__")]
    assert loose == []


def test_each_layer_imports_only_the_layers_below_it() -> None:
    wrong = []
    for dotted, path in _modules().items():
        mine = dotted.split(".")[0] if dotted else "top"
        if mine not in LAYERS:
            continue
        for target in _imports(dotted, path):
            layer = _layer(target)
            if layer in LAYERS and layer not in MAY_USE[mine]:
                wrong.append(f"{dotted} imports {target}")
    assert wrong == []


def test_core_does_no_io() -> None:
    wrong = [f"{dotted} imports {t}" for dotted, path in _modules().items() if dotted.startswith("core")
             for t in _imports(dotted, path) if t.split(".")[0] in IO_MODULES]
    assert wrong == []


def test_nothing_outside_cli_imports_cli() -> None:
    wrong = [f"{dotted} imports {t}" for dotted, path in _modules().items()
             if not dotted.startswith("cli") and dotted != "__main__"
             for t in _imports(dotted, path) if _layer(t) == "cli"]
    assert wrong == []


def test_the_check_sees_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "x.py"
    bad.write_text("from ..agent import watch\nimport subprocess\n")
    assert {f"{NAME}.agent", f"{NAME}.agent.watch", "subprocess"} <= _imports("core.x", bad)


#: Import circles that are known and being removed (none since the pty session stopped importing the
#: watcher). The test fails when one of them is gone too, so an entry is deleted with its circle.
KNOWN_CIRCLES: set[frozenset[str]] = set()


def _module_graph() -> dict[str, set[str]]:
    """Module -> the supervisor modules it imports. `from pkg import mod` is an edge to pkg.mod, not to
    pkg (a package's own __init__ runs first whatever is imported from it)."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for dotted, path in modules.items():
        is_pkg = path.name == "__init__.py"
        package = dotted.split(".") if is_pkg else dotted.split(".")[:-1]
        edges: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package[: len(package) - node.level + 1] if package != [""] else []
                    target = ".".join([*base, *([node.module] if node.module else [])]).strip(".")
                elif (node.module or "").startswith(NAME):
                    target = (node.module or "")[len(NAME) + 1:]
                else:
                    continue
                subs = [f"{target}.{a.name}".strip(".") for a in node.names]
                edges |= {m for m in subs if m in modules}
                if not all(m in modules for m in subs):
                    edges.add(target)
            elif isinstance(node, ast.Import):
                edges |= {a.name[len(NAME) + 1:] for a in node.names if a.name.startswith(NAME + ".")}
        graph[dotted] = {e for e in edges if e in modules and e != dotted}
    return graph


def _circles(graph: dict[str, set[str]]) -> set[frozenset[str]]:
    """The strongly connected parts of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: set[frozenset[str]] = set()

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            part = set()
            while True:
                w = stack.pop()
                part.add(w)
                if w == v:
                    break
            if len(part) > 1:
                found.add(frozenset(part))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_no_module_imports_itself_back_through_others() -> None:
    assert _circles(_module_graph()) == KNOWN_CIRCLES


def test_the_circle_check_sees_a_circle_through_a_function_level_import(tmp_path: Path) -> None:
    graph = {"core.a": {"core.b"}, "core.b": {"core.c"}, "core.c": {"core.a"}, "core.d": {"core.a"}}
    assert _circles(graph) == {frozenset({"core.a", "core.b", "core.c"})}
    assert _circles({"core.a": {"core.b"}, "core.b": set()}) == set()


def _folder(dotted: str) -> str:
    """A module's folder below its layer (`core.scan.scanner` -> `core.scan`); a flat module is its own."""
    parts = dotted.split(".")
    return ".".join(parts[:2]) if len(parts) > 2 else dotted


def _packages() -> set[str]:
    return {".".join(f.relative_to(PKG).parent.parts) for f in PKG.rglob("__init__.py")}


def test_no_circle_between_the_folders_of_a_layer() -> None:
    """core/scan may use core/descriptors, never the other way back too; likewise for every folder
    (and the flat modules beside them)."""
    folders: dict[str, set[str]] = {}
    for dotted, targets in _module_graph().items():
        mine = _folder(dotted)
        folders.setdefault(mine, set()).update(_folder(t) for t in targets if _folder(t) != mine)
    for f in list(folders.values()):
        for t in f:
            folders.setdefault(t, set())
    circles = {c for c in _circles(folders) if not any(c <= {_folder(m) for m in k} for k in KNOWN_CIRCLES)}
    assert circles == set()


def test_core_folders_are_pure_too() -> None:
    """The check above walks every file under core/, its folders included (a regression guard for rglob)."""
    core = {d for d in _modules() if d.startswith("core.")}
    assert {"core.scan.scanner", "core.resets.parse", "core.descriptors.loader"} <= core


def test_every_package_folder_is_installed() -> None:
    """pyproject lists the packages one by one (the source folder installs under another name)."""
    config = tomllib.loads((PKG.parent / "pyproject.toml").read_text())
    listed = set(config["tool"]["setuptools"]["packages"])
    wanted = {".".join([NAME, *p.split(".")]) if p else NAME for p in _packages()}
    assert wanted - listed == set()


def test_no_private_name_is_imported_from_another_file() -> None:
    """A name with a leading underscore is its file's own: another file that needs it gets it public."""
    wrong = []
    for dotted, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith(NAME)):
                wrong += [f"{dotted} imports {a.name}" for a in node.names
                          if a.name.startswith("_") and not a.name.startswith("__")]
    assert wrong == []

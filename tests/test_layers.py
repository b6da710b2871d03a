"""The layering of supervisor/, read from the imports themselves (function-level ones included).

core is pure (no process, terminal, socket or database modules); store stands alone; agent may use
core and store; team may use agent; cli may use everything, and nothing imports cli.
"""

from __future__ import annotations

import ast
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

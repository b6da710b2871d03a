"""Install the pinned real agent CLIs into a cache outside the tree, once per version.

Run by `.ci/run`; the real-CLI tests call `binary(name)`, which fails (never skips) when a CLI is
missing. The cache is `$TEAMCTL_REALCLI_CACHE`, else `~/.cache/teamctl-supervisor/realcli`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import tomllib
from pathlib import Path

PINS_FILE = Path(__file__).with_name("pins.toml")


def cache_dir() -> Path:
    """Where installed CLIs live: one folder per pin, `<name>-<version>`."""
    env = os.environ.get("TEAMCTL_REALCLI_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "teamctl-supervisor" / "realcli"


def pins() -> dict[str, dict[str, str]]:
    with PINS_FILE.open("rb") as fh:
        return tomllib.load(fh)


def _home(name: str, pin: dict[str, str]) -> Path:
    return cache_dir() / f"{name}@{pin['version']}"


def binary(name: str) -> Path:
    """The installed executable of pin `name`; AssertionError naming the fix when it is missing."""
    pin = pins()[name]
    path = _home(name, pin) / pin["bin"]
    assert path.exists(), f"{name} {pin['version']} is not installed: run python3 tests/realcli/install.py"
    return path


def _extract(tgz: Path, dest: Path) -> None:
    """Unpack an npm tarball, refusing members that would land outside `dest` or are links.

    Python 3.11.2 (Debian 12's own) predates `extractall(filter=...)` (3.11.4), so the check is ours."""
    root = dest.resolve()
    with tarfile.open(tgz) as tar:
        members = tar.getmembers()
        for m in members:
            target = (dest / m.name).resolve()
            if not (m.isfile() or m.isdir()) or not target.is_relative_to(root):
                raise SystemExit(f"{tgz.name}: refusing tar member {m.name!r}")
        tar.extractall(dest, members=members)


def _install_one(name: str, pin: dict[str, str], dest: Path) -> None:
    spec = f"{pin['package']}@{pin['version']}"
    if pin["kind"] == "npm-pack":
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(["npm", "pack", "--silent", spec], cwd=tmp, check=True, stdout=subprocess.DEVNULL)
            (tgz,) = Path(tmp).glob("*.tgz")
            _extract(tgz, dest)
    elif pin["kind"] == "npm":
        subprocess.run(["npm", "install", "--silent", "--no-audit", "--no-fund", "--prefix", str(dest), spec],
                       check=True)
    elif pin["kind"] == "pip":
        subprocess.run([sys.executable, "-m", "venv", str(dest / "venv")], check=True)
        subprocess.run([str(dest / "venv" / "bin" / "python"), "-m", "pip", "install", "-q",
                        f"{pin['package']}=={pin['version']}"], check=True)
    else:
        raise SystemExit(f"{PINS_FILE}: [{name}] kind: unknown {pin['kind']!r}")


def install(names: list[str] | None = None) -> None:
    """Install every pin (or `names`) not yet in the cache; a half-done install is never kept.

    npm installs are built beside their folder and renamed into place; a venv cannot be moved (its
    scripts name their interpreter by path), so it is built in place and marked done last."""
    for name, pin in pins().items():
        if names and name not in names:
            continue
        dest = _home(name, pin)
        done = dest / ".installed"
        if done.exists() and (dest / pin["bin"]).exists():
            continue
        print(f"installing {name} ({pin['package']} {pin['version']})", flush=True)
        shutil.rmtree(dest, ignore_errors=True)
        if pin["kind"] == "pip":
            dest.mkdir(parents=True)
            _install_one(name, pin, dest)
        else:
            partial = dest.with_name(dest.name + ".partial")
            shutil.rmtree(partial, ignore_errors=True)
            partial.mkdir(parents=True)
            _install_one(name, pin, partial)
            partial.rename(dest)
        assert (dest / pin["bin"]).exists(), f"{name}: {pin['bin']} missing after install"
        for tool in dest.glob("node_modules/**/vendor/ripgrep/*/rg"):
            tool.chmod(0o755)  # @qwen-code/qwen-code 0.24.4 ships its ripgrep without the exec bit
        done.write_text(pin["version"] + "\n")


if __name__ == "__main__":
    install(sys.argv[1:] or None)
    for n in pins():
        print(n, binary(n))

"""Run the real GitHub Copilot CLI (@github/copilot-linux-x64 1.0.102) against the fake API, in BYOK mode.

Copilot's "custom model provider" mode (`copilot help providers`) needs no GitHub login:
COPILOT_PROVIDER_BASE_URL points it at the fake API's Chat Completions protocol (type "openai", wire
"completions"), COPILOT_MODEL names the model, COPILOT_OFFLINE=true turns off every other network use
(GitHub auth, telemetry, web tools, the GitHub MCP server, auto-update), and a dead proxy on 127.0.0.1
catches anything left. The executable unpacks its bundled package (copilot.tgz, ~235 MB) on first run;
COPILOT_PKG_CACHE_HOME keeps that in the real-CLI cache, once, instead of in each throwaway HOME.
`package_dir()` unpacks it (COPILOT_SEA_EXTRACT_ONLY=1) and returns the folder (cli-main.js and the
agent runtime prebuilds/linux-x64/runtime.node, which `teamctl signatures audit` reads).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from realcli.install import binary, cache_dir, pins
from realcli.opencode import dead_proxy_env, env_without

MODEL = "gpt-4o"


def pkg_cache() -> Path:
    return cache_dir() / f"copilot@{pins()['copilot']['version']}" / "pkg-cache"


def package_dir() -> Path:
    """The unpacked package of the pinned executable (unpacked now when it is not yet)."""
    version = pins()["copilot"]["version"]
    folder = pkg_cache() / "pkg" / "linux-x64" / version
    if not (folder / ".extraction-complete").exists():
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(pkg_cache()),
               "COPILOT_SEA_EXTRACT_ONLY": "1", "COPILOT_PKG_CACHE_HOME": str(pkg_cache())}
        subprocess.run([str(binary("copilot")), "--binary-version"], env=env, check=True, timeout=120,
                       capture_output=True, stdin=subprocess.DEVNULL)
    assert (folder / "cli-main.js").exists(), f"copilot {version}: no unpacked package in {folder}"
    return folder


def prepare(home: Path, base_url: str, model: str = MODEL) -> dict[str, str]:
    """A throwaway HOME (and work dir `home/work`) for copilot; returns the env to run it with."""
    home = Path(home)
    (home / "work").mkdir(parents=True, exist_ok=True)
    env = env_without("COPILOT_", "GH_", "GITHUB_")
    env.update({
        "HOME": str(home),
        "COPILOT_HOME": str(home / ".copilot"),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
        "COPILOT_PKG_CACHE_HOME": str(pkg_cache()),
        "COPILOT_OFFLINE": "true",
        "COPILOT_AUTO_UPDATE": "false",
        "COPILOT_PROVIDER_BASE_URL": base_url.rstrip("/") + "/v1",
        "COPILOT_PROVIDER_API_KEY": "sk-fakeapi",
        "COPILOT_MODEL": model,
        "TERM": env.get("TERM") if env.get("TERM") not in (None, "", "dumb") else "xterm-256color",
        **dead_proxy_env(),
    })
    return env


def argv(*extra: str) -> list[str]:
    """copilot's command line, `extra` appended."""
    return [str(binary("copilot")), *extra]

"""Run the real opencode (opencode-linux-x64 1.18.33) against the fake API's Chat Completions protocol.

`prepare(home, base_url)` writes a throwaway HOME with `~/.config/opencode/opencode.json`: one
OpenAI-compatible provider "fakeapi" (`@ai-sdk/openai-compatible`, bundled in the executable) whose
baseURL is the fake API, its model priced by `cost` (so opencode prints dollars), autoupdate and sharing
off. OPENCODE_DISABLE_MODELS_FETCH keeps it from fetching models.dev (it uses its bundled snapshot),
OPENCODE_DISABLE_PROJECT_CONFIG from reading an opencode.json above the work dir, and every other
connection goes to a dead proxy on 127.0.0.1 (nothing leaves the machine). PWD names the work dir:
opencode takes its project (and the folder it snapshots with git) from $PWD, not from the folder it runs
in. `argv(*extra)`: the command line, e.g. `argv("run", "--format", "json", "hi")` for a headless
run, `argv()` for the TUI.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from realcli.install import binary

PROVIDER = "fakeapi"
MODEL = "gpt-4o"
#: opencode's own price for the fake model (USD per million tokens), as a provider's `cost` in opencode.json
COST = {"input": 2.5, "output": 10.0, "cache_read": 1.25}


def usd(usage: dict[str, int]) -> float:
    """What opencode 1.18.33 charges for one answer of the fake API's `usage` at COST."""
    return (usage["input"] * COST["input"] + usage["output"] * COST["output"]
            + usage["cache_read"] * COST["cache_read"]) / 1e6


def config(base_url: str, model: str = MODEL) -> dict:
    return {
        "$schema": "https://opencode.ai/config.json",
        "autoupdate": False,
        "share": "disabled",
        "model": f"{PROVIDER}/{model}",
        "provider": {PROVIDER: {
            "npm": "@ai-sdk/openai-compatible",
            "name": "Fake API",
            "options": {"baseURL": base_url.rstrip("/") + "/v1", "apiKey": "sk-fakeapi"},
            "models": {model: {"name": model, "cost": COST, "limit": {"context": 128000, "output": 16384}}},
        }},
    }


def dead_proxy_env() -> dict[str, str]:
    """Proxy settings that send any connection but loopback to a closed port on 127.0.0.1."""
    proxy = "http://127.0.0.1:9"
    return {"HTTP_PROXY": proxy, "HTTPS_PROXY": proxy, "http_proxy": proxy, "https_proxy": proxy,
            "ALL_PROXY": proxy, "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}


def env_without(*prefixes: str) -> dict[str, str]:
    """This process's environment less the CLI's own settings (`prefixes`), any proxy, and CI markers.

    CI=true makes Ink-drawn TUIs draw nothing until they exit (@factory/cli-linux-x64 0.225.2 reads
    `CI` / `CONTINUOUS_INTEGRATION`), so a TUI test run by CI would wait on a blank pane.
    """
    return {k: v for k, v in os.environ.items() if not k.startswith(prefixes)
            and k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
            and k not in ("CI", "CONTINUOUS_INTEGRATION")}


def prepare(home: Path, base_url: str, model: str = MODEL) -> dict[str, str]:
    """A throwaway HOME (and work dir `home/work`) for opencode; returns the env to run it with."""
    home = Path(home)
    cfg = home / ".config" / "opencode"
    cfg.mkdir(parents=True, exist_ok=True)
    (cfg / "opencode.json").write_text(json.dumps(config(base_url, model), indent=2))
    (home / "work").mkdir(exist_ok=True)
    env = env_without("OPENCODE_", "OPENAI_", "ANTHROPIC_")
    env.update({
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
        "OPENCODE_DISABLE_MODELS_FETCH": "1",
        "OPENCODE_DISABLE_PROJECT_CONFIG": "1",
        "PWD": str(home / "work"),  # opencode's project folder is $PWD's, not getcwd()'s (run it there)
        "TERM": env.get("TERM") if env.get("TERM") not in (None, "", "dumb") else "xterm-256color",
        **dead_proxy_env(),
    })
    return env


def argv(*extra: str) -> list[str]:
    """opencode's command line, `extra` appended."""
    return [str(binary("opencode")), *extra]

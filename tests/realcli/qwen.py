"""Run the real qwen-code (@qwen-code/qwen-code 0.24.4) against the fake API's Chat Completions protocol.

`prepare(home, base_url)` writes a throwaway HOME with `~/.qwen/settings.json` (auth type "openai",
the model, no usage statistics, no auto-update, folder trust off, tips and banner hidden) and
returns the environment: OPENAI_BASE_URL / OPENAI_API_KEY / OPENAI_MODEL point it at the fake API.
`argv(*extra)` is the command line (`-p "hi"` for a headless run, `--output-format json` for JSON).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from realcli.install import binary

MODEL = "qwen3-coder-plus"


def settings(base_url: str, model: str = MODEL) -> dict:
    return {
        "security": {"auth": {"selectedType": "openai"}, "folderTrust": {"enabled": False}},
        "model": {"name": model},
        "privacy": {"usageStatisticsEnabled": False},
        "telemetry": {"enabled": False},
        "general": {"enableAutoUpdate": False, "disableAutoUpdate": True, "disableUpdateNag": True},
        "ui": {"hideTips": True, "hideBanner": False},
        "ide": {"hasSeenNudge": True, "enabled": False},
    }


def prepare(home: Path, base_url: str, model: str = MODEL) -> dict[str, str]:
    """A throwaway HOME (and work dir `home/work`) for qwen; returns the env to run it with."""
    home = Path(home)
    (home / ".qwen").mkdir(parents=True, exist_ok=True)
    (home / ".qwen" / "settings.json").write_text(json.dumps(settings(base_url, model), indent=2))
    (home / "work").mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QWEN_", "OPENAI_", "DASHSCOPE_"))}
    env.update({
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "OPENAI_API_KEY": "sk-fakeapi",
        "OPENAI_BASE_URL": base_url.rstrip("/") + "/v1",
        "OPENAI_MODEL": model,
        "QWEN_CODE_SKIP_UPDATE_CHECK_ONCE": "true",
        "NO_UPDATE_NOTIFIER": "1",
        "NO_BROWSER": "1",
        "TERM": env.get("TERM") if env.get("TERM") not in (None, "", "dumb") else "xterm-256color",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    })
    for k in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        env.pop(k, None)
    return env


def argv(*extra: str) -> list[str]:
    """qwen's command line, `extra` appended."""
    return [str(binary("qwen")), *extra]

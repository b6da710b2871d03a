"""Run the real aider (aider-chat 0.86.2) against the fake API's Chat Completions protocol, offline.

`prepare(home, base_url)` fills a throwaway HOME and returns the environment to run aider in;
`argv(*extra)` is the command line. aider must never reach the network, so:
- the model price table aider would download from GitHub (aider/models.py ModelInfoManager,
  `~/.aider/caches/model_prices_and_context_window.json`, refetched when older than 24 h or empty)
  is written fresh from litellm's bundled copy, for the one model we use;
- LITELLM_LOCAL_MODEL_COST_MAP=True keeps litellm from fetching its own copy at import;
- --no-check-update (pypi), --analytics-disable (posthog), --no-show-release-notes, --no-gitignore
  (a y/n prompt), --no-show-model-warnings, --no-detect-urls, --no-git, --map-tokens 0;
- BROWSER=true: at a non-retried error aider offers "Open URL for more info?" and, with --yes,
  would open a browser on the URL in the error text.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from realcli.install import binary, cache_dir, pins

MODEL = "gpt-4o"  # priced in litellm's bundled table, so aider prints a Cost: part


def site_packages() -> Path:
    pin = pins()["aider"]
    return cache_dir() / f"aider@{pin['version']}" / "venv" / "lib" / "python3.11" / "site-packages"


def prepare(home: Path, base_url: str, model: str = MODEL) -> dict[str, str]:
    """A throwaway HOME (and work dir `home/work`) for aider; returns the env to run it with."""
    home = Path(home)
    caches = home / ".aider" / "caches"
    caches.mkdir(parents=True, exist_ok=True)
    table = json.loads((site_packages() / "litellm" / "model_prices_and_context_window_backup.json").read_text())
    (caches / "model_prices_and_context_window.json").write_text(json.dumps({model: table[model]}))
    # the first-run analytics question is settled by --analytics-disable, which writes this file too
    (home / ".aider" / "analytics.json").write_text(json.dumps(
        {"uuid": "00000000-0000-4000-8000-000000000000", "permanently_disable": True, "asked_opt_in": True}))
    (home / "work").mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIDER_", "OPENAI_", "ANTHROPIC_"))}
    env.update({
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "OPENAI_API_KEY": "sk-fakeapi",
        "OPENAI_API_BASE": base_url.rstrip("/") + "/v1",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_TELEMETRY": "False",
        "BROWSER": "true",
        "TERM": env.get("TERM", "xterm-256color") if env.get("TERM") not in (None, "", "dumb") else "xterm-256color",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    })
    for k in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        env.pop(k, None)
    return env


def command() -> list[str]:
    """How to start aider: its console script, or `venv/bin/python -m aider` when the script's
    shebang names an interpreter that is gone (a venv built in one folder and renamed keeps the old
    path in its scripts; install.py builds in `<pin>.partial` and renames)."""
    script = binary("aider")
    shebang = script.read_text(errors="replace").split("\n", 1)[0].removeprefix("#!").strip().split(" ")[0]
    if shebang and Path(shebang).exists():
        return [str(script)]
    return [str(script.with_name("python")), "-m", "aider"]


def argv(*extra: str, base_url: str | None = None, model: str = MODEL) -> list[str]:
    """aider's command line: offline, no git, no prompts beyond the chat; `extra` appended."""
    args = [*command(), "--model", model,
            "--no-check-update", "--analytics-disable", "--no-show-release-notes", "--no-gitignore",
            "--no-show-model-warnings", "--no-detect-urls", "--no-git", "--map-tokens", "0",
            "--no-auto-commits", "--no-restore-chat-history"]
    if base_url:
        args += ["--openai-api-base", base_url.rstrip("/") + "/v1"]
    return args + list(extra)

"""Run the real Gemini CLI (@google/gemini-cli, pinned as "gemini") against the fake API.

`prepare(home, base_url)` makes a throwaway HOME whose ~/.gemini/settings.json selects API-key auth
and turns off telemetry, usage statistics, update checks and the folder-trust dialog, and returns
the environment to run gemini with (GOOGLE_GEMINI_BASE_URL at the fake API, a dummy GEMINI_API_KEY,
no proxy, nothing that reaches a non-loopback address). `argv(*extra)` is the command line.

System prompt: GEMINI_SYSTEM_MD works in 0.61.0 (bundle/chunk-JDPZ4CE3.js, PromptProvider.
getCoreSystemPrompt / resolvePathFromEnv): "0"/"false" = off, "1"/"true" = `.gemini/system.md`
resolved against the CURRENT DIRECTORY (path.resolve(".gemini/system.md"), not HOME), any other value
is a path (a leading ~/ is expanded); the file must exist or the turn fails with "missing system
prompt file '<path>'". Its text REPLACES the built-in system prompt (the CLI's ${...} substitutions
still apply). `prepare(..., system_md=...)` writes and points at one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .install import binary

#: keys of the environment that could point gemini elsewhere or enable extra traffic
_DROP = ("GOOGLE_API_KEY", "GOOGLE_CLOUD_PROJECT", "GOOGLE_CLOUD_LOCATION", "GOOGLE_GENAI_USE_VERTEXAI",
         "GOOGLE_GENAI_USE_GCA", "GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_VERTEX_BASE_URL", "GEMINI_MODEL",
         "GEMINI_SYSTEM_MD", "GEMINI_WRITE_SYSTEM_MD", "GEMINI_CLI_HOME", "CLOUD_SHELL", "OTEL_EXPORTER_OTLP_ENDPOINT",
         "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy",
         "SEATBELT_PROFILE", "GEMINI_SANDBOX", "TMUX", "TMUX_PANE",
         # @google/gemini-cli 0.61.0 bundle/chunk-5FZXKDXH.js isHeadlessMode(): CI=true or
         # GITHUB_ACTIONS=true makes it headless even on a tty ("No input provided via stdin"), so
         # the TUI tests would see an exit where a prompt should be when CI runs them
         "CI", "GITHUB_ACTIONS")

SETTINGS = {
    "security": {"auth": {"selectedType": "gemini-api-key"}, "folderTrust": {"enabled": False}},
    "general": {"enableAutoUpdate": False, "enableAutoUpdateNotification": False},
    "privacy": {"usageStatisticsEnabled": False},
    "telemetry": {"enabled": False, "logPrompts": False},
    "ui": {"hideTips": True},
    "ide": {"enabled": False, "hasSeenNudge": True},
}


def prepare(home: Path, base_url: str, *, model: str | None = None, system_md: str | None = None,
            settings: dict | None = None) -> dict[str, str]:
    """A throwaway HOME for gemini at `home`; returns the environment to run it with."""
    gdir = home / ".gemini"
    gdir.mkdir(parents=True, exist_ok=True)
    merged = json.loads(json.dumps(SETTINGS))
    if model:
        merged["model"] = {"name": model}
    for k, v in (settings or {}).items():
        if isinstance(v, dict) and isinstance(merged.get(k), dict):
            merged[k].update(v)
        else:
            merged[k] = v
    (gdir / "settings.json").write_text(json.dumps(merged, indent=2))
    # skip "what's new" style first-run state: the CLI keeps it here
    (gdir / "installation_id").write_text("00000000-0000-4000-8000-000000000000\n")
    env = {k: v for k, v in os.environ.items() if k not in _DROP}
    env.update({
        "HOME": str(home),
        "GOOGLE_GEMINI_BASE_URL": base_url,
        "GEMINI_API_KEY": "fake-gemini-key",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
        "GEMINI_CLI_NO_RELAUNCH": "true",
        "NO_BROWSER": "1",
        "TERM": os.environ.get("TERM", "xterm-256color") if os.environ.get("TERM") not in (None, "", "dumb")
        else "xterm-256color",
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        # the CLI writes its error reports to os.tmpdir() (/tmp/gemini-client-error-*.json): keep them here
        "TMPDIR": str(home / "tmp"),
    })
    (home / "tmp").mkdir(exist_ok=True)
    if system_md is not None:
        path = gdir / "system.md"
        path.write_text(system_md)
        env["GEMINI_SYSTEM_MD"] = str(path)
    return env


def argv(*extra: str) -> list[str]:
    """The gemini command line: the pinned executable, then `extra`."""
    return [str(binary("gemini")), *extra]

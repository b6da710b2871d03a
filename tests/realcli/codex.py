"""Run the real Codex CLI (@openai/codex 0.171.0, pin "codex") against the fake API.

`prepare(home, base_url)` writes a throwaway CODEX_HOME whose config.toml points Codex at the fake
API (a `[model_providers.fake]` entry, `wire_api = "responses"`, API key from an env var) and turns
off what would reach the network or stop a first run: the update check, analytics, feedback, OTel
export, the curated-plugins sync (github.com), the model-migration and full-access notices,
and the trust question for the working directory. It returns the environment to run Codex with.
`argv(*extra)` is the command line.

Codex never logs in here: an API-key provider (`env_key`) needs no ChatGPT auth, and
`cli_auth_credentials_store = "file"` keeps it away from the system keyring.
"""

from __future__ import annotations

import os
from pathlib import Path

from .install import binary

#: the env var the fake provider reads its API key from (any value works against the fake API)
KEY_ENV = "FAKE_OPENAI_API_KEY"
#: the top model of 0.171.0's bundled catalog (others draw a "Model metadata ... not found" warning or a
#: "Meet GPT-6 Sol" migration prompt)
MODEL = "gpt-6.2-sol"


def _q(s: str) -> str:
    """A TOML basic string."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def config_toml(base_url: str, trusted: list[Path] = (), model: str = MODEL, nudge: bool = True,
                retries: int = 0) -> str:
    """config.toml text. `nudge=False` hides the model-switch nudge shown near a limit;
    `retries` is the provider's request/stream retry budget (Codex retries 429/5xx itself)."""
    lines = [
        f"model = {_q(model)}",
        'model_provider = "fake"',
        'model_reasoning_effort = "low"',
        'approval_policy = "never"',
        'sandbox_mode = "read-only"',
        "check_for_update_on_startup = false",
        'cli_auth_credentials_store = "file"',
        "",
        "[model_providers.fake]",
        'name = "fake"',
        f"base_url = {_q(base_url.rstrip('/') + '/v1')}",
        f"env_key = {_q(KEY_ENV)}",
        'wire_api = "responses"',
        f"request_max_retries = {retries}",
        f"stream_max_retries = {retries}",
        "stream_idle_timeout_ms = 20000",
        "",
        # the curated-plugins sync resolves github.com / api.github.com at every start
        "[features]",
        "plugins = false",
        "",
        "[analytics]",
        "enabled = false",
        "",
        "[feedback]",
        "enabled = false",
        "",
        "[otel]",
        'exporter = "none"',
        "log_user_prompt = false",
        "",
        "[history]",
        'persistence = "save-all"',
        "",
        "[tui]",
        "show_tooltips = false",
        # typed input arrives fast through tmux send-keys: no paste-burst guessing, Enter submits
        "disable_paste_burst = true",
        "animations = false",
        "",
        "[notice]",
        "hide_full_access_warning = true",
        "hide_world_writable_warning = true",
        "hide_gpt5_1_migration_prompt = true",
        f"hide_rate_limit_model_nudge = {'false' if nudge else 'true'}",
        "",
    ]
    for d in trusted:
        lines += [f"[projects.{_q(str(Path(d).resolve()))}]", 'trust_level = "trusted"', ""]
    return "\n".join(lines)


def prepare(home: Path, base_url: str, cwd: Path | None = None, **config: object) -> dict[str, str]:
    """A throwaway CODEX_HOME under `home` for the fake API at `base_url`; returns the env to run
    Codex with (HOME and CODEX_HOME inside `home`, no proxy, loopback only). `cwd` (default: the
    current directory) is recorded as trusted so Codex does not ask."""
    home = Path(home)
    codex_home = home / ".codex"
    codex_home.mkdir(parents=True, exist_ok=True)
    trusted = [cwd or Path.cwd()]
    (codex_home / "config.toml").write_text(config_toml(base_url, trusted=trusted, **config))  # type: ignore[arg-type]
    env = {k: v for k, v in os.environ.items()
           if not k.lower().endswith("_proxy") and not k.startswith(("OPENAI_", "CODEX_"))}
    env.update({
        "HOME": str(home),
        "CODEX_HOME": str(codex_home),
        KEY_ENV: "sk-fake-0000",
        "NO_PROXY": "127.0.0.1,localhost",
        "TERM": env.get("TERM", "xterm-256color") if env.get("TERM", "dumb") != "dumb" else "xterm-256color",
        "LANG": env.get("LANG", "C.UTF-8"),
        "TZ": env.get("TZ", "UTC"),
        "RUST_LOG": "error",
        "CODEX_DISABLE_UPDATE_CHECK": "1",
    })
    return env


def argv(*extra: str) -> list[str]:
    """The Codex command line: the pinned executable, then `extra`."""
    return [str(binary("codex")), *extra]

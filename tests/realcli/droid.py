"""Run the real Factory droid (@factory/cli-linux-x64 0.225.2) headless against the fake API.

`droid exec` runs a BYOK "custom model" with no Factory login: `prepare(home, base_url)` writes
`~/.factory/settings.json` with one custom model of provider "generic-chat-completion-api" whose baseUrl
is the fake API (`-m custom:gpt-4o` selects it), cloud session sync off. Factory's own backend
(FACTORY_API_BASE_URL: session sync, usage records, feature flags, billing limits) is pointed at the
fake API too, whose catch-all /api/* answers them at once, and a dead proxy on 127.0.0.1 catches any
other connection (telemetry). The interactive TUI asks for a Factory account login first ("Please
login with your Factory account to continue."; a FACTORY_API_KEY is checked with Factory's
/api/cli/whoami) unless it runs in Airgap mode (`airgap=True`: FACTORY_AIRGAP_ENABLED=1, "v0.225.2 -
Airgap", no hosted request, BYOK models only), see tests/realcli/notes/new-runtimes.md.

The TUI prints 'Error: Your custom model "gpt-4o" appears to be an OpenAI model, but is configured with
provider "generic-chat-completion-api". ...' (errors:agent.byokOpenAIMismatch, 0.225.2) at the first message
of every session: a notice droid persists from the model's name alone, not a failed request (the answer
still comes from the fake API's chat completions).
"""

from __future__ import annotations

import json
from pathlib import Path

from realcli.install import binary
from realcli.opencode import dead_proxy_env, env_without

MODEL = "gpt-4o"
MODEL_ID = f"custom:{MODEL}"


def settings(base_url: str, model: str = MODEL) -> dict:
    return {
        "customModels": [{"model": model, "displayName": "Fake API", "baseUrl": base_url.rstrip("/") + "/v1",
                          "apiKey": "sk-fakeapi", "provider": "generic-chat-completion-api",
                          "maxOutputTokens": 4096}],
        "cloudSessionSync": False,
    }


def prepare(home: Path, base_url: str, model: str = MODEL, *, airgap: bool = False) -> dict[str, str]:
    """A throwaway HOME (and work dir `home/work`) for droid; returns the env to run it with."""
    home = Path(home)
    (home / ".factory").mkdir(parents=True, exist_ok=True)
    (home / ".factory" / "settings.json").write_text(json.dumps(settings(base_url, model), indent=2))
    (home / "work").mkdir(exist_ok=True)
    env = env_without("FACTORY_", "DROID_", "OPENAI_")
    env.update({
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "FACTORY_API_BASE_URL": base_url.rstrip("/"),
        "TERM": env.get("TERM") if env.get("TERM") not in (None, "", "dumb") else "xterm-256color",
        **dead_proxy_env(),
    })
    if airgap:
        env["FACTORY_AIRGAP_ENABLED"] = "1"
    return env


def argv(*extra: str) -> list[str]:
    """droid's command line, `extra` appended (`argv("exec", "-m", MODEL_ID, "-o", "json", "hi")`)."""
    return [str(binary("droid")), *extra]

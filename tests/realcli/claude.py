"""Run the real Claude Code (the newest standalone, 2.1.337; and 2.1.197) against the fake API, in a throwaway HOME.

`prepare(home, base_url, version)` writes the config that skips the first-run screens and returns the
environment to run `argv(version, ...)` with. Nothing in it points anywhere but loopback: the base
URL is the fake API's, telemetry, auto-update and the non-essential traffic are off, and the OAuth
token is a dummy (set so that the CLI believes it is a subscriber and prints its subscriber limit
notices, "You've hit your 5-hour limit ...").
"""

from __future__ import annotations

import atexit
import json
import os
import shlex
import subprocess
import time
import uuid
from pathlib import Path

#: the pins.toml names of the two pinned Claude Code versions
#: the newest release, pinned as "claude" (its captures in tests/fixtures were made with 2.1.333)
NEWEST = "2.1.337"
PIN_OF_VERSION = {NEWEST: "claude", "2.1.197": "claude-2.1.197"}
VERSIONS = tuple(PIN_OF_VERSION)


def binary(version: str = NEWEST) -> Path:
    from realcli.install import binary as _binary

    return _binary(PIN_OF_VERSION[version])


def argv(version: str = NEWEST, *extra: str) -> list[str]:
    """The command line that runs Claude Code `version` with `extra` arguments."""
    return [str(binary(version)), *extra]


def prepare(home: Path, base_url: str, version: str = NEWEST, *, trust: bool = False,
            cwd: Path | None = None) -> dict[str, str]:
    """Make `home` a throwaway HOME for Claude Code `version`; return the env to run it with.

    trust=True records the working directory `cwd` (default: home/"work", created) as trusted, so the
    "Quick safety check" / trust dialog does not appear; trust=False leaves it untrusted so it does.
    """
    home = Path(home)
    home.mkdir(parents=True, exist_ok=True)
    work = Path(cwd) if cwd else home / "work"
    work.mkdir(parents=True, exist_ok=True)
    (home / ".claude").mkdir(exist_ok=True)
    project = {
        "allowedTools": [],
        "hasTrustDialogAccepted": bool(trust),
        "hasCompletedProjectOnboarding": True,
        "projectOnboardingSeenCount": 1,
        "hasClaudeMdExternalIncludesApproved": False,
        "hasClaudeMdExternalIncludesWarningShown": True,
    }
    config = {
        "numStartups": 5,
        "installMethod": "native" if version != "2.1.197" else "npm",
        "autoUpdates": False,
        "hasCompletedOnboarding": True,
        "lastOnboardingVersion": version,
        "lastReleaseNotesSeen": version,
        "hasSeenTasksHint": True,
        "hasAcknowledgedCostThreshold": True,
        "bypassPermissionsModeAccepted": True,
        "hasIdeOnboardingBeenShown": {"vscode": True},
        "shiftEnterKeyBindingInstalled": True,
        "theme": "dark",
        "tipsHistory": {},
        "userID": "0" * 64,
        "customApiKeyResponses": {"approved": [], "rejected": []},
        "projects": {str(work.resolve()): project},
    }
    (home / ".claude.json").write_text(json.dumps(config, indent=2))
    (home / ".claude" / "settings.json").write_text(json.dumps({"autoUpdates": False}))
    env = {
        "HOME": str(home),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "TERM": os.environ.get("TERM", "xterm-256color"),
        "LANG": "C.UTF-8",
        "TZ": "UTC",
        "USER": os.environ.get("USER", "tester"),
        "SHELL": "/bin/bash",
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "ANTHROPIC_BASE_URL": base_url,
        "CLAUDE_CODE_OAUTH_TOKEN": "sk-ant-oat01-fake-token-for-tests",
        "CLAUDE_CODE_SUBSCRIPTION_TYPE": "max",
        "CLAUDE_CODE_MAX_RETRIES": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_ERROR_REPORTING": "1",
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_BUG_COMMAND": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "CLAUDE_CODE_DISABLE_FEEDBACK_SURVEY": "1",
        "CLAUDE_CODE_DISABLE_TERMINAL_TITLE": "1",
        "CLAUDE_CODE_IDE_SKIP_AUTO_INSTALL": "1",
        # the interactive TUI (not -p) otherwise clones the official plugin marketplace from github.com
        # (git over https, and `ssh -T git@github.com` to pick the protocol) and fetches the model
        # catalog from downloads.claude.ai (seen with strace on 2.1.333 and 2.1.197)
        "CLAUDE_CODE_DISABLE_OFFICIAL_MARKETPLACE_AUTOINSTALL": "1",
        "CLAUDE_CODE_MODEL_CATALOG_URL": base_url.rstrip("/") + "/api/model-catalog/v1/catalog.json",
        "DISABLE_UPDATES": "1",
        "DISABLE_INSTALLATION_CHECKS": "1",
        "NO_PROXY": "127.0.0.1,localhost",
        "IS_SANDBOX": "1",  # tells Claude Code it runs in a throwaway sandbox (root may skip permissions)
    }
    return env


# -- driving the TUI inside a private tmux server -----------------------------------------------


class Pane:
    """One program in a pane of a private tmux server (`tmux -L <name>`; never the user's own).

    The program is run under tests/realcli/record.py, so its pty output is recorded with byte
    timings to `capture` while tmux renders it; `screen()` is `tmux capture-pane -p`.
    """

    def __init__(self, program: list[str], env: dict[str, str], cwd: Path, capture: Path,
                 size: tuple[int, int] = (80, 24)):
        self.socket = f"tcs-realcli-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.capture = Path(capture)
        self.capture.parent.mkdir(parents=True, exist_ok=True)
        record = Path(__file__).with_name("record.py")
        envs = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        cmd = (f"cd {shlex.quote(str(cwd))} && exec env -i {envs} python3 {shlex.quote(str(record))} "
               f"{shlex.quote(str(self.capture))} -- {shlex.join(program)}")
        cols, rows = size
        self._tmux("-f", "/dev/null", "new-session", "-d", "-s", "cc", "-x", str(cols), "-y", str(rows),
                   "bash", "-c", cmd + "; sleep 3600")
        self._tmux("set-option", "-t", "cc", "remain-on-exit", "on")
        atexit.register(self.close)  # a caller that fails before close() leaves no tmux server behind

    def _tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], check=True, capture_output=True,
                              text=True).stdout

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", "cc")

    def send(self, *keys: str, literal: bool = False) -> None:
        self._tmux("send-keys", "-t", "cc", *(["-l"] if literal else []), *keys)

    def type(self, text: str) -> None:
        self.send(text, literal=True)

    def wait_for(self, needle: str, timeout: float = 30.0) -> str:
        """Poll the rendered screen until it shows `needle`; AssertionError (with the screen) after timeout."""
        deadline = time.monotonic() + timeout
        while True:
            s = self.screen()
            if needle in s:
                return s
            if time.monotonic() > deadline:
                raise AssertionError(f"screen never showed {needle!r}:\n{s}")
            time.sleep(0.1)

    def close(self) -> None:
        """Kill this pane's private tmux server (and with it the program); nothing else."""
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)

    def __enter__(self) -> Pane:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

"""Claude Code's hook channel: the `--settings` JSON that runs our commands on its Stop and
StopFailure hooks (a limit hit told at once; the Stop hook says where the transcript is)."""

from __future__ import annotations

import json
import shlex
import sys
from typing import Any

from ...core.descriptors.loader import Channel
from ...store import layout
from ...store.safefs import private_dir
from ..ptyspawn import which
from ..settings import WatchSettings


def hook_settings(settings: WatchSettings, channel: Channel, watched: bool = True) -> str:
    """The `--settings` JSON that makes Claude Code run our hook commands for this agent
    (`watched`: its watcher tails the transcript, so the Stop hook only says where it is)."""
    base = [sys.executable, "-m", "teamctl_supervisor"]
    tail = ["--mailbox", str(settings.mailbox), "--agent", settings.agent_id, "--project", settings.project_id,
            "--runtime", settings.runtime.name, "--state-dir", str(settings.state_dir)] + (["--watched"] * watched)
    commands = {"StopFailure": "rl-hit", "Stop": "budget-record"}
    hooks: dict[str, list[dict[str, Any]]] = {}
    private_dir(layout.channels_dir(settings.state_dir))  # the Stop hook's pointer goes there
    for spec in channel.events:
        event, _, matcher = spec.partition(":")
        if event not in commands:
            continue
        command = shlex.join([*base, commands[event], *tail])
        if event == "StopFailure":
            command = _detached(command)
        entry: dict[str, Any] = {"hooks": [{"type": "command", "command": command}]}
        if matcher:
            entry["matcher"] = matcher
        hooks.setdefault(event, []).append(entry)
    return json.dumps({"hooks": hooks})


def _detached(command: str) -> str:
    """A hook that outlives the CLI: `claude -p` ends right after a StopFailure and kills its
    hooks (seen with 2.1.333: a 0.5 s hook never finished). So the hook's shell at once becomes
    `setsid --fork`, which starts the command in a session of its own and returns: the command
    reads the hook JSON from the pipe it inherits, which keeps what the CLI wrote after the CLI is
    gone. (Saving the JSON to a file first took a mktemp and a cat: under load the CLI killed the
    shell before the cat was done, and the hit was lost.)"""
    if which("setsid"):
        return f"exec setsid --fork {command} >/dev/null 2>&1"
    return f"({command} <&0 >/dev/null 2>&1 &)"  # an explicit <&0: a background job's stdin is /dev/null

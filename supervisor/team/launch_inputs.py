"""One agent's part of the compose tree, handed by `up` to the watcher it starts.

Without it every watcher loads the whole tree again (the compose loader, then every agent of every
project): `up` of N agents did N loads of N agents. `up` has just loaded the tree, so it writes
each agent's part (the team's settings and that one agent) to state/cache/launch/<agent>.json, with
a random key that it also passes in the watcher's environment (LAUNCH_ENV). The watcher uses the
file only when it holds that key (a file planted in a cloned state/, or an older one, is never read
as the tree) and the tree is still the one `up` loaded: the compose and project files have the same
bytes, the runtime descriptors the same names, every role prompt file is still there. Otherwise,
and for an ad hoc `rl-watch`, it loads the tree as before.

Nothing that may be a secret is written: no file for an agent with a compose `env` (its own or an
MCP server's), nor for a PostgreSQL team (its URL may hold a password).
"""

from __future__ import annotations

import dataclasses
import json
import os
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..core.compose_model import (
    COMPOSE_FILE,
    Agent,
    BudgetSettings,
    FrozenMap,
    HookSpec,
    HostSpec,
    McpServer,
    Problem,
    Project,
    RateLimitSettings,
    Team,
)
from ..core.descriptors.files import runtime_files
from ..store import layout
from ..store.safefs import UnsafeState, private_dir, read_nofollow, write_private

VERSION = 1
#: The watcher's environment variable holding the key of the file `up` wrote for it.
LAUNCH_ENV = "TEAMCTL_LAUNCH_KEY"
_CLASSES = {c.__name__: c for c in (Team, Agent, Project, RateLimitSettings, BudgetSettings, HookSpec,
                                    McpServer, HostSpec, Problem)}


def tree_stamp(team_dir: Path, files: Iterable[Path], roles: Iterable[Path]) -> dict[str, Any]:
    """What the loaded tree was read from: each compose file's length and CRC-32, the runtime names
    the loader knew, the role prompt files it found."""
    stamps = []
    for file in files:
        try:
            raw = file.read_bytes()
        except OSError:
            stamps.append([str(file), None])
            continue
        stamps.append([str(file), [len(raw), zlib.crc32(raw)]])
    return {"files": stamps, "runtimes": sorted(runtime_files(team_dir)), "roles": sorted({str(r) for r in roles})}


def compose_files(team: Team) -> list[Path]:
    return [team.team_dir / COMPOSE_FILE, *(p.file for p in team.projects)]


def role_files(team: Team) -> list[Path]:
    return [f for a in team.agents for f in a.role_prompts]


def write(team: Team, agent: Agent, stamp: dict[str, Any]) -> str | None:
    """Write `agent`'s part of `team` (loaded from the files `stamp` describes); the file's key, or
    None when nothing was written (a secret would be, or it could not be)."""
    if agent.env or any(m.env for m in agent.mcps) or team.broker_url or team.broker_url_env:
        return None
    part = dataclasses.replace(team, agents=(agent,), warnings=())
    key = os.urandom(16).hex()
    try:
        text = json.dumps({"version": VERSION, "key": key, "agent": agent.id, "stamp": stamp,
                           "team": _encode(part)}, allow_nan=False, sort_keys=True)
        path = layout.launch_file(team.state_dir, layout.agent_file_name(agent.id))
        private_dir(path.parent)
        write_private(path, text)
    except (OSError, TypeError, ValueError, UnsafeState):
        return None  # the watcher loads the tree itself
    return key


def read(team_dir: Path, agent_id: str, key: str | None) -> Team | None:
    """The part `up` wrote for `agent_id` with this `key`, while the tree is unchanged; else None."""
    if not key:
        return None
    path = layout.launch_file(layout.state_dir(team_dir), layout.agent_file_name(agent_id))
    try:
        data = json.loads(read_nofollow(path))
        if data.get("version") != VERSION or data.get("key") != key or data.get("agent") != agent_id:
            return None
        team = _decode(data["team"])
        stamp = data["stamp"]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    if not isinstance(team, Team) or [a.id for a in team.agents] != [agent_id] or team.team_dir != team_dir.resolve():
        return None
    now = tree_stamp(team.team_dir, [Path(f) for f, _ in stamp.get("files", [])], ())
    if now["files"] != stamp.get("files") or now["runtimes"] != stamp.get("runtimes"):
        return None
    if not all(os.path.isfile(r) for r in stamp.get("roles", [])):  # a stat each, no Path: N of them
        return None
    return team


def _encode(value: Any) -> Any:
    """A compose model value as JSON, every type tagged so that _decode gives back an equal value."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"@": type(value).__name__, "fields": fields}
    if isinstance(value, Path):
        return {"@path": str(value)}
    if isinstance(value, tuple):
        return {"@tuple": [_encode(v) for v in value]}
    if isinstance(value, FrozenMap):
        return {"@map": {k: _encode(v) for k, v in value.items()}}
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"@dict": {k: _encode(v) for k, v in value.items()}}
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise TypeError(f"not in the compose model: {type(value).__name__}")


def _decode(value: Any) -> Any:
    if not isinstance(value, dict):
        if isinstance(value, list):
            raise TypeError("untagged list")
        return value
    if "@" in value:
        return _CLASSES[value["@"]](**{k: _decode(v) for k, v in value["fields"].items()})
    if "@path" in value:
        return Path(value["@path"])
    if "@tuple" in value:
        return tuple(_decode(v) for v in value["@tuple"])
    if "@map" in value:
        return FrozenMap({k: _decode(v) for k, v in value["@map"].items()})
    if "@dict" in value:
        return {k: _decode(v) for k, v in value["@dict"].items()}
    raise TypeError("untagged mapping")


def take_key(environ: os._Environ[str] | dict[str, str]) -> str | None:
    """The key `up` passed, removed from the environment: the runtime never inherits it."""
    return environ.pop(LAUNCH_ENV, None)

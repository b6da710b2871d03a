"""Parts of an upstream tree that this supervisor does not serve: a chat bot (`interfaces`,
`telegram`), human-in-the-loop approvals (`hitl`) and the agents' mailbox messaging (`channels`,
`can_dm`, `can_broadcast`: upstream's team MCP server). Each kind draws one warning per tree, in
`validate` and `up`, saying what is not applied and what to run instead, never silence.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .compose_checker import Checker

_TEXT = {
    "interfaces": ("a chat interface ({what}) is not served: no bot runs, nobody reads or answers the chat; "
                   "give an agent work with `teamctl send AGENT TEXT`, follow the team with `teamctl logs -f`, "
                   "answer an agent with `teamctl attach AGENT --rw`"),
    "hitl": ("human-in-the-loop approvals are not served: an agent's permission question waits in its session; "
             "answer it with `teamctl attach AGENT --rw`"),
    "messaging": ("messages between agents ({what}) go through upstream's team MCP server, which this supervisor "
                  "does not run: each agent works on its own; pass work on with `teamctl send AGENT TEXT`"),
}


def _set(v: object) -> bool:
    return v not in (None, [], {}, "", False)


def unserved(c: Checker, kind: str, path: str, what: str = "") -> None:
    """One warning per kind per tree, at the first place it appears."""
    if f"unserved:{kind}" in c.once:
        return
    c.once.add(f"unserved:{kind}")
    c.warn(path, _TEXT[kind].format(what=what) + "; not applied by this supervisor")


def check_tree(c: Checker, data: Mapping[str, Any]) -> None:
    """team-compose.yaml or a project file: its `interfaces`, `hitl` and `channels`."""
    ifaces = data.get("interfaces")
    if _set(ifaces):
        kinds = sorted({str(i.get("type") or i.get("adapter") or "?") for i in ifaces if isinstance(i, dict)}
                       if isinstance(ifaces, list) else set())
        unserved(c, "interfaces", "interfaces", ", ".join(kinds) or "interfaces")
    if _set(data.get("hitl")):
        unserved(c, "hitl", "hitl")
    if _set(data.get("channels")):
        unserved(c, "messaging", "channels", "channels")


def check_agent(c: Checker, a: Mapping[str, Any], path: str) -> None:
    """An agent's `telegram`, `telegram_inbox`, `interfaces`, `can_dm`, `can_broadcast`."""
    for key in ("interfaces", "telegram", "telegram_inbox"):
        v = a.get(key)
        if _set(v):
            what = ", ".join(str(k) for k in v) if key == "interfaces" and isinstance(v, dict) else key
            unserved(c, "interfaces", f"{path}.{key}", what)
    for key in ("can_dm", "can_broadcast"):
        if _set(a.get(key)):
            unserved(c, "messaging", f"{path}.{key}", key)

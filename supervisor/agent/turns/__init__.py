"""Model turns in the session files of the runtimes beyond Claude Code and Codex (issue 22, "resumed" on evidence).

One small reader per CLI, each a pure function over one row of the file the agent's SessionKeeper
resumes (never another agent's): does the row hold the model's own output (an answer or a tool
call), not the user's prompt, an error notice or a row the CLI rewrites when it resumes? The readers
know formats only; evidence.TurnWatch reads the file, keeps its place and decides what is new. A CLI
that keeps every session in one database (opencode) has a store reader instead: the time of the newest
model row of the agent's own session, which TurnWatch.stamp compares with its arming.
`kind_for` names the reader of a built-in runtime that has no channel of its own for it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from importlib import import_module
from typing import Any

#: reader kind -> the module of this folder whose `model_row(row)` says whether a row (one line of the
#: file, JSON unless the kind is in TEXT_KINDS) is a model turn; imported with the first row read, so a
#: watcher holds at most its own CLI's reader (each module's KIND is the same name)
_ROW_MODULES = {
    "gemini-chat": "gemini_chat",
    "qwen-chat": "qwen_chat",
    "copilot-events": "copilot_events",
    "droid-chat": "droid_chat",
    "aider-chat": "aider_chat",
}
#: kinds whose rows are lines of text, not JSON
TEXT_KINDS = frozenset({"aider-chat"})

#: reader kind -> the module whose `latest(patterns, session_id)` is the newest model row of a session in
#: the databases a runtime's `session_capture_db` names (the session id, not a file, is what the agent
#: owns there): seconds since the epoch, or None
_STORE_MODULES = {
    "opencode-store": "opencode_store",
}

#: runtime name -> the reader of the file (`session_files`) or store (`session_capture_db`) its keys name
_RUNTIMES = {
    "gemini": "gemini-chat",
    "qwen-code": "qwen-chat",
    "opencode": "opencode-store",
    "copilot": "copilot-events",
    "droid": "droid-chat",
    "aider": "aider-chat",
}


def row_reader(kind: str) -> Callable[[Any], bool] | None:
    """The row reader of a file kind (None: not one of this folder's)."""
    module = _ROW_MODULES.get(kind)
    return None if module is None else import_module(f"{__name__}.{module}").model_row  # type: ignore[no-any-return]


def store_reader(kind: str) -> Callable[[Iterable[str], str], float | None] | None:
    """The store reader of a kind (None: its sessions are files, or it has none)."""
    module = _STORE_MODULES.get(kind)
    return None if module is None else import_module(f"{__name__}.{module}").latest  # type: ignore[no-any-return]


def kind_for(runtime: str) -> str | None:
    """The reader kind of a built-in runtime's session file, or None (its screen is the evidence)."""
    return _RUNTIMES.get(runtime)

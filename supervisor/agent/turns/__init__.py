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
from typing import Any

from . import aider_chat, copilot_events, droid_chat, gemini_chat, opencode_store, qwen_chat

#: reader kind -> is this row (one line of the file, JSON unless the kind is in TEXT_KINDS) a model turn?
ROW_READERS: dict[str, Callable[[Any], bool]] = {
    gemini_chat.KIND: gemini_chat.model_row,
    qwen_chat.KIND: qwen_chat.model_row,
    copilot_events.KIND: copilot_events.model_row,
    droid_chat.KIND: droid_chat.model_row,
    aider_chat.KIND: aider_chat.model_row,
}
#: kinds whose rows are lines of text, not JSON
TEXT_KINDS = frozenset({aider_chat.KIND})

#: reader kind -> the newest model row of a session in the databases a runtime's `session_capture_db`
#: names (the session id, not a file, is what the agent owns there): seconds since the epoch, or None
STORE_READERS: dict[str, Callable[[Iterable[str], str], float | None]] = {
    opencode_store.KIND: opencode_store.latest,
}

#: runtime name -> the reader of the file (`session_files`) or store (`session_capture_db`) its keys name
_RUNTIMES = {
    "gemini": gemini_chat.KIND,
    "qwen-code": qwen_chat.KIND,
    "opencode": opencode_store.KIND,
    "copilot": copilot_events.KIND,
    "droid": droid_chat.KIND,
    "aider": aider_chat.KIND,
}


def kind_for(runtime: str) -> str | None:
    """The reader kind of a built-in runtime's session file, or None (its screen is the evidence)."""
    return _RUNTIMES.get(runtime)

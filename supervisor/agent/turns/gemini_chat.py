"""Gemini CLI's chat file: ~/.gemini/tmp/<project>/chats/session-<time>-<id prefix>.jsonl.

@google/gemini-cli 0.61.0 (bundle/chunk-5FZXKDXH.js, ChatRecordingService; captured against the fake
API): a row per message, `{"id", "timestamp", "type": "user"|"gemini"|"info"|"warning"|"error",
"content", ...}`, the model's carrying its `model` (recordMessage, recordToolCalls), and metadata rows
(`{"sessionId", ...}`, `{"$set": {...}}`). A resume writes `{"$set": {"messages": [the whole history]}}`:
old answers nested in a `$set`, never a top-level model row. A synthetic message (recordSyntheticMessage)
and the error the TUI records have no model.
"""

from __future__ import annotations

from typing import Any

KIND = "gemini-chat"


def model_row(row: Any) -> bool:
    """A top-level message of type "gemini" that names its model."""
    return isinstance(row, dict) and row.get("type") == "gemini" and isinstance(row.get("model"), str) \
        and bool(row["model"])

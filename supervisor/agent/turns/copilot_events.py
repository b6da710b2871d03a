"""Copilot CLI's session events: COPILOT_HOME/session-state/<session id>/events.jsonl.

@github/copilot-linux-x64 1.0.102 (captured against the fake API, BYOK): one event a row, `{"type", "data",
"id", "timestamp", "parentId"}`, e.g. "session.start", "user.message", "system.message",
"assistant.turn_start", "session.usage_record", "assistant.message" (data: model, content, toolRequests),
"assistant.turn_end", "session.shutdown". The model's answer or tool request is its "assistant.message";
a turn's start and end, usage and the session's own events are written around a failed request too.
"""

from __future__ import annotations

from typing import Any

KIND = "copilot-events"


def model_row(row: Any) -> bool:
    """An "assistant.message" event."""
    return isinstance(row, dict) and row.get("type") == "assistant.message" and isinstance(row.get("data"), dict)

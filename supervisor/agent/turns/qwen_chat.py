"""qwen-code's chat file: ~/.qwen/projects/<cwd with / as ->/chats/<session id>.jsonl.

@qwen-code/qwen-code 0.24.4 (chunks/chunk-DPEB6S2R.js, ChatRecordingService.createBaseRecord and
recordAssistantTurn; captured against the fake API): one record per row, `type` "user" | "assistant" |
"tool_result" | "system", with `provenance` "real_user" | "assistant_output" | "tool_result" | "system".
An answer or a tool call is an "assistant" row with its `model` and `message` (role "model"); the
system rows (`subtype` "ui_telemetry", "attribution_snapshot", ...) are bookkeeping, the api_response
telemetry included: it is written for an error too.
"""

from __future__ import annotations

from typing import Any

KIND = "qwen-chat"


def model_row(row: Any) -> bool:
    """An "assistant" record that holds the model's message."""
    return isinstance(row, dict) and row.get("type") == "assistant" and isinstance(row.get("message"), dict)

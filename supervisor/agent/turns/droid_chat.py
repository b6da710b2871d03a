"""droid's session file: ~/.factory/sessions/<cwd with / as ->/<session id>.jsonl.

@factory/cli-linux-x64 0.225.2 (captured against the fake API, `droid exec` with a BYOK model): a
"session_start" row, then `{"type": "message", "id", "timestamp", "message": {"role": "user" |
"assistant", "content": [...]}}` rows and an "agent_turn_outcome" row per turn. droid's own notices (the
BYOK provider warning) and the tool list it reminds the model of are written as "user" messages; the
model's answer or tool call is an "assistant" message.
"""

from __future__ import annotations

from typing import Any

KIND = "droid-chat"


def model_row(row: Any) -> bool:
    """A "message" row whose message is the assistant's."""
    if not isinstance(row, dict) or row.get("type") != "message":
        return False
    message = row.get("message")
    return isinstance(message, dict) and message.get("role") == "assistant"

"""aider's chat history: the markdown file `--chat-history-file` names (the agent's own, in its
session's folder under state/: supervisor/runtimes/aider.toml).

aider-chat 0.86.2 (aider/io.py: append_chat_history; captured against the fake API): each start adds
"# aider chat started at <time>", the user's input is written as "#### <line>", aider's own output
(its command line, banner, token report, errors such as a litellm RateLimitError) as "> <line>" quoted
rows, and the model's answer as plain markdown. A row is the file's line, decoded: a non-blank line
that is neither a heading nor a quote is the model's.
"""

from __future__ import annotations

from typing import Any

KIND = "aider-chat"


def model_row(row: Any) -> bool:
    """A plain, non-blank line of the chat history (the model's answer)."""
    if not isinstance(row, str):
        return False
    text = row.strip()
    return bool(text) and not text.startswith(("#", ">"))

"""A limit notice the terminal wrapped: read on over the rows that follow before it is reported.

A TUI wraps a long notice at its width: at 40 columns a 166-character line is five rows, and its
first row alone may already match a signature, with the reset (or the reset's zone) still on a
later row (`You've hit your weekly limit · resets Dec 2, 9am` / `(America/New_York) · …`). A hit
whose match runs to the end of its row, or that still lacks its reset, is therefore held and tried
again joined to each following row, up to WRAP_ROWS rows, until a row adds nothing or the runtime
goes quiet. The same rule runs live and in `signatures test` (both feed core/scan/scanner.py's Scanner), so
both read the same notice at 40, 60, 80, 120 or 250 columns. No I/O.
"""

from __future__ import annotations

from dataclasses import field
from typing import Any

from ..lazy_dataclass import lazy_dataclass
from ..lazyre import LazyPattern

#: Rows a held hit may read on: a 250-character notice at 40 columns is seven rows.
WRAP_ROWS = 8
_WORDY = LazyPattern(r"\w")
_SENTENCE_END = LazyPattern(r"[.!?)\]…]\s*[│┃]?\s*$")


@lazy_dataclass
class Held:
    """The rows of a notice read so far, and the best match over them."""

    rows: list[str]
    end: int  # where the match ended in " ".join(rows)
    grew: bool = False  # the last row read made the match longer
    groups: dict[str, str | None] = field(default_factory=dict)


def may_go_on(text: str, match: Any, reset_text: str | None, reset_kind: str, reset_group: str) -> bool:
    """Whether a hit on `text` may go on over the next row: it wants a reset, has none yet and its
    row breaks off mid-sentence (Codex and Gemini state the reset at the message's end: `Usage limit
    reached for gemini-2.5-pro. Access resets at` / `4:30 PM GMT+1.`), or its reset is a clock time
    that ends the row with no zone after it (Claude Code's `resets Dec 2, 9am` / `(America/New_York)`)."""
    if reset_kind == "none":
        return False
    if not reset_text:  # the message goes on after the match and the row breaks off mid-sentence
        return bool(_WORDY.search(text[match.end():])) and not _SENTENCE_END.search(text)
    return reset_kind == "clock" and "(" not in reset_text and not _WORDY.search(text[match.end(reset_group):])


#: A row that goes on with a reset already read: its zone, or the rest of a clock time.
_RESET_GOES_ON = LazyPattern(r"^\W{0,4}(?:\(|[AaPp]\.?[Mm]\b|GMT|UTC|\d)")


def read_on(held: Held, text: str, search: Any, pattern: Any, groups_of: Any, reset_group: str) -> bool:
    """Try the held notice joined to the next row `text`; keep the row and the longer match when the
    notice goes on into it. Returns whether it did (the row is then part of the notice)."""
    if held.groups.get(reset_group) and not _RESET_GOES_ON.match(text):
        held.grew = False
        return False  # the notice had its reset: a row that does not complete it is not the notice's
    joined = " ".join([*held.rows, text])
    m = search(pattern, joined)
    held.grew = False
    if m is None:
        return False
    groups = groups_of(m)
    gained = any(v and not held.groups.get(k) for k, v in groups.items()) or any(
        v and held.groups.get(k) and len(v) > len(held.groups[k] or "") for k, v in groups.items())
    if m.end() > held.end or gained:
        held.rows.append(text)
        held.end = m.end()
        held.groups.update({k: v for k, v in groups.items() if v})
        held.grew = True
        return True
    held.rows.append(text)  # kept for a reset further on (Codex states it on the last row), not the notice's
    return False

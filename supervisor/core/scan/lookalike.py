"""Look-alikes: a notice's words in a shape no CLI draws its own notices in.

A CLI draws a limit, cost or dialog at the start of a row, after its own gutter (`⎿`, `■`, `✕`, a
box's `│`) or none. The same words reach the screen in other shapes when an agent reads or writes
*about* a limit: the model's markdown (a quote, a table row, a heading, a bullet, a numbered item, a
quoted string alone on its line, a fenced block, a diff line), a file it cats with line numbers, a
test runner's failure line. Those never count: one quoted notice must not park a whole limit group
until a reset hours away, nor type keys into an agent (issue 23). No I/O; the scanner asks.
"""

from __future__ import annotations

import re

from ..lazyre import LazyPattern

#: Shapes of a whole text (ANSI removed, stripped of nothing) that no CLI's own notice has.
#: Numbered items are apart: a dialog's options are numbered (`❯ 1. Yes, I trust this folder`).
#: Compiled when the scanner first asks (a line with a keyword): an idle watcher never does.
_SHAPES: tuple[tuple[str, LazyPattern], ...] = (
    ("quote", LazyPattern(r"^\s*(?:>|▎|▍|▌)(?:\s|$)")),  # markdown block quote, as typed or rendered
    ("table", LazyPattern(r"^\s*\|")),  # a markdown table row (a CLI's box uses `│`, not `|`)
    ("heading", LazyPattern(r"^\s*#{1,6}\s")),
    ("bullet", LazyPattern(r"^\s*(?:[-*+]|•|◦|‣)\s")),  # a list item (Codex's own notices use `■`)
    ("diff", LazyPattern(r"^\s*(?:[+\-](?=[^\s+\-])|@@\s)")),  # `+You've hit…` in a diff or a fenced one
    # a string literal alone on its line (not a JSON member: `"status": "RESOURCE_EXHAUSTED",`)
    ("quoted", LazyPattern(r"^\s*[\"'“‘`](?![^\n]*[\"”]\s*:)[^\n]{3,}[\"'”’`]\s*[,;.)]?\s*$")),
    ("test-failure", LazyPattern(r"^\s*(?:E\s{2,}|FAILED\s|AssertionError\b|assert\s|Expected:|Received:)")),
    ("line-number", LazyPattern(r"^\s*\d{1,6}(?:\t|→|\s{0,2}│)")),  # `cat -n`, a Read tool's numbered lines
)
_NUMBERED = LazyPattern(r"^\s*\d{1,3}[.)]\s")
#: A markdown code fence opens or closes on a line that starts with it.
FENCE = re.compile(r"^\s*(?:```|~~~)")
#: Its marks, as the scanner's prefilter looks for them in the raw bytes.
FENCE_MARKS = ("```", "~~~")


def shape(text: str, *, dialog: bool = False) -> str | None:
    """The look-alike shape `text` has (its name, for the log), or None when it may be a notice.

    `dialog`: the text is read for a dialog, whose options are numbered items by design."""
    for name, pattern in _SHAPES:
        if pattern.match(text):
            return name
    if not dialog and _NUMBERED.match(text):
        return "numbered"
    return None


def is_fence(text: str) -> bool:
    """Whether `text` opens or closes a fenced code block (the lines between never count)."""
    return FENCE.match(text) is not None

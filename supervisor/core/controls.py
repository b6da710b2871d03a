"""Terminal controls out of text we print or pass on: the one helper for runtime output that leaves
the agent's own pane (`logs`, `logs -f`, `rate-limits`, the supervisor log, hook payloads).

Runtime output is untrusted: a model can print anything, and a file it cats can hold anything. A
terminal obeys ESC-led sequences (C0) and, when it is 8-bit aware, their one-byte C1 forms too:
U+009B is CSI, U+009D is OSC (a window title, a hyperlink, a clipboard write on some terminals).
Both are removed, whole sequences first (so a sequence's parameters do not stay behind as text),
then any single control left. Tab is kept; newline only where the caller keeps lines.
"""

from __future__ import annotations

import re

_SEQUENCES = (
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"  # CSI: ESC [ or its one-byte form, parameters, final byte
    r"|(?:\x1b\]|\x9d)[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # OSC, ended by BEL or ST (ESC \ or U+009C)
    r"|(?:\x1b[PX^_]|[\x90\x98\x9e\x9f])[^\x1b\x9c]*(?:\x1b\\|\x9c)?"  # DCS, SOS, PM, APC
    r"|\x1b[()*+#%][0-~]?"  # charset selection
    r"|\x1b[ -/]*[0-~]?"  # two-byte escapes, a lone ESC
)
#: Every sequence, then every control character but tab and newline (C0, DEL, C1).
CONTROLS = re.compile(_SEQUENCES + r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_NEWLINE = re.compile(r"\r\n?|\n")


def printable(text: str, *, newlines: bool = False) -> str:
    """`text` without terminal controls. `newlines`: keep line ends (as \\n); otherwise each is a
    space, so one record stays one line."""
    text = CONTROLS.sub("", _NEWLINE.sub("\n" if newlines else " ", text))
    return text


def has_controls(text: str) -> bool:
    """Whether `text` holds anything `printable` would remove (tab and newline aside)."""
    return CONTROLS.search(text.replace("\r", "")) is not None

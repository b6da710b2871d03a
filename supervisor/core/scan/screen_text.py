"""What a terminal shows, read from the raw bytes that draw it: the scanner's screen helpers.

ANSI is removed; a cursor move to another row starts a new line and one along the row reads as a
blank. For a TUI that draws a whole screen as one raw line, the scanner finds the screen row around
an offset here, so it cleans up only the rows that hold a keyword. Pure functions of bytes.
"""

from __future__ import annotations

import re

# CSI sequences that move the cursor to another row start a new visual line; cursor-forward is a gap.
_CSI_NEWLINE = re.compile(rb"\x1b\[[0-9;?]*[HfABEFd]")
_CSI_GAP = re.compile(rb"\x1b\[[0-9]*[CG]")
_ESCAPES = re.compile(
    rb"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI
    rb"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC, ended by BEL or ST
    rb"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"  # DCS, SOS, PM, APC
    rb"|\x1b[()*+#%][0-~]?"  # charset selection
    rb"|\x1b[@-Z\\-_0-9=<>a-z]?"  # two-byte escapes (and a lone ESC)
    rb"|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"  # other control bytes
)


def row_start(raw: bytes, at: int, floor: int) -> tuple[int, int]:
    """(start of the screen row holding offset `at`, start of the cursor move before that row): the
    row starts just past the last move before `at`, or at `floor` (then the move is -1)."""
    e = raw.rfind(b"\x1b[", floor, at)
    while e >= 0:
        m = _CSI_NEWLINE.match(raw, e)
        if m is not None and m.end() <= at:
            return m.end(), e
        e = raw.rfind(b"\x1b[", floor, e)
    return floor, -1


def row_end(raw: bytes, start: int) -> tuple[int, int]:
    """(end of the row that starts at `start`, start of the row after it)."""
    m = _CSI_NEWLINE.search(raw, start)
    return (m.start(), m.end()) if m is not None else (len(raw), len(raw))


def text_end(buf: bytes, end: int) -> int:
    """Offset just past the last byte before `end` that is not a line break (0 if there is none):
    a run of empty lines is passed in a few C-speed steps, copying only a short tail at a time."""
    lo = max(end - 512, 0)
    while True:
        kept = len(buf[lo:end].rstrip(b"\r\n"))
        if kept or lo == 0:
            return lo + kept
        end, lo = lo, max(lo - 65536, 0)


_CUP = re.compile(rb"\x1b\[(\d*);(\d*)[Hf]")
_ERASE_LINE = (b"\x1b[2K", b"\x1b[K", b"\x1b[0K")


def same_row_moves(raw: bytes) -> bytes:
    """Cursor jumps to the row the cursor is already on (`\x1b[20;6HKeep\x1b[20;11Hcurrent`, as a
    ratatui TUI draws the words of one row) become column moves, so the row reads as one line. A jump
    back to column 1 that clears the row starts it again (a status bar overdrawn by `Total cost: …`)."""
    if b";" not in raw:
        return raw
    last = [b""]

    def move(m: re.Match[bytes]) -> bytes:
        row = m.group(1) or b"1"
        if row == last[0] and not (m.group(2) in (b"", b"1") and raw.startswith(_ERASE_LINE, m.end())):
            return b"\x1b[" + (m.group(2) or b"1") + b"G"
        last[0] = row
        return m.group(0)

    return _CUP.sub(move, raw)


def last_row_move(raw: bytes) -> int:
    """Offset of the last cursor move to another row in `raw` (one that `same_row_moves` left), or
    -1: the rows before it are drawn, whatever the runtime writes next."""
    e = raw.rfind(b"\x1b[")
    while e >= 0:
        if _CSI_NEWLINE.match(raw, e) is not None:
            return e
        e = raw.rfind(b"\x1b[", 0, e)
    return -1


def only_escapes(raw: bytes) -> bool:
    """Whether `raw` draws nothing but blanks (escape sequences and white space only)."""
    return not raw.strip() or not _ESCAPES.sub(b"", raw).strip()


def strip_ansi(raw: bytes) -> list[str]:
    """Visible text of one raw line, split where the cursor jumped to another row."""
    raw = _CSI_NEWLINE.sub(b"\n", same_row_moves(raw))
    raw = _CSI_GAP.sub(b" ", raw)
    raw = _ESCAPES.sub(b"", raw)
    text = raw.decode("utf-8", errors="replace")
    return [part.strip() for part in text.split("\n")]

"""The rows a cell-repainting TUI shows, kept as text: for totals it updates in place.

A TUI that repaints only the cells that changed turns `$0.34` into `$0.68` by writing `68` at the
cursor position of `34` (opencode's footer and sidebar): the byte stream then never holds the new
figure as text. Here the rows are kept as the terminal would show them (characters only, no
attributes), and a row that changed and holds a keyword is handed back whole, to be read again.

Only what the watcher needs: cursor positioning, erasing, line breaks and printable text; the
screen is bounded (rows and columns) so no output can grow it without limit. Pure, no I/O.
"""

from __future__ import annotations

import codecs
import re
import unicodedata

MAX_ROWS = 500
MAX_COLS = 1000

_TOKENS = re.compile(
    r"\x1b\[([0-?]*)[ -/]*([@-~])"  # CSI: parameters, final byte
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC
    r"|\x1b[PX^_][^\x1b]*\x1b\\"  # DCS, SOS, PM, APC
    r"|\x1b[()*+#%][0-~]"  # charset selection
    r"|\x1b[@-Z\\-_0-9=<>a-z]"  # two-byte escapes
    r"|([\r\n\b])"  # cursor controls
    r"|[\x00-\x1f\x7f]"  # other control bytes: nothing shown
    r"|([^\x00-\x1f\x1b\x7f]+)"  # printable text
)
#: An escape sequence cut off at the end of a read: kept for the next one.
_CUT_ESCAPE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*|\][^\x07\x1b]*|[PX^_][^\x1b]*|[()*+#%])?\Z")


class ScreenRows:
    """Feed it a TUI's output; `feed` returns the changed rows that hold one of `keywords`."""

    def __init__(self, keywords: tuple[str, ...]) -> None:
        self.keywords = tuple(k.lower() for k in keywords)
        self._rows: dict[int, list[str]] = {}
        self._row = self._col = 0
        self._read: dict[int, str] = {}  # row: the text last handed back for it
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._tail = ""
        self._dirty: set[int] = set()
        self._in_frame = False  # inside a synchronized update (DEC mode 2026): the frame is not whole yet

    def feed(self, data: bytes) -> list[str]:
        """Apply `data`; the rows it changed that hold a keyword, read when its frame is whole (at
        the end of a synchronized update, or of the read when the TUI uses none)."""
        text = self._tail + self._decoder.decode(data)
        cut = _CUT_ESCAPE.search(text, max(len(text) - 512, 0))
        self._tail, text = (text[cut.start():], text[:cut.start()]) if cut else ("", text)
        dirty = self._dirty
        out: list[str] = []
        for m in _TOKENS.finditer(text):
            printable = m.group(4)
            if printable is not None:
                self._put(printable)
                dirty.add(self._row)
            elif m.group(3) is not None:
                self._control(m.group(3))
            elif m.group(2) is not None:
                if self._csi(m.group(1), m.group(2), dirty):
                    out += self._changed()  # a frame ended: its rows are whole
        if not self._in_frame:
            out += self._changed()
        return out

    def _changed(self) -> list[str]:
        out: list[str] = []
        rows = sorted(self._dirty)
        self._dirty.clear()
        for row in rows:
            cells = self._rows.get(row)
            shown = "".join(cells).rstrip() if cells else ""
            if shown == self._read.get(row):
                continue
            self._read[row] = shown
            low = shown.lower()
            if any(k in low for k in self.keywords):
                out.append(shown)
        return out

    def _put(self, text: str) -> None:
        if self._col >= MAX_COLS:
            return
        chars: str | list[str] = text
        if not text.isascii():
            chars = []
            for ch in text:
                chars.append(ch)
                if unicodedata.east_asian_width(ch) in "WF":
                    chars.append("")  # the second cell of a wide character shows nothing more
        end = min(self._col + len(chars), MAX_COLS)
        cells = self._rows.setdefault(self._row, [])
        if len(cells) < end:
            cells.extend(" " * (end - len(cells)))
        cells[self._col:end] = chars[: end - self._col]
        self._col = end

    def _control(self, ch: str) -> None:
        if ch == "\r":
            self._col = 0
        elif ch == "\n":
            if self._row + 1 >= MAX_ROWS:
                self._clear()  # a line-mode flood past the bound: start a page again, not scroll
                self._row = -1
            self._move(self._row + 1, self._col)
        else:  # backspace
            self._col = max(self._col - 1, 0)

    def _csi(self, params: str, final: str, dirty: set[int]) -> bool:
        """Apply one control sequence; True when it ends a synchronized update."""
        if params.startswith("?"):
            if params in ("?1049", "?47", "?1047") and final in "hl":
                self._clear()  # into or out of the alternate screen: a blank page
            elif params == "?2026" and final in "hl":
                ended = self._in_frame and final == "l"
                self._in_frame = final == "h"
                return ended
            return False
        nums = [int(p) if p.isdigit() else 0 for p in params.split(";")] if params else []
        n = nums[0] if nums and nums[0] > 0 else 1
        if final in "Hf":
            row = nums[0] if nums and nums[0] else 1
            col = nums[1] if len(nums) > 1 and nums[1] else 1
            self._move(row - 1, col - 1)
        elif final == "G" or final == "`":
            self._col = min(n - 1, MAX_COLS)
        elif final == "d":
            self._move(n - 1, self._col)
        elif final == "C":
            self._col = min(self._col + n, MAX_COLS)
        elif final == "D":
            self._col = max(self._col - n, 0)
        elif final in "AF":
            self._move(self._row - n, 0 if final == "F" else self._col)
        elif final in "BE":
            self._move(self._row + n, 0 if final == "E" else self._col)
        elif final == "K":
            self._erase_line(nums[0] if nums else 0)
            dirty.add(self._row)
        elif final == "J" and nums and nums[0] in (2, 3):
            self._clear()
        elif final == "X":
            cells = self._rows.get(self._row)
            if cells:
                end = min(self._col + n, len(cells))
                cells[self._col:end] = " " * max(end - self._col, 0)
                dirty.add(self._row)
        return False

    def _move(self, row: int, col: int) -> None:
        self._row = min(max(row, 0), MAX_ROWS - 1)
        self._col = min(max(col, 0), MAX_COLS)

    def _erase_line(self, how: int) -> None:
        cells = self._rows.get(self._row)
        if not cells:
            return
        if how == 0:
            del cells[self._col:]
        elif how == 1:
            cells[: self._col + 1] = " " * min(self._col + 1, len(cells))
        else:
            cells.clear()

    def _clear(self) -> None:
        self._rows.clear()
        self._read.clear()
        self._dirty.clear()

"""Whether a read of a TUI's output draws anything new, or only redraws what it drew before.

A CLI retrying behind its spinner redraws the same frame many times a second: glyph, seconds and
colours change, the words do not. The stall rule needs to tell that from real output, whatever the
read boundaries are (under load the relay reads two frames at once, or half of one). So a read is
judged by its words: runs of three or more letter bytes, once escape sequences are taken out
(colours join, other sequences separate). Digits, blanks, punctuation, box drawing, braille and
other symbols separate words. What a read's start or end cuts in two is not judged (it would look
new at every new cut).
"""

from __future__ import annotations

import re

#: a read is judged by its first bytes only: the relay asks at most once per read, until a read is
#: new, and a new frame's words show near its start
WINDOW = 2048
#: the words remembered; past this, they are forgotten at once (only real new output grows the set)
MAX_WORDS = 4096

_SGR = re.compile(rb"\x1b\[[0-9;:]*m")  # colours: a word shimmered letter by letter stays one word
_OTHER_ESCAPES = re.compile(rb"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[()][0-9A-Za-z]|.)")
# U+0080-U+00BF (middle dot, degree, ...), U+2000-U+2FFF (punctuation, arrows, box drawing, braille,
# dingbats: where spinners live), and what lies past U+FFFF (emoji): separators, not letters
_SYMBOLS = re.compile(rb"\xc2[\x80-\xbf]|\xe2[\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")
# what is left: ASCII letters and the bytes of other characters (Latin, Greek, Cyrillic, CJK, ...)
_NOT_LETTERS = bytes(b if (0x41 <= b <= 0x5A or 0x61 <= b <= 0x7A or b >= 0x80) else 0x20 for b in range(256))
_SEPARATORS = (b"\x1b", b" ", b"\n", b"\r", b"\t")
_FIRST_SEPARATOR = re.compile(rb"[\x1b \n\r\t]")


def words_of(data: bytes) -> list[bytes]:
    """The whole words of one read (see the module's docstring)."""
    data = data[:WINDOW]
    if data[:1] not in _SEPARATORS:  # begins inside a word or an escape sequence: skip to the first break
        found = _FIRST_SEPARATOR.search(data)
        data = data[found.start():] if found else b""
    if data[-1:] not in _SEPARATORS:  # ends inside one: cut at the last break
        data = data[:max(data.rfind(s) for s in _SEPARATORS) + 1]
    text = _SYMBOLS.sub(b" ", _OTHER_ESCAPES.sub(b" ", _SGR.sub(b"", data)))
    return [w for w in text.translate(_NOT_LETTERS).split() if len(w) >= 3]


class FreshText:
    """Remembers the words drawn so far; `is_new(read)` says whether a read adds one."""

    def __init__(self) -> None:
        self._seen: set[bytes] = set()

    def is_new(self, data: bytes) -> bool:
        words = words_of(data)
        new = [w for w in words if w not in self._seen]
        if not new:
            return False
        if len(self._seen) + len(new) > MAX_WORDS:
            self._seen.clear()
        self._seen.update(new)
        return True

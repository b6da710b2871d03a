"""Pretty-printed JSON documents in a CLI's output, each handed back as one compact line.

Gemini CLI's `-p --output-format json` prints its result as one indented object over a hundred lines;
a model's token counts stand a dozen lines below its name, out of reach of a line's lookahead. A
document that opens with `{` alone on a line and closes with `}` alone on a line is collected here,
parsed, and returned in compact form (`{"stats":{"models":{…`), so cost signatures read it as they read
a stream-json event. Long strings (the model's answer) are cut to LONG_STRING characters: the figures
stay within a regex window, and prose is not what is read here. Bounded: a document larger than
MAX_BYTES is dropped, never held. Pure, no I/O.
"""

from __future__ import annotations

import json

MAX_BYTES = 1 << 20
LONG_STRING = 200
#: The unfinished line kept between reads outside a document (an opening `{` line is short).
MAX_PARTIAL = 4096


class JsonDocuments:
    """Feed it output; `feed` returns the documents it completed, compact, one line each."""

    def __init__(self) -> None:
        self._doc: list[bytes] | None = None  # the lines of the document being collected
        self._size = 0
        self._partial = b""

    def feed(self, data: bytes) -> list[str]:
        buf = self._partial + data if self._partial else data
        if self._doc is None and b"{" not in buf:
            cut = buf.rfind(b"\n")
            self._partial = buf[cut + 1:][-MAX_PARTIAL:]
            return []
        lines = buf.split(b"\n")
        self._partial = lines.pop()
        if self._doc is None:
            self._partial = self._partial[-MAX_PARTIAL:]
        out: list[str] = []
        for line in lines:
            line = line.rstrip(b"\r")
            if self._doc is None:
                if line == b"{":
                    self._doc, self._size = [line], 1
                continue
            self._doc.append(line)
            self._size += len(line) + 1
            if line == b"}":
                compact = _compact(b"\n".join(self._doc))
                self._doc = None
                if compact is not None:
                    out.append(compact)
            elif self._size > MAX_BYTES:
                self._doc = None  # too large to be a result document: not held
        if self._doc is not None and self._partial.rstrip(b"\r") == b"}":
            compact = _compact(b"\n".join([*self._doc, b"}"]))  # a last line the CLI did not end
            if compact is not None:
                self._doc, self._partial = None, b""
                out.append(compact)
        return out


def _compact(doc: bytes) -> str | None:
    try:
        value = json.loads(doc.decode("utf-8", "replace"))
    except ValueError:
        return None  # not JSON after all (a brace block in prose): nothing to read
    return json.dumps(_shortened(value), separators=(",", ":"), ensure_ascii=False)


def _shortened(value: object) -> object:
    if isinstance(value, str):
        return value if len(value) <= LONG_STRING else value[:LONG_STRING] + "…"
    if isinstance(value, dict):
        return {k: _shortened(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shortened(v) for v in value]
    return value

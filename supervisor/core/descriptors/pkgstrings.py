"""The human-readable strings of a CLI package: what `teamctl signatures audit` reads.

A CLI's limit and cost wording lives in its package as string literals: in a native binary's data
(Rust and Go keep format pieces glued end to end, a Bun executable keeps its JS source whole), in a
JS bundle, or in Python sources. These functions take the bytes or text (the caller reads the
files) and give every literal, with template slots (`${x}`, f-string fields) replaced by SLOT so
that the audit can let them stand for anything. No I/O here.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

#: Stands for a template slot (`${expr}`, an f-string field) in an extracted string.
SLOT = "\x00"
_MAX_LITERAL = 4000
_MAX_DEPTH = 8

# A printable run in a binary: ASCII text and UTF-8 (so "You’ve" stays whole); stray high bytes
# decode as U+FFFD, which no message holds.
_RUN = re.compile(rb"[\t\n\r\x20-\x7e\x80-\xf4]{8,}")
# Bun keeps JS source whose characters all fit in a byte as Latin-1 ("·" is the byte B7): a byte
# that is not UTF-8 is read as Latin-1 when printable there, else as U+FFFD (a piece boundary).
_LATIN1 = {0xDC00 + b: chr(b) if b >= 0xA0 else "\ufffd" for b in range(0x80, 0x100)}
_JS_CODE = re.compile(r"=>|function[ (]|\)\{|;var |;let |;const |return ")
# Rust and Go string data: pieces glued with no separator ("...using Codex.Usage limit reached.").
# A stray byte (U+FFFD once decoded) ends a piece too: Rust keeps length bytes beside its strings.
_GLUE = re.compile(r"(?<=[.!?)])(?=[A-Z])|(?<=[a-z])(?=[A-Z][a-z])|\s*\n\s*|\ufffd+")

_JS_TOKEN = re.compile(
    r"""//[^\n]*"""
    r"""|/\*.*?\*/"""
    rf'''|"(?P<dq>(?:[^"\\\n]|\\.){{0,{_MAX_LITERAL}}})"'''
    rf"""|'(?P<sq>(?:[^'\\\n]|\\.){{0,{_MAX_LITERAL}}})'"""
    r"""|(?P<tpl>`)"""
    r"""|(?<=[(,=:\[!&|?{};])/(?![/*])(?:[^/\\\[\n]|\\.|\[(?:[^\]\\\n]|\\.)*\]){1,500}/""",
    re.S,
)
_EXPR_TOKEN = re.compile(_JS_TOKEN.pattern + r"|(?P<open>\{)|(?P<close>\})", re.S)
_TPL_PART = re.compile(r"`|\\.|\$\{", re.S)
_ESCAPE = re.compile(r"\\(?:u\{([0-9a-fA-F]{1,6})\}|u([0-9a-fA-F]{4})|x([0-9a-fA-F]{2})|(.))", re.S)
_SIMPLE = {"n": "\n", "t": "\t", "r": "\r", "b": "", "f": "", "v": "", "0": ""}


def js_unescape(body: str) -> str:
    """The value of a JS string literal's body (escapes resolved; a bad one kept as its letter)."""

    def one(m: re.Match[str]) -> str:
        code = m.group(1) or m.group(2) or m.group(3)
        if code:
            value = int(code, 16)
            return chr(value) if value <= 0x10FFFF else ""
        ch = m.group(4)
        return _SIMPLE.get(ch, "" if ch == "\n" else ch)

    return _ESCAPE.sub(one, body) if "\\" in body else body


def js_literals(text: str) -> Iterator[str]:
    """Every string literal of JS source, template literals with their slots as SLOT.

    A template's `${...}` that is only a literal (`${"Session limit"} reached`, minifiers write that)
    is inlined; the literals inside other slots are given too. Comments and regex literals are
    skipped so their quotes do not throw the reading off.
    """
    pos, end = 0, len(text)
    while pos < end:
        m = _JS_TOKEN.search(text, pos)
        if m is None:
            return
        pos = m.end()
        if m.group("dq") is not None:
            yield js_unescape(m.group("dq"))
        elif m.group("sq") is not None:
            yield js_unescape(m.group("sq"))
        elif m.group("tpl"):
            found: list[str] = []
            pos = _template(text, pos, found, 0)
            yield from found


def _template(text: str, pos: int, out: list[str], depth: int) -> int:
    """Read a template literal from just after its backtick; append it (and nested ones) to `out`."""
    parts: list[str] = []
    start = pos
    while True:
        m = _TPL_PART.search(text, pos)
        if m is None or m.start() - start > _MAX_LITERAL * 4:
            return len(text) if m is None else m.start()
        if m.group() == "`":
            parts.append(js_unescape(text[pos:m.start()]))
            out.append("".join(parts))
            return m.end()
        if m.group().startswith("\\"):
            parts.append(js_unescape(text[pos:m.end()]))
            pos = m.end()
            continue
        parts.append(js_unescape(text[pos:m.start()]))
        inner: list[str] = []
        pos, only_literal = _expression(text, m.end(), inner, depth + 1)
        parts.append(inner[0] if only_literal and inner else SLOT)
        out.extend(inner)


def _expression(text: str, pos: int, out: list[str], depth: int) -> tuple[int, bool]:
    """Skip a `${...}` expression up to its closing brace; its literals go to `out`.
    Returns the position after the brace, and whether the expression was one literal alone."""
    level = 0
    only = True
    while True:
        m = _EXPR_TOKEN.search(text, pos)
        if m is None or depth > _MAX_DEPTH:
            return len(text), False
        if text[pos:m.start()].strip():
            only = False
        pos = m.end()
        if m.group("close"):
            if level == 0:
                return pos, only and len(out) == 1
            level -= 1
        elif m.group("open"):
            level += 1
            only = False
        elif m.group("dq") is not None:
            out.append(js_unescape(m.group("dq")))
        elif m.group("sq") is not None:
            out.append(js_unescape(m.group("sq")))
        elif m.group("tpl"):
            before = len(out)
            pos = _template(text, pos, out, depth)
            if "".join(out[before:]).count(SLOT):
                only = False
        else:
            only = False


def python_literals(source: str) -> Iterator[str]:
    """Every string constant of Python source; an f-string as one string with SLOT for each field.
    Source that does not parse gives nothing (an audit names such files)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return
    inner: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr) and id(node) not in inner:
            inner.update(id(v) for v in node.values)
            yield "".join(v.value if isinstance(v, ast.Constant) and isinstance(v.value, str) else SLOT
                          for v in node.values)
        if isinstance(node, ast.FormattedValue) and node.format_spec is not None:
            inner.add(id(node.format_spec))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in inner:
            yield node.value


def binary_strings(data: bytes, wanted: re.Pattern[str] | None = None,
                   wanted_bytes: re.Pattern[bytes] | None = None) -> Iterator[str]:
    """The text in a binary, `strings`-like: printable runs (UTF-8 kept whole). A run that is JS
    source (a Bun or Node single-file executable) gives its literals; other runs are split where
    Rust/Go string data glues pieces together. `wanted`: only runs it finds something in;
    `wanted_bytes`: a cheaper test of the raw run, lower-cased, that passes every run `wanted` would
    (most runs are dropped before they are decoded)."""
    for m in _RUN.finditer(data):
        raw = m.group()
        if wanted_bytes is not None and not wanted_bytes.search(raw.lower()):
            continue
        run = raw.decode("utf-8", "surrogateescape").translate(_LATIN1)
        if wanted is not None and not wanted.search(run):
            continue
        if len(run) > 400 and len(_JS_CODE.findall(run, 0, 20000)) >= 3:
            yield from js_literals(run)
        else:
            yield from (piece for piece in _GLUE.split(run) if piece)

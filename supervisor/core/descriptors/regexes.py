"""A signature's regex, compiled on the `regex` engine and checked: the shapes whose cost explodes on
a long untrusted line are refused, and so is one that matches the empty string.

The engine is imported by the first compile, so a watcher whose runtime never prints a keyword
never loads it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import DescriptorError
from .files import is_builtin

if TYPE_CHECKING:
    import regex as regex_engine


try:  # the parser behind `re`; public as sre_parse before 3.11
    from re import _constants as sre_constants
    from re import _parser as sre_parse
except ImportError:  # pragma: no cover
    import sre_constants  # type: ignore[no-redef]
    import sre_parse  # type: ignore[no-redef]


def engine_compile(pattern: str, flags: int) -> regex_engine.Pattern:
    import regex as regex_engine

    return regex_engine.compile(pattern, flags)


def compile_regex(path: Path, where: str, pattern: Any, flags: int = re.IGNORECASE) -> regex_engine.Pattern:
    """Compile a signature regex, refusing ones whose cost can explode on a long line.

    Signatures run on the `regex` engine (Python `re` syntax), whose searches take a timeout: the one
    bound no static check can give (see scan_texts.MATCH_TIMEOUT). The static check still refuses the
    shapes known to explode, so a user learns at load time rather than from a log line.
    """
    if not isinstance(pattern, str) or not pattern:
        raise DescriptorError(path, where, "must be a non-empty regex string")
    import regex as regex_engine

    try:
        compiled = regex_engine.compile(pattern, flags)
    except regex_engine.error as exc:
        raise DescriptorError(path, where, f"regex does not compile: {exc}") from exc
    if not is_builtin(path):  # built-ins are checked by the test suite, not at every watcher start
        problem = regex_hazard(pattern, flags) or _empty_match(compiled)
        if problem:
            raise DescriptorError(path, where, problem)
    return compiled


#: Texts on which a regex that can match nothing at all shows it (`x*`, `(a|a)*$`, `(?<=a)b?`).
_EMPTY_PROBES = ("", "a", " ", "0", "a b\n")


def _empty_match(compiled: regex_engine.Pattern) -> str | None:
    """A regex that matches the empty string makes every line a hit: refused."""
    for probe in _EMPTY_PROBES:
        try:
            m = compiled.search(probe, timeout=0.05)
        except TimeoutError:
            continue
        if m is not None and m.end() == m.start():
            return "regex matches the empty string, so every line would match: make it require some text"
    return None


_REPEATS = {sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT}


def _is_wide(item: Any) -> bool:
    """`.`, `[^x]`, `\\S`: a class that matches almost anything, so repeats of it overlap."""
    op, av = item
    if op in (sre_constants.ANY, sre_constants.NOT_LITERAL):
        return True
    if op == sre_constants.IN:
        return any(o == sre_constants.NEGATE for o, _ in av) or any(
            o == sre_constants.CATEGORY and "NOT" in str(a) for o, a in av)
    return op == sre_constants.CATEGORY and "NOT" in str(av)


def _first_chars(items: Any) -> set[int] | None:
    """Characters a sequence can start with; None: any (a class, a group, an empty sequence)."""
    if not items:
        return None
    op, av = items[0]
    if op == sre_constants.LITERAL:
        return {av}
    if op == sre_constants.IN and all(o == sre_constants.LITERAL for o, _ in av):
        return {a for _, a in av}
    if op == sre_constants.SUBPATTERN:
        return _first_chars(av[-1])
    return None


def _branches_overlap(branches: Any) -> bool:
    """Two alternatives may start alike (or one is empty): a repeat of them backtracks exponentially."""
    seen: set[int] = set()
    for branch in branches:
        first = _first_chars(branch)
        if first is None or first & seen:
            return True
        seen |= first
    return False


def regex_hazard(pattern: str, flags: int = 0) -> str | None:
    """Name the shape that makes a regex slow on long untrusted lines, or None.

    Python's `re` has no timeout, so the cost is bounded up front: lines are capped (see core/scan/)
    and two shapes are refused: an unbounded repeat inside another unbounded repeat (exponential
    backtracking) and more than two unbounded repeats of a wide class such as `.*` (high-degree
    polynomial backtracking).
    """
    try:
        tree = sre_parse.parse(pattern, flags)
    except re.error:
        return None
    wide = 0

    def walk(items: Any, inside_repeat: bool) -> str | None:
        nonlocal wide
        for op, av in items:
            if op in _REPEATS or op == getattr(sre_constants, "POSSESSIVE_REPEAT", None):
                lo, hi, sub = av
                unbounded = hi == sre_constants.MAXREPEAT or hi > 1000
                if unbounded and inside_repeat:
                    return "nested unbounded repetition (like `(a+)+`) can take exponential time"
                if unbounded and len(sub) == 1 and _is_wide(sub[0]):
                    wide += 1
                found = walk(sub, inside_repeat or unbounded)
                if found:
                    return found
            elif op == sre_constants.SUBPATTERN:
                found = walk(av[-1], inside_repeat)
                if found:
                    return found
            elif op == sre_constants.BRANCH:
                if inside_repeat and _branches_overlap(av[1]):
                    return ("alternatives that can match the same text under an unbounded repeat (like"
                            " `(a|aa)*`) can take exponential time")
                for branch in av[1]:
                    found = walk(branch, inside_repeat)
                    if found:
                        return found
            elif op in (sre_constants.ASSERT, sre_constants.ASSERT_NOT):
                found = walk(av[1], inside_repeat)
                if found:
                    return found
            elif op == getattr(sre_constants, "ATOMIC_GROUP", None):
                found = walk(av, inside_repeat)
                if found:
                    return found
            elif op == sre_constants.GROUPREF_EXISTS:
                for branch in av[1:]:
                    if branch is not None:
                        found = walk(branch, inside_repeat)
                        if found:
                            return found
        return None

    found = walk(tree, False)
    if found:
        return found
    if wide > 2:
        return "more than two unbounded wildcard repeats (like `.*`); use bounded ones such as .{0,200}"
    return None

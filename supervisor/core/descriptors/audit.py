"""`teamctl signatures audit`: which limit-, quota-, usage-, cost- or token-like strings of a CLI
package its descriptor covers.

These CLIs ship weekly. A new release's wording then starts from a list, not a hunt: every such
string of the package (see pkgstrings), each marked with the signatures that would read it as the
screen shows it, or as uncovered. A template's slots (SLOT) stand for anything: each string is tried
with a few fills (a limit name, a clock time, a duration, a figure), and a string that ends open
(a slot, a glued piece ending in a blank) is covered when a signature's match could go on past it.
No I/O here: the cli module reads the files.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ..lazy_dataclass import lazy_dataclass
from .loader import Runtime, Signature, UsagePattern
from .pkgstrings import SLOT

#: The words that make a string limit-, quota-, usage-, cost- or token-like, by category.
CATEGORIES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("limit", re.compile(r"\b(?:rate[ -]?limit\w*|limits?|limited\s+(?:by|to)|too many requests|throttl\w*|overloaded"
                         r"|at capacity|resets|reset\s+(?:at|in|on)|hit\s+your|try again (?:at|in|later))\b", re.I)),
    ("quota", re.compile(r"\b(?:quotas?|exhausted|exceeded|out of credits)\b", re.I)),
    ("usage", re.compile(r"\busage\b", re.I)),
    ("cost", re.compile(r"(?:\b(?:costs?|spend(?:ing)?|spent|billing|budget|credits?|pric(?:e|es|ing))\b"
                        r"|\$(?:\d|" + SLOT + "))", re.I)),
    ("token", re.compile(r"\b(?:tokens|token\s+(?:usage|count|limit|budget))\b", re.I)),
)
#: One regex for all of them: a quick first test of each string.
WANTED = re.compile("|".join(f"(?:{p.pattern})" for _, p in CATEGORIES), re.I)
#: A quicker test still, of a binary's raw run lower-cased (an executable holds millions of runs, and
#: WANTED, case-blind over Unicode, took most of an audit's time on them): it finds something in every
#: run WANTED could find something in once decoded. Kept in step with CATEGORIES by hand: each
#: alternative's plain letters; the letters re.I also reads as i, s or k (İ ı ſ K, in UTF-8); any
#: high byte where WANTED takes a \s or \d (Unicode has more of them than ASCII).
WANTED_BYTES = re.compile(
    rb"limit|too many requests|throttl|overloaded|at capacity|reset|hit[\t\n\r \x80-\xff]|try again"
    rb"|quota|exhausted|exceeded|usage|cost|spen[dt]|billing|budget|credit|pric|token|\$[0-9\x80-\xff]"
    rb"|\xc4[\xb0\xb1]|\xc5\xbf|\xe2\x84\xaa")
#: Longer lines are prose (system prompts, docs), not a status line a CLI prints.
MAX_CHARS = 300
_CODE = re.compile(r"=>|===|!==|&&|\|\||\bfunction\b|\breturn\s|[{};]|\bthis\.|\bconst\s|\bvar\s|\blet\s|::"
                   r"|\\[nt]|[<>]=|\s=\s|[a-z]\(|[a-z]_[a-z]|node_modules|^/|^\W*[\w.\-/]+\W*$|^\s*\w+:\s.*,$"
                   r"|2>|\|\s*(?:grep|awk)\b")
_HELP = re.compile(r"(?:^\s*|\b)usage:\s+(?:/|[\w\-]+\s+[\[<(]|\S+\s*$)|^\s*usage:\s+[a-z]", re.I)
#: The words of a notice (a hit, a reset, an exhausted quota), not of a setting or a doc: an
#: uncovered string with one of them is looked at first.
NOTICE = re.compile(r"\b(?:(?:limit|quota|usage|budget|credits?|spend\s+cap)\s+(?:\w+\s+)?"
                    r"(?:reached|exceeded|exhausted)"
                    r"|(?:exceeded|exhausted|reached|hit)\s+(?:your|the|its)\s+(?:[\w\-]+\s+){0,3}(?:limits?|quota|cap)"
                    r"|resets?\s+(?:at|in)|try\s+again\s+(?:at|in|later)|too\s+many\s+requests|out\s+of\s+credits"
                    r"|429|rate[ -]?limit(?:ed|ing)?|quota\s+exceeded|throttled|overloaded|total\s+cost|cost:"
                    r"|tokens\s+used|token\s+usage)\b", re.I)
#: Fills a slot is tried with, all slots alike; one more rendering picks by the text before a slot.
FILLS = ("", "x", "usage limit", "5-hour limit", "4pm", "at 4pm", "5m", "in 5m", "42", "1,234", "0.0123",
         "gpt-5", "Dec 2, 9am")
_BEFORE = ((re.compile(r"\$$"), "0.0123"), (re.compile(r"(?:resets?|at|until|after)\s+$", re.I), "4pm"),
           (re.compile(r"\bin\s+$", re.I), "5m"), (re.compile(r"(?:your|the)\s+$", re.I), "usage limit"))
_MIN_PREFIX = 12


@lazy_dataclass(frozen=True)
class Cover:
    """One signature that reads a string: `how` is "match", or "prefix" (the string, open at its
    end, is the start of a match); `keyword` False: the regex matches but none of its keywords is
    in the string, so the scanner would never run it there."""

    kind: str
    id: str
    how: str = "match"
    keyword: bool = True
    source: str = ""


@lazy_dataclass(frozen=True)
class Finding:
    """One distinct string of the package, where it was first seen, and what covers it."""

    text: str
    where: str
    category: str
    covers: tuple[Cover, ...] = ()
    seen: int = 1

    @property
    def covered(self) -> bool:
        return any(c.keyword for c in self.covers)

    @property
    def notice(self) -> bool:
        """Whether it reads like a limit notice (NOTICE), not a setting's description or a doc."""
        return bool(NOTICE.search(self.text.replace(SLOT, "x")))

    @property
    def display(self) -> str:
        """The text with each slot shown as `{…}`."""
        return self.text.replace(SLOT, "{…}")


def category(text: str) -> str | None:
    """The first category whose words `text` holds, or None."""
    for name, pattern in CATEGORIES:
        if pattern.search(text):
            return name
    return None


def candidate_lines(text: str) -> list[str]:
    """The lines of one extracted string that an audit lists: prose (words, not code), short enough
    for a status line, and holding a limit/quota/usage/cost/token word. Help text (`Usage: cmd
    [options]`) is left out."""
    out = []
    for line in text.split("\n"):
        plain = line.replace(SLOT, "x")
        if not plain.strip() or len(plain.strip()) > MAX_CHARS or not WANTED.search(plain):
            continue
        words = re.findall(r"[A-Za-z][A-Za-z'’\-]*", plain)
        letters = sum(ch.isalpha() or ch == " " for ch in plain)
        if len(words) < 2 or letters < 0.7 * len(plain) or _CODE.search(plain.strip()) or _HELP.search(plain):
            continue
        out.append(line.rstrip("\r"))
    return out


def renderings(text: str) -> list[str]:
    """`text` as the screen could show it: itself when it has no slot, else with the slots filled."""
    if SLOT not in text:
        return [text]
    parts = text.split(SLOT)
    smart = [parts[0]]
    for part in parts[1:]:
        before = smart[-1]
        fill = next((f for p, f in _BEFORE if p.search(before)), "x")
        smart += [fill, part]
    return ["".join(smart)] + [fill.join(parts) for fill in FILLS]


def _tables(runtime: Runtime) -> list[tuple[str, Signature | UsagePattern]]:
    return ([("rate_limit", s) for s in runtime.rate_limits] + [("cost", s) for s in runtime.costs]
            + [("dialog", s) for s in runtime.dialogs] + [("ignore", s) for s in runtime.ignores]
            + [("usage", u) for u in runtime.usage])


def covers(runtime: Runtime, text: str) -> tuple[Cover, ...]:
    """Every signature of `runtime` that reads `text` (a string with slots, one line)."""
    stripped = text.strip(" \t")
    open_end = text.endswith((" ", SLOT)) or stripped.endswith(SLOT)
    shown = renderings(stripped)
    first_word = min((m.start() for _, p in CATEGORIES if (m := p.search(stripped.replace(SLOT, "x")))),
                     default=0)
    found: list[Cover] = []
    for kind, sig in _tables(runtime):
        how = _reads(sig, shown, open_end, first_word)
        if how is None:
            continue
        low = [s.lower() for s in shown]
        keyword = not sig.keywords or any(k in s for k in sig.keywords for s in low)
        found.append(Cover(kind, sig.id, how, keyword, getattr(sig, "source", "") or str(runtime.path)))
    return tuple(found)


def _reads(sig: Signature | UsagePattern, shown: list[str], open_end: bool, first_word: int) -> str | None:
    for text in shown:
        try:
            if sig.regex.search(text, timeout=0.5):
                return "match"
        except TimeoutError:
            continue
    if not open_end:
        return None
    for text in shown:
        try:
            m = sig.regex.search(text, partial=True, timeout=0.5)
        except TimeoutError:
            continue
        if m is not None and m.partial and m.start() <= first_word and m.end() - m.start() >= _MIN_PREFIX:
            return "prefix"
    return None


def audit(runtime: Runtime, strings: Iterable[tuple[str, str]]) -> list[Finding]:
    """The distinct candidate lines of `strings` (text, where it was found), each with its covers,
    in the order first seen."""
    seen: dict[str, list] = {}
    for text, where in strings:
        if not WANTED.search(text.replace(SLOT, "x")):
            continue
        for line in candidate_lines(text):
            key = line.strip()
            if key in seen:
                seen[key][2] += 1
            else:
                seen[key] = [line, where, 1]
    out = []
    for key, (line, where, count) in seen.items():
        out.append(Finding(key if not line.endswith(" ") else key + " ", where,
                           category(key.replace(SLOT, "x")) or "limit", covers(runtime, line), count))
    return out


def summary(findings: list[Finding]) -> dict[str, dict[str, int]]:
    """Counts per category: strings, covered, uncovered, and uncovered ones that read like a notice."""
    out: dict[str, dict[str, int]] = {}
    for f in findings:
        row = out.setdefault(f.category, {"strings": 0, "covered": 0, "uncovered": 0, "uncovered_notices": 0})
        row["strings"] += 1
        row["covered" if f.covered else "uncovered"] += 1
        row["uncovered_notices"] += not f.covered and f.notice
    return out

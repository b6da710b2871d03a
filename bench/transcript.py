"""A seeded, realistic agent-CLI transcript: ANSI-heavy TUI redraws, spinners, plain lines, code blocks,
and a known number of rate-limit and cost lines scattered among them.

The limit and cost lines come from templates given by the caller (so the transcript fits whichever
runtime descriptor the benchmark uses). Templates are `str.format` strings; the fields they may use:
`{n}` (the event's index), `{secs}` (a small reset delay), `{usd}`, `{inp}`, `{out}` (a running cost total
that grows with every cost line, so a cost ledger sees each line as new spend).

    python bench/transcript.py OUT.bin --size-mb 100 --seed 7
"""

from __future__ import annotations

import argparse
import random
from dataclasses import dataclass
from pathlib import Path

#: Lines the built-in test runtime (tests/fakes/runtimes/fake.toml) recognises.
FAKE_LIMITS = ("usage limit reached · resets in {secs}s",)
FAKE_COSTS = ("session cost: ${usd:.2f} ({inp} in, {out} out)",)

# Filler words: ordinary agent chatter, none of which is a signature keyword (limit, quota, cost, ...),
# so the only lines that match are the ones placed on purpose and the counts are exact.
_WORDS = ("the", "a", "function", "test", "file", "module", "update", "refactor", "parser", "return", "value",
          "class", "import", "fix", "error", "handle", "config", "build", "run", "check", "pass", "fail",
          "read", "write", "path", "call", "list", "dict", "string", "tool", "edit", "diff", "patch", "now",
          "then", "next", "step", "plan", "todo", "done", "let", "me", "look", "at", "this", "we", "need",
          "to", "add", "remove", "rename", "variable", "loop", "branch", "merge", "commit", "cache", "index")
_SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
_CODE = ("def {w}_{w2}(self, {w}: str) -> int:", "    return self.{w}[{n}]", "    if {w} is None:",
         "        raise ValueError('{w} {w2}')", "for {w} in {w2}s:", "    {w}.append({n})",
         "class {W}{W2}:", "    '''{w} {w2} {w}.'''", "import {w}", "from .{w} import {w2}",
         "    x = {n} + {n2}", "# {w} the {w2}")
_KW = ("def", "return", "if", "raise", "for", "in", "class", "import", "from", "is", "None")


@dataclass(frozen=True)
class Made:
    """What was written: byte size and how many limit and cost lines."""

    path: Path
    size: int
    limits: int
    costs: int


def _words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(n))


def _sgr(rng: random.Random) -> str:
    return rng.choice(("\x1b[1m", "\x1b[2m", "\x1b[3m", "\x1b[31m", "\x1b[32m", "\x1b[33m", "\x1b[34m",
                       "\x1b[36m", "\x1b[90m", f"\x1b[38;5;{rng.randrange(256)}m",
                       f"\x1b[38;2;{rng.randrange(256)};{rng.randrange(256)};{rng.randrange(256)}m"))


def _tui_frame(rng: random.Random) -> str:
    """A full-screen redraw: hide cursor, every row positioned, cleared and coloured, a status bar;
    then the cursor goes to the next row, where whatever comes next starts (a code block's fence
    drawn after a frame on the status bar's own row is a shape no CLI prints)."""
    rows = rng.randrange(20, 48)
    out = ["\x1b[?25l\x1b[H"]
    for row in range(1, rows + 1):
        text = _words(rng, rng.randrange(2, 16))
        out.append(f"\x1b[{row};1H\x1b[2K{_sgr(rng)}{text}\x1b[0m")
        if rng.random() < 0.3:
            out.append(f"\x1b[{row};{rng.randrange(60, 120)}H\x1b[7m {rng.randrange(100)}% \x1b[27m")
    out.append(f"\x1b[{rows + 1};1H\x1b[2K\x1b[48;5;236m\x1b[37m {_words(rng, 3)} │ {rng.randrange(9)}:"
               f"{rng.randrange(60):02d} │ ctx {rng.randrange(100)}% \x1b[0m\x1b[?25h\r\n")
    return "".join(out)


def _spinner(rng: random.Random) -> str:
    """A status line redrawn in place with \\r, a few dozen frames."""
    what = _words(rng, 2).capitalize()
    out = []
    for i in range(rng.randrange(10, 60)):
        ch = _SPINNER[i % len(_SPINNER)]
        out.append(f"\r\x1b[2K\x1b[36m{ch}\x1b[0m {what}… \x1b[90m({i // 10}s · esc to interrupt)\x1b[0m")
    return "".join(out) + "\r\x1b[2K"


def _plain(rng: random.Random) -> str:
    return "\n".join(_words(rng, rng.randrange(4, 24)) for _ in range(rng.randrange(1, 12))) + "\n"


def _code(rng: random.Random) -> str:
    lines = ["\x1b[90m```python\x1b[0m"]
    for _ in range(rng.randrange(4, 30)):
        w, w2 = rng.choice(_WORDS), rng.choice(_WORDS)
        line = rng.choice(_CODE).format(w=w, w2=w2, W=w.capitalize(), W2=w2.capitalize(), n=rng.randrange(99),
                                         n2=rng.randrange(99))
        for kw in _KW:
            line = line.replace(f"{kw} ", f"\x1b[35m{kw}\x1b[39m ", 1)
        lines.append(f"\x1b[48;5;235m{line}\x1b[K\x1b[0m")
    lines.append("\x1b[90m```\x1b[0m")
    return "\n".join(lines) + "\n"


_MAKERS = ((_tui_frame, 4), (_spinner, 3), (_plain, 3), (_code, 2))


def _wrap_event(rng: random.Random, text: str, kind: str) -> str:
    """An event line in one of the shapes real CLIs print it: plain, styled (limits get a warning glyph),
    or on a positioned TUI row. The text always starts its visual line (built-in signatures anchor on `^`)."""
    shape = rng.randrange(3)
    if shape == 0:
        return f"\n{text}\n"
    if shape == 1:
        glyph = "⚠ " if kind == "limit" else ""
        return f"\n\x1b[1;33m{glyph}\x1b[0m\x1b[33m{text}\x1b[0m\n"
    return f"\x1b[{rng.randrange(30, 50)};1H\x1b[2K\x1b[31m{text}\x1b[39m\n"


def generate(path: Path, size: int, *, seed: int = 7, limits: int = 100, costs: int = 100,
             limit_templates: tuple[str, ...] = FAKE_LIMITS, cost_templates: tuple[str, ...] = FAKE_COSTS,
             pool: int = 3000) -> Made:
    """Write about `size` bytes to `path` with exactly `limits` limit lines and `costs` cost lines."""
    rng = random.Random(seed)
    makers = [m for m, weight in _MAKERS for _ in range(weight)]
    blocks = [rng.choice(makers)(rng).encode() for _ in range(pool)]
    kinds = ["limit"] * limits + ["cost"] * costs
    rng.shuffle(kinds)
    marks = sorted(rng.randrange(size) for _ in kinds)
    usd, inp, out = 0.0, 0, 0
    written = 0
    placed = {"limit": 0, "cost": 0}
    with open(path, "wb") as fh:
        batch: list[bytes] = []
        ev = 0
        while written < size or ev < len(kinds):
            while ev < len(kinds) and (marks[ev] <= written or written >= size):
                kind = kinds[ev]
                if kind == "limit":
                    text = rng.choice(limit_templates).format(n=ev, secs=rng.randrange(1, 59), usd=usd, inp=inp,
                                                              out=out)
                else:
                    usd += rng.randrange(1, 50) / 100
                    inp += rng.randrange(100, 5000)
                    out += rng.randrange(10, 900)
                    text = rng.choice(cost_templates).format(n=ev, secs=0, usd=usd, inp=inp, out=out)
                data = _wrap_event(rng, text, kind).encode()
                batch.append(data)
                written += len(data)
                placed[kind] += 1
                ev += 1
            if written >= size:
                break
            block = blocks[rng.randrange(pool)]
            batch.append(block)
            written += len(block)
            if len(batch) >= 256:
                fh.write(b"".join(batch))
                batch.clear()
        batch.append(b"\x1b[0m\n")
        written += 5
        fh.write(b"".join(batch))
    return Made(path, written, placed["limit"], placed["cost"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("--size-mb", type=float, default=100.0)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--limits", type=int, default=100)
    ap.add_argument("--costs", type=int, default=100)
    args = ap.parse_args()
    made = generate(args.out, int(args.size_mb * 1e6), seed=args.seed, limits=args.limits, costs=args.costs)
    print(f"{made.path}: {made.size} bytes, {made.limits} limit lines, {made.costs} cost lines")


if __name__ == "__main__":
    main()

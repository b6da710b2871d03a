#!/usr/bin/env python3
"""A long interactive session of a real CLI, recorded for bench/realpace.py.

    python bench/capture_session.py [claude] [codex]

The real CLI (the pinned Claude Code 2.1.333 or Codex 0.171.0 of tests/realcli/pins.toml) runs in a
pane of a private tmux server (tests/realcli/claude.Pane: `tmux -L <own name>`, killed at the end)
under tests/realcli/record.py, which writes its pty output with byte timings, and under
bench/cpuwrap.py, which writes the CPU time of its whole process tree when it exits. It talks to the
fake API (tests/realcli/fakeapi) on 127.0.0.1, here given a script: each prompt is answered with tool
calls the CLI really runs in a throwaway project (list, read, write, edit, run the tests), then with
text streamed a word at a time at a model's pace; a human pause between prompts, the prompts typed a
key at a time. Then a usage limit (HTTP 429, reset two hours on), the CLI's cost screen (Claude
`/cost`, Codex `/status`), and the exit.

Writes, beside the older captures in tests/fixtures/real_cli/<cli>-<version>/:
  session-<W>x<H>.jsonl        the capture (`[seconds, base64]` lines, as record.py writes them)
  session-<W>x<H>.cpu.json     the CLI's CPU seconds, user+sys of its whole tree: getrusage via
                               cpuwrap.py, plus (psutil) what it left running after its exit (Codex's
                               app-server daemon, ended here by pid); a psutil sample of the live tree
                               just before the exit (cpuwrap's children); when the limit was set;
                               the request log
  session-<W>x<H>.screen.txt   the screen at the limit, the cost screen (`tmux capture-pane -p`)
"""

from __future__ import annotations

import itertools
import json
import os
import re
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO / "tests"))

from realcli import claude, codex  # noqa: E402
from realcli.fakeapi import FakeAPI  # noqa: E402
from realcli.fakeapi import anthropic as fake_anthropic  # noqa: E402
from realcli.fakeapi import openai as fake_openai  # noqa: E402

FIXTURES = Path(os.environ.get("BENCH_CAPTURE_OUT") or REPO / "tests" / "fixtures" / "real_cli")
SIZE = (200, 50)
#: a model's pace: the first token after this long, then one word every WORD_S
FIRST_TOKEN_S = 1.2
WORD_S = 0.03
#: a person reads the answer this long before typing the next prompt, a key every KEY_S
READ_S = 12.0
KEY_S = 0.09
_ids = itertools.count(1)


def log(*a: object) -> None:
    print(time.strftime("%H:%M:%S"), *a, flush=True)


# -- the throwaway project the session works on ------------------------------------------------------
PROJECT = {
    "calc/__init__.py": '"""A small calculator: tokenize, parse, evaluate."""\n',
    "calc/tokenizer.py": '''"""Split an arithmetic expression into tokens."""

import re

TOKEN = re.compile(r"\\s*(?:(\\d+\\.?\\d*)|(.))")


def tokenize(text):
    out = []
    for number, op in TOKEN.findall(text):
        if number:
            out.append(("num", float(number)))
        elif op.strip():
            out.append(("op", op))
    return out
''',
    "calc/parser.py": '''"""Recursive-descent parser for + - * / and parentheses."""

from .tokenizer import tokenize


class Parser:
    def __init__(self, text):
        self.tokens = tokenize(text)
        self.pos = 0

    def peek(self):
        return self.tokens[self.pos] if self.pos < len(self.tokens) else ("end", None)

    def take(self):
        tok = self.peek()
        self.pos += 1
        return tok

    def expr(self):
        value = self.term()
        while self.peek() in (("op", "+"), ("op", "-")):
            op = self.take()[1]
            value = value + self.term() if op == "+" else value - self.term()
        return value

    def term(self):
        value = self.atom()
        while self.peek() in (("op", "*"), ("op", "/")):
            op = self.take()[1]
            value = value * self.atom() if op == "*" else value / self.atom()
        return value

    def atom(self):
        kind, value = self.take()
        if kind == "num":
            return value
        if (kind, value) == ("op", "("):
            inner = self.expr()
            self.take()
            return inner
        raise SyntaxError(f"unexpected {value!r}")


def evaluate(text):
    return Parser(text).expr()
''',
    "README.md": "# calc\n\nA small calculator used by the benchmarks.\n",
}

TEST_FILE = '''"""Tests for calc: tokenizer, parser, errors."""

import unittest

from calc.parser import evaluate
from calc.tokenizer import tokenize


class TokenizerTest(unittest.TestCase):
    def test_numbers_and_ops(self):
        self.assertEqual(tokenize("1 + 2.5"), [("num", 1.0), ("op", "+"), ("num", 2.5)])

    def test_blanks_are_skipped(self):
        self.assertEqual(tokenize("  7  "), [("num", 7.0)])


class ParserTest(unittest.TestCase):
    def test_precedence(self):
        self.assertEqual(evaluate("1 + 2 * 3"), 7)

    def test_parentheses(self):
        self.assertEqual(evaluate("(1 + 2) * 3"), 9)

    def test_unary_minus(self):
        self.assertEqual(evaluate("-4 + 10"), 6)

    def test_unclosed_parenthesis(self):
        with self.assertRaises(SyntaxError):
            evaluate("(1 + 2")


if __name__ == "__main__":
    unittest.main()
'''

OLD_ATOM = '''        if (kind, value) == ("op", "("):
            inner = self.expr()
            self.take()
            return inner
'''
NEW_ATOM = '''        if (kind, value) == ("op", "-"):
            return -self.atom()
        if (kind, value) == ("op", "("):
            inner = self.expr()
            if self.take() != ("op", ")"):
                raise SyntaxError("missing ')'")
            return inner
'''

TEXT_1 = (
    "This is a small recursive-descent calculator in three parts. The tokenizer in calc/tokenizer.py "
    "uses one regular expression to split the input into numbers and single-character operators, "
    "skipping blanks. The parser in calc/parser.py keeps a cursor over those tokens and has one method "
    "per precedence level: expr handles addition and subtraction, term handles multiplication and "
    "division, and atom handles numbers and parenthesised sub-expressions. Each level calls the next "
    "one down, so multiplication binds tighter than addition without any precedence table.\n\n"
    "Two things stand out. First, there is no unary minus: an input like -4 + 10 reaches atom with an "
    "operator token and raises SyntaxError. Second, atom takes whatever token follows a parenthesised "
    "expression without checking that it is a closing parenthesis, so (1 + 2 is accepted and evaluates "
    "to 3. There are no tests yet. I would add a test module first, then fix both issues in atom.")
TEXT_2 = (
    "Done. I added tests/test_calc.py... correction, test_calc.py at the project root, with six tests: "
    "two for the tokenizer and four for the parser. On the first run two of them failed, exactly the "
    "two problems from before: unary minus raised SyntaxError, and an unclosed parenthesis was "
    "accepted.\n\nThe fix is four lines in Parser.atom:\n\n"
    "```python\n"
    "if (kind, value) == (\"op\", \"-\"):\n"
    "    return -self.atom()\n"
    "if (kind, value) == (\"op\", \"(\"):\n"
    "    inner = self.expr()\n"
    "    if self.take() != (\"op\", \")\"):\n"
    "        raise SyntaxError(\"missing ')'\")\n"
    "    return inner\n"
    "```\n\n"
    "Unary minus recurses into atom, so -(-3) and --3 work as well. The second run passes all six tests. "
    "Nothing else in the module changed.")
TEXT_3 = (
    "The grammar now reads:\n\n"
    "- `expr: term (('+' | '-') term)*`\n"
    "- `term: atom (('*' | '/') atom)*`\n"
    "- `atom: number | '-' atom | '(' expr ')'`\n\n"
    "I checked a few more inputs by hand with python3 -c: 2 * (3 + 4) gives 14, -2 * -3 gives 6, and "
    "1 / 0 raises ZeroDivisionError from Python itself, which I left as it is since the caller can "
    "catch it. Division is float division because the tokenizer turns every number into a float. "
    "If you want integer results for integer inputs, the tokenizer would have to keep ints, and "
    "term would need to choose between / and //; I have not changed that. Shall I document the "
    "grammar in the README next?")

TEXT_4 = (
    "All six tests pass in well under a second. The test file covers each layer once: the tokenizer's "
    "numbers, operators and blanks, the parser's precedence, parentheses and unary minus, and the one "
    "error path that had a bug. What it does not cover yet: division (including by zero), nested "
    "parentheses, an empty input (Parser.atom takes the end token and raises SyntaxError with None in "
    "the message, which reads oddly), and a stray character such as 2 $ 3, which the tokenizer passes "
    "through as an operator and the parser then rejects.\n\n"
    "I would add three tests: one table-driven test of a dozen expressions against Python's own eval, "
    "one for the error messages, and one for division. Each is a few lines with subTest, so a failure "
    "names the expression. The suite would still run in a fraction of a second.")

# -- the scripted Anthropic API ----------------------------------------------------------------------
def claude_steps(work: Path) -> dict[str, list[dict[str, Any]]]:
    """prompt keyword -> the answers to that prompt's requests, in order (tool calls, then text)."""
    w = str(work)
    return {
        "Look at the code": [
            {"text": "Let me look at the project first.",
             "tool": ("Bash", {"command": "ls -R", "description": "List the project's files"})},
            {"tool": ("Read", {"file_path": f"{w}/calc/parser.py"})},
            {"tool": ("Read", {"file_path": f"{w}/calc/tokenizer.py"})},
            {"text": TEXT_1},
        ],
        "unit tests for": [
            {"text": "I'll write the tests first and run them.",
             "tool": ("Write", {"file_path": f"{w}/test_calc.py", "content": TEST_FILE})},
            {"tool": ("Bash", {"command": "python3 -m unittest -v test_calc 2>&1 | tail -25",
                               "description": "Run the new tests"})},
            {"text": "Two failures, as expected. Fixing atom now.",
             "tool": ("Edit", {"file_path": f"{w}/calc/parser.py", "old_string": OLD_ATOM, "new_string": NEW_ATOM})},
            {"tool": ("Bash", {"command": "python3 -m unittest -v test_calc 2>&1 | tail -25",
                               "description": "Run the tests again"})},
            {"text": TEXT_2},
        ],
        "more expressions": [
            {"tool": ("Bash", {"command": "python3 -c 'from calc.parser import evaluate as e; "
                               "print(e(\"2 * (3 + 4)\"), e(\"-2 * -3\"))'",
                               "description": "Try a few expressions"})},
            {"tool": ("Bash", {"command": "python3 -c 'from calc.parser import evaluate; evaluate(\"1 / 0\")' 2>&1 "
                               "| tail -3", "description": "Check division by zero"})},
            {"text": TEXT_3},
        ],
        "whole test suite": [
            {"tool": ("Bash", {"command": "time python3 -m unittest -v test_calc 2>&1 | tail -25",
                               "description": "Run the test suite with a timing"})},
            {"tool": ("Read", {"file_path": f"{w}/test_calc.py"})},
            {"text": TEXT_4},
        ],
        "Document the grammar": [{"text": "Sure."}],  # never reached: the limit is in force by then
    }


def _prompt_of(messages: list[dict[str, Any]]) -> tuple[str, int]:
    """The text of the last user turn that is not a tool result, and how many tool results follow it."""
    results = 0
    for m in reversed(messages):
        if m.get("role") != "user":
            continue
        content = m.get("content")
        blocks = content if isinstance(content, list) else [{"type": "text", "text": str(content)}]
        if any(b.get("type") == "tool_result" for b in blocks if isinstance(b, dict)):
            results += 1
            continue
        return " ".join(str(b.get("text", "")) for b in blocks if isinstance(b, dict)), results
    return "", results


def _words(text: str) -> list[str]:
    words = text.split(" ")
    return [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]


class Paced:
    """SSE events yielded at a model's pace (Exchange.send_sse writes and flushes each as it comes)."""

    def __init__(self, events: list[tuple[str | None, Any]], first: float = FIRST_TOKEN_S):
        self.events, self.first = events, first

    def __iter__(self) -> Iterator[tuple[str | None, Any]]:
        for i, ev in enumerate(self.events):
            if i == 1:
                time.sleep(self.first)
            elif ev[1].get("type", "").endswith("delta") if isinstance(ev[1], dict) else False:
                time.sleep(WORD_S)
            yield ev


class ClaudeScript:
    """A /v1/messages handler answering by the script; anything off script gets a one-line answer."""

    def __init__(self, api: FakeAPI, steps: dict[str, list[dict[str, Any]]]):
        self.api, self.steps = api, steps
        self.turn = 0
        self.done = threading.Event()  # set when a prompt's last answer (text, no tool) has been sent
        self.served: list[tuple[str, int]] = []

    def __call__(self, ex: Any) -> None:
        if fake_anthropic._limit_answer(ex):
            return
        body = ex.body if isinstance(ex.body, dict) else {}
        prompt, step = _prompt_of(body.get("messages") or [])
        key = next((k for k in self.steps if k in prompt), None) if body.get("tools") else None
        if key is None:
            answer: dict[str, Any] = {"text": "OK."}
        else:
            seq = self.steps[key]
            answer = seq[min(step, len(seq) - 1)]
            self.served.append((key, step))
        self.turn += 1
        usage = {"input_tokens": 2400 + 900 * self.turn, "output_tokens": 1, "cache_read_input_tokens":
                 18000 + 1500 * self.turn, "cache_creation_input_tokens": 1200}
        out_tokens = 40 + len(answer.get("text", "").split()) * 4 // 3 + (60 if "tool" in answer else 0)
        msg_id = f"msg_bench{next(_ids):06d}"
        model = str(body.get("model") or "claude-sonnet-4-5")
        ev: list[tuple[str | None, Any]] = [("message_start", {"type": "message_start", "message": {
            "id": msg_id, "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": None, "stop_sequence": None, "usage": usage}})]
        index = 0
        if answer.get("text"):
            ev.append(("content_block_start", {"type": "content_block_start", "index": index,
                                               "content_block": {"type": "text", "text": ""}}))
            for w in _words(answer["text"]):
                ev.append(("content_block_delta", {"type": "content_block_delta", "index": index,
                                                   "delta": {"type": "text_delta", "text": w}}))
            ev.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
            index += 1
        if "tool" in answer:
            name, args = answer["tool"]
            ev.append(("content_block_start", {"type": "content_block_start", "index": index, "content_block": {
                "type": "tool_use", "id": f"toolu_bench{next(_ids):06d}", "name": name, "input": {}}}))
            raw = json.dumps(args)
            for i in range(0, len(raw), 48):
                delta = {"type": "input_json_delta", "partial_json": raw[i:i + 48]}
                ev.append(("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}))
            ev.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
        stop = "tool_use" if "tool" in answer else "end_turn"
        ev += [("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                                  "usage": {"output_tokens": out_tokens}}),
               ("message_stop", {"type": "message_stop"})]
        headers = {"request-id": f"req_bench{next(_ids):06d}"}
        ex.send_sse(Paced(ev), headers=headers)  # type: ignore[arg-type]
        if key is not None and "tool" not in answer:
            self.done.set()


def _unaligned(seconds_from_now: float) -> float:
    reset = time.time() + seconds_from_now
    if int(reset) % 60 < 5:
        reset += 7
    return int(reset) + 0.4


def tree_cpu(procs: list[psutil.Process]) -> float:
    """psutil: CPU seconds of live processes and their trees: each one's user+sys, plus the user+sys
    of the children it has already waited for (those are in no other live process's figures)."""
    seen: dict[int, psutil.Process] = {}
    for p in procs:
        try:
            for q in [p, *p.children(recursive=True)]:
                seen[q.pid] = q
        except psutil.Error:
            pass
    total = 0.0
    for q in seen.values():
        try:
            t = q.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
        except psutil.Error:
            pass
    return total


def left_behind(home: Path) -> list[psutil.Process]:
    """Processes of the CLI still running from `home` (its HOME) after its exit: Codex 0.171.0 leaves
    its app-server daemon (double-forked, re-parented to init) running after /quit."""
    found = []
    for p in psutil.process_iter(["pid", "cmdline", "environ"]):
        try:
            cmd = " ".join(p.info["cmdline"] or [])
            env = p.info["environ"] or {}
        except psutil.Error:
            continue
        if p.pid != os.getpid() and (str(home) in cmd or env.get("HOME") == str(home)):
            found.append(p)
    return found


def end(procs: list[psutil.Process]) -> None:
    """End what the session left, by pid: SIGTERM, then SIGKILL after 5 s."""
    for p in procs:
        try:
            p.terminate()
        except psutil.Error:
            pass
    _, alive = psutil.wait_procs(procs, timeout=5)
    for p in alive:
        try:
            p.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(alive, timeout=5)


def _cli_procs(pane_pid: int) -> list[psutil.Process]:
    """The CLI's top process(es): the children of cpuwrap.py in the pane (record.py's relay not counted)."""
    for p in psutil.Process(pane_pid).children(recursive=True):
        try:
            if any(a.endswith("cpuwrap.py") for a in p.cmdline()):
                return p.children()
        except psutil.Error:
            continue
    return []


def _pane_pid(pane: claude.Pane) -> int:
    return int(pane._tmux("display-message", "-p", "-t", "cc", "#{pane_pid}").strip())


def type_slowly(pane: claude.Pane, text: str) -> None:
    for ch in text:
        pane.type(ch)
        time.sleep(KEY_S)
    time.sleep(0.4)
    pane.send("Enter")


# -- Claude Code -------------------------------------------------------------------------------------
CLAUDE_PROMPTS = (
    "What does this project do? Look at the code and tell me what is missing.",
    "Please add unit tests for the tokenizer and the parser, run them, and fix what fails.",
    "Check a few more expressions and tell me the grammar as it is now.",
    "Run the whole test suite once more, with a timing, and review the test file.",
)


def capture_claude(root: Path) -> None:
    version = claude.NEWEST  # the committed capture was made with 2.1.333
    api = FakeAPI().start()
    try:
        home = root / "claude"
        env = claude.prepare(home, api.base_url, version, trust=True)
        script = ClaudeScript(api, claude_steps(home / "work"))
        api._routes.insert(0, ("POST", re.compile(r"/v1/messages"), script))
        session(FIXTURES / f"claude-{version}", api, script, home, env,
                claude.argv(version, "--dangerously-skip-permissions"), banner="Claude Code v", prompts=CLAUDE_PROMPTS,
                limit={"claim": "five_hour"}, cost=("/cost", "cost:"), close="Escape", quit="/exit")
    finally:
        api.stop()


def session(out: Path, api: FakeAPI, script: ClaudeScript | CodexScript, home: Path, env: dict[str, str],
            argv: list[str], *, banner: str, prompts: tuple[str, ...], limit: dict[str, str],
            cost: tuple[str, str], close: str, quit: str) -> None:
    """One recorded session: the prompts, then the limit, the cost screen and the exit."""
    name = f"session-{SIZE[0]}x{SIZE[1]}"
    work = home / "work"
    for rel, text in PROJECT.items():
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        (work / rel).write_text(text)
    cpu_file = home.parent / f"{home.name}.cpu.json"
    program = [sys.executable, str(BENCH / "cpuwrap.py"), str(cpu_file), "--", *argv]
    t0 = time.time()
    pane = claude.Pane(program, env, work, out / f"{name}.jsonl", SIZE)
    try:
        pane.wait_for(banner, 30)
        time.sleep(3)
        for text in prompts:
            script.done.clear()
            log("prompt", text)
            type_slowly(pane, text)
            if not script.done.wait(120):
                raise AssertionError(f"no final answer to {text!r}:\n{pane.screen()}")
            time.sleep(1.5 + READ_S)
        reset = _unaligned(2 * 3600)
        api.set_limit("usage_limit", reset, **limit)
        limit_set = time.time() - t0
        log("limit set, reset", time.strftime("%H:%M:%S", time.gmtime(reset)))
        type_slowly(pane, "Document the grammar in the README.")
        pane.wait_for("hit your", 30)
        time.sleep(20)  # a person notices the limit, reads it
        screens = ["--- at the limit", pane.screen()]
        type_slowly(pane, cost[0])
        pane.wait_for(cost[1], 15)
        time.sleep(4)
        screens += [f"--- {cost[0]}", pane.screen()]
        pane.send(close)
        time.sleep(2)
        before = tree_cpu(_cli_procs(_pane_pid(pane)))
        type_slowly(pane, quit)
        deadline = time.monotonic() + 30
        while not cpu_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1)
        screens += [f"--- after {quit}", pane.screen()]
    finally:
        pane.close()
        left = left_behind(home)
        left_cpu = tree_cpu(left)
        end(left)
    cpu = json.loads(cpu_file.read_text()) if cpu_file.exists() else {}
    capture = out / f"{name}.jsonl"
    lines = capture.read_text().splitlines()
    total = cpu.get("cpu_s", 0.0) + left_cpu
    meta = {
        "capture": capture.name, "reads": len(lines), "bytes": capture.stat().st_size,
        "seconds": json.loads(lines[-1])[0] if lines else 0.0,
        "cli_cpu_s": round(total, 3),
        "cli_cpu_how": "getrusage(RUSAGE_CHILDREN) of bench/cpuwrap.py once the CLI exited (its tree, all it waited "
                       "for), plus psutil user+sys (and their waited children) of the processes it left running",
        "cli_exit": cpu, "left_running": [p.pid for p in left], "left_running_cpu_s": round(left_cpu, 3),
        "tree_cpu_psutil_before_exit_s": round(before, 3),
        "limit_set_at_s": round(limit_set, 2), "reset_at": reset,
        "made": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "served": script.served,
        "requests": [{"t": round(r.t - t0, 2), "status": r.status, "answered": r.answered} for r in api.requests],
    }
    (out / f"{name}.cpu.json").write_text(json.dumps(meta, indent=1) + "\n")
    (out / f"{name}.screen.txt").write_text("\n".join(screens))
    log(f"{capture}: {meta['reads']} reads, {meta['bytes']} bytes, {meta['seconds']} s; CLI CPU {total:.2f} s "
        f"(exit {cpu}, left running {left_cpu:.2f} s); psutil before the exit {before:.2f} s")


# -- Codex -------------------------------------------------------------------------------------------
CODEX_PROMPTS = (
    "What does this project do? Look at the code and tell me what is missing.",
    "How would you test the tokenizer and the parser? Check what fails today.",
    "Check a few more expressions and tell me the grammar as it would be after the fix.",
    "Find every place that raises SyntaxError and tell me what each message says.",
)
TEXT_C4 = (
    "There are two, both in Parser.atom. The first is the fall-through at the end: any token that is "
    "neither a number nor an opening parenthesis raises SyntaxError with the message unexpected, then the "
    "token's value in repr form, for example unexpected '*' for an input like 1 + * 2. At the end of the "
    "input the value is None, so an empty string or a trailing operator reads unexpected None, which is "
    "correct but unhelpful; end of input would say more. The second does not exist yet: an unclosed "
    "parenthesis is accepted silently today, and the fix I described would add missing ')' there.\n\n"
    "Nothing in the tokenizer raises: a character it does not know becomes an operator token, and the "
    "parser rejects it later with the first message. If you want errors to carry a position, the "
    "tokenizer could record each token's offset, and both messages could name the column.")


class CodexScript:
    """A /v1/responses handler: shell tool calls, then text, for each prompt (by keyword); the
    thread-title request and anything else off script gets a one-line answer."""

    def __init__(self, api: FakeAPI, work: Path):
        self.api = api
        self.turn = 0
        self.done = threading.Event()
        self.served: list[tuple[str, int]] = []
        self.steps: dict[str, list[dict[str, Any]]] = {
            "Look at the code": [{"call": "ls -R"}, {"call": "cat calc/parser.py calc/tokenizer.py"},
                                 {"text": TEXT_1}],
            "How would you test": [{"call": "grep -n 'def ' calc/*.py"},
                                   {"call": "python3 -c 'from calc.parser import evaluate as e; "
                                            "print(e(\"1 + 2 * 3\"))'; python3 -c 'from calc.parser import "
                                            "evaluate as e; print(e(\"-4 + 10\"))' 2>&1 | tail -2"},
                                   {"text": TEXT_2.replace("Done. I added tests/test_calc.py... correction, "
                                                           "test_calc.py", "I would add test_calc.py")}],
            "the grammar as it would be": [{"call": "sed -n 20,45p calc/parser.py"}, {"text": TEXT_3}],
            "raises SyntaxError": [{"call": "grep -rn SyntaxError calc"}, {"call": "sed -n 35,50p calc/parser.py"},
                                   {"text": TEXT_C4}],
            "Document the grammar": [{"text": "Sure."}],
        }

    def __call__(self, ex: Any) -> None:
        if fake_openai._limit_answer(ex):
            return
        body = ex.body if isinstance(ex.body, dict) else {}
        items = body.get("input") or []
        prompt, step = "", 0
        for it in reversed(items):
            if not isinstance(it, dict):
                continue
            if it.get("type") in ("function_call_output", "custom_tool_call_output"):
                step += 1
            if it.get("role") == "user":
                content = it.get("content")
                parts = content if isinstance(content, list) else [{"text": str(content)}]
                prompt = " ".join(str(p.get("text", "")) for p in parts if isinstance(p, dict))
                if "<environment_context>" in prompt or "<user_instructions>" in prompt:
                    prompt = ""
                    continue
                break
        title = "do not answer" in prompt.lower() or "title" in prompt.lower() and "user prompt:" in prompt.lower()
        key = None if title else next((k for k in self.steps if k in prompt), None)
        answer = {"text": "Calculator review"} if key is None else self.steps[key][min(step, len(self.steps[key]) - 1)]
        if key is not None:
            self.served.append((key, step))
        self.turn += 1
        model = str(body.get("model") or "gpt-5")
        n = next(_ids)
        resp_id = f"resp_bench{n:06d}"
        base = {"id": resp_id, "object": "response", "created_at": int(time.time()), "model": model,
                "status": "in_progress", "output": []}
        seq = itertools.count()
        ev: list[tuple[str | None, Any]] = [
            ("response.created", {"type": "response.created", "sequence_number": next(seq), "response": base}),
            ("response.in_progress", {"type": "response.in_progress", "sequence_number": next(seq), "response": base})]
        if "call" in answer:
            src = f"const r = await tools.exec_command({json.dumps({'cmd': answer['call']})});\ntext(r.output);\n"
            item = {"id": f"ctc_bench{n:06d}", "type": "custom_tool_call", "status": "completed", "name": "exec",
                    "call_id": f"call_bench{n:06d}", "input": src}
            ev += [("response.output_item.added", {"type": "response.output_item.added", "sequence_number": next(seq),
                                                   "output_index": 0, "item": dict(item, status="in_progress",
                                                                                   input="")}),
                   ("response.custom_tool_call_input.delta", {
                       "type": "response.custom_tool_call_input.delta", "sequence_number": next(seq),
                       "item_id": item["id"], "output_index": 0, "delta": src}),
                   ("response.custom_tool_call_input.done", {
                       "type": "response.custom_tool_call_input.done", "sequence_number": next(seq),
                       "item_id": item["id"], "output_index": 0, "input": src}),
                   ("response.output_item.done", {"type": "response.output_item.done", "sequence_number": next(seq),
                                                  "output_index": 0, "item": item})]
        else:
            text = answer["text"]
            item_id = f"msg_bench{n:06d}"
            item = {"id": item_id, "type": "message", "role": "assistant", "status": "completed",
                    "content": [{"type": "output_text", "text": text, "annotations": []}]}
            ev += [("response.output_item.added", {"type": "response.output_item.added", "sequence_number": next(seq),
                                                   "output_index": 0, "item": dict(item, status="in_progress",
                                                                                   content=[])}),
                   ("response.content_part.added", {"type": "response.content_part.added", "sequence_number": next(seq),
                                                    "item_id": item_id, "output_index": 0, "content_index": 0,
                                                    "part": {"type": "output_text", "text": "", "annotations": []}})]
            for w in _words(text):
                ev.append(("response.output_text.delta", {"type": "response.output_text.delta",
                                                          "sequence_number": next(seq), "item_id": item_id,
                                                          "output_index": 0, "content_index": 0, "delta": w}))
            ev += [("response.output_text.done", {"type": "response.output_text.done", "sequence_number": next(seq),
                                                  "item_id": item_id, "output_index": 0, "content_index": 0,
                                                  "text": text}),
                   ("response.content_part.done", {"type": "response.content_part.done", "sequence_number": next(seq),
                                                   "item_id": item_id, "output_index": 0, "content_index": 0,
                                                   "part": {"type": "output_text", "text": text, "annotations": []}}),
                   ("response.output_item.done", {"type": "response.output_item.done", "sequence_number": next(seq),
                                                  "output_index": 0, "item": item})]
        usage = {"input_tokens": 3000 + 1200 * self.turn, "input_tokens_details": {"cached_tokens": 1500 * self.turn},
                 "output_tokens": 50 + 4 * len(answer.get("text", "").split()) // 3,
                 "output_tokens_details": {"reasoning_tokens": 0}}
        usage["total_tokens"] = usage["input_tokens"] + usage["output_tokens"]
        ev.append(("response.completed", {"type": "response.completed", "sequence_number": next(seq),
                                          "response": dict(base, status="completed", output=[item], usage=usage)}))
        headers = {"x-request-id": f"req_bench{n:06d}",
                   **fake_openai.window_headers(getattr(self.api, "codex_windows", None))}
        ex.send_sse(PacedCodex(ev), headers=headers)  # type: ignore[arg-type]
        if key is not None and "call" not in answer:
            self.done.set()


class PacedCodex(Paced):
    def __iter__(self) -> Iterator[tuple[str | None, Any]]:
        for i, ev in enumerate(self.events):
            if i == 2:
                time.sleep(self.first)
            elif ev[0] and ev[0].endswith(".delta"):
                time.sleep(WORD_S)
            yield ev


def capture_codex(root: Path) -> None:
    api = FakeAPI().start()
    try:
        home = root / "codex"
        env = codex.prepare(home, api.base_url, cwd=home / "work", nudge=False)
        script = CodexScript(api, home / "work")
        api._routes.insert(0, ("POST", re.compile(r"(?:/v1)?/responses"), script))
        session(FIXTURES / "codex-0.171.0", api, script, home, env, codex.argv(), banner="OpenAI Codex",
                prompts=CODEX_PROMPTS, limit={"plan_type": "pro"}, cost=("/status", "Token usage"), close="Escape",
                quit="/quit")
    finally:
        api.stop()


def main(argv: list[str]) -> None:
    which = argv or ["claude", "codex"]
    with tempfile.TemporaryDirectory(prefix="bench-capture-") as root:
        for w in which:
            {"claude": capture_claude, "codex": capture_codex}[w](Path(root))


if __name__ == "__main__":
    main(sys.argv[1:])

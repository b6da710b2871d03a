"""Issue 23 items 1 and 2: text an agent shows never parks the team. A CLI's notice counts only as the
CLI draws it (its gutter, its position, its line end); the same words quoted, listed, tabled, fenced,
diffed, catted or quoted mid-sentence by the model are never a hit, a cost or a dialog. Each built-in
runtime is tried with every shape, offline (the Scanner `signatures test` uses) and live under
`teamctl rl-watch` with a fake runtime printing them."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from teamctl_supervisor.core.descriptors.loader import load_runtime
from teamctl_supervisor.core.scan.lookalike import shape
from teamctl_supervisor.core.scan.scanner import EventKind, Scanner

sys.path.insert(0, str(Path(__file__).parent))
from watchkit import FAKES, fake_env, rows  # noqa: E402

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)

#: Per runtime: a limit notice, a cost line and a dialog as the CLI draws them (each is caught plain,
#: which the first test checks), cited by the fixture they come from.
REAL = {
    # tests/fixtures/real_lines/claude-code.toml (@anthropic-ai/claude-code 2.1.197)
    "claude-code": ("You've hit your session limit · resets 4pm (Europe/Berlin)",
                    "  Session\n\n  Total cost:            $0.0123",
                    "Do you trust the files in this folder?"),
    # tests/fixtures/real_lines/codex.toml (@openai/codex 0.171.0)
    "codex": ("■ You’ve hit your usage limit. Try again at 4:30 PM.",
              "Token usage: total=1,532 input=1,200 output=332",
              "Trust this folder? Codex can read, edit, and run files here, subject to your permission settings."),
    # tests/fixtures/real_lines/gemini.toml (@google/gemini-cli 0.61.0)
    "gemini": ("Usage limit reached for gemini-2.5-pro. Access resets at 4:30 PM GMT+1.", None,
               "Do you trust the files in this folder?"),
    # tests/fixtures/real_lines/qwen-code.toml (@qwen-code/qwen-code 0.24.4)
    "qwen-code": ("✕ Rate limit exceeded. Please wait and try again. Retrying in 5s… (attempt 1/10)", None,
                  "Do you trust this folder?"),
    # tests/fixtures/real_lines/aider.toml (aider-chat 0.86.2)
    "aider": ("litellm.RateLimitError: RateLimitError: OpenAIException - You exceeded your current quota, please "
              "check your plan and billing details.",
              "Tokens: 2.1k sent, 310 received. Cost: $0.01 message, $0.02 session.", None),
    # supervisor/runtimes/copilot.toml (@github/copilot-linux-x64 1.0.102)
    "copilot": ("You've hit your rate limit. Please wait for your limit to reset (current limit resets in ~1 hour).",
                None, "Do you trust the files in this folder?"),
    # tests/test_new_runtimes.py (@factory/cli-linux-x64 0.225.2)
    "droid": ("Standard Usage limit reached. Select an option below to continue using Droid. Standard resets in "
              "3h 12m.", None, "Trust this folder?"),
    # tests/test_new_runtimes.py (opencode-linux-x64 1.18.34, the same in 1.19.5)
    "opencode": ("Error: Rate limit reached for gpt-5 in organization org-1 on tokens per min.", "$0.34 spent", None),
}

#: The shapes a notice takes in what the model writes or an agent reads (issue 23's twenty probes).
SHAPES = {
    "markdown quote": lambda n: f"> {n}",
    "table cell": lambda n: f"| limit | {n} |",
    "heading": lambda n: f"## {n}",
    "bullet": lambda n: f"- {n}",
    "star bullet": lambda n: f"* {n}",
    "round bullet": lambda n: f"• {n}",
    "numbered item": lambda n: f"2. {n}",
    "quoted string alone": lambda n: f'"{n}"',
    "fenced block": lambda n: f"```\n{n}\n```",
    "diff in a fence": lambda n: f"```diff\n+{n}\n-{n}\n```",
    "mid-sentence quote": lambda n: f"The CLI printed {n} and then it stopped.",
    "cat -n line": lambda n: f"    12\t{n}",
}

#: Look-alikes that are no shape of one notice: a test failure, prose about a dialog or a reset, estimates.
PROSE = [
    "AssertionError: expected status: 429, got 200",
    "E       AssertionError: expected status: 429, got 200",
    "FAILED tests/test_api.py::test_limit - AssertionError: expected status: 429, got 200",
    "Your usage limit has reset, so I continued with the migration.",
    "When it asks 'Do you trust the files in this folder?' choose the first option.",
    "Claude Code running in Bypass Permissions mode skips every permission prompt.",
    "WARNING: Claude Code running in Bypass Permissions mode is what the docs describe.",
    "1. Keep trying the request\n2. Stop",
    "1. Yes, I trust this folder\n2. Yes, I accept",
    "1. Switch to gpt-6-luna\n2. Keep current model",
    "Estimated cost: $3.00 to $36.00 for a full review of this repository",
    "Total cost: $999.00",
    "Pricing\n\nTotal cost: $999.00\nPer seat: $20.00",
    "Session limit reached yesterday, but it has reset since.",
]


def scan(runtime: str, text: str):
    scanner = Scanner(load_runtime(runtime), tz=ZoneInfo("Europe/Berlin"), clock=lambda: NOW)
    return scanner.feed((text + "\n").encode()) + scanner.finish()


def test_shape_names_each_lookalike_and_passes_the_clis_own_gutters():
    assert shape("> You've hit your limit") == "quote"
    assert shape("| a | b |") == "table"
    assert shape("2. Stop") == "numbered" and shape("2. Stop", dialog=True) is None
    for drawn in ("■ You’ve hit your usage limit.", "  ⎿  You've hit your session limit", "│ Usage limit reached",
                  "✕ Rate limit exceeded.", '{"type":"error","message":"x"}', '  "status": "RESOURCE_EXHAUSTED",',
                  "❯ 1. Yes, I trust this folder"):
        assert shape(drawn, dialog=True) is None, drawn


@pytest.mark.parametrize("runtime", sorted(REAL))
def test_each_runtimes_real_notice_cost_and_dialog_are_read_plain(runtime):
    notice, cost, dialog = REAL[runtime]
    assert [e for e in scan(runtime, notice) if e.kind is EventKind.RATE_LIMIT], notice
    if cost:
        assert [e for e in scan(runtime, cost) if e.kind is EventKind.COST], cost
    if dialog:
        assert [e for e in scan(runtime, dialog) if e.kind is EventKind.DIALOG], dialog


def _lookalikes(runtime: str) -> list[tuple[str, str]]:
    def each_line(make, text: str) -> str:
        return "\n".join(make(line) for line in text.split("\n") if line)

    found = [(f"{name} of the notice", each_line(make, REAL[runtime][0])) for name, make in SHAPES.items()]
    for i, what in ((1, "cost"), (2, "dialog")):
        if REAL[runtime][i]:
            found += [(f"{name} of the {what}", each_line(make, REAL[runtime][i])) for name, make in SHAPES.items()]
    return found + [(f"prose {i}", text) for i, text in enumerate(PROSE)]


@pytest.mark.parametrize("runtime", sorted(REAL))
def test_no_lookalike_is_a_hit_a_cost_or_a_dialog_offline(runtime):
    fired = []
    for name, text in _lookalikes(runtime):
        events = scan(runtime, text)
        if events:
            fired.append((name, text, [(e.kind.value, e.signature) for e in events]))
    assert fired == []


def test_a_lookalike_between_real_lines_leaves_the_real_ones_read():
    """The gate is per line: a fenced block closes, and the real notice after it still counts."""
    text = "```\nYou've hit your session limit · resets 4pm (Europe/Berlin)\n```\n" \
           "> You've hit your session limit · resets 4pm (Europe/Berlin)\n" \
           "  ⎿  You've hit your session limit · resets 5pm (Europe/Berlin)"
    hits = [e for e in scan("claude-code", text) if e.kind is EventKind.RATE_LIMIT]
    assert [e.reset_text for e in hits] == ["5pm (Europe/Berlin)"]


@pytest.mark.parametrize("runtime", sorted(REAL))
def test_no_lookalike_fires_live_under_rl_watch(runtime, tmp_path):
    """The same shapes printed by a fake runtime under `teamctl rl-watch --runtime <builtin>`: no
    rate-limit row, no budget row, no dialog answered; the real notice printed last is the one row."""
    import subprocess

    root = tmp_path / "team"
    (root / "runtimes").mkdir(parents=True)
    steps = [f"print:{text.encode('unicode_escape').decode('ascii')}" for _, text in _lookalikes(runtime)]
    steps += ["sleep:1", f"print:{REAL[runtime][0].encode('unicode_escape').decode('ascii')}", "sleep:1", "exit:0"]
    argv = [sys.executable, "-m", "teamctl_supervisor", "rl-watch", "solo:dev", "--runtime", runtime, "--root",
            str(root), "--restart", "never", "--max-wait", "1", "--fallback-wait", "1", "--",
            str(FAKES / "fake_agent.py"), *steps]
    done = subprocess.run(argv, cwd=root, env=fake_env(root), stdin=subprocess.DEVNULL, capture_output=True,
                          timeout=120)
    log = (root / "state" / "logs" / "solo-dev.log").read_text(encoding="utf-8", errors="replace") \
        if (root / "state" / "logs" / "solo-dev.log").exists() else ""
    out = done.stdout.decode("utf-8", "replace") + log
    assert "answered" not in out, out[-3000:]
    hits = [h["raw_match"].strip(" ■✕│") for h in rows(root, "SELECT raw_match FROM rate_limits")]
    notice = REAL[runtime][0].strip(" ■✕│")
    assert len(hits) == 1 and (hits[0] in notice or notice in hits[0]), (hits, out[-3000:])
    assert rows(root, "SELECT * FROM budget") == []

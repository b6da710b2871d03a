"""Cost and tokens from real CLI output: captures of the pinned CLIs against the fake API
(tests/fixtures/real_cli/) through the built-in descriptors, the Scanner, the CostLedger and the
Pricer. The fake API reports input 1034, output 56, cache read 200 per request; each figure below is
what the CLI printed or what the fake reported, and each spend is counted once however often it is
shown (a total printed again, per-model rows beside a total, a resumed session's totals, a turn seen
on the screen and in a structured channel)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from realcli.record import read_capture
from teamctl_supervisor.agent.budget import Pricer, load_prices
from teamctl_supervisor.core.costs import CostLedger, Spend
from teamctl_supervisor.core.descriptors.loader import load_descriptor
from teamctl_supervisor.core.scan.scanner import Event, EventKind, Scanner

FIXTURES = Path(__file__).parent / "fixtures" / "real_cli"
RUNTIMES = Path(__file__).parents[1] / "supervisor" / "runtimes"
FAKE_IN, FAKE_OUT, FAKE_CACHED = 1034, 56, 200  # tests/realcli/fakeapi: usage of every ok request


class Session:
    """One agent's scanner and ledger, fed real output process by process."""

    def __init__(self, runtime: str) -> None:
        self.runtime = load_descriptor(RUNTIMES / f"{runtime}.toml")
        self.scanner = Scanner(self.runtime, tz=ZoneInfo("UTC"), clock=lambda: datetime(2026, 12, 1, tzinfo=UTC))
        self.ledger = CostLedger()
        self.spends: list[tuple[Spend, Event]] = []
        self.events: list[Event] = []

    def run(self, name: str, *, resumed: bool = False) -> list[Event]:
        """A new runtime process whose output is fixture `name` (a pty capture, or a plain file)."""
        self.scanner.new_session()
        self.ledger.new_session(resumed=resumed)
        path = FIXTURES / name
        chunks = [b for _, b in read_capture(path)] if path.suffix == ".jsonl" and "/headless/" not in name \
            else [path.read_bytes()]
        events = [e for chunk in chunks for e in self.scanner.feed(chunk)] + self.scanner.finish()
        costs = [e for e in events if e.kind is EventKind.COST]
        for event in costs:
            spend = self.ledger.observe(event)
            if spend is not None:
                self.spends.append((spend, event))
        self.events += costs
        return costs

    def usd(self) -> float:
        pricer = Pricer(load_prices())
        return sum(pricer.usd(spend, event.model) for spend, event in self.spends)

    def tokens(self) -> tuple[int, int, int]:
        return (sum(s.input_tok for s, _ in self.spends), sum(s.output_tok for s, _ in self.spends),
                sum(s.cached_tok for s, _ in self.spends))

    def by_model(self) -> dict[str | None, tuple[int, int, int]]:
        out: dict[str | None, tuple[int, int, int]] = {}
        for spend, event in self.spends:
            i, o, c = out.get(event.model, (0, 0, 0))
            out[event.model] = (i + spend.input_tok, o + spend.output_tok, c + spend.cached_tok)
        return out


def per_million(tokens: int, price: float) -> float:
    return tokens * price / 1_000_000


# -- Claude Code ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("capture", "usd", "model"), [
    ("claude-2.1.197/exchange.jsonl", 0.0067, "claude-opus-4-8"),  # `($0.0067)` on the row's next line
    ("claude-2.1.197/exchange-200x50.jsonl", 0.0067, "claude-opus-4-8"),
    ("claude-2.1.333/exchange.jsonl", 0.0053, "claude-opus-5-5"),  # "Estimated cost:"
    ("claude-2.1.333/exchange-200x50.jsonl", 0.0053, "claude-opus-5-5"),
])
def test_claude_cost_screen_total_and_model_row_count_once(capture: str, usd: float, model: str) -> None:
    s = Session("claude-code")
    events = s.run(capture)
    assert {e.signature for e in events} == {"cc-cost-total", "cc-cost-model-row"}  # both forms were read
    assert [e.usd for e in events if e.signature == "cc-cost-model-row"] == [usd]
    assert s.usd() == pytest.approx(usd, abs=1e-9)  # the total and the row: once, as printed
    # the row's tokens, to the CLI's precision (`1.0k input`; input counts the 200 cache reads)
    assert s.tokens() == (1000 + FAKE_CACHED, FAKE_OUT, FAKE_CACHED)
    assert {e.model for e in events} == {None, model}


@pytest.mark.parametrize(("capture", "usd"), [
    ("claude-2.1.197/headless/print-json.stdout.json", 0.00667),
    ("claude-2.1.197/headless/print-stream-json.stdout.jsonl", 0.00667),
    ("claude-2.1.333/headless/print-json.stdout.json", 0.005296),
    ("claude-2.1.333/headless/print-stream-json.stdout.jsonl", 0.005296),
])
def test_claude_headless_result_is_exact(capture: str, usd: float) -> None:
    s = Session("claude-code")
    s.run(capture)
    assert s.usd() == pytest.approx(usd, abs=1e-9)
    assert s.tokens() == (FAKE_IN + FAKE_CACHED, FAKE_OUT, FAKE_CACHED)


def test_claude_headless_limit_result_adds_nothing() -> None:
    s = Session("claude-code")
    s.run("claude-2.1.333/headless/print-json-limit.stdout.json")
    assert s.spends == []


def test_claude_cost_screen_opened_twice_and_after_a_resume_counts_once() -> None:
    s = Session("claude-code")
    s.run("claude-2.1.333/exchange.jsonl")
    s.scanner.new_session()  # /cost opened again in the same process: the same capture's bytes again
    for chunk in (b for _, b in read_capture(FIXTURES / "claude-2.1.333/exchange.jsonl")):
        for event in s.scanner.feed(chunk):
            if event.kind is EventKind.COST:
                assert s.ledger.observe(event) is None
    s.run("claude-2.1.333/exchange.jsonl", resumed=True)  # --continue: the restored total, printed again
    assert s.usd() == pytest.approx(0.0053, abs=1e-9)
    s.run("claude-2.1.333/exchange.jsonl")  # a fresh session (no resume): its own spend
    assert s.usd() == pytest.approx(2 * 0.0053, abs=1e-9)


# -- Codex ---------------------------------------------------------------------------------------------

GPT_6_2_SOL = (1.25, 10.0, 0.125)  # patterns/prices.toml (a family price: see its comment)


@pytest.mark.parametrize("capture", ["codex-0.171.0/tui-normal-80x24.jsonl", "codex-0.171.0/tui-normal-200x50.jsonl"])
def test_codex_status_then_exit_line_counts_once_exactly(capture: str) -> None:
    s = Session("codex")
    events = s.run(capture)
    # /status (`1.09K total (1.03K input + 56 output)`) first, then /quit's exact line
    assert [e.signature for e in events] == ["codex-status-token-usage", "codex-token-usage"]
    assert (events[0].input_tokens, events[0].output_tokens) == (1030, 56)
    assert s.tokens() == (FAKE_IN + FAKE_CACHED, FAKE_OUT, FAKE_CACHED)
    assert all(event.model is None for _, event in s.spends)
    pricer = Pricer(load_prices())
    usd = sum(pricer.usd(spend, "gpt-6.2-sol") for spend, _ in s.spends)
    i, o, c = GPT_6_2_SOL
    assert usd == pytest.approx(per_million(FAKE_IN, i) + per_million(FAKE_OUT, o) + per_million(FAKE_CACHED, c))


def test_codex_exec_tokens_used_on_the_next_line() -> None:
    s = Session("codex")
    events = s.run("codex-0.171.0/exec-normal.stderr.txt")
    assert [e.signature for e in events] == ["codex-exec-tokens-used"]
    assert s.tokens() == (1090, 0, 0)  # `1,090`: all Codex prints (non-cached input + output, no split)


def test_codex_exec_json_turn_completed() -> None:
    s = Session("codex")
    s.run("codex-0.171.0/exec-json-normal.stdout.txt")
    assert s.tokens() == (FAKE_IN + FAKE_CACHED, FAKE_OUT, FAKE_CACHED)


def test_codex_limit_session_counts_its_one_ok_turn() -> None:
    s = Session("codex")
    s.run("codex-0.171.0/tui-usage-limit-80x24.jsonl")
    assert s.tokens() == (FAKE_IN + FAKE_CACHED, FAKE_OUT, FAKE_CACHED)


def test_codex_resumed_session_reprinting_its_totals_counts_once() -> None:
    s = Session("codex")
    s.run("codex-0.171.0/tui-normal-80x24.jsonl")
    s.run("codex-0.171.0/tui-resume-last-80x24.jsonl", resumed=True)  # the replay: no request, no new figures
    s.run("codex-0.171.0/tui-normal-80x24.jsonl", resumed=True)  # the same totals printed again
    assert s.tokens() == (FAKE_IN + FAKE_CACHED, FAKE_OUT, FAKE_CACHED)


def test_codex_exec_resumed_by_the_watcher_prints_the_session_total_and_only_its_growth_counts() -> None:
    """`codex exec … 'second prompt' resume --last` (the respawn's argv) ends with `tokens used` / `2,180`:
    the whole session's, the first run's 1,090 inside it."""
    s = Session("codex")
    s.run("codex-0.171.0/exec-normal.stderr.txt")
    assert s.tokens()[0] == 1090
    (resumed,) = s.run("codex-0.171.0/exec-resumed.stderr.txt", resumed=True)
    assert resumed.input_tokens == 2180 and resumed.total
    assert s.tokens()[0] == 2180  # each run's turn once: 1,090 + 1,090


# -- Gemini CLI ----------------------------------------------------------------------------------------


def gemini_usd() -> float:
    prices = load_prices()
    total = 0.0
    for model in ("gemini-3-5-flash-lite", "gemini-3-8-flash"):  # the router and the turn
        p = prices[model]
        assert p.cache_read is not None
        total += per_million(FAKE_IN, p.input) + per_million(FAKE_OUT, p.output)
        total += per_million(FAKE_CACHED, p.cache_read)
    return total


@pytest.mark.parametrize("capture", ["gemini-0.61.0/interactive-normal-80x24.jsonl",
                                     "gemini-0.61.0/interactive-normal-200x50.jsonl"])
def test_gemini_stats_rows_per_model_count_once(capture: str) -> None:
    s = Session("gemini")
    events = s.run(capture)
    assert len(events) >= 4  # /stats and the exit summary: each model's row twice or more
    expected = (FAKE_IN + FAKE_CACHED, FAKE_OUT, FAKE_CACHED)  # Input Tokens 1,234 counts the 200 cached
    assert s.by_model() == {"gemini-3.5-flash-lite": expected, "gemini-3.8-flash": expected}
    assert s.usd() == pytest.approx(gemini_usd())


def test_gemini_stream_json_result_per_model_and_whole_count_once() -> None:
    s = Session("gemini")
    events = s.run("gemini-0.61.0/headless-stream-json-ok.stdout")
    assert [e.signature for e in events] == ["gemini-stream-json-model-1", "gemini-stream-json-model-2",
                                             "gemini-stream-json-result"]
    expected = (FAKE_IN + FAKE_CACHED, FAKE_OUT, FAKE_CACHED)
    assert s.by_model() == {"gemini-3.5-flash-lite": expected, "gemini-3.8-flash": expected}
    assert s.usd() == pytest.approx(gemini_usd())


def test_gemini_json_document_per_model_is_exact_and_counts_once() -> None:
    """`-p --output-format json`: one pretty-printed document, read whole (json_documents)."""
    s = Session("gemini")
    events = s.run("gemini-0.61.0/headless-json-ok.stdout")
    assert [e.signature for e in events] == ["gemini-json-model-1", "gemini-json-model-2"]
    expected = (FAKE_IN + FAKE_CACHED, FAKE_OUT, FAKE_CACHED)
    assert s.by_model() == {"gemini-3.5-flash-lite": expected, "gemini-3.8-flash": expected}
    assert s.usd() == pytest.approx(gemini_usd())
    s.run("gemini-0.61.0/headless-json-quota.stdout")
    assert s.usd() == pytest.approx(gemini_usd())  # an error document adds nothing


def test_gemini_stream_json_at_a_limit_adds_nothing() -> None:
    s = Session("gemini")
    s.run("gemini-0.61.0/headless-stream-json-quota.stdout")
    assert s.spends == []


# -- aider ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("capture", ["aider-0.86.2/normal-80x24.jsonl", "aider-0.86.2/normal-200x50.jsonl"])
def test_aider_message_cost_as_printed(capture: str) -> None:
    s = Session("aider")
    s.run(capture)
    assert s.usd() == pytest.approx(0.0060, abs=1e-9)  # `Cost: $0.0060 message, $0.0060 session.`
    assert s.tokens() == (2400, 6, 0)  # `Tokens: 2.4k sent, 6 received.`


# -- qwen-code -------------------------------------------------------------------------------------------
# qwen 0.24.4 makes two requests a prompt here (the turn and its memory extractor): 2 x 1234 prompt
# tokens (cache reads included, 2 x 200) and 2 x 56 out, priced as qwen3-coder-plus.
QWEN_TOKENS = (2468, 112, 400)
QWEN_USD = per_million(2468 - 400, 1.0) + per_million(400, 0.2) + per_million(112, 5.0)


def test_qwen_headless_json_result_is_exact() -> None:
    s = Session("qwen-code")
    s.run("qwen-0.24.4/headless-json.stdout.txt")
    assert s.tokens() == QWEN_TOKENS and set(s.by_model()) == {"qwen3-coder-plus"}
    assert s.usd() == pytest.approx(QWEN_USD, abs=1e-9)


def test_qwen_stats_panel_shown_twice_and_after_a_resume_counts_once() -> None:
    s = Session("qwen-code")
    shown = s.run("qwen-0.24.4/normal-200x50.jsonl")
    assert len(shown) == 2  # /stats, then the same totals in the exit summary
    assert s.tokens() == QWEN_TOKENS
    s.run("qwen-0.24.4/normal-200x50.jsonl", resumed=True)  # a resumed session prints its totals again
    assert s.tokens() == QWEN_TOKENS


def test_qwen_at_its_quota_adds_nothing() -> None:
    s = Session("qwen-code")
    s.run("qwen-0.24.4/headless-json-quota.stdout.txt")
    s.run("qwen-0.24.4/quota-200x50.jsonl")
    assert s.tokens() == (0, 0, 0)


# -- opencode ------------------------------------------------------------------------------------------
# opencode-linux-x64 1.18.33's TUI under rl-watch at 200x50 (the watcher's output log, split at the
# respawn), its model priced at $250 / $1000 / $125 per million input / output / cache-read tokens so the
# two-decimal footer shows the answers: `$0.34` after one, `$0.68` after the second in the session the
# watcher resumed with `--continue` (which first shows the old `$0.34` again).


def test_opencode_footer_repainted_in_place_and_after_a_resume_counts_each_answer_once() -> None:
    s = Session("opencode")
    first = s.run("opencode-1.18.33/tui-answer-200x50.pty")
    assert {e.usd for e in first} == {0.0, 0.34} and s.usd() == pytest.approx(0.34)  # `$0.00 spent` first
    second = s.run("opencode-1.18.33/tui-resumed-answer-200x50.pty", resumed=True)
    assert second[0].usd == 0.34 and second[-1].usd == 0.68  # the old total, then the new
    assert s.usd() == pytest.approx(0.68, abs=1e-9)  # what the footer shows: each answer once


def test_opencode_footer_digits_written_alone_are_missed_without_the_screen_cells() -> None:
    """The second answer draws only `68` over `34`: the byte stream alone never holds `$0.68`."""
    s = Session("opencode")
    costs = tuple(dataclasses.replace(c, in_place=False) for c in s.runtime.costs)
    s.scanner = Scanner(dataclasses.replace(s.runtime, costs=costs), tz=ZoneInfo("UTC"))
    s.run("opencode-1.18.33/tui-resumed-answer-200x50.pty", resumed=True)
    assert max(e.usd for e in s.events) == 0.34


# -- a structured channel beside the screen ------------------------------------------------------------


def test_screen_total_and_structured_report_of_the_same_turn_count_once() -> None:
    s = Session("claude-code")
    s.run("claude-2.1.197/exchange-200x50.jsonl")
    # the same turn as a structured channel (a Stop hook / transcript reader) would report it
    turn = Event(EventKind.COST, 0, "transcript", "cc-transcript", usd=0.00667, input_tokens=FAKE_IN,
                 output_tokens=FAKE_OUT, cached_tokens=FAKE_CACHED, cached_in_input=False)
    spend = s.ledger.observe(turn, source="transcript")
    # only what the exact report adds over the screen's rounded figures (`1.0k input`, `$0.0067`):
    # 34 input tokens, no dollars
    assert spend is not None and (spend.input_tok, spend.output_tok, spend.usd) == (34, 0, 0.0)
    assert s.ledger.observe(turn, source="screen") is None  # and the screen's copy of it: nothing
    assert s.ledger.observe(turn, source="transcript") is not None  # a second turn adds

"""Tests for supervisor.costs (running totals become deltas, bad figures refused) and supervisor.figures."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from teamctl_supervisor.core.costs import CostLedger, Spend
from teamctl_supervisor.core.descriptors.loader import load_descriptor
from teamctl_supervisor.core.scan.figures import parse_count, parse_figure
from teamctl_supervisor.core.scan.scanner import Event, EventKind, Scanner


def cost(usd: float | None = None, inp: int | None = None, out: int | None = None, *, total: bool = False,
         sig: str = "sig") -> Event:
    return Event(EventKind.COST, 1, f"cost {usd} {inp} {out}", sig, usd=usd, input_tokens=inp,
                 output_tokens=out, total=total)


# -- ledger ---------------------------------------------------------------------------------------------


def test_running_total_printed_three_times_records_only_increases() -> None:
    ledger = CostLedger()
    assert ledger.observe(cost(0.10, 1000, 200, total=True)) == Spend(0.10, 1000, 200, True)
    assert ledger.observe(cost(0.10, 1000, 200, total=True)) is None
    assert ledger.observe(cost(0.10, 1000, 200, total=True)) is None
    spend = ledger.observe(cost(0.25, 1500, 260, total=True))
    assert spend is not None
    assert spend.usd == pytest.approx(0.15) and (spend.input_tok, spend.output_tok) == (500, 60)


def test_running_total_that_drops_records_nothing() -> None:
    ledger = CostLedger()
    ledger.observe(cost(2.0, total=True))
    assert ledger.observe(cost(1.5, total=True)) is None
    spend = ledger.observe(cost(2.5, total=True))
    assert spend is not None and spend.usd == pytest.approx(0.5)


def test_two_signatures_of_one_session_total_count_once() -> None:
    # Codex's /status and its exit line, Claude Code's "Total cost" and JSON result: one session's total
    ledger = CostLedger()
    assert ledger.observe(cost(1.0, total=True, sig="a")) == Spend(1.0, 0, 0, True)
    assert ledger.observe(cost(1.0, total=True, sig="b")) is None
    assert ledger.observe(cost(1.5, total=True, sig="b")) == Spend(0.5, 0, 0, True)


def test_new_session_resets_the_running_total() -> None:
    ledger = CostLedger()
    assert ledger.observe(cost(0.40, total=True)) == Spend(0.40, 0, 0, True)
    assert ledger.observe(cost(0.40, total=True)) is None
    ledger.new_session()
    assert ledger.observe(cost(0.40, total=True)) == Spend(0.40, 0, 0, True)


@pytest.mark.parametrize("event", [
    cost(-0.01), cost(1000.01), cost(float("nan")), cost(float("inf")),
    cost(0.5, inp=-3), cost(0.5, out=200_000_000), cost(float("nan"), total=True), cost(-1.0, total=True),
], ids=["negative", "over-1000", "nan", "inf", "negative-tokens", "absurd-tokens", "nan-total",
        "negative-total"])
def test_unbelievable_cost_line_is_refused(event: Event) -> None:
    assert CostLedger().observe(event) is None


def test_refused_total_does_not_move_the_running_total() -> None:
    ledger = CostLedger()
    ledger.observe(cost(1.0, total=True))
    assert ledger.observe(cost(float("nan"), total=True)) is None
    spend = ledger.observe(cost(1.5, total=True))
    assert spend is not None and spend.usd == pytest.approx(0.5)


def test_jump_of_a_running_total_over_the_line_cap_is_refused() -> None:
    ledger = CostLedger(max_usd=100.0)
    ledger.observe(cost(1.0, total=True))
    assert ledger.observe(cost(99.0, total=True)) is not None
    assert CostLedger(max_usd=100.0).observe(cost(150.0, total=True)) is None


def test_running_total_past_the_line_cap_still_records_its_increase() -> None:
    # A long session's *total* may pass $1000 (or 100M tokens with cache reads); the cap is for what one
    # line adds. Refusing the total stops all spend from being recorded for the rest of the session.
    ledger = CostLedger()
    assert ledger.observe(cost(999.50, total=True)) is not None
    spend = ledger.observe(cost(1000.50, total=True))
    assert spend is not None and spend.usd == pytest.approx(1.0)
    ledger = CostLedger()
    assert ledger.observe(cost(None, 99_999_000, 10, total=True)) is not None
    spend = ledger.observe(cost(None, 100_001_000, 20, total=True))
    assert spend is not None and (spend.input_tok, spend.output_tok, spend.priced) == (2000, 10, False)


def test_per_step_lines_add() -> None:
    ledger = CostLedger()
    spends = [ledger.observe(cost(0.01, 100, 10)) for _ in range(3)]
    assert spends == [Spend(0.01, 100, 10, True)] * 3
    assert sum(s.usd for s in spends if s) == pytest.approx(0.03)


def test_step_line_with_tokens_only_is_unpriced() -> None:
    assert CostLedger().observe(cost(None, 500, 50)) == Spend(0.0, 500, 50, False)


def test_zero_step_line_records_nothing() -> None:
    assert CostLedger().observe(cost(0.0, 0, 0)) is None


def test_scanned_running_total_through_the_ledger(tmp_path: Path) -> None:
    path = tmp_path / "aider.toml"
    path.write_text(
        "# aider 0.86: 'Tokens: 12k sent, 340 received. Cost: $0.01 message, $0.05 session.'\n"
        '[launch]\nbinary = "aider"\n'
        "[[cost]]\nid = 'session'\nkeywords = ['session']\ntotal = true\n"
        r"match = 'Cost: \$[0-9.]+ message, (?P<usd>\$[0-9.,]+) session'" "\n")
    sc = Scanner(load_descriptor(path), tz=ZoneInfo("UTC"), clock=lambda: datetime(2025, 1, 1, tzinfo=UTC))
    ledger = CostLedger()
    lines = [b"Tokens: 12k sent. Cost: $0.01 message, $0.05 session.\n"] * 3 + [
        b"Tokens: 9k sent. Cost: $0.02 message, $0.07 session.\n"]
    spends = [ledger.observe(e) for line in lines for e in sc.feed(line)]
    assert [s.usd if s else None for s in spends] == [pytest.approx(0.05), None, None, pytest.approx(0.02)]


# -- figures --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "value"), [
    ("48,213", 48213.0), ("12.3k", 12300.0), ("12.3K", 12300.0), ("1.2M", 1_200_000.0), ("$0.0123", 0.0123),
    ("$ 3", 3.0), (" 7 ", 7.0), ("1,234.5", 1234.5), (".5", 0.5), ("2b", 2e9), ("1_000", 1000.0), ("0", 0.0),
    ("12.3 k", 12300.0),
])
def test_parse_figure(text: str, value: float) -> None:
    assert parse_figure(text) == pytest.approx(value)


@pytest.mark.parametrize("text", [
    None, "", "abc", "-5", "1.2.3", "1e5", "nan", "inf", "$", "12x", "1.234,56", "9" * 41, "k", "1 2",
])
def test_parse_figure_refuses_anything_else(text: str | None) -> None:
    assert parse_figure(text) is None


@pytest.mark.parametrize(("text", "value"), [
    ("48,213", 48213), ("12.3k", 12300), ("1.2M", 1_200_000), ("1.5", 2), ("999.4", 999), (None, None),
    ("x", None),
])
def test_parse_count(text: str | None, value: int | None) -> None:
    assert parse_count(text) == value

"""Copilot CLI's usage file as a structured channel: real files written by @github/copilot-linux-x64
1.0.102 (BYOK, against the fake API: tests/fixtures/real_cli/copilot-1.0.102/), read when the run ends;
a missing, cut-short or unknown file leaves the screen alone with one log line."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from teamctl_supervisor.agent.channels.base import ChannelEvent
from teamctl_supervisor.agent.channels.tailer import ChannelTailer
from teamctl_supervisor.agent.settings import WatchSettings
from teamctl_supervisor.core.costs import CostLedger
from teamctl_supervisor.core.descriptors.loader import load_runtime
from teamctl_supervisor.core.scan.scanner import EventKind, Scanner
from teamctl_supervisor.store import layout
from teamctl_supervisor.store.mailbox import Store

REAL = Path(__file__).parent / "fixtures" / "real_cli" / "copilot-1.0.102"


def _settings(tmp_path: Path) -> WatchSettings:
    state = tmp_path / "state"
    state.mkdir(exist_ok=True)
    return WatchSettings(agent_id="p:a", project_id="p", runtime=load_runtime("copilot"), argv=("copilot",),
                         cwd=tmp_path, env={}, tz=ZoneInfo("UTC"), mailbox=state / "mailbox.db", state_dir=state)


def _run(tmp_path: Path, write: str | None, caplog: pytest.LogCaptureFixture) -> tuple[list, list[str], list[str]]:
    """Launch args, then the run ends with `write` (a fixture name, or raw text) as its usage file."""
    s = _settings(tmp_path)
    with Store(s.mailbox) as st, caplog.at_level(logging.WARNING):
        tailer = ChannelTailer(s, st, lambda: 1000.0)
        args = tailer.launch_args(["copilot", "-p", "hi"])
        if write is not None:
            path = Path(args[1])
            if (REAL / write).exists():
                shutil.copy(REAL / write, path)
            else:
                path.write_text(write)
            os.utime(path, (1001.0, 1001.0))
        assert tailer.poll(1001.0) == []  # nothing while the run goes on
        events = tailer.poll(1002.0, final=True)
        assert tailer.poll(1003.0, final=True) == []  # read once
    said = [r.getMessage() for r in caplog.records if "screen is read alone" in r.getMessage()]
    return events, args, said


def test_the_run_is_given_a_usage_file_of_its_own_under_state(tmp_path: Path) -> None:
    s = _settings(tmp_path)
    old = layout.copilot_usage_file(s.state_dir, s.log_name)
    old.parent.mkdir(parents=True)
    old.write_text("{}")  # an earlier run's
    with Store(s.mailbox) as st:
        tailer = ChannelTailer(s, st, lambda: 1000.0)
        assert tailer.launch_args(["copilot"]) == ["--usage-output-file", str(old)]
        assert not old.exists()
        assert tailer.launch_args(["copilot", "--usage-output-file=mine.json"]) == []  # the user's own


def test_the_usage_file_gives_each_models_exact_session_total(tmp_path: Path, caplog) -> None:
    events, _, said = _run(tmp_path, "usage-file.json", caplog)
    assert [(e.model, e.input_tokens, e.output_tokens, e.cached_tokens, e.total, e.source) for e in events] == [
        ("gpt-4o", 1234, 56, 200, True, "copilot-usage-file")]
    assert said == []


@pytest.mark.parametrize(("write", "why"), [
    (None, "wrote no usage file"),
    ('{"modelMetrics": {"gpt-4o": {"usage": {"inputTok', "not JSON"),
    ('{"version": 2, "models": []}', "unknown format"),
])
def test_a_missing_cut_short_or_unknown_file_is_said_once_and_gives_nothing(tmp_path: Path, caplog, write, why) -> None:
    events, _, said = _run(tmp_path, write, caplog)
    assert events == [] and len(said) == 1 and why in said[0]


def test_a_symlink_in_its_place_is_not_followed(tmp_path: Path, caplog) -> None:
    s = _settings(tmp_path)
    secret = tmp_path / "elsewhere.json"
    shutil.copy(REAL / "usage-file.json", secret)
    with Store(s.mailbox) as st, caplog.at_level(logging.WARNING):
        tailer = ChannelTailer(s, st, lambda: 1000.0)
        path = Path(tailer.launch_args(["copilot"])[1])
        path.symlink_to(secret)
        assert tailer.poll(1002.0, final=True) == []
    assert any("cannot read" in r.getMessage() for r in caplog.records)


def test_screen_totals_go_on_live_and_the_file_adds_only_what_they_rounded_away() -> None:
    """The TUI's `↑ 1.2k (200 cached) • ↓ 56` counts at once; the exit file's exact 1,234 adds 34. A
    `--continue`d run (its file holds both runs: 2,468) adds the second turn, and the screen's
    reprint of the old total adds nothing."""
    ledger = CostLedger()
    scanner = Scanner(load_runtime("copilot"), tz=ZoneInfo("UTC"))
    screen = [e for e in scanner.feed("   Tokens     ↑ 1.2k (200 cached) • ↓ 56\r\n     gpt-4o ↑ 1.2k (200 "
                                     "cached) • ↓ 56\r\n".encode()) + scanner.finish() if e.kind is EventKind.COST]
    first = ledger.observe(screen[0])
    assert first is not None and (first.input_tok, first.output_tok) == (1200, 56)

    def exit_file(name: str) -> list:
        import json

        doc = json.loads((REAL / name).read_text())
        u = doc["modelMetrics"]["gpt-4o"]["usage"]
        return [ChannelEvent(EventKind.COST, 0, "usage file", "copilot-usage-file", model="gpt-4o",
                                input_tokens=u["inputTokens"], output_tokens=u["outputTokens"],
                                cached_tokens=u["cacheReadTokens"], total=True, source="copilot-usage-file")]

    (exact,) = exit_file("usage-file.json")
    spend = ledger.observe(exact)
    assert spend is not None and (spend.input_tok, spend.output_tok) == (34, 0)
    ledger.new_session(resumed=True)
    assert ledger.observe(screen[0]) is None  # the resumed TUI shows the old total again
    (both,) = exit_file("usage-file-continued.json")
    spend = ledger.observe(both)
    assert spend is not None and (spend.input_tok, spend.output_tok, spend.cached_tok) == (1234, 56, 200)


def test_json_output_prints_no_tokens_so_only_the_file_has_them() -> None:
    """`-p --output-format json` (JSONL): its result event has premium requests and durations only."""
    scanner = Scanner(load_runtime("copilot"), tz=ZoneInfo("UTC"))
    data = (REAL / "prompt-json.stdout.jsonl").read_bytes()
    assert b'"type":"result"' in data
    assert [e for e in scanner.feed(data) + scanner.finish() if e.kind is EventKind.COST] == []

"""The scanner on real screens: pty captures of the pinned CLIs (tests/fixtures/real_cli/), byte for
byte as they drew them, through the built-in descriptors. Each case failed before the screen reading
of the real-CLI issue: cursor moves between words, same-row jumps, rows wrapped at 80 columns."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from realcli.record import read_capture
from teamctl_supervisor.core.descriptors.loader import load_runtime
from teamctl_supervisor.core.scan.scanner import Event, EventKind, Scanner

CAPTURES = Path(__file__).parent / "fixtures" / "real_cli"


def scan(runtime: str, capture: str, now: datetime) -> list[Event]:
    scanner = Scanner(load_runtime(runtime, None), tz=ZoneInfo("UTC"), clock=lambda: now)
    events: list[Event] = []
    for _, data in read_capture(CAPTURES / capture):
        events += scanner.feed(data)
    return events + scanner.finish()


def kinds(events: list[Event], kind: EventKind) -> list[Event]:
    return [e for e in events if e.kind is kind]


NOW = datetime(2026, 12, 1, 23, 0, tzinfo=UTC)  # before every capture was made


def soon(reset: datetime | None) -> bool:
    """A reset read as the clock time the CLI printed: on a whole minute, hours away at most."""
    return reset is not None and reset.second == 0 and 0 < (reset - NOW).total_seconds() < 6 * 3600


@pytest.mark.parametrize(("capture", "keys"), [
    ("claude-2.1.197/trust-dialog.jsonl", ["\r"]),  # Yes is focused: confirm
    ("claude-2.1.333/trust-dialog.jsonl", ["\x1b[B", "\r"]),  # No is focused: down, then confirm
])
def test_claude_trust_dialog_drawn_with_cursor_moves_is_answered_yes(capture: str, keys: list[str]) -> None:
    assert [e.send for e in kinds(scan("claude-code", capture, NOW), EventKind.DIALOG)] == keys


def test_claude_2_1_333_limit_and_its_auto_continue_are_read_with_the_reset() -> None:
    hits = kinds(scan("claude-code", "claude-2.1.333/limit.jsonl", NOW), EventKind.RATE_LIMIT)
    assert hits[0].signature == "cc2-hit-your-limit" and "5-hour limit" in hits[0].raw
    auto = [h for h in hits if h.signature == "cc2-auto-continue"]
    assert auto and all(h.resume_keys == "" for h in auto)
    (reset,) = {h.resets_at for h in hits}  # one reset, read alike from every line
    assert soon(reset)


def test_claude_2_1_333_relaunched_during_its_auto_continue_is_sent_a_prompt() -> None:
    """`--continue` after the CLI exited during its wait: it says it will not resume on its own (real
    capture), so the watcher types the prompt it asks for; the redrawn limit notice is history there."""
    events = scan("claude-code", "claude-2.1.333/continue.jsonl", NOW)
    dialogs = kinds(events, EventKind.DIALOG)
    assert [(d.signature, d.send) for d in dialogs] == [("cc2-auto-continue-cancelled", "continue\r")]


@pytest.mark.parametrize("line", [
    # @anthropic-ai/claude-code-linux-x64 2.1.333: strings, drawn as its TUI draws a notice (● gutter, cursor moves)
    "\x1b[93m●\x1b[3GAutomatic continue stopped · the usage limit now resets more than 24 hours out, so this",
    "\x1b[93m●\x1b[3GAutomatic continue stopped after repeated usage limit hits · This task will not resume",
    "●\x1b[3GGoal paused · usage limit reached · send a message after it resets to continue",
])
def test_claude_2_1_333_giving_up_its_own_wait_hands_the_resume_to_the_watcher(line: str) -> None:
    events = [e for e in Scanner(load_runtime("claude-code", None), tz=UTC, clock=lambda: NOW).feed(
        line.encode() + b"\r\n") if e.kind is EventKind.RATE_LIMIT]
    assert [(e.signature, e.action.value, e.resume_keys) for e in events] == [
        ("cc2-auto-continue-stopped", "resume", "continue\r")]


def test_claude_2_1_197_limit_menu_is_answered_stop_and_wait() -> None:
    events = scan("claude-code", "claude-2.1.197/limit.jsonl", NOW)
    assert [e.signature for e in kinds(events, EventKind.DIALOG)] == ["cc2-limit-menu"]
    assert soon(kinds(events, EventKind.RATE_LIMIT)[0].resets_at)


@pytest.mark.parametrize("version", ["2.1.197", "2.1.333"])
def test_the_models_prose_about_limits_is_no_hit(version: str) -> None:
    assert kinds(scan("claude-code", f"claude-{version}/prose-limit-talk.jsonl", NOW), EventKind.RATE_LIMIT) == []


def test_codex_limit_wrapped_over_three_rows_at_80_columns_keeps_its_reset_and_model_prompt_kept() -> None:
    events = scan("codex", "codex-0.171.0/tui-usage-limit-80x24.jsonl", NOW)
    hit = kinds(events, EventKind.RATE_LIMIT)[0]
    assert soon(hit.resets_at)  # "at Dec 2nd, 2026 2:11 AM." stands on row 3
    assert [e.send for e in kinds(events, EventKind.DIALOG)] == ["2"]  # "2. Keep current model"


def test_aider_quota_wrapped_at_80_columns_is_a_stop_not_a_retry() -> None:
    hits = kinds(scan("aider", "aider-0.86.2/quota-80x24.jsonl", NOW), EventKind.RATE_LIMIT)
    # each attempt: the quota (a stop), then aider's own "rate limited you" line and countdown (a record
    # of the same limit, which a blocking hit absorbs): never a retry-only reading
    assert hits and hits[0].action.value == "stop"
    stops = [h for h in hits if h.action.value == "stop"]
    assert len(stops) * 2 == len(hits) and all(h.action.value in ("stop", "record") for h in hits)


def test_gemini_usage_limit_dialog_is_answered_stop() -> None:
    events = scan("gemini", "gemini-0.61.0/interactive-usage_limit-200x50.jsonl", NOW)
    assert "2" in [e.send for e in kinds(events, EventKind.DIALOG)]
    assert soon(kinds(events, EventKind.RATE_LIMIT)[0].resets_at)


def _scan_text(runtime: str, data: bytes) -> list[Event]:
    scanner = Scanner(load_runtime(runtime, None), tz=ZoneInfo("UTC"), clock=lambda: NOW)
    return scanner.feed(data) + scanner.finish()


def test_claude_2_1_334_new_lines_limit_reset_answer_is_no_hit_and_repository_trust_is_answered() -> None:
    """@anthropic-ai/claude-code-linux-x64 2.1.334, strings: `/limit-reset` on an account that cannot
    reset a limit itself, and the trust dialog's label for a folder in a named repository, drawn with
    the cursor moves of the TUI."""
    for reply in ("Claude Code can't reset your session limit · see Usage in Settings for any resets you have",
                  "Claude Code can't reset your weekly limit · any resets you have are at "
                  "https://claude.ai/settings/usage"):
        line = b"\x1b[12;1H\xe2\x8e\xbf  " + reply.encode().replace(b" ", b"\x1b[1C") + b"\r\n"
        assert kinds(_scan_text("claude-code", line), EventKind.RATE_LIMIT) == []
    trust = (b"\x1b[8;3HQuick\x1b[1Csafety\x1b[1Ccheck\x1b[10;3H\xe2\x9d\xaf\x1b[1C1.\x1b[1CYes,\x1b[1CI\x1b[1Ctrust"
             b"\x1b[1Cthis\x1b[1Cfolder\x1b[1Cand\x1b[1Cits\x1b[1Crepository\x1b[11;5H2.\x1b[1CNo,\x1b[1Cexit\r\n")
    assert [(e.signature, e.send) for e in kinds(_scan_text("claude-code", trust), EventKind.DIALOG)] == [
        ("cc-trust-yes-focused", "\r")]

"""FreshText: whether a read draws something new, judged on real captures and cut at any place.

The stall rule (`[stall] seconds`) needs it: a CLI retrying behind its spinner must stay stalled
however the relay's reads fall (under load two frames come in one read, or half of one), and real
output must count as new."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from realcli.record import read_capture
from teamctl_supervisor.core.scan.fresh_text import MAX_WORDS, FreshText, words_of

CAPTURES = Path(__file__).parent / "fixtures" / "real_cli"
#: @google/gemini-cli 0.61.0 at 200x50, a prompt sent while the fake API answers 503 "overloaded":
#: the CLI retries by itself behind `⠋ Thinking... (esc to cancel, 3s)`, redrawn ~13 times a second
GEMINI_STALL = CAPTURES / "gemini-0.61.0" / "interactive-overload-stall-200x50.jsonl"
CLAUDE_SESSION = CAPTURES / "claude-2.1.333" / "session-200x50.jsonl"


def _new_after(reads: list[tuple[float, bytes]], since: float) -> list[tuple[float, list[bytes]]]:
    fresh = FreshText()
    return [(t, words_of(data)) for t, data in reads if fresh.is_new(data) and t > since]


def _spinner_start(reads: list[tuple[float, bytes]]) -> float:
    return next(t for t, data in reads if b"Thinking..." in data)


def test_gemini_spinner_redrawn_as_it_was_read_is_nothing_new() -> None:
    reads = list(read_capture(GEMINI_STALL))
    start = _spinner_start(reads)
    assert reads[-1][0] - start > 3  # seconds of redraws, dozens of frames
    assert _new_after(reads, start + 1) == []


@pytest.mark.parametrize("seed", range(8))
def test_gemini_spinner_read_in_other_pieces_is_nothing_new(seed: int) -> None:
    """The same bytes cut anywhere (inside words, characters and escape sequences), as a loaded
    relay reads them."""
    reads = list(read_capture(GEMINI_STALL))
    start = _spinner_start(reads)
    rnd = random.Random(seed)
    pieces: list[tuple[float, bytes]] = []
    for t, data in reads:
        while data:
            n = rnd.randint(1, 5000)
            pieces.append((t, data[:n]))
            data = data[n:]
    merged: list[tuple[float, bytes]] = []  # and two or three reads at once
    i = 0
    while i < len(pieces):
        n = rnd.randint(1, 3)
        merged.append((pieces[min(i + n, len(pieces)) - 1][0], b"".join(p for _, p in pieces[i:i + n])))
        i += n
    assert _new_after(merged, start + 1) == []


def test_claude_code_answers_are_new_and_its_spinner_redraws_mostly_not() -> None:
    """Claude Code 2.1.333's session capture (four prompts, tool calls, streamed answers, a limit):
    the reads that first draw an answer's words are new; most reads only redraw."""
    reads = list(read_capture(CLAUDE_SESSION))
    fresh = FreshText()
    new = {t for t, data in reads if fresh.is_new(data)}
    first = {word: next(t for t, data in reads if word in data)
             for word in (b"grammar", b"ZeroDivisionError", b"subTest")}
    for t in first.values():
        assert any(abs(t - n) < 0.05 for n in new), t
    assert len(new) < len(reads) / 5  # 724 reads, most of them the spinner and its counters


def test_words_are_letters_whatever_the_escapes_colours_and_symbols_between_them() -> None:
    shimmer = b"\x1b[38;2;1;2;3mW\x1b[38;2;9;9;9mo\x1b[1mr\x1b[0mking \x1b[2K\x1b[1Anow\r\n"
    assert words_of(shimmer) == [b"Working", b"now"]  # colours join; a cursor move separates
    tick1 = " \x1b[97m⠋\x1b[39m \x1b[3mThinking...\x1b[23m (esc to cancel, 1m 5s)\r\n".encode()
    tick2 = " \x1b[97m⠙\x1b[39m \x1b[3mThinking...\x1b[23m (esc to cancel, 1m 6s)\r\n".encode()
    assert words_of(tick1) == words_of(tick2) == [b"Thinking", b"esc", b"cancel"]
    assert words_of("\x1b]0;✳ Claude Code\x07 ✻ Cogitating… · 12s\n".encode()) == [b"Cogitating"]  # title dropped
    assert words_of(" 思考中 Размышляю\n".encode()) == ["思考中".encode(), "Размышляю".encode()]


def test_a_reads_cut_ends_are_not_judged() -> None:
    assert words_of(b"nking about the answer") == [b"about", b"the"]  # cut in a word at both ends
    assert words_of(b"[97mThinking more\x1b[0m\r\n") == [b"more"]  # begins inside an escape sequence
    assert words_of("中 and then 思".encode()[2:]) == [b"and", b"then"]  # inside a character
    assert words_of(b"plain text\n") == [b"text"]  # a read that starts with a letter may start mid-word


def test_the_words_remembered_stay_bounded_and_new_ones_still_count() -> None:
    fresh = FreshText()
    for i in range(MAX_WORDS * 3):
        assert fresh.is_new(f" word{chr(97 + i % 26)}{chr(97 + i // 26 % 26)}{chr(97 + i // 676 % 26)}\n".encode())
        assert len(fresh._seen) <= MAX_WORDS
    assert fresh.is_new(b" brandnewer\n") and not fresh.is_new(b" brandnewer\n")

"""Tests for supervisor.scan: raw terminal bytes in, rate-limit / cost / dialog events out."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from teamctl_supervisor.core.descriptors.loader import Action, Runtime, load_descriptor
from teamctl_supervisor.core.scan.scanner import Event, EventKind, Scanner, strip_ansi

NOW = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)
UTCZ = ZoneInfo("UTC")

DESCRIPTOR = r"""
# Test runtime: its lines imitate real CLIs (claude-code, gemini-cli, aider) closely enough.
name = "tst"

[launch]
binary = "tst-cli"

[[rate_limit]]
id = "usage"
match = 'usage limit reached(?:\s*[·∙|]\s*resets\s+(?P<reset>[^\n]{1,60}))?'
keywords = ["usage limit"]
reset = "auto"

[[rate_limit]]
id = "session"
match = 'you have hit your session limit\. resets in (?P<reset>\d+h \d+m)'
keywords = ["session limit"]
reset = "duration"

[[rate_limit]]
id = "quota"
match = 'quota exceeded for (?P<model>[a-z0-9][a-z0-9.-]*[a-z0-9])'
keywords = ["quota exceeded"]
reset = "clock"
lookahead = 2
follow = 'access resets at (?P<reset>\d{1,2}:\d{2} ?[ap]m)'

[[ignore]]
match = 'approaching (?:your )?usage limit'
keywords = ["approaching"]

[[cost]]
id = "total"
match = 'session cost: (?P<usd>\$[0-9.,]+) \((?P<input>[0-9.,]+[kKmM]?) in, (?P<output>[0-9.,]+[kKmM]?) out\)'
keywords = ["session cost"]
total = true

[[dialog]]
id = "trust"
match = 'do you trust the files in this folder\?'
keywords = ["trust the files"]
send = "1\r"
"""

SESSION_MSG = "You have hit your session limit. Resets in 5h 15m"


def load(tmp: Path, text: str = DESCRIPTOR, name: str = "tst.toml") -> Runtime:
    path = tmp / name
    path.write_text(text, encoding="utf-8")
    return load_descriptor(path)


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Runtime:
    return load(tmp_path_factory.mktemp("rt"))


def scanner(rt: Runtime, **kw: object) -> Scanner:
    return Scanner(rt, tz=UTCZ, clock=lambda: NOW, **kw)  # type: ignore[arg-type]


def scan_chunks(rt: Runtime, chunks: list[bytes]) -> list[Event]:
    sc = scanner(rt)
    events: list[Event] = []
    for chunk in chunks:
        events += sc.feed(chunk)
    return events + sc.finish()


def rate_limits(events: list[Event]) -> list[Event]:
    return [e for e in events if e.kind is EventKind.RATE_LIMIT]


# -- lines and ANSI ----------------------------------------------------------------------------------


def test_lines_split_on_newline_and_carriage_return(runtime: Runtime) -> None:
    events = scan_chunks(runtime, [b"working 10%\rusage limit reached\rworking 20%\nnext\n"])
    assert [(e.line, e.raw) for e in events] == [(1, "usage limit reached")]


def test_strip_ansi_removes_colours_titles_and_charset_escapes() -> None:
    raw = (b"\x1b]0;claude \xe2\x9c\xb3 title\x07\x1b]2;other\x1b\\\x1b(B\x1b)0\x1b[1;38;5;208m"
           b"usage\x1b[0m \x1b[?25lreached\x1b=\x1b>")
    assert strip_ansi(raw) == ["usage reached"]


def test_cursor_positioning_separates_rows() -> None:
    rows = strip_ansi(b"\x1b[11;1Hstatus: ok\x1b[12;1Husage limit reached\x1b[13;1Hmore")
    assert [row for row in rows if row] == [
        "status: ok", "usage limit reached", "more"]


def test_a_row_drawn_again_from_column_1_is_a_line_of_its_own(runtime: Runtime) -> None:
    """A status bar overdrawn on its own row by a total (the row cleared, the cursor at column 1):
    the anchored cost line reads as it shows, not glued to the bar it replaced."""
    raw = (b"\x1b[45;1H\x1b[2K\x1b[37m fix edit \xe2\x94\x82 ctx 11% \x1b[0m\x1b[?25h"
           b"\x1b[45;1H\x1b[2K\x1b[31mSession cost: $2.59 (10 in, 2 out)\x1b[39m\n")
    assert [row for row in strip_ansi(raw.rstrip(b"\n")) if row][-1] == "Session cost: $2.59 (10 in, 2 out)"
    assert [e.usd for e in scan_chunks(runtime, [raw]) if e.kind is EventKind.COST] == [2.59]
    # a jump to another column of the same row still joins the words it draws
    assert [row for row in strip_ansi(b"\x1b[20;6HKeep\x1b[20;11Hcurrent") if row] == ["Keep current"]


def test_cursor_positioned_rows_are_scanned_as_separate_lines(runtime: Runtime) -> None:
    events = scan_chunks(runtime, [b"\x1b[11;1Hstatus: ok\x1b[12;1Husage limit reached\x1b[13;1Hmore\n"])
    assert [e.raw for e in events] == ["usage limit reached"]


def test_cursor_positioned_row_is_scanned_without_waiting_for_a_newline(runtime: Runtime) -> None:
    # A full-screen TUI draws rows with cursor positioning and may never print \n; after a hit it
    # idles. The row ended when the cursor jumped to the next one, so the hit must not wait for
    # more output or for the process to exit (the watcher calls feed(), and flush() when idle).
    sc = scanner(runtime)
    events = sc.feed(b"\x1b[11;1Hstatus: ok\x1b[12;1Husage limit reached\x1b[13;1H") + sc.flush()
    assert [e.raw for e in events] == ["usage limit reached"]


MESSAGE = (b"\x1b]0;\xe2\x9c\xb3 claude\x07\x1b(B\x1b[1;31musage limit reached\x1b[0m"
           b" \xe2\x88\x99 resets \x1b]8;;https://x.test\x1b\\in 2h\x1b]8;;\x1b\\\x1b[K\r\n")


def test_message_with_escapes_matches_when_split_at_every_byte_offset(runtime: Runtime) -> None:
    reference = scan_chunks(runtime, [MESSAGE])
    assert len(reference) == 1
    assert reference[0].raw == "usage limit reached ∙ resets in 2h"
    assert reference[0].resets_at == NOW + timedelta(hours=2)
    for cut in range(len(MESSAGE) + 1):
        assert scan_chunks(runtime, [MESSAGE[:cut], MESSAGE[cut:]]) == reference, f"split at {cut}"


def test_message_with_escapes_matches_when_fed_byte_by_byte(runtime: Runtime) -> None:
    chunks = [MESSAGE[i:i + 1] for i in range(len(MESSAGE))]
    assert scan_chunks(runtime, chunks) == scan_chunks(runtime, [MESSAGE])


def test_invalid_utf8_is_tolerated(runtime: Runtime) -> None:
    events = scan_chunks(runtime, [b"\xff\xfe\x80 junk \xc3\n\xc3\x28usage limit reached\n"])
    assert [(e.line, e.signature, e.raw) for e in events] == [(2, "usage", "\ufffd(usage limit reached")]


def test_trailing_partial_line_is_scanned_by_finish(runtime: Runtime) -> None:
    sc = scanner(runtime)
    assert sc.feed(b"noise\nusage limit reached") == []
    events = sc.finish()
    assert [(e.line, e.raw) for e in events] == [(2, "usage limit reached")]


def test_a_row_the_cursor_left_is_read_at_once_not_when_the_runtime_goes_quiet(runtime: Runtime) -> None:
    # Codex 0.171.0 draws its limit as a positioned row, then moves the cursor to its composer: no
    # newline follows (tests/fixtures/real_cli/codex-0.171.0/session-200x50.jsonl).
    sc = scanner(runtime)
    events = sc.feed(b"\x1b[44;1H\xe2\x96\xa0 usage limit reached \xc2\xb7 resets in 2 hours\x1b[47;3H")
    assert [(e.signature, e.raw) for e in events] == [("usage", "\u25a0 usage limit reached \u00b7 resets in 2 hours")]
    assert not sc.has_pending() or sc.flush() == []  # read once: going quiet gives it no second time
    # the cursor still on the row (or jumping along it): the row may go on, so it waits
    sc = scanner(runtime)
    assert sc.feed(b"\x1b[44;1Husage limit reached \xc2\xb7\x1b[44;24Hresets") == []
    events = sc.feed(b" in 3 hours") + sc.flush()
    assert [e.raw for e in events] == ["usage limit reached \u00b7 resets in 3 hours"]


def test_dialog_prompt_without_trailing_newline_is_answered(runtime: Runtime) -> None:
    # A prompt waits for input with the cursor after it: no newline ever follows until it is answered.
    sc = scanner(runtime)
    events = sc.feed(b"Do you trust the files in this folder? (y/n) ") + sc.flush()
    assert [(e.kind, e.send) for e in events] == [(EventKind.DIALOG, "1\r")]


# -- long lines ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("filler", [b"x" * 64, b"usage limit ok, "], ids=["no-keyword", "keyword"])
def test_overlong_line_is_capped_and_a_later_limit_is_still_found(runtime: Runtime, filler: bytes) -> None:
    sc = scanner(runtime)
    chunk = (filler * (65536 // len(filler) + 1))[:65536]
    total = 10 * 1024 * 1024 if filler.startswith(b"x") else 2 * 1024 * 1024
    events: list[Event] = []
    for _ in range(total // len(chunk)):
        events += sc.feed(chunk)
        assert len(sc._buf) <= sc.max_line
    assert rate_limits(events) == []
    events += sc.feed(b"\nusage limit reached")
    assert len(sc._buf) <= sc.max_line
    events += sc.feed(b"\n")
    assert [(e.line, e.raw) for e in events] == [(2, "usage limit reached")]


def test_custom_max_line_bounds_the_buffer(runtime: Runtime) -> None:
    sc = scanner(runtime, max_line=1000)
    for _ in range(50):
        sc.feed(b"usage " * 100)
        assert len(sc._buf) <= 1000


# -- ignore -----------------------------------------------------------------------------------------------


def test_ignore_suppresses_rate_limit_but_not_cost(runtime: Runtime) -> None:
    events = scan_chunks(runtime, [
        b"Notice: approaching your usage limit (usage limit reached at 100%) "
        b"session cost: $0.50 (1,000 in, 2k out)\n"])
    assert [e.kind for e in events] == [EventKind.COST]
    assert events[0].usd == 0.5 and events[0].input_tokens == 1000 and events[0].output_tokens == 2000


def test_line_without_ignore_match_still_hits(runtime: Runtime) -> None:
    events = scan_chunks(runtime, [b"approaching your quota\nusage limit reached\n"])
    assert [e.signature for e in events] == ["usage"]


# -- wrapped messages ---------------------------------------------------------------------------------


def _wraps(message: str, parts: int) -> list[list[str]]:
    """Every wrap of `message` at word boundaries into `parts` lines that keeps `session limit` whole."""
    words = message.split(" ")
    cuts = range(1, len(words))
    found = []
    if parts == 2:
        choices = [(i,) for i in cuts]
    else:
        choices = [(i, j) for i in cuts for j in cuts if i < j]
    for choice in choices:
        bounds = (0, *choice, len(words))
        lines = [" ".join(words[a:b]) for a, b in zip(bounds, bounds[1:], strict=False)]
        if not any(line.endswith("session") for line in lines[:-1]):
            found.append(lines)
    return found


@pytest.mark.parametrize("parts", [2, 3])
def test_wrapped_message_matches_exactly_once(runtime: Runtime, parts: int) -> None:
    wraps = _wraps(SESSION_MSG, parts)
    assert wraps
    for lines in wraps:
        data = ("build ok\nlint ok\n" + "\n".join(f"  {line}  " for line in lines) + "\n> \n").encode()
        events = scan_chunks(runtime, [data])
        assert len(events) == 1, lines
        event = events[0]
        assert event.signature == "session"
        assert event.raw == SESSION_MSG
        assert event.line == 2 + len(lines)
        assert event.resets_at == NOW + timedelta(hours=5, minutes=15)


def test_message_wrapped_inside_its_keyword_still_matches(runtime: Runtime) -> None:
    # A TUI at a narrow width wraps between the two words of the `session limit` keyword.
    data = b"build ok\nYou have hit your session\nlimit. Resets in 5h 15m\n"
    events = scan_chunks(runtime, [data])
    assert [(e.signature, e.line, e.resets_at) for e in events] == [
        ("session", 3, NOW + timedelta(hours=5, minutes=15))]


def test_wrapped_message_whose_continuation_arrives_in_a_later_read_still_matches(runtime: Runtime) -> None:
    # Each redraw of a TUI is usually its own read(): the keyword-free continuation line arrives alone.
    events = scan_chunks(runtime, [b"You have hit your session limit.\n", b"Resets in 5h 15m\n"])
    assert [(e.signature, e.line, e.resets_at) for e in events] == [
        ("session", 2, NOW + timedelta(hours=5, minutes=15))]


@pytest.mark.parametrize("styled", [
    b"\x1b[1musage\x1b[22m \x1b[1mlimit\x1b[22m reached\n",
    b"usage\x1b[1Climit reached\n",
], ids=["bold-words", "cursor-forward-gap"])
def test_styled_words_match_when_the_keyword_is_one_word(tmp_path: Path, styled: bytes) -> None:
    # The visible text is `usage limit reached`; the regex sees it with the styling removed. The
    # prefilter looks at raw bytes, so a keyword must stand contiguous in them (documented): here one
    # word, while the two-word `usage limit` of the shared descriptor would not survive per-word styling.
    path = tmp_path / "styled.toml"
    path.write_text(DESCRIPTOR.replace('keywords = ["usage limit"]', 'keywords = ["usage"]'))
    events = scan_chunks(load_descriptor(path), [b"noise\n" + styled])
    assert [(e.signature, e.line) for e in events] == [("usage", 2)]


def test_one_line_hit_is_not_repeated_by_its_continuation(runtime: Runtime) -> None:
    events = scan_chunks(runtime, [b"usage limit reached\n\xe2\x88\x99 resets in 2h\nok\n"])
    assert [e.raw for e in events] == ["usage limit reached"]


# -- lookahead / follow --------------------------------------------------------------------------------


def test_reset_on_the_next_line_is_read(runtime: Runtime) -> None:
    sc = scanner(runtime)
    assert sc.feed(b"Quota exceeded for gemini-2.5-pro\n") == []
    assert sc.has_pending()
    events = sc.feed(b"Access resets at 4:00 PM\n")
    assert not sc.has_pending()
    assert len(events) == 1
    e = events[0]
    assert (e.kind, e.line, e.signature, e.model, e.reset_text) == (
        EventKind.RATE_LIMIT, 1, "quota", "gemini-2.5-pro", "4:00 PM")
    assert e.resets_at == datetime(2025, 3, 4, 16, 0, tzinfo=UTC)
    assert e.action is Action.STOP


def test_reset_on_the_second_following_line_is_read(runtime: Runtime) -> None:
    data = b"Quota exceeded for gemini-2.5-pro\nPlease wait.\nAccess resets at 4:00 PM\n"
    events = scan_chunks(runtime, [data])
    assert [(e.line, e.resets_at) for e in events] == [(1, datetime(2025, 3, 4, 16, 0, tzinfo=UTC))]


def test_reset_not_within_lookahead_gives_unknown_reset_after_lookahead_lines(runtime: Runtime) -> None:
    sc = scanner(runtime)
    assert sc.feed(b"Quota exceeded for gemini-2.5-pro\n") == []
    assert sc.feed(b"one\n") == []
    events = sc.feed(b"two\n")
    assert [(e.line, e.model, e.resets_at) for e in events] == [(1, "gemini-2.5-pro", None)]
    assert sc.feed(b"Access resets at 4:00 PM\n") == []
    assert sc.finish() == []


def test_flush_emits_a_pending_hit_with_unknown_reset(runtime: Runtime) -> None:
    sc = scanner(runtime)
    assert sc.feed(b"Quota exceeded for gemini-2.5-pro\none\n") == []
    events = sc.flush()
    assert [(e.signature, e.resets_at) for e in events] == [("quota", None)]
    assert not sc.has_pending()
    assert sc.flush() == []


# -- cost and dialogs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("line", "usd", "inp", "out"), [
    (b"session cost: $0.0123 (48,213 in, 12.3k out)", 0.0123, 48213, 12300),
    (b"session cost: $1,234.50 (1.2M in, 950 out)", 1234.5, 1_200_000, 950),
])
def test_cost_figures_are_parsed(runtime: Runtime, line: bytes, usd: float, inp: int, out: int) -> None:
    events = scan_chunks(runtime, [line + b"\n"])
    assert len(events) == 1
    e = events[0]
    assert (e.kind, e.usd, e.input_tokens, e.output_tokens, e.total) == (EventKind.COST, usd, inp, out, True)


def test_dialog_is_answered_once_per_session(runtime: Runtime) -> None:
    sc = scanner(runtime)
    prompt = b"Do you trust the files in this folder?\n"
    first = sc.feed(prompt) + sc.feed(prompt)
    assert [(e.kind, e.signature, e.send) for e in first] == [(EventKind.DIALOG, "trust", "1\r")]
    sc.new_session()
    assert [e.signature for e in sc.feed(prompt)] == ["trust"]
    assert sc.feed(prompt) == []


def test_new_session_drops_pending_and_context(runtime: Runtime) -> None:
    sc = scanner(runtime)
    sc.feed(b"You have hit your session limit.\nQuota exceeded for m1\n")
    assert sc.has_pending()
    sc.new_session()
    assert not sc.has_pending()
    # the continuation carries a keyword, so the prefilter does not skip it: only new_session() stops the join
    assert sc.feed(b"Resets in 5h 15m (usage limit)\n") == []


# -- line numbers and the prefilter fast path -------------------------------------------------------


TRANSCRIPT = (
    b"a\nb\r\nc\rprogress\rusage limit reached\n\n\n"
    b"Quota exceeded for m1\nAccess resets at 4:00 PM\nsession cost: $1 (1 in, 2 out)\n"
    + b"\x1b[32mplain output line\x1b[0m\n" * 40
    + b"Do you trust the files in this folder?\n"
    + b"\xe2\x94\x80" * 30 + b"\r\n"
    + b"spinner \xe2\xa0\x8b\rspinner \xe2\xa0\x99\r" * 20 + b"\n"
    + b"usage limit reached \xe2\x88\x99 resets in 2h\n"
)
TRANSCRIPT_LINES = [(3, "usage"), (6, "quota"), (8, "total"), (49, "trust"), (52, "usage")]


def test_event_line_numbers_count_newlines(runtime: Runtime) -> None:
    events = scan_chunks(runtime, [TRANSCRIPT])
    assert [(e.line, e.signature) for e in events] == TRANSCRIPT_LINES


def test_prefilter_fast_path_keeps_events_and_line_numbers(runtime: Runtime) -> None:
    whole = scan_chunks(runtime, [TRANSCRIPT])
    assert [(e.line, e.signature) for e in whole] == TRANSCRIPT_LINES
    assert scan_chunks(runtime, [TRANSCRIPT[i:i + 1] for i in range(len(TRANSCRIPT))]) == whole
    rng = random.Random(1234)
    for _ in range(50):
        cuts = sorted(rng.sample(range(1, len(TRANSCRIPT)), rng.randint(1, 40)))
        chunks = [TRANSCRIPT[a:b] for a, b in zip([0, *cuts], [*cuts, len(TRANSCRIPT)], strict=True)]
        assert scan_chunks(runtime, chunks) == whole, cuts


POOL = [
    b"plain noise output",
    b"\x1b[32m\xe2\x9c\x93\x1b[0m tests passed",
    b"\x1b]0;title\x07working...",
    b"progress 10%\rprogress 50%\rprogress 100%",
    b"usage limit reached \xe2\x88\x99 resets in 2h",
    b"approaching your usage limit (usage limit reached at 100%)",
    b"Quota exceeded for gemini-2.5-pro",
    b"Access resets at 4:00 PM",
    b"session cost: $0.50 (1,000 in, 2k out)",
    b"Do you trust the files in this folder?",
    b"You have hit your session limit.\nResets in 5h 15m",
    b"You have hit your\nsession limit. Resets in\n5h 15m",
    b"Quota exceeded for gemini-2.5-pro\nPlease wait.\nAccess resets at 4:00 PM",
    b"\x1b[12;1Hrow twelve\x1b[13;1Hrow thirteen",
    b"\xff\xfe broken utf8",
    b"",
]


@settings(max_examples=150, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(st.sampled_from(POOL), max_size=14),
       ending=st.sampled_from([b"\n", b"\r\n"]), data=st.data())
def test_chunking_never_changes_the_events(runtime: Runtime, lines: list[bytes], ending: bytes,
                                           data: st.DataObject) -> None:
    transcript = b"".join(line.replace(b"\n", ending) + ending for line in lines)
    whole = scan_chunks(runtime, [transcript])
    byte_by_byte = scan_chunks(runtime, [transcript[i:i + 1] for i in range(len(transcript))])
    assert byte_by_byte == whole
    if len(transcript) > 1:
        cuts = sorted(set(data.draw(st.lists(st.integers(1, len(transcript) - 1), max_size=10))))
        chunks = [transcript[a:b] for a, b in zip([0, *cuts], [*cuts, len(transcript)], strict=True)]
        assert scan_chunks(runtime, chunks) == whole


NOISE = [b"\x1b[2K\x1b[1G\x1b[38;5;208m\xe2\xa0\x8b\x1b[0m thinking", b"    return self.cache[3]",
         b"\x1b[7;1H\x1b[2Kread the file then edit it", b"cache read of the index was fast"]
#: Keywords wrapped across a line break (found), never across cursor-positioned rows (not found: a
#: keyword must be whole in the raw bytes, or broken only by a line break and indentation).
WRAPPED = [b"You have hit your session\n  limit. Resets in 5h 15m", b"the usage\nlimit reached the end",
           b"our usage\n\ncounts"]
#: Code fences as a model's markdown or a catted file draws them: alone, coloured, indented, after
#: a row move, after text (not a fence), with a notice inside the block (never a hit).
FENCES = [b"```python", b"\x1b[90m```\x1b[0m", b"  ~~~", b"\x1b[2K\x1b[90m```bash\x1b[0m", b"see ``` here",
          b"\x1b[5;1H```", b"```\nusage limit reached \xe2\x88\x99 resets in 2h\n```"]


@settings(max_examples=120, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(st.sampled_from(POOL + NOISE * 3 + WRAPPED * 2 + FENCES * 2), max_size=30),
       screen=st.lists(st.sampled_from(POOL + NOISE * 4), max_size=40),
       ending=st.sampled_from([b"\n", b"\r\n"]), data=st.data())
def test_prefilter_and_hot_line_path_find_what_the_plain_line_path_finds(
        runtime: Runtime, lines: list[bytes], screen: list[bytes], ending: bytes, data: st.DataObject) -> None:
    """The prefilter (both engines), the hot-chunk path that reads only keyword lines, the fence
    path that counts code fences without reading their lines and the row gate for cursor-positioned
    screens must give exactly the events of reading every line, however the output is cut into
    reads."""
    # a full-screen redraw: rows placed with cursor moves, no line break (one long raw line)
    rows = [row for block in screen for row in block.split(b"\n")]  # a wrapped message: consecutive rows
    redraw = b"".join(b"\x1b[%d;1H\x1b[2K" % (i + 1) + row for i, row in enumerate(rows))
    at = data.draw(st.integers(0, len(lines)))
    lines = [*lines[:at], redraw, *lines[at:]]
    transcript = b"".join(line.replace(b"\n", ending) + ending for line in lines)
    cuts = sorted(set(data.draw(st.lists(st.integers(1, max(len(transcript) - 1, 1)), max_size=8))))
    chunks = [transcript[a:b] for a, b in zip([0, *cuts], [*cuts, len(transcript)], strict=True)]
    expected = None
    for engine in (None, "loop", "ahocorasick"):
        sc = scanner(runtime, prefilter=engine)
        events = [e for chunk in chunks for e in sc.feed(chunk)] + sc.finish()
        if expected is None:
            expected = events
        assert events == expected, engine


def test_hot_read_skips_lines_without_a_keyword_but_counts_them(runtime: Runtime) -> None:
    noise = b"\x1b[32mplain output line\x1b[0m\n" * 200
    chunk = noise + b"usage limit reached \xe2\x88\x99 resets in 2h\n" + noise + b"partial"
    sc = scanner(runtime)
    events = sc.feed(chunk)
    assert [(e.line, e.signature) for e in events] == [(201, "usage")]
    assert sc.has_pending()  # the partial line is kept
    assert [(e.line, e.signature) for e in sc.feed(b" then usage limit reached\n")] == [(402, "usage")]


def test_message_wrapped_across_rows_of_a_positioned_screen_is_found(runtime: Runtime) -> None:
    """A full-screen TUI draws rows with cursor moves and no line breaks; a limit message wrapped
    over three of its rows, among many rows of noise, is still read whole."""
    noise = [b"\x1b[38;5;245mread the file then edit it, run the tests\x1b[0m"] * 30
    rows = noise[:12] + [b"You have hit your", b"\x1b[1msession limit\x1b[0m. Resets in", b"5h 15m"] + noise[12:]
    screen = b"".join(b"\x1b[%d;1H\x1b[2K" % (i + 1) + row for i, row in enumerate(rows)) + b"\r\n"
    for engine in (None, "loop", "ahocorasick"):
        events = scanner(runtime, prefilter=engine).feed(screen)
        assert [(e.signature, e.reset_text) for e in events] == [("session", "5h 15m")], engine


def test_without_line_counting_the_same_events_come_with_line_zero(runtime: Runtime) -> None:
    counted = scan_chunks(runtime, [TRANSCRIPT])
    sc = scanner(runtime, count_lines=False)
    uncounted = sc.feed(TRANSCRIPT) + sc.finish()
    assert [e.line for e in uncounted] == [0] * len(counted)
    assert [replace(e, line=0) for e in counted] == uncounted


def test_auto_engine_switches_to_ahocorasick_after_its_switch_size_with_the_same_events(
        runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    """A quiet watcher never loads the compiled matcher; a busy one switches, and nothing changes."""
    from teamctl_supervisor.core.scan import prefilter

    monkeypatch.setattr(prefilter, "AUTO_SWITCH_BYTES", 600)
    sc = scanner(runtime)
    assert sc._prefilter is not None and sc._prefilter.engine == "loop"
    events = sc.feed(TRANSCRIPT[:300])
    assert sc._prefilter.engine == "loop"
    events += sc.feed(TRANSCRIPT[300:]) + sc.finish()
    assert sc._prefilter.engine == "ahocorasick"
    assert events == scan_chunks(runtime, [TRANSCRIPT])


def test_repeating_dialog_is_answered_again_only_after_a_pause(tmp_path: Path) -> None:
    path = tmp_path / "d.toml"
    path.write_text("[launch]\nbinary = 'x'\n[[dialog]]\nid = 'keep'\nmatch = 'Keep trying'\n"
                    "keywords = ['keep trying']\nsend = \"\\r\"\nonce = false\n")
    now = [datetime(2026, 11, 27, 10, 0, tzinfo=UTC)]
    sc = Scanner(load_descriptor(path), tz=ZoneInfo("UTC"), clock=lambda: now[0])
    redraws = sc.feed(b"Keep trying\nKeep trying\nKeep trying\n")  # one dialog, redrawn by the TUI
    assert [e.send for e in redraws] == ["\r"]
    now[0] += timedelta(seconds=6)
    assert [e.send for e in sc.feed(b"Keep trying\n")] == ["\r"]  # it came back: answered again


def test_text_end_passes_runs_of_empty_lines() -> None:
    from teamctl_supervisor.core.scan.scanner import text_end

    b = b"abc\n\r\n" + b"\n" * 100_000 + b"x\n\n"
    assert text_end(b, len(b)) == len(b) - 2
    assert text_end(b, len(b) - 3) == 3  # back over the 100,000 empty lines
    assert text_end(b"\n\n\n", 3) == 0 and text_end(b"ab", 2) == 2


def test_a_notice_inside_a_fenced_block_of_a_flood_is_never_a_hit_and_one_after_it_is(runtime: Runtime) -> None:
    """Fences in a flood of a model's markdown are counted on the byte path (no line work), and
    still hide what lies between them; the notice after the block closes is found."""
    block = (b"\x1b[90m```python\x1b[0m\n" + b"    return self.cache[3]\n" * 20 + b"\x1b[90m```\x1b[0m\n")
    quoted = b"```\nusage limit reached \xe2\x88\x99 resets in 2h\n```\n"
    text = block * 50 + quoted + block * 50 + b"usage limit reached \xe2\x88\x99 resets in 3h\n"
    for engine in (None, "ahocorasick"):
        for size in (64, 4096, 32768):
            sc = scanner(runtime, prefilter=engine)
            events = [e for i in range(0, len(text), size) for e in sc.feed(text[i:i + size])] + sc.finish()
            assert [e.reset_text for e in events] == ["in 3h"], (engine, size)

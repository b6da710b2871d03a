"""ScreenRows: the rows a cell-repainting TUI shows, for totals it redraws in place (opencode's footer).

The bytes are opencode-linux-x64 1.18.33's own (its footer and sidebar at 200x50, from
tests/fixtures/real_cli/opencode-1.18.33/), cut where a read could cut them.
"""

from __future__ import annotations

from teamctl_supervisor.core.scan.screen_cells import MAX_COLS, MAX_ROWS, ScreenRows

KEYWORDS = ("%) ·", " spent")
FIRST = (b"\x1b[?1049h\x1b[?2026h\x1b[49;123H\x1b[38;2;128;128;128m\x1b[48;2;10;10;10m1.3K (1%) \xc2\xb7"
         b"\x1b[49;134H $0.99\x1b[0m\x1b[7;161H\x1b[38;2;128;128;128m$0.99 spent\x1b[0m\x1b[?2026l")


def shown(rows: list[str]) -> list[str]:
    return [" ".join(r.split()) for r in rows]


def test_a_row_drawn_whole_is_read_once_and_a_redraw_of_the_same_text_is_not_read_again() -> None:
    s = ScreenRows(KEYWORDS)
    assert shown(s.feed(FIRST)) == ["$0.99 spent", "1.3K (1%) · $0.99"]
    assert s.feed(FIRST.replace(b"\x1b[?1049h", b"")) == []


def test_digits_written_alone_over_a_total_give_the_whole_new_row() -> None:
    s = ScreenRows(KEYWORDS)
    s.feed(FIRST)
    rows = s.feed(b"\x1b[?2026h\x1b[7;162H\x1b[38;2;128;128;128m1.00\x1b[0m\x1b[49;136H1.00\x1b[?2026l")
    assert shown(rows) == ["$1.00 spent", "1.3K (1%) · $1.00"]


def test_a_frame_cut_across_reads_is_read_only_when_it_ends() -> None:
    """`$0.99` to `$1.00` cut after the `1` would read `$1.99`: a total far too high, kept for good."""
    s = ScreenRows(KEYWORDS)
    s.feed(FIRST)
    assert s.feed(b"\x1b[?2026h\x1b[49;136H\x1b[38;2;128;12") == []
    assert s.feed(b"8;128m1") == []
    assert shown(s.feed(b".00\x1b[0m\x1b[?2026l")) == ["1.3K (1%) · $1.00"]


def test_a_utf8_character_cut_across_reads_and_wide_characters_keep_their_cells() -> None:
    s = ScreenRows(("spent",))
    s.feed("\x1b[3;1H漢字 $0.12 spent".encode()[:4])
    rows = s.feed("\x1b[3;1H漢字 $0.12 spent".encode()[4:])
    assert rows == ["漢字 $0.12 spent"]
    assert shown(s.feed(b"\x1b[3;9H34")) == ["漢字 $0.34 spent"]  # a wide character is two cells


def test_erasing_moving_and_a_new_screen() -> None:
    s = ScreenRows(("spent",))
    s.feed(b"\x1b[2;1H$0.50 spent")
    assert s.feed(b"\x1b[2;1H\x1b[K") == []  # erased: no keyword, nothing read
    assert s.feed(b"\r\n\x1b[5C$0.60 spent") == ["     $0.60 spent"]  # row 3, five cells in
    assert s.feed(b"\x1b[2J\x1b[3;1H     $0.60 spent") == ["     $0.60 spent"]  # a cleared screen: read again


def test_no_output_grows_the_screen_past_its_bounds() -> None:
    s = ScreenRows(("spent",))
    s.feed(b"x" * (MAX_COLS * 5) + b"\x1b[99999;99999H" + b"y" * 100 + b"\n" * (MAX_ROWS * 3))
    assert len(s._rows) <= MAX_ROWS and all(len(r) <= MAX_COLS for r in s._rows.values())
    assert s.feed(b"\x1b[1;1H$1.00 spent") == ["$1.00 spent"]

"""The output log is read back for usage lines in pieces (a flood's growth in one multi-MiB read cost
a page fault per few pages, on the relay's thread): a usage line cut by a piece's edge, and one in a
later piece, are each read once, whole."""

from __future__ import annotations

import time
from pathlib import Path
from zoneinfo import ZoneInfo

from teamctl_supervisor.agent.channels import tailer
from teamctl_supervisor.agent.channels.tailer import ChannelTailer
from teamctl_supervisor.agent.settings import WatchSettings
from teamctl_supervisor.core.descriptors.loader import load_runtime
from teamctl_supervisor.core.usage import candidate_lines_in
from teamctl_supervisor.store import layout
from teamctl_supervisor.store.mailbox import Store
from teamctl_supervisor.store.usage import latest_windows

UTC = ZoneInfo("UTC")
USED = b"\x1b[2K  \xe2\x8e\xbf  You've used 91%\x1b[1Cof\x1b[1Cyour session limit \xc2\xb7 resets 3pm (UTC)"
WEEKLY = b"You've used 40% of your weekly limit \xc2\xb7 resets Dec 9, 9am (UTC)"


def test_a_usage_line_across_a_piece_edge_and_one_in_a_later_piece_are_both_read(tmp_path: Path) -> None:
    settings, out = _settings(tmp_path)
    noise = b"\x1b[32mplain output line of a flood, nothing to read here\x1b[0m\r\n"
    head = noise * ((tailer.SCREEN_PIECE - 20) // len(noise))
    body = head + b" " * (tailer.SCREEN_PIECE - 20 - len(head)) + USED + b"\r\n"  # cut by the first piece's edge
    body += noise * (2 * tailer.SCREEN_PIECE // len(noise)) + WEEKLY + b"\r\n" + noise
    with Store(settings.mailbox) as st:
        tail = ChannelTailer(settings, st, lambda: time.time())
        with out.open("ab") as f:
            f.write(body)
        tail.poll(time.time(), final=True)
        windows = {(w["window"], w["used_percent"]) for w in latest_windows(st, ["p:cc"])["p:cc"]}
    assert windows == {("5h", 91.0), ("weekly", 40.0)}


def test_a_tui_that_prints_no_line_feed_for_several_pieces_still_has_its_usage_line_read(tmp_path: Path) -> None:
    """A full-screen TUI moves its cursor and returns the carriage, and may print no line feed for
    megabytes: the unfinished line is kept across pieces, and read whole at its end."""
    settings, out = _settings(tmp_path)
    frame = b"\x1b[3;1H\x1b[2K\x1b[36mWorking\x1b[0m on the parser, step %d\r"
    body = b"".join(frame % i for i in range(3 * tailer.SCREEN_PIECE // len(frame % 0) + 1))
    body += b"\x1b[48;1H" + USED + b"\r\n"
    with Store(settings.mailbox) as st:
        tail = ChannelTailer(settings, st, lambda: time.time())
        with out.open("ab") as f:
            f.write(body)
        tail.poll(time.time(), final=True)
        windows = {(w["window"], w["used_percent"]) for w in latest_windows(st, ["p:cc"]).get("p:cc", [])}
    assert windows == {("5h", 91.0)}


def _settings(tmp_path: Path) -> tuple[WatchSettings, Path]:
    state = tmp_path / "state"
    state.mkdir()
    settings = WatchSettings(agent_id="p:cc", project_id="p", runtime=load_runtime("claude-code"), argv=("claude",),
                             cwd=tmp_path, env={}, tz=UTC, mailbox=state / "mailbox.db", state_dir=state)
    out = layout.output_log(state, settings.log_name)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(b"")
    return settings, out


def test_block_candidates_are_the_lines_with_a_keywords_longest_word() -> None:
    rt = load_runtime("claude-code")
    lines = [b"plain %d" % i for i in range(50)] + [USED, b"", b"  ", WEEKLY, b"tail"]
    words = {max(k.lower().split(), key=len).encode() for sig in rt.usage for k in sig.keywords}
    naive = [x for x in lines if x.strip() and any(w in x.lower() for w in words)]
    assert candidate_lines_in(b"\n".join(lines), rt.usage) == naive == [USED, WEEKLY]

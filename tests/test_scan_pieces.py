"""A flood's coalesced batch is handed to the scanner in SCAN_PIECE pieces (agent/pty_session.py): a
notice cut in two by a piece's end is still read whole, once (a real pty; a runtime that prints a
1.5 MB flood in one write, Claude Code's limit notice drawn in colour every few lines, at offsets that
walk across the pieces' ends)."""

from __future__ import annotations

import os
import select
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

from teamctl_supervisor.agent.child import Child
from teamctl_supervisor.agent.logfile import RotatingLog
from teamctl_supervisor.agent.pty_session import LOG_HOLD, SCAN_PIECE, PtySession
from teamctl_supervisor.core.descriptors.loader import load_runtime
from teamctl_supervisor.core.scan.scanner import EventKind, Scanner

NOTICES = 10000
FLOOD = f"""
import sys
out = []
for i in range({NOTICES}):
    for j in range(i % 3 + 1):  # a line or a few of answer, a different number each time
        out.append(f"line {{i}}.{{j}} of the model answer, nothing else\\n")
    out.append(f"\\x1b[31mYou've hit your limit \\u00b7 resets {{1 + i % 11}}:{{i % 60:02d}}pm (UTC)\\x1b[39m\\n")
sys.stdout.buffer.write("".join(out).encode())
sys.stdout.flush()
"""


def test_a_notice_across_a_pieces_end_is_read_whole_once(tmp_path: Path) -> None:
    child = Child([sys.executable, "-c", FLOOD], str(tmp_path), dict(os.environ), 50, 200)
    out = os.open(tmp_path / "terminal", os.O_WRONLY | os.O_CREAT, 0o600)
    log = RotatingLog(tmp_path / "out.log", hold=LOG_HOLD)
    scanner = Scanner(load_runtime("claude-code"), tz=ZoneInfo("UTC"))
    fed: list[bytes] = []
    feed = scanner.feed
    scanner.feed = lambda data: fed.append(data) or feed(data)  # type: ignore[method-assign]
    pty = PtySession(child, scanner, log, out)
    events = []
    try:
        while not pty.eof:
            ready, _, _ = select.select([pty.fd], [], [], min(pty.timeout(), 1.0))
            readout = pty.read(bool(ready))
            if readout is not None:
                events += readout.events
    finally:
        log.close()
        os.close(out)
        child.finish(5.0)
    limits = [e.raw for e in events if e.kind is EventKind.RATE_LIMIT]
    expected = [f"You've hit your limit · resets {1 + i % 11}:{i % 60:02d}pm (UTC)" for i in range(NOTICES)]
    assert limits == expected
    # the premise: batches were cut into pieces, and some piece ended inside a notice
    stream = b"".join(fed)
    assert stream == (tmp_path / "terminal").read_bytes()
    assert max(len(p) for p in fed) == SCAN_PIECE
    ends, at = set(), 0
    for piece in fed:
        at += len(piece)
        ends.add(at)
    cut = 0
    start = stream.find(b"You've hit")
    while start >= 0:
        end = stream.find(b"\n", start)
        cut += any(start < e < end for e in ends)
        start = stream.find(b"You've hit", end)
    assert cut >= 3  # notices are about 2 bytes in 5, so some 15 of about 51 ends fall inside one


REDRAW = """
import sys, time
rows = (f"\\x1b[{r};1H\\x1b[2K  row {r} of a full-screen redraw, nothing else to see here" for r in range(1, 70))
frame = "\\x1b[H" + "".join(rows)
notice = "\\x1b[47;1H\\x1b[2K\\x1b[31mYou've hit your limit \\u00b7 resets 4:05pm (UTC)\\x1b[39m"
cut = frame.rfind("\x1b[", 0, frame.rfind(";1H", 0, 4300))  # between two rows, past the first 4 KiB
sys.stdout.buffer.write((frame[:cut] + notice + frame[cut:cut + 600]).encode())
sys.stdout.flush()
time.sleep(30)
"""


def test_a_redraw_larger_than_a_trickle_holding_a_limit_is_scanned_on_its_read(tmp_path: Path) -> None:
    """A TUI's limit screen comes as one redraw of a few KB: it is scanned on the read that brought it
    (the limit's words make it urgent), not SCAN_DELAY later on a timer turn."""
    child = Child([sys.executable, "-c", REDRAW], str(tmp_path), dict(os.environ), 50, 200)
    out = os.open(os.devnull, os.O_WRONLY)
    log = RotatingLog(tmp_path / "out.log", hold=LOG_HOLD)
    pty = PtySession(child, Scanner(load_runtime("claude-code"), tz=ZoneInfo("UTC")), log, out)
    turns: list[tuple[bool, list]] = []  # (a read brought bytes, limit events)
    try:
        while not any(limits for _, limits in turns) and len(turns) < 50:
            ready, _, _ = select.select([pty.fd], [], [], min(pty.timeout(), 5.0))
            readout = pty.read(bool(ready), report=True)
            if readout is not None:
                turns.append((bool(ready), [e for e in readout.events if e.kind is EventKind.RATE_LIMIT]))
    finally:
        log.close()
        os.close(out)
        child.finish(5.0)
    found = [(read, limits) for read, limits in turns if limits]
    assert len(found) == 1 and found[0][0], turns
    assert found[0][1][0].raw == "You've hit your limit · resets 4:05pm (UTC)"

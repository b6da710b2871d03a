"""The screen's evidence of a model turn is judged on the first WINDOW bytes a report read
(core/scan/fresh_text.py): TurnPty keeps only those of a flood, and they are exactly the start of what
was relayed since the last report (a real pty, a runtime printing a flood)."""

from __future__ import annotations

import os
import select
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

from teamctl_supervisor.agent.child import Child
from teamctl_supervisor.agent.logfile import RotatingLog
from teamctl_supervisor.agent.pty_session import LOG_HOLD
from teamctl_supervisor.agent.turn_feed import TurnPty
from teamctl_supervisor.core.descriptors.loader import load_runtime
from teamctl_supervisor.core.scan.fresh_text import WINDOW, words_of
from teamctl_supervisor.core.scan.scanner import Scanner

FLOOD = "import sys\nfor i in range(40000): sys.stdout.write(f'line {i} of the model answer, nothing else\\n')\n"


def test_a_flood_keeps_only_the_start_of_each_report_and_it_is_what_was_relayed(tmp_path: Path) -> None:
    child = Child([sys.executable, "-c", FLOOD], str(tmp_path), dict(os.environ), 50, 400)
    out = os.open(tmp_path / "terminal", os.O_WRONLY | os.O_CREAT, 0o600)
    log = RotatingLog(tmp_path / "out.log", hold=LOG_HOLD)
    pty = TurnPty(child, Scanner(load_runtime("claude-code"), tz=ZoneInfo("UTC")), log, out)
    taken: list[tuple[int, int, bytes]] = []  # (relayed before, relayed after, take())
    before = 0
    try:
        while not pty.eof:
            ready, _, _ = select.select([pty.fd], [], [], min(pty.timeout(), 1.0))
            if pty.read(bool(ready)) is None:
                continue
            after = os.fstat(out).st_size
            taken.append((before, after, pty.take()))
            before = after
    finally:
        log.close()
        os.close(out)
        child.finish(5.0)
    relayed = (tmp_path / "terminal").read_bytes()
    assert relayed.count(b"of the model answer") == 40000
    assert any(end - start > WINDOW for start, end, _ in taken)  # a report read more than it keeps
    for start, end, kept in taken:
        assert kept == relayed[start:end][:WINDOW]
        assert words_of(kept) == words_of(relayed[start:end])

"""Another program holding the mailbox's write lock, and the timed cost lines of the fake runtime's
`costs` step read back from an agent's output log (issue 23 items 3 and 4)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

_HOLDER = (
    "import sqlite3, sys, time\n"
    "conn = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None)\n"
    "conn.execute('BEGIN IMMEDIATE')\n"
    "print('locked', flush=True)\n"
    "time.sleep(3600)\n"
)

TICK = re.compile(rb"^tick (\d+) (\d+\.\d+)\r?$", re.M)


class LockHolder:
    """A separate process with `BEGIN IMMEDIATE` held on the mailbox until `release()` (its end)."""

    def __init__(self, db: Path) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", _HOLDER, str(db)], stdout=subprocess.PIPE)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line.strip() == b"locked", line

    def release(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()  # its transaction ends with it: the lock is free
        self.proc.wait(10)


def ticks(output_log: Path) -> dict[int, float]:
    """Line number k of the `costs` step -> when the runtime printed it, as far as the log has it."""
    try:
        data = output_log.read_bytes()
    except FileNotFoundError:
        return {}
    return {int(m.group(1)): float(m.group(2)) for m in TICK.finditer(data)}

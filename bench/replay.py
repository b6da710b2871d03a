#!/usr/bin/env python3
"""Fake runtime for bench/realpace.py: replay a real CLI's pty capture at its recorded pace.

    replay.py CAPTURE FIRST LAST PACE OUT [MARK MAILBOX]

Writes reads FIRST..LAST-1 of CAPTURE (record.py's `[seconds, base64]` lines) to stdout, each at its
recorded time (relative to read FIRST) divided by PACE. Reads its parent's CPU time (the watcher's, or
the bare relay's) from /proc when it starts and when it has written the last read. With MARK, the
moment read MARK is written is noted and a thread polls MAILBOX (read-only, every 0.5 ms, at most
10 s) until a rate_limits row is visible. OUT gets all of it as JSON, and this process's own CPU.
"""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import sys
import termios
import threading
import time

TICK = os.sysconf("SC_CLK_TCK")


def parent_cpu() -> float:
    """user+sys of our parent, seconds (from /proc/<ppid>/stat; the name field may hold blanks)."""
    with open(f"/proc/{os.getppid()}/stat") as fh:
        rest = fh.read().rsplit(")", 1)[1].split()
    return (int(rest[11]) + int(rest[12])) / TICK


def poll(mailbox: str, result: dict[str, float]) -> None:
    deadline = time.time() + 10
    conn = None
    while time.time() < deadline:
        try:
            if conn is None:
                conn = sqlite3.connect(f"file:{mailbox}?mode=ro", uri=True, timeout=1)
            if conn.execute("SELECT count(*) FROM rate_limits").fetchone()[0]:
                result["visible"] = time.time()
                break
        except sqlite3.Error:
            conn = None
        time.sleep(0.0005)
    if conn is not None:
        conn.close()


def main() -> int:
    # rl-watch may append the runtime's channel options (Claude Code's `--settings ...`): not ours
    args = [a for a in sys.argv[1:8] if not a.startswith("--")]
    capture, first, last, pace, out = args[0], int(args[1]), int(args[2]), float(args[3]), args[4]
    mark = int(args[5]) if len(args) > 5 else -1
    mailbox = args[6] if len(args) > 6 else ""
    try:  # keys the watcher types (a dialog's answer) are not echoed into the output
        attrs = termios.tcgetattr(0)
        attrs[3] &= ~termios.ECHO
        termios.tcsetattr(0, termios.TCSANOW, attrs)
    except termios.error:
        pass
    with open(capture) as fh:
        reads = [json.loads(line) for line in fh][first:last]
    chunks = [(t, base64.b64decode(b)) for t, b in reads]
    cpu0 = parent_cpu()
    result: dict[str, float] = {}
    poller = None
    late: list[float] = []
    t_first = chunks[0][0] if chunks else 0.0
    start = time.monotonic()
    for i, (t, data) in enumerate(chunks, start=first):
        due = start + (t - t_first) / pace
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        late.append(time.monotonic() - due)
        if i == mark:
            result["written"] = time.time()
            os.write(1, data)
            poller = threading.Thread(target=poll, args=(mailbox, result), daemon=True)
            poller.start()
        else:
            os.write(1, data)
    cpu1 = parent_cpu()
    if poller is not None:
        poller.join(11)
    me = os.times()
    with open(out, "w") as fh:
        json.dump({"parent_cpu_start": cpu0, "parent_cpu_end": cpu1, "own_cpu": me.user + me.system,
                   "seconds": time.monotonic() - start, "late_max": max(late, default=0.0),
                   "late_p50": sorted(late)[len(late) // 2] if late else 0.0, **result}, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main())

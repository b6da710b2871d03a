#!/usr/bin/env python3
"""Fake runtime for the detection-latency figure (run under `rl-watch`, so stdout is the watcher's pty).

For each hit i: note the time, write one limit line `bench limit hit #i resets in <i+1 hours>`, then
poll the mailbox (read-only, WAL) until the rate_limits row for #i is visible, and note that time.
The bench descriptor gives the signature action `resume`; each hit names a reset an hour after the
last, so it is a new limit, never "not reset yet". Then we wake the watcher (SIGUSR1, what `teamctl
wake` sends), it types its resume keys at once, and we read them on stdin before the next hit.
Latencies go to OUT as JSON.

    limit_writer.py MAILBOX N OUT
"""

import json
import os
import signal
import sqlite3
import sys
import termios
import time


def main() -> int:
    mailbox, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    attrs = termios.tcgetattr(0)
    attrs[3] &= ~termios.ECHO  # no echo of the resume keys into the relayed output
    termios.tcsetattr(0, termios.TCSANOW, attrs)
    conn = sqlite3.connect(f"file:{mailbox}?mode=ro", uri=True, timeout=10)
    lat: list[float] = []
    for i in range(n):
        line = f"bench limit hit #{i} resets in {(i + 1) * 3600}s"
        t0 = time.time()
        os.write(1, (line + "\n").encode())
        while True:
            try:
                row = conn.execute("SELECT hit_at FROM rate_limits WHERE raw_match=?", (line,)).fetchone()
            except sqlite3.OperationalError:
                row = None
            if row is not None:
                break
            if time.time() - t0 > 10:
                break
            time.sleep(0.0002)
        lat.append(time.time() - t0 if row is not None else float("nan"))
        os.kill(os.getppid(), signal.SIGUSR1)  # `teamctl wake`: resume now, not in i+1 hours
        sys.stdin.readline()  # the watcher's resume keys: it is ready for the next hit
    with open(out, "w") as fh:
        json.dump(lat, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main())

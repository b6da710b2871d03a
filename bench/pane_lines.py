#!/usr/bin/env python3
"""The two ends of bench/pane.py's line-latency figure.

    pane_lines.py write N RATE READY   wait for READY to exist, then print N lines `lat <i> <epoch>`,
                                       RATE a second, each stamped with the time it is written
    pane_lines.py read OUT READY       (run by `tmux pipe-pane`: stdin is what tmux reads from the
                                       pane) create READY, then for each `lat` line seen append
                                       `<i> <written> <seen>` to OUT at once
"""

from __future__ import annotations

import os
import re
import sys
import time

LINE = re.compile(rb"lat (\d+) (\d+\.\d+)")


def write(n: int, rate: float, ready: str) -> int:
    deadline = time.monotonic() + 10
    while not os.path.exists(ready):
        if time.monotonic() > deadline:
            return 3
        time.sleep(0.005)
    time.sleep(0.05)
    t0 = time.monotonic()
    for i in range(n):
        delay = t0 + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        os.write(1, f"lat {i} {time.time():.6f}\n".encode())
    return 0


def read(out: str, ready: str) -> int:
    with open(out, "a", buffering=1) as fh:
        open(ready, "w").close()
        buf = b""
        while True:
            data = os.read(0, 65536)
            if not data:
                return 0
            now = time.time()
            buf += data
            *lines, buf = buf.split(b"\n")
            for line in lines:
                m = LINE.search(line)
                if m:
                    fh.write(f"{int(m[1])} {m[2].decode()} {now:.6f}\n")


if __name__ == "__main__":
    mode, *args = sys.argv[1:]
    if mode == "write":
        sys.exit(write(int(args[0]), float(args[1]), args[2]))
    sys.exit(read(args[0], args[1]))

#!/usr/bin/env python3
"""A print-mode CLI (`claude -p` style) at its limit: until $FAKE_RESET_AT (epoch seconds) each run
prints the limit line with the reset rounded DOWN to the minute, as the CLI does, and exits 1; after
it, a run does its work and exits 0. Each run appends "limit" or "done" to $FAKE_RUNS_LOG."""

import os
import sys
import time


def main() -> int:
    reset = float(os.environ["FAKE_RESET_AT"])
    hit = time.time() < reset
    with open(os.environ["FAKE_RUNS_LOG"], "a") as fh:
        fh.write("limit\n" if hit else "done\n")
    if hit:
        shown = time.strftime("%H:%M", time.gmtime(reset))  # 10:01:45 -> "10:01"
        sys.stdout.write(f"usage limit reached \u00b7 resets {shown}\n")
        sys.stdout.flush()
        return 1
    sys.stdout.write("the work is done\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())

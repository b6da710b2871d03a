#!/usr/bin/env python3
"""Run a program and write the CPU time of its whole process tree: `cpuwrap.py OUT.json -- argv...`.

The program runs as our child on our terminal (the same pty, the same process group, so it sees its
keys and window size as if started directly). When it exits, OUT gets `getrusage(RUSAGE_CHILDREN)`:
user and system seconds of the program and of every descendant it (or they) waited for; our own
interpreter is not counted. Used by bench/capture_session.py to record a real CLI's CPU beside its capture.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sys
import time


def main() -> int:
    args = sys.argv[1:]
    if len(args) < 3 or args[1] != "--":
        print("usage: cpuwrap.py OUT.json -- argv...", file=sys.stderr)
        return 2
    out, argv = args[0], args[2:]
    t0 = time.monotonic()
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
    # the terminal's keys and signals are the program's: Ctrl-C, a hang-up or a stop reach it, not us
    for sig in (signal.SIGINT, signal.SIGQUIT, signal.SIGTSTP):
        signal.signal(sig, signal.SIG_IGN)
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except InterruptedError:
            continue
    wall = time.monotonic() - t0
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(out, "w") as fh:
        json.dump({"argv0": os.path.basename(argv[0]), "wall_s": round(wall, 3), "user_s": round(ru.ru_utime, 3),
                   "sys_s": round(ru.ru_stime, 3), "cpu_s": round(ru.ru_utime + ru.ru_stime, 3),
                   "max_rss_kib": ru.ru_maxrss, "exit": os.waitstatus_to_exitcode(status)}, fh)
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


if __name__ == "__main__":
    sys.exit(main())

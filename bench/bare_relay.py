#!/usr/bin/env python3
"""The least a relay can do, the baseline of bench/realpace.py: `bare_relay.py -- argv...`.

Runs argv under a pty (200x50) and copies what it writes to our stdout (64 KiB reads, select), until
it ends; exits with its status. No scanning, no log, no mailbox: what rl-watch costs above this is
the watcher's own work.
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import sys
import termios


def main() -> int:
    argv = sys.argv[2:]
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(argv[0], argv)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
    while True:
        select.select([fd], [], [])
        try:
            data = os.read(fd, 65536)
        except OSError:  # EIO: the pty's other side is closed
            break
        if not data:
            break
        os.write(1, data)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(main())

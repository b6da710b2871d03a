"""Record a program's terminal output with byte timings: `python record.py OUT -- argv...`.

Runs argv under a pty of the given size, relays its output to our stdout and our stdin to it (so it
works inside a tmux pane, as teamctl runs agents), and writes every read as one JSON line
`[seconds since start, base64 bytes]` to OUT. Replays and scanner tests read these captures.
"""

from __future__ import annotations

import base64
import json
import os
import pty
import select
import shutil
import signal
import struct
import sys
import termios
import time
import tty
from collections.abc import Iterator
from pathlib import Path


def record(out: Path, argv: list[str]) -> int:
    cols, rows = shutil.get_terminal_size((80, 24))
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(argv[0], argv)
    import fcntl

    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    start = time.monotonic()
    old = None
    if os.isatty(0):
        old = termios.tcgetattr(0)
        tty.setraw(0)
    signal.signal(signal.SIGWINCH, lambda *_: _copy_size(fd))
    try:
        with out.open("w") as log:
            while True:
                try:
                    ready, _, _ = select.select([fd, 0], [], [], 1.0)
                except InterruptedError:
                    continue
                if fd in ready:
                    try:
                        data = os.read(fd, 65536)
                    except OSError:
                        break
                    if not data:
                        break
                    log.write(json.dumps([round(time.monotonic() - start, 4), base64.b64encode(data).decode()]) + "\n")
                    log.flush()
                    os.write(1, data)
                if 0 in ready:
                    data = os.read(0, 4096)
                    if not data:
                        break
                    os.write(fd, data)
    finally:
        if old is not None:
            termios.tcsetattr(0, termios.TCSADRAIN, old)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def _copy_size(fd: int) -> None:
    import fcntl

    cols, rows = shutil.get_terminal_size((80, 24))
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def read_capture(path: Path) -> Iterator[tuple[float, bytes]]:
    """The (seconds, bytes) reads of a capture file, in order."""
    with path.open() as fh:
        for line in fh:
            t, b = json.loads(line)
            yield t, base64.b64decode(b)


if __name__ == "__main__":
    args = sys.argv[1:]
    assert len(args) >= 3 and args[1] == "--", "usage: record.py OUT -- argv..."
    sys.exit(record(Path(args[0]), args[2:]))

"""The watcher's own log as a logging.Handler on RotatingLog.

logging.handlers.RotatingFileHandler would do, but importing logging.handlers pulls in socket,
pickle and queue (0.7 MB in each of fifty watchers); RotatingLog already rotates by size and keeps
its files 0600, including the ones it creates at a rotation.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ..core.controls import printable
from .logfile import RotatingLog


class RotatingLogHandler(logging.Handler):
    """Formatted records, one per line (UTF-8), to `path`; `path.1` ... `path.N` after rotations."""

    def __init__(self, path: Path, max_bytes: int, backups: int) -> None:
        super().__init__()
        self.log = RotatingLog(path, max_bytes, backups)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            # runtime text reaches this log (a hit's line, a hook's stderr): no terminal controls in
            # it, and one record per line unless it carries a traceback
            line = printable(self.format(record), newlines=bool(record.exc_info or record.stack_info)) + "\n"
            self.log.write(line.encode("utf-8", "backslashreplace"))
        except Exception:
            self.handleError(record)

    def close(self) -> None:
        self.acquire()
        try:
            self.log.close()
        finally:
            self.release()
        super().close()

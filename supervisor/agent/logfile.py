"""Size-rotated byte log of a runtime's output: `<name>.log`, `.log.1` ... `.log.N`, files 0600,
never written through a symlink (see store.safefs)."""

from __future__ import annotations

import os
from pathlib import Path

from ..store.safefs import open_private, private_dir

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_BACKUPS = 3


class RotatingLog:
    """Appends raw bytes unchanged; rotates when the file would pass `max_bytes`."""

    def __init__(self, path: Path, max_bytes: int = DEFAULT_MAX_BYTES, backups: int = DEFAULT_BACKUPS,
                 hold: int = 0) -> None:
        """`hold`: bytes kept back and written in one piece (a flood costs one write per `hold`
        bytes, not one per pty read); the owner calls `flush` when the output goes quiet."""
        self.path = path
        self.max_bytes = max(max_bytes, 1024)
        self.backups = max(backups, 0)
        self.hold = max(hold, 0)
        self._held: list[bytes] = []
        self._held_size = 0
        private_dir(path.parent)
        self._fd = self._open()
        self._size = os.fstat(self._fd).st_size

    def _open(self) -> int:
        return open_private(self.path)  # a planted symlink is replaced, never written through

    def write(self, data: bytes) -> None:
        if self.hold:
            self._held.append(data)
            self._held_size += len(data)
            if self._held_size >= self.hold:
                self.flush()
            return
        self._write(data)

    @property
    def held(self) -> bool:
        """True while bytes wait for `flush`."""
        return self._held_size > 0

    def flush(self) -> None:
        if self._held:
            data = b"".join(self._held)
            self._held.clear()
            self._held_size = 0
            self._write(data)

    def _write(self, data: bytes) -> None:
        if self._size + len(data) > self.max_bytes and self._size > 0:
            self._rotate()
        try:
            os.write(self._fd, data)
        except OSError:
            return  # a full disk must not stop the relay; the terminal still gets every byte
        self._size += len(data)

    def _rotate(self) -> None:
        os.close(self._fd)
        for i in range(self.backups, 0, -1):
            src = self.path.with_name(f"{self.path.name}.{i - 1}" if i > 1 else self.path.name)
            if src.exists():
                os.replace(src, self.path.with_name(f"{self.path.name}.{i}"))
        if self.backups == 0:
            self.path.unlink(missing_ok=True)
        self._fd = self._open()
        self._size = 0

    def close(self) -> None:
        if self._fd >= 0:
            self.flush()
            os.close(self._fd)
            self._fd = -1


def log_files(path: Path, backups: int = DEFAULT_BACKUPS) -> list[Path]:
    """Oldest first: `.log.N` ... `.log.1`, `.log` (those that exist)."""
    files = [path.with_name(f"{path.name}.{i}") for i in range(backups, 0, -1)] + [path]
    return [f for f in files if f.exists()]

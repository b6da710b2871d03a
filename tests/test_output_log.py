"""The runtime's output log: held back during a flood (one write per batch), never lost."""

from __future__ import annotations

from pathlib import Path

from teamctl_supervisor.agent.logfile import RotatingLog
from watchkit import start, wait_for


def test_held_bytes_reach_the_file_on_flush_when_full_and_on_close(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "p-dev.log"
    log = RotatingLog(path, max_bytes=1 << 20, hold=100)
    log.write(b"a" * 60)
    assert path.read_bytes() == b"" and log.held
    log.flush()
    assert path.read_bytes() == b"a" * 60 and not log.held
    log.write(b"b" * 60)
    log.write(b"c" * 60)  # past `hold`: written at once, in order
    assert path.read_bytes() == b"a" * 60 + b"b" * 60 + b"c" * 60
    log.write(b"tail")
    log.close()
    assert path.read_bytes().endswith(b"ctail")


def test_held_bytes_still_rotate_by_size(tmp_path: Path) -> None:
    path = tmp_path / "p-dev.log"
    log = RotatingLog(path, max_bytes=1024, backups=2, hold=300)
    for i in range(40):
        log.write(b"%03d" % i + b"x" * 97)
    log.close()
    sizes = [p.stat().st_size for p in sorted(tmp_path.iterdir())]
    assert len(sizes) == 3 and all(s <= 1024 for s in sizes)
    assert path.read_bytes().endswith(b"039" + b"x" * 97)


def test_watcher_log_catches_up_while_the_runtime_is_quiet(root, watchers) -> None:
    """A runtime that prints and then waits: its words are in the log file at once, not at exit."""
    w = start(watchers, root, ["print:first words", "hang"], "--restart", "never")
    log = root / "state" / "logs" / "solo-dev.log"
    wait_for(lambda: log.exists() and b"first words" in log.read_bytes(), 10, what="log caught up")
    assert w.proc.poll() is None  # still running: the log did not wait for the exit

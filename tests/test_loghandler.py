"""The watcher's own log handler: size rotation to `.1` ... `.N`, files 0600, one formatted line per record."""

from __future__ import annotations

import logging
from pathlib import Path

from teamctl_supervisor.agent.loghandler import RotatingLogHandler


def test_records_rotate_by_size_into_numbered_private_files(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "p-dev.supervisor.log"
    handler = RotatingLogHandler(path, max_bytes=1024, backups=2)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("test-loghandler")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        for i in range(100):
            logger.warning("line %03d %s", i, "x" * 40)
    finally:
        logger.removeHandler(handler)
        handler.close()
    files = sorted(p.name for p in path.parent.iterdir())
    assert files == ["p-dev.supervisor.log", "p-dev.supervisor.log.1", "p-dev.supervisor.log.2"]
    for f in path.parent.iterdir():
        assert f.stat().st_size <= 1024
        assert oct(f.stat().st_mode & 0o777) == "0o600"
    newest = path.read_text(encoding="utf-8").splitlines()
    assert newest[-1] == f"WARNING line 099 {'x' * 40}"
    older = (path.parent / "p-dev.supervisor.log.1").read_text(encoding="utf-8").splitlines()
    assert int(older[-1].split()[2]) + 1 == int(newest[0].split()[2])  # nothing lost between files


def test_text_that_is_not_encodable_does_not_break_logging(tmp_path: Path) -> None:
    path = tmp_path / "w.log"
    handler = RotatingLogHandler(path, max_bytes=1 << 20, backups=1)
    handler.emit(logging.makeLogRecord({"msg": "lone surrogate \udc80 and café"}))
    handler.close()
    assert path.read_bytes() == b"lone surrogate \\udc80 and caf\xc3\xa9\n"

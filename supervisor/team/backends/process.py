"""The process backend: the watcher as a detached process (own session, no terminal).

Its stdout/stderr go to `state/logs/<project>-<agent>.console.log` (0600). Nothing else is recorded:
the watcher writes its own pid into supervisor_agent_state.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path


def console_log(state_dir: Path, log_name: str) -> Path:
    return state_dir / "logs" / f"{log_name}.console.log"


def start(argv: Sequence[str], cwd: Path, env: Mapping[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """Start `argv` detached from us: new session, stdin from /dev/null, output appended to `log_path`."""
    log_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        return subprocess.Popen(list(argv), cwd=str(cwd), env=dict(env), stdin=subprocess.DEVNULL, stdout=fd,
                                stderr=fd, start_new_session=True, close_fds=True)
    finally:
        os.close(fd)

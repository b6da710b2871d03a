"""The process backend: the watcher as a detached process (own session, no terminal).

Its stdout/stderr go to `state/logs/<project>-<agent>.console.log` (0600). Nothing else is recorded:
the watcher writes its own pid into supervisor_agent_state.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from ...store.safefs import open_private, private_dir


def start(argv: Sequence[str], cwd: Path, env: Mapping[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """Start `argv` detached from us: new session, stdin from /dev/null, output appended to `log_path`."""
    private_dir(log_path.parent)
    fd = open_private(log_path)  # appends; a link planted at the name is replaced, never followed
    try:
        return subprocess.Popen(list(argv), cwd=str(cwd), env=dict(env), stdin=subprocess.DEVNULL, stdout=fd,
                                stderr=fd, start_new_session=True, close_fds=True)
    finally:
        os.close(fd)

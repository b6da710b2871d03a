"""The team's record of descriptor texts that passed the full check (core/descriptors/checked.py):
state/cache/descriptor-checks/<file name>, holding the version and the text checked, so `up`'s
check spares every watcher it starts the same work. Read and written without following links."""

from __future__ import annotations

import contextlib
from pathlib import Path

from . import layout
from .safefs import UnsafeState, private_dir, read_nofollow, real_folder, write_private


class DescriptorChecks:
    """`passed`/`note` on files under `state_dir`. `create`: whether noting may create state/ itself
    (a watcher, which creates it anyway; not `validate`, which leaves a tree without one as it is);
    `read_only`: records are read, never written (settings worked out without writing files).
    A state/ that is a symlink is neither read nor written here (`check_state_dir` judges it)."""

    def __init__(self, state_dir: Path, *, create: bool = True, read_only: bool = False) -> None:
        self.state_dir = state_dir
        self.create = create
        self.read_only = read_only

    def passed(self, name: str, content: str) -> bool:
        if not real_folder(self.state_dir):
            return False
        try:  # a planted link or fifo is refused: no record
            return read_nofollow(layout.descriptor_check(self.state_dir, name)) == content.encode()
        except OSError:
            return False

    def note(self, name: str, content: str) -> None:
        """Best effort: a full disk or a read-only tree costs the next start the check, nothing more."""
        state = real_folder(self.state_dir)
        if self.read_only or state is None or (state is False and not self.create):
            return
        path = layout.descriptor_check(self.state_dir, name)
        with contextlib.suppress(OSError, UnsafeState):
            private_dir(path.parent.parent)  # state/cache: never through a planted link
            private_dir(path.parent)
            write_private(path, content)

"""The team's record of descriptor texts that passed the full check (core/descriptors/checked.py):
one empty file per digest under state/cache/descriptor-checks/, so `up`'s check spares every
watcher it starts the same work."""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from . import layout
from .safefs import UnsafeState, private_dir, write_private


class DescriptorChecks:
    """`passed`/`note` on files under `state_dir`; `create`: whether noting may create state/ itself
    (a watcher, which creates it anyway; not `validate`, which leaves a tree without one as it is)."""

    def __init__(self, state_dir: Path, *, create: bool = True) -> None:
        self.state_dir = state_dir
        self.create = create

    def passed(self, digest: str) -> bool:
        try:  # a planted link is not a record of ours
            return stat.S_ISREG(os.lstat(layout.descriptor_check(self.state_dir, digest)).st_mode)
        except OSError:
            return False

    def note(self, digest: str) -> None:
        """Best effort: a full disk or a read-only tree costs the next start the check, nothing more."""
        if not self.create and not self.state_dir.is_dir():
            return
        path = layout.descriptor_check(self.state_dir, digest)
        with contextlib.suppress(OSError, UnsafeState):
            private_dir(path.parent.parent)  # state/cache: never through a planted link
            private_dir(path.parent)
            write_private(path, "")

"""What a watcher does once its start is over (its first idle turn, not in `up`'s rush)."""

from __future__ import annotations

import gc
import sys

from . import start_cache


def start_over() -> None:
    """Keep what the start worked out for the next watchers (start_cache.py), then hand back the heap.

    Start-up (compose, descriptors parsed from TOML, records built) leaves freed heap behind; a watcher
    then idles for hours, two hundred of them at once: the free pages go back to the system."""
    start_cache.finish()
    if not sys.platform.startswith("linux"):
        return
    gc.collect()
    try:
        import ctypes

        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass

"""Which descriptor texts have passed the full check already, so a watcher need not repeat it.

A team's own descriptor is checked in full when it is loaded: every regex compiled on the `regex`
engine and walked for shapes whose cost explodes (62 ms of a watcher's start for a copy of Claude
Code's descriptor, against 11 ms for the built-in one, which is loaded lazily). The check depends
only on the file's text and on this program's version, so once one process has passed a text (`up`
validating the team, or the first watcher), every later start may load it as the built-ins are
loaded: each regex compiled by its first search. The record itself is kept by the caller (under
the team's state/, see store/descriptor_checks.py); this module says what it holds: the version and
the whole text, compared byte for byte (no digest: hashlib loads OpenSSL, 3.6 MiB and 5 ms of
every watcher's start).
"""

from __future__ import annotations

from typing import Protocol

from ... import __version__


class CheckRecord(Protocol):
    """The descriptor texts that passed the full check, by file name."""

    def passed(self, name: str, content: str) -> bool: ...

    def note(self, name: str, content: str) -> None: ...


def record_content(text: str) -> str:
    """What a record holds for `text`: the version whose checks it passed (another version may check
    more, so its record does not count), then the text."""
    return f"teamctl-supervisor {__version__}\n{text}"

"""`teamctl`: the command line. click parses every command (cli/group.py); the layers below do the
work; errors.run_guarded maps errors to exit codes (0 ok, 1 a runtime or operation failed, 2 bad
usage or configuration).

A watcher that `up` started is read without click (cli/watch_args.py: the same option table, and
click's own reading for anything else), so the hundreds of idle watchers of a team never load it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from ..core.errors import UsageProblem as UsageProblem  # defined in errors.py; imported from here too
from ..core.errors import run_guarded


def main(argv: list[str] | None = None) -> int:
    """Entry point: returns the exit status instead of raising it."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["rl-watch"]:
        status = _watch_without_click(args[1:])
        if status is not None:
            return status
    elif "rl-watch" not in args:
        _notices_to_stderr()
    from .group import run_click

    return run_guarded(_mailbox_said(lambda: run_click(argv)))


def _watch_without_click(tokens: list[str]) -> int | None:
    """rl-watch's status, or None when click must read the line: one watch_args cannot read as
    click would, or one whose agent or options are wrong (click then says so, in its words)."""
    from .watch_args import parse

    params = parse(tokens)
    if params is None:
        return None
    from ..agent import start_cache

    start_cache.start(params["root"])  # before watch_run's imports build their records
    from .watch_run import WatchUsage, run_watch

    refused: list[WatchUsage] = []

    def watch() -> object:
        try:
            return run_watch(**params)  # type: ignore[arg-type]
        except WatchUsage as exc:  # raised before anything started: click reads the line again
            refused.append(exc)
            return None

    status = run_guarded(_mailbox_said(watch))
    start_cache.finish()  # a watcher that ends before its first idle turn keeps its start too
    return None if refused else status


def _mailbox_said(command: Callable[[], object]) -> Callable[[], object]:
    """`command`, with a mailbox locked by another program, damaged or read-only said in one line
    (exit status 1), not a traceback."""
    def said() -> object:
        try:
            return command()
        except Exception as exc:
            db = getattr(exc, "mailbox", None)  # set by the SQLite store on its errors
            if db is None:
                raise
            from ..team.mailbox_trouble import describe

            sys.stderr.write(f"teamctl: {describe(db, exc)}\n")
            sys.stderr.flush()
            return 1

    return said


def _notices_to_stderr() -> None:
    """A command's warnings from the layers below (a damaged mailbox moved aside, a mailbox not
    writable) reach the user as one `teamctl: ...` line each; a watcher has its own log instead."""
    import logging

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("teamctl: %(message)s"))
    handler.setLevel(logging.WARNING)
    logging.getLogger(__package__.rsplit(".", 1)[0]).addHandler(handler)


def __getattr__(name: str) -> Any:
    """`cli` (the click group) and its helpers, loaded when asked for: `from teamctl_supervisor.cli
    import cli` keeps working, and a watcher never loads click."""
    if name in ("cli", "LazyGroup", "SUMMARIES"):
        from . import group

        return getattr(group, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

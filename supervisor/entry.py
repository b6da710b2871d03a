"""The `teamctl` entry point: `rl-watch` without click, every other command through cli.py.

rl-watch is the one long-lived command, one process per agent: started through click it would carry
click's imports (and memory) for days, fifty times over. Its options are parsed by cmd_watch's own
table; the errors of both paths map to exit statuses in errors.run_guarded.
"""

from __future__ import annotations

import sys

WATCH = "rl-watch"


def main(argv: list[str] | None = None) -> int:
    """Run `teamctl ARGV` (default: sys.argv[1:]) and return its exit status."""
    args = sys.argv[1:] if argv is None else list(argv)
    if args[:1] == [WATCH]:
        from .cmd_watch import main as watch_main
        from .errors import run_guarded

        return run_guarded(lambda: watch_main(args[1:]))
    from .cli import main as cli_main

    return cli_main(args)

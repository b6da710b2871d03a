"""The errors a user can fix, and the one mapping from them to a message and exit status 2.

They live here, apart from the modules that raise them, so the entry points can catch them without
importing click, yaml or the regex engine (a watcher is one process per agent: imports are memory).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any


class UsageProblem(Exception):
    """Bad input from the user: printed as is, exit status 2.

    `usage` (the command's usage line) is printed above the message, as click prints its own usage
    errors, for commands parsed without click (rl-watch).
    """

    def __init__(self, message: str, usage: str | None = None) -> None:
        super().__init__(message)
        self.usage = usage


class ComposeError(Exception):
    """The compose tree cannot be turned into a Team; `problems` lists all of them (and warnings)."""

    def __init__(self, problems: Sequence[Any]):
        self.problems: list[Any] = list(problems)
        n = len(self.errors)
        lines = [f"compose tree has {n} error{'s' if n != 1 else ''}:"]
        lines += [f"  {p}" for p in self.problems]
        super().__init__("\n".join(lines))

    def __reduce__(self) -> tuple[Any, ...]:
        return (ComposeError, (self.problems,))

    @property
    def errors(self) -> list[Any]:
        """Only the problems that block loading (compose_model.Problem, severity "error")."""
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Any]:
        """Problems that would not have blocked loading on their own."""
        return [p for p in self.problems if p.severity != "error"]


class UnknownAgentError(KeyError):
    """Raised by Team.agent(); a KeyError whose str() is readable (KeyError's quotes it)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class DescriptorError(Exception):
    """A runtime descriptor that cannot be used; the message names file, table and key."""

    def __init__(self, file: Path | str, where: str, message: str) -> None:
        self.file = Path(file)
        self.where = where
        super().__init__(f"{file}: {where}: {message}" if where else f"{file}: {message}")


#: Errors in the user's input or configuration: a message, exit status 2.
USER_ERRORS = (ComposeError, DescriptorError, UsageProblem, UnknownAgentError)


def user_message(exc: BaseException) -> str:
    """What `teamctl` prints for one of USER_ERRORS."""
    if isinstance(exc, UsageProblem) and exc.usage:
        return f"{exc.usage}\n\nError: {exc}"
    return f"teamctl: {exc}"


def run_guarded(command: Callable[[], object]) -> int:
    """Run a command; map what it raises to an exit status: 2 for USER_ERRORS (message on stderr),
    130 for Ctrl-C, a SystemExit's own code. An int result is the status; anything else is 0."""
    try:
        result = command()
    except USER_ERRORS as exc:
        sys.stderr.write(user_message(exc) + "\n")
        sys.stderr.flush()
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # lower layers' user errors (e.g. store's UnsafeState) carry a flag
        if not getattr(exc, "user_error", False):
            raise
        sys.stderr.write(f"teamctl: {exc}\n")
        sys.stderr.flush()
        return 2
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    return result if isinstance(result, int) else 0

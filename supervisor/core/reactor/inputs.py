"""The reactor's inputs, one method each, every one dispatched through the table (machine.TABLE):
the shell's whole vocabulary in one place."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..scan.scanner import Event
from ..states import WaitEnd
from .commands import Command, Hit, Now
from .phases import Input, WaitKind


class Inputs:
    """What the shell can tell the reactor; `_dispatch` (the Reactor's) finds the handler."""

    def _dispatch(self, got: Input, *args: Any) -> list[Command]:
        raise NotImplementedError

    def start(self, now: Now) -> list[Command]:
        """The watcher starts: look before the first spawn (a group's limit, a budget cap)."""
        return self._dispatch(Input.START, now)

    def limits(self, now: Now, group_until: float | None, budget_until: float | None) -> list[Command]:
        """The answer to CheckLimits: the group's active limit (None: none) and the budget cap."""
        return self._dispatch(Input.LIMITS, now, group_until, budget_until)

    def waited(self, kind: WaitKind, end: WaitEnd, now: Now) -> list[Command]:
        """A Wait ended (its deadline, a wake, or a stop signal)."""
        return self._dispatch(Input.WAITED, WaitKind(kind), end, now)

    def spawned(self, now: Now, resumed: bool) -> list[Command]:
        return self._dispatch(Input.SPAWNED, now, resumed)

    def spawn_failed(self, now: Now, message: str) -> list[Command]:
        return self._dispatch(Input.SPAWN_FAILED, now, message)

    def readout(self, now: Now, events: list[Event], new_content: bool = True, wrote: bool = True) -> list[Command]:
        """What the pty session (or a structured channel) read: scanner events; `new_content`: the
        runtime drew something new (not a spinner); `wrote`: it wrote anything since the last one."""
        return self._dispatch(Input.READOUT, now, events, new_content, wrote)

    def rows(self, now: Now, hit: Hit, until: float, found: Iterable[float]) -> list[Command]:
        """The answer to FindRows: this agent's unhandled rows just before the hit."""
        return self._dispatch(Input.ROWS, now, hit, until, list(found))

    def tick(self, now: Now) -> list[Command]:
        """Time passed in a session: resume at the reset, confirm a resume, poll, notice a stall."""
        return self._dispatch(Input.TICK, now)

    def resized(self, now: Now) -> list[Command]:
        """The window changed: the CLI redraws its screen, old limit lines included."""
        return self._dispatch(Input.RESIZED, now)

    def poke(self, now: Now) -> list[Command]:
        """SIGUSR2: another watcher of the group hit a limit, or a cap was reached: poll now."""
        return self._dispatch(Input.POKE, now)

    def wake(self, now: Now) -> list[Command]:
        """SIGUSR1 (`teamctl wake`) during a session: a pending resume happens now."""
        return self._dispatch(Input.WAKE, now)

    def stop_signal(self, signum: int) -> list[Command]:
        """SIGTERM/SIGINT/SIGHUP: stop the runtime (if any) and exit 128+signum."""
        return self._dispatch(Input.STOP_SIGNAL, signum)

    def exited(self, now: Now, code: int) -> list[Command]:
        """The runtime's session ended (by itself or stopped)."""
        return self._dispatch(Input.EXITED, now, code)

    def turn(self, now: Now, source: str) -> list[Command]:
        """Evidence of a model turn (its session file grew by a model row, or new model text on
        screen): the only proof that a resume worked."""
        return self._dispatch(Input.TURN, now, source)

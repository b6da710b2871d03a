"""Evidence of model turns for the reactor (issue 22, "resumed" on evidence).

The agent's own session file (read by its SessionKeeper's thread) is the structured source; where the
runtime has none, new text on its screen is (evidence.TurnWatch judges it: a redraw, a spinner, a limit
notice and the keys we typed are not new). Each new turn is told to the reactor, which alone decides
what it proves; `do()` executes the reactor's ArmTurns and RunEvent commands."""

from __future__ import annotations

import time
from typing import Any

from ..core import reactor as r
from ..core.descriptors.loader import Runtime
from ..core.scan.fresh_text import WINDOW
from ..core.scan.scanner import Event, EventKind
from .evidence import DEFAULT_DEADLINE_SECONDS, Turn
from .helpers import AgentHooks
from .pty_session import PtySession
from .sessions import SessionKeeper


def escalation_settings(runtime: Runtime) -> dict[str, Any]:
    """The reactor's escalation settings from the descriptor: its deadline and its continue keys (the
    first `resume_keys` its limit signatures type; none: the step is skipped for a respawn)."""
    deadline = runtime.launch.resume_deadline
    keys = next((sig.resume_keys for sig in runtime.rate_limits if sig.resume_keys), "")
    return {"resume_deadline": DEFAULT_DEADLINE_SECONDS if deadline is None else deadline, "continue_keys": keys}


class TurnPty(PtySession):
    """A PtySession that keeps the start of what it read since the last `take()`: the screen's
    evidence. TurnWatch judges a read by its first WINDOW bytes, so a flood keeps only those (joining
    megabytes per report cost a fresh mapping and its page faults, for bytes nobody read)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._read: list[bytes] = []
        self._kept = 0

    def _read_burst(self) -> bytes | None:
        data = super()._read_burst()
        if data and self._kept < WINDOW:
            kept = data[:WINDOW - self._kept] if len(data) > WINDOW - self._kept else data
            self._read.append(kept)
            self._kept += len(kept)
        return data

    def take(self) -> bytes:
        """The first WINDOW bytes read since the last call (all of them, when fewer)."""
        parts, self._read, self._kept = self._read, [], 0
        return b"".join(parts)


class TurnFeed:
    """Tells the reactor of each model turn newer than the last one told."""

    def __init__(self, keeper: SessionKeeper, hooks: AgentHooks) -> None:
        self.keeper, self.hooks = keeper, hooks
        self._told: Turn | None = None

    def turns(self, reactor: r.Reactor, now: r.Now, screen: bytes = b"", events: list[Event] | None = None
              ) -> list[r.Command]:
        """The screen's new bytes (used only where no session file is read: none has a reader, or the
        id the CLI picked is not learned yet) and what the keeper's thread saw since: the reactor's
        answer to a new turn, if any."""
        watch = self.keeper.turns
        if screen and (watch.kind is None or self.keeper.session_id is None):
            limit_line = any(e.kind is EventKind.RATE_LIMIT for e in events or ())
            watch.screen(screen, now.wall, limit_line=limit_line)
        last = watch.last
        if last is None or last is self._told or watch.armed_at is None or last.at < watch.armed_at:
            return []
        self._told = last
        return reactor.turn(now, last.source)

    def do(self, cmd: r.ArmTurns | r.RunEvent) -> None:
        if isinstance(cmd, r.RunEvent):
            self.hooks.event(cmd.event, cmd.detail)
        else:
            self.keeper.turns.rearm(time.time(), [cmd.typed] if cmd.typed else [])

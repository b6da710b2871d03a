"""One limit, one row: which mailbox row a hit writes, decided here and nowhere else.

A limit can be reported three ways: the watcher's screen, a record-only status line of the same
limit just before, and the CLI's own StopFailure hook (`teamctl rl-hit`). Whichever comes first
writes the row; the later ones take it over (the screen) or add nothing (the hook)."""

from __future__ import annotations

from collections.abc import Iterable

from .settings import RECORD_DEDUP_SECONDS, SAME_HIT_SECONDS, SAME_RESET_SECONDS


def same_limit_as_record(record_resets: float | None, hit_resets: float | None, since_record: float) -> bool:
    """A blocking line of the limit a record-only line reported seconds ago (Claude Code 2.1.197
    draws `Session limit reached · Retrying in 5h` beside its limit menu; under load the two are
    read apart): one limit, one row."""
    if since_record >= RECORD_DEDUP_SECONDS:
        return False
    return record_resets is None or hit_resets is None or abs(record_resets - hit_resets) <= SAME_RESET_SECONDS


def adopted_row(found: Iterable[float], mine: Iterable[float]) -> float | None:
    """Of the agent's unhandled rows just before a hit (FindRows' answer), the one written by
    someone else (the CLI's hook) that this hit takes over; None: a row of its own."""
    own = set(mine)
    theirs = [key for key in found if key not in own]
    return max(theirs) if theirs else None


def hook_report_is_known(recent_hits: Iterable[float], now: float) -> bool:
    """`rl-hit`: a row for this agent within SAME_HIT_SECONDS means the screen reported it first."""
    return any(now - hit_at <= SAME_HIT_SECONDS for hit_at in recent_hits)


def rows_since(hit_at: float) -> float:
    """How far back a hit looks for a row the CLI's hook wrote before it."""
    return hit_at - SAME_HIT_SECONDS

"""An agent's past, read back from its watcher's own log: the `state ...` lines that
`AgentWatch.change_state` writes at every transition, turned into timed segments.

The mailbox keeps only each agent's current state; the watcher's log keeps every change, with its
time. The dashboard's 24-hour timeline and `teamctl report` both need the history, so both read it
here. Pure: lines in, segments out (the caller reads the file).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime

from .lazy_dataclass import lazy_dataclass

#: `2026-12-07 02:42:20,123 INFO teamctl_supervisor.agent.watch: state rate_limited until 03:00 (why)`
_STATE_LINE = re.compile(
    r"^(?P<when>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)(?:,(?P<ms>\d{1,3}))? \w+ [\w.]+: state (?P<state>[a-z_]+)"
    r"(?: until [^()]*?)?(?: \((?P<detail>.*)\))?\s*$")

#: What a timeline draws, each state (and a stalled run) named for a person.
KINDS = ("running", "rate_limited", "paused", "stalled", "failed", "backing_off", "starting", "stopped")


@lazy_dataclass(frozen=True)
class Transition:
    at: float
    state: str
    detail: str | None


@lazy_dataclass(frozen=True)
class Segment:
    """From `start` to `end`, the agent was in `kind` (one of KINDS); `detail` says why, if known."""

    start: float
    end: float
    kind: str
    detail: str | None = None

    @property
    def seconds(self) -> float:
        return max(0.0, self.end - self.start)

    def as_dict(self) -> dict[str, object]:
        return {"start": round(self.start, 3), "end": round(self.end, 3), "kind": self.kind,
                "detail": self.detail}


def parse_transitions(lines: Iterable[str]) -> list[Transition]:
    """Every `state ...` line of a watcher's log, oldest first (log times are local, as logging writes).
    The milliseconds count: a one-second wait logged late (after a slow stop of the runtime) shares
    its second with the next state, and would vanish from the report at whole seconds."""
    out = []
    for line in lines:
        m = _STATE_LINE.match(line)
        if m is None:
            continue
        try:
            at = datetime.strptime(m.group("when"), "%Y-%m-%d %H:%M:%S").timestamp()
        except ValueError:
            continue
        ms = m.group("ms")
        out.append(Transition(at + (int(ms.ljust(3, "0")) / 1000 if ms else 0.0), m.group("state"), m.group("detail")))
    return out


def kind_of(state: str, detail: str | None) -> str:
    """The timeline's name for a state row: a running agent whose detail says stalled is `stalled`,
    the budget and group pauses are `paused`."""
    if state == "running" and detail and detail.startswith("stalled"):
        return "stalled"
    if state.startswith("paused"):
        return "paused"
    if state == "stopping":
        return "stopped"
    return state if state in KINDS else "running"


def segments(transitions: Iterable[Transition], since: float, now: float) -> list[Segment]:
    """The transitions as segments clipped to [since, now]; the last one lasts until `now`, unless
    it is `stopped` (a stopped agent's time is not drawn)."""
    ordered = sorted(transitions, key=lambda t: t.at)
    out: list[Segment] = []
    for i, t in enumerate(ordered):
        end = ordered[i + 1].at if i + 1 < len(ordered) else now
        start, end = max(t.at, since), min(end, now)
        kind = kind_of(t.state, t.detail)
        if end <= start or kind == "stopped":
            continue
        if out and out[-1].kind == kind and out[-1].end == start and out[-1].detail == t.detail:
            out[-1] = Segment(out[-1].start, end, kind, t.detail)
        else:
            out.append(Segment(start, end, kind, t.detail))
    return out


def totals(segs: Iterable[Segment]) -> dict[str, float]:
    """Seconds per kind."""
    out: dict[str, float] = {}
    for s in segs:
        out[s.kind] = out.get(s.kind, 0.0) + s.seconds
    return out


def crashes(transitions: Iterable[Transition], since: float) -> int:
    """Backoffs after an exit and final failures since `since`: each is a runtime that died on us."""
    return sum(1 for t in transitions if t.at >= since and t.state in ("backing_off", "failed"))


def stalls(transitions: Iterable[Transition], since: float) -> int:
    return sum(1 for t in transitions if t.at >= since and kind_of(t.state, t.detail) == "stalled")


def spend_buckets(rows: Iterable[tuple[float, float]], start: float, width: float, count: int) -> list[float]:
    """USD per bucket: `count` buckets of `width` seconds from `start`; rows outside are left out."""
    out = [0.0] * count
    for at, usd in rows:
        i = int((at - start) // width)
        if 0 <= i < count:
            out[i] += usd
    return [round(v, 6) for v in out]

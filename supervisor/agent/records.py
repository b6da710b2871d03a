"""What the watcher writes to the mailbox for the reactor: hit rows and their scope, handled marks,
cost rows, and the group's active limits it reads back. It executes; which row a hit writes is
decided by the reactor (core/reactor/rows.py)."""

from __future__ import annotations

import logging

from ..core import reactor as r
from ..core.costs import CostLedger
from ..core.scan.scanner import Event
from ..store.journaled import JournaledStore
from ..store.mailbox import Store
from .budget import Pricer
from .orphans import poke_watchers
from .settings import WatchSettings
from .waiting import Clock, time_with_zone

log = logging.getLogger(__name__)


class Records:
    """One agent's rows in the mailbox."""

    def __init__(self, settings: WatchSettings, store: Store, clock: Clock, group: str) -> None:
        self.s = settings
        self.store = store
        self.clock = clock
        self.group = group
        self.ledger = CostLedger()
        self.pricer = Pricer(settings.prices)

    def unhandled_hits(self, since: float) -> list[float]:
        return self.store.unhandled_hits(self.s.agent_id, since)

    def record_hit(self, cmd: r.RecordHit) -> None:
        hit, event = cmd.hit, cmd.hit.event
        self.store.record_hit(self.s.agent_id, self.s.runtime.name, cmd.row, hit.resets_at, event.raw, self.group,
                              event.model, event.action.value if event.action else "stop", cmd.until,
                              update=cmd.update)
        log.info("rate limit hit (%s, %s): resets %s: %r", event.signature, event.action,
                 time_with_zone(hit.resets_at, self.s.tz) if hit.resets_at else "unknown", event.raw[:300])

    def mark_handled(self, cmd: r.MarkHandled) -> None:
        self.store.mark_handled(self.s.agent_id, cmd.row, self.clock.wall())

    def group_deadline(self, max_wait: float) -> float | None:
        """The latest reset (+ margin) of an active limit in our group that covers our model."""
        rows = self.store.active_group_limits(self.group, self.s.model, self.clock.wall())
        if not rows:
            return None
        return min(max(row["until"] for row in rows), self.clock.wall() + max_wait)

    def poke_group(self) -> None:
        """Group-mates check the group's limits: once our hit is in the mailbox for them to read."""
        group, me = self.group, self.s.agent_id
        if isinstance(self.store, JournaledStore):
            self.store.when_committed(lambda store: poke_watchers(store.group_watchers(group, exclude=me)))
        else:
            poke_watchers(self.store.group_watchers(group, exclude=me))

    def record_cost(self, event: Event) -> None:
        spend = self.ledger.observe(event)
        if spend is None:
            return
        usd = self.pricer.usd(spend, event.model or self.s.model)
        self.store.record_budget(self.s.project_id, self.s.agent_id, self.s.runtime.name, usd,
                                 spend.input_tok, spend.output_tok, self.clock.wall())

    def hook_values(self, hit: r.Hit) -> dict[str, object]:
        return {
            "agent": self.s.agent_id, "project": self.s.project_id, "runtime": self.s.runtime.name,
            "hit_at": hit.hit_at, "resets_at": hit.resets_at,
            "resets_at_local": time_with_zone(hit.resets_at, self.s.tz) if hit.resets_at else "unknown",
            "raw_match": hit.event.raw,
        }

    def event_values(self, event: str, detail: str) -> dict[str, object]:
        """What an on_event hook (failed, stalled, blocked, stuck, resumed) may place in its text."""
        return {
            "agent": self.s.agent_id, "project": self.s.project_id, "runtime": self.s.runtime.name,
            "event": event, "detail": detail, "at": self.clock.wall(), "hit_at": None, "resets_at": None,
            "resets_at_local": "unknown", "raw_match": "",
        }

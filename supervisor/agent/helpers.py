"""The watcher's helpers beside the runtime: hook chains (on their own thread), the daily report,
and the on_event hooks for the night. Kept apart from the watcher's loop because none of it decides
anything about the agent: the reactor asks for hooks, the watcher's state changes name events."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping

from ..store import layout
from ..store.journaled import JournaledStore
from ..store.mailbox import Store, heartbeat_seconds
from .hooks import HookRunner, event_of, split_chain
from .hookthread import HookQueue
from .records import Records
from .report_trigger import KIND as REPORT_KIND
from .report_trigger import TEAM_KEY, ReportLauncher, ReportTrigger
from .settings import WatchSettings
from .waiting import Clock

log = logging.getLogger("teamctl_supervisor.agent.watch")

#: The longest a Wait (or the watcher's exit) waits for queued hooks to finish.
HOOK_DRAIN_SECONDS = 30.0


class AgentHooks:
    """Hooks, the daily report and event hooks of one watcher; `pids()` is what a stop spares."""

    def __init__(self, settings: WatchSettings, store: Store, clock: Clock, records: Records) -> None:
        self.s = settings
        self.clock = clock
        self.records = records
        self.queue = HookQueue(self._runner)  # hooks run on their own thread and mailbox connection
        self._hook_store: JournaledStore | None = None
        self.report_launcher = ReportLauncher(settings.state_dir.parent, settings.env)
        self.daily_report = ReportTrigger(
            settings.caps.report_at if settings.caps.on_report else None, settings.caps.tz,
            lambda day, now: store.claim_alert(TEAM_KEY, day, REPORT_KIND, now), self.report_launcher)
        self.store = store
        self.group = settings.limit_group or settings.runtime.name  # as the watcher's group
        self.on_hit = tuple(split_chain(settings.chain)[0])
        self.beat_every = heartbeat_seconds()
        self._next_beat = 0.0

    def submit(self, names: Iterable[str], values: Mapping[str, object]) -> None:
        names = tuple(names)
        if names and self._hit_alert(names, values) and not self.store.claim_hit_alert(
                self.group, values.get("resets_at"), self.clock.wall(), self.s.agent_id):  # type: ignore[arg-type]
            log.info("limit group %s: its hit's alert was sent by another watcher; not again", self.group)
            return
        self.queue.submit(names, values)

    def _hit_alert(self, names: tuple[str, ...], values: Mapping[str, object]) -> bool:
        """The on-hit chain of a limit hit (not a budget cap's, not the resume chain after the reset):
        one per group hit, whichever host's watcher claims it first."""
        resets = values.get("resets_at")
        return (names == self.on_hit and "reason" not in values and "hit_at" in values
                and (not isinstance(resets, int | float) or resets > self.clock.wall()))

    def poll_report(self) -> None:
        """Start the daily report when its time of day has come (the mailbox decides which watcher),
        and beat for the other hosts: called by the group poll and the wait's ticks, no wakeup of its own."""
        self.daily_report.poll(self.clock.wall())
        if self.store.backend.remote and self.clock.mono() >= self._next_beat:
            self._next_beat = self.clock.mono() + self.beat_every
            self.store.heartbeat(self.s.agent_id, self.clock.wall())

    def state_changed(self, state: str, detail: str | None) -> None:
        """A state that names an event (failed, stalled, blocked, stuck) runs its hooks."""
        event = event_of(state, detail)
        if event is not None:
            self.event(event, detail or state)

    def event(self, event: str, detail: str) -> None:
        """Run the agent's hooks for `event` (compose on_event; hooks.EVENTS), if it has any."""
        if event == "resumed":
            log.info("resumed: %s", detail)
        if names := self.s.event_hooks.get(event):
            self.queue.submit(names, self.records.event_values(event, detail))

    def pids(self) -> frozenset[int]:
        """Our own processes beside the runtime (the report, `run` hooks): a stop spares them."""
        return self.report_launcher.pids() | self.queue.running_pids()

    def drain(self, stop_requested: Callable[[], bool]) -> None:
        """Let queued hooks finish (bounded), without holding up a stop signal."""
        deadline = time.monotonic() + HOOK_DRAIN_SECONDS
        while not stop_requested() and time.monotonic() < deadline:
            if self.queue.drain(0.2):
                return

    def close(self, stopping: bool) -> None:
        self.queue.close(0.5 if stopping else HOOK_DRAIN_SECONDS)
        if self._hook_store is not None:
            self._hook_store.finish()  # its last messages on disk, and one last try at the mailbox

    def _runner(self) -> HookRunner:
        """The hook thread's runner; its `send` hooks write through a mailbox connection of its own."""
        store = self._hook_store = JournaledStore(self.s.mailbox, layout.spool_dir(self.s.state_dir),
                                                  f"{self.s.log_name}.hooks")
        store.replay_spool()

        def send(recipient: str, text: str) -> None:
            store.send_message(self.s.project_id, "cli", recipient, text, self.clock.wall())

        return HookRunner(self.s.hooks, send=send, env=self.s.env)

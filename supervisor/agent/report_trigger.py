"""The daily `report` hook event: at `budget.report_at` (a local time in `budget.tz`), one watcher of
the team starts `teamctl report --send`, which sends the report through the `budget.on_report`
hooks (send, webhook, run: the same hooks as a rate-limit hit).

Every watcher asks on its polls and in its waits; the mailbox decides which one sends (the
`supervisor_budget_alerts` row of the day, kind "report", as for the budget alerts), so a team of
fifty sends one report. A watcher that first looks more than LATE_SECONDS after the time (a team
started in the afternoon) sends nothing that day: a morning report at 15:00 is noise.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Mapping
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

from .orphans import SPAWNING

log = logging.getLogger(__name__)

LATE_SECONDS = 3 * 3600.0
#: The `project_id` of the team's report row in supervisor_budget_alerts (no project has this id).
TEAM_KEY = "*team*"
KIND = "report"


class ReportTrigger:
    """`poll(now)` is True once a day, at `at`, for the one caller that wins `claim(day, now)`."""

    def __init__(self, at: str | None, tz: ZoneInfo, claim: Callable[[str, float], bool],
                 fire: Callable[[], object]) -> None:
        self.at = None if at is None else time(int(at[:2]), int(at[3:5]))
        self.tz = tz
        self.claim = claim
        self.fire = fire
        self._seen: date | None = None

    def poll(self, now: float) -> bool:
        if self.at is None:
            return False
        day = datetime.fromtimestamp(now, self.tz).date()
        if self._seen == day:
            return False
        due = datetime.combine(day, self.at, self.tz).timestamp()
        if now < due:
            return False
        self._seen = day
        if now - due > LATE_SECONDS or not self.claim(str(day), now):
            return False
        self.fire()
        return True


class ReportLauncher:
    """Starts `teamctl report --since 24h --send` for the team, detached. The watcher is a subreaper
    that ends every process left under it when its runtime stops; `pids()` are spared, so a hit at
    07:30 does not cut the report off."""

    def __init__(self, team_dir: Path, env: Mapping[str, str]) -> None:
        self.team_dir = team_dir
        self.env = dict(env)
        self._children: list = []  # the Popen of each report started, reaped on the next call

    def pids(self) -> frozenset[int]:
        self._children[:] = [c for c in self._children if c.poll() is None]
        return frozenset(c.pid for c in self._children)

    def __call__(self) -> object:
        import subprocess  # once a day at most: kept out of every watcher's start-up

        self.pids()
        argv = [sys.executable, "-m", "teamctl_supervisor", "report", "--since", "24h", "--send",
                "-C", str(self.team_dir)]
        try:
            with SPAWNING:  # known before a stop can list it among the runtime's orphans
                child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL, env=self.env, start_new_session=True)
                self._children.append(child)
        except OSError as exc:
            log.warning("daily report: cannot start `teamctl report`: %s", exc)
            return None
        log.info("daily report: sending through the on_report hooks (pid %d)", child.pid)
        return child

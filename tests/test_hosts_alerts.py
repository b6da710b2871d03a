"""One "limit hit" alert per group hit, whichever host's watcher sees it first: the watchers' hook
helpers of two agents of one limit group, on two team roots sharing one PostgreSQL database (two
hosts), both seeing the account's hit; the shared database lets one of them send the alert."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pgcluster
import pytest
from teamctl_supervisor.agent.helpers import AgentHooks
from teamctl_supervisor.agent.records import Records
from teamctl_supervisor.agent.settings import settings_for_agent
from teamctl_supervisor.agent.waiting import SystemClock
from teamctl_supervisor.store import layout
from teamctl_supervisor.store.broker import POINTER, write_pointer
from teamctl_supervisor.store.mailbox import Store
from teamctl_supervisor.team.loading import load
from watchkit import make_team, wait_for

pg = pgcluster.pg

HOOKS = """\
rate_limits:
  hooks:
    - name: tell
      action: send
      to: p:lead
      text: "{agent} limited until {resets_at_local}"
"""


class Host:
    """One host's watcher helpers for one agent: its settings from compose, its own store."""

    def __init__(self, root: Path, agent_id: str) -> None:
        team = load(str(root))
        write_pointer(team.mailbox_path, None, "TEAMCTL_PG_URL")
        self.settings = settings_for_agent(team, team.select([agent_id])[0], ["true"])
        self.store = Store(self.settings.mailbox, layout.spool_dir(self.settings.state_dir), agent_id)
        clock = SystemClock()
        self.hooks = AgentHooks(self.settings, self.store, clock,
                                Records(self.settings, self.store, clock, self.settings.limit_group or ""))

    def hit(self, now: float, resets_at: float, names: tuple[str, ...] = ("tell",)) -> None:
        self.hooks.submit(names, {"agent": self.settings.agent_id, "project": "p", "runtime": "claude-code",
                                  "hit_at": now, "resets_at": resets_at, "resets_at_local": "later",
                                  "raw_match": "usage limit reached"})

    def drain(self) -> None:
        assert self.hooks.queue.drain(30)

    def close(self) -> None:
        self.hooks.close(False)
        self.store.close()


def test_a_group_hit_seen_on_two_hosts_sends_one_alert(pg: pgcluster.Cluster, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEAMCTL_PG_URL", pg.fresh_url())
    agents = {"lead": "", "w1": "    limit_group: acct\n    on_rate_limit: [tell, wait, tell]\n",
              "w2": "    limit_group: acct\n    on_rate_limit: [tell, wait, tell]\n",
              "solo": "    limit_group: other\n    on_rate_limit: [tell, wait]\n"}
    root_a = make_team(tmp_path / "a", agents, compose_extra=HOOKS)
    compose = root_a / "team-compose.yaml"
    compose.write_text(compose.read_text().replace(
        "broker: {type: sqlite, path: state/mailbox.db}", "broker: {type: postgres, url_env: TEAMCTL_PG_URL}"))
    root_b = tmp_path / "b" / "proj" / ".team"
    shutil.copytree(root_a.parent, root_b.parent)
    a, b, c = Host(root_a, "p:w1"), Host(root_b, "p:w2"), Host(root_b, "p:solo")
    desk = Store(tmp_path / "desk" / POINTER)
    write_pointer(desk.path, None, "TEAMCTL_PG_URL")

    def alerts() -> list[str]:
        return [r["text"] for r in desk.query("SELECT text FROM messages ORDER BY id")]
    try:
        now = time.time()
        # each agent parses the account's reset a few seconds apart, here either side of where a
        # 10-minute bucket by rounding (round(reset / 600)) would cut: still one hit
        reset = (now // 600 + 6) * 600 + 298
        a.hit(now, reset)
        b.hit(now + 1, reset + 5)
        c.hit(now + 1, reset + 5)  # another group (account): its own alert
        for h in (a, b, c):
            h.drain()
        wait_for(lambda: len(alerts()) >= 2, timeout=30, what="the alerts written")

        b.hit(now + 2, now - 1)  # the chain after the wait (the reset is past): not a hit's alert
        a.hit(now + 3, reset + 3600)  # the account's next hit, an hour on: alerted again
        for h in (a, b):
            h.drain()
        wait_for(lambda: len(alerts()) >= 4, timeout=30, what="the later alerts written")
        # each host's hook writes are in order: a second alert of the first hit would come before these
        who = [t.split()[0] for t in alerts()]
        assert sorted(who[:2]) == ["p:solo", "p:w1"] and sorted(who[2:]) == ["p:w1", "p:w2"], who
    finally:
        for h in (a, b, c):
            h.close()
        desk.close()

"""One "limit hit" alert per group hit, on both engines: the claim treats the group's resets within
HIT_ALERT_WINDOW of a claimed one as the same hit, wherever a fixed bucket's edge falls between them,
and claimers racing from several connections (hosts) get exactly one winner."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pgcluster
from teamctl_supervisor.store.mailbox import Store
from teamctl_supervisor.store.queries import HIT_ALERT_WINDOW

pg, mailbox_at = pgcluster.pg, pgcluster.mailbox_at  # every test on SQLite and on PostgreSQL
MailboxAt = Any

#: An account's reset, 09:59:58 on one agent's screen and 10:00:03 on another's: a 10-minute bucket
#: by rounding (round(reset / 600)) puts its edge at :05 past the 600-second multiple, hence +300.
EDGE = 1_800_000_000.0 + 300.0


def test_resets_straddling_a_bucket_edge_are_one_hit(mailbox_at: MailboxAt, tmp_path: Path) -> None:
    path = mailbox_at()
    with Store(path) as host_a, Store(path) as host_b:  # two connections, as two hosts have
        now = EDGE - 3600
        assert host_a.claim_hit_alert("acct", EDGE - 2, now, "p:w1")
        assert not host_b.claim_hit_alert("acct", EDGE + 3, now + 1, "p:w2")
        assert not host_b.claim_hit_alert("acct", EDGE + HIT_ALERT_WINDOW - 5, now + 2, "p:w3")
        assert host_b.claim_hit_alert("other", EDGE + 3, now + 1, "p:solo")  # another account's group
        rows = host_a.query("SELECT limit_group, agent_id FROM supervisor_hit_alerts ORDER BY limit_group")
        assert [(r["limit_group"], r["agent_id"]) for r in rows] == [("acct", "p:w1"), ("other", "p:solo")]


def test_two_hits_hours_apart_are_two_alerts(mailbox_at: MailboxAt) -> None:
    path = mailbox_at()
    with Store(path) as host_a, Store(path) as host_b:
        now = EDGE - 3600
        assert host_a.claim_hit_alert("acct", EDGE, now, "p:w1")
        assert host_b.claim_hit_alert("acct", EDGE + 5 * 3600, now + 3 * 3600, "p:w2")  # the next 5-hour window
        assert not host_a.claim_hit_alert("acct", EDGE + 5 * 3600 + 30, now + 3 * 3600 + 1, "p:w1")
        assert host_a.claim_hit_alert("acct", EDGE + 7 * 24 * 3600, now + 4 * 3600, "p:w1")  # a weekly one


def test_hits_without_a_parsed_reset_are_one_alert_within_the_window(mailbox_at: MailboxAt) -> None:
    path = mailbox_at()
    with Store(path) as host_a, Store(path) as host_b:
        now = EDGE
        assert host_a.claim_hit_alert("acct", None, now, "p:w1")
        assert not host_b.claim_hit_alert("acct", None, now + 20, "p:w2")
        assert host_b.claim_hit_alert("acct", None, now + 3600, "p:w2")
        assert host_a.claim_hit_alert("acct", now + 10, now + 3601, "p:w1")  # a parsed reset is its own key


def test_claimers_racing_from_many_connections_get_one_winner(mailbox_at: MailboxAt) -> None:
    path = mailbox_at()
    stores = [Store(path) for _ in range(8)]
    try:
        for s in stores:
            s.query("SELECT 1 FROM supervisor_hit_alerts")  # connected: the race is the claims', not the opens'
        for round_no in range(3):
            reset = EDGE + round_no * 86400
            start = threading.Barrier(len(stores))
            won: list[bool] = []

            def claim(i: int, s: Store, reset: float = reset, start: threading.Barrier = start,
                      won: list[bool] = won) -> None:
                start.wait()
                won.append(s.claim_hit_alert("acct", reset + (i % 4) * 50 - 100, reset - 600 + i, f"p:w{i}"))
            threads = [threading.Thread(target=claim, args=(i, s)) for i, s in enumerate(stores)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            assert sorted(won) == [False] * (len(stores) - 1) + [True], round_no
    finally:
        for s in stores:
            s.close()

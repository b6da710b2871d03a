"""The journal's hook-up (issue 23 items 2 and 4): a Store whose writes never wait on a locked
mailbox and land once it is free."""

from __future__ import annotations

import sqlite3
import time

from teamctl_supervisor.store import mailbox
from teamctl_supervisor.store.journaled import JournaledStore
from teamctl_supervisor.store.mailbox import Store


def test_writes_return_at_once_on_a_locked_mailbox_and_land_once_when_it_is_free(tmp_path):
    db = tmp_path / "state" / "mailbox.db"
    with Store(db) as made:
        made.agent_states()  # the mailbox and its schema
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another program holds the write lock
    st = JournaledStore(db, tmp_path / "state" / "spool", "p-dev")
    try:
        t0 = time.monotonic()
        for i in range(20):
            assert st.record_budget("p", "p:dev", "claude-code", 0.01 * (i + 1), 10, 1, time.time())
        took = time.monotonic() - t0
        assert took < mailbox.BUSY_TIMEOUT_MS / 1000  # one busy wait on the caller's thread alone takes this long
        assert holder.execute("SELECT count(*) FROM budget").fetchone()[0] == 0
        holder.execute("ROLLBACK")
        assert st.journal.wait_committed(20)
        usd = [round(r[0], 2) for r in holder.execute("SELECT usd FROM budget ORDER BY id")]
        assert usd == [round(0.01 * (i + 1), 2) for i in range(20)]
    finally:
        st.finish()
        holder.close()


def test_the_watchers_reads_of_its_own_writes_see_them_before_and_after_the_commit_counted_once(tmp_path):
    db = tmp_path / "state" / "mailbox.db"
    with Store(db) as made:
        made.record_budget("p", "p:other", "codex", 1.00, 10, 1, time.time())  # another agent's spend
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    st = JournaledStore(db, tmp_path / "state" / "spool", "p-dev")
    now = time.time()
    try:
        st.record_budget("p", "p:dev", "claude-code", 0.25, 10, 1, now)
        st.record_hit("p:dev", "claude-code", now, now + 600, "usage limit", "g", None, "stop", now + 660)
        st.record_hit("p:dev", "claude-code", now + 1, None, "old limit", "g", None, "stop", now + 660)
        st.mark_handled("p:dev", now + 1, now + 2)

        def reads() -> tuple:
            return (st.spend_by_project(now - 60), st.unhandled_hits("p:dev", now - 60),
                    [(r["agent_id"], r["hit_at"], r["until"]) for r in st.active_group_limits("g", None, now)])

        expected = ({"p": 1.25}, [now], [("p:dev", now, now + 660)])
        assert reads() == expected  # the lock holds: all of it still in the journal
        holder.execute("ROLLBACK")
        assert st.journal is not None and st.journal.wait_committed(20)
        assert reads() == expected  # in the mailbox now, and not counted a second time
    finally:
        st.finish()
        holder.close()

"""The relay never waits on the database (issue 23 item 4): with another program holding the
mailbox's write lock for ~20 s, output still reaches the output log at once. Before the journal a
cost line's write waited out the busy timeout (5 s) on the relay's thread: lines came up to ~10 s late."""

from __future__ import annotations

import time

from lockkit import LockHolder, ticks
from teamctl_supervisor.store.mailbox import BUSY_TIMEOUT_MS
from watchkit import rows, start, state, wait_for

#: Generous: the busy timeout is 5 s, and a free mailbox gives a lag of ~0.1 s.
MAX_LAG = 2.0
LOCKED_FOR = 20.0


def test_output_reaches_the_log_promptly_while_the_mailbox_is_write_locked(root, watchers):
    w = start(watchers, root, ["costs:600:0.1", "hang"])
    wait_for(lambda: state(root) and state(root)["state"] == "running", what="running")
    wait_for(lambda: rows(root, "SELECT * FROM budget"), what="cost rows while the mailbox is free")
    out_log = root / "state" / "logs" / "solo-dev.log"
    holder = LockHolder(root / "state" / "mailbox.db")
    locked_at = time.time()
    seen: dict[int, float] = {}
    try:
        while time.time() < locked_at + LOCKED_FOR:  # when each line first shows in the log
            now = time.time()
            for k in ticks(out_log):
                seen.setdefault(k, now)
            time.sleep(0.02)
        during = {k: seen[k] - t for k, t in ticks(out_log).items() if t >= locked_at and k in seen}
        budget_during_lock = len(rows(root, "SELECT * FROM budget WHERE observed_at>=?", (locked_at,)))
    finally:
        holder.release()
    assert w.proc.poll() is None
    assert len(during) >= LOCKED_FOR / 0.1 / 4, f"only {len(during)} lines during the lock"  # it kept printing
    assert budget_during_lock == 0  # the lock held: every one of those cost lines waited for the mailbox
    worst = max(during.values())
    assert worst < MAX_LAG < BUSY_TIMEOUT_MS / 1000, f"a line reached the log {worst:.1f} s late"
    # and once the mailbox is free, the cost lines of the lock land
    wait_for(lambda: len(rows(root, "SELECT * FROM budget WHERE observed_at>=?", (locked_at,))) >= len(during),
             what="the lock's cost lines in the mailbox", timeout=30)

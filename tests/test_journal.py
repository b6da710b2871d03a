"""The event journal (issue 23 items 2 and 4): on disk within a second whatever the mailbox does,
committed off the caller's thread, replayed exactly once after a SIGKILL."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from teamctl_supervisor.store.journal import Entry, Journal, commit_to_store
from watchkit import wait_for

WRITES = {"ev": "INSERT INTO ev (seq, note) VALUES (?, ?)"}


def _db(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=0.2, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE IF NOT EXISTS ev (seq INTEGER, note TEXT)")
    return conn


def _on_disk(path: Path) -> list[int]:
    seqs = []
    for line in path.read_text().splitlines():
        item = json.loads(line)
        if "seq" in item:
            seqs.append(item["seq"])
    return seqs


def test_appends_return_at_once_and_are_fsynced_while_the_commit_is_stuck(tmp_path):
    release = threading.Event()
    committed: list[int] = []

    def stuck(batch):
        release.wait(30)  # a mailbox locked by another program
        committed.extend(e.seq for e in batch)

    path = tmp_path / "spool" / "dev.journal"
    journal = Journal(path, stuck, flush_every=0.1)
    try:
        seqs = [journal.append("ev", [i, "line"]) for i in range(50)]
        wait_for(lambda: _on_disk(path) == seqs, timeout=5, what="every event in the file")
        assert oct(path.stat().st_mode & 0o777) == "0o600"
        assert committed == []
        release.set()
        assert journal.wait_committed(10)
        assert committed == seqs
        wait_for(lambda: _on_disk(path) == [], what="the committed events out of the file")
    finally:
        release.set()
        journal.close()


WRITER = """
import sqlite3, sys, time
from pathlib import Path
from teamctl_supervisor.store.journal import Journal, commit_to_store
db, path = sys.argv[1], Path(sys.argv[2])
def conn():
    c = sqlite3.connect(db, timeout=0.2, isolation_level=None)
    c.execute("PRAGMA journal_mode=WAL")
    return c
journal = Journal(path, commit_to_store(conn, "dev", {"ev": "INSERT INTO ev (seq, note) VALUES (?, ?)"}),
                  flush_every=0.2, retry_every=0.2)
i = 0
while True:
    seq = journal.append("ev", [i, "cost line"])
    print(seq, flush=True)
    i += 1
    time.sleep(0.01)
"""


def test_sigkill_during_a_held_lock_loses_nothing_older_than_a_second_and_replays_once(tmp_path):
    db = tmp_path / "mailbox.db"
    path = tmp_path / "spool" / "dev.journal"
    holder = _db(db)
    holder.execute("BEGIN EXCLUSIVE")  # another program holds the write lock the whole time
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(db), str(path)], stdout=subprocess.PIPE, text=True)
    printed: list[tuple[float, int]] = []
    try:
        t0 = time.monotonic()
        while time.monotonic() - t0 < 3.0:
            printed.append((time.monotonic(), int(writer.stdout.readline())))
    finally:
        writer.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        writer.wait()
    holder.execute("ROLLBACK")
    assert holder.execute("SELECT count(*) FROM ev").fetchone()[0] == 0  # nothing reached the mailbox
    promised = {seq for t, seq in printed if t < killed_at - 1.0}
    assert len(promised) > 50

    conn = _db(db)
    journal = Journal(path, commit_to_store(lambda: conn, "dev", WRITES))
    assert journal.wait_committed(10)
    journal.close()
    rows = [r[0] for r in conn.execute("SELECT seq FROM ev")]
    assert promised <= {r + 1 for r in rows}  # the event i was number i + 1: lost 0
    assert len(rows) == len(set(rows))  # duplicated 0
    again = Journal(path, commit_to_store(lambda: conn, "dev", WRITES))
    assert again.wait_committed(5)
    again.close()
    assert conn.execute("SELECT count(*) FROM ev").fetchone()[0] == len(rows)  # a replay adds nothing


def test_a_batch_committed_just_before_a_crash_is_not_written_again(tmp_path):
    conn = _db(tmp_path / "mailbox.db")
    commit = commit_to_store(lambda: conn, "dev", WRITES)
    batch = [Entry(n, "ev", [n, "x"]) for n in (1, 2, 3)]
    commit(batch)  # in the mailbox, and then the kill: the journal was never rewritten
    path = tmp_path / "dev.journal"
    path.write_text(json.dumps({"base": 0}) + "\n" + "".join(
        json.dumps({"seq": e.seq, "kind": e.kind, "params": e.params}) + "\n" for e in batch) + '{"seq": 4, "ki')
    journal = Journal(path, commit)
    try:
        assert journal.wait_committed(5)
        assert journal.append("ev", [4, "y"]) == 4  # numbering goes on after the torn line
        assert journal.wait_committed(5)
    finally:
        journal.close()
    assert [r[0] for r in conn.execute("SELECT seq FROM ev ORDER BY seq")] == [1, 2, 3, 4]


def test_an_event_that_can_never_be_written_is_set_aside_and_the_rest_goes_in(tmp_path):
    conn = _db(tmp_path / "mailbox.db")
    bad: list[tuple[int, str]] = []
    commit = commit_to_store(lambda: conn, "dev", WRITES, on_bad=lambda e, exc: bad.append((e.seq, type(exc).__name__)))
    journal = Journal(tmp_path / "dev.journal", commit, flush_every=0.05)
    try:
        journal.append("ev", [1, "a"])
        journal.append("from-a-newer-version", [2])
        journal.append("ev", [3])  # one value short of the INSERT
        journal.append("ev", [4, "d"])
        assert journal.wait_committed(5)
    finally:
        journal.close()
    assert [r[0] for r in conn.execute("SELECT seq FROM ev ORDER BY seq")] == [1, 4]
    assert bad == [(2, "KeyError"), (3, "ProgrammingError")]


def _wakeups(journal: Journal) -> int:
    """Voluntary context switches of the journal's two threads (each wake-up from a wait is one)."""
    total = 0
    for t in journal._threads:
        status = Path(f"/proc/self/task/{t.native_id}/status").read_text()
        total += int(next(line.split()[1] for line in status.splitlines() if line.startswith("voluntary_ctxt")))
    return total


def test_an_idle_journal_sleeps_and_still_commits_what_comes_later(tmp_path):
    """200 idle watchers each with two threads ticking every 0.05-1 s was idle CPU for nothing; with
    these settings the old threads woke about 40 times in the window below."""
    committed: list[int] = []
    journal = Journal(tmp_path / "spool" / "dev.journal", lambda b: committed.extend(e.seq for e in b),
                      flush_every=0.05, retry_every=0.05)
    try:
        first = journal.append("ev", [0, "start"])
        assert journal.wait_committed(10) and committed == [first]
        before = _wakeups(journal)
        time.sleep(1.0)  # a window with nothing appended: the count of wake-ups in it is the claim
        assert _wakeups(journal) - before <= 1
        later = [journal.append("ev", [i, "later"]) for i in range(1, 4)]
        assert journal.wait_committed(10)
        assert committed == [first, *later]
        soon = journal.append_all([("ev", [9, "state"])], soon=True)
        assert soon is None and journal.wait_committed(10) and len(committed) == 5
    finally:
        journal.close()


def test_close_right_after_an_append_commits_it_and_ends_the_committer(tmp_path):
    """An event appended just before close (the flusher not yet awake) was left to a committer that
    close had given up on: the mailbox was then closed under its commit and the watcher died of
    SIGSEGV at exit. Close now flushes before it waits for the committer, and the committer ends."""
    for round_ in range(20):
        committed: list[int] = []
        journal = Journal(tmp_path / f"spool{round_}" / "dev.journal",
                          lambda b, c=committed: c.extend(e.seq for e in b), flush_every=0.5, retry_every=0.5)
        seq = journal.append("ev", [round_, "last words"])
        assert journal.close(timeout=5), "the committer outlived close"
        assert committed == [seq]

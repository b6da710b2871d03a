"""The mailbox cannot be lost (issue 13 items 3, 4, 5): replaced, damaged, or a bad spool line."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3

import pytest
from reliakit import hanging_team, kill_all, team_procs, teamctl
from teamctl_supervisor.store.mailbox import Store
from watchkit import rows, start, state, wait_for

HIT = "print:usage limit reached"


@pytest.mark.parametrize("how", ["rm", "mv"])
def test_a_mailbox_deleted_or_replaced_under_a_watcher_is_reopened_and_gets_the_hit(root, watchers, how):
    w = start(watchers, root, ["print:up", "sleep:3", HIT, "hang"], "--restart", "never")
    wait_for(lambda: state(root) and state(root)["state"] == "running", what="running")
    db = root / "state" / "mailbox.db"
    if how == "rm":
        for suffix in ("", "-wal", "-shm"):
            (root / "state" / f"mailbox.db{suffix}").unlink(missing_ok=True)
    else:
        shutil.copy(db, root / "state" / "copy.db")
        os.replace(root / "state" / "copy.db", db)
    wait_for(lambda: rows(root, "SELECT * FROM rate_limits"), timeout=20, what="the hit in the file at the path")
    assert w.proc.poll() is None or w.proc.returncode is not None


def test_a_damaged_mailbox_is_moved_aside_with_one_line_and_down_still_stops_the_team(tmp_path):
    team = hanging_team(tmp_path, 3)
    try:
        assert teamctl(team, "up", "--backend", "process").returncode == 0
        wait_for(lambda: len(team_procs(team)) == 6, what="three watchers and runtimes")
        # the watchers' journals committed (a commit after the damage may checkpoint over it)
        wait_for(lambda: not any('"seq"' in j.read_text() for j in (team / "state" / "spool").glob("*.journal")),
                 what="journals committed")
        db = team / "state" / "mailbox.db"
        conn = sqlite3.connect(db)  # the damage is to the file: no copy of its first pages left in the WAL
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
        with open(db, "r+b") as fh:
            fh.write(b"\xa5" * 8192)
        for command in (["status"], ["rate-limits"]):
            out = teamctl(team, *command)
            assert "Traceback" not in out.stderr, out.stderr
            damaged = [line for line in out.stderr.splitlines() if "damaged" in line]
            assert out.returncode == 0 and len(damaged) <= 1, out.stderr
        aside = [p.name for p in db.parent.iterdir() if ".corrupt-" in p.name]
        assert aside, "the damaged file is kept aside"
        done = teamctl(team, "down")
        assert done.returncode == 0 and "Traceback" not in done.stderr, done.stdout + done.stderr
        assert team_procs(team) == []
    finally:
        kill_all(team_procs(team))


def test_the_first_command_on_a_damaged_mailbox_says_so_in_one_line(tmp_path):
    team = hanging_team(tmp_path, 1)
    db = team / "state" / "mailbox.db"
    with Store(db) as st:
        st.agent_states()  # a real mailbox, then damaged
    with open(db, "r+b") as fh:
        fh.write(b"\xa5" * 8192)
    out = teamctl(team, "status")
    assert out.returncode == 0, out.stderr
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "damaged" in lines[0] and "moved it aside" in lines[0], out.stderr


def test_a_spool_line_that_can_never_be_written_is_quarantined_and_the_rest_goes_through(root, watchers):
    spool = root / "state" / "spool"
    spool.mkdir(parents=True, mode=0o700)
    bad = json.dumps(["state", ["too", "few"]])
    good = json.dumps(["rate_limit", ["solo:dev", "fake", 1000.0, None, "usage limit reached (spooled)"]])
    (spool / "solo-dev.jsonl").write_text(bad + "\n" + "{not json\n" + good + "\n")
    start(watchers, root, ["print:up", "hang"])
    wait_for(lambda: state(root) and state(root)["state"] == "running", what="state rows written")
    assert [r["raw_match"] for r in rows(root, "SELECT * FROM rate_limits")] == ["usage limit reached (spooled)"]
    quarantine = (spool / "solo-dev.quarantine.jsonl").read_text().splitlines()
    assert sorted(quarantine) == sorted([bad, "{not json"])
    assert not (spool / "solo-dev.jsonl").exists()
    log = (root / "state" / "logs" / "solo-dev.supervisor.log").read_text()
    assert log.count("can never be written") == 1

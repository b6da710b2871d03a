"""`down` always stops the team (issue 23 item 7, build item 5): a mailbox locked by another program,
missing its -wal, or under a read-only state/ costs the records, which `down` names, never the stop."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from reliakit import hanging_team, kill_all, team_procs, teamctl
from watchkit import fake_env, wait_for

#: Takes SQLite's exclusive lock on a copy of the mailbox, then puts the copy in its place: the team's
#: watchers (which reopen a replaced mailbox) and every command now meet a file held by this program.
LOCKER = """
import os, sqlite3, sys, time
db = sys.argv[1]
copy = db + ".locked"
src = sqlite3.connect(db)
dst = sqlite3.connect(copy)
src.backup(dst)
src.close()
dst.close()
c = sqlite3.connect(copy, isolation_level=None)
c.execute("PRAGMA locking_mode=EXCLUSIVE")
c.execute("BEGIN EXCLUSIVE")
c.execute("CREATE TABLE zz_held (x)")
c.execute("COMMIT")
os.replace(copy, db)
print("held", flush=True)
time.sleep(120)
"""


def impatient(team: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """A teamctl command that waits 1 s, not SQLite's 5 s, for a lock before it calls the mailbox
    locked: the holder here never lets go, so a longer wait proves nothing more. The team's watchers
    keep the default (they were started by `up` without it)."""
    env = {**fake_env(team), "TEAMCTL_BUSY_TIMEOUT_MS": "1000"}
    return subprocess.run([sys.executable, "-m", "teamctl_supervisor", *args, "-C", str(team)], env=env,
                          capture_output=True, text=True, timeout=90)


@pytest.fixture
def running(tmp_path):
    team = hanging_team(tmp_path, 2)
    assert teamctl(team, "up", "--backend", "process").returncode == 0
    wait_for(lambda: len(team_procs(team)) == 4, what="two watchers and runtimes", timeout=60)
    yield team
    kill_all(team_procs(team))


def test_down_stops_a_team_whose_mailbox_another_program_holds_and_status_names_the_holder(running):
    db = running / "state" / "mailbox.db"
    locker = subprocess.Popen([sys.executable, "-c", LOCKER, str(db)], stdout=subprocess.PIPE, text=True)
    try:
        assert locker.stdout.readline().strip() == "held"
        status = impatient(running, "status")
        assert status.returncode == 1 and "Traceback" not in status.stderr, status.stderr
        assert "locked by another program" in status.stderr and f"pid {locker.pid}" in status.stderr
        done = impatient(running, "down")
        assert done.returncode == 0 and "Traceback" not in done.stderr, done.stdout + done.stderr
        assert team_procs(running) == []
        assert "locked by another program" in done.stdout and f"pid {locker.pid}" in done.stdout  # not recorded
    finally:
        locker.kill()
        locker.wait()


def test_down_stops_a_team_whose_mailbox_lost_its_wal(running):
    state = running / "state"
    (state / "mailbox.db-wal").unlink()
    status = teamctl(running, "status", timeout=60)
    assert "Traceback" not in status.stderr, status.stderr
    done = teamctl(running, "down", timeout=90)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stdout + done.stderr
    assert team_procs(running) == []


def test_down_stops_a_team_whose_state_dir_is_read_only_and_says_what_it_could_not_record(running):
    """state/ bind-mounted read-only in a private mount namespace (unshare -rm): EROFS for every write."""
    state = running / "state"
    script = (f'mount --bind "{state}" "{state}" && mount -o remount,bind,ro "{state}" && '
              f'touch "{state}/probe" 2>/dev/null && exit 97; '
              f'exec "{sys.executable}" -m teamctl_supervisor down -C "{running}"')
    done = subprocess.run([shutil.which("unshare") or "unshare", "-rm", "sh", "-c", script], env=fake_env(running),
                          capture_output=True, text=True, timeout=90)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stdout + done.stderr
    assert team_procs(running) == []
    assert not Path(state / "probe").exists()
    status = teamctl(running, "status", "--json")
    assert status.returncode == 0 and '"state": "running"' not in status.stdout  # the watchers wrote theirs

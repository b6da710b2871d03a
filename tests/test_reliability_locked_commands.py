"""Every command that reads or writes the mailbox says who holds it when another program has it
locked (issue 23's noticed-and-left: `up` and `rate-limits` printed a traceback): one line naming the
file and the holder's pid, exit 1, and `up` starts nothing."""

from __future__ import annotations

import subprocess
import sys

from reliakit import hanging_team, team_procs
from teamctl_supervisor.store.mailbox import Store
from test_reliability_down import LOCKER
from watchkit import fake_env

COMMANDS = (("up", "--backend", "process"), ("rate-limits",), ("report",), ("budget",), ("send", "p:a0", "hi"))


def test_commands_on_a_mailbox_another_program_holds_name_it_and_start_nothing(tmp_path):
    team = hanging_team(tmp_path, 1)
    db = team / "state" / "mailbox.db"
    db.parent.mkdir(mode=0o700)
    Store(db).close()  # the mailbox exists, nothing runs
    locker = subprocess.Popen([sys.executable, "-c", LOCKER, str(db)], stdout=subprocess.PIPE, text=True)
    try:
        assert locker.stdout.readline().strip() == "held"
        env = fake_env(team, TEAMCTL_BUSY_TIMEOUT_MS="1000")  # 1 s of SQLite's busy wait: the holder never lets go
        runs = {args[0]: subprocess.Popen([sys.executable, "-m", "teamctl_supervisor", *args, "-C", str(team)],
                                          env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for args in COMMANDS}  # side by side
        for name, run in runs.items():
            out, err = run.communicate(timeout=90)
            assert run.returncode == 1, (name, out, err)
            assert "Traceback" not in err and f"locked by another program (pid {locker.pid}:" in err, (name, err)
            assert str(db) in err, (name, err)
        assert team_procs(team) == []  # `up` started no watcher
    finally:
        locker.kill()
        locker.wait()

"""Leftovers (issue 23 item 9, build item 7): a runtime's children that ignore SIGTERM, left behind by a
SIGKILLed watcher, are ended together (one grace period, not one each), and `down` leaves none."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil
from reliakit import hanging_team, kill_all, team_procs, teamctl
from teamctl_supervisor.agent import procs
from watchkit import wait_for

CHILDREN = 40
#: Ignores SIGTERM, says so, then sleeps: a daemon that only SIGKILL ends.
STUBBORN = ("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); "
            "time.sleep(600)")


def test_end_all_ends_many_sigterm_ignoring_processes_in_about_one_grace_period():
    kids = [subprocess.Popen([sys.executable, "-c", STUBBORN], stdout=subprocess.PIPE, text=True)
            for _ in range(CHILDREN)]
    try:
        for k in kids:
            assert k.stdout.readline().strip() == "ready"
        grace = 0.5
        t0 = time.monotonic()
        survivors = procs.end_all([psutil.Process(k.pid) for k in kids], grace=grace)
        took = time.monotonic() - t0
        assert survivors == ()
        assert not [k.pid for k in kids if psutil.pid_exists(k.pid) and psutil.Process(k.pid).status() != "zombie"]
        # one after another this is at least CHILDREN * grace (20 s); together it is one grace plus the
        # kill (under a second here, 9 s on a machine loaded to 19): the bound tells the two apart
        assert took < CHILDREN * grace * 0.75, f"{took:.1f}s for {CHILDREN} processes"
    finally:
        for k in kids:
            if k.poll() is None:
                k.kill()
                k.wait()


def test_leftovers_of_a_sigkilled_watcher_are_ended_together_by_up_and_down_leaves_none(tmp_path):
    steps = ("ignore-term", *["fork:setsid,ignore-term"] * CHILDREN, "print:up", "hang")
    team = hanging_team(tmp_path, 1, steps=steps)
    state = str(team / "state")
    try:
        assert teamctl(team, "up", "--backend", "process").returncode == 0
        wait_for(lambda: len(procs.find_tagged(state)) == CHILDREN + 1, what="the runtime and its children",
                 timeout=90)
        [watcher] = [p for p in team_procs(team) if "rl-watch" in p.cmdline()]
        old = {p.pid for p in procs.find_tagged(state)}
        watcher.kill()
        watcher.wait(10)
        # one after another: 2 s per leftover, 80 s; together: one grace period (a generous deadline)
        up = teamctl(team, "up", "--backend", "process", timeout=40)
        assert up.returncode == 0, up.stdout + up.stderr
        assert not old & {p.pid for p in procs.find_tagged(state)}, "every leftover of the first run ended"
        wait_for(lambda: len(procs.find_tagged(state)) == CHILDREN + 1, what="the second run", timeout=90)
        down = teamctl(team, "down", timeout=40)
        assert down.returncode == 0, down.stdout + down.stderr
        assert procs.find_tagged(state) == [] and team_procs(team) == []
    finally:
        kill_all(team_procs(team))
        procs.end_all(procs.find_tagged(state), grace=0)

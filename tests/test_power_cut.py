"""A power cut loses nothing (issue 23 item 3): agents print a cost line every 0.1 s while another
program holds the mailbox's write lock; every process of the team is SIGKILLed; the lock goes; `up`
again. Every cost line printed more than a second before the kill is recorded, once.

Before the journal, 297 of 620 such lines were lost: the events waited in memory on the lock."""

from __future__ import annotations

import time
from collections import Counter

import psutil
from lockkit import LockHolder, ticks
from reliakit import hanging_team, kill_all, team_procs, teamctl
from watchkit import rows, wait_for

AGENTS = 10  # as in the issue (about 25 s on a shared two-core machine)
LOCKED_BEFORE_KILL = 3.0  # seconds of cost lines printed under the lock before the cut
PROMISE = 1.0  # lines printed more than this long before the kill are never lost


def _recorded(team, agent: str, before: float) -> Counter[int]:
    """Which cost lines (k, from the k cents each adds) of the first run are in the mailbox, how often."""
    got = rows(team, "SELECT usd FROM budget WHERE agent_id=? AND observed_at<?", (agent, before))
    return Counter(round(r["usd"] * 100) for r in got)


def test_sigkill_of_the_whole_team_under_a_held_lock_loses_nothing_and_duplicates_nothing(tmp_path):
    team = hanging_team(tmp_path, AGENTS, steps=("costs:5000:0.1", "hang"))
    agents = [f"p:a{i}" for i in range(AGENTS)]
    logs = {a: team / "state" / "logs" / f"{a.replace(':', '-')}.log" for a in agents}
    holder = None
    try:
        assert teamctl(team, "up", "--backend", "process").returncode == 0
        wait_for(lambda: all(_recorded(team, a, time.time() + 60) for a in agents), timeout=60,
                 what="every agent's cost lines in the free mailbox")
        holder = LockHolder(team / "state" / "mailbox.db")
        locked_at = time.time()
        wait_for(lambda: all(max(ticks(logs[a]).values(), default=0) > locked_at + LOCKED_BEFORE_KILL
                             for a in agents), timeout=60, what="cost lines printed under the lock")
        procs = team_procs(team)
        assert len(procs) == 2 * AGENTS  # a watcher and a runtime each: all of them, ours only
        cut = time.time()
        kill_all(procs)  # SIGKILL, by pid
        psutil.wait_procs(procs, timeout=10)
        holder.release()
        printed = {a: ticks(logs[a]) for a in agents}  # the first run's lines, before `up` adds more
        promised = {a: {k for k, t in printed[a].items() if t < cut - PROMISE} for a in agents}
        under_lock = {a: sum(1 for k in promised[a] if printed[a][k] >= locked_at) for a in agents}
        assert all(n >= 10 for n in under_lock.values()), under_lock  # the lock's lines are among them

        up = teamctl(team, "up", "--backend", "process")
        assert up.returncode == 0, up.stdout + up.stderr
        wait_for(lambda: all(promised[a] <= set(_recorded(team, a, cut)) for a in agents), timeout=60,
                 what="every promised line recorded once the journals are replayed")
        assert teamctl(team, "down").returncode == 0
        lost = sum(len(promised[a] - set(_recorded(team, a, cut))) for a in agents)
        duplicated = sum(n - 1 for a in agents for n in _recorded(team, a, cut).values() if n > 1)
        unprinted = sum(len(set(_recorded(team, a, cut)) - set(printed[a])) for a in agents)
        total = sum(len(p) for p in promised.values())
        print(f"power cut: {total} lines printed >{PROMISE:.0f} s before the kill ({sum(under_lock.values())} under"
              f" the lock), {lost} lost, {duplicated} duplicated")
        assert (lost, duplicated, unprinted) == (0, 0, 0), f"{total} promised lines: {lost} lost, {duplicated} twice"
    finally:
        if holder is not None:
            holder.release()
        kill_all(team_procs(team))

"""Faults and hostile output: the agent keeps running, nothing is lost, nothing gets in."""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time

import psutil
import pytest
from teamctl_supervisor.agent import procs
from watchkit import fake_env, pids_alive, rows, start, state, wait_for


def test_sigkilled_watcher_takes_its_runtime_along_and_escaped_grandchildren_are_findable(root, watchers):
    pidfile = root / "pids"
    w = start(watchers, root, [f"pidfile:{pidfile}", "ignore-term", "fork:setsid,ignore-term", "print:up",
                               "hang"])
    wait_for(lambda: len(pidfile.read_text().split()) == 2 if pidfile.exists() else False, what="pids")
    runtime_pid, grandchild = (int(p) for p in pidfile.read_text().split())
    # its state row is in the mailbox (the journal commits within a flush and a commit)
    wait_for(lambda: (st := state(root)) and st["state"] == "running", what="state row")
    w.signal(signal.SIGKILL)
    w.proc.wait(10)
    wait_for(lambda: runtime_pid not in pids_alive(pidfile), what="runtime ended with its watcher")
    tagged = procs.find_tagged(str(root / "state"), {"solo:dev"})
    assert [p.pid for p in tagged] == [grandchild]  # the one that escaped is found by its tag
    procs.stop_tree(grandchild, timeout=0.5)
    assert pids_alive(pidfile) == []
    st = state(root)
    assert st["state"] == "running" and not procs.alive(st["watcher_pid"])  # what `status` reports as stale


def _journaled(journal, kind: str) -> list[list]:
    """The params of the `kind` events a journal file holds (committed or not)."""
    import json

    if not journal.exists():
        return []
    out = []
    for line in journal.read_text().splitlines():
        item = json.loads(line)
        if item.get("kind") == kind:
            out.append(item["params"])
    return out


def test_locked_mailbox_keeps_events_in_the_journal_and_writes_them_when_free(root, watchers, tmp_path):
    env = fake_env(root, TEAMCTL_BUSY_TIMEOUT_MS="200")
    cost = "print:session cost: ${} (1k in, 10 out)"
    w = start(watchers, root, ["print:up", "sleep:1.5", cost.format("0.10"), "print:still-relaying", "sleep:3",
                               cost.format("0.30"), "hang"], env=env)
    wait_for(lambda: state(root) and state(root)["state"] == "running", what="running")
    locker = sqlite3.connect(root / "state" / "mailbox.db", timeout=5, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    journal = root / "state" / "spool" / "solo-dev.journal"
    supervisor_log = root / "state" / "logs" / "solo-dev.supervisor.log"
    try:
        # the cost line is on disk (fsync'd) while the mailbox refuses it
        wait_for(lambda: _journaled(journal, "budget"), what="the cost event in the journal", timeout=20)
        wait_for(lambda: "still-relaying" in w.output(), what="output goes on while the mailbox is locked")
        assert oct(journal.stat().st_mode & 0o777) == "0o600"
        assert rows(root, "SELECT * FROM budget") == []
        wait_for(lambda: "mailbox refuses" in supervisor_log.read_text(), what="the refusal logged", timeout=20)
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    # Once free, the journal's events land, in order, each once.
    got = wait_for(lambda: len(r := rows(root, "SELECT usd FROM budget ORDER BY id")) == 2 and r, what="rows")
    assert [round(r["usd"], 2) for r in got] == [0.10, 0.20]
    wait_for(lambda: not _journaled(journal, "budget"), what="the journal emptied of committed events")
    assert supervisor_log.read_text().count("mailbox refuses") == 1  # once, not per event or per retry


def test_unusable_mailbox_keeps_the_agent_running_and_loses_nothing(root, watchers):
    state_dir = root / "state"
    state_dir.mkdir(mode=0o700)
    db = state_dir / "mailbox.db"
    db.write_bytes(b"this is not a database" * 100)  # as unusable as a read-only or broken file
    w = start(watchers, root, ["print:working", "print:session cost: $0.10 (1k in, 10 out)",
                               "print:more-work", "exit:0"], "--restart", "never")
    assert w.wait(20) == 0
    assert "more-work" in w.output()
    journal = state_dir / "spool" / "solo-dev.journal"
    assert journal.exists() and oct(journal.stat().st_mode & 0o777) == "0o600"
    assert [p[3] for p in _journaled(journal, "budget")] == [0.10]
    db.unlink()  # the mailbox is usable again: the next watcher's journal commits what waits
    from teamctl_supervisor.store.journaled import JournaledStore

    store = JournaledStore(db, state_dir / "spool", "solo-dev")
    try:
        assert store.journal is not None and store.journal.wait_committed(20)
    finally:
        store.finish()
    budget = rows(root, "SELECT usd, input_tok FROM budget")
    assert [(r["usd"], r["input_tok"]) for r in budget] == [(0.10, 1000)]
    assert rows(root, "SELECT state FROM supervisor_agent_state")[0]["state"] == "stopped"


def test_a_flood_of_limit_lines_is_one_hit_per_session(root, watchers):
    flood = ["1@print:" + "usage limit reached\\n" * 2000, "1@hang", "2@print:second-run", "exit:0"]
    w = start(watchers, root, flood, "--fallback-wait", "0.5", "--margin", "0", "--restart", "on-failure")
    assert w.wait(30) == 0
    assert len(rows(root, "SELECT * FROM rate_limits")) == 1


def test_huge_line_without_newline_keeps_memory_bounded_and_the_relay_going(root, watchers, tmp_path):
    blob = tmp_path / "blob.py"
    blob.write_text(
        "import os, sys\n"
        "chunk = b'x' * 65536\n"
        "for _ in range(1024):\n"  # 64 MiB with no newline
        "    os.write(1, chunk)\n"
        "os.write(1, b'\\nusage limit reached\\n')\n"
        "import time; time.sleep(3600)\n")
    import sys

    argv = [sys.executable, "-m", "teamctl_supervisor", "rl-watch", "solo:dev", "--runtime", "fake",
            "--root", str(root),
            "--fallback-wait", "3600", "--", sys.executable, str(blob)]
    import subprocess

    out = open(tmp_path / "out", "wb")
    proc = subprocess.Popen(argv, cwd=root, env=fake_env(root), stdin=subprocess.DEVNULL, stdout=out)
    peak = 0
    try:
        me = psutil.Process(proc.pid)
        deadline = time.monotonic() + 60
        while not rows(root, "SELECT * FROM rate_limits") and time.monotonic() < deadline:
            try:
                peak = max(peak, me.memory_info().rss)
            except psutil.Error:
                break
            time.sleep(0.01)
        assert rows(root, "SELECT raw_match FROM rate_limits")[0]["raw_match"] == "usage limit reached"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
        out.close()
    assert (tmp_path / "out").stat().st_size >= 64 * 1024 * 1024  # every byte relayed
    assert peak < 120 * 1024 * 1024, f"watcher RSS peaked at {peak / 2**20:.0f} MiB"


def test_spoofed_reset_far_in_the_future_is_capped(root, watchers):
    w = start(watchers, root, ["print:usage limit reached · resets in 9999 hours", "hang"], "--max-wait", "600")
    wait_for(lambda: (s := state(root)) and s["state"] == "rate_limited", what="waiting")
    st = state(root)
    hit = rows(root, "SELECT * FROM rate_limits")[0]
    assert st["until"] - hit["hit_at"] == pytest.approx(600, abs=2)
    assert "capped" in (root / "state" / "logs" / "solo-dev.supervisor.log").read_text()
    w.signal(signal.SIGTERM)
    assert w.wait(10) == 143


def test_invalid_utf8_and_binary_garbage_do_not_stop_detection(root, watchers):
    w = start(watchers, root, ["bytes:fffe00c328a0e28228", "print:\\x1b]0;title\\x07\\x1b[?25l", "bytes:80818283",
                               "print:usage limit reached", "hang"], "--fallback-wait", "3600")
    wait_for(lambda: rows(root, "SELECT * FROM rate_limits"), what="the hit after garbage")
    w.signal(signal.SIGTERM)
    assert w.wait(10) == 143


def test_secrets_in_the_environment_never_reach_logs_or_state(root, watchers):
    env = fake_env(root, ANTHROPIC_API_KEY="sk-ant-SECRET-VALUE-123")
    w = start(watchers, root, ["print:hello", "print:usage limit reached", "hang"], "--fallback-wait", "3600",
              env=env)
    wait_for(lambda: (s := state(root)) and s["state"] == "rate_limited", what="waiting")
    w.signal(signal.SIGTERM)
    w.wait(10)
    for path in (root / "state").rglob("*"):
        if path.is_file():
            assert b"SECRET-VALUE" not in path.read_bytes(), path


def test_fifty_writers_at_once_lose_no_rows(tmp_path):
    from teamctl_supervisor.store.mailbox import Store

    db = tmp_path / "state" / "mailbox.db"
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            with Store(db, tmp_path / "state" / "spool", f"w{n}") as store:
                for i in range(20):
                    assert store.record_rate_limit(f"p:a{n}", "x", time.time() + i, None, "hit")
                    assert store.record_budget("p", f"p:a{n}", "x", 0.01, 1, 1, time.time())
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT COUNT(*) FROM rate_limits").fetchone()[0] == 1000
    assert conn.execute("SELECT COUNT(*) FROM budget").fetchone()[0] == 1000


def test_down_after_a_sigkilled_watcher_ends_the_escaped_grandchild(tmp_path):
    import subprocess
    import sys

    from watchkit import TeamWatcher, fake_env, make_team

    team = make_team(tmp_path, {"dev": ""})
    pidfile = tmp_path / "pids"
    w = TeamWatcher(team, "p:dev", [f"pidfile:{pidfile}", "ignore-term", "fork:setsid,ignore-term", "hang"])
    try:
        wait_for(lambda: pidfile.exists() and len(pidfile.read_text().split()) == 2, what="pids")
        w.signal(signal.SIGKILL)
        w.proc.wait(10)
        runtime_pid = int(pidfile.read_text().split()[0])
        wait_for(lambda: runtime_pid not in pids_alive(pidfile), what="runtime gone with its watcher")
        assert len(pids_alive(pidfile)) == 1  # the grandchild escaped

        def teamctl(*args: str) -> subprocess.CompletedProcess:
            return subprocess.run([sys.executable, "-m", "teamctl_supervisor", *args, "-C", str(team)],
                                  env=fake_env(team), capture_output=True, text=True, timeout=60)

        import json

        status = {a["id"]: a for a in json.loads(teamctl("status", "--json").stdout)}
        assert status["p:dev"]["state"] == "stale"
        done = teamctl("down")
        assert done.returncode == 0, done.stdout + done.stderr
        assert "p:dev: killed 1 leftover process" in done.stdout
        assert pids_alive(pidfile) == []
        # `up` brings the agent back: its watcher runs again (the fake CLI, given no steps, exits at
        # once, so it may be seen running, starting or backing off; --settle 0: not reported failed).
        up = teamctl("up", "--backend", "process", "--settle", "0")
        assert up.returncode == 0, up.stdout + up.stderr
        wait_for(lambda: json.loads(teamctl("status", "--json").stdout)[0]["state"] in
                 ("running", "backing_off", "starting"), what="agent back")
        assert teamctl("down").returncode == 0
    finally:
        w.close()
        for pid in pids_alive(pidfile):
            os.kill(pid, signal.SIGKILL)


def test_full_disk_keeps_events_in_memory_and_writes_them_when_space_returns(root, watchers, tmp_path):
    import resource

    cost = "print:session cost: ${} (1k in, 10 out)"
    marks = [tmp_path / "a", tmp_path / "b", tmp_path / "c"]
    steps = ["print:up", "sleep:1", cost.format("0.10"), f"pidfile:{marks[0]}", "sleep:0.5", cost.format("0.20"),
             f"pidfile:{marks[1]}", "sleep:2.5", cost.format("0.30"), f"pidfile:{marks[2]}", "hang"]
    w = start(watchers, root, steps)
    wait_for(lambda: state(root) and state(root)["state"] == "running", what="running")
    # As good as a full disk for this process: no file it writes may grow (writes fail with EFBIG).
    # It stays full for the three cost lines, 3 s: the journal tries (and fails) to flush meanwhile,
    # at most 0.5 s after the first one (a flush first tried after the disk came back would say nothing).
    hard = resource.prlimit(w.proc.pid, resource.RLIMIT_FSIZE)[1]
    resource.prlimit(w.proc.pid, resource.RLIMIT_FSIZE, (1, hard))
    wait_for(lambda: marks[2].exists(), what="the three cost lines printed while the disk is full")
    runtime_pid = int(marks[0].read_text().split()[0])
    assert procs.alive(runtime_pid) and w.proc.poll() is None  # the agent and its watcher go on
    assert rows(root, "SELECT * FROM budget") == []  # nothing could be written...
    resource.prlimit(w.proc.pid, resource.RLIMIT_FSIZE, (hard, hard))
    got = wait_for(lambda: len(r := rows(root, "SELECT usd FROM budget ORDER BY id")) == 3 and r,
                   what="the three kept events", timeout=20)
    assert [round(r["usd"], 2) for r in got] == [0.10, 0.10, 0.10]  # ...and nothing was lost
    assert "writable again" in (root / "state" / "logs" / "solo-dev.supervisor.log").read_text()

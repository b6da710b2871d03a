"""`status` of a team over two hosts sharing one PostgreSQL database (two team roots on this machine
stand for them; TEAMCTL_HOST names "host b"): every agent has a HOST, another host's agent is alive
by its heartbeat rather than by a pid here, and one whose watcher went silent is `lost`."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pgcluster
from sshhost import SshHost
from teamctl_supervisor.store.broker import POINTER, write_pointer
from teamctl_supervisor.store.mailbox import Store
from watchkit import TeamWatcher, fake_env, make_team, wait_for

pg = pgcluster.pg


def two_hosts(tmp_path: Path, agents: dict[str, str], extra: str = "", port: int = 22) -> tuple[Path, Path]:
    """Host a's tree (its compose places `far` on host b) and host b's copy of it."""
    team_a = make_team(tmp_path / "a", agents,
                       compose_extra=f"hosts:\n  b: {{ssh: root@127.0.0.1, port: {port}}}\n" + extra)
    compose = team_a / "team-compose.yaml"
    compose.write_text(compose.read_text().replace(
        "broker: {type: sqlite, path: state/mailbox.db}", "broker: {type: postgres, url_env: TEAMCTL_PG_URL}"))
    team_b = tmp_path / "b" / "proj" / ".team"
    shutil.copytree(team_a.parent, team_b.parent)
    return team_a, team_b


def env_of(team: Path, url: str, host: str | None = None, **extra: str) -> dict[str, str]:
    env = fake_env(team, TEAMCTL_PG_URL=url, **extra)
    env.pop("TEAMCTL_HOST", None)
    if host:
        env["TEAMCTL_HOST"] = host
    return env


def status(team: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "teamctl_supervisor", "status", *args, "--root", str(team)],
                          capture_output=True, text=True, timeout=120, env=env, cwd=team.parent)


def by_id(done: subprocess.CompletedProcess[str]) -> dict[str, dict]:
    assert done.stdout.strip(), done.stderr
    return {r["id"]: r for r in json.loads(done.stdout)}


def test_status_shows_each_agents_host_and_a_silent_hosts_agent_as_lost(pg: pgcluster.Cluster,
                                                                         tmp_path: Path) -> None:
    url = pg.fresh_url()
    sshd = SshHost({"PATH": "/usr/bin:/bin"})  # b answers ssh (status asks), while its watcher is silent
    sshd.start()
    team_a, team_b = two_hosts(tmp_path, {"near": "    limit_group: solo\n", "far": "    host: b\n"},
                               port=sshd.port)
    watchers = []
    try:
        watchers.append(TeamWatcher(team_a, "p:near", ["print:near-up", "hang"],
                                    env=env_of(team_a, url, FAKE_RUNS_FILE=str(tmp_path / "runs-a"))))
        far = TeamWatcher(team_b, "p:far", ["print:usage limit reached · resets in 2h", "hang"],
                          env=env_of(team_b, url, "b", TEAMCTL_HEARTBEAT_SECONDS="1",
                                     FAKE_RUNS_FILE=str(tmp_path / "runs-b")))
        watchers.append(far)
        write_pointer(tmp_path / "desk" / POINTER, url, None)
        desk = Store(tmp_path / "desk" / POINTER)

        def beat() -> float:
            got = desk.query("SELECT beat_at FROM supervisor_heartbeats WHERE agent_id='p:far'")
            return got[0]["beat_at"] if got else 0.0
        wait_for(lambda: getattr(desk.agent_state("p:far"), "state", None) == "rate_limited", timeout=30,
                 what="far waiting")
        first = wait_for(beat, timeout=30, what="far's first heartbeat")
        wait_for(lambda: beat() > first, timeout=30, what="far beating while it waits")
        assert desk.agent_state("p:far").host == "b"

        # a threshold of 3 x 3 s; far beats every 5 s while it waits (the wait's own tick)
        env = env_of(team_a, url, TEAMCTL_HEARTBEAT_SECONDS="3", TEAMCTL_SSH=sshd.ssh_command)
        wait_for(lambda: by_id(status(team_a, env, "--json"))["p:near"]["state"] == "running", timeout=30,
                 what="near running")
        rows = by_id(status(team_a, env, "--json"))
        assert rows["p:far"]["state"] == "rate_limited" and rows["p:far"]["host"] == "b"
        assert rows["p:far"]["remote"] is True and rows["p:far"]["pid"] is None  # no pid of b's checked here
        assert rows["p:near"]["host"] == socket.gethostname() and rows["p:near"]["remote"] is False
        assert rows["p:near"]["pid"] is not None
        table = status(team_a, env).stdout.splitlines()
        assert table[0].split()[:4] == ["AGENT", "HOST", "RUNTIME", "STATE"]
        far_line = next(line for line in table if line.startswith("p:far "))
        assert far_line.split()[1] == "b"

        far.close()  # SIGKILL: no last state row, the heartbeats just stop
        wait_for(lambda: by_id(status(team_a, env, "--json"))["p:far"]["state"] == "lost", timeout=60,
                 what="far lost")
        rows = by_id(status(team_a, env, "--json"))
        assert rows["p:far"]["text"].startswith("lost (host b silent for ")
        assert rows["p:near"]["state"] == "running"  # this host's agent is judged by its pids, as before
        assert "lost (host b" in status(team_a, env).stdout
        desk.close()
    finally:
        for w in watchers:
            w.close()
        sshd.destroy()


def test_a_sqlite_team_writes_no_heartbeats(tmp_path: Path) -> None:
    """One host reads pids: its watchers add no write (nor table reads) for heartbeats."""
    team = make_team(tmp_path, {"dev": ""})
    w = TeamWatcher(team, "p:dev", ["print:dev-up", "hang"], env={**fake_env(team), "TEAMCTL_HEARTBEAT_SECONDS": "1"})
    try:
        import sqlite3

        def running() -> bool:
            try:
                with sqlite3.connect(team / "state" / "mailbox.db") as conn:
                    got = conn.execute("SELECT state FROM supervisor_agent_state").fetchall()
            except sqlite3.Error:
                return False
            return got == [("running",)]
        wait_for(running, timeout=30, what="dev running")
        with sqlite3.connect(team / "state" / "mailbox.db") as conn:
            assert conn.execute("SELECT count(*) FROM supervisor_heartbeats").fetchone()[0] == 0
    finally:
        w.close()

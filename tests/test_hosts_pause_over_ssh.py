"""A limit hit on one host pauses a limit-group agent on another, end to end: `teamctl up` starts
p:hit here and p:mate on host b over a real sshd (its own keys and tmux server), both on one
PostgreSQL mailbox; p:hit's CLI prints a limit line, and the watcher on host b pauses p:mate until
the same reset. Both rows are read from PostgreSQL, and `teamctl down` leaves nothing running on
either host."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pgcluster
import psutil
import pytest
from sshhost import SshHost, serve
from teamctl_supervisor.store.broker import POINTER, write_pointer
from teamctl_supervisor.store.mailbox import Store
from watchkit import fake_env, make_team, wait_for

pg = pgcluster.pg


@pytest.fixture
def b_socket() -> Iterator[str]:
    """Host b's own tmux server (its `up` starts it); killed at the end, by its name."""
    name = f"teamctl-test-b-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    yield name
    subprocess.run(["tmux", "-L", name, "kill-server"], capture_output=True, check=False)


@pytest.fixture
def url(pg: pgcluster.Cluster) -> str:
    return pg.fresh_url()


@pytest.fixture
def host_b(tmp_path: Path, url: str, b_socket: str) -> Iterator[SshHost]:
    """Host b's sshd: its sessions get the database's URL and their own tmux server."""
    yield from serve(tmp_path, TEAMCTL_PG_URL=url, TEAMCTL_TMUX_SOCKET=b_socket)


def _runtime_args(team: Path, steps: list[str]) -> None:
    """This host's copy of the fake runtime runs `steps` (each host has its own descriptor file)."""
    desc = team / "runtimes" / "claude-code.toml"
    desc.write_text(desc.read_text().replace('binary = "fake_agent.py"',
                                             f'binary = "fake_agent.py"\nargs = {steps!r}'.replace("'", '"')))


def _teams(tmp_path: Path, host: SshHost) -> tuple[Path, Path]:
    b_root = tmp_path / "b" / "proj" / ".team"
    hosts = (f"hosts:\n  b: {{ssh: root@127.0.0.1, port: {host.port}, root: '{b_root}',"
             f" teamctl: '{sys.executable} -m teamctl_supervisor'}}\n")
    team_a = make_team(tmp_path / "a", {"hit": "    limit_group: acct\n",
                                        "mate": "    limit_group: acct\n    host: b\n"}, compose_extra=hosts)
    compose = team_a / "team-compose.yaml"
    compose.write_text(compose.read_text().replace(
        "broker: {type: sqlite, path: state/mailbox.db}", "broker: {type: postgres, url_env: TEAMCTL_PG_URL}"))
    shutil.copytree(team_a.parent, b_root.parent)
    # p:hit waits for a line typed into its session (sent once p:mate runs), then hits the limit
    _runtime_args(team_a, [f"pidfile:{tmp_path / 'pids-a'}", "print:hit-up", "echo-input",
                           "print:usage limit reached \\u00b7 resets in 2h", "hang"])
    _runtime_args(b_root, [f"pidfile:{tmp_path / 'pids-b'}", "print:mate-up", "hang"])
    return team_a, b_root


def _teamctl(team: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "teamctl_supervisor", *args, "--root", str(team)],
                          capture_output=True, text=True, timeout=120, env=env, cwd=team.parent)


def _alive(pids: list[int]) -> list[int]:
    alive = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.append(pid)
        except psutil.Error:
            pass
    return alive


def _pids(path: Path) -> list[int]:
    return [int(x) for x in path.read_text().split()] if path.exists() else []


def _sessions(socket: str) -> set[str]:
    done = subprocess.run(["tmux", "-L", socket, "list-sessions", "-F", "#{session_name}"],
                          capture_output=True, text=True, check=False)
    return set(done.stdout.split()) if done.returncode == 0 else set()


def test_a_hit_here_pauses_the_group_agent_on_host_b_over_ssh(
        tmp_path: Path, url: str, host_b: SshHost, b_socket: str, tmux_socket: str) -> None:
    team_a, team_b = _teams(tmp_path, host_b)
    env = fake_env(team_a, TEAMCTL_SSH=host_b.ssh_command, TEAMCTL_PG_URL=url, TEAMCTL_TMUX_SOCKET=tmux_socket)
    write_pointer(tmp_path / "desk" / POINTER, url, None)
    desk = Store(tmp_path / "desk" / POINTER)  # a third place, reading the one database
    known: list[int] = []
    try:
        up = _teamctl(team_a, env, "up", "--backend", "tmux", "--settle", "0")
        assert up.returncode == 0, up.stdout + up.stderr
        assert any(line.startswith("p:mate:") and line.endswith("[host b]") for line in up.stdout.splitlines())
        assert "t-p-hit" in _sessions(tmux_socket) and "t-p-mate" in _sessions(b_socket)  # each on its host

        def row(agent: str) -> object:
            return desk.agent_state(agent)
        wait_for(lambda: (r := row("p:mate")) and r.state == "running" and _pids(tmp_path / "pids-b"),
                 timeout=20, what="p:mate running on host b")
        wait_for(lambda: (r := row("p:hit")) and r.state == "running" and _pids(tmp_path / "pids-a"),
                 timeout=20, what="p:hit running here")
        mate, hit = row("p:mate"), row("p:hit")
        assert mate.host == "b" and hit.host != "b"
        known = [mate.watcher_pid, hit.watcher_pid]
        assert psutil.Process(mate.watcher_pid).environ().get("TEAMCTL_ROOT") == str(team_b)  # host b's watcher

        subprocess.run(["tmux", "-L", tmux_socket, "send-keys", "-t", "=t-p-hit:", "go", "Enter"], check=True)
        wait_for(lambda: row("p:mate").state == "rate_limited", timeout=20, what="p:mate paused on host b")

        hits = desk.query("SELECT agent_id, until FROM supervisor_limit_scope")
        assert [r["agent_id"] for r in hits] == ["p:hit"]
        assert [r["agent_id"] for r in desk.query("SELECT agent_id FROM rate_limits")] == ["p:hit"]
        paused = row("p:mate")
        assert paused.until == hits[0]["until"] and paused.host == "b"  # the group's hit, not one of its own
        mate_log = (team_b / "state" / "logs" / "p-mate.log").read_text(errors="replace")
        assert "mate-up" in mate_log and "usage limit" not in mate_log

        known += _pids(tmp_path / "pids-a") + _pids(tmp_path / "pids-b")
        down = _teamctl(team_a, env, "down")
        assert down.returncode == 0, down.stdout + down.stderr
        wait_for(lambda: not _alive(known), timeout=30, what="no watcher or CLI left on either host")
        assert "t-p-hit" not in _sessions(tmux_socket) and "t-p-mate" not in _sessions(b_socket)
        assert {r.state for r in desk.agent_states().values()} == {"stopped"}
    finally:
        for pid in _alive(known):
            os.kill(pid, 9)
        desk.close()

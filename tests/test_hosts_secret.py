"""A password in the PostgreSQL URL (broker.url_env) never shows on a command line while `up` starts
the team here in tmux and on host b over ssh: tmux keeps its first client's argv as its server's for
as long as the server runs, so a value passed with `new-session -e` would stay visible in `ps`. The
watchers find it in state/ (0600) instead, and reach the database with it."""

from __future__ import annotations

import os
import stat
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
from test_hosts_ssh import _teamctl, _teams  # the up/down tests' trees and command
from watchkit import fake_env, wait_for

pg = pgcluster.pg
SECRET = f"pw-{uuid.uuid4().hex}"


def _socket() -> Iterator[str]:
    name = f"teamctl-test-secret-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    yield name
    subprocess.run(["tmux", "-L", name, "kill-server"], capture_output=True, check=False)


a_socket = pytest.fixture(_socket)  # servers of their own, started by this test's `up`
b_socket = pytest.fixture(_socket)


@pytest.fixture
def url(pg: pgcluster.Cluster) -> str:
    """The test cluster trusts every login: the password is only carried, which is all this needs."""
    return pg.fresh_url().replace("teamctl@", f"teamctl:{SECRET}@")


@pytest.fixture
def host_b(tmp_path: Path, url: str, b_socket: str) -> Iterator[SshHost]:
    yield from serve(tmp_path, TEAMCTL_PG_URL=url, TEAMCTL_TMUX_SOCKET=b_socket)


def _on_a_command_line() -> list[str]:
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as fh:
                    if SECRET.encode() in fh.read():
                        found.append(pid)
            except OSError:
                pass
    return found


def test_the_database_password_is_on_no_command_line_while_up_starts_the_team(
        tmp_path: Path, url: str, host_b: SshHost, a_socket: str, b_socket: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    team_a, b_root = _teams(tmp_path, host_b)
    for team in (team_a, b_root):
        desc = team / "runtimes" / "claude-code.toml"
        desc.write_text(desc.read_text().replace('args = ["hang"]', 'args = ["print:up", "hang"]'))
    env = fake_env(team_a, TEAMCTL_SSH=host_b.ssh_command, TEAMCTL_PG_URL=url, TEAMCTL_TMUX_SOCKET=a_socket)
    write_pointer(tmp_path / "desk" / POINTER, None, "TEAMCTL_PG_URL")
    monkeypatch.setenv("TEAMCTL_PG_URL", url)  # for the test's own reader only
    desk = Store(tmp_path / "desk" / POINTER)
    pids: list[int] = []
    try:
        up = subprocess.Popen([sys.executable, "-m", "teamctl_supervisor", "up", "--backend", "tmux", "--settle",
                               "0", "--root", str(team_a)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, env=env, cwd=team_a.parent)
        seen: list[str] = []
        scans = 0
        while True:  # every process's argv, over and over until `up` is done (each scan paces the next)
            seen += _on_a_command_line()
            scans += 1
            try:
                up.wait(0.01)
                break
            except subprocess.TimeoutExpired:
                continue
        out = up.stdout.read() if up.stdout else ""
        assert up.returncode == 0, out
        seen += _on_a_command_line()  # and the tmux servers `up` left running, on both hosts
        assert not seen, f"the password was on the command line of pids {sorted(set(seen))}"
        assert scans > 10  # the scans did run while `up` worked

        rows = wait_for(lambda: (r := desk.agent_states()) and {a: x.state for a, x in r.items()}
                        == {"p:near": "running", "p:far": "running"} and r, timeout=30, what="both watchers on the db")
        pids = [r.watcher_pid for r in rows.values()]
        for team in (team_a, b_root):  # each host's `up` left the value for its watchers, private
            kept = team / "state" / "mailbox.postgres.url"
            assert kept.read_text() == url and stat.S_IMODE(kept.stat().st_mode) == 0o600
            assert url not in (team / "state" / POINTER).read_text()
        assert psutil.Process(rows["p:near"].watcher_pid).environ().get("TEAMCTL_PG_URL") == ""
        assert not _on_a_command_line()
    finally:
        down = _teamctl(team_a, env, "down")
        desk.close()
        for pid in pids:
            try:
                os.kill(pid, 9)
            except OSError:
                pass
    assert down.returncode == 0, down.stdout + down.stderr

"""`logs`, `wake`, `restart` and `rate-limits` for an agent on another host (a real sshd on
127.0.0.1 stands for host b): the first three run `teamctl` there over ssh, the last reads the
shared PostgreSQL database. Another host's output is untrusted: its controls never reach us."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pgcluster
import psutil
import pytest
from sshhost import SshHost, serve
from teamctl_supervisor.store.broker import POINTER, write_pointer
from teamctl_supervisor.store.mailbox import Store
from test_hosts_ssh import _teamctl, _teams  # the same trees and command as the up/down tests
from watchkit import fake_env, make_team, wait_for

pg = pgcluster.pg


@pytest.fixture
def url(pg: pgcluster.Cluster) -> str:
    return pg.fresh_url()


@pytest.fixture
def host_b(tmp_path: Path, url: str) -> Iterator[SshHost]:
    yield from serve(tmp_path, TEAMCTL_PG_URL=url)


def test_logs_of_an_agent_on_another_host_come_over_ssh_without_controls(host_b: SshHost, url: str,
                                                                          tmp_path: Path) -> None:
    team_a, team_b = _teams(tmp_path, host_b)
    logs = team_b / "state" / "logs"
    logs.mkdir(parents=True, mode=0o700)
    (team_b / "state").chmod(0o700)
    (logs / "p-far.log").write_bytes(b"hello from b\n\x1b]0;a title\x07tit\x1b[31mle \x9b2Jthere\n")
    env = fake_env(team_a, TEAMCTL_SSH=host_b.ssh_command, TEAMCTL_PG_URL=url)
    done = _teamctl(team_a, env, "logs", "p:far", "--raw")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "hello from b"
    assert "there" in done.stdout and not [ch for ch in done.stdout if ch != "\n" and not ch.isprintable()]
    both = _teamctl(team_a, env, "logs")  # near (here, no output yet) and far (there), one prefix each
    assert any(line.startswith("p:far") and line.endswith("hello from b") for line in both.stdout.splitlines())

    host_b.stop()
    gone = _teamctl(team_a, env, "logs", "p:far")
    assert gone.returncode == 1 and "p:far: unknown (host b (root@127.0.0.1) unreachable" in gone.stderr


def test_wake_restart_and_rate_limits_reach_an_agent_on_another_host(host_b: SshHost, url: str,
                                                                     tmp_path: Path) -> None:
    team_a, team_b = _teams(tmp_path, host_b)
    env = fake_env(team_a, TEAMCTL_SSH=host_b.ssh_command, TEAMCTL_PG_URL=url)
    write_pointer(tmp_path / "desk" / POINTER, url, None)
    desk = Store(tmp_path / "desk" / POINTER)
    pids: list[int] = []
    try:
        wake = _teamctl(team_a, env, "wake", "p:far")
        far_lines = [line for line in wake.stdout.splitlines() if line.startswith("p:far:")]
        assert len(far_lines) == 1 and far_lines[0].endswith("[host b]"), wake.stdout + wake.stderr

        restart = _teamctl(team_a, env, "restart", "p:far", "--backend", "process", "--settle", "0")
        assert restart.returncode == 0, restart.stdout + restart.stderr
        assert any(line.startswith("p:far:") and line.endswith("[host b]") for line in restart.stdout.splitlines())
        row = wait_for(lambda: desk.agent_state("p:far"), timeout=30, what="far's row")
        pids = [row.watcher_pid] if row.watcher_pid else []
        assert psutil.Process(row.watcher_pid).environ().get("TEAMCTL_ROOT") == str(team_b)
        assert desk.agent_state("p:near") is None  # only the agent named was restarted

        desk.record_rate_limit("p:far", "claude-code", time.time() - 5, time.time() + 3600, "usage limit reached")
        assert desk.flush()
        hits = json.loads(_teamctl(team_a, env, "rate-limits", "--json").stdout)
        assert [h["agent"] for h in hits] == ["p:far"]  # host b's hit, read from the shared database
    finally:
        _teamctl(team_a, env, "down")
        for pid in pids:
            try:
                os.kill(pid, 9)
            except OSError:
                pass
        desk.close()


def test_attach_to_an_agent_on_another_host_takes_a_terminal_there_over_the_master(tmp_path: Path) -> None:
    from teamctl_supervisor.team import hosts
    from teamctl_supervisor.team.compose import load_team

    team_dir = make_team(tmp_path, {"far": "    host: b\n"},
                         compose_extra="hosts:\n  b: {ssh: me@host-b, port: 2222, root: /srv/t/.team}\n")
    team = load_team(team_dir)
    host, far = team.hosts[0], team.agent("far")
    with hosts.Ssh() as ssh:
        argv = ssh.attach_argv(host, team, far)
        rw = ssh.attach_argv(host, team, far, rw=True)
        assert argv[0] == "ssh" and argv[argv.index("me@host-b") - 1] == "-t"  # a terminal, for tmux
        assert f"ControlPath={ssh.dir}/%C" in argv and "ControlMaster=auto" in argv
        assert argv[-2:] == ["--", "env TEAMCTL_HOST=b teamctl attach p:far --root /srv/t/.team"]
        assert rw[-1] == "env TEAMCTL_HOST=b teamctl attach p:far --rw --root /srv/t/.team"


def test_attach_to_an_agent_of_a_host_ssh_cannot_reach_is_exit_2(host_b: SshHost, url: str,
                                                                  tmp_path: Path) -> None:
    team_a, _ = _teams(tmp_path, host_b)
    env = fake_env(team_a, TEAMCTL_SSH=host_b.ssh_command, TEAMCTL_PG_URL=url)
    there = _teamctl(team_a, env, "attach", "p:far")  # b's own attach answers (no session there)
    assert there.returncode == 1 and "p:far: not running in tmux" in there.stderr, there.stderr
    host_b.stop()
    done = _teamctl(team_a, env, "attach", "p:far")
    assert done.returncode == 2
    assert done.stderr.startswith("teamctl: attach p:far: host b (root@127.0.0.1) unreachable"), done.stderr
    pfile = team_a / "projects" / "p.yaml"
    pfile.write_text(pfile.read_text().replace("host: b", "host: nope"))
    unknown = _teamctl(team_a, env, "attach", "p:far")
    assert unknown.returncode == 2 and "no host 'nope' under hosts:" in unknown.stderr

"""Agents on another host, reached over a real sshd on 127.0.0.1: `up` starts them there over one
ssh connection per host, `down` stops them, and a host that cannot be reached fails only its own
agents (`unknown (host ... unreachable)`), never the command for the others."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
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
def host_b(tmp_path: Path) -> Iterator[SshHost]:
    yield from serve(tmp_path)


def _teams(tmp_path: Path, host: SshHost) -> tuple[Path, Path]:
    """The team's tree on 'host a' and its copy on 'host b' (another root, as on another disk)."""
    b_root = tmp_path / "b" / "proj" / ".team"
    hosts = (f"hosts:\n  b: {{ssh: root@127.0.0.1, port: {host.port}, root: '{b_root}',"
             f" teamctl: '{sys.executable} -m teamctl_supervisor'}}\n")
    team_a = make_team(tmp_path / "a", {"near": "", "far": "    host: b\n"}, compose_extra=hosts)
    desc = team_a / "runtimes" / "claude-code.toml"  # each agent stays up until stopped: a quick exit would
    # crash-loop it to `failed` on a slow machine before `down` came
    desc.write_text(desc.read_text().replace('binary = "fake_agent.py"', 'binary = "fake_agent.py"\nargs = ["hang"]'))
    compose = team_a / "team-compose.yaml"
    compose.write_text(compose.read_text().replace(
        "broker: {type: sqlite, path: state/mailbox.db}", "broker: {type: postgres, url_env: TEAMCTL_PG_URL}"))
    shutil.copytree(team_a.parent, b_root.parent)
    return team_a, b_root


def _teamctl(team: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "teamctl_supervisor", *args, "--root", str(team)],
                          capture_output=True, text=True, timeout=180, env=env, cwd=team.parent)


def test_up_and_down_reach_an_agent_on_another_host_over_ssh(pg: pgcluster.Cluster, host_b: SshHost,
                                                              tmp_path: Path) -> None:
    url = pg.fresh_url()
    team_a, team_b = _teams(tmp_path, host_b)
    (host_b.dir / "sshd_config").write_text((host_b.dir / "sshd_config").read_text().replace(
        "SetEnv ", f'SetEnv "TEAMCTL_PG_URL={url}" '))
    host_b.stop()
    host_b.start()
    # where these commands keep their ssh control sockets (not other tests'): short, as a socket's path is
    masters = Path(tempfile.mkdtemp(prefix="tc-", dir="/tmp"))
    env = fake_env(team_a, TEAMCTL_SSH=host_b.ssh_command, TEAMCTL_PG_URL=url, TMPDIR=str(masters))
    write_pointer(tmp_path / "desk" / POINTER, url, None)
    desk = Store(tmp_path / "desk" / POINTER)
    pids: list[int] = []
    try:
        up = _teamctl(team_a, env, "up", "--backend", "process", "--settle", "0")
        assert up.returncode == 0, up.stdout + up.stderr
        assert any(line.startswith("p:far:") and line.endswith("[host b]") for line in up.stdout.splitlines())
        rows = desk.agent_states()
        assert set(rows) == {"p:near", "p:far"}  # both hosts' watchers write to the one database
        pids = [r.watcher_pid for r in rows.values() if r.watcher_pid]
        far = psutil.Process(rows["p:far"].watcher_pid)
        assert far.environ().get("TEAMCTL_ROOT") == str(team_b)  # started by host b's teamctl, in its root
        down = _teamctl(team_a, env, "down")
        assert down.returncode == 0, down.stdout + down.stderr
        wait_for(lambda: not any(psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE
                                 for p in pids), timeout=30, what="no watcher left on either host")
        assert {r.state for r in desk.agent_states().values()} == {"stopped"}
        assert not [p for p in psutil.process_iter(["cmdline"])  # each command's ssh master was closed
                    if any(f"{masters}/teamctl-ssh-" in part for part in p.info["cmdline"] or ())]
        assert not list(masters.iterdir())  # and its folder removed
    finally:
        for pid in pids:
            try:
                os.kill(pid, 9)
            except OSError:
                pass
        desk.close()
        shutil.rmtree(masters, ignore_errors=True)


def test_an_unreachable_host_fails_only_its_own_agents(host_b: SshHost, tmp_path: Path,
                                                         pg: pgcluster.Cluster) -> None:
    url = pg.fresh_url()
    team_a, _ = _teams(tmp_path, host_b)
    host_b.stop()  # host b is down
    env = fake_env(team_a, TEAMCTL_SSH=host_b.ssh_command, TEAMCTL_PG_URL=url)
    try:
        up = _teamctl(team_a, env, "up", "--backend", "process", "--settle", "0")
        lines = up.stdout.splitlines()
        assert up.returncode == 1
        assert any(line.startswith("p:near:") and "started" in line for line in lines), up.stdout
        assert any(line.startswith("p:far: unknown (host b (root@127.0.0.1) unreachable") for line in lines)
    finally:
        _teamctl(team_a, env, "down", "p:near")


def test_up_checks_each_host_first_and_reports_every_problem(host_b: SshHost, tmp_path: Path,
                                                              pg: pgcluster.Cluster) -> None:
    url = pg.fresh_url()
    team_a, team_b = _teams(tmp_path, host_b)
    compose = team_a / "team-compose.yaml"
    compose.write_text(compose.read_text().replace(f"root: '{team_b}'", f"root: '{tmp_path / 'nowhere'}'"))
    env = fake_env(team_a, TEAMCTL_SSH=host_b.ssh_command, TEAMCTL_PG_URL=url)
    try:
        up = _teamctl(team_a, env, "up", "--backend", "process", "--settle", "0")
        assert up.returncode == 1
        expected = (f"p:far: not started: host b (root@127.0.0.1): no team-compose.yaml in {tmp_path / 'nowhere'}"
                    " (hosts.b.root)")
        assert expected in up.stdout.splitlines()
        assert any(line.startswith("p:near:") and "started" in line for line in up.stdout.splitlines())
        compose.write_text(compose.read_text().replace(f"root: '{tmp_path / 'nowhere'}'", f"root: '{team_b}'")
                           .replace(f"teamctl: '{sys.executable} -m teamctl_supervisor'", "teamctl: /no/teamctl"))
        up = _teamctl(team_a, env, "up", "--backend", "process", "--settle", "0", "p:far")
        assert up.returncode == 1
        assert "p:far: not started: host b (root@127.0.0.1): '/no/teamctl' does not run there" in up.stdout

        # b lacks the runtime's binary and the project's folder: both said at once, nothing started there
        compose.write_text(compose.read_text().replace("teamctl: /no/teamctl", f"teamctl: '{sys.executable} -m"
                                                                                " teamctl_supervisor'"))
        (team_a.parent / "work").mkdir()
        pfile = team_a / "projects" / "p.yaml"
        pfile.write_text(pfile.read_text().replace("cwd: .}", "cwd: ../work}"))
        desc = team_a / "runtimes" / "claude-code.toml"
        desc.write_text(desc.read_text().replace('binary = "fake_agent.py"', 'binary = "no-such-cli"'))
        up = _teamctl(team_a, env, "up", "--backend", "process", "--settle", "0", "p:far")
        assert up.returncode == 1
        assert (f"p:far: not started: host b (root@127.0.0.1): runtime binary 'no-such-cli' not on PATH there"
                f" (p:far); working folder '{team_b.parent / 'work'}' missing there (p:far)") in up.stdout.splitlines()
        assert not (tmp_path / "runs-b").exists()  # the fake runtime never ran on b
    finally:
        _teamctl(team_a, env, "down", "p:near")


def test_status_shows_an_unreachable_hosts_agents_as_unknown_not_their_old_rows(
        host_b: SshHost, tmp_path: Path, pg: pgcluster.Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from teamctl_supervisor.store import mailbox

    url = pg.fresh_url()
    team_a, _ = _teams(tmp_path, host_b)
    desk = tmp_path / "desk" / POINTER
    write_pointer(desk, url, None)
    monkeypatch.setattr(mailbox, "HOST", "b")
    with Store(desk) as s:  # far's watcher on b wrote "running", then b went away
        s.set_state("p:far", "claude-code", "running", watcher_pid=os.getpid(), pid=os.getpid())
        assert s.flush()
    env = fake_env(team_a, TEAMCTL_SSH=host_b.ssh_command, TEAMCTL_PG_URL=url)

    seen = _teamctl(team_a, env, "status", "--json")  # b answers: its agent's row stands
    assert seen.returncode == 0, seen.stderr
    assert {r["id"]: r["state"] for r in json.loads(seen.stdout)} == {"p:near": "not-started", "p:far": "running"}

    host_b.stop()
    gone = _teamctl(team_a, env, "status", "--json")
    rows = {r["id"]: r for r in json.loads(gone.stdout)}
    assert gone.returncode == 1
    assert rows["p:far"]["state"] == "unknown" and rows["p:far"]["text"] == "unknown (host unreachable)"
    assert rows["p:near"]["state"] == "not-started"  # this host's agents are shown as ever
    assert "host b unreachable" in gone.stderr
    table = _teamctl(team_a, env, "status")
    assert table.returncode == 1
    assert any(line.startswith("p:far ") and "unknown (host unreachable)" in line for line in table.stdout.splitlines())
    assert any(line.startswith("p:near ") for line in table.stdout.splitlines())


def test_a_long_tmpdir_still_leaves_room_for_the_control_socket(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """ssh refuses a ControlPath of 108 bytes or more; %C alone is 40: under a deep TMPDIR (a test
    runner's, a user's) the masters go to /tmp instead of failing every host."""
    from teamctl_supervisor.team.hosts import Ssh

    deep = tmp_path / ("d" * 60)
    deep.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(deep))
    ssh = Ssh()
    try:
        assert len(f"{ssh.dir}/{'0' * 40}") < 108
        assert oct(ssh.dir.stat().st_mode & 0o777) == "0o700"
    finally:
        ssh.close()
    assert not ssh.dir.exists()

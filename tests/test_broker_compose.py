"""`broker: {type: postgres, ...}` in the compose file: checked, and the commands read the team's
state from the database (the URL from an environment variable, so that no password sits in YAML)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pgcluster
import pytest
from teamctl_supervisor.store import mailbox
from teamctl_supervisor.store.broker import POINTER
from teamctl_supervisor.store.mailbox import Store
from watchkit import make_team

pg = pgcluster.pg


def _team(tmp_path: Path, broker: str) -> Path:
    team = make_team(tmp_path, {"a": "", "b": ""})
    compose = team / "team-compose.yaml"
    compose.write_text(compose.read_text().replace("broker: {type: sqlite, path: state/mailbox.db}", broker))
    return team


def _teamctl(team: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "teamctl_supervisor", *args, "--root", str(team)],
                          capture_output=True, text=True, timeout=120, env={**os.environ, **env})


def test_status_reads_a_postgres_teams_state_with_the_url_from_the_environment(
        pg: pgcluster.Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = pg.fresh_url()
    team = _team(tmp_path, "broker: {type: postgres, url_env: TEAMCTL_TEST_PG_URL}")
    from teamctl_supervisor.store.broker import write_pointer

    other_host = tmp_path / "host-b" / "state" / POINTER
    write_pointer(other_host, url, None)
    monkeypatch.setattr(mailbox, "HOST", "host-b")
    with Store(other_host) as s:  # the agent's watcher on another host wrote its state
        s.set_state("p:a", "claude-code", "rate_limited", until=4_000_000_000.0)
        assert s.flush()
    done = _teamctl(team, "status", "--json", TEAMCTL_TEST_PG_URL=url)
    assert done.returncode in (0, 1), done.stderr
    rows = {r["id"]: r for r in json.loads(done.stdout)}
    assert rows["p:a"]["until"] is not None and rows["p:a"]["runtime"] == "claude-code"
    assert rows["p:a"]["state"] == "rate_limited"  # as its row says: its pid means something on host-b only
    assert rows["p:a"]["host"] == "host-b" and rows["p:a"]["remote"] is True
    assert rows["p:b"]["state"] == "not-started" and rows["p:b"]["host"] == socket.gethostname()
    pointer = (team / "state" / POINTER).read_text()
    assert "TEAMCTL_TEST_PG_URL" in pointer and url not in pointer  # the variable's name, never its value
    assert not (team / "state" / "mailbox.db").exists()


@pytest.mark.parametrize(("broker", "message"), [
    ("broker: {type: postgres}", "needs one of 'url'"),
    ("broker: {type: postgres, url: mysql://x/y}", "must start with postgresql://"),
    ("broker: {type: postgres, url_env: 'not a name'}", "is not an environment variable name"),
    ("broker: {type: sqlite, url: postgresql://h/d}", "only for broker.type postgres"),
    ("broker: {type: redis}", "unsupported broker"),
])
def test_a_bad_broker_block_is_exit_2_naming_the_key(tmp_path: Path, broker: str, message: str) -> None:
    done = _teamctl(_team(tmp_path, broker), "validate")
    assert done.returncode == 2
    assert message in done.stderr + done.stdout and "broker" in done.stderr + done.stdout


@pytest.mark.parametrize(("hosts", "agent_extra", "message"), [
    ("hosts:\n  b: {ssh: u@h}\n", "    host: c\n", "no host 'c' under hosts:"),
    ("hosts:\n  b: {ssh: '-oProxyCommand=x'}\n", "", "is not an ssh destination"),
    ("hosts:\n  b: {port: 22}\n", "", "ssh"),
    ("hosts:\n  b: {ssh: u@h, prot: 22}\n", "", "prot"),
])
def test_a_bad_hosts_block_is_exit_2_naming_the_key(tmp_path: Path, hosts: str, agent_extra: str,
                                                     message: str) -> None:
    team = make_team(tmp_path, {"a": agent_extra}, compose_extra=hosts)
    done = _teamctl(team, "validate")
    assert done.returncode == (2 if "prot" not in hosts else 0), done.stdout + done.stderr
    assert message in done.stderr + done.stdout and "hosts" in done.stderr + done.stdout


def test_a_projects_host_places_its_agents_there_unless_an_agent_names_its_own(tmp_path: Path) -> None:
    from teamctl_supervisor.team.compose import load_team

    team = make_team(tmp_path, {"a": "", "b": "    host: c\n"}, compose_extra="hosts:\n  b: u@h\n  c: u@k\n")
    pfile = team / "projects" / "p.yaml"
    pfile.write_text(pfile.read_text().replace("cwd: .}", "cwd: ., host: b}"))
    loaded = load_team(team)
    assert {a.id: a.host for a in loaded.agents} == {"p:a": "b", "p:b": "c"}

    pfile.write_text(pfile.read_text().replace("host: b}", "host: z}"))
    done = _teamctl(team, "validate")
    assert done.returncode == 2
    assert "project.host: no host 'z' under hosts:" in done.stderr + done.stdout

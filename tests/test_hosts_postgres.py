"""Two team roots on one PostgreSQL database stand for two hosts: a hit seen by a watcher of one
pauses a limit-group agent watched from the other, and both rows are in the database."""

from __future__ import annotations

from pathlib import Path

import pgcluster
from teamctl_supervisor.store.broker import POINTER, write_pointer
from teamctl_supervisor.store.mailbox import Store
from watchkit import TeamWatcher, fake_env, make_team, wait_for

pg = pgcluster.pg


def _host(tmp_path: Path, name: str, agent: str) -> Path:
    team = make_team(tmp_path / name, {agent: "    limit_group: acct\n"})
    compose = team / "team-compose.yaml"
    compose.write_text(compose.read_text().replace(
        "broker: {type: sqlite, path: state/mailbox.db}", "broker: {type: postgres, url_env: TEAMCTL_PG_URL}"))
    return team


def test_a_hit_on_host_a_pauses_the_group_agent_on_host_b(pg: pgcluster.Cluster, tmp_path: Path) -> None:
    url = pg.fresh_url()
    host_a, host_b = _host(tmp_path, "a", "hit"), _host(tmp_path, "b", "mate")
    watchers = []
    try:
        mate = TeamWatcher(host_b, "p:mate", ["print:mate-up", "hang"],
                           env=fake_env(host_b, TEAMCTL_PG_URL=url, FAKE_RUNS_FILE=str(host_b / "runs")))
        watchers.append(mate)
        write_pointer(tmp_path / "desk" / "state" / POINTER, url, None)
        reader = Store(tmp_path / "desk" / "state" / POINTER)  # a third place, reading the same database

        def state(agent: str) -> str | None:
            row = reader.agent_state(agent)
            return row.state if row else None
        wait_for(lambda: state("p:mate") == "running", timeout=30, what="mate running")
        hitter = TeamWatcher(host_a, "p:hit", ["print:usage limit reached · resets in 2h", "hang"],
                             env=fake_env(host_a, TEAMCTL_PG_URL=url, FAKE_RUNS_FILE=str(host_a / "runs")))
        watchers.append(hitter)
        wait_for(lambda: state("p:mate") == "rate_limited", timeout=20, what="mate paused by the group")
        hit = reader.query("SELECT agent_id, until FROM supervisor_limit_scope")
        assert [r["agent_id"] for r in hit] == ["p:hit"]
        assert reader.agent_state("p:mate").until == hit[0]["until"]
        assert {r["agent_id"] for r in reader.query("SELECT agent_id FROM rate_limits")} == {"p:hit"}
        assert mate.proc.poll() is None
        assert (host_b / "state" / POINTER).exists() and not (host_b / "state" / "mailbox.db").exists()
        reader.close()
    finally:
        for w in watchers:
            w.close()


def test_the_database_stopped_for_seconds_while_an_agent_spends_loses_no_row(tmp_path: Path) -> None:
    cluster = pgcluster.Cluster()  # its own server: this test stops and starts it
    cluster.start()
    watchers = []
    try:
        url = cluster.fresh_url()
        team = _host(tmp_path, "a", "dev")
        lines = 120  # one cost line every 0.1 s: 12 s of spend, about 8 s of it with the database down
        steps = ["print:up"] + [s for i in range(1, lines + 1)
                                for s in (f"print:session cost: ${i / 100:.2f} ({i}0 in, {i} out)", "sleep:0.1")]
        watchers.append(TeamWatcher(team, "p:dev", [*steps, "print:all-printed", "hang"],
                                    env=fake_env(team, TEAMCTL_PG_URL=url, FAKE_RUNS_FILE=str(team / "runs"))))
        write_pointer(tmp_path / "desk" / POINTER, url, None)
        desk = Store(tmp_path / "desk" / POINTER)

        def rows() -> list:
            return desk.query("SELECT count(*), COALESCE(SUM(usd), 0) FROM budget")[0]
        wait_for(lambda: rows()[0] >= 10, timeout=30, what="first cost rows")
        desk.close()
        cluster.stop()
        log = team / "state" / "logs" / "p-dev.log"
        wait_for(lambda: "all-printed" in log.read_text(errors="replace"), timeout=60, what="every line printed")
        cluster.start()
        desk = Store(tmp_path / "desk" / POINTER)
        wait_for(lambda: rows()[0] >= lines, timeout=60, what="the spooled rows replayed")
        count, total = rows()
        assert count == lines  # each line once: none lost, none twice
        assert round(total, 6) == lines / 100
        desk.close()
    finally:
        for w in watchers:
            w.close()
        cluster.destroy()

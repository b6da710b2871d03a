"""The PostgreSQL mailbox: its schema, many hosts at once, an outage without loss, exactly-once
replay, limit-group announcements across hosts; and schema drift, on both engines."""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pgcluster
import psycopg
import pytest
from teamctl_supervisor.store import mailbox as store
from teamctl_supervisor.store.backend_postgres import Listener
from teamctl_supervisor.store.broker import POINTER, pointer_url, write_pointer
from teamctl_supervisor.store.mailbox import Store

pg, mailbox_at = pgcluster.pg, pgcluster.mailbox_at
MailboxAt = Any


def _pg_path(cluster: pgcluster.Cluster, root: Path) -> Path:
    path = root / "state" / POINTER
    write_pointer(path, cluster.fresh_url(), None)
    return path


def test_shared_tables_have_the_same_columns_in_postgres_types(pg: pgcluster.Cluster, tmp_path: Path) -> None:
    path = _pg_path(pg, tmp_path)
    with Store(path) as s:
        s.conn()
        rows = s.query("SELECT column_name, data_type, is_nullable, is_identity FROM information_schema.columns"
                       " WHERE table_name='rate_limits' ORDER BY ordinal_position")
    assert [tuple(r) for r in rows] == [
        ("id", "bigint", "NO", "YES"), ("agent_id", "text", "NO", "NO"), ("runtime", "text", "NO", "NO"),
        ("hit_at", "double precision", "NO", "NO"), ("resets_at", "double precision", "YES", "NO"),
        ("raw_match", "text", "NO", "NO"), ("handled_at", "double precision", "YES", "NO")]
    assert oct((path).stat().st_mode & 0o777) == "0o600"


def test_hosts_creating_the_schema_at_once_all_succeed(pg: pgcluster.Cluster, tmp_path: Path) -> None:
    url = pg.fresh_url()
    errors: list[BaseException] = []
    go = threading.Barrier(12)

    def host(n: int) -> None:
        path = tmp_path / f"host{n}" / "state" / POINTER
        write_pointer(path, url, None)
        try:
            go.wait(30)
            with Store(path) as s:
                s.record_rate_limit(f"p:a{n}", "rt", float(n), None, f"hit {n}")
                assert s.flush()
        except BaseException as exc:
            errors.append(exc)
    threads = [threading.Thread(target=host, args=(n,)) for n in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM rate_limits").fetchone()[0] == 12


@pytest.fixture
def own_cluster() -> Iterator[pgcluster.Cluster]:
    """A server this test may stop and start (the session's one is shared)."""
    cluster = pgcluster.Cluster()
    cluster.start()
    yield cluster
    cluster.destroy()


def test_database_stopped_mid_run_loses_nothing_and_every_row_lands_once(
        own_cluster: pgcluster.Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store, "REPLAY_INTERVAL", 0.2)
    path = _pg_path(own_cluster, tmp_path)
    s = Store(path, spool_name="agent-a")
    for i in range(100):
        s.record_budget("p", "p:a", "rt", 0.01, 1, 1, float(i))
    assert s.flush()
    assert s.query("SELECT count(*) FROM budget")[0][0] == 100  # the reading connection, kept open
    own_cluster.stop()
    for i in range(100, 300):  # the database is down: each write returns, into the spool
        s.record_budget("p", "p:a", "rt", 0.01, 1, 1, float(i))
        if i == 150:
            s.record_hit("p:a", "rt", 150.5, 9e9, "limit", "g", None, "stop", 9e9)
    assert s.flush(2) is False
    assert s.has_backlog() and s.safe_query("SELECT 1") == []  # the loop is not held up by reads either
    own_cluster.start()
    for i in range(300, 350):
        s.record_budget("p", "p:a", "rt", 0.01, 1, 1, float(i))
    assert s.flush(30)
    rows = s.query("SELECT observed_at FROM budget ORDER BY id")
    assert [r[0] for r in rows] == [float(i) for i in range(350)]  # all, once, in order
    assert [r["hit_at"] for r in s.rate_limits()] == [150.5]
    assert not s.has_backlog()
    s.close()


def test_a_replay_after_a_lost_commit_answer_adds_no_second_row(pg: pgcluster.Cluster, tmp_path: Path) -> None:
    path = _pg_path(pg, tmp_path)
    s = Store(path, spool_name="agent-a")
    s._remote.close()  # no writer thread: the test plays it
    s.record_rate_limit("p:a", "rt", 1.0, None, "one")
    s.record_budget("p", "p:a", "rt", 0.5, 1, 2, 2.0)
    lines = s.spool.read_text()
    assert all(len(json.loads(line)) == 3 for line in lines.splitlines())  # each with its write id
    assert s._remote.replay()  # committed ...
    s.spool.write_text(lines)  # ... but its answer was lost: the same lines are still in the spool
    s.record_rate_limit("p:a", "rt", 3.0, None, "three")
    assert s._remote.replay()
    assert [r["raw_match"] for r in s.rate_limits()] == ["one", "three"]
    assert s.query("SELECT count(*) FROM budget")[0][0] == 1
    s.close()


def test_a_hit_on_one_host_is_announced_to_and_pauses_a_group_agent_on_another(
        pg: pgcluster.Cluster, tmp_path: Path) -> None:
    url = pg.fresh_url()
    a, b = (tmp_path / h / "state" / POINTER for h in ("host-a", "host-b"))
    write_pointer(a, url, None)
    write_pointer(b, url, None)
    with Store(a) as on_a, Store(b) as on_b:
        on_b.conn()
        listener = Listener(pointer_url(b))
        try:
            on_a.record_hit("p:x", "rt", 10.0, 5000.0, "limit", "anthropic", None, "stop", 5000.0)
            assert listener.wait(30) == ["anthropic"]
        finally:
            listener.close()
        assert [r["agent_id"] for r in on_b.active_group_limits("anthropic", "opus", 1000.0)] == ["p:x"]


def test_budget_caps_count_spend_from_every_host(pg: pgcluster.Cluster, tmp_path: Path) -> None:
    from teamctl_supervisor.agent.budget import Caps, check_caps

    url = pg.fresh_url()
    paths = [tmp_path / h / "state" / POINTER for h in ("a", "b", "c")]
    for path in paths:
        write_pointer(path, url, None)
    stores = [Store(p) for p in paths]
    for s in stores:
        s.record_budget("p", "p:x", "rt", 4.0, 1, 1, 1_000_000.0)
        assert s.flush()
    check = check_caps(stores[0], Caps(daily_usd_limit=10.0), "p", 1_000_000.0)
    assert check.team_spend == 12.0 and check.capped is not None
    for s in stores:
        s.close()


# -- schema drift, both engines ---------------------------------------------------------------------


def _run_sql(path: Path, statements: list[str]) -> None:
    if path.name == POINTER:
        with psycopg.connect(pointer_url(path), autocommit=True) as conn:
            for sql in statements:
                conn.execute(sql.replace("REAL", "DOUBLE PRECISION"))
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    try:
        for sql in statements:
            conn.execute(sql)
        conn.commit()
    finally:
        conn.close()


def test_an_extra_column_from_a_newer_version_is_tolerated(mailbox_at: MailboxAt) -> None:
    path = mailbox_at()
    with Store(path) as s:
        s.set_state("p:a", "rt", "running", now=1.0)
        assert s.flush()
    _run_sql(path, ["ALTER TABLE supervisor_agent_state ADD COLUMN account TEXT DEFAULT 'acct-1'",
                    "CREATE TABLE supervisor_future (x TEXT)"])
    with Store(path) as s:
        s.set_state("p:b", "rt", "stopped", now=2.0)
        assert s.flush()
        assert {k: v.state for k, v in s.agent_states().items()} == {"p:a": "running", "p:b": "stopped"}
        assert s.agent_state("p:a").updated_at == 1.0


def test_an_older_schema_is_upgraded_in_place_and_records(mailbox_at: MailboxAt) -> None:
    path = mailbox_at()
    _run_sql(path, ["CREATE TABLE supervisor_agent_state (agent_id TEXT PRIMARY KEY, runtime TEXT NOT NULL,"
                    " state TEXT NOT NULL, until REAL, detail TEXT, watcher_pid INTEGER, pid INTEGER,"
                    " started_at REAL, restarts INTEGER NOT NULL DEFAULT 0, last_exit INTEGER, updated_at REAL"
                    " NOT NULL)", "INSERT INTO supervisor_agent_state (agent_id, runtime, state, updated_at)"
                    " VALUES ('p:old', 'rt', 'running', 1.0)"])
    with Store(path) as s:
        s.set_state("p:a", "rt", "running", limit_group="g", model="opus", now=2.0)
        s.record_hit("p:a", "rt", 3.0, 9e9, "limit", "g", None, "stop", 9e9)
        assert s.flush()
        states = s.agent_states()
        assert states["p:a"].limit_group == "g" and states["p:a"].model == "opus"
        assert states["p:old"].state == "running" and states["p:old"].model is None
        assert [r["agent_id"] for r in s.active_group_limits("g", None, 4.0)] == ["p:a"]


def test_a_stricter_newer_schema_never_loses_a_hit_silently(
        mailbox_at: MailboxAt, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(store, "REPLAY_INTERVAL", 0.0)
    path = mailbox_at()
    _run_sql(path, ["CREATE TABLE rate_limits (id INTEGER PRIMARY KEY, agent_id TEXT NOT NULL, runtime TEXT"
                    " NOT NULL, hit_at REAL NOT NULL, resets_at REAL, raw_match TEXT NOT NULL, handled_at REAL,"
                    " account TEXT NOT NULL)"])
    with caplog.at_level(logging.WARNING), Store(path, spool_name="agent-a") as s:
        s.record_hit("p:a", "rt", 5.0, 9e9, "the hit", "g", None, "stop", 9e9)
        s.set_state("p:a", "rt", "rate_limited", now=6.0)
        s.flush()
        s.replay_spool()
        assert s.flush()
        kept = s.quarantine.read_text()
        assert "the hit" in kept  # kept on disk for a human ...
        assert s.agent_state("p:a").state == "rate_limited"  # ... and the rest went through
    assert any(r.levelno >= logging.ERROR and "quarantine" in r.getMessage() for r in caplog.records)


def test_a_store_listening_for_its_group_is_poked_by_a_hit_on_another_host(
        pg: pgcluster.Cluster, tmp_path: Path) -> None:
    url = pg.fresh_url()
    a, b = (tmp_path / h / "state" / POINTER for h in ("host-a", "host-b"))
    write_pointer(a, url, None)
    write_pointer(b, url, None)
    poked = threading.Event()
    others = threading.Event()
    with Store(a) as on_a, Store(b) as on_b:
        on_b.listen_for_group("acct", poked.set)
        on_b.listen_for_group("acct", others.set)  # one listener per store: a second call adds none
        deadline = 100
        while not poked.is_set() and deadline:  # the listener connects on its own thread: hit until heard
            on_a.record_hit("p:x", "rt", float(deadline), 5000.0, "limit", "acct", None, "stop", 5000.0)
            on_a.record_hit("p:y", "rt", float(deadline), 5000.0, "limit", "other", None, "stop", 5000.0)
            poked.wait(0.3)
            deadline -= 1
        assert poked.is_set() and not others.is_set()


def test_stores_sharing_one_spool_name_lose_and_repeat_nothing(pg: pgcluster.Cluster, tmp_path: Path) -> None:
    path = _pg_path(pg, tmp_path)  # as concurrent commands do: they all spool as "teamctl"
    stores = [Store(path, spool_name="teamctl") for _ in range(4)]
    go = threading.Barrier(4)

    def write(n: int) -> None:
        go.wait(30)
        for i in range(200):
            stores[n].record_rate_limit(f"p:a{n}", "rt", float(i), None, f"hit {n} {i}")
    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for s in stores:
        assert s.flush(60)
    rows = stores[0].query("SELECT count(*), count(DISTINCT raw_match) FROM rate_limits")
    assert tuple(rows[0]) == (800, 800)
    for s in stores:
        s.close()


def test_the_read_only_views_read_a_postgres_team(pg: pgcluster.Cluster, tmp_path: Path) -> None:
    """The dashboard and `teamctl report` open the mailbox read-only: on a PostgreSQL team, through
    the broker's pointer, they see what the watchers of every host wrote."""
    from teamctl_supervisor.store.readonly import ReadOnlyMailbox

    path = _pg_path(pg, tmp_path)
    with Store(path) as s:
        s.set_state("p:far", "claude-code", "running", watcher_pid=1, pid=2, now=100.0)
        s.flush()
    with ReadOnlyMailbox(path) as view:
        rows = view.agent_states()
    assert rows["p:far"].state == "running"

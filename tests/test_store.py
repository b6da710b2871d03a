"""Tests for supervisor.store: the shared mailbox schema, concurrent writers, the spool, group queries."""

from __future__ import annotations

import json
import multiprocessing
import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pgcluster
import pytest
from teamctl_supervisor.store import backend_sqlite
from teamctl_supervisor.store import mailbox as store
from teamctl_supervisor.store.mailbox import Store, connect, model_covered

MailboxAt = Any  # pgcluster.mailbox_at: (root) -> a fresh mailbox path, SQLite or PostgreSQL
pg, mailbox_at = pgcluster.pg, pgcluster.mailbox_at  # the fixtures: every store test on both engines

EXPECTED_COLUMNS = {
    # (name, type, notnull, pk) as in team_core/mailbox.rs
    "rate_limits": [
        ("id", "INTEGER", 0, 1), ("agent_id", "TEXT", 1, 0), ("runtime", "TEXT", 1, 0),
        ("hit_at", "REAL", 1, 0), ("resets_at", "REAL", 0, 0), ("raw_match", "TEXT", 1, 0),
        ("handled_at", "REAL", 0, 0),
    ],
    "budget": [
        ("id", "INTEGER", 0, 1), ("project_id", "TEXT", 1, 0), ("agent_id", "TEXT", 0, 0),
        ("runtime", "TEXT", 0, 0), ("usd", "REAL", 1, 0), ("input_tok", "INTEGER", 1, 0),
        ("output_tok", "INTEGER", 1, 0), ("observed_at", "REAL", 1, 0),
    ],
    "agents": [
        ("id", "TEXT", 0, 1), ("project_id", "TEXT", 1, 0), ("role", "TEXT", 1, 0), ("runtime", "TEXT", 1, 0),
        ("is_manager", "INTEGER", 1, 0), ("reports_to", "TEXT", 0, 0),
    ],
    "messages": [
        ("id", "INTEGER", 0, 1), ("project_id", "TEXT", 1, 0), ("sender", "TEXT", 1, 0),
        ("recipient", "TEXT", 1, 0), ("text", "TEXT", 1, 0), ("thread_id", "TEXT", 0, 0),
        ("sent_at", "REAL", 1, 0), ("delivered_at", "REAL", 0, 0), ("acked_at", "REAL", 0, 0),
    ],
}


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_connect_sets_wal_busy_timeout_and_foreign_keys(tmp_path: Path) -> None:
    conn = connect(tmp_path / "mailbox.db")
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == store.BUSY_TIMEOUT_MS
        assert store.BUSY_TIMEOUT_MS >= 5000 and backend_sqlite.BUSY_TIMEOUT_MS == store.BUSY_TIMEOUT_MS
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    finally:
        conn.close()


def test_foreign_keys_are_enforced(tmp_path: Path) -> None:
    conn = connect(tmp_path / "mailbox.db")
    try:
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute("INSERT INTO agents (id, project_id, role, runtime)"
                         " VALUES ('p:a', 'nope', 'dev', 'x')")
    finally:
        conn.close()


@pytest.mark.parametrize("table", EXPECTED_COLUMNS)
def test_shared_table_has_exactly_the_shared_columns(tmp_path: Path, table: str) -> None:
    conn = connect(tmp_path / "mailbox.db")
    try:
        info = conn.execute(f"PRAGMA table_info({table})").fetchall()
    finally:
        conn.close()
    assert [(r[1], r[2], r[3], r[5]) for r in info] == EXPECTED_COLUMNS[table]


def test_connect_is_idempotent_on_an_existing_mailbox(mailbox_at: MailboxAt) -> None:
    path = mailbox_at()
    with Store(path) as s:
        s.record_rate_limit("p:a", "rt", 1.0, None, "hit")
        assert s.flush()
    with Store(path) as s:
        assert len(s.rate_limits()) == 1


def test_mailbox_file_and_dir_are_private(tmp_path: Path) -> None:
    path = tmp_path / "team" / "state" / "mailbox.db"
    with Store(path) as s:
        assert s.record_rate_limit("p:a", "rt", 1.0, None, "hit")
        assert mode(path) == 0o600
        assert mode(path.parent) == 0o700
        for extra in ("mailbox.db-wal", "mailbox.db-shm"):
            if (path.parent / extra).exists():
                assert mode(path.parent / extra) == 0o600, extra


# -- many writers at once ----------------------------------------------------------------------------


WRITERS = 50
ROWS = 80  # 50 x 80 = 4000 rate_limit rows and 4000 budget rows


def _writer(path: str, n: int, go: Any, results: Any) -> None:
    try:
        s = Store(Path(path), spool_name=f"writer-{n}")
        s.conn()
        go.wait(30)
        ok = True
        for i in range(ROWS):
            ok &= s.record_rate_limit(f"p:a{n}", "rt", n * 1000 + i, None, f"hit {n} {i}") or s.backend.remote
            ok &= s.record_budget("p", f"p:a{n}", "rt", 0.01, 10, 20, n * 1000 + i) or s.backend.remote
        ok &= s.flush(60)
        s.close()
        results.put((n, ok, ""))
    except BaseException as exc:  # report to the parent instead of dying silently
        results.put((n, False, repr(exc)))


def test_fifty_processes_writing_at_once_lose_nothing(mailbox_at: MailboxAt) -> None:
    path = mailbox_at()
    with Store(path) as first:
        first.conn()
    ctx = multiprocessing.get_context("fork")
    go = ctx.Event()
    results = ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(str(path), n, go, results)) for n in range(WRITERS)]
    for p in procs:
        p.start()
    go.set()
    outcomes = sorted(results.get(timeout=60) for _ in procs)
    for p in procs:
        p.join(30)
    assert [p.exitcode for p in procs] == [0] * WRITERS
    assert outcomes == [(n, True, "") for n in range(WRITERS)]
    with Store(path) as s:
        assert s.query("SELECT count(*) FROM rate_limits")[0][0] == WRITERS * ROWS == 4000
        assert s.query("SELECT count(*) FROM budget")[0][0] == WRITERS * ROWS == 4000
        assert s.query("SELECT count(DISTINCT raw_match) FROM rate_limits")[0][0] == 4000
    spool_dir = path.parent / "spool"
    assert not spool_dir.exists() or not list(spool_dir.glob("*.jsonl"))


# -- locked mailbox: spool and replay -------------------------------------------------------------------


@pytest.fixture
def locked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, sqlite3.Connection]]:
    """A mailbox and a second connection that can hold it with BEGIN EXCLUSIVE."""
    monkeypatch.setattr(backend_sqlite, "BUSY_TIMEOUT_MS", 50)
    monkeypatch.setattr(store, "REPLAY_INTERVAL", 0.0)  # replay on the very next write
    path = tmp_path / "state" / "mailbox.db"
    Store(path).conn().close()
    holder = sqlite3.connect(str(path), isolation_level=None, timeout=5)
    yield path, holder
    if holder.in_transaction:
        holder.execute("ROLLBACK")
    holder.close()


Locked = tuple[Path, sqlite3.Connection]


def test_write_to_locked_mailbox_is_spooled_and_replayed_in_order(locked: Locked) -> None:
    path, holder = locked
    s = Store(path, spool_name="agent-a")
    assert s.record_rate_limit("p:a", "rt", 1.0, 11.0, "first")  # writable: straight in
    holder.execute("BEGIN EXCLUSIVE")
    assert s.record_rate_limit("p:a", "rt", 2.0, 12.0, "second") is False
    assert s.record_budget("p", "p:a", "rt", 0.5, 1, 2, 2.5) is False
    assert s.record_rate_limit("p:a", "rt", 3.0, None, "third; 'quoted' \"x\"\nline") is False
    assert s.spool.exists()
    assert mode(s.spool) == 0o600
    assert mode(s.spool.parent) == 0o700
    spooled = [json.loads(line)[0] for line in s.spool.read_text().splitlines()]
    assert spooled == ["rate_limit", "budget", "rate_limit"]
    holder.execute("COMMIT")
    assert s.record_rate_limit("p:a", "rt", 4.0, None, "fourth")  # the next write replays the spool first
    assert not s.spool.exists()
    rows = s.rate_limits()
    assert [(r["hit_at"], r["raw_match"]) for r in rows] == [
        (1.0, "first"), (2.0, "second"), (3.0, "third; 'quoted' \"x\"\nline"), (4.0, "fourth")]
    assert [r["id"] for r in rows] == [1, 2, 3, 4]  # inserted in the original order
    assert [tuple(r)[1:] for r in s.budget_rows()] == [("p", "p:a", "rt", 0.5, 1, 2, 2.5)]
    s.close()


def test_handled_mark_for_a_spooled_row_applies_after_replay(locked: Locked) -> None:
    path, holder = locked
    s = Store(path, spool_name="agent-a")
    holder.execute("BEGIN EXCLUSIVE")
    assert s.record_rate_limit("p:a", "rt", 100.25, 200.0, "hit") is False
    assert s.mark_handled("p:a", 100.25, 150.5) is False
    holder.execute("COMMIT")
    assert s.replay_spool()
    rows = s.rate_limits("p:a")
    assert [(r["hit_at"], r["handled_at"]) for r in rows] == [(100.25, 150.5)]
    s.close()


def test_a_hit_and_its_scope_are_written_together_and_read_again_replace_the_row(locked: Locked) -> None:
    path, holder = locked
    s = Store(path, spool_name="agent-a")
    assert s.record_hit("p:a", "rt", 100.25, 18000.0, "Session limit reached · Retrying in 5h", "g", None,
                        "record", 18000.0)
    assert s.record_hit("p:a", "rt", 100.25, 17990.0, "You've hit your session limit", "g", "opus", "resume",
                        17990.0, update=True)  # the limit menu of the same limit: its row, not a second
    holder.execute("BEGIN EXCLUSIVE")
    assert s.record_hit("p:a", "rt", 200.5, None, "retrying", "g", None, "record", 0.0) is False
    assert s.record_hit("p:a", "rt", 200.5, 300.0, "the menu", "g", None, "stop", 300.0, update=True) is False
    holder.execute("COMMIT")
    assert s.replay_spool()
    rows = [(r["hit_at"], r["resets_at"], r["raw_match"]) for r in s.rate_limits("p:a")]
    assert rows == [(100.25, 17990.0, "You've hit your session limit"), (200.5, 300.0, "the menu")]
    scope = [tuple(r) for r in s.conn().execute(
        "SELECT hit_at, model, action, until FROM supervisor_limit_scope ORDER BY hit_at")]
    assert scope == [(100.25, "opus", "resume", 17990.0), (200.5, None, "stop", 300.0)]
    s.close()


def test_spool_is_replayed_by_a_new_store_after_a_restart(locked: Locked) -> None:
    path, holder = locked
    s = Store(path, spool_name="agent-a")
    holder.execute("BEGIN EXCLUSIVE")
    assert s.record_rate_limit("p:a", "rt", 1.0, None, "before crash") is False
    s.close()
    holder.execute("COMMIT")
    fresh = Store(path, spool_name="agent-a")
    assert fresh.set_state("p:a", "rt", "running", now=5.0)
    assert [r["raw_match"] for r in fresh.rate_limits()] == ["before crash"]
    assert fresh.agent_state("p:a").state == "running"
    fresh.close()


def test_torn_last_spool_line_is_skipped(mailbox_at: MailboxAt, tmp_path: Path) -> None:
    path = mailbox_at()
    spool = path.parent / "spool" / "agent-a.jsonl"
    spool.parent.mkdir(parents=True)
    spool.write_text(json.dumps(["rate_limit", ["p:a", "rt", 1.0, None, "whole"]]) + '\n["rate_li')
    s = Store(path, spool_name="agent-a")
    s.replay_spool()
    assert s.flush()
    assert [r["raw_match"] for r in s.rate_limits()] == ["whole"]
    assert not s.spool.exists()
    s.close()


# -- group limits ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("scope", "model", "covered"), [
    ("opus", "claude-opus-4-7", True),
    ("Opus", "claude-opus-4-7", True),
    ("claude-opus-4-7", "opus", True),
    ("opus", "claude-sonnet-4-6", False),
    (None, "claude-sonnet-4-6", True),
    ("", None, True),
    ("opus", None, False),
])
def test_model_covered(scope: str | None, model: str | None, covered: bool) -> None:
    assert model_covered(scope, model) is covered


def test_active_group_limits_respect_model_scope_action_handled_and_time(mailbox_at: MailboxAt) -> None:
    with Store(mailbox_at()) as s:
        now = 1000.0
        s.record_hit("p:opus-hit", "rt", 10.0, 2000.0, "opus weekly limit", "anthropic", "opus", "stop", 2000.0)
        s.record_hit("p:record", "rt", 11.0, 2000.0, "retrying", "anthropic", None, "record", 2000.0)
        s.record_hit("p:old", "rt", 12.0, 500.0, "expired", "anthropic", None, "stop", 500.0)
        s.record_hit("p:done", "rt", 13.0, 2000.0, "handled", "anthropic", None, "stop", 2000.0)
        s.mark_handled("p:done", 13.0, 14.0)
        s.record_hit("p:other", "rt", 15.0, 2000.0, "other group", "openai", None, "stop", 2000.0)
        assert s.flush()

        def hits(model: str | None) -> list[str]:
            return [r["agent_id"] for r in s.active_group_limits("anthropic", model, now)]

        assert hits("claude-opus-4-7") == ["p:opus-hit"]
        assert hits("claude-sonnet-4-6") == []
        assert hits(None) == []
        s.record_hit("p:all", "rt", 16.0, 3000.0, "5-hour limit", "anthropic", None, "resume", 3000.0)
        assert s.flush()
        assert sorted(hits("claude-sonnet-4-6")) == ["p:all"]
        assert sorted(hits("claude-opus-4-7")) == ["p:all", "p:opus-hit"]
        assert [r["agent_id"] for r in s.active_group_limits("openai", "gpt-5", now)] == ["p:other"]


def test_group_watchers_lists_live_watchers_of_the_group_except_self(mailbox_at: MailboxAt) -> None:
    with Store(mailbox_at()) as s:
        s.set_state("p:me", "rt", "running", watcher_pid=100, limit_group="g", now=1.0)
        s.set_state("p:peer", "rt", "running", watcher_pid=101, limit_group="g", now=1.0)
        s.set_state("p:waiting", "rt", "rate_limited", watcher_pid=102, limit_group="g", now=1.0)
        s.set_state("p:stopped", "rt", "stopped", watcher_pid=103, limit_group="g", now=1.0)
        s.set_state("p:failed", "rt", "failed", watcher_pid=104, limit_group="g", now=1.0)
        s.set_state("p:nopid", "rt", "running", limit_group="g", now=1.0)
        s.set_state("p:elsewhere", "rt", "running", watcher_pid=105, limit_group="h", now=1.0)
        assert s.flush()
        assert sorted(s.group_watchers("g", exclude="p:me")) == [101, 102]
        s.set_state("p:peer", "rt", "stopped", watcher_pid=101, limit_group="g", now=2.0)
        assert s.flush()
        assert sorted(s.group_watchers("g", exclude="p:me")) == [102]


def test_watchers_on_another_host_are_not_poked_by_pid(mailbox_at: MailboxAt,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    with Store(mailbox_at()) as s:
        s.set_state("p:here", "rt", "running", watcher_pid=101, limit_group="g", now=1.0)
        monkeypatch.setattr(store, "HOST", "another-host")
        s.set_state("p:there", "rt", "running", watcher_pid=102, limit_group="g", now=1.0)
        monkeypatch.undo()
        assert s.flush()
        assert s.group_watchers("g", exclude="p:me") == [101]
        assert s.live_watchers(None, exclude="p:me") == [101]
        assert s.agent_state("p:there").host == "another-host"


def test_shared_schema_is_the_seed_verbatim() -> None:
    import re

    from conftest import UPSTREAM
    from teamctl_supervisor.store.schema import SHARED_SCHEMA

    seed = (UPSTREAM.parent / "seed" / "mailbox.rs.txt").read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(seed) if "pub const SCHEMA" in line)
    end = next(i for i, line in enumerate(seed) if line.lstrip("0123456789").startswith('"#;'))
    body = [re.sub(r"^\d+", "", line) for line in seed[start + 1:end]]  # the page numbers its lines
    assert [x for x in body if x.strip()] == [x for x in SHARED_SCHEMA.splitlines() if x.strip()]

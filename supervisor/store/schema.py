"""The mailbox schema: the one every teamctl program shares, verbatim, and our own tables.

The shared part is copied from teamctl's team_core/mailbox.rs and must not change; pragmas are set by
the opener (store.connect) before this batch runs. Our tables are created, and an older mailbox
gains the columns a newer version of ours added (`own_columns`, `add_column_sql`); the shared
tables are never altered.
"""

from __future__ import annotations

import functools
import re
import sqlite3
from dataclasses import dataclass

#: The mailbox schema shared by every teamctl program (team_core/mailbox.rs), verbatim.
SHARED_SCHEMA = """
-- NOTE: pragmas (journal_mode=WAL, busy_timeout, foreign_keys) are set by
-- the connection opener *before* this batch runs — concurrent openers race
-- if we set them here.

CREATE TABLE IF NOT EXISTS projects (
    id   TEXT PRIMARY KEY,
    name TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS agents (
    id         TEXT PRIMARY KEY,          -- "<project>:<agent>"
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    role       TEXT NOT NULL,
    runtime    TEXT NOT NULL,
    is_manager INTEGER NOT NULL DEFAULT 0,
    reports_to TEXT                        -- short name, resolved within project
);

CREATE INDEX IF NOT EXISTS agents_project_idx ON agents(project_id);

CREATE TABLE IF NOT EXISTS messages (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id   TEXT NOT NULL,
    sender       TEXT NOT NULL,            -- "<project>:<agent>" or "user:<handle>" or "cli"
    recipient    TEXT NOT NULL,            -- "<project>:<agent>" or "channel:<project>:<name>"
    text         TEXT NOT NULL,
    thread_id    TEXT,
    sent_at      REAL NOT NULL,
    delivered_at REAL,
    acked_at     REAL
);

CREATE INDEX IF NOT EXISTS messages_recipient_idx
    ON messages(recipient, acked_at);
CREATE INDEX IF NOT EXISTS messages_project_idx
    ON messages(project_id, sent_at);

-- Channels + subscriptions + per-agent ACLs.
CREATE TABLE IF NOT EXISTS channels (
    id         TEXT PRIMARY KEY,               -- "<project>:<name>"
    project_id TEXT NOT NULL,
    name       TEXT NOT NULL,
    wildcard   INTEGER NOT NULL DEFAULT 0       -- 1 iff members = "*"
);

CREATE TABLE IF NOT EXISTS channel_members (
    channel_id TEXT NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    agent_id   TEXT NOT NULL,
    PRIMARY KEY (channel_id, agent_id)
);

CREATE INDEX IF NOT EXISTS channel_members_agent_idx
    ON channel_members(agent_id);

CREATE TABLE IF NOT EXISTS agent_acls (
    agent_id        TEXT PRIMARY KEY REFERENCES agents(id) ON DELETE CASCADE,
    can_dm_json     TEXT NOT NULL DEFAULT '[]',    -- ["dev","critic"]
    can_bcast_json  TEXT NOT NULL DEFAULT '[]'     -- ["product","all"]
);

-- Inter-project manager bridges.
CREATE TABLE IF NOT EXISTS bridges (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    from_agent   TEXT NOT NULL,             -- "<project>:<agent>", must be a manager
    to_agent     TEXT NOT NULL,             -- "<project>:<agent>", must be a manager
    topic        TEXT NOT NULL,
    opened_by    TEXT NOT NULL,             -- "user:<handle>" or "cli"
    opened_at    REAL NOT NULL,
    expires_at   REAL NOT NULL,
    closed_at    REAL
);

CREATE INDEX IF NOT EXISTS bridges_open_idx
    ON bridges(expires_at, closed_at);

-- Human-in-the-loop permission fabric.
CREATE TABLE IF NOT EXISTS approvals (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id     TEXT NOT NULL,
    agent_id       TEXT NOT NULL,
    action         TEXT NOT NULL,          -- "publish", "deploy", ...
    scope_tag      TEXT,                   -- optional narrower tag
    summary        TEXT NOT NULL,
    payload_json   TEXT,
    status         TEXT NOT NULL,          -- pending | approved | denied | expired
    requested_at   REAL NOT NULL,
    decided_at     REAL,
    decided_by     TEXT,
    decision_note  TEXT,
    expires_at     REAL NOT NULL
);

CREATE INDEX IF NOT EXISTS approvals_pending_idx
    ON approvals(status, expires_at);

-- Budget ledger. Rows are appended by interface adapters and by runtime
-- cost parsers. `teamctl budget` aggregates per project/day.
CREATE TABLE IF NOT EXISTS budget (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id  TEXT NOT NULL,
    agent_id    TEXT,
    runtime     TEXT,
    usd         REAL NOT NULL DEFAULT 0,
    input_tok   INTEGER NOT NULL DEFAULT 0,
    output_tok  INTEGER NOT NULL DEFAULT 0,
    observed_at REAL NOT NULL
);

CREATE INDEX IF NOT EXISTS budget_project_day_idx
    ON budget(project_id, observed_at);

-- Rate-limit events. Written by `teamctl rl-watch` whenever a runtime
-- emits a rate-limit signature. Hooks (notify, webhook, run) run off these
-- rows; the wrapper loop sleeps until `resets_at` before respawning.
CREATE TABLE IF NOT EXISTS rate_limits (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    agent_id    TEXT NOT NULL,
    runtime     TEXT NOT NULL,
    hit_at      REAL NOT NULL,
    resets_at   REAL,                  -- nullable: sometimes we can't parse
    raw_match   TEXT NOT NULL,
    handled_at  REAL
);

CREATE INDEX IF NOT EXISTS rate_limits_agent_idx
    ON rate_limits(agent_id, hit_at);
"""

#: Our own table: each agent's live state, written by its watcher, read by `teamctl status`.
OWN_SCHEMA = """
CREATE TABLE IF NOT EXISTS supervisor_agent_state (
    agent_id     TEXT PRIMARY KEY,
    runtime      TEXT NOT NULL,
    state        TEXT NOT NULL,
    until        REAL,
    detail       TEXT,
    watcher_pid  INTEGER,
    pid          INTEGER,
    started_at   REAL,
    restarts     INTEGER NOT NULL DEFAULT 0,
    last_exit    INTEGER,
    limit_group  TEXT,
    model        TEXT,
    updated_at   REAL NOT NULL,
    host         TEXT                      -- where its watcher runs: a pid means something there only
);

-- Which limit group (and model) a rate-limit hit covers, and until when its agents wait.
CREATE TABLE IF NOT EXISTS supervisor_limit_scope (
    agent_id     TEXT NOT NULL,
    hit_at       REAL NOT NULL,
    limit_group  TEXT NOT NULL,
    model        TEXT,
    action       TEXT NOT NULL,
    until        REAL NOT NULL,
    PRIMARY KEY (agent_id, hit_at)
);
CREATE INDEX IF NOT EXISTS supervisor_limit_scope_group_idx
    ON supervisor_limit_scope(limit_group, until);

-- Budget alerts already sent: one warn and one cap chain per project per local day.
CREATE TABLE IF NOT EXISTS supervisor_budget_alerts (
    project_id  TEXT NOT NULL,
    day         TEXT NOT NULL,
    kind        TEXT NOT NULL,
    sent_at     REAL NOT NULL,
    PRIMARY KEY (project_id, day, kind)
);

-- Limit-hit alerts already sent, one per group hit: a claim finds any row of its group whose reset
-- is within the claim window of its own (each agent parses the account's reset a little apart).
CREATE TABLE IF NOT EXISTS supervisor_hit_alerts (
    limit_group TEXT NOT NULL,
    resets_at   REAL,                      -- NULL: the reset was not parsed; claimed_at stands for it
    claimed_at  REAL NOT NULL,
    agent_id    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS supervisor_hit_alerts_group_idx
    ON supervisor_hit_alerts(limit_group, resets_at);

-- Usage before the hit: how much of a limit window a runtime said was used (store/usage.py).
CREATE TABLE IF NOT EXISTS supervisor_usage_windows (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    runtime      TEXT NOT NULL,
    agent_id     TEXT NOT NULL,
    window       TEXT NOT NULL,            -- "5h", "weekly", ...
    used_percent REAL,                     -- NULL: only "approaching"
    resets_at    REAL,
    seen_at      REAL NOT NULL,
    source       TEXT NOT NULL DEFAULT 'screen'
);
CREATE INDEX IF NOT EXISTS supervisor_usage_windows_agent_idx
    ON supervisor_usage_windows(agent_id, window, seen_at);

-- A watcher's sign of life for the other hosts (its pid means nothing there): `status` elsewhere
-- shows its agent `lost` after three silent intervals. Written on a PostgreSQL mailbox only.
CREATE TABLE IF NOT EXISTS supervisor_heartbeats (
    agent_id    TEXT PRIMARY KEY,
    host        TEXT,
    beat_at     REAL NOT NULL
);
"""

SHARED_TABLES = ("projects", "agents", "messages", "channels", "channel_members", "agent_acls", "bridges",
                 "approvals", "budget", "rate_limits")
OWN_TABLES = ("supervisor_agent_state", "supervisor_limit_scope", "supervisor_budget_alerts",
              "supervisor_usage_windows", "supervisor_heartbeats", "supervisor_hit_alerts")

#: Our own table of writes already applied to a PostgreSQL mailbox: a replay after a timeout (the
#: commit may have landed, its answer did not) skips them instead of adding a second row.
APPLIED_SCHEMA = """
CREATE TABLE IF NOT EXISTS supervisor_applied_writes (
    write_id    TEXT PRIMARY KEY,
    applied_at  DOUBLE PRECISION NOT NULL
);
"""

#: SQLite words and their PostgreSQL equivalents: times stay 8-byte floats (a 4-byte `real` would
#: round an epoch by minutes), AUTOINCREMENT becomes an identity, `window` (reserved there) is quoted.
#: Sources, compiled by re's own cache on first use: a watcher on the SQLite mailbox never translates.
_TO_POSTGRES = (
    (r"\bINTEGER PRIMARY KEY AUTOINCREMENT\b", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"),
    (r"\bREAL\b", "DOUBLE PRECISION"),
    (r"\bINTEGER\b", "BIGINT"),
    (r"(?<![\"\w])window(?![\"\w])", '"window"'),
)


def postgres_type(sqlite_sql: str) -> str:
    """The schema text (or a column type) in PostgreSQL's words, the same tables and columns."""
    for pattern, replacement in _TO_POSTGRES:
        sqlite_sql = re.sub(pattern, replacement, sqlite_sql)
    return sqlite_sql


def postgres_schema() -> str:
    return postgres_type(SHARED_SCHEMA + OWN_SCHEMA) + APPLIED_SCHEMA


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    notnull: bool
    default: str | None


@functools.lru_cache(maxsize=1)
def own_columns() -> dict[str, tuple[Column, ...]]:
    """Our tables' columns as OWN_SCHEMA has them (read from an in-memory SQLite, so the schema text
    stays the one source): what an older mailbox is upgraded to."""
    conn = sqlite3.connect(":memory:")
    try:
        conn.executescript(OWN_SCHEMA)
        return {t: tuple(Column(r[1], r[2], bool(r[3]), r[4]) for r in conn.execute(f"PRAGMA table_info({t})"))
                for t in OWN_TABLES}
    finally:
        conn.close()


def add_column_sql(table: str, col: Column, postgres: bool = False) -> str:
    """ALTER TABLE for a column an older mailbox lacks. NOT NULL needs a default for the rows already
    there (SQLite refuses it otherwise): the declared one, else 0 or ''."""
    name = f'"{col.name}"' if postgres else col.name
    ctype = postgres_type(col.type) if postgres else col.type
    sql = f"ALTER TABLE {table} ADD COLUMN {name} {ctype}"
    if col.notnull:
        fallback = "0" if col.type in ("INTEGER", "REAL") else "''"
        sql += f" NOT NULL DEFAULT {col.default if col.default is not None else fallback}"
    elif col.default is not None:
        sql += f" DEFAULT {col.default}"
    return sql

"""Multi-host figure: `teamctl status --json` of 3 hosts x 50 agents on one private PostgreSQL
server, as a ratio to a single-host `status` of 150 agents on the SQLite mailbox (the default),
measured in interleaved pairs in the same run. Rows are inserted directly (no agent runs): host a's
50 rows name watcher pids that are gone (status checks them here, as one host does for all 150),
hosts b and c's 100 rows are judged by their heartbeats. No ssh is needed: status reads the shared
database. Goal: the 3-host status under 2 s.

Run: .venv/bin/python bench/hosts_status.py [PAIRS]
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from pairs import PAIRS, interleave, ratio_text, spread  # noqa: E402
from pgcluster import Cluster  # noqa: E402
from teamctl_supervisor.store import layout  # noqa: E402
from teamctl_supervisor.store.broker import POINTER, write_pointer  # noqa: E402
from teamctl_supervisor.store.mailbox import HOST, Store  # noqa: E402
from teamctl_supervisor.store.queries import WRITES  # noqa: E402
from watchkit import fake_env, make_team  # noqa: E402

PER_HOST = 50
GONE_PID = 2**22 + 12345  # above the usual pid_max of 4194304: never a live process


def team(tmp: Path, name: str, hosts: list[str]) -> tuple[Path, list[tuple[str, str]]]:
    """A compose tree of len(hosts) x PER_HOST agents, each `(agent id, host)`."""
    placed = [(f"w{h}{i:02d}", host) for h, host in enumerate(hosts) for i in range(PER_HOST)]
    extra = "".join(f"  {h}: {{ssh: deploy@{h}.invalid}}\n" for h in sorted(set(hosts) - {HOST}))
    root = make_team(tmp / name, {a: (f"    host: {h}\n" if h != HOST else "") for a, h in placed},
                     compose_extra=f"hosts:\n{extra}" if extra else "")
    return root, [(f"p:{a}", h) for a, h in placed]


def fill(st: Store, agents: list[tuple[str, str]]) -> None:
    now = time.time()
    be = st.backend
    with be.transaction() as conn:
        for agent, host in agents:
            be.execute(conn, WRITES["state"], [agent, "claude-code", "running", None, None, GONE_PID, GONE_PID + 1,
                                               now - 600, 0, None, None, None, now, host])
            if host != HOST:
                be.execute(conn, WRITES["heartbeat"], [agent, host, now])


def timed_status(root: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "teamctl_supervisor", "status", "--json", "--root", str(root)],
                          capture_output=True, text=True, timeout=120, env=env, cwd=root.parent)
    took = time.perf_counter() - start
    rows = json.loads(done.stdout)
    assert len(rows) == 3 * PER_HOST, done.stderr
    return took


def main() -> None:
    pairs = int(sys.argv[1]) if len(sys.argv) > 1 else PAIRS
    tmp = Path(tempfile.mkdtemp(prefix="bench-hosts-status-"))
    cluster = Cluster()
    cluster.start()
    try:
        url = cluster.fresh_url()
        multi, multi_agents = team(tmp, "multi", [HOST, "b", "c"])
        compose = multi / "team-compose.yaml"
        compose.write_text(compose.read_text().replace(
            "broker: {type: sqlite, path: state/mailbox.db}", "broker: {type: postgres, url_env: TEAMCTL_PG_URL}"))
        write_pointer(multi / "state" / POINTER, None, "TEAMCTL_PG_URL")
        env = {**fake_env(multi, TEAMCTL_PG_URL=url), "TEAMCTL_HOST": ""}
        os.environ["TEAMCTL_PG_URL"] = url
        with Store(multi / "state" / POINTER) as st:
            fill(st, multi_agents)
        single, single_agents = team(tmp, "single", [HOST, HOST, HOST])
        with Store(layout.mailbox(single / "state")) as st:
            fill(st, single_agents)
        rows = json.loads(subprocess.run([sys.executable, "-m", "teamctl_supervisor", "status", "--json", "--root",
                                          str(multi)], capture_output=True, text=True, env=env).stdout)
        assert {r["host"] for r in rows} == {HOST, "b", "c"} and sum(r["remote"] for r in rows) == 2 * PER_HOST
        pr = interleave(lambda: timed_status(multi, env), lambda: timed_status(single, env), pairs)
    finally:
        cluster.destroy()
    print(f"status, 3 hosts x {PER_HOST} agents (PostgreSQL): {spread(pr.a, '{:.3f}')} s;"
          f" baseline 1 host x {3 * PER_HOST} (SQLite): {spread(pr.b, '{:.3f}')} s;"
          f" ratio {ratio_text(pr)}; goal < 2 s {'ok' if statistics.median(pr.a) < 2 else 'MISSED'}")


if __name__ == "__main__":
    main()

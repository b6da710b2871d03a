"""Multi-host figure: from a limit hit seen by a watcher on "host a" until its limit-group mate on
"host b" is paused, both team roots on one private PostgreSQL server. Seconds from the hit row's
hit_at to the mate's paused state row (one machine, one clock); goal < 1 s.

Run: .venv/bin/python bench/hosts_pause.py [RUNS]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from pgcluster import Cluster  # noqa: E402
from teamctl_supervisor.store.broker import POINTER, write_pointer  # noqa: E402
from teamctl_supervisor.store.mailbox import Store  # noqa: E402
from watchkit import TeamWatcher, fake_env, make_team, wait_for  # noqa: E402


def host(tmp: Path, name: str, agent: str) -> Path:
    team = make_team(tmp / name, {agent: "    limit_group: acct\n"})
    compose = team / "team-compose.yaml"
    compose.write_text(compose.read_text().replace(
        "broker: {type: sqlite, path: state/mailbox.db}", "broker: {type: postgres, url_env: TEAMCTL_PG_URL}"))
    return team


def one(cluster: Cluster) -> float:
    tmp = Path(tempfile.mkdtemp())
    url = cluster.fresh_url()
    a, b = host(tmp, "a", "hit"), host(tmp, "b", "mate")
    write_pointer(tmp / "desk" / POINTER, url, None)
    desk = Store(tmp / "desk" / POINTER)
    watchers = [TeamWatcher(b, "p:mate", ["print:up", "hang"],
                            env=fake_env(b, TEAMCTL_PG_URL=url, FAKE_RUNS_FILE=str(b / "runs")))]
    try:
        wait_for(lambda: (s := desk.agent_state("p:mate")) and s.state == "running", timeout=30)
        watchers.append(TeamWatcher(a, "p:hit", ["print:usage limit reached · resets in 2h", "hang"],
                                    env=fake_env(a, TEAMCTL_PG_URL=url, FAKE_RUNS_FILE=str(a / "runs"))))
        wait_for(lambda: (s := desk.agent_state("p:mate")) and s.state == "rate_limited", timeout=40)
        return desk.agent_state("p:mate").updated_at - desk.query("SELECT hit_at FROM rate_limits")[0][0]
    finally:
        for w in watchers:
            w.close()
        desk.close()


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    cluster = Cluster()
    cluster.start()
    try:
        figures = [one(cluster) for _ in range(runs)]
    finally:
        cluster.destroy()
    print(f"hit on host a -> paused on host b: median {statistics.median(figures):.3f} s"
          f" (min {min(figures):.3f}, max {max(figures):.3f}) over {runs} runs; goal < 1 s")


if __name__ == "__main__":
    main()

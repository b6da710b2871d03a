"""Each of upstream's example trees in shared/upstream-examples, unchanged (its READMEs' `mkdir`
done), validates and comes up with stand-ins for the CLIs; `wake` and `restart` with no name reach
every agent."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import psutil
import pytest
from conftest import EXAMPLE_DIRS, FakeBin, alive, copy_example, tree_pids, wait_for
from teamctl_supervisor.cli import main
from teamctl_supervisor.store.mailbox import Store
from teamctl_supervisor.team.compose import load_team


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEAMCTL_ROOT", raising=False)


class Tree:
    """One copied example driven through the real entry point; ends only what it started."""

    def __init__(self, root: Path, capsys: pytest.CaptureFixture[str], fake: FakeBin) -> None:
        self.root, self.capsys, self.fake = root, capsys, fake
        self.seen: set[int] = set()

    def run(self, *args: str) -> tuple[int, str]:
        self.capsys.readouterr()
        code = main([*args, "-C", str(self.root)])
        out = self.capsys.readouterr()
        return code, out.out + out.err

    def states(self) -> dict:
        db = self.root / ".team" / "state" / "mailbox.db"
        if not db.exists():
            return {}
        with Store(db) as st:
            return st.agent_states()

    def remember(self) -> None:
        for row in self.states().values():
            for pid in (row.watcher_pid, row.pid):
                if pid:
                    self.seen |= tree_pids(pid) or {pid}

    def leftovers(self) -> list[int]:
        return [p for p in self.seen | set(self.fake.pids()) if alive(p) and _ours(p)]

    def cleanup(self) -> None:
        self.remember()
        for pid in self.leftovers():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def _ours(pid: int) -> bool:
    try:
        cmd = " ".join(psutil.Process(pid).cmdline())
    except psutil.Error:
        return False
    return "rl-watch" in cmd or "fake_agent.py" in cmd


@pytest.fixture
def tree(request: pytest.FixtureRequest, tmp_path: Path, capsys: pytest.CaptureFixture[str],
         fake_bin: FakeBin) -> Tree:
    name, runtimes = request.param
    t = Tree(copy_example(name, tmp_path, runtimes=runtimes), capsys, fake_bin)
    yield t
    t.cleanup()


# hello-team comes up in test_team.py (tmux and process); startup-team there only in part.
@pytest.mark.parametrize("tree", [(n, False) for n in EXAMPLE_DIRS if n != "hello-team"], indirect=True,
                         ids=[n for n in EXAMPLE_DIRS if n != "hello-team"])
def test_every_upstream_tree_validates_and_comes_up_unchanged(tree: Tree) -> None:
    agents = {a.id for a in load_team(tree.root / ".team").agents}
    code, out = tree.run("validate")
    assert code == 0 and "ok: " in out, out
    assert "not found on PATH" not in out  # the stand-ins answer for every runtime's binary
    code, out = tree.run("up", "--backend", "process")
    assert code == 0, out
    for agent_id in agents:
        assert f"{agent_id}: started (process " in out, out
    wait_for(lambda: {i for i, r in tree.states().items() if r.state == "running" and r.pid} == agents,
             timeout=30, what="every agent running")
    tree.remember()
    code, out = tree.run("down")
    assert code == 0, out
    assert tree.leftovers() == []
    assert {r.state for r in tree.states().values()} == {"stopped"}


@pytest.mark.parametrize("tree", [("hello-team", True)], indirect=True, ids=["hello-team"])
def test_wake_and_restart_with_no_name_reach_every_agent(tree: Tree) -> None:
    # Only the manager hits the limit; the dev waits on the shared group, paused before or after
    # its first start (a race the test must not depend on: a dev that hit on its first run after
    # the wake would pause the group again).
    tree.fake.steps("hello:manager", "1@print:usage limit reached, resets in 300s", "print:working", "hang")
    tree.fake.steps("hello:dev", "print:working", "hang")
    assert tree.run("up", "--backend", "process")[0] == 0
    ids = {"hello:manager", "hello:dev"}
    wait_for(lambda: {i for i, r in tree.states().items() if r.state == "rate_limited"} == ids,
             what="both agents waiting out the limit")
    runs_before = {i: tree.fake.runs(i) for i in ids}
    code, out = tree.run("wake")
    assert code == 0, out
    for agent_id in ids:
        assert f"{agent_id}: woken (was rate-limited until" in out
    wait_for(lambda: all(r.state == "running" and r.pid for r in tree.states().values())
             and all(tree.fake.runs(i) > runs_before[i] for i in ids), what="both respawned")

    before = {i: r.watcher_pid for i, r in tree.states().items()}
    tree.remember()
    t0 = time.time()
    code, out = tree.run("restart", "--backend", "process")
    assert code == 0, out
    for agent_id in ids:
        assert f"{agent_id}: stopped" in out and f"{agent_id}: started (process " in out
    after = tree.states()
    assert all(after[i].watcher_pid != before[i] and after[i].updated_at >= t0 - 1 for i in ids)
    assert not any(alive(before[i]) for i in ids)
    tree.remember()
    assert tree.run("down")[0] == 0
    assert tree.leftovers() == []

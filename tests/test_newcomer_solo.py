"""A root that `teamctl rl-watch --root DIR` left (a mailbox, no compose tree) is one the read-only
commands and `wake` work on; and on a team never started, the read-only commands create nothing."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import copy_example
from teamctl_supervisor.cli import main
from watchkit import start, state, wait_for


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEAMCTL_ROOT", raising=False)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out + out.err


def test_read_only_commands_and_wake_work_on_a_solo_root(root: Path, watchers: list,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    steps = ["1@print:session cost: $0.25 (1,000 in, 2,000 out)", "1@print:usage limit reached · resets in 5m",
             "print:working", "hang"]
    start(watchers, root, steps)
    wait_for(lambda: (s := state(root)) is not None and s["state"] == "rate_limited", what="solo agent waiting")
    assert not list(root.rglob("team-compose.yaml"))
    d = str(root)

    code, out = run(capsys, "status", "-C", d)
    assert code == 0, out
    assert "solo:dev" in out and "rate-limited until" in out and "$0.25" in out
    code, out = run(capsys, "status", "--json", "-C", d)
    [row] = json.loads(out[out.index("["):out.rindex("]") + 1])
    assert row["id"] == "solo:dev" and row["runtime"] == "fake" and row["watcher_pid"] == watchers[0].proc.pid
    code, out = run(capsys, "logs", "dev", "-C", d)
    assert code == 0 and "usage limit reached · resets in 5m" in out
    code, out = run(capsys, "logs", "solo:dev", "--supervisor", "-C", d)
    assert code == 0 and "state rate_limited" in out
    code, out = run(capsys, "rate-limits", "-C", d)
    assert code == 0 and "solo:dev" in out and "usage limit reached" in out
    code, out = run(capsys, "budget", "--json", "-C", d)
    assert code == 0, out
    [spend] = json.loads(out)
    assert spend["project"] == "solo" and spend["usd"] == 0.25

    code, out = run(capsys, "wake", "-C", d)  # no name: every agent the mailbox knows
    assert code == 0, out
    assert "solo:dev: woken (was rate-limited until" in out
    wait_for(lambda: (s := state(root)) is not None and s["state"] == "running" and s["restarts"] >= 1,
             what="solo agent respawned after wake")
    # the supervisor log gives times as local clock times, never raw epochs such as `until 1796160093`
    log = (root / "state" / "logs" / "solo-dev.supervisor.log").read_text()
    assert "state rate_limited until " in log
    assert not re.search(r"(?<![\d.:-])1[0-9]{9}(?:\.[0-9]+)?(?![\d:])", log), log


def test_solo_root_found_through_teamctl_root_and_the_current_directory(
        root: Path, watchers: list, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    start(watchers, root, ["print:ready", "hang"])
    wait_for(lambda: (s := state(root)) is not None and s["state"] == "running", what="solo agent running")
    monkeypatch.setenv("TEAMCTL_ROOT", str(root))
    code, out = run(capsys, "status")
    assert code == 0 and "solo:dev" in out and "running" in out
    monkeypatch.delenv("TEAMCTL_ROOT")
    monkeypatch.chdir(root)
    code, out = run(capsys, "wake", "dev")
    assert code == 0 and "solo:dev: not waiting (running)" in out
    # up still needs a compose tree: a solo root has no argv to start
    code, out = run(capsys, "up", "--backend", "process")
    assert code == 2 and "no compose tree found" in out


def test_a_root_with_neither_compose_tree_nor_mailbox_is_still_refused(tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    for cmd in ("status", "rate-limits", "wake"):
        code, out = run(capsys, cmd, "-C", str(tmp_path))
        assert code == 2 and "no team-compose.yaml there" in out, (cmd, out)
    code, out = run(capsys, "budget", "-C", str(tmp_path))  # in the same words as the others
    assert code == 2 and "no team-compose.yaml there" in out and "`teamctl init`" in out
    assert not (tmp_path / "state").exists()


def test_read_only_commands_on_a_team_never_started_create_nothing(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    root = copy_example("hello-team", tmp_path)
    d = str(root)
    code, out = run(capsys, "status", "-C", d)
    assert code == 0 and "hello:dev" in out and "not started" in out
    assert run(capsys, "status", "--json", "-C", d)[0] == 0
    code, out = run(capsys, "logs", "dev", "-C", d)
    assert code == 0 and "no output yet" in out
    code, out = run(capsys, "rate-limits", "-C", d)
    assert code == 0 and "no rate-limit hits" in out
    code, out = run(capsys, "budget", "-C", d)
    assert code == 0 and "(no spend recorded)" in out
    code, out = run(capsys, "wake", "-C", d)
    assert code == 1 and "hello:dev: not running" in out
    assert not (root / ".team" / "state").exists()
    assert not list(root.rglob("mailbox.db*"))

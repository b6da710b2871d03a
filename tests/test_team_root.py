"""A team is its root: two clones of one repo (same project names, same tmux_prefix) on one tmux
server run side by side. Sessions carry upstream's tags (@teamctl, @teamctl-project,
@teamctl-agent, @teamctl-root); up, down, status, wake and restart act on their own team only."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import FakeBin, copy_example, wait_for
from teamctl_supervisor.team.backends import tmux as tmux_backend
from test_team import Team


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEAMCTL_ROOT", raising=False)


@pytest.fixture
def clones(tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_bin: FakeBin) -> tuple[Team, Team]:
    a = Team(copy_example("hello-team", tmp_path / "clone-a"), capsys, fake_bin)
    b = Team(copy_example("hello-team", tmp_path / "clone-b"), capsys, fake_bin)
    yield a, b
    for team in (a, b):
        team.run("down", "--timeout", "3")
        team.cleanup()


def _tags() -> dict[str, tmux_backend.Session]:
    return tmux_backend.listing() or {}


def _running(team: Team) -> set[str]:
    return {i for i, s in team.status().items() if s["state"] == "running"}


def test_two_clones_of_one_repo_run_side_by_side(clones: tuple[Team, Team], tmux_socket: str) -> None:
    a, b = clones
    code, out = a.run("up")
    assert code == 0, out
    wait_for(lambda: _running(a) == {"hello:manager", "hello:dev"}, 20)
    tagged = {s.name: s for s in _tags().values() if s.tagged}
    assert tagged["a-hello-dev"].project == "hello" and tagged["a-hello-dev"].agent == "dev"
    assert tagged["a-hello-dev"].root == str(a.root / ".team")

    code, out = b.run("up")
    assert code == 0, out
    assert "already running" not in out and "started (tmux session a-hello-dev-" in out
    wait_for(lambda: _running(b) == {"hello:manager", "hello:dev"}, 20)
    roots = sorted(s.root for s in _tags().values() if s.tagged and s.agent == "dev")
    assert roots == sorted([str(a.root / ".team"), str(b.root / ".team")])
    a_watchers = {s["watcher_pid"] for s in a.status().values()}
    assert a_watchers.isdisjoint({s["watcher_pid"] for s in b.status().values()})
    assert b.status()["hello:dev"]["session"].startswith("a-hello-dev-")
    assert a.status()["hello:dev"]["session"] == "a-hello-dev"

    code, out = b.run("wake")  # nothing waits: each team reports its own agents, A is untouched
    assert "not waiting" in out
    code, out = b.run("restart", "dev")
    assert code == 0, out
    assert {s["watcher_pid"] for s in a.status().values()} == a_watchers

    code, out = b.run("down")
    assert code == 0, out
    assert _running(b) == set()
    assert _running(a) == {"hello:manager", "hello:dev"}
    assert {s["watcher_pid"] for s in a.status().values()} == a_watchers
    assert {s.name for s in _tags().values() if s.tagged} == {"a-hello-manager", "a-hello-dev"}
    code, out = a.run("down")
    assert code == 0 and _tags() == {}


def test_an_untagged_session_of_the_old_prefix_is_still_found(clones: tuple[Team, Team],
                                                              tmux_socket: str) -> None:
    """A session an older build made (prefix "t-", no tags) is this team's when its watcher was
    started for this root: `up` does not start a second, `down` ends it; another root's is not ours."""
    a, b = clones
    code, out = a.run("up", "dev")
    assert code == 0, out
    wait_for(lambda: "hello:dev" in _running(a), 20)
    # what an older build left: upstream's name with our old default prefix, and no tags
    tmux_backend.tmux("rename-session", "-t", "=a-hello-dev", "t-hello-dev")
    for key in ("@teamctl", "@teamctl-project", "@teamctl-agent", "@teamctl-root"):
        tmux_backend.tmux("set-option", "-u", "-t", "=t-hello-dev:", key)
    assert not _tags()["t-hello-dev"].tagged
    assert a.status()["hello:dev"]["session"] == "t-hello-dev"
    code, out = b.run("up", "dev")  # the other clone: t-hello-dev is not its session
    assert code == 0 and "started" in out and "already running" not in out
    code, out = a.run("up", "dev")
    assert "already running (tmux session t-hello-dev)" in out
    code, out = a.run("down", "dev")
    assert code == 0, out
    assert "t-hello-dev" not in _tags()
    assert "hello:dev" in _running(b)


def test_tags_are_upstreams_option_names(tmp_path: Path, tmux_socket: str) -> None:
    name = "a-tagproj-x"
    tmux_backend.new_session(name, tmp_path, ["sleep", "600"], {})
    try:
        tmux_backend.tag_session(name, "tagproj", "x", "/r;oot/.team")
        shown = subprocess.run(tmux_backend.command("show-options", "-t", name), capture_output=True,
                               text=True, check=True).stdout
        for key in ("@teamctl 1", "@teamctl-project tagproj", "@teamctl-agent x", '@teamctl-root "/r;oot/.team"'):
            assert key in shown
    finally:
        tmux_backend.kill_session(name)

"""One agent, one watcher (issue 13 items 1, 2) and a stopped process shown as such (item 14)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from reliakit import hanging_team, kill_all, team_procs, teamctl, watchers_of
from watchkit import fake_env, wait_for


@pytest.fixture
def cleanup():
    teams: list[Path] = []
    yield teams
    for team in teams:
        kill_all(team_procs(team))


def _status(team: Path) -> dict[str, dict]:
    out = teamctl(team, "status", "--json")
    assert out.returncode == 0, out.stderr
    return {s["id"]: s for s in json.loads(out.stdout)}


def test_two_ups_at_once_start_one_watcher_per_agent_and_down_leaves_nothing(tmp_path, cleanup):
    team = hanging_team(tmp_path, 4)
    cleanup.append(team)
    argv = [sys.executable, "-m", "teamctl_supervisor", "up", "--backend", "process", "-C", str(team)]
    ups = [subprocess.Popen(argv, env=fake_env(team), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
           for _ in range(2)]
    outs = [u.communicate(timeout=60)[0] for u in ups]
    assert [u.returncode for u in ups] == [0, 0], outs
    wait_for(lambda: all(s["state"] == "running" for s in _status(team).values()), what="all running")
    for i in range(4):
        assert len(watchers_of(team, f"p:a{i}")) == 1, f"p:a{i}: {outs}"
    runtimes = [p for p in team_procs(team) if "rl-watch" not in p.cmdline()]
    assert len(runtimes) == 4
    done = teamctl(team, "down")
    assert done.returncode == 0, done.stdout + done.stderr
    assert team_procs(team) == []  # at once: down returns only when nothing is left


def test_down_right_after_up_leaves_nothing_running(tmp_path, cleanup):
    team = hanging_team(tmp_path, 6)
    cleanup.append(team)
    argv = [sys.executable, "-m", "teamctl_supervisor", "up", "--backend", "process", "-C", str(team)]
    up = subprocess.Popen(argv, env=fake_env(team), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(lambda: team_procs(team), what="the first watcher started")
        done = teamctl(team, "down")
        assert done.returncode == 0, done.stdout + done.stderr
        up.communicate(timeout=60)
        assert team_procs(team) == []
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()


def test_a_watcher_refuses_to_start_while_another_holds_the_agents_lock(tmp_path, cleanup):
    team = hanging_team(tmp_path, 1)
    cleanup.append(team)
    assert teamctl(team, "up", "--backend", "process").returncode == 0
    wait_for(lambda: _status(team)["p:a0"]["state"] == "running", what="running")
    second = subprocess.run([sys.executable, "-m", "teamctl_supervisor", "rl-watch", "p:a0", "--root", str(team)],
                            env=fake_env(team), capture_output=True, text=True, timeout=30)
    assert second.returncode == 1
    assert "already has a watcher" in second.stderr and "a0.lock" in second.stderr
    assert len(watchers_of(team, "p:a0")) == 1
    assert teamctl(team, "down").returncode == 0
    assert team_procs(team) == []


def test_a_second_up_on_tmux_is_not_an_error_for_agents_running_fine(tmp_path, cleanup, tmux_socket):
    team = hanging_team(tmp_path, 3)
    cleanup.append(team)
    argv = [sys.executable, "-m", "teamctl_supervisor", "up", "--backend", "tmux", "-C", str(team)]
    ups = [subprocess.Popen(argv, env=fake_env(team), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
           for _ in range(2)]
    outs = [u.communicate(timeout=60)[0] for u in ups]
    assert [u.returncode for u in ups] == [0, 0], outs
    again = teamctl(team, "up", "--backend", "tmux")
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.count("already running") == 3
    wait_for(lambda: all(s["state"] == "running" for s in _status(team).values()), what="all running")
    assert all(len(watchers_of(team, f"p:a{i}")) == 1 for i in range(3))
    assert teamctl(team, "down").returncode == 0
    assert team_procs(team) == []


@pytest.mark.parametrize("who", ["runtime", "watcher"])
def test_a_sigstopped_process_shows_as_stopped_by_signal(tmp_path, cleanup, who):
    team = hanging_team(tmp_path, 1)
    cleanup.append(team)
    assert teamctl(team, "up", "--backend", "process").returncode == 0
    row = wait_for(lambda: (s := _status(team)["p:a0"])["state"] == "running" and s["pid"] and s, what="running")
    proc = psutil.Process(row["pid"] if who == "runtime" else row["watcher_pid"])
    proc.send_signal(signal.SIGSTOP)
    try:
        wait_for(lambda: proc.status() == psutil.STATUS_STOPPED, what="stopped")
        s = _status(team)["p:a0"]
        assert s["text"] == "running (stopped by signal)" and s["stopped_by_signal"] == [who]
        table = teamctl(team, "status").stdout
        assert "running (stopped by signal)" in table
    finally:
        proc.send_signal(signal.SIGCONT)
    wait_for(lambda: _status(team)["p:a0"]["stopped_by_signal"] == [], what="running again")
    assert teamctl(team, "down").returncode == 0

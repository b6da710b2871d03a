"""The tmux and process backends, and the display helpers of supervisor/team/report.py."""

from __future__ import annotations

import json
import os
import stat
import sys
from datetime import datetime
from pathlib import Path

import pytest
from conftest import wait_for
from teamctl_supervisor.store.mailbox import AgentRow
from teamctl_supervisor.team import ops as ops
from teamctl_supervisor.team import report
from teamctl_supervisor.team.backends import process as process_backend
from teamctl_supervisor.team.backends import tmux as tmux_backend

DUMP = "import json, sys; json.dump(sys.argv[1:], open(sys.argv[1], 'w')); import time; time.sleep(30)"


def test_session_names_are_sanitized() -> None:
    assert tmux_backend.session_name("a-", "hello", "dev") == "a-hello-dev"
    assert tmux_backend.session_name("t.", "my.proj", "dev.1") == "t_my_proj-dev_1"


def test_socket_args(monkeypatch: pytest.MonkeyPatch) -> None:
    assert tmux_backend.socket_args({}) == []
    assert tmux_backend.socket_args({"TEAMCTL_TMUX_SOCKET": "x"}) == ["-L", "x"]
    assert tmux_backend.socket_args({"TEAMCTL_TMUX_SOCKET": "/tmp/s"}) == ["-S", "/tmp/s"]
    monkeypatch.setenv("TEAMCTL_TMUX_SOCKET", "priv")
    assert tmux_backend.command("ls")[1:] == ["-L", "priv", "ls"]


def test_tmux_passes_argv_and_env_unchanged(tmp_path: Path, tmux_socket: str) -> None:
    out = tmp_path / "argv.json"
    odd = ['a b', 'say "hi"', "it's", "$HOME", "; rm -rf /", ""]
    name = tmux_backend.session_name("test-", "p.x", "argv")
    pid = tmux_backend.new_session(name, tmp_path, [sys.executable, "-c", DUMP, str(out), *odd],
                                   {"SOME_VAR": "v a l"})
    try:
        assert pid and tmux_backend.has_session(name) and name in tmux_backend.sessions()
        assert tmux_backend.pane_pid(name) == pid
        wait_for(lambda: out.exists() and out.stat().st_size, what="argv dump")
        assert json.loads(out.read_text()) == [str(out), *odd]
        env = open(f"/proc/{pid}/environ", "rb").read().split(b"\0")
        assert b"SOME_VAR=v a l" in env
    finally:
        assert tmux_backend.kill_session(name)
    assert not tmux_backend.has_session(name)
    assert tmux_backend.kill_session(name) is False


def test_tmux_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tmux_backend, "binary", lambda: None)
    assert tmux_backend.sessions() is None and not tmux_backend.has_session("x")
    assert ops.choose_backend(None) == "process"
    with pytest.raises(ops.NoTeam):
        ops.choose_backend("tmux")


def test_process_backend_detaches_and_logs(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "p-a.console.log"
    proc = process_backend.start([sys.executable, "-c", "import os; print('hi', os.getsid(0) == os.getpid())"],
                                 tmp_path, dict(os.environ), log)
    assert proc.wait(10) == 0
    assert log.read_text() == "hi True\n"
    assert stat.S_IMODE(log.stat().st_mode) == 0o600


def _row(state: str, until: float | None = None, detail: str | None = None) -> AgentRow:
    return AgentRow("p:a", "claude-code", state, until, detail, None, None, None, 0, None, None, None, 0.0)


def test_state_text() -> None:
    now = datetime(2026, 11, 27, 12, 0, 0).timestamp()  # local time, fixed: no midnight edge
    soon, later_today = now + 60, now + 2 * 3600
    assert report.state_text(_row("running"), now) == "running"
    assert report.state_text(_row("rate_limited", later_today), now) == "rate-limited until 14:00"
    assert report.state_text(_row("rate_limited", soon), now) == "rate-limited until 12:01:00"  # minutes away
    assert report.state_text(_row("backing_off", soon, "backing off (3)"), now) == "backing off (3) until 12:01:00"
    assert report.state_text(_row("paused_budget", later_today), now) == "paused-budget until 14:00"
    assert report.state_text(_row("failed"), now) == "failed"
    later = report.short_time(now + 3 * 86400, now)
    assert len(later.split()) == 3  # "Dec 02 16:01"


def test_clean_line_and_tail(tmp_path: Path) -> None:
    assert report.clean_line("\x1b[1;31mred\x1b[0m text\r") == "red text"
    assert report.clean_line("\x1b]0;title\x07spinner 1\rspinner 2") == "spinner 2"
    log = tmp_path / "a.log"
    Path(f"{log}.2").write_bytes(b"one\r\ntwo\r\n")
    Path(f"{log}.1").write_bytes(b"three\r\n")
    log.write_bytes(b"four\r\nfive")
    assert [report.clean_line(x) for x in report.tail_lines(log, 4)] == ["two", "three", "four", "five"]
    assert len(report.tail_lines(log, 100)) == 5
    assert report.tail_lines(log, 0) == []


def test_follow_survives_rotation(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_bytes(b"old\n")
    lines = report.follow(log, poll=0.01, stop=5)
    fh = open(log, "ab")
    fh.write(b"new 1\n")
    fh.flush()
    assert next(lines) == "new 1"
    fh.write(b"new 2\n")
    fh.close()
    os.replace(log, f"{log}.1")
    log.write_bytes(b"after rotation\n")
    assert next(lines) == "new 2"
    assert next(lines) == "after rotation"
    lines.close()


def test_parse_since() -> None:
    now = 1_700_000_000.0
    assert report.parse_since("2h", now) == now - 7200
    assert report.parse_since("30m", now) == now - 1800
    assert report.parse_since("1d", now) == now - 86400
    assert report.parse_since("2024-01-02", now) == datetime(2024, 1, 2).timestamp()
    assert report.parse_since("2024-01-02T03:04:05+00:00", now) == 1704164645.0
    with pytest.raises(ValueError):
        report.parse_since("yesterday-ish", now)


def test_day_start_in_zone() -> None:
    now = datetime(2024, 6, 1, 1, 30).astimezone().timestamp()
    # UTC+14: a different calendar day than UTC
    start = report.day_start(now, report.resolve_zone("Pacific/Kiritimati", {}))
    assert now - 86400 < start <= now
    assert report.day_start(now, report.resolve_zone(None, {})) == datetime(2024, 6, 1).timestamp()


def test_human_formats() -> None:
    assert report.human_uptime(5) == "5s"
    assert report.human_uptime(65) == "1m05s"
    assert report.human_uptime(3 * 3600 + 120) == "3h02m"
    assert report.human_uptime(2 * 86400 + 3600) == "2d01h"
    assert report.human_bytes(512) == "512B"
    assert report.human_bytes(3 * 1024 * 1024) == "3.0M"

"""The reactor's newer rules through the real shell: a real pty, the fake runtime, the real mailbox.

A pause inside a limit line, a stall behind a spinner, and `status` telling both.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from watchkit import fake_env, rows, start, state, wait_for


def test_a_pause_inside_a_limit_line_still_records_one_hit(root: Path, watchers: list) -> None:
    """The runtime writes "usage limit rea", goes quiet past the flush time, then writes the rest."""
    steps = ["write:working... usage limit rea", "sleep:0.8", "print:ched \\u00b7 resets in 1h", "hang"]
    start(watchers, root, steps, "--restart", "never")
    hit = wait_for(lambda: rows(root, "SELECT * FROM rate_limits"), timeout=20, what="the hit row")
    wait_for(lambda: (s := state(root)) and s["state"] == "rate_limited", timeout=20, what="rate-limited")
    assert len(rows(root, "SELECT * FROM rate_limits")) == 1
    assert "usage limit reached" in hit[0]["raw_match"] and hit[0]["resets_at"] > hit[0]["hit_at"] + 3500


def test_a_stall_behind_a_spinner_is_shown_in_status_and_logged(root: Path, watchers: list) -> None:
    descriptor = root / "runtimes" / "fake.toml"
    descriptor.write_text(descriptor.read_text() + "\n[stall]\nseconds = 2\naction = \"record\"\n")
    spinner = [f"write:\\r\\u280b Thinking... ({n}s)" for n in range(40)]
    steps = ["print:working", *[s for pair in zip(spinner, ["sleep:0.1"] * 40, strict=True) for s in pair], "hang"]
    start(watchers, root, steps, "--restart", "never")
    stalled = wait_for(lambda: (s := state(root)) and (s["detail"] or "").startswith("stalled since") and s,
                       timeout=20, what="the stall noticed")
    assert stalled["state"] == "running"
    out = subprocess.run([sys.executable, "-m", "teamctl_supervisor", "status", "-C", str(root)],
                         capture_output=True, text=True, timeout=30, env=fake_env(root))
    assert "stalled since" in out.stdout, out.stdout + out.stderr
    log = (root / "state" / "logs" / "solo-dev.supervisor.log").read_text()
    assert "stalled: no new output for" in log


def test_a_trickling_webhook_never_freezes_the_relay_or_a_stop(tmp_path: Path) -> None:
    """The hook server sends one byte every 2 s forever: output is still relayed at once and SIGTERM
    still stops the watcher promptly, and the hook gives up at its deadline."""
    import signal
    import socket
    import threading
    import time

    import pexpect
    from watchkit import FAKES

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    port = server.getsockname()[1]
    stop = threading.Event()

    def trickle() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            conn.recv(65536)
            while not stop.wait(2.0):
                try:
                    conn.send(b"H")
                except OSError:
                    break
            conn.close()

    threading.Thread(target=trickle, daemon=True).start()
    base = tmp_path / "proj"
    team = base / ".team"
    (team / "projects").mkdir(parents=True)
    (team / "runtimes").mkdir()
    (team / "runtimes" / "claude-code.toml").write_text(
        (FAKES / "runtimes" / "fake.toml").read_text().replace('name = "fake"', 'name = "claude-code"'))
    (team / "team-compose.yaml").write_text(
        "version: 2\nbroker: {type: sqlite, path: state/mailbox.db}\nsupervisor: {type: tmux, tmux_prefix: t-}\n"
        "rate_limits:\n  default_on_hit: [hook, wait]\n  hooks:\n"
        f"    - {{name: hook, action: webhook, url: 'http://127.0.0.1:{port}/', timeout: 8}}\n"
        "projects:\n  - file: projects/p.yaml\n")
    (team / "projects" / "p.yaml").write_text(
        "version: 2\nproject: {id: p, name: P, cwd: ..}\nworkers:\n  dev:\n    runtime: claude-code\n")
    steps = ["print:session limit hit, you can continue at in 1h", "sleep:0.5", "print:still-relayed", "hang"]
    child = pexpect.spawn(sys.executable, ["-m", "teamctl_supervisor", "rl-watch", "p:dev", "--", "fake_agent.py",
                                           *steps], cwd=str(base), env=fake_env(team), timeout=20)
    try:
        child.expect("session limit hit")
        start = time.monotonic()
        child.expect("still-relayed", timeout=20)  # relayed while the hook trickles
        assert time.monotonic() - start < 7  # a relay held by the hook waits out its 8 s timeout
        child.kill(signal.SIGTERM)
        stopped = time.monotonic()
        child.expect(pexpect.EOF, timeout=10)
        assert time.monotonic() - stopped < 7  # not held up by the hook (its timeout is 8 s)
    finally:
        stop.set()
        child.close(force=True)
        server.close()
    assert child.exitstatus == 128 + signal.SIGTERM


def test_a_print_mode_run_respawned_before_an_unaligned_reset_ends_in_success(root: Path, tmp_path: Path) -> None:
    """Issue 22, item 3: `--margin 1 --restart on-failure` over a `claude -p` style CLI whose reset
    (some seconds into a minute) is printed rounded down to the minute. The respawn comes before the
    real reset and meets the limit again: "not reset yet" with growing re-checks, never history
    and never a crash; it ends in success after the reset, with one row for the one real hit."""
    import time

    # 15 s on, in this minute: the printed minute + the 1 s margin has already passed at the first
    # hit, so the respawn comes at once and meets the limit again; its re-check (30 s on) comes after
    # the reset. Too late in the minute for that: 20 s into the next one, the respawn waits for the
    # printed minute + 1 s and still comes well before the reset.
    now = time.time()
    reset = now + 15 if now % 60 < 44 else (now // 60 + 1) * 60 + 20
    runs_log = tmp_path / "runs.log"
    env = fake_env(root, FAKE_RESET_AT=str(reset), FAKE_RUNS_LOG=str(runs_log), TZ="UTC")
    argv = [sys.executable, "-m", "teamctl_supervisor", "rl-watch", "solo:dev", "--runtime", "fake", "--root",
            str(root), "--margin", "1", "--restart", "on-failure", "--tz", "UTC", "--", "fake_print_limit.py"]
    with open(tmp_path / "out", "wb") as out:
        proc = subprocess.Popen(argv, cwd=root, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT)
        try:
            code = proc.wait(timeout=300)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
    text = (tmp_path / "out").read_text(errors="replace")
    runs = runs_log.read_text().split()
    assert code == 0, text
    assert runs[-1] == "done" and runs.count("limit") >= 2, runs  # a respawn met the limit again
    log = (root / "state" / "logs" / "solo-dev.supervisor.log").read_text()
    assert "exited on its limit line: not reset yet (re-check 1)" in log, log
    assert "backing off" not in text and "gave up" not in text, text
    assert len(rows(root, "SELECT * FROM rate_limits")) == 1
    assert state(root)["state"] == "stopped"

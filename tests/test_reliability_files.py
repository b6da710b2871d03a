"""Files under state/ (issue 13 items 6, 7, 8): no symlink followed, private modes, no secrets."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

from reliakit import hanging_team, kill_all, team_procs, teamctl
from teamctl_supervisor.store.mailbox import Store
from teamctl_supervisor.store.safefs import write_private
from watchkit import start, state, wait_for


def test_planted_log_links_are_replaced_never_written_through(root, watchers, tmp_path):
    victims = {name: tmp_path / f"victim-{name}" for name in ("solo-dev.log", "solo-dev.supervisor.log")}
    logs = root / "state" / "logs"
    logs.mkdir(parents=True, mode=0o700)
    for name, victim in victims.items():
        victim.write_text("precious\n")
        (logs / name).symlink_to(victim)
    start(watchers, root, ["print:hello through the pty", "hang"])
    wait_for(lambda: state(root) and state(root)["state"] == "running", what="running")
    wait_for(lambda: b"hello through" in (logs / "solo-dev.log").read_bytes(), what="output logged")
    for name, victim in victims.items():
        assert victim.read_text() == "precious\n"
        assert not (logs / name).is_symlink()


def test_a_planted_spool_link_is_replaced_never_appended_through(tmp_path):
    state_dir = tmp_path / "state"
    (state_dir / "mailbox.db").mkdir(parents=True)  # a mailbox that cannot be opened: writes spool
    (state_dir / "spool").mkdir()
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    (state_dir / "spool" / "w.jsonl").symlink_to(victim)
    with Store(state_dir / "mailbox.db", state_dir / "spool", "w") as st:
        assert st.record_rate_limit("p:a", "fake", 1.0, None, "usage limit") is False
    assert victim.read_text() == "precious\n"
    assert "usage limit" in (state_dir / "spool" / "w.jsonl").read_text()


def test_a_state_dir_linked_outside_the_team_is_refused(tmp_path):
    team = hanging_team(tmp_path, 1)
    outside = tmp_path / "elsewhere"
    outside.mkdir(mode=0o755)
    os.chmod(outside, 0o755)
    (team / "state").symlink_to(outside)
    out = teamctl(team, "up", "--backend", "process")
    assert out.returncode == 2 and "symlink" in out.stderr and "outside the team" in out.stderr, out.stderr
    assert stat.S_IMODE(os.stat(outside).st_mode) == 0o755 and list(outside.iterdir()) == []
    assert team_procs(team) == []


def test_tmux_marker_link_is_not_followed_and_every_file_is_private_under_umask_000(tmp_path, tmux_socket):
    team = hanging_team(tmp_path, 2, extra="    env: {API_TOKEN: s3cr3t-value-42}\n")
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    for d in (team / "state", team / "state" / "run"):
        d.mkdir(mode=0o700)
    (team / "state" / "run" / "p-a0.tmux").symlink_to(victim)
    try:
        out = teamctl(team, "up", "--backend", "tmux", umask=0)
        assert out.returncode == 0, out.stdout + out.stderr
        wait_for(lambda: len(team_procs(team)) == 4, what="two watchers and runtimes")
        assert victim.read_text() == "precious\n"
        assert teamctl(team, "status", umask=0).returncode == 0
        for path in (team / "state").rglob("*"):
            mode = stat.S_IMODE(path.lstat().st_mode)
            assert not path.is_symlink(), path
            assert mode == (0o700 if path.is_dir() else 0o600), f"{path}: {oct(mode)}"
            if path.is_file():
                assert b"s3cr3t-value-42" not in path.read_bytes(), path
    finally:
        teamctl(team, "down")
        kill_all(team_procs(team))


def test_a_rewritten_state_file_is_never_read_half_written(tmp_path):
    """Session files are read by other agents' watchers while their own watcher rewrites them: a reader
    in another process sees the old or the new content, never an empty or cut one; a planted link at
    the name is replaced, and its target never written."""
    path = tmp_path / "sessions" / "p-a.json"
    path.parent.mkdir(mode=0o700)
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    path.symlink_to(victim)
    write_private(path, json.dumps({"id": "first", "pad": "x" * 200_000}))
    assert victim.read_text() == "precious\n" and not path.is_symlink()
    writer = subprocess.Popen([sys.executable, "-c", (
        "import json, sys\nfrom pathlib import Path\n"
        "from teamctl_supervisor.store.safefs import write_private\n"
        "for i in range(300):\n"
        "    write_private(Path(sys.argv[1]), json.dumps({'id': str(i), 'pad': 'x' * 200_000}))\n"), str(path)])
    reads = 0
    try:
        while writer.poll() is None or reads == 0:
            assert json.loads(path.read_text())["id"]  # raises on a half-written file
            reads += 1
    finally:
        writer.kill()
        writer.wait()
    assert json.loads(path.read_text())["id"] == "299"
    assert [p.name for p in path.parent.iterdir()] == ["p-a.json"]  # no temporary file left beside it
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_fifo_planted_where_state_is_read_is_refused_without_waiting_for_a_writer(tmp_path):
    """read_nofollow reads every file of ours under state/ (launch parts, sessions, spools, check
    records): a fifo at the name is refused at once, never waited on (the reader would hang forever)."""
    import threading

    from teamctl_supervisor.store.safefs import read_nofollow

    fifo = tmp_path / "state" / "cache" / "launch" / "p-a.json"
    fifo.parent.mkdir(parents=True)
    os.mkfifo(fifo)
    result: list[object] = []

    def read() -> None:
        try:
            result.append(read_nofollow(fifo))
        except OSError as exc:
            result.append(exc)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(30)
    assert not reader.is_alive(), "read_nofollow waited on a fifo"
    assert isinstance(result[0], OSError) and "not a regular file" in str(result[0])
    regular = tmp_path / "state" / "ok.json"
    regular.write_bytes(b'{"a": 1}\n')
    assert read_nofollow(regular) == b'{"a": 1}\n'

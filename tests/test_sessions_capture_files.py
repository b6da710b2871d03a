"""Learning the id a CLI picked from the session files it wrote, while it runs (issue 22).

droid (@factory/cli-linux-x64 0.225.2) opens its session file only while it appends a row, so catching
it open is luck: its TUI was seen running a minute, answering, with its id never learned (a kill -9 then
lost the conversation). The keeper also reads the files: the one new file since the spawn holding a model
turn, that no other agent holds, while no other agent of the runtime may still claim it. Here a process
that holds nothing open stands in for the CLI; the files are droid's, as captured against the fake API.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from pathlib import Path

from teamctl_supervisor.agent import session_files
from teamctl_supervisor.agent.sessions import SessionKeeper
from teamctl_supervisor.core.descriptors.loader import load_runtime

CAPTURE = load_runtime("droid").launch.session.capture  # type: ignore[union-attr]
STUB = {"type": "session_start", "id": "", "title": "New Session", "cwd": "/w"}
ANSWER = {"type": "message", "id": "m2", "message": {"role": "assistant", "content": [{"type": "text", "text": "hi"}]}}


def _session(folder: Path, *rows: dict) -> str:
    sid = str(uuid.uuid4())
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{sid}.jsonl").write_text("".join(json.dumps({**r, "id": sid} if r is STUB else r) + "\n" for r in rows))
    return sid


def test_only_new_files_holding_a_model_turn_and_held_by_no_other_agent_are_candidates(tmp_path: Path) -> None:
    folder = tmp_path / ".factory" / "sessions" / "-w"
    pattern = [str(folder / "*.jsonl")]
    mine = _session(folder, STUB, ANSWER)
    held = _session(folder, STUB, ANSWER)
    _session(folder, STUB)  # a TUI's stub: no turn
    since = time.time() - 5
    assert session_files.new_ids(pattern, CAPTURE, since, {held}, "droid-chat") == {mine}
    assert len(session_files.new_ids(pattern, CAPTURE, since, {held})) == 2  # without the reader: the stub too
    assert session_files.new_ids(pattern, CAPTURE, time.time() + 60, set(), "droid-chat") == set()  # none new


def test_the_keeper_learns_a_droid_id_from_its_files_while_the_cli_runs(tmp_path: Path) -> None:
    home = tmp_path / "home"
    keeper = SessionKeeper(load_runtime("droid"), tmp_path / "state", "p-a", {"HOME": str(home)})
    choice = keeper.choose()
    assert choice is not None and choice.id is None
    proc = subprocess.Popen(["sleep", "30"])  # holds no session file open
    try:
        keeper.spawned(proc.pid)
        folder = home / ".factory" / "sessions" / "-w"
        _session(folder, STUB)
        sid = _session(folder, STUB, {"type": "message", "message": {"role": "user", "content": []}})
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and keeper.session_id is None:
            time.sleep(0.05)
        assert keeper.session_id is None  # a prompt alone is no proof of the agent's session
        with (folder / f"{sid}.jsonl").open("a") as fh:
            fh.write(json.dumps(ANSWER) + "\n")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and keeper.session_id is None:
            time.sleep(0.05)
        assert keeper.session_id == sid and proc.poll() is None  # learned while it runs
    finally:
        proc.kill()
        proc.wait()
        keeper.ended(-9, 1.0)
    assert json.loads((tmp_path / "state" / "sessions" / "p-a.json").read_text())["id"] == sid

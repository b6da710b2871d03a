"""`up` shows what `validate` warns about, and refuses on it with --strict; LICENSE is there."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

TEAMCTL = [sys.executable, "-m", "teamctl_supervisor"]


def typo_team(tmp_path: Path) -> Path:
    team = tmp_path / ".team"
    (team / "projects").mkdir(parents=True)
    (team / "team-compose.yaml").write_text(
        "version: 2\nsupervisor: {tmux_prefx: x-}\nprojects: [{file: projects/p.yaml}]\n")
    (team / "projects" / "p.yaml").write_text(
        "version: 2\nproject: {id: p, name: P, cwd: .}\nworkers:\n  dev:\n    runtime: codex\n    limit_grup: g\n")
    return team


def test_up_strict_prints_the_warnings_and_starts_nothing(tmp_path: Path) -> None:
    team = typo_team(tmp_path)
    res = subprocess.run([*TEAMCTL, "up", "--strict", "--backend", "process", "--root", str(team)],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 2, res.stderr
    assert "unknown key 'tmux_prefx' (did you mean 'tmux_prefix'?)" in res.stderr
    assert "unknown key 'limit_grup' (did you mean 'limit_group'?)" in res.stderr
    assert "nothing started: --strict" in res.stderr
    assert not (team / "state" / "mailbox.db").exists()


def test_license_is_mit() -> None:
    text = (Path(__file__).parent.parent / "LICENSE").read_text()
    assert text.startswith("MIT License") and "teamctl-supervisor contributors" in text

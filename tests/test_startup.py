"""`teamctl startup` / `unstartup`: a systemd user unit (checked with systemd-analyze verify) or a
crontab @reboot line (installed through a stand-in `crontab`, since a test never touches the user's,
and the line itself run by hand brings the team up)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FakeBin, copy_example, wait_for
from teamctl_supervisor.cli import main
from teamctl_supervisor.team import startup as boot
from test_team import Team

FAKE_CRONTAB = """#!/bin/sh
# stand-in for crontab(1): the table lives in $FAKE_CRONTAB_FILE
if [ "$1" = "-l" ]; then
    [ -f "$FAKE_CRONTAB_FILE" ] || { echo "no crontab for $USER" >&2; exit 1; }
    cat "$FAKE_CRONTAB_FILE"
elif [ "$1" = "-" ]; then
    cat > "$FAKE_CRONTAB_FILE"
else
    exit 2
fi
"""


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("TEAMCTL_ROOT", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # never the user's own units


@pytest.fixture
def crontab(tmp_path: Path, fake_bin: FakeBin, monkeypatch: pytest.MonkeyPatch) -> Path:
    table = tmp_path / "crontab.txt"
    (fake_bin.dir / "crontab").write_text(FAKE_CRONTAB)
    (fake_bin.dir / "crontab").chmod(0o755)
    monkeypatch.setenv("FAKE_CRONTAB_FILE", str(table))
    return table


def _root_with_odd_name(tmp_path: Path) -> Path:
    """A team under a folder with a space, a % and a $, which unit and cron quoting must survive."""
    root = copy_example("hello-team", tmp_path)
    odd = tmp_path / "my 100% $team"
    root.rename(odd)
    return odd


def test_the_systemd_unit_runs_up_and_down_for_this_root_and_verifies(tmp_path: Path, fake_bin: FakeBin,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    root = _root_with_odd_name(tmp_path)
    assert main(["startup", "--method", "systemd", "-C", str(root)]) == 0
    out = capsys.readouterr().out
    units = list((tmp_path / "config" / "systemd" / "user").glob("teamctl-*.service"))
    assert len(units) == 1 and f"wrote {units[0]}" in out
    text = units[0].read_text()
    team = root / ".team"
    quoted = str(team).replace("%", "%%").replace("$", "$$")
    assert f'ExecStart="{sys.executable}" "-m" "teamctl_supervisor" "up" "-C" "{quoted}"' in text
    assert '"down" "-C"' in text and "WantedBy=default.target" in text and "Type=oneshot" in text
    assert f'Environment="PATH={os.environ["PATH"]}"' in text
    assert "loginctl enable-linger" in out
    if shutil.which("systemd-analyze"):
        done = subprocess.run(["systemd-analyze", "verify", str(units[0])], capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 0, done.stderr
    assert main(["unstartup", "-C", str(root)]) == 0
    assert f"removed {units[0]}" in capsys.readouterr().out and not units[0].exists()


def test_the_crontab_line_is_added_once_kept_apart_and_removed(tmp_path: Path, crontab: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    crontab.write_text("0 3 * * * backup.sh\n")
    root = copy_example("hello-team", tmp_path)
    assert main(["startup", "--method", "cron", "-C", str(root)]) == 0
    assert main(["startup", "--method", "cron", "-C", str(root)]) == 0  # again: still one line
    lines = crontab.read_text().splitlines()
    assert lines[0] == "0 3 * * * backup.sh" and len(lines) == 2
    assert lines[1].startswith("@reboot cd ") and lines[1].endswith(f"# teamctl startup {root / '.team'}")
    assert main(["unstartup", "-C", str(root)]) == 0
    assert "removed its @reboot line" in capsys.readouterr().out
    assert crontab.read_text().splitlines() == ["0 3 * * * backup.sh"]


def test_without_crontab_the_line_is_printed_with_what_to_do(tmp_path: Path, fake_bin: FakeBin,
                                                             monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    root = copy_example("hello-team", tmp_path)
    monkeypatch.setattr(boot.shutil, "which", lambda name: None)
    assert main(["startup", "--method", "cron", "-C", str(root)]) == 1
    err = capsys.readouterr().err
    assert "no crontab command" in err and "@reboot cd " in err


def test_the_crontab_line_run_by_hand_brings_the_team_up(tmp_path: Path, fake_bin: FakeBin, tmux_socket: str,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    root = _root_with_odd_name(tmp_path)
    team = Team(root, capsys, fake_bin)
    try:
        assert main(["startup", "--method", "cron", "--print", "-C", str(root)]) == 0
        line = capsys.readouterr().out.strip()
        command = line.removeprefix("@reboot ").replace("\\%", "%")  # what cron hands to /bin/sh
        done = subprocess.run(["/bin/sh", "-c", command], env={"HOME": os.environ.get("HOME", "/")},
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        wait_for(lambda: {s["state"] for s in team.status().values()} == {"running"}, 30)
        assert "started (tmux session a-hello-" in (root / ".team" / "state" / "logs" / "startup.log").read_text()
    finally:
        team.run("down", "--timeout", "3")
        team.cleanup()

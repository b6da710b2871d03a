"""Usage before the hit: usage lines from real captures are readings and never hits; a real Codex run
against the fake API (which sends the x-codex-primary/secondary headers) lands its windows in the
usage table through the rollout tailer, and `teamctl status` shows them; burn rate from two readings."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

from realcli import codex
from realcli.fakeapi import FakeAPI
from teamctl_supervisor.agent.channels.tailer import ChannelTailer
from teamctl_supervisor.agent.settings import WatchSettings
from teamctl_supervisor.core.descriptors.loader import load_runtime
from teamctl_supervisor.core.scan.scanner import EventKind, Scanner
from teamctl_supervisor.core.usage import burn_rate, candidate_lines_in, read_text, screen_text
from teamctl_supervisor.store.mailbox import Store

REAL = Path(__file__).parent / "fixtures" / "real_cli"
UTC = ZoneInfo("UTC")


def test_codex_warning_screen_gives_readings_of_both_windows() -> None:
    text = (REAL / "codex-0.171.0" / "tui-warning-80x24.screen.txt").read_text()
    got = sorted((r.window, r.used) for r in read_text(text, load_runtime("codex").usage, time.time(), UTC))
    assert got == [("5h", 75.0), ("weekly", 90.0), ("weekly", 91.0)]


def test_claude_usage_lines_are_readings_and_not_hits() -> None:
    rt = load_runtime("claude-code")
    lines = ["  ⎿  You've used 91% of your session limit · resets 3pm (UTC)",
             "You've used 91% of your 5-hour limit · resets 2am", "Approaching 5-hour limit"]
    scanner = Scanner(rt, tz=UTC)
    events = scanner.feed("\n".join(lines).encode() + b"\n") + scanner.finish()
    assert [e for e in events if e.kind is EventKind.RATE_LIMIT] == []
    readings = read_text("\n".join(lines), rt.usage, time.time(), UTC)
    assert [(r.window, r.used) for r in readings] == [("5h", 91.0), ("5h", 91.0), ("5h", None)]
    assert time.gmtime(readings[0].resets_at).tm_hour == 15


def test_only_lines_with_a_keyword_word_are_converted_and_none_of_their_readings_is_lost() -> None:
    """A flood's lines are not run through the screen conversion once a second: only those with a
    usage keyword's longest word, whose words a TUI may still draw apart with cursor moves."""
    rt = load_runtime("claude-code")
    noise = [b"\x1b[32mplain output line %d\x1b[0m" % i for i in range(2000)]
    usage = [b"\x1b[2K  \xe2\x8e\xbf  You've used 91%\x1b[1Cof\x1b[1Cyour session limit \xc2\xb7 resets 3pm (UTC)",
             b"\x1b[7;1H\x1b[2KApproaching 5-hour limit"]
    lines = noise[:700] + usage[:1] + noise[700:] + usage[1:]
    kept = candidate_lines_in(b"\n".join(lines), rt.usage)
    assert kept == usage
    every = read_text(screen_text(b"\n".join(lines)), rt.usage, 0.0, UTC)
    some = read_text(screen_text(b"\n".join(kept)), rt.usage, 0.0, UTC)
    assert [(r.window, r.used) for r in some] == [(r.window, r.used) for r in every] == [("5h", 91.0), ("5h", None)]


def test_burn_rate_needs_two_readings_and_projects_the_full_time() -> None:
    assert burn_rate([(0.0, 50.0)]) is None
    burn = burn_rate([(0.0, 50.0), (3600.0, 60.0)])
    assert burn is not None and round(burn.per_hour, 6) == 10.0 and burn.full_at == 3600.0 + 4 * 3600


def _team(tmp_path: Path) -> Path:
    team = tmp_path / "proj" / ".team"
    (team / "projects").mkdir(parents=True)
    (team / "team-compose.yaml").write_text(
        "version: 2\nbroker: {type: sqlite, path: state/mailbox.db}\nsupervisor: {type: tmux, tmux_prefix: t-}\n"
        "projects:\n  - file: projects/p.yaml\n")
    (team / "projects" / "p.yaml").write_text(
        "version: 2\nproject: {id: p, name: P, cwd: .}\nworkers:\n  cx:\n    runtime: codex\n")
    return team


def test_status_shows_the_windows_of_a_real_codex_run(tmp_path: Path) -> None:
    team = _team(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    state = team / "state"
    state.mkdir()
    env = codex.prepare(tmp_path / "home", "http://127.0.0.1:1", cwd=work)
    settings = WatchSettings(agent_id="p:cx", project_id="p", runtime=load_runtime("codex"), argv=("codex",),
                             cwd=work, env=env, tz=UTC, mailbox=state / "mailbox.db", state_dir=state)
    with FakeAPI() as api:
        env = codex.prepare(tmp_path / "home", api.base_url, cwd=work)
        started = time.time()
        p = subprocess.run(codex.argv("exec", "--skip-git-repo-check", "hi"), env=env, cwd=work,
                           capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        assert p.returncode == 0, p.stderr[-800:]
    with Store(settings.mailbox) as st:
        events = ChannelTailer(settings, st, lambda: started).poll(time.time())
    assert [(e.input_tokens, e.output_tokens) for e in events] == [(1234, 56)]
    out = subprocess.run([sys.executable, "-m", "teamctl_supervisor", "-C", str(team), "status", "--json"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    windows = {w["window"]: w for w in json.loads(out.stdout)[0]["usage_windows"]}
    assert windows["5h"]["used_percent"] == 12.0 and windows["weekly"]["used_percent"] == 4.0
    assert windows["5h"]["source"] == "codex-rollout" and windows["5h"]["resets_at"]
    table = subprocess.run([sys.executable, "-m", "teamctl_supervisor", "-C", str(team), "status"],
                           capture_output=True, text=True, timeout=60).stdout
    assert "USAGE" in table and "5h 12% · resets " in table and "weekly 4% · resets " in table

"""`teamctl report` in its three formats, from what real watchers on the fake runtime recorded, and
the daily `report` hook event: fired at `budget.report_at` on an injected clock, once per team."""

from __future__ import annotations

import json
import shutil
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from teamctl_supervisor.agent.report_trigger import KIND, TEAM_KEY, ReportLauncher, ReportTrigger
from teamctl_supervisor.cli import main
from teamctl_supervisor.store.mailbox import Store
from watchkit import runs, start, state, wait_for

EXAMPLES = Path(__file__).parent.parent / "examples"
LIMIT = r"usage limit reached \u00b7 resets <b>|x|</b>"


def _report(capsys: pytest.CaptureFixture[str], root: Path, *args: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["report", "-C", str(root), *args])
    out = capsys.readouterr()
    return code, out.out + out.err


def test_report_counts_work_waits_hits_spend_crashes_and_needs(root, watchers, capsys):
    start(watchers, root, [r"1@print:session cost: $0.42 (12k in, 3k out)", f"1@print:{LIMIT}", "1@hang",
                           "2@exit:3", "hang"], "--margin", "0", "--fallback-wait", "3")
    wait_for(lambda: runs(root) >= 3 and (state(root) or {"state": ""})["state"] == "running", timeout=60,
             what="the third run (after the limit and a crash)")
    with Store(root / "state" / "mailbox.db") as st:  # a second agent, failed: it needs a person
        st.set_state("solo:ops", "fake", "failed", last_exit=1, restarts=5)

    code, out = _report(capsys, root, "--since", "1h", "--format", "json")
    assert code == 0, out
    data = json.loads(out)
    dev = next(a for a in data["agents"] if a["id"] == "solo:dev")
    assert dev["hits"] == 1 and dev["spend_usd"] == pytest.approx(0.42)
    assert dev["crashes"] >= 1 and dev["work_seconds"] > 0 and dev["waits"]["rate_limited"] > 0
    assert any("usage limit reached" in r for r in dev["reasons"])
    assert dev["needs"] is None
    assert data["needs_a_person"] == [{"agent": "solo:ops", "what": "failed (last exit 1): `teamctl restart solo:ops`"}]

    code, text = _report(capsys, root, "--since", "1h")
    assert code == 0
    assert "solo:dev" in text and "$0.42" in text and "rate-limited" in text
    assert "NEEDS A PERSON NOW\n  solo:ops: failed (last exit 1)" in text

    code, md = _report(capsys, root, "--since", "1h", "--format", "markdown")
    assert code == 0
    assert "| solo:dev |" in md and "### Needs a person now" in md and "- **solo:ops**: failed" in md
    assert "&lt;b&gt;\\|x\\|&lt;/b&gt;" in md and "<b>" not in md  # runtime text is never markup

    code, out = _report(capsys, root, "--since", "yesterday-ish")
    assert code == 2 and "--since" in out


def test_report_hook_fires_at_its_time_once_per_team_on_an_injected_clock(tmp_path):
    tz = ZoneInfo("Europe/Berlin")
    fired: list[str] = []
    with Store(tmp_path / "state" / "mailbox.db") as st:
        def trigger(name: str) -> ReportTrigger:
            return ReportTrigger("07:30", tz, lambda day, now: st.claim_alert(TEAM_KEY, day, KIND, now),
                                 lambda: fired.append(name))

        one, two = trigger("one"), trigger("two")  # two watchers of one team
        at = lambda d, hm: datetime(2026, 12, d, *hm, tzinfo=tz).timestamp()  # noqa: E731
        assert not one.poll(at(7, (7, 29, 59))) and not two.poll(at(7, (7, 29, 59)))
        assert one.poll(at(7, (7, 30, 0))) and not two.poll(at(7, (7, 30, 1)))
        assert not one.poll(at(7, (9, 0))) and fired == ["one"]
        assert two.poll(at(8, (7, 31))) and not one.poll(at(8, (7, 32)))
        assert fired == ["one", "two"]
        late = trigger("late")  # started at 15:00 on the 9th: no morning report that afternoon
        assert not late.poll(at(9, (15, 0))) and fired == ["one", "two"]
    assert ReportTrigger(None, tz, lambda d, n: True, lambda: fired.append("x")).poll(at(9, (7, 30))) is False


def _demo_team(tmp_path: Path, report_at: object) -> Path:
    team = tmp_path / "demo-team"
    shutil.copytree(EXAMPLES / "demo-team", team, ignore=shutil.ignore_patterns("state"))
    compose = team / ".team" / "team-compose.yaml"
    data = yaml.safe_load(compose.read_text())
    out = tmp_path / "report.txt"
    data["rate_limits"]["hooks"].append({"name": "morning", "action": "run", "argv": [
        sys.executable, "-c", "import sys; open(sys.argv[1], 'w').write(sys.argv[2])", str(out), "{report}"]})
    data["rate_limits"]["hooks"].append({"name": "to-lead", "action": "send", "to": "demo:lead"})  # no text
    data["budget"].update(report_at=report_at, on_report=["morning", "to-lead"])
    compose.write_text(yaml.safe_dump(data))
    return team


def test_report_goes_out_through_the_on_report_hooks(tmp_path, capsys):
    team = _demo_team(tmp_path, "07:30")
    with Store(team / ".team" / "state" / "mailbox.db") as st:
        st.set_state("demo:dev", "demo-agent", "failed", last_exit=2)
    ReportLauncher(team / ".team", {**__import__("os").environ})()  # what the watcher starts at 07:30
    out = tmp_path / "report.txt"
    text = wait_for(lambda: out.exists() and out.read_text(), timeout=60, what="the run hook's file")
    assert "demo:dev: failed (last exit 2)" in text and "demo:lead" in text
    with Store(team / ".team" / "state" / "mailbox.db") as st:  # and the send hook: the report, to the lead
        sent = wait_for(lambda: st.query("SELECT recipient, text FROM messages"), what="the sent message")
    assert sent[0]["recipient"] == "demo:lead" and "NEEDS A PERSON NOW" in sent[0]["text"]


def test_an_unquoted_report_time_is_named(tmp_path, capsys):
    team = _demo_team(tmp_path, 450)  # what YAML makes of `report_at: 07:30`
    capsys.readouterr()
    code = main(["validate", "-C", str(team)])
    out = capsys.readouterr().out
    assert code == 2 and "budget.report_at" in out and '"07:30"' in out


def test_a_watcher_sends_the_report_when_its_clock_passes_report_at(tmp_path, monkeypatch):

    from teamctl_supervisor.agent.settings import Restart, settings_for_agent, with_setting
    from teamctl_supervisor.agent.watch import AgentWatch
    from teamctl_supervisor.team.compose import load_team
    from test_budget import FastClock
    from watchkit import FAKES

    team_dir = _demo_team(tmp_path, "07:30")
    compose = team_dir / ".team" / "team-compose.yaml"
    compose.write_text(compose.read_text().replace("budget:\n", "budget:\n  tz: UTC\n"))
    team = load_team(team_dir / ".team", None)
    monkeypatch.setenv("PATH", f"{FAKES}:{__import__('os').environ['PATH']}")
    monkeypatch.setenv("FAKE_RUNS_FILE", str(tmp_path / "runs"))
    settings = with_setting(
        settings_for_agent(team, team.agent("demo:dev"), ["fake_agent.py", "print:working", "sleep:5", "exit:0"]),
        "reactor.crash.restart", Restart.NEVER)
    start_at = datetime(2026, 11, 27, 7, 29, 55, tzinfo=ZoneInfo("UTC")).timestamp()  # polls every 30 s
    with open(tmp_path / "out", "wb") as fh:
        AgentWatch(settings, clock=FastClock(start_at, speed=10), stdin_fd=__import__("os").open("/dev/null", 0),
                   stdout_fd=fh.fileno()).run()
    with Store(team.mailbox_path) as st:
        claims = st.query("SELECT project_id, day, kind FROM supervisor_budget_alerts WHERE kind=?", [KIND])
    assert [tuple(r) for r in claims] == [(TEAM_KEY, "2026-11-27", KIND)]
    out = tmp_path / "report.txt"
    text = wait_for(lambda: out.exists() and out.read_text(), timeout=60, what="the report from the watcher")
    assert text.startswith("teamctl report ") and "demo:dev" in text

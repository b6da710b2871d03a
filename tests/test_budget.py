"""Cost lines feed the budget table; caps pause agents, survive watcher restarts, end at midnight."""

from __future__ import annotations

import signal
from datetime import datetime, timedelta
from types import MappingProxyType
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from teamctl_supervisor.agent.budget import Caps, check_caps, load_prices, next_midnight, tokens_to_usd
from teamctl_supervisor.agent.settings import settings_for_agent
from teamctl_supervisor.agent.watch import AgentWatch
from teamctl_supervisor.cli import cli
from teamctl_supervisor.store.mailbox import Store
from teamctl_supervisor.team.compose import load_compose
from watchkit import FAKES, TeamWatcher, make_team, rows, state, wait_for

COST = "print:session cost: ${usd} (1k in, 100 out)"
BUDGET = ("budget:\n  daily_usd_limit: 100\n  per_project_usd_limit: 0.5\n  warn_threshold_pct: 50\n"
          "  tz: Europe/Berlin\n  on_cap: [capped]\n  on_warn: [warned]\n"
          "rate_limits:\n  hooks:\n    - {name: capped, action: send, to: 'p:a', text: 'cap {project} {usd}'}\n"
          "    - {name: warned, action: send, to: 'p:a', text: 'warn {project} {usd}'}\n")


def test_cap_pauses_every_agent_of_the_project_and_survives_a_watcher_restart(tmp_path, watchers):
    team = make_team(tmp_path, {"a": "", "b": ""}, BUDGET)
    b = TeamWatcher(team, "p:b", ["print:b-working", "hang"])
    watchers.append(b)
    wait_for(lambda: (s := state(team, "p:b")) and s["state"] == "running", what="b running")
    a = TeamWatcher(team, "p:a", [COST.format(usd="0.30"), "sleep:0.3", COST.format(usd="0.60"), "hang"])
    watchers.append(a)
    wait_for(lambda: (s := state(team, "p:a")) and s["state"] == "paused_budget", what="a paused")
    wait_for(lambda: (s := state(team, "p:b")) and s["state"] == "paused_budget", what="b paused too")
    midnight = next_midnight(datetime.now().timestamp(), ZoneInfo("Europe/Berlin"))
    assert state(team, "p:a")["until"] == pytest.approx(midnight, abs=1)
    spend = [(round(r["usd"], 2), r["input_tok"]) for r in rows(team, "SELECT * FROM budget ORDER BY id")]
    assert spend == [(0.30, 1000), (0.30, 0)]  # the running total counted once
    # The chains run on the hook thread, after the pause is recorded: wait for their messages.
    wait_for(lambda: len(rows(team, "SELECT * FROM messages")) >= 2, what="the warn and cap messages")
    texts = sorted(r["text"] for r in rows(team, "SELECT text FROM messages"))
    assert texts == ["cap p 0.6", "warn p 0.3"]  # each chain once per day
    assert state(team, "p:b")["pid"] is None or not _alive(state(team, "p:b")["pid"])
    # The watcher is restarted: the agent stays paused and its runtime is not started again.
    a.signal(signal.SIGTERM)
    assert a.wait(15) == 143
    runs_before = (team / "runs-p-a").read_text()
    again = TeamWatcher(team, "p:a", ["print:should-not-run", "hang"])
    watchers.append(again)
    wait_for(lambda: (s := state(team, "p:a")) and s["state"] == "paused_budget" and s["watcher_pid"] == again.proc.pid,
             what="restarted watcher paused")
    assert (team / "runs-p-a").read_text() == runs_before
    # `wake` (SIGUSR1) resumes at once, for the rest of the day.
    b.signal(signal.SIGUSR1)
    wait_for(lambda: (s := state(team, "p:b")) and s["state"] == "running", what="b woken")
    assert len(rows(team, "SELECT * FROM messages")) == 2


def _alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


class FastClock:
    """Wall clock starting at `start`, running `speed` times faster than real time."""

    def __init__(self, start: float, speed: float) -> None:
        import time

        self._t0 = time.monotonic()
        self._start = start
        self._speed = speed
        self._time = time

    def wall(self) -> float:
        return self._start + (self._time.monotonic() - self._t0) * self._speed

    def mono(self) -> float:
        return (self._time.monotonic() - self._t0) * self._speed


def test_paused_agent_resumes_by_itself_when_the_day_rolls_over(tmp_path, monkeypatch):
    team_dir = make_team(tmp_path, {"a": "    restart: on-failure\n"}, BUDGET)
    team = load_compose(str(team_dir))
    tz = ZoneInfo("Europe/Berlin")
    monkeypatch.setenv("PATH", f"{FAKES}:{__import__('os').environ['PATH']}")
    monkeypatch.setenv("FAKE_RUNS_FILE", str(tmp_path / "runs"))
    settings = settings_for_agent(team, team.agent("p:a"), [
        "fake_agent.py", "1@" + COST.format(usd="0.75"), "1@hang", "2@print:next-day", "exit:0"])
    # five real seconds before midnight (300 s at speed 60): a loaded machine starting the fake runtime
    # late must not move its cost line into the next day (a cap there would wait a whole day)
    start = datetime(2026, 11, 27, 23, 55, 0, tzinfo=tz).timestamp()
    out = tmp_path / "out"
    with open(out, "wb") as fh:
        code = AgentWatch(settings, clock=FastClock(start, speed=60), stdin_fd=_devnull(),
                          stdout_fd=fh.fileno()).run()
    assert code == 0
    assert b"next-day" in out.read_bytes()
    with Store(team.mailbox_path) as store:
        day1 = store.query("SELECT observed_at FROM budget")[0]["observed_at"]
        assert datetime.fromtimestamp(day1, tz).day == 27
        st = store.agent_state("p:a")
        assert st.state == "stopped" and st.restarts >= 0


def _devnull() -> int:
    import os

    return os.open(os.devnull, os.O_RDONLY)


def test_budget_command_shows_spend_limits_and_share(tmp_path):
    team_dir = make_team(tmp_path, {"a": "", "b": ""}, BUDGET)
    team = load_compose(str(team_dir))
    now = datetime.now().timestamp()
    with Store(team.mailbox_path) as store:
        store.record_budget("p", "p:a", "claude-code", 0.2, 1000, 200, now)
        store.record_budget("p", "p:b", "claude-code", 0.05, 48213, 12300, now)
        store.record_budget("p", "p:a", "claude-code", 1.0, 10, 10, now - 3 * 86400)
    result = CliRunner().invoke(cli, ["budget", "-C", str(team_dir), "--since", "today"])
    assert result.exit_code == 0, result.output
    assert "0.2500" in result.output and "50%" in result.output and "$0.50" in result.output
    result = CliRunner().invoke(cli, ["budget", "-C", str(team_dir), "--by-agent", "--json"])
    data = __import__("json").loads(result.output)
    assert {(d["agent"], round(d["usd"], 2)) for d in data} >= {("p:a", 0.2), ("p:b", 0.05), ("p:a", 1.0)}


def test_tokens_without_price_use_the_price_table_and_cached_tokens_are_not_added_twice():
    prices = load_prices()
    sonnet = prices["claude-sonnet-4-5"]
    assert tokens_to_usd(sonnet, 1_000_000, 0) == pytest.approx(3.0)
    assert tokens_to_usd(sonnet, 1_000_000, 0, cached_tok=1_000_000) == pytest.approx(0.3)
    assert tokens_to_usd(sonnet, 0, 1_000_000) == pytest.approx(15.0)


def test_cap_check_counts_the_day_in_the_budget_zone(tmp_path):
    tz = ZoneInfo("Asia/Tokyo")
    with Store(tmp_path / "m.db") as store:
        late = datetime(2026, 11, 27, 23, 30, tzinfo=tz).timestamp()
        store.record_budget("p", "p:a", "x", 0.6, 0, 0, late - 86400 * 0.5)  # 11:30 the same local day
        store.record_budget("p", "p:a", "x", 0.6, 0, 0, late - 86400)  # yesterday
        caps = Caps(per_project=MappingProxyType({"p": 1.0}), tz=tz)
        check = check_caps(store, caps, "p", late)
        assert check.project_spend == pytest.approx(0.6) and check.capped is None
        store.record_budget("p", "p:a", "x", 0.5, 0, 0, late)
        check = check_caps(store, caps, "p", late)
        assert check.capped and check.until == datetime(2026, 11, 28, 0, 0, tzinfo=tz).timestamp()
        assert timedelta(seconds=check.until - late) == timedelta(minutes=30)


def test_real_cost_lines_become_exact_budget_rows_across_a_respawn(root, watchers):
    from watchkit import rows, start

    # Claude Code's /cost report (a running session total) printed three times, a crash, and the
    # respawn resuming the same session (its total goes on from the old one).
    total = "print:  Session\\n  Total cost:            ${}"  # the total counts under the panel's heading
    steps = [f"1@{total.format('0.10')}", f"1@{total.format('0.10')}", f"1@{total.format('0.25')}", "1@exit:1",
             f"2@{total.format('0.30')}", "2@exit:0"]
    w = start(watchers, root, steps, "--restart", "on-failure", "--backoff-initial", "0.05", "--runtime",
              "claude-code", agent="p:claude")
    assert w.wait(30) == 0
    got = [(r["agent_id"], r["runtime"], round(r["usd"], 6)) for r in rows(root, "SELECT * FROM budget ORDER BY id")]
    assert got == [("p:claude", "claude-code", 0.10), ("p:claude", "claude-code", 0.15),
                   ("p:claude", "claude-code", 0.05)]


def test_tokens_without_a_price_are_priced_from_the_table(root, watchers):
    from watchkit import rows, start

    # Codex prints tokens but no dollars; gpt-5-codex is in patterns/prices.toml ($1.25 in, $10 out,
    # $0.125 cache read per million). Its `input=` excludes the cache reads it prints apart.
    line = "print:Token usage: total=1,532 input=1,200 (+ 8,000 cached) output=332"
    w = start(watchers, root, [line, "exit:0"], "--restart", "never", "--runtime", "codex", "--model",
              "gpt-5-codex", agent="p:codex")
    assert w.wait(30) == 0
    (row,) = rows(root, "SELECT * FROM budget")
    assert (row["input_tok"], row["output_tok"]) == (9200, 332)
    assert row["usd"] == pytest.approx((1200 * 1.25 + 8000 * 0.125 + 332 * 10) / 1e6)
    log = (root / "state" / "logs" / "p-codex.supervisor.log").read_text()
    assert "priced from the price table" in log


def test_a_model_missing_from_the_price_table_records_usd_0_and_says_so_once(caplog):
    from teamctl_supervisor.agent.budget import Pricer
    from teamctl_supervisor.core.costs import Spend

    pricer = Pricer(load_prices())
    tokens_only = Spend(0.0, 1000, 100, priced=False)
    with caplog.at_level("INFO"):
        assert pricer.usd(tokens_only, "some-new-model") == 0.0
        assert pricer.usd(tokens_only, "some-new-model") == 0.0
        assert pricer.usd(tokens_only, "gpt-5") == pytest.approx((1000 * 1.25 + 100 * 10) / 1e6)
        assert pricer.usd(Spend(0.5, 10, 10), "some-new-model") == 0.5  # a CLI's own dollars win
    warnings = [r for r in caplog.records if "no price for model" in r.getMessage()]
    assert len(warnings) == 1
    assert any("priced from the price table" in r.getMessage() for r in caplog.records)

"""The real CLIs under `teamctl rl-watch`, in tmux panes as `teamctl up` runs them, against the fake API.

Each agent meets a usage limit whose reset instant does not fall on a whole minute (the CLIs print it
cut down to the minute), with the default margin. The tests assert the mailbox rows, the reset
against the fake API's truth, what the supervisor did next, and whether the CLI really reached the
API again after the resume or respawn. The agents run at the same time (one module fixture), so the
reset is waited out once for all of them. Every CLI here is the pinned real one; a missing one fails.

One more newest Claude Code (issue 22 item 2) runs beside them with its own auto-continue cancelled
(Esc, as when it fails unattended), so nothing reaches the fake API after the reset by itself. The
watcher must not say "resumed" on the clock: with no model turn by the runtime's deadline (a team
override of the descriptor makes it 8 s) it types the continue keys, the CLI sends a request, the
model's answer lands in the agent's transcript, and only then is "resumed" logged. Its reset falls on
any second, with the margin that covers just the seconds the CLI's clock cuts off: the watcher resumes
half a second after the real reset, and the keys it types are the first thing to reach the API after it.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import teamctl_supervisor
from realcli import claude, codex, gemini
from realcli.fakeapi import FakeAPI
from realcli.watched import WatchedAgent

RESET_IN = 25.3  # seconds: never a whole minute
DEADLINE = 200.0  # reset + the default 60 s margin + a respawn, on a loaded 2-core machine
CANCELLED = "claude-cancelled"  # the newest Claude Code whose own auto-continue is cancelled
CANCELLED_LEAD = 30  # seconds from its start to its reset: it meets the limit and is cancelled before it
RESUME_DEADLINE = 8  # its seconds without a model turn before the first escalation step
#: pytest-timeout's 120 s must not cut the tests' own deadlines short (DEADLINE is 200 s); the module's
#: team starts with the first test, and a loaded machine takes a minute more to reach the resets.
pytestmark = pytest.mark.timeout(420)


class Scenario:
    def __init__(self, api: FakeAPI, agent: WatchedAgent, reset_at: float) -> None:
        self.api, self.agent, self.reset_at = api, agent, reset_at
        self.problem = ""  # what went wrong preparing it (the test that owns it fails with it)


def _last_user_text(body: Any) -> str:
    """The text of the last user message of an Anthropic Messages request body."""
    for message in reversed((body or {}).get("messages", [])):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        texts = [b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text"]
        return texts[-1] if texts else ""
    return ""


def _reset_at() -> float:
    """RESET_IN from now, off a minute's last seconds: the CLIs count the wait in whole seconds, so a
    reset at 7:57:59.4 may be shown as 7:58 (then the row rightly says 7:58, not the minute cut down)."""
    at = time.time() + RESET_IN
    return at + 3 if at % 60 > 57 else at


def _reset_and_margin(earliest: float) -> tuple[float, int]:
    """A reset half a second past a whole second, at or after `earliest`, and the margin that puts
    the watcher's resume (the minute the CLI shows + the margin) half a second after it: the margin
    covers the seconds the CLI's clock cuts off and no more, whatever second of the minute the reset
    falls on. A minute's last seconds are skipped (the CLI may show the next minute)."""
    reset_at = math.ceil(earliest) + 0.5
    if reset_at % 60 > 56:
        reset_at += 5
    return reset_at, int(reset_at % 60) + 1


def _short_deadline_team(root: Path) -> None:
    """The team's own claude-code descriptor: the built-in one with a short resume deadline."""
    builtin = Path(teamctl_supervisor.__file__).parent / "runtimes" / "claude-code.toml"
    text, n = re.subn(r"(?m)^resume_deadline_seconds = \d+$", f"resume_deadline_seconds = {RESUME_DEADLINE}",
                      builtin.read_text())
    assert n == 1
    (root / "runtimes").mkdir(parents=True, exist_ok=True)
    (root / "runtimes" / "claude-code.toml").write_text(text)


def _start_cancelled(tmp: Path, api: FakeAPI) -> Scenario:
    reset_at, margin = _reset_and_margin(time.time() + CANCELLED_LEAD)
    api.set_limit("usage_limit", reset_at, claim="five_hour")
    home = tmp / CANCELLED
    env = claude.prepare(home, api.base_url, claude.NEWEST, trust=True)
    root = tmp / f"team-{CANCELLED}"
    _short_deadline_team(root)
    agent = WatchedAgent(root, "cc", "claude-code", claude.argv(claude.NEWEST, "hi"), env, home / "work",
                         "--margin", str(margin))
    return Scenario(api, agent, reset_at)


def _cancel_its_auto_continue(s: Scenario) -> None:
    """At its limit, once the watcher has seen the CLI say it goes on by itself, press Esc (before the reset)."""
    a = s.agent
    a.wait_for(a.hits, 90, "the rate-limit row")
    a.wait_for(lambda: "typing nothing" in a.log(), 30, "the CLI's own auto-continue noticed")
    assert "resumed the session" not in a.log()
    a.send("Escape")  # its own auto-continue cancelled: it will not go on by itself
    a.wait_for(lambda: "Automatic continue cancelled" in a.screen(), 20, "its auto-continue cancelled")
    assert time.time() < s.reset_at, "cancelled after the reset"


def _row_says_running(agent: WatchedAgent) -> Any:
    """The state row once it says running. The watcher logs a change at once and its journal commits
    the row a moment later (the relay never waits on the mailbox): a row read right after the log
    line may still hold the state before, so the test waits for it (and a state that never comes fails)."""
    return agent.wait_for(lambda: (st := agent.state()) is not None and st["state"] == "running" and st,
                          30, "the state row to say running")


def _logged_at(log: str, text: str) -> float | None:
    """When the supervisor's log first says `text` (its lines begin with the local asctime)."""
    for line in log.splitlines():
        if text in line:
            return datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp()
    return None


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Scenario]]:
    tmp = tmp_path_factory.mktemp("realcli-watch")
    started: dict[str, Scenario] = {}
    apis: list[FakeAPI] = []
    try:
        apis.append(FakeAPI().start())
        started[CANCELLED] = _start_cancelled(tmp, apis[-1])
        for version in claude.VERSIONS:  # argv carries the prompt; the trust dialog comes first
            api = FakeAPI().start()
            apis.append(api)
            reset_at = _reset_at()
            api.set_limit("usage_limit", reset_at, claim="five_hour")
            home = tmp / f"claude-{version}"
            env = claude.prepare(home, api.base_url, version, trust=False)
            agent = WatchedAgent(tmp / f"team-claude-{version}", "cc", "claude-code", claude.argv(version, "hi"),
                                 env, home / "work")
            started[f"claude-{version}"] = Scenario(api, agent, reset_at)
        for name, module in (("codex", codex), ("gemini", gemini)):
            api = FakeAPI().start()
            apis.append(api)
            work = tmp / f"{name}-work"
            work.mkdir()
            env = codex.prepare(tmp / f"{name}-home", api.base_url, cwd=work) if module is codex \
                else gemini.prepare(tmp / f"{name}-home", api.base_url)
            agent = WatchedAgent(tmp / f"team-{name}", name[:2], name, module.argv(), env, work)
            started[name] = Scenario(api, agent, 0.0)
        try:  # before its reset, while the others start
            _cancel_its_auto_continue(started[CANCELLED])
        except AssertionError as e:
            started[CANCELLED].problem = str(e)
        for name in ("codex", "gemini"):  # type the prompt once the TUI takes keys
            s = started[name]
            ready = "›" if name == "codex" else "Type your message"
            s.agent.wait_for(lambda s=s, ready=ready: ready in s.agent.screen(), 60, f"{name}'s prompt")
            s.reset_at = _reset_at()
            s.api.set_limit("usage_limit", s.reset_at)
            s.agent.send("hi", literal=True)
            typed = "› hi" if name == "codex" else "> hi"
            s.agent.wait_for(lambda s=s, typed=typed: typed in s.agent.screen(), 20, f"{name} to show the prompt")
            s.agent.press_enter_until(s.api.model_requests)
        yield started
    finally:
        for s in started.values():
            s.agent.close()
        for api in apis:
            api.stop()


def _one_hit_at_the_rounded_reset(s: Scenario) -> Any:
    hits = s.agent.wait_for(s.agent.hits, 60, "the rate-limit row")
    assert len(hits) == 1, [dict(h) for h in hits]
    hit = hits[0]
    # the CLI shows the reset cut down to the minute: the row says that minute, never the next day
    assert hit["resets_at"] == math.floor(s.reset_at / 60) * 60, (hit["resets_at"], s.reset_at)
    return hit


@pytest.mark.parametrize("version", claude.VERSIONS)
def test_claude_trust_dialog_is_answered_yes_and_the_limit_recorded(team: dict[str, Scenario], version: str) -> None:
    s = team[f"claude-{version}"]
    hit = _one_hit_at_the_rounded_reset(s)  # a request reached the API: the trust dialog was answered "yes"
    assert "hit your" in hit["raw_match"]
    assert "answered" in s.agent.log() and "cc-trust-yes-focused" in s.agent.log()
    scope = s.agent.rows("SELECT action FROM supervisor_limit_scope")
    assert [r["action"] for r in scope] == ["resume"]  # the session is kept


def test_claude_newest_waits_in_place_and_the_supervisor_types_nothing(team: dict[str, Scenario]) -> None:
    s = team[f"claude-{claude.NEWEST}"]
    _one_hit_at_the_rounded_reset(s)
    s.agent.wait_for(lambda: "typing nothing" in s.agent.log(), 30, "the CLI's own auto-continue noticed")
    ok = s.agent.wait_for(lambda: s.api.answered_ok(since=s.reset_at), DEADLINE, "the CLI's own retry after the reset")
    assert all(_last_user_text(r.body) != "continue" for r in ok)  # nothing typed into it
    s.agent.wait_for(lambda: "resumed the session" in s.agent.log(), DEADLINE, "the resume confirmed")
    state = _row_says_running(s.agent)
    assert state["restarts"] == 0 and len(s.agent.hits()) == 1


def test_claude_waiting_in_place_with_no_request_after_the_reset_is_driven_to_one(team: dict[str, Scenario]) -> None:
    s = team[CANCELLED]
    agent, api, reset_at = s.agent, s.api, s.reset_at
    assert not s.problem, s.problem
    ok = agent.wait_for(lambda: api.answered_ok(since=reset_at), 120 + 3 * RESUME_DEADLINE,
                        "a request after the reset")
    assert _last_user_text(ok[0].body) == "continue"  # driven by the watcher's keys, not its own retry
    log = agent.wait_for(lambda: (text := agent.log()) and "resumed the session" in text and text, 60,
                         "resumed, on evidence")
    typed = _logged_at(log, "typing the continue keys")
    resumed = _logged_at(log, "resumed the session: model turn seen (claude-transcript)")
    assert typed is not None and resumed is not None, log[-3000:]
    assert reset_at < typed < resumed  # nothing said on the clock, only after the turn
    assert typed <= ok[0].t <= resumed, (typed, ok[0].t, resumed)  # keys, request, then "resumed"
    assert log.count("resumed the session") == 1
    _row_says_running(agent)
    assert len(agent.hits()) == 1
    assert not api.model_requests(since=reset_at - 0.5)[0].t < typed  # no request of its own after the reset


def test_claude_2_1_197_menu_answered_stop_and_wait_then_continue_reaches_the_api(team: dict[str, Scenario]) -> None:
    s = team["claude-2.1.197"]
    _one_hit_at_the_rounded_reset(s)
    s.agent.wait_for(lambda: "cc2-limit-menu answered" in s.agent.log(), 30, "the limit menu answered")
    ok = s.agent.wait_for(lambda: s.api.answered_ok(since=s.reset_at), DEADLINE, "a request after the reset")
    assert _last_user_text(ok[0].body) == "continue"  # typed at the prompt, not into the menu
    s.agent.wait_for(lambda: "resumed the session" in s.agent.log(), DEADLINE, "the resume confirmed")
    _row_says_running(s.agent)
    assert len(s.agent.hits()) == 1


@pytest.mark.parametrize("name", ["codex", "gemini"])
def test_stop_limit_respawns_after_the_reset_and_replayed_history_is_no_new_hit(team: dict[str, Scenario],
                                                                                name: str) -> None:
    s = team[name]
    hit = _one_hit_at_the_rounded_reset(s)
    assert [r["action"] for r in s.agent.rows("SELECT action FROM supervisor_limit_scope")] == ["stop"]
    respawned = s.agent.wait_for(lambda: (st := s.agent.state()) and st["restarts"] >= 1 and st["state"] == "running"
                                 and st, DEADLINE, "the respawn with resume")
    handled = s.agent.rows("SELECT handled_at FROM rate_limits")[0]["handled_at"]
    assert handled >= s.reset_at  # the default margin covered the minute rounding
    assert respawned["pid"]
    # the resumed session redraws its history, limit line included: still one hit, no new wait
    if name == "codex":  # `codex resume --last` redraws the old limit line
        s.agent.wait_for(lambda: "redrawn from history" in s.agent.log(), 30, "the replayed limit line seen")
    assert s.agent.state()["state"] == "running"
    assert len(s.agent.hits()) == 1 and s.agent.hits()[0]["id"] == hit["id"]

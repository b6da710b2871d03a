"""The real CLIs under `teamctl rl-watch`, in tmux panes as `teamctl up` runs them, against the fake API.

Each agent meets a usage limit whose reset instant does not fall on a whole minute (the CLIs print it
cut down to the minute), with the default margin. The tests assert the mailbox rows, the reset
against the fake API's truth, what the supervisor did next, and whether the CLI really reached the
API again after the resume or respawn. The agents run at the same time (one module fixture), so the
reset is waited out once for all of them. Every CLI here is the pinned real one; a missing one fails.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from typing import Any

import pytest
from realcli import claude, codex, gemini
from realcli.fakeapi import FakeAPI
from realcli.watched import WatchedAgent

RESET_IN = 25.3  # seconds: never a whole minute
DEADLINE = 200.0  # reset + the default 60 s margin + a respawn, on a loaded 2-core machine


class Scenario:
    def __init__(self, api: FakeAPI, agent: WatchedAgent, reset_at: float) -> None:
        self.api, self.agent, self.reset_at = api, agent, reset_at


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


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Scenario]]:
    tmp = tmp_path_factory.mktemp("realcli-watch")
    started: dict[str, Scenario] = {}
    apis: list[FakeAPI] = []
    try:
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
    state = s.agent.state()
    assert state["state"] == "running" and state["restarts"] == 0
    assert len(s.agent.hits()) == 1


def test_claude_2_1_197_menu_answered_stop_and_wait_then_continue_reaches_the_api(team: dict[str, Scenario]) -> None:
    s = team["claude-2.1.197"]
    _one_hit_at_the_rounded_reset(s)
    s.agent.wait_for(lambda: "cc2-limit-menu answered" in s.agent.log(), 30, "the limit menu answered")
    ok = s.agent.wait_for(lambda: s.api.answered_ok(since=s.reset_at), DEADLINE, "a request after the reset")
    assert _last_user_text(ok[0].body) == "continue"  # typed at the prompt, not into the menu
    s.agent.wait_for(lambda: "resumed the session" in s.agent.log(), DEADLINE, "the resume confirmed")
    assert s.agent.state()["state"] == "running" and len(s.agent.hits()) == 1


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

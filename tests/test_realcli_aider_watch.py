"""The real aider (aider-chat 0.86.2) under `teamctl rl-watch` at a provider quota, against the fake API.

aider retries a 429 by itself ("Retrying in 0.2 seconds...") and wraps the quota text at 80 columns,
so the quota (a stop: no retry brings it back) once read as aider's own retry (record only) and the
agent sat at its prompt with no quota left. Here it runs as `teamctl up` runs it, in an 80x24 tmux
pane (interactive, the prompt typed), and headless (`--message`), both at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from realcli import aider
from realcli.fakeapi import FakeAPI
from realcli.watched import WatchedAgent


@pytest.fixture(scope="module")
def agents(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("realcli-aider-watch")
    started: dict[str, Any] = {}
    try:
        for name, extra in (("tui", ()), ("headless", ("--message", "hi", "--yes"))):
            api = FakeAPI().start()
            api.set_limit("quota")
            env = aider.prepare(tmp / f"{name}-home", api.base_url)
            agent = WatchedAgent(tmp / f"team-{name}", name, "aider", aider.argv(*extra), env,
                                 tmp / f"{name}-home" / "work", size=(80, 24))
            started[name] = (api, agent)
        api, agent = started["tui"]
        agent.wait_for(lambda: ">" in [line.rstrip() for line in agent.screen().splitlines()], 90, "aider's prompt")
        agent.send("hi", literal=True)
        agent.wait_for(lambda: "> hi" in agent.screen(), 20, "the typed prompt")
        assert agent.press_enter_until(api.model_requests), f"no model request\n{agent.screen()}"
        yield started
    finally:
        for api, agent in started.values():
            agent.close()
            api.stop()


@pytest.mark.parametrize("name", ["tui", "headless"])
def test_aider_at_a_quota_is_stopped_for_it_not_left_retrying(agents: dict[str, Any], name: str) -> None:
    api, agent = agents[name]
    hits = agent.wait_for(agent.hits, 90, "the quota row")
    agent.wait_for(lambda: (agent.state() or {"state": ""})["state"] == "rate_limited", 60, "the agent stopped")
    assert [h["runtime"] for h in hits] == ["aider"] and len(hits) == 1  # aider's own retries add no rows
    assert "current quota" in " ".join(hits[0]["raw_match"].split())  # the wrapped text, either half
    assert "rate limit hit (aider-quota-" in agent.log() and ", stop)" in agent.log()
    assert [r["action"] for r in agent.rows("SELECT action FROM supervisor_limit_scope")] == ["stop"]
    state = agent.state()
    assert state["pid"] is None and state["until"] > hits[0]["hit_at"]  # runtime ended; waits, then respawns
    assert api.model_requests() and all(r.answered == "quota" and r.status == 429 for r in api.model_requests())

"""The real qwen-code (@qwen-code/qwen-code 0.24.4) under `teamctl rl-watch`, headless, at a provider quota.

At an OpenAI insufficient_quota 429, `qwen -p` is silent for about 95 s of quick retries, then prints
`Retrying in 60s (attempt 1/10): [API Error: 429 You exceeded your current quota, ...]` and goes on
retrying, 60 s, 120 s, ..., for ten attempts: hours with no quota. Read as its own retry (record
only, the line once matched nothing at all) the agent would sit there; it is a stop. The fake provider
sends retry-after-ms with its 429, as some OpenAI-compatible providers do: qwen-code's quick retries
then take a second, and the same `Retrying in ...: [API Error: 429 ...]` line follows.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from realcli import qwen
from realcli.fakeapi import FakeAPI
from realcli.watched import WatchedAgent


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FakeAPI, WatchedAgent]]:
    tmp = tmp_path_factory.mktemp("realcli-qwen-watch")
    api = FakeAPI().start()
    # the provider says when to retry (retry-after-ms, which qwen-code's own backoff honours): its quick
    # retries pass in a second instead of the ~95 s of its default backoff, then comes the same line
    api.set_limit("quota", headers={"retry-after-ms": "100"})
    env = qwen.prepare(tmp / "home", api.base_url)
    agent = WatchedAgent(tmp / "team", "qw", "qwen-code", qwen.argv("-p", "hi"), env, tmp / "home" / "work")
    try:
        yield api, agent
    finally:
        agent.close()
        api.stop()


def test_qwen_headless_at_a_quota_is_stopped_for_it_not_left_to_its_own_retries(agent: Any) -> None:
    api, w = agent
    hits = w.wait_for(w.hits, 180, "the quota row")
    w.wait_for(lambda: (w.state() or {"state": ""})["state"] == "rate_limited", 60, "the agent stopped")
    assert len(hits) == 1 and hits[0]["runtime"] == "qwen-code"
    assert "[API Error: 429 You exceeded your current quota" in hits[0]["raw_match"]
    assert "rate limit hit (qwen-api-quota, stop)" in w.log()
    assert [r["action"] for r in w.rows("SELECT action FROM supervisor_limit_scope")] == ["stop"]
    state = w.state()
    assert state["pid"] is None and state["until"] > hits[0]["hit_at"]
    assert api.model_requests() and all(r.answered == "quota" and r.status == 429 for r in api.model_requests())

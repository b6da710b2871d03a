"""The real Gemini CLI (@google/gemini-cli 0.61.0) retrying silently behind its spinner is a stall.

At a 503 "The model is overloaded" the CLI retries by itself with backoff while it shows only
`⠙ Thinking... (esc to cancel, 41s)`: spinner and seconds redrawn, nothing new. With the descriptor's
`[stall] seconds` (here 8, the built-in 300 s would make a slow test) the watcher marks the agent
`stalled since …` in its state and `status`, logs it, and (action record) leaves the CLI running;
the CLI's next retry redraws the same frame, and the agent stays stalled.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from realcli import gemini
from realcli.fakeapi import FakeAPI
from realcli.watched import WatchedAgent
from teamctl_supervisor.core.descriptors.loader import BUILTIN_DIR


@pytest.fixture(scope="module")
def stalled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FakeAPI, WatchedAgent]]:
    tmp = tmp_path_factory.mktemp("realcli-gemini-stall")
    api = FakeAPI().start()
    root = tmp / "team"
    (root / "runtimes").mkdir(parents=True)
    descriptor = (BUILTIN_DIR / "gemini.toml").read_text() + "\n[stall]\nseconds = 8\n"
    (root / "runtimes" / "gemini.toml").write_text(descriptor)
    work = tmp / "work"
    work.mkdir()
    agent = WatchedAgent(root, "ge", "gemini", gemini.argv(), gemini.prepare(tmp / "home", api.base_url), work)
    try:
        agent.wait_for(lambda: "Type your message" in agent.screen(), 90, "Gemini's prompt")
        api.set_limit("overload")
        agent.send("hi", literal=True)
        agent.wait_for(lambda: "> hi" in agent.screen(), 20, "the typed prompt")
        assert agent.press_enter_until(api.model_requests), f"no model request\n{agent.screen()}"
        yield api, agent
    finally:
        agent.close()
        api.stop()


def test_gemini_retrying_an_overload_behind_its_spinner_is_shown_as_stalled(stalled: Any) -> None:
    api, w = stalled
    state = w.wait_for(lambda: (s := w.state()) and (s["detail"] or "").startswith("stalled since") and s, 150,
                       "the stall noticed")
    assert state["state"] == "running" and state["pid"] and state["restarts"] == 0  # record: the CLI keeps going
    assert "Thinking..." in w.screen()
    assert "stalled: no new output for" in w.log()
    assert w.hits() == []  # a stall is no rate-limit row
    assert api.model_requests() and {r.answered for r in api.model_requests()} == {"overload"}
    # the CLI's own retry, and its spinner three seconds on: the redraws are the same frame in other
    # pieces (under load, two frames in one read or half of one), so the agent is still stalled
    tried = len(api.model_requests())
    w.wait_for(lambda: len(api.model_requests()) > tried, 60, "the CLI's own retry")
    at = spinner_seconds(w.screen())
    w.wait_for(lambda: spinner_seconds(w.screen()) >= at + 3, 30, "the spinner three seconds on")
    assert (w.state()["detail"] or "").startswith("stalled since"), w.log()[-2000:]
    assert "no longer stalled" not in w.log()
    out = subprocess.run([sys.executable, "-m", "teamctl_supervisor", "status", "-C", str(w.root)],
                         capture_output=True, text=True, timeout=30, env={**os.environ, "TEAMCTL_ROOT": ""})
    assert "stalled since" in out.stdout, out.stdout + out.stderr


def spinner_seconds(screen: str) -> int:
    """The seconds Gemini's spinner shows (`Thinking... (esc to cancel, 1m 5s)`), -1 if none."""
    found = re.search(r"esc to cancel, (?:(\d+)m )?(\d+)s\)", screen)
    return -1 if not found else int(found.group(1) or 0) * 60 + int(found.group(2))

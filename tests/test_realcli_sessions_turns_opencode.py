"""Model turns read from opencode's session database (issue 22, "resumed" on evidence).

The real opencode (opencode-linux-x64 1.19.5), `opencode run` against the fake API under the session its
agent's SessionKeeper learned from the database: an answered run is a turn of the agent's own session;
a resumed run whose request is refused (opencode records the error in the session) is none; the next
answered run is one again. Another session's answers in the same database are never this agent's.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from realcli import opencode
from realcli.fakeapi import FakeAPI
from realcli.keeper_runs import runner
from teamctl_supervisor.agent.sessions import SessionKeeper
from teamctl_supervisor.core.descriptors.loader import load_runtime


# three `opencode run`s one after another (each ~10 s of CPU: about 50 s on a quiet 2-core machine running the
# suite); each run has its own 90 s deadline (keeper_runs.runner), so the whole may need more than the default 120 s
@pytest.mark.timeout(360)
def test_a_turn_is_read_from_the_agents_own_session_in_the_database_and_a_refused_run_is_none(
        tmp_path: Path) -> None:
    home = tmp_path / "home"
    with FakeAPI(reply_text="Hello from the fake API.") as api:
        env = opencode.prepare(home, api.base_url)
        keeper = SessionKeeper(load_runtime("opencode"), tmp_path / "state", "p-a", env)
        watch = keeper.turns
        assert watch.kind == "opencode-store"
        run = runner(keeper, lambda prompt: opencode.argv("run", prompt), env, home / "work")
        assert run("first-7731") == 0 and keeper.session_id
        first = watch.proof
        assert first is not None and first.source == "opencode-store"
        # a refusal opencode does not wait out (no retry-after): it puts the error in the session and exits
        refused_at = time.time()  # after run 1 has ended: its side requests are all in
        api.set_limit("quota", time.time() + 3600, headers={"retry-after": "0", "retry-after-ms": "0"})
        assert run("second-4402") != 0
        assert api.model_requests(refused_at) and not api.answered_ok(refused_at)
        assert watch.proof is None and watch.last is first  # the resumed history and its error are no turn
        api.clear_limit()
        other = SessionKeeper(load_runtime("opencode"), tmp_path / "state", "p-b", env)
        assert runner(other, lambda prompt: opencode.argv("run", prompt), env, home / "work")("other-1") == 0
        assert keeper.poll_turns() is None and watch.last is first  # another agent's session answered
        t = time.time()
        assert run("third-5519") == 0
        third = watch.proof
        assert third is not None and third.at >= t
        asked = [text for r in api.answered_ok(t) if "third-5519" in (text := json.dumps(r.body))]
        assert asked and "first-7731" in asked[0] and "other-1" not in asked[0]

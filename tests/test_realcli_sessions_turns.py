"""Model turns read from the session files of Gemini CLI and qwen-code (issue 22, "resumed" on evidence).

The real CLIs, headless, against the fake API, each under the session its agent's SessionKeeper
chose (the argv `teamctl` builds). A run the model answers is a turn in the agent's own chat file;
a resume that starts, rewrites the history it loaded and is refused is none; the next answered
run is one again, in the same conversation.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import ModuleType

import pytest
from realcli import gemini, qwen
from realcli.fakeapi import FakeAPI
from realcli.keeper_runs import runner
from teamctl_supervisor.agent.sessions import SessionKeeper
from teamctl_supervisor.core.descriptors.loader import load_runtime


# a refusal the CLI does not retry: Gemini CLI 0.61.0 stops at a daily quota; qwen-code 0.24.4 retries any
# 429 but fails fast on a 403 (tests/realcli/notes/qwen.md, "Limits and retries")
@pytest.mark.parametrize(("runtime", "module", "kind", "refusal"), [
    ("gemini", gemini, "gemini-chat", {}),
    ("qwen-code", qwen, "qwen-chat", {"status": 403}),
])
def test_a_turn_is_read_from_the_agents_own_chat_file_and_a_start_that_meets_a_refusal_is_none(
        runtime: str, module: ModuleType, kind: str, refusal: dict[str, int], tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    with FakeAPI(reply_text="Hello from the fake API.") as api:
        env = module.prepare(tmp_path / "home", api.base_url)
        keeper = SessionKeeper(load_runtime(runtime), tmp_path / "state", "p-a", env)
        watch = keeper.turns
        assert watch.kind == kind
        run = runner(keeper, lambda prompt: module.argv("-p", prompt), env, work)
        assert run("first-7731") == 0
        first = watch.proof
        assert first is not None and first.source == kind and watch.last is first
        refused_at = time.time()  # after run 1 has ended: its side requests are all in
        api.set_limit("quota", time.time() + 3600, **refusal)
        assert run("second-4402") != 0  # resumed: the CLI loads and rewrites its history, then is refused
        assert api.model_requests(refused_at) and not api.answered_ok(refused_at)
        assert watch.proof is None and watch.last is first  # no turn: the old answers are not new
        api.clear_limit()
        t = time.time()
        assert run("third-5519") == 0
        third = watch.proof
        assert third is not None and third.source == kind and third.at >= t
        asked = [text for r in api.answered_ok(t) if "third-5519" in (text := json.dumps(r.body))]
        assert any("first-7731" in text for text in asked)  # its own conversation, resumed

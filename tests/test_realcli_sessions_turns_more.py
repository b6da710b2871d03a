"""Model turns read from the session files of Copilot CLI, droid and aider (issue 22, "resumed" on evidence).

The real CLIs, headless, against the fake API, each under the session its agent's SessionKeeper chose or
learned (the argv `teamctl` builds): Copilot CLI 1.0.102 `-p` (its events.jsonl), droid 0.225.2 `exec`
(its session .jsonl), aider 0.86.2 `--message` (the chat history in the agent's session folder). See
realcli.keeper_runs.turn_cycle for the three runs and what each must show.
"""

from __future__ import annotations

from pathlib import Path

from realcli import aider, copilot, droid
from realcli.fakeapi import FakeAPI
from realcli.keeper_runs import runner, turn_cycle
from teamctl_supervisor.agent.sessions import SessionKeeper
from teamctl_supervisor.core.descriptors.loader import load_runtime

REPLY = "Hello from the fake API."


def _keeper(runtime: str, tmp_path: Path, env: dict[str, str], kind: str) -> SessionKeeper:
    keeper = SessionKeeper(load_runtime(runtime), tmp_path / "state", "p-a", env)
    assert keeper.turns.kind == kind
    return keeper


def test_copilot_turns_are_read_from_its_session_events(tmp_path: Path) -> None:
    copilot.package_dir()
    with FakeAPI(reply_text=REPLY) as api:
        env = copilot.prepare(tmp_path / "home", api.base_url)
        keeper = _keeper("copilot", tmp_path, env, "copilot-events")
        run = runner(keeper, lambda p: copilot.argv("-p", p, "--allow-all-tools"), env, tmp_path / "home" / "work")
        turn_cycle(keeper, run, api, {"status": 401})


def test_droid_turns_are_read_from_its_session_file(tmp_path: Path) -> None:
    with FakeAPI(reply_text=REPLY) as api:
        env = droid.prepare(tmp_path / "home", api.base_url)
        keeper = _keeper("droid", tmp_path, env, "droid-chat")
        run = runner(keeper, lambda p: droid.argv("exec", "-m", droid.MODEL_ID, p), env, tmp_path / "home" / "work")
        turn_cycle(keeper, run, api, {"status": 402})  # droid exec does not retry a 402 (its BYOK quota)


def test_aider_turns_are_read_from_the_agents_own_chat_history(tmp_path: Path) -> None:
    with FakeAPI(reply_text=REPLY) as api:
        env = aider.prepare(tmp_path / "home", api.base_url)
        keeper = _keeper("aider", tmp_path, env, "aider-chat")
        base = [a for a in aider.argv(base_url=api.base_url) if a != "--no-restore-chat-history"]
        run = runner(keeper, lambda p: [*base, "--yes", "--message", p], env, tmp_path / "home" / "work")
        turn_cycle(keeper, run, api, {"status": 401})  # aider retries a 429 for a minute, not a 401

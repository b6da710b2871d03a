"""Evidence of a new model turn (issue 22, item 2): the session file's model rows, and new words on
screen that are not a redraw, a spinner, a limit line or our own keys. The last tests run the real
Claude Code and Codex against the fake API: a resume that reaches the model writes a turn, one that
meets the limit writes none."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from pathlib import Path

from realcli import claude, codex
from realcli.fakeapi import FakeAPI
from teamctl_supervisor.agent.evidence import TurnWatch, model_turn
from teamctl_supervisor.agent.sessions import SessionKeeper
from teamctl_supervisor.core.descriptors.loader import load_runtime

ASSISTANT = {"type": "assistant", "message": {"role": "assistant", "model": "claude-opus-5-5", "content": []}}
SYNTHETIC = {"type": "assistant", "isApiErrorMessage": True,
             "message": {"role": "assistant", "model": "<synthetic>", "content": [{"type": "text",
                         "text": "You've hit your 5-hour limit · resets 1:19am (UTC)"}]}}
USER = {"type": "user", "message": {"role": "user", "content": "continue"}}


def _append(path: Path, *rows: dict) -> None:
    with path.open("a") as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")


def test_model_rows_are_turns_prompts_and_synthetic_errors_are_not() -> None:
    assert model_turn("claude-transcript", ASSISTANT)
    assert not model_turn("claude-transcript", SYNTHETIC)
    assert not model_turn("claude-transcript", USER)
    assert model_turn("codex-rollout", {"type": "response_item", "payload": {"type": "message", "role": "assistant"}})
    assert model_turn("codex-rollout", {"type": "response_item", "payload": {"type": "function_call"}})
    assert not model_turn("codex-rollout", {"type": "response_item", "payload": {"type": "message", "role": "user"}})
    assert not model_turn("codex-rollout", {"type": "event_msg", "payload": {"type": "token_count"}})
    assert not model_turn("unknown", ASSISTANT) and not model_turn("claude-transcript", "text")


def test_history_in_the_file_is_not_a_turn_a_new_model_row_is(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    _append(path, USER, ASSISTANT)  # the earlier conversation
    watch = TurnWatch("claude-transcript")
    watch.arm(100.0, path)
    assert watch.poll(101.0) is None
    _append(path, USER, SYNTHETIC)  # the resume met the limit again: no turn
    assert watch.poll(102.0) is None and watch.proof is None
    with path.open("a") as fh:  # a row written in two pieces is read once it is whole
        text = json.dumps(ASSISTANT)
        fh.write(text[:20])
        fh.flush()
        assert watch.poll(103.0) is None
        fh.write(text[20:] + "\n")
    turn = watch.poll(104.0)
    assert turn is not None and (turn.at, turn.source) == (104.0, "claude-transcript")
    _append(path, ASSISTANT)
    assert watch.poll(105.0) is None  # reported once per arm...
    assert watch.last is not None and watch.last.at == 105.0  # ...while the last activity moves on


def test_a_session_file_found_after_arming_is_read_whole(tmp_path: Path) -> None:
    watch = TurnWatch("codex-rollout")
    watch.arm(1.0, None)
    path = tmp_path / "rollout.jsonl"
    _append(path, {"type": "response_item", "payload": {"type": "message", "role": "assistant"}})
    assert watch.poll(2.0, path) is not None


def test_screen_redraws_spinners_limit_lines_and_typed_keys_are_not_turns() -> None:
    watch = TurnWatch(None)
    banner = b"\x1b[1mWelcome to Claude Code\x1b[0m\r\n> fix the failing tests\r\nWorking on the parser now\r\n"
    watch.screen(banner, 1.0)  # the first session drew these
    watch.arm(10.0, None, typed=["continue\r", "fix the failing tests"])
    assert watch.screen(banner, 11.0) is None  # a respawn redraws the banner and the history
    spinner = TurnWatch(None)
    spinner.screen(b"\r\xe2\xa0\x8b Thinking (2s) \r", 1.0)
    spinner.arm(5.0, None)
    assert spinner.screen(b"\r\xe2\xa0\x99 Thinking (3s) \r", 6.0) is None  # another frame, the same words
    quiet = TurnWatch(None)
    quiet.arm(5.0, None, typed=["continue\r"])
    assert quiet.screen(b"> continue\r\n", 6.0) is None  # our own keys, echoed
    assert quiet.screen(b"You've hit your 5-hour limit resets 1:19am\r\n", 7.0, limit_line=True) is None
    turn = quiet.screen(b"Here is the patch for parser module\r\n", 8.0)
    assert turn is not None and turn.source == "screen" and quiet.proof == turn


# -- the real CLIs ---------------------------------------------------------------------------------

def _session_file(keeper: SessionKeeper) -> Path | None:
    return keeper._file(keeper.session_id) if keeper.session_id else None


def test_real_claude_resume_writes_a_turn_only_when_the_model_answers(tmp_path: Path) -> None:
    with FakeAPI(reply_text="Hello from the fake API.") as api:
        env = claude.prepare(tmp_path / "home", api.base_url, trust=True)
        sid = str(uuid.uuid4())

        def run(*args: str) -> int:
            return subprocess.run(claude.argv(claude.NEWEST, "-p", *args), env=env, cwd=tmp_path / "home" / "work",
                                  capture_output=True, text=True, timeout=90, stdin=subprocess.DEVNULL).returncode

        assert run("first", "--session-id", sid) == 0
        path = next((tmp_path / "home" / ".claude" / "projects").glob(f"*/{sid}.jsonl"))
        watch = TurnWatch("claude-transcript")
        watch.arm(time.time(), path, typed=["continue"])
        api.set_limit("usage_limit", time.time() + 3600, claim="five_hour")
        assert run("continue", "--resume", sid) == 1  # the limit again: the CLI wrote its error turn only
        assert watch.poll(time.time()) is None
        api.clear_limit()
        assert run("continue", "--resume", sid) == 0
        turn = watch.poll(time.time())
        assert turn is not None and turn.source == "claude-transcript"


def test_real_codex_resume_by_its_captured_id_writes_a_turn(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    with FakeAPI(reply_text="Hello from the fake API.") as api:
        env = codex.prepare(tmp_path / "home", api.base_url, cwd=work)
        keeper = SessionKeeper(load_runtime("codex"), tmp_path / "state", "p-a", env)
        choice = keeper.choose()
        assert choice is not None and choice.id is None
        from teamctl_supervisor.agent import launch

        def run(prompt: str) -> int:
            argv = launch.argv(keeper.runtime, codex.argv("exec", "--skip-git-repo-check", prompt), keeper.choose(),
                               True)
            p = subprocess.Popen(argv, env=env, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                 stdin=subprocess.DEVNULL)
            t0 = time.monotonic()
            keeper.spawned(p.pid)
            code = p.wait(90)
            keeper.ended(code, time.monotonic() - t0)
            return code

        assert run("first") == 0 and keeper.session_id  # learned from the rollout
        watch = TurnWatch("codex-rollout")
        watch.arm(time.time(), _session_file(keeper))
        assert run("second") == 0
        assert watch.poll(time.time()) is not None
        second = [r for r in api.answered_ok() if "second" in json.dumps(r.body)]
        assert second and "first" in json.dumps(second[-1].body)  # the same conversation

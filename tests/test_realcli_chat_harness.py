"""The Chat Completions half of the real-CLI harness, proved with the REAL aider and qwen-code.

aider-chat 0.86.2 and @qwen-code/qwen-code 0.24.4 (tests/realcli/pins.toml) run headless against
the fake API on 127.0.0.1. A missing CLI fails the test (binary() asserts); nothing is skipped.
Every wait is a deadline on the process or on its output, never a fixed sleep.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from realcli import aider, qwen  # noqa: E402
from realcli.fakeapi.server import FakeAPI  # noqa: E402

REPLY = "Hello from the fake API."


@pytest.fixture
def api():
    with FakeAPI(reply_text=REPLY) as fake:
        yield fake


def _run(argv: list[str], env: dict[str, str], cwd: Path, deadline: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=deadline,
                          stdin=subprocess.DEVNULL)


def _until(proc: subprocess.Popen[str], out: Path, needle: str, deadline: float) -> str:
    """Read `out` (the process's output file) until `needle` shows or the deadline passes."""
    end = time.monotonic() + deadline
    text = ""
    while time.monotonic() < end:
        text = out.read_text(errors="replace")
        if needle in text or proc.poll() is not None:
            break
        time.sleep(0.1)
    return out.read_text(errors="replace")


def test_binaries_are_installed():
    assert Path(aider.command()[0]).exists()
    assert Path(qwen.argv()[0]).exists()


def test_aider_message_reaches_the_api_and_prints_tokens_and_cost(api, tmp_path):
    env = aider.prepare(tmp_path, api.base_url)
    p = _run(aider.argv("--message", "hi", "--yes"), env, tmp_path / "work", 45)
    assert p.returncode == 0, p.stderr
    assert REPLY in p.stdout
    # aider-chat 0.86.2 aider/coders/base_coder.py calculate_and_show_tokens_and_cost
    assert "Tokens: " in p.stdout and " sent, " in p.stdout and " received. Cost: $" in p.stdout
    assert " message, $" in p.stdout and " session." in p.stdout
    ok = api.answered_ok()
    assert len(ok) == 1 and ok[0].path == "/v1/chat/completions"
    assert ok[0].body["model"] == aider.MODEL and ok[0].body["stream"] is True
    # offline: only the fake API was asked, and the price table came from our seeded cache
    assert all(r.path.startswith("/v1/") for r in api.requests)


def test_aider_at_quota_prints_the_quota_text(api, tmp_path):
    api.set_limit("quota")
    env = aider.prepare(tmp_path, api.base_url)
    out = tmp_path / "aider.out"
    with out.open("w") as fh:
        proc = subprocess.Popen(aider.argv("--message", "hi", "--yes"), env={**env, "PYTHONUNBUFFERED": "1"},
                                cwd=tmp_path / "work", stdout=fh, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, text=True)
        try:
            text = _until(proc, out, "Retrying in", 40)
        finally:
            proc.kill()
            proc.wait(10)
    flat = " ".join(text.split())  # aider wraps the message at 80 columns when not on a tty
    assert "You exceeded your current quota, please check your plan and billing details." in flat
    # aider-chat 0.86.2 aider/exceptions.py: RateLimitError is retried, with this description
    assert "The API provider has rate limited you. Try again later or check your quotas." in flat
    assert "Retrying in 0.2 seconds..." in text
    assert api.model_requests() and all(r.answered == "quota" and r.status == 429 for r in api.model_requests())


def test_qwen_prompt_reaches_the_api_and_prints_the_reply(api, tmp_path):
    env = qwen.prepare(tmp_path, api.base_url)
    p = _run(qwen.argv("-p", "hi"), env, tmp_path / "work", 45)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == REPLY
    main = api.answered_ok()[0]
    assert main.body["model"] == qwen.MODEL
    assert main.body["stream"] is True and main.body["stream_options"] == {"include_usage": True}
    assert main.headers["user-agent"].startswith("QwenCode/0.24.4")


def test_qwen_json_output_carries_the_api_usage(api, tmp_path):
    env = qwen.prepare(tmp_path, api.base_url)
    p = _run(qwen.argv("-p", "hi", "--output-format", "json"), env, tmp_path / "work", 45)
    assert p.returncode == 0, p.stderr
    events = json.loads(p.stdout)
    result = [e for e in events if e["type"] == "result"][-1]
    assert result["is_error"] is False and result["result"] == REPLY
    assistant = [e for e in events if e["type"] == "assistant"][0]
    u = api.usage
    assert assistant["message"]["usage"] == {"input_tokens": u["input"] + u["cache_read"],
                                             "output_tokens": u["output"],
                                             "cache_read_input_tokens": u["cache_read"],
                                             "total_tokens": u["input"] + u["cache_read"] + u["output"]}
    # the result totals every request of the run (the main turn plus qwen's background ones)
    n = len(api.answered_ok())
    assert result["usage"]["output_tokens"] == n * u["output"]

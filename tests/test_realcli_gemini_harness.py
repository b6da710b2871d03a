"""The real-CLI harness for Gemini CLI (@google/gemini-cli 0.61.0): the real gemini, the fake API.

These tests run the pinned, installed gemini (tests/realcli/install.py); they FAIL when it is
missing. Every wait has a deadline; none sleeps a fixed time.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from realcli import gemini  # noqa: E402
from realcli.fakeapi.server import FakeAPI  # noqa: E402
from realcli.install import binary  # noqa: E402
from teamctl_supervisor.core.descriptors.loader import load_runtime  # noqa: E402
from teamctl_supervisor.core.scan.scanner import EventKind, Scanner  # noqa: E402

DEADLINE = 30  # seconds for one headless run


@pytest.fixture
def api():
    with FakeAPI(reply_text="Hello from the fake Gemini.") as a:
        yield a


def _run(api: FakeAPI, tmp_path: Path, *args: str, timeout: float = DEADLINE) -> subprocess.CompletedProcess[str]:
    home = tmp_path / "home"
    work = home / "work"
    work.mkdir(parents=True, exist_ok=True)
    env = gemini.prepare(home, api.base_url)
    return subprocess.run(gemini.argv(*args), env=env, cwd=work, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def test_gemini_is_installed():
    path = binary("gemini")  # AssertionError (a failure, not a skip) when missing
    out = subprocess.run([str(path), "--version"], capture_output=True, text=True, timeout=DEADLINE,
                         env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "GEMINI_CLI_NO_RELAUNCH": "true"})
    assert out.stdout.strip() == "0.61.0"


def test_prepare_keeps_gemini_on_loopback(tmp_path, api):
    env = gemini.prepare(tmp_path / "h", api.base_url)
    settings = json.loads((tmp_path / "h" / ".gemini" / "settings.json").read_text())
    assert settings["security"]["auth"]["selectedType"] == "gemini-api-key"
    assert settings["telemetry"]["enabled"] is False
    assert settings["privacy"]["usageStatisticsEnabled"] is False
    assert env["GOOGLE_GEMINI_BASE_URL"].startswith("http://127.0.0.1:")
    assert env["HOME"] == str(tmp_path / "h")
    assert not any(k in env for k in ("HTTPS_PROXY", "GOOGLE_API_KEY", "GOOGLE_GENAI_USE_VERTEXAI"))


def test_print_mode_reaches_the_fake_api_and_prints_the_reply(tmp_path, api):
    p = _run(api, tmp_path, "-p", "hi")
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "Hello from the fake Gemini."
    turns = api.answered_ok()
    assert len(turns) == 1 and ":streamGenerateContent" in turns[0].path
    assert turns[0].headers.get("x-goog-api-key") == "fake-gemini-key"
    # the model router's classifier asked first, in JSON mode, and was answered as a side call
    assert any(r.answered == "side" and ":generateContent" in r.path for r in api.requests)


def test_json_output_carries_the_fake_usage(tmp_path, api):
    p = _run(api, tmp_path, "-p", "hi", "--output-format", "json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["response"] == "Hello from the fake Gemini."
    main = [m for m in out["stats"]["models"].values() if "main" in m["roles"]]
    assert len(main) == 1
    tokens = main[0]["tokens"]
    # api.usage = input 1034 (uncached), cache_read 200, output 56; promptTokenCount = 1234
    assert (tokens["prompt"], tokens["cached"], tokens["input"], tokens["candidates"]) == (1234, 200, 1034, 56)


def test_json_output_with_thoughts_is_read_whole_by_the_scanner_thoughts_as_output(tmp_path, api):
    """The pretty-printed document (json_documents) gives each model's tokens; thoughts are output."""
    api.usage = {**api.usage, "thoughts": 20}
    p = _run(api, tmp_path, "-p", "hi", "--output-format", "json")
    assert p.returncode == 0, p.stderr
    scanner = Scanner(load_runtime("gemini"), tz=ZoneInfo("UTC"))
    data = p.stdout.replace("\n", "\r\n").encode()  # as a pty relays it
    events = [e for e in scanner.feed(data) + scanner.finish() if e.kind is EventKind.COST]
    models = {m for m, v in json.loads(p.stdout)["stats"]["models"].items() if v["tokens"]["thoughts"] == 20}
    assert models and {e.model for e in events} == set(json.loads(p.stdout)["stats"]["models"])
    main = [e for e in events if e.model in models]
    assert [(e.input_tokens, e.cached_tokens, e.output_tokens, e.cached_in_input) for e in main] == \
        [(1034, 200, 56 + 20, False)] * len(models)


def test_usage_limit_prints_the_quota_error(tmp_path, api):
    reset_at = time.time() + 3723.4
    api.set_limit("usage_limit", reset_at)
    p = _run(api, tmp_path, "-p", "hi")
    assert p.returncode == 1
    assert p.stdout == ""
    # "Error when talking to Gemini API Full report available at: <path> TerminalQuotaError: <message>"
    assert re.search(r"Error when talking to Gemini API Full report available at: \S+ "
                     r"TerminalQuotaError: Resource has been exhausted \(e\.g\. check quota\)\.", p.stderr), p.stderr
    # the delay the CLI took from RetryInfo: seconds from the answer to one of its requests to the reset,
    # rounded up. The answer comes after the request arrives (seconds later on a loaded machine), and the
    # CLI may ask again after the one it reports: any request, answered up to 10 s after it arrived.
    m = re.search(r"retryDelayMs: (\d+)", p.stderr)
    assert m, p.stderr
    delay, left = int(m.group(1)) / 1000, [reset_at - r.t for r in api.model_requests()]
    assert any(x - 10 <= delay <= x + 1 for x in left), (delay, left)
    assert "An unexpected critical error occurred" in p.stderr
    assert api.answered_ok() == [] and api.model_requests()


def test_daily_quota_in_json_output(tmp_path, api):
    api.set_limit("quota", time.time() + 3723.4)
    p = _run(api, tmp_path, "-p", "hi", "--output-format", "json")
    assert p.returncode != 0
    tail = p.stderr[p.stderr.rindex("\n{"):]  # the JSON error object ends stderr
    err = json.loads(tail)["error"]
    assert err == {"type": "Error", "message": "You have exhausted your daily quota on this model.", "code": 429}


def test_daily_quota_in_stream_json_output(tmp_path, api):
    api.set_limit("quota", time.time() + 3723.4)
    p = _run(api, tmp_path, "-p", "hi", "--output-format", "stream-json")
    events = [json.loads(line) for line in p.stdout.splitlines() if line.strip()]
    assert [e["type"] for e in events] == ["init", "message", "result"]
    result = events[-1]
    assert result["status"] == "error"
    assert result["error"]["message"].startswith("[API Error: You have exhausted your daily quota on this model.]")

"""The real-CLI harness for Claude Code, proven with the real executables (the newest standalone, 2.1.197).

Each test runs the pinned CLI against the fake Anthropic API on 127.0.0.1 in a throwaway HOME. A
missing CLI fails the test (realcli.install.binary asserts); nothing is skipped. Waits are deadlines
(subprocess timeouts, screen polls), never fixed sleeps.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import pytest
from realcli import claude
from realcli.fakeapi import FakeAPI

VERSIONS = pytest.mark.parametrize("version", claude.VERSIONS)

# The limit line both versions print in -p mode (Claude Code 2.1.333/2.1.334 and 2.1.197):
#   2.1.33x: "You've hit your 5-hour limit · resets 12:51am (UTC)"
#   2.1.197: "You've hit your session limit · resets 12:51am (UTC)"
LIMIT_NAME = {claude.NEWEST: "5-hour limit", "2.1.197": "session limit"}
LIMIT_LINE = re.compile(r"You've hit your (?P<name>[\w -]+?) · resets "
                        r"(?P<h>1[0-2]|[1-9])(?::(?P<m>\d\d))?(?P<ampm>am|pm) \((?P<tz>[^)]+)\)")


@pytest.fixture
def api():
    with FakeAPI(reply_text="Hello from the fake API.") as a:
        yield a


def _run(version: str, home: Path, api: FakeAPI, *args: str) -> subprocess.CompletedProcess[str]:
    """One `claude ...` to its end. 90 s: on a loaded machine a Node CLI that has printed its limit
    line took over 30 s more to exit (its output was complete; the run was not stuck)."""
    env = claude.prepare(home, api.base_url, version, trust=True)
    return subprocess.run(claude.argv(version, *args), env=env, cwd=home / "work", capture_output=True, text=True,
                          timeout=90, stdin=subprocess.DEVNULL)


def _clock(reset: float) -> str:
    """How Claude Code shows a reset in UTC: 12-hour clock, minute cut down, ":00" left out."""
    t = time.gmtime(reset)
    h = t.tm_hour % 12 or 12
    return f"{h}{'' if t.tm_min == 0 else f':{t.tm_min:02d}'}{'am' if t.tm_hour < 12 else 'pm'}"


@VERSIONS
def test_print_reaches_fake_api(version, api, tmp_path):
    p = _run(version, tmp_path, api, "-p", "hi")
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "Hello from the fake API."
    (req,) = api.model_requests()
    assert req.path.startswith("/v1/messages") and req.status == 200
    assert any(m["role"] == "user" for m in req.body["messages"])  # 2.1.333 also sends "system" turns
    # the dummy OAuth token reached the fake API as a bearer token, so the CLI runs as a subscriber
    assert req.headers.get("authorization", "").startswith("Bearer ")


@VERSIONS
def test_print_json_carries_fake_usage(version, api, tmp_path):
    p = _run(version, tmp_path, api, "-p", "hi", "--output-format", "json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["type"] == "result" and out["result"] == "Hello from the fake API." and not out["is_error"]
    u = out["usage"]
    assert (u["input_tokens"], u["output_tokens"], u["cache_read_input_tokens"]) == (1034, 56, 200)
    assert out["total_cost_usd"] > 0


@VERSIONS
def test_print_at_limit_prints_limit_line(version, api, tmp_path):
    # an unaligned reset: 37.6 s past a minute, an hour or more from now
    reset = (int(time.time()) // 60 + 70) * 60 + 37.6
    api.set_limit("usage_limit", reset, claim="five_hour")
    p = _run(version, tmp_path, api, "-p", "hi")
    assert p.returncode == 1
    line = p.stdout.strip()
    m = LIMIT_LINE.fullmatch(line)
    assert m, line
    assert m["name"] == LIMIT_NAME[version]
    assert m["tz"] == "UTC"
    assert line == f"You've hit your {LIMIT_NAME[version]} · resets {_clock(reset)} (UTC)"  # minute cut down
    assert [r.answered for r in api.model_requests()] == ["usage_limit"]


@VERSIONS
def test_print_json_at_limit(version, api, tmp_path):
    reset = time.time() + 3 * 3600 + 11.3
    api.set_limit("usage_limit", reset, claim="five_hour")
    p = _run(version, tmp_path, api, "-p", "hi", "--output-format", "json")
    assert p.returncode == 1
    out = json.loads(p.stdout)
    assert out["is_error"] is True and out["api_error_status"] == 429
    assert LIMIT_LINE.fullmatch(out["result"]), out["result"]


@VERSIONS
def test_stream_json_rate_limit_event_has_exact_reset(version, api, tmp_path):
    reset = time.time() + 2 * 3600 + 45.5
    api.set_limit("usage_limit", reset, claim="five_hour")
    p = _run(version, tmp_path, api, "-p", "hi", "--output-format", "stream-json", "--verbose")
    events = [json.loads(line) for line in p.stdout.splitlines() if line.strip()]
    (rl,) = [e for e in events if e["type"] == "rate_limit_event"]
    info = rl["rate_limit_info"]
    assert info["status"] == "rejected" and info["rateLimitType"] == "five_hour"
    assert abs(info["resetsAt"] - reset) <= 1  # the exact epoch, not the minute-rounded clock
    assert events[-1]["type"] == "result" and events[-1]["is_error"] is True


@pytest.mark.timeout(240)  # two runs of the CLI
@VERSIONS
def test_limit_lifts_at_reset(version, api, tmp_path):
    api.set_limit("usage_limit", time.time() + 300, claim="five_hour")  # however slow the CLI's start
    assert _run(version, tmp_path, api, "-p", "hi").returncode == 1
    api.set_limit("usage_limit", time.time() + 0.5, claim="five_hour")  # then the reset comes
    deadline = time.monotonic() + 10
    while api.limit_now() is not None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    p = _run(version, tmp_path, api, "-p", "hi")
    assert p.returncode == 0 and p.stdout.strip() == "Hello from the fake API."
    assert [r.answered for r in api.model_requests()] == ["usage_limit", "ok"]


@VERSIONS
def test_trust_dialog_answered_yes_in_tmux(version, api, tmp_path):
    env = claude.prepare(tmp_path, api.base_url, version, trust=False)
    with claude.Pane(claude.argv(version), env, tmp_path / "work", tmp_path / "cap.jsonl") as pane:
        pane.wait_for("Yes, I trust this folder", 30)
        if version == claude.NEWEST:
            # "No, exit" is selected first and digits are not bound: move down until "Yes" is selected
            # (the dialog ignores keys for a moment after it opens, so repeat under a deadline)
            deadline = time.monotonic() + 10
            while "❯ Yes, I trust this folder" not in pane.screen():
                assert time.monotonic() < deadline, pane.screen()
                pane.send("Down")
                time.sleep(0.2)
        # Enter answers the selected item; if the dialog was not yet taking keys, it is still shown
        deadline = time.monotonic() + 20
        while "Claude Code v" + version not in pane.screen():
            assert time.monotonic() < deadline, pane.screen()
            if "❯ Yes, I trust this folder" in pane.screen() or "❯ 1. Yes, I trust this folder" in pane.screen():
                pane.send("Enter")
            time.sleep(0.5)
    projects = json.loads((tmp_path / ".claude.json").read_text())["projects"]
    assert projects[str((tmp_path / "work").resolve())]["hasTrustDialogAccepted"] is True
    assert (tmp_path / "cap.jsonl").stat().st_size > 0


def test_missing_cli_fails_not_skips(tmp_path, monkeypatch):
    monkeypatch.setenv("TEAMCTL_REALCLI_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(AssertionError, match="is not installed"):
        claude.argv(claude.NEWEST, "-p", "hi")

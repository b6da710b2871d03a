"""The real-CLI harness for Codex (@openai/codex 0.171.0) works: the real `codex exec` reaches the fake
Responses API, prints its reply and token figure, and at a usage limit prints Codex's own limit line
with the reset as a wall-clock time cut down to the minute. Fails (never skips) when Codex is missing.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from realcli import codex  # noqa: E402
from realcli.fakeapi.server import FakeAPI  # noqa: E402

DEADLINE = 30  # seconds any one codex run may take

# @openai/codex@0.171.0, exec: "ERROR: You’ve hit your usage limit. Upgrade to Pro (...), visit
# https://chatgpt.com/settings/usage to purchase more credits or try again at 9:10 PM."
LIMIT_LINE = re.compile(
    r"You\u2019ve hit your usage limit\. .*try again at "
    r"(?:(?P<date>[A-Z][a-z]{2} \d{1,2}(?:st|nd|rd|th), \d{4}) )?(?P<time>\d{1,2}:\d{2} [AP]M)\.")


def _exec(tmp_path: Path, api: FakeAPI, *args: str, tz: str = "Etc/GMT+5") -> subprocess.CompletedProcess[str]:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    env = codex.prepare(tmp_path / "home", api.base_url, cwd=work)
    env["TZ"] = tz
    return subprocess.run(codex.argv("exec", "--skip-git-repo-check", *args, "hi"), env=env, cwd=work,
                          capture_output=True, text=True, timeout=DEADLINE, stdin=subprocess.DEVNULL)


def test_codex_is_installed() -> None:
    out = subprocess.run(codex.argv("--version"), capture_output=True, text=True, timeout=DEADLINE)
    assert out.stdout.strip() == "codex-cli 0.171.0"


def test_exec_reaches_the_fake_api_and_prints_reply_and_tokens(tmp_path: Path) -> None:
    with FakeAPI(reply_text="Hello from the fake API.") as api:
        p = _exec(tmp_path, api)
        assert p.returncode == 0, p.stderr
        assert p.stdout.strip() == "Hello from the fake API."
        ok = api.answered_ok()
        assert [r.path for r in ok] == ["/v1/responses"]
        assert ok[0].headers["authorization"] == "Bearer sk-fake-0000"
        assert ok[0].body["stream"] is True and ok[0].body["model"] == codex.MODEL
    # "tokens used" and, on the next line, non-cached input + output (1,034 + 56)
    assert re.search(r"^tokens used\n1,090$", p.stderr, re.M), p.stderr[-600:]
    # nothing went anywhere but the fake API: every request the CLI made is in its log
    assert all(r.path.startswith("/v1/") for r in api.requests)


def test_exec_json_reports_usage_in_turn_completed(tmp_path: Path) -> None:
    with FakeAPI() as api:
        p = _exec(tmp_path, api, "--json")
    assert p.returncode == 0, p.stderr
    events = [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]
    done = [e for e in events if e["type"] == "turn.completed"]
    assert done and done[-1]["usage"] == {"input_tokens": 1234, "cached_input_tokens": 200,
                                          "cache_write_input_tokens": 0, "output_tokens": 56,
                                          "reasoning_output_tokens": 0}


def test_exec_at_a_usage_limit_prints_the_limit_line_cut_to_the_minute(tmp_path: Path) -> None:
    with FakeAPI() as api:
        now = time.time()
        # same local day (UTC-5), 47.6 s past a minute: rounding would show the next minute
        reset = math.floor(now / 60) * 60 + 2 * 60 + 47.6
        api.set_limit("usage_limit", reset, plan_type="plus")
        p = _exec(tmp_path, api)
        assert [r.answered for r in api.model_requests()] == ["usage_limit"]
    assert p.returncode == 1
    m = LIMIT_LINE.search(p.stderr)
    assert m, p.stderr[-800:]
    local = dt.datetime.fromtimestamp(math.ceil(reset), dt.timezone(dt.timedelta(hours=-5)))
    today = dt.datetime.fromtimestamp(now, local.tzinfo).date()
    assert m["time"] == local.strftime("%-I:%M %p")  # truncated, not rounded
    assert (m["date"] is None) == (local.date() == today)


def test_exec_at_a_far_usage_limit_prints_the_date(tmp_path: Path) -> None:
    with FakeAPI() as api:
        reset = time.time() + 3 * 86400 + 0.4
        api.set_limit("usage_limit", reset)
        p = _exec(tmp_path, api, tz="UTC")
    m = LIMIT_LINE.search(p.stderr)
    assert m and m["date"], p.stderr[-800:]
    local = dt.datetime.fromtimestamp(math.ceil(reset), dt.UTC)
    day = local.day
    suffix = "th" if 11 <= day % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    assert m["date"] == f"{local:%b} {day}{suffix}, {local.year}"
    assert m["time"] == local.strftime("%-I:%M %p")


@pytest.mark.parametrize(("kind", "text"), [
    ("quota", "ERROR: Quota exceeded. Check your plan and billing details."),
    ("overload", "ERROR: Selected model is at capacity. Please try a different model."),
    ("rate_limit", "ERROR: exceeded retry limit, last status: 429 Too Many Requests"),
])
def test_exec_other_limits(tmp_path: Path, kind: str, text: str) -> None:
    with FakeAPI() as api:
        api.set_limit(kind, time.time() + 600)
        p = _exec(tmp_path, api)
        assert [r.answered for r in api.model_requests()] == [kind]  # request_max_retries = 0
    assert p.returncode == 1
    assert text in p.stderr, p.stderr[-800:]


def test_exec_reads_the_window_headers_into_the_rollout(tmp_path: Path) -> None:
    with FakeAPI() as api:
        api.codex_windows = {"primary": {"used_percent": 78.0, "window_minutes": 300, "reset_at": 1_900_000_000.2}}
        p = _exec(tmp_path, api)
    assert p.returncode == 0, p.stderr
    (rollout,) = (tmp_path / "home" / ".codex" / "sessions").rglob("rollout-*.jsonl")
    counts = [json.loads(line)["payload"] for line in rollout.read_text().splitlines()
              if '"token_count"' in line]
    counts = [c for c in counts if c.get("type") == "token_count"]
    assert counts[-1]["info"]["total_token_usage"]["input_tokens"] == 1234
    assert counts[-1]["rate_limits"]["primary"] == {"used_percent": 78.0, "window_minutes": 300,
                                                    "resets_at": 1_900_000_001}

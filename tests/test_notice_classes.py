"""Issue 22 item 4: every notice that stops an agent has a signature and a state, read from the CLI's
own text (each case cites package and version in tests/fixtures/real_lines/*.toml; these are the ones
a real run or a whole capture shows best). `block` is what waits on a person."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from realcli import gemini  # noqa: E402
from realcli.fakeapi.server import FakeAPI  # noqa: E402
from teamctl_supervisor.core.descriptors.loader import load_descriptor, load_runtime  # noqa: E402
from teamctl_supervisor.core.descriptors.model import Action  # noqa: E402
from teamctl_supervisor.core.scan.scanner import EventKind, Scanner  # noqa: E402

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def hits(runtime: str, text: str, now: datetime = NOW, tz: str = "UTC"):
    scanner = Scanner(load_runtime(runtime), tz=ZoneInfo(tz), clock=lambda: now)
    return [e for e in scanner.feed(text.encode()) + scanner.finish() if e.kind is EventKind.RATE_LIMIT]


def test_block_is_an_action_a_descriptor_can_name(tmp_path):
    path = tmp_path / "x.toml"
    path.write_text('[launch]\nbinary = "x"\n[[rate_limit]]\nid = "billing"\nmatch = "^Add funds"\n'
                    'keywords = ["add funds"]\naction = "block"\n')
    assert load_descriptor(path).rate_limits[0].action is Action.BLOCK
    assert Action.BLOCK.value == "block"


def test_gemini_p_records_a_400_s_retry_delay_with_its_reset(tmp_path):
    """@google/gemini-cli 0.61.0, real run: a RetryInfo of 400 s (over its 300 s retry ceiling) ends
    `gemini -p` with "Suggested retry after 400s."; the hit carries that reset, not none."""
    with FakeAPI(reply_text="hi") as api:
        started = time.time()
        api.set_limit("rate_limit", started + 400)
        home = tmp_path / "home"
        (home / "work").mkdir(parents=True)
        env = gemini.prepare(home, api.base_url)
        done = subprocess.run(gemini.argv("-p", "hi"), env=env, cwd=home / "work", capture_output=True,
                              text=True, timeout=60, stdin=subprocess.DEVNULL)
        ended = time.time()
    assert done.returncode != 0
    text = done.stdout + done.stderr
    assert "Suggested retry after " in text, text[-2000:]  # the fake's delay: seconds left to the reset
    found = hits("gemini", text, datetime.fromtimestamp(ended, UTC))
    assert found, text[-2000:]
    first = found[0]
    assert first.signature == "gemini-suggested-retry"
    assert first.resets_at is not None
    assert abs(first.resets_at.timestamp() - (started + 400)) < ended - started + 2


def test_gemini_reset_with_a_gmt_offset_is_read_in_that_offset():
    # @google/gemini-cli 0.61.0: bundle/interactiveCli-4ZJLSCID.js (getResetTimeMessage(): en-US
    # timeZoneName "short", which is "GMT+5:30" for a zone with no abbreviation)
    text = "Usage limit reached for gemini-2.5-pro.\nAccess resets at 4:30\u202fPM GMT+5:30.\n"
    (event,) = hits("gemini", text)
    assert event.resets_at == datetime(2026, 11, 27, 11, 0, tzinfo=UTC)


@pytest.mark.parametrize(("runtime", "text", "action", "reset"), [
    # @github/copilot-linux-x64 1.0.102: pkg cli-main.js (Cgn: the "Switch to auto mode?" dialog's body, boxed)
    ("copilot", "│ You've been rate limited on the current model. Would you like to switch to auto mode to continue? │",
     "resume", None),
    # @factory/cli-linux-x64 0.225.2: strings (tokenLimit.title, the menu's first row)
    ("droid", "\u26a0 Credit Limit Reached", "stop", None),
    # @factory/cli-linux-x64 0.225.2: strings (exec / ACP)
    ("droid", "Your standard credit limits are exhausted. Choose how to continue:", "stop", None),
    # @qwen-code/qwen-code 0.24.4: chunks/chunk-H4VGADZA.js (formatQuotaExhaustedMessage(), a daily quota)
    ("qwen-code", "✕ Quota exhausted: You exceeded your daily quota. Your quota will reset at 2026-11-28T00:00:00Z.",
     "stop", datetime(2026, 11, 28, tzinfo=UTC)),
    # aider-chat 0.86.2: aider/exceptions.py + base_coder.py (description, then the countdown)
    ("aider", "The API provider has rate limited you. Try again later or check your quotas.\n"
     "Retrying in 0.5 seconds...",
     "record", datetime(2026, 11, 27, 10, 0, 0, 500000, tzinfo=UTC)),
])
def test_each_clis_stopping_notice_is_read_with_its_action_and_reset(runtime, text, action, reset):
    found = hits(runtime, text + "\n")
    assert found, f"{runtime}: not read: {text!r}"
    assert found[0].action.value == action
    assert found[0].resets_at == reset

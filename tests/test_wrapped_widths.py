"""Issue 22 item 4: no limit line is missed at 40, 60, 80, 120 or 250 columns, live or offline. A TUI
wraps a long notice over its width (three to seven rows at 40 columns); its first row may already
match while the reset, or the reset's zone, is on a later row. The notice must be read whole, with the
reset the unwrapped line gives, whether the rows come in one read or one by one, and under rl-watch
with a fake runtime printing them (no terminal attached)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from teamctl_supervisor.core.descriptors.loader import load_runtime
from teamctl_supervisor.core.scan.scanner import EventKind, Scanner

sys.path.insert(0, str(Path(__file__).parent))
from watchkit import FAKES, fake_env, rows  # noqa: E402

WIDTHS = (40, 60, 80, 120, 250)
NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)

#: Long notices, each from its CLI's own template (cited), 70 to 205 characters.
LINES = {
    # @anthropic-ai/claude-code 2.1.197: strings (hJ('weekly limit', ' · resets ' + Vee(resetsAt, true)) and
    # the overage reason segment); the TUI draws it after its ⎿ gutter
    "claude-code": "  ⎿  You've hit your weekly limit · resets Dec 2, 9am (America/New_York) · run /usage-credits to "
                   "ask your admin for a higher limit",
    # @openai/codex 0.171.0 (captured, tests/fixtures/real_cli/codex-0.171.0): the usage limit with its upsell
    "codex": "■ You’ve hit your usage limit. Upgrade to Pro (https://chatgpt.com/explore/pro), visit "
             "https://chatgpt.com/settings/usage to purchase more credits or try again at 9:05 AM.",
    # @google/gemini-cli 0.61.0: bundle/interactiveCli-4ZJLSCID.js (the two lines of the fallback message)
    "gemini": "Usage limit reached for gemini-2.5-pro. Access resets at 4:30 PM GMT+1.",
    # @factory/cli-linux-x64 0.225.2: strings (MR())
    "droid": "Standard Usage limit reached. Select an option below to continue using Droid. Standard resets in "
             "3h 12m.",
    # @github/copilot-linux-x64 1.0.102: runtime.node strings (user_global_rate_limited, then its reset and link)
    "copilot": "✗ You've hit your rate limit. Please wait for your limit to reset or switch to auto model to "
               "continue (current limit resets in ~1 hour). Learn More "
               "(https://docs.github.com/copilot/concepts/rate-limits).",
}


def _scanner(runtime: str, now: datetime = NOW) -> Scanner:
    return Scanner(load_runtime(runtime), tz=ZoneInfo("UTC"), clock=lambda: now)


def _hits(events):
    return [(e.signature, e.resets_at) for e in events if e.kind is EventKind.RATE_LIMIT]


def unwrapped(runtime: str, now: datetime = NOW):
    sc = _scanner(runtime, now)
    return _hits(sc.feed((LINES[runtime] + "\n").encode()) + sc.finish())


@pytest.mark.parametrize("runtime", sorted(LINES))
def test_the_unwrapped_line_gives_a_hit_with_its_reset(runtime):
    ((_, resets_at),) = unwrapped(runtime)
    assert resets_at is not None


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("runtime", sorted(LINES))
def test_a_wrapped_limit_line_is_read_whole_at_every_width(runtime, width):
    lines = textwrap.wrap(LINES[runtime], width)
    data = "".join(f"{row}\r\n" for row in lines).encode()
    expected = unwrapped(runtime)
    whole = _scanner(runtime)
    assert _hits(whole.feed(data) + whole.flush()) == expected, lines
    by_row = _scanner(runtime)
    events = []
    for row in lines:
        events += by_row.feed(f"{row}\r\n".encode())
    assert _hits(events + by_row.flush()) == expected, lines
    drawn = _scanner(runtime)  # a TUI that positions each row and leaves the cursor below them
    screen = b"".join(b"\x1b[%d;1H\x1b[2K" % (i + 5) + row.encode() for i, row in enumerate(lines)) + b"\x1b[30;3H"
    assert _hits(drawn.feed(screen) + drawn.flush()) == expected, lines


@pytest.mark.parametrize("width", WIDTHS)
def test_no_wrapped_limit_line_is_missed_live_under_rl_watch(tmp_path, width):
    """Every runtime's long notice, wrapped at `width` by a fake runtime with no terminal attached:
    rl-watch records one hit per notice, each with the reset the unwrapped line gives. The runtimes'
    watchers run side by side, each in its own root."""
    runs: dict[str, tuple[Path, subprocess.Popen[bytes]]] = {}
    try:
        for runtime in sorted(LINES):
            root = tmp_path / f"{runtime}-{width}"
            (root / "runtimes").mkdir(parents=True)
            wrapped = textwrap.wrap(LINES[runtime], width)
            steps = [f"print:{row.encode('unicode_escape').decode('ascii')}" for row in wrapped]
            argv = [sys.executable, "-m", "teamctl_supervisor", "rl-watch", "solo:dev", "--runtime", runtime,
                    "--root", str(root), "--restart", "never", "--max-wait", "1", "--fallback-wait", "1", "--",
                    str(FAKES / "fake_agent.py"), "print:working", *steps, "sleep:1", "exit:0"]
            runs[runtime] = root, subprocess.Popen(argv, cwd=root, env=fake_env(root), stdin=subprocess.DEVNULL,
                                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for runtime, (root, proc) in runs.items():
            out, _ = proc.communicate(timeout=120)
            got = rows(root, "SELECT hit_at, resets_at FROM rate_limits")
            assert len(got) == 1, (runtime, width, got, out.decode("utf-8", "replace")[-2000:])
            ((_, expected),) = unwrapped(runtime, datetime.fromtimestamp(got[0]["hit_at"], UTC))
            assert got[0]["resets_at"] == pytest.approx(expected.timestamp(), abs=1.5), (runtime, width)
    finally:
        for _, proc in runs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()

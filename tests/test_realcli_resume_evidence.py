"""Claude Code waiting in place at its limit that makes no request after the reset (issue 22 item 2).

The newest pinned Claude Code, in a tmux pane under `teamctl rl-watch`, meets a usage limit and
shows "Usage limit reached · limit resets … / Continuing automatically … · Esc to cancel". Its own
auto-continue is cancelled (Esc, as when it fails unattended), so nothing reaches the fake API after
the reset by itself. The watcher must not say "resumed" on the clock: with no model turn by the
runtime's deadline (a team override of the descriptor makes it 8 s) it types the continue keys, the
CLI sends a request, the model's answer lands in the agent's transcript, and only then is "resumed"
logged. Both are read from the fake API's request log and the supervisor's log. The watcher resumes
half a second after the real reset (the margin covers just the seconds the CLI's clock cuts off), so
the keys it types are the first thing that reaches the API after the reset.
"""

from __future__ import annotations

import math
import re
import time
from datetime import datetime
from pathlib import Path

import teamctl_supervisor
from realcli import claude
from realcli.fakeapi import FakeAPI
from realcli.watched import WatchedAgent
from test_realcli_watch import _last_user_text

DEADLINE = 8  # seconds without a model turn before the first escalation step
LEAD = 20  # seconds at least from the start to the reset: the CLI meets the limit and is cancelled before it


def _reset_and_margin(earliest: float) -> tuple[float, int]:
    """A reset half a second past a whole second, at or after `earliest`, and the margin that puts
    the watcher's resume (the minute the CLI shows + the margin) half a second after it.

    The CLI shows the reset cut down to the minute; the margin covers exactly the seconds cut off and
    no more, so the watcher resumes 0.5 s after the real reset, as close as a whole-second margin
    allows, whatever second of the minute the reset falls on (no wait for a whole minute). The last
    seconds of a minute are skipped: the CLI counts the wait in whole seconds and may show the next one.
    """
    reset_at = math.ceil(earliest) + 0.5
    if reset_at % 60 > 56:
        reset_at += 5
    return reset_at, int(reset_at % 60) + 1


def _override(root: Path) -> None:
    """The team's own claude-code descriptor: the built-in one with a short resume deadline."""
    builtin = Path(teamctl_supervisor.__file__).parent / "runtimes" / "claude-code.toml"
    text = builtin.read_text()
    text, n = re.subn(r"(?m)^resume_deadline_seconds = \d+$", f"resume_deadline_seconds = {DEADLINE}", text)
    assert n == 1
    (root / "runtimes").mkdir(parents=True, exist_ok=True)
    (root / "runtimes" / "claude-code.toml").write_text(text)


def _logged_at(log: str, text: str) -> float | None:
    """When the supervisor's log first says `text` (its lines begin with the local asctime)."""
    for line in log.splitlines():
        if text in line:
            return datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp()
    return None


def test_claude_waiting_in_place_with_no_request_after_the_reset_is_driven_to_one(tmp_path: Path) -> None:
    with FakeAPI() as api:
        reset_at, margin = _reset_and_margin(time.time() + LEAD)
        api.set_limit("usage_limit", reset_at, claim="five_hour")
        home = tmp_path / "home"
        env = claude.prepare(home, api.base_url, claude.NEWEST, trust=True)
        root = tmp_path / "team"
        _override(root)
        agent = WatchedAgent(root, "cc", "claude-code", claude.argv(claude.NEWEST, "hi"), env, home / "work",
                             "--margin", str(margin))
        try:
            agent.wait_for(agent.hits, 90, "the rate-limit row")
            agent.wait_for(lambda: "typing nothing" in agent.log(), 30, "the CLI's own auto-continue noticed")
            assert "resumed the session" not in agent.log()
            agent.send("Escape")  # its own auto-continue cancelled: it will not go on by itself
            agent.wait_for(lambda: "Automatic continue cancelled" in agent.screen(), 20, "its auto-continue cancelled")
            ok = agent.wait_for(lambda: api.answered_ok(since=reset_at), 120 + 3 * DEADLINE,
                                "a request after the reset")
            assert _last_user_text(ok[0].body) == "continue"  # driven by the watcher's keys, not its own retry
            log = agent.wait_for(lambda: (text := agent.log()) and "resumed the session" in text and text, 60,
                                 "resumed, on evidence")
            typed = _logged_at(log, "typing the continue keys")
            resumed = _logged_at(log, "resumed the session: model turn seen (claude-transcript)")
            assert typed is not None and resumed is not None, log[-3000:]
            assert reset_at < typed < resumed  # nothing said on the clock, only after the turn
            assert typed <= ok[0].t <= resumed, (typed, ok[0].t, resumed)  # keys, request, then "resumed"
            assert log.count("resumed the session") == 1
            assert agent.state()["state"] == "running" and len(agent.hits()) == 1
            assert not api.model_requests(since=reset_at - 0.5)[0].t < typed  # no request of its own after the reset
        finally:
            agent.close()

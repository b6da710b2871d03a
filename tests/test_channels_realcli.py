"""The hook channel with the real Claude Code (the newest standalone, 2.1.337): `-p` with the `--settings` hooks a
watcher gives it, against the fake API, so the hook commands (`teamctl budget-record` on Stop,
`teamctl rl-hit` on StopFailure rate_limit) really write the rows. Fails (never skips) without the CLI.
"""

from __future__ import annotations

import json
import math
import subprocess
import time
from pathlib import Path
from zoneinfo import ZoneInfo

from realcli import claude
from realcli.fakeapi import FakeAPI
from teamctl_supervisor.agent.channels.claude_hooks import hook_settings
from teamctl_supervisor.agent.channels.claude_transcript import claude_slug, transcript_usage
from teamctl_supervisor.agent.settings import WatchSettings
from teamctl_supervisor.core.descriptors.loader import load_runtime
from teamctl_supervisor.store import layout
from teamctl_supervisor.store.mailbox import Store
from watchkit import wait_for


def _settings(tmp_path: Path) -> WatchSettings:
    state = tmp_path / "team" / "state"
    state.mkdir(parents=True)
    return WatchSettings(agent_id="p:cc", project_id="p", runtime=load_runtime("claude-code"), argv=("claude",),
                         cwd=tmp_path / "home" / "work", env={}, tz=ZoneInfo("UTC"), mailbox=state / "mailbox.db",
                         state_dir=state)


def _run(tmp_path: Path, api: FakeAPI, settings_json: str) -> subprocess.CompletedProcess[str]:
    env = claude.prepare(tmp_path / "home", api.base_url, claude.NEWEST, trust=True)
    return subprocess.run(claude.argv(claude.NEWEST, "--settings", settings_json, "-p", "hi"), env=env,
                          cwd=tmp_path / "home" / "work", capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)


def test_real_claude_hooks_write_the_budget_row_and_the_hit(tmp_path: Path) -> None:
    s = _settings(tmp_path)
    hooks = next(c for c in s.runtime.channels if c.kind == "claude-hooks")
    with FakeAPI(reply_text="Hello from the fake API.") as api:
        p = _run(tmp_path, api, hook_settings(s, hooks, watched=False))
        assert p.returncode == 0, p.stderr
        reset = time.time() + 3600 + 13.2
        api.set_limit("usage_limit", reset, claim="five_hour")
        p2 = _run(tmp_path, api, hook_settings(s, hooks, watched=False))
        assert p2.returncode == 1 and "You've hit your 5-hour limit" in p2.stdout
    with Store(s.mailbox) as st:
        # the StopFailure hook runs detached (claude -p ends at once and would kill it): wait for its row
        wait_for(lambda: st.query("SELECT * FROM rate_limits"), timeout=20, what="the rl-hit row")
        budget = [tuple(r) for r in st.query("SELECT project_id, agent_id, runtime, input_tok, output_tok, usd > 0"
                                              " FROM budget")]
        hits = st.query("SELECT * FROM rate_limits")
    # the fake API's usage, exactly: 1034 input + 200 cache reads, 56 output; once (the limit turn adds none)
    assert budget == [("p", "p:cc", "claude-code", 1234, 56, 1)]
    assert len(hits) == 1 and hits[0]["agent_id"] == "p:cc"
    assert hits[0]["raw_match"].startswith("You've hit your 5-hour limit · resets ")
    # the reset as the CLI states it (cut down to the minute), read with the descriptor's signatures
    sent = math.ceil(reset)  # the fake API sends whole epoch seconds
    assert hits[0]["resets_at"] is not None and sent - 60 < hits[0]["resets_at"] <= sent


def test_real_claude_stop_hook_under_a_watcher_points_at_the_transcript_only(tmp_path: Path) -> None:
    s = _settings(tmp_path)
    hooks = next(c for c in s.runtime.channels if c.kind == "claude-hooks")
    with FakeAPI(reply_text="Hello from the fake API.") as api:
        p = _run(tmp_path, api, hook_settings(s, hooks, watched=True))
    assert p.returncode == 0, p.stderr
    pointer = layout.transcript_pointer(s.state_dir, s.log_name)
    transcript = Path(pointer.read_text())
    assert transcript.parent.name == claude_slug((tmp_path / "home" / "work").resolve())
    assert transcript_usage(transcript) == {"claude-opus-5-5": (1034, 56, 200)}
    with Store(s.mailbox) as st:  # the watcher's tailer counts it, not the hook
        assert st.query("SELECT COUNT(*) FROM budget")[0][0] == 0
    assert json.loads(hook_settings(s, hooks))["hooks"]["Stop"][0]["hooks"][0]["command"].endswith("--watched")

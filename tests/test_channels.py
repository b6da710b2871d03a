"""Structured channels: the tailers read real files written by the real CLIs (Claude Code 2.1.333 and
2.1.197 transcripts, Codex 0.171.0 rollouts), only this agent's session, and give up with one log line
on a missing, truncated or unknown-version file; a screen total and a structured report of the same
turn are counted once."""

from __future__ import annotations

import json
import logging
import shutil
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from teamctl_supervisor.agent.channels.base import ChannelEvent
from teamctl_supervisor.agent.channels.claude_transcript import claude_slug, transcript_usage
from teamctl_supervisor.agent.channels.tailer import ChannelTailer
from teamctl_supervisor.agent.settings import WatchSettings
from teamctl_supervisor.core.costs import CostLedger
from teamctl_supervisor.core.descriptors.loader import load_runtime
from teamctl_supervisor.core.scan.scanner import Event, EventKind
from teamctl_supervisor.store.mailbox import Store

REAL = Path(__file__).parent / "fixtures" / "real_cli"
CODEX = REAL / "codex-0.171.0"


def _settings(tmp_path: Path, runtime: str, env: dict[str, str], cwd: Path) -> WatchSettings:
    state = tmp_path / "state"
    state.mkdir(exist_ok=True)
    return WatchSettings(agent_id="p:a", project_id="p", runtime=load_runtime(runtime), argv=("x",), cwd=cwd,
                         env=env, tz=ZoneInfo("UTC"), mailbox=state / "mailbox.db", state_dir=state)


def _stamp(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _rollout(fixture: str, home: Path, cwd: Path, version: str | None = None) -> tuple[Path, float]:
    """The fixture as Codex would have written it for `cwd`: the session's start time too."""
    rows = [json.loads(line) for line in (CODEX / fixture).read_text().splitlines()]
    rows[0]["payload"]["cwd"] = str(cwd)
    if version:
        rows[0]["payload"]["cli_version"] = version
    started = _stamp(rows[0]["payload"]["timestamp"])
    day = datetime.fromtimestamp(started)
    folder = home / "sessions" / f"{day:%Y}" / f"{day:%m}" / f"{day:%d}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"rollout-{day:%Y-%m-%dT%H-%M-%S}-{rows[0]['payload']['id']}.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path, started


def _windows(settings: WatchSettings) -> list[tuple]:
    with Store(settings.mailbox) as st:
        return [tuple(r) for r in st.query("SELECT window, used_percent, resets_at, source"
                                            " FROM supervisor_usage_windows ORDER BY id")]


def test_codex_rollout_gives_the_turns_tokens_and_its_windows(tmp_path: Path) -> None:
    cwd = tmp_path / "work"
    cwd.mkdir()
    _, started = _rollout("rollout-exec-normal.jsonl", tmp_path / "codex", cwd)
    s = _settings(tmp_path, "codex", {"CODEX_HOME": str(tmp_path / "codex")}, cwd)
    with Store(s.mailbox) as st:
        tailer = ChannelTailer(s, st, lambda: started)
        events = tailer.poll(started + 5)
    assert [(e.input_tokens, e.output_tokens, e.cached_tokens, e.model, e.source, e.total) for e in events] == [
        (1234, 56, 200, "gpt-6.2-sol", "codex-rollout", False)]
    assert _windows(s) == [("5h", 12.0, 1796181252.0, "codex-rollout"),
                           ("weekly", 4.0, 1796533034.0, "codex-rollout")]


def test_codex_rollout_at_a_limit_counts_the_repeated_totals_once(tmp_path: Path) -> None:
    cwd = tmp_path / "work"
    cwd.mkdir()
    _, started = _rollout("rollout-tui-usage-limit.jsonl", tmp_path / "codex", cwd)
    s = _settings(tmp_path, "codex", {"CODEX_HOME": str(tmp_path / "codex")}, cwd)
    with Store(s.mailbox) as st:
        events = ChannelTailer(s, st, lambda: started).poll(started + 5)
    assert [(e.input_tokens, e.output_tokens) for e in events] == [(1234, 56)]  # not twice
    assert ("5h", 100.0, 1796177500.0, "codex-rollout") in _windows(s)


def test_another_agents_rollout_is_not_read(tmp_path: Path) -> None:
    mine, other = tmp_path / "mine", tmp_path / "other"
    mine.mkdir()
    other.mkdir()
    _, started = _rollout("rollout-exec-normal.jsonl", tmp_path / "codex", other)
    s = _settings(tmp_path, "codex", {"CODEX_HOME": str(tmp_path / "codex")}, mine)
    with Store(s.mailbox) as st:
        assert ChannelTailer(s, st, lambda: started).poll(started + 5) == []


@pytest.mark.parametrize("version,model", [("2.1.333", "claude-opus-5-5"), ("2.1.197", "claude-opus-4-8")])
def test_claude_transcript_gives_each_messages_exact_usage(tmp_path: Path, version: str, model: str) -> None:
    src = REAL / f"claude-{version}" / "channels"
    rows = [json.loads(line) for line in (src / "transcript.jsonl").read_text().splitlines()]
    started = min(_stamp(r["timestamp"]) for r in rows if r.get("timestamp"))
    cwd = tmp_path / "work"
    cwd.mkdir()
    folder = tmp_path / "home" / ".claude" / "projects" / claude_slug(cwd.resolve())
    folder.mkdir(parents=True)
    shutil.copy(src / "transcript.jsonl", folder / "s1.jsonl")
    s = _settings(tmp_path, "claude-code", {"HOME": str(tmp_path / "home")}, cwd)
    with Store(s.mailbox) as st:
        tailer = ChannelTailer(s, st, lambda: started)
        events = tailer.poll(started + 5)
        # the limit turn of the same CLI adds nothing: a synthetic row with zero usage
        shutil.copy(src / "transcript-limit.jsonl", folder / "s1.jsonl.limit")
        (folder / "s1.jsonl").open("a").write((src / "transcript-limit.jsonl").read_text())
        tailer._next = 0
        more = tailer.poll(started + 6)
    assert [(e.input_tokens, e.output_tokens, e.cached_tokens, e.cached_in_input, e.model, e.source)
            for e in events] == [(1034, 56, 200, False, model, "claude-transcript")]
    assert more == []
    assert transcript_usage(src / "transcript.jsonl") == {model: (1034, 56, 200)}


def test_missing_file_logs_once_and_gives_nothing(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cwd = tmp_path / "work"
    cwd.mkdir()
    s = _settings(tmp_path, "codex", {"CODEX_HOME": str(tmp_path / "nothing")}, cwd)
    with Store(s.mailbox) as st, caplog.at_level(logging.WARNING):
        tailer = ChannelTailer(s, st, lambda: 1000.0)
        assert tailer.poll(1001.0) == []
        for t in (1100.0, 1200.0):
            tailer._next = 0
            assert tailer.poll(t) == []
    said = [r.getMessage() for r in caplog.records if "screen is read alone" in r.getMessage()]
    assert len(said) == 1 and "no session file" in said[0]


def test_truncated_line_waits_for_its_end_and_a_broken_line_is_skipped(tmp_path: Path) -> None:
    cwd = tmp_path / "work"
    cwd.mkdir()
    path, started = _rollout("rollout-exec-normal.jsonl", tmp_path / "codex", cwd)
    text = path.read_text()
    cut = text.index('"type": "token_count"') + 10
    first = text.index("\n") + 1
    path.write_text(text[:first] + "{not json\n" + text[first:cut])  # a broken line, then a half-written one
    s = _settings(tmp_path, "codex", {"CODEX_HOME": str(tmp_path / "codex")}, cwd)
    with Store(s.mailbox) as st:
        tailer = ChannelTailer(s, st, lambda: started)
        assert tailer.poll(started + 1) == []
        with path.open("a") as fh:
            fh.write(text[cut:])
        tailer._next = 0
        events = tailer.poll(started + 2)
    assert [(e.input_tokens, e.output_tokens) for e in events] == [(1234, 56)]


def test_unknown_version_is_not_read(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cwd = tmp_path / "work"
    cwd.mkdir()
    _, started = _rollout("rollout-exec-normal.jsonl", tmp_path / "codex", cwd, version="9.0.0")
    s = _settings(tmp_path, "codex", {"CODEX_HOME": str(tmp_path / "codex")}, cwd)
    with Store(s.mailbox) as st, caplog.at_level(logging.WARNING):
        assert ChannelTailer(s, st, lambda: started).poll(started + 5) == []
    said = [r.getMessage() for r in caplog.records if "unknown version" in r.getMessage()]
    assert len(said) == 1 and "'9.0.0'" in said[0]


def _screen_total() -> Event:
    # Codex's `/quit` line as the screen scanner reads it: total=1,090 input=1,034 (+ 200 cached) output=56
    return Event(EventKind.COST, 1, "Token usage so far: total=1,090 input=1,034 (+ 200 cached) output=56",
                 "codex-token-usage", input_tokens=1034, output_tokens=56, cached_tokens=200,
                 cached_in_input=False, total=True)


def _structured() -> ChannelEvent:
    return ChannelEvent(EventKind.COST, 0, "rollout token_count", "codex-rollout", input_tokens=1234,
                           output_tokens=56, cached_tokens=200, source="codex-rollout")


@pytest.mark.parametrize("order", ["screen-first", "structured-first"])
def test_a_turn_on_the_screen_and_in_a_channel_counts_once(order: str) -> None:
    ledger = CostLedger()
    seq = [_screen_total(), _structured()] if order == "screen-first" else [_structured(), _screen_total()]
    spends = [ledger.observe(e) for e in seq + [_screen_total()]]
    got = [(s.input_tok, s.output_tok) for s in spends if s is not None]
    assert sum(i for i, _ in got) == 1234 and sum(o for _, o in got) == 56


def test_after_a_structured_report_the_screen_is_not_counted() -> None:
    ledger = CostLedger()
    ledger.observe(_structured())
    bigger = Event(EventKind.COST, 1, "x", "codex-token-usage", input_tokens=5000, output_tokens=500, total=True)
    assert ledger.observe(bigger) is None
    ledger.new_session()
    assert ledger.observe(bigger) is not None  # a new process: the screen counts again until a channel reports


def test_hook_settings_name_our_commands_and_this_agent(tmp_path: Path) -> None:
    s = _settings(tmp_path, "claude-code", {}, tmp_path)
    tailer = ChannelTailer(s, Store(s.mailbox), lambda: None)
    args = tailer.launch_args(["claude"])
    assert args[0] == "--settings"
    hooks = json.loads(args[1])["hooks"]
    assert hooks["StopFailure"][0]["matcher"] == "rate_limit"
    assert "rl-hit" in hooks["StopFailure"][0]["hooks"][0]["command"]
    assert "budget-record" in hooks["Stop"][0]["hooks"][0]["command"]
    assert "--agent p:a" in hooks["Stop"][0]["hooks"][0]["command"]
    assert tailer.launch_args(["claude", "--settings", "{}"]) == []  # the user's own settings win


def test_rl_hit_refuses_bad_hook_json_with_status_2(tmp_path: Path) -> None:
    import subprocess
    import sys

    p = subprocess.run([sys.executable, "-m", "teamctl_supervisor", "rl-hit", "--agent", "p:a", "--mailbox",
                        str(tmp_path / "m.db")], input="{not json", capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "stdin: not JSON" in p.stderr
    assert not (tmp_path / "m.db").exists()  # nothing half-written

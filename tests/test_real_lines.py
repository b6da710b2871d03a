"""The real lines each supported CLI prints (tests/fixtures/real_lines/*.toml, each with its source):
hits are caught with the right action and reset instant, look-alikes never fire, cost lines give the
exact figures, dialogs get the right keys. They go through the same Scanner that rl-watch uses."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from teamctl_supervisor.core.descriptors.loader import generic_patterns_path, load_descriptor, load_runtime
from teamctl_supervisor.core.scan.scanner import EventKind, Scanner

FIXTURES = Path(__file__).parent / "fixtures" / "real_lines"
RUNTIMES = ("claude-code", "codex", "gemini", "aider", "qwen-code")


def cases(kind: str) -> list:
    found = []
    for path in sorted(FIXTURES.glob("*.toml")):
        for i, case in enumerate(tomllib.loads(path.read_text(encoding="utf-8")).get(kind, [])):
            found.append(pytest.param(path.stem, case, id=f"{path.stem}-{kind}{i}"))
    return found


def runtime_for(name: str):
    if name == "generic":
        return load_descriptor(generic_patterns_path(), generic=True)
    return load_runtime(name)


def scan(runtime, text: str, now: str = "2026-11-27T10:00:00+00:00", tz: str = "Europe/Berlin"):
    fixed = datetime.fromisoformat(now)
    scanner = Scanner(runtime, tz=ZoneInfo(tz), clock=lambda: fixed)
    return scanner.feed((text + "\n").encode()) + scanner.finish()


@pytest.mark.parametrize(("name", "case"), cases("hit"))
def test_real_hit_is_caught_with_its_action_and_reset(name, case):
    events = [e for e in scan(runtime_for(name), case["text"], case["now"], case["tz"])
              if e.kind is EventKind.RATE_LIMIT]
    assert events, f"not caught: {case['text']!r} ({case['source']})"
    event = events[0]
    assert event.action.value == case["action"]
    expected = case["resets_at"]
    if expected == "none":
        assert event.resets_at is None
    else:
        assert event.resets_at is not None, f"no reset read from {case['text']!r}"
        assert event.resets_at == datetime.fromisoformat(expected)


@pytest.mark.parametrize(("name", "case"), cases("lookalike"))
def test_real_lookalike_never_counts_as_a_hit(name, case):
    runtimes = [runtime_for(n) for n in RUNTIMES] if name == "generic" else [runtime_for(name)]
    for runtime in runtimes:
        hits = [e for e in scan(runtime, case["text"]) if e.kind is EventKind.RATE_LIMIT]
        assert hits == [], f"{runtime.name} fired on a look-alike ({case['source']}): {hits[0].signature}"


@pytest.mark.parametrize(("name", "case"), cases("cost"))
def test_real_cost_line_gives_the_exact_figures(name, case):
    events = [e for e in scan(runtime_for(name), case["text"]) if e.kind is EventKind.COST]
    assert len(events) == 1, f"{len(events)} cost events for {case['text']!r}"
    event = events[0]
    assert event.usd == (pytest.approx(case["usd"]) if "usd" in case else None)
    assert event.input_tokens == case.get("input_tokens")
    assert event.output_tokens == case.get("output_tokens")
    assert event.total == case.get("total", False)
    if "cached_tokens" in case:
        assert event.cached_tokens == case["cached_tokens"]


@pytest.mark.parametrize(("name", "case"), cases("dialog"))
def test_real_dialog_is_answered_with_its_keys(name, case):
    events = [e for e in scan(runtime_for(name), case["text"]) if e.kind is EventKind.DIALOG]
    assert [e.send for e in events[:1]] == [case["send"]]


def test_every_builtin_signature_cites_its_source():
    for path in (Path(generic_patterns_path()), *sorted((FIXTURES.parent.parent.parent / "supervisor" /
                                                         "runtimes").glob("*.toml"))):
        lines = path.read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines):
            if line.startswith("[[") and line.strip() in ("[[rate_limit]]", "[[cost]]", "[[dialog]]"):
                before = "\n".join(x for x in lines[max(0, i - 5):i] if x.startswith("#"))
                assert re.search(r"\d+\.\d", before), f"{path.name}:{i + 1}: no package version cited above {line}"


def test_signatures_test_command_prints_json_events_for_a_real_transcript(tmp_path):
    transcript = tmp_path / "t.txt"
    transcript.write_bytes("● Working…\n\x1b[31mYou've hit your session limit · resets 4pm (Europe/Berlin)\x1b[39m\n"
                           .encode())
    done = subprocess.run([sys.executable, "-m", "teamctl_supervisor", "signatures", "test", "claude-code",
                           str(transcript), "--json", "--now", "2026-11-27T10:00:00Z", "--tz", "Europe/Berlin"],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert events[0]["line"] == 2 and events[0]["kind"] == "rate_limit"
    assert events[0]["resets_at"] == "2026-11-27T15:00:00+00:00"
    assert events[0]["raw"] == "You've hit your session limit · resets 4pm (Europe/Berlin)"


def test_builtin_regexes_have_no_hazardous_shape():
    from teamctl_supervisor.core.descriptors.loader import BUILTIN_DIR, regex_hazard

    for path in (Path(generic_patterns_path()), *sorted(BUILTIN_DIR.glob("*.toml"))):
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        for kind in ("rate_limit", "cost", "dialog", "ignore"):
            for entry in data.get(kind, []):
                for key in ("match", "follow"):
                    if key in entry:
                        assert regex_hazard(entry[key], re.IGNORECASE) is None, (path.name, kind, entry.get("id"))

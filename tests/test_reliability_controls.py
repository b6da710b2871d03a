"""Text hygiene (issue 23 item 10, build item 8): C0 and C1 controls (U+009B is a one-byte CSI to an
8-bit terminal) never leave through `logs`, `logs -f`, `rate-limits` or the supervisor log."""

from __future__ import annotations

import logging
import subprocess
import sys
import time

import pytest
from reliakit import hanging_team, teamctl
from teamctl_supervisor.agent.loghandler import RotatingLogHandler
from teamctl_supervisor.core.controls import has_controls, printable
from teamctl_supervisor.store.mailbox import Store
from watchkit import fake_env

#: What a model or a cat'd file can print: C1 CSI and OSC, their ESC forms, NEL, BEL, a lone C1.
HOSTILE = "limit \x9b31mred\x9b0m \x1b]0;title\x07reached\x9d52;c;cGF3bmVk\x9c \x1b[2Jok\x85\x07\x90dcs\x9cend\x8d"
SHOWN = "limit red reached okend"


@pytest.mark.parametrize(("text", "shown"), [
    (HOSTILE, SHOWN),
    ("tab\tkept", "tab\tkept"),
    ("caf\u00e9 \u2019quoted\u2019 \u00b7 resets 3pm", "caf\u00e9 \u2019quoted\u2019 \u00b7 resets 3pm"),
    ("\x9b?1049h\x9b?25l", ""),
])
def test_printable_removes_c0_and_c1_sequences_whole_and_keeps_text(text, shown):
    assert printable(text) == shown
    assert not has_controls(printable(text))


def _c1_or_c0(text: str) -> list[str]:
    return sorted({c for c in text if (ord(c) < 0x20 and c not in "\t\n") or 0x7f <= ord(c) <= 0x9f})


def test_logs_and_logs_follow_print_no_controls(tmp_path):
    team = hanging_team(tmp_path, 1)
    logs = team / "state" / "logs"
    logs.mkdir(parents=True, mode=0o700)
    (logs / "p-a0.log").write_text(f"first {HOSTILE}\nsecond line\n", encoding="utf-8")
    out = teamctl(team, "logs", "p:a0")
    assert out.returncode == 0, out.stderr
    assert _c1_or_c0(out.stdout) == [] and f"first {SHOWN}" in out.stdout
    follow = subprocess.Popen([sys.executable, "-m", "teamctl_supervisor", "logs", "-f", "p:a0", "-C", str(team)],
                              env=fake_env(team), stdout=subprocess.PIPE, text=True, encoding="utf-8")
    try:
        assert "second line" in (follow.stdout.readline() + follow.stdout.readline())
        with open(logs / "p-a0.log", "a", encoding="utf-8") as fh:
            fh.write(f"later {HOSTILE}\n")
        line = follow.stdout.readline()
        assert line == f"later {SHOWN}\n"
    finally:
        follow.kill()
        follow.wait()


def test_rate_limits_table_prints_no_controls(tmp_path):
    team = hanging_team(tmp_path, 1)
    with Store(team / "state" / "mailbox.db") as st:
        st.record_rate_limit("p:a0", "claude-code", time.time() - 60, None, HOSTILE)
    out = teamctl(team, "rate-limits")
    assert out.returncode == 0, out.stderr
    assert _c1_or_c0(out.stdout) == [] and SHOWN[:30] in out.stdout


def test_the_supervisor_log_holds_no_controls(tmp_path):
    path = tmp_path / "dev.supervisor.log"
    handler = RotatingLogHandler(path, 1 << 20, 1)
    logger = logging.getLogger("test-reliability-controls")
    logger.addHandler(handler)
    try:
        logger.warning("hit: %s\nforged line", HOSTILE)
    finally:
        logger.removeHandler(handler)
        handler.close()
    text = path.read_text(encoding="utf-8")
    assert _c1_or_c0(text) == [] and text == f"hit: {SHOWN} forged line\n"

"""An idle watcher holds only what it needs: psutil, the regex engine, tenacity, yaml and
logging.handlers load when something calls for them (a keyword hit, a stop, a crash), not at start;
click and the compose loader not at all for a watcher's ordinary command line outside a tree.

One watcher runs per agent, for days, fifty at once: these imports were most of its memory."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pexpect
from conftest import alive
from watchkit import fake_env, rows, wait_for

# rl-watch's line is read from the option table without click (cli/watch_args.py); no team code.
HEAVY = {"psutil", "regex", "tenacity", "yaml", "logging.handlers", "ahocorasick_rs", "click",
         "pexpect", "ptyprocess", "shutil",  # agent/ptyspawn.py forks the pty: shutil brings bz2 and lzma
         "_hashlib",  # OpenSSL, 3.6 MiB: a team descriptor's check record is compared, not hashed
         # the other CLIs' channel and session-file readers, and reset parsing (until a hit has a reset)
         "teamctl_supervisor.agent.channels.codex_rollout", "teamctl_supervisor.agent.channels.copilot_usage",
         "teamctl_supervisor.agent.channels.droid_session", "teamctl_supervisor.agent.turns.gemini_chat",
         "teamctl_supervisor.agent.turns.opencode_store", "teamctl_supervisor.core.resets.parse",
         "teamctl_supervisor.team.compose", "teamctl_supervisor.cli.group",
         "teamctl_supervisor.team.ops", "teamctl_supervisor.team.report", "teamctl_supervisor.team.backends"}
HIT = "You've hit your session limit · resets 4pm (Europe/Berlin)"

# Runs `teamctl rl-watch ARGS` in this process, and writes sys.modules to EARLY once the runtime has
# written MARKER (it then sits idle, no keyword printed yet) and to LATE when the watcher exits.
WRAPPER = r"""
import atexit, os, sys, threading, time

marker, early, late = sys.argv[1:4]

def dump(path):
    with open(path, "w") as fh:
        fh.write("\n".join(sorted(sys.modules)))

def when_idle():
    deadline = time.monotonic() + 30
    while not os.path.exists(marker) and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.5)
    dump(early)

threading.Thread(target=when_idle, daemon=True).start()
atexit.register(dump, late)
from teamctl_supervisor.cli import main
sys.exit(main(["rl-watch", *sys.argv[4:]]))
"""


def modules(path: Path) -> set[str]:
    return set(path.read_text().split("\n"))


def test_idle_watcher_in_a_real_pty_loads_none_of_the_heavy_modules_until_a_keyword_hit(root: Path) -> None:
    marker, early, late = root / "ready", root / "early.txt", root / "late.txt"
    steps = ["print:ready", f"pidfile:{marker}", "sleep:3", f"print:{HIT}", "hang"]
    argv = ["-c", WRAPPER, str(marker), str(early), str(late), "solo:dev", "--runtime", "claude-code",
            "--root", str(root), "--", "fake_agent.py", *steps]
    watcher = pexpect.spawn(sys.executable, argv, cwd=str(root), env=fake_env(root), timeout=30)
    try:
        wait_for(early.exists, timeout=30, what="the idle watcher's module list")
        idle = modules(early)
        expected = {"teamctl_supervisor.agent.watch", "teamctl_supervisor.core.scan.scanner", "sqlite3",
                    "teamctl_supervisor.agent.ptyspawn"}
        assert expected <= idle  # it is the watcher
        assert not HEAVY & idle, sorted(HEAVY & idle)
        hit = wait_for(lambda: rows(root, "SELECT raw_match FROM rate_limits"), timeout=30, what="the hit row")
        assert hit[0]["raw_match"] == HIT
    finally:
        watcher.kill(signal.SIGTERM)
        watcher.expect(pexpect.EOF, timeout=30)
        watcher.close()
    assert watcher.exitstatus == 128 + signal.SIGTERM
    assert "regex" in modules(late)  # the hit compiled its signature then, with the engine


def run(code: str) -> list:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_crash_policy_loads_tenacity_with_the_first_restart_decision() -> None:
    before, after, decision = run(
        "import json, sys\n"
        "from teamctl_supervisor.core.policy import CrashPolicy\n"
        "p = CrashPolicy(initial=2.0, jitter=0.0)\n"
        "before = 'tenacity' in sys.modules\n"
        "d = p.on_exit(1, 0.5, 100.0)\n"
        "print(json.dumps([before, 'tenacity' in sys.modules, [d.restart, d.delay, d.attempt]]))")
    assert (before, after, decision) == (False, True, [True, 2.0, 1])


def test_reset_and_figure_patterns_compile_with_the_first_text_read() -> None:
    compiled_at_import, reset, figure = run(
        "import json\n"
        "from datetime import UTC, datetime\n"
        "from zoneinfo import ZoneInfo\n"
        "from teamctl_supervisor.core.resets import clock as reset_clock, parse as resets\n"
        "from teamctl_supervisor.core.scan import figures\n"
        "at_import = reset_clock._CLOCK.is_compiled or figures._NUMBER.is_compiled\n"
        "now = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)\n"
        "r = resets.parse_reset('resets 4pm (Europe/Berlin)', 'auto', now, ZoneInfo('UTC'))\n"
        "print(json.dumps([at_import, r.isoformat(), figures.parse_figure('12.3k')]))")
    assert (compiled_at_import, reset, figure) == (False, "2026-01-05T15:00:00+00:00", 12300.0)


def test_a_runtime_that_exits_alone_ends_its_session_without_psutil_and_an_orphan_is_still_ended(root: Path) -> None:
    """The end of a session looks for orphans in /proc first: psutil (25 ms, 1.5 MiB) loads only
    when the runtime left a child behind, and that child is then ended."""
    def session(name: str, steps: list[str]) -> set[str]:
        out = root / f"{name}.txt"
        argv = ["-c", WRAPPER, str(root / "never"), str(root / f"{name}-early.txt"), str(out), f"solo:{name}",
                "--runtime", "claude-code", "--restart", "never", "--root", str(root), "--", "fake_agent.py", *steps]
        done = subprocess.run([sys.executable, *argv], cwd=str(root), env=fake_env(root), capture_output=True,
                              timeout=60)
        assert done.returncode == 0, done.stderr
        return modules(out)

    assert "psutil" not in session("alone", ["print:ready", "exit:0"])
    pidfile = root / "orphan.pid"
    assert "psutil" in session("orphan", [f"pidfile:{pidfile}", "fork:setsid", "print:ready", "exit:0"])
    pids = [int(p) for p in pidfile.read_text().split()]
    assert len(pids) == 2  # the runtime and its forked grandchild
    wait_for(lambda: not any(alive(p) for p in pids), timeout=10, what="the orphan ended")


def test_the_lazy_reader_tables_name_each_module_by_its_own_kind() -> None:
    """agent/turns and the channel tailer import a reader by its kind; each module's KIND is that kind."""
    from importlib import import_module

    from teamctl_supervisor.agent import turns
    from teamctl_supervisor.agent.channels import tailer

    for kind, module in {**turns._ROW_MODULES, **turns._STORE_MODULES}.items():
        assert import_module(f"teamctl_supervisor.agent.turns.{module}").KIND == kind
    assert set(turns._RUNTIMES.values()) == set(turns._ROW_MODULES) | set(turns._STORE_MODULES)
    assert turns.row_reader("aider-chat") is import_module("teamctl_supervisor.agent.turns.aider_chat").model_row
    assert turns.row_reader("claude-transcript") is None and turns.store_reader("gemini-chat") is None
    for kind, (module, name) in tailer.READERS.items():
        reader = tailer.reader(kind)
        assert reader.__name__ == name and reader.__module__.endswith(f".channels.{module}")
        assert getattr(import_module(reader.__module__), "KIND", kind) == kind


def test_look_alike_wrap_and_usage_patterns_compile_with_the_first_line_that_needs_them() -> None:
    at_import, odd, after = run(
        "import json\n"
        "from teamctl_supervisor.core.scan import lookalike, wrapped\n"
        "from teamctl_supervisor.core import usage\n"
        "lazy = [p for _, p in lookalike._SHAPES] + [lookalike._NUMBERED, wrapped._WORDY, usage._ANSI]\n"
        "at_import = any(p.is_compiled for p in lazy)\n"
        "odd = [lookalike.shape('> quoted limit'), lookalike.shape('1. item'), lookalike.shape('plain')]\n"
        "print(json.dumps([at_import, odd, lookalike._SHAPES[0][1].is_compiled]))")
    assert (at_import, odd, after) == (False, ["quote", "numbered", None], True)

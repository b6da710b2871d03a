"""Shared fixtures: deadline waits, a private tmux server, fake agent CLIs on PATH, upstream example teams.

Nothing here touches the user's default tmux server or any process the tests did not start.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import psutil
import pytest
from watchkit import make_root, wait_for  # noqa: F401 (wait_for: re-exported for the team tests)

TESTS = Path(__file__).parent
FAKE_AGENT = TESTS / "fakes" / "fake_agent.py"
# The real teamctl compose trees live in shared/ beside the repository (CI lays a copy there too).
UPSTREAM = next((p for p in (TESTS.parent.parent / "shared" / "upstream-examples",
                             Path("/work/shared/upstream-examples")) if p.is_dir()),
                TESTS.parent.parent / "shared" / "upstream-examples")
# Working dirs to create, relative to the example's folder, where upstream resolves `project.cwd`:
# against `.team/`. The older examples say `cwd: ./workspace` while their READMEs `mkdir` beside
# `.team/` (docs/compose.md lists them); the newer ones ship their folder (`cwd: ../workspace`).
EXAMPLE_DIRS = {
    "hello-team": [],
    "startup-team": [".team/workspace"],
    "newsletter-office": [".team/newsroom-workspace", ".team/blog-site-workspace"],
    "solo-founder-ops": [".team/workspace"],
    "autonomous-prototyper": [],
    "product-team": [],
}
FAKE_BINARIES = ("claude", "codex", "gemini")


# Seconds each slow file took under `-n 3 --dist loadfile` on a 2-core machine (the mean of two
# full runs with `--durations=0`, 2026-12-07). With loadfile a worker takes whole files, one after another,
# in collection order: longest first ("longest processing time first"), so the long files overlap each
# other and the many quick files (not listed: under 10 s each) fill the end, where a long file alone
# would keep one worker busy while the others wait. Mostly-waiting files (resets, timeouts) are spread
# among the CPU-heavy real-CLI ones, which share the two cores. xdist's own reordering (most tests first)
# is turned off. README runs four workers on the two cores: most tests wait (on a CLI, a reset, a
# deadline) more than they compute, and a fourth worker fills those waits (a full run: 621 s with three,
# 581 s with four, the same CPU). Re-measure when a file grows: `pytest -n 4 --dist loadfile --durations=0 tests`.
FILE_SECONDS = {
    "test_realcli_sessions": 142, "test_realcli_sessions_more": 134, "test_realcli_sessions_opencode": 113,
    "test_realcli_sessions_turns_more": 92, "test_realcli_watch": 91, "test_realcli_new_runtimes_costs": 81,
    "test_team": 66, "test_realcli_sessions_opencode_together": 63, "test_realcli_sessions_turns": 60,
    "test_reliability_watchers": 56, "test_realcli_sessions_aider": 55, "test_realcli_new_runtimes": 52,
    "test_lookalikes": 52, "test_demo": 49, "test_realcli_sessions_turns_opencode": 49, "test_new_runtimes": 47,
    "test_web": 45, "test_realcli_sessions_copilot": 44, "test_realcli_claude_harness": 42, "test_watch_rules": 42,
    "test_team_root": 40, "test_watch": 37, "test_realcli_chat_harness": 37, "test_realcli_sessions_droid": 36,
    "test_store_postgres": 35, "test_hosts_ssh": 34, "test_bench_smoke": 33, "test_reliability_mailbox": 33,
    "test_hosts_status": 32, "test_faults": 31, "test_newcomer_two_packages": 31, "test_reliability_leftovers": 30,
    "test_realcli_gemini_stall": 28, "test_hosts_commands": 26, "test_realcli_gemini_harness": 24,
    "test_realcli_qwen_watch": 23, "test_reliability_down": 22, "test_relay_locked_mailbox": 21,
    "test_hosts_postgres": 21, "test_wrapped_widths": 20, "test_escalation_watch": 20, "test_signatures_audit": 20,
    "test_realcli_role_prompt": 20, "test_newcomer_upstream_up": 19, "test_store": 15, "test_power_cut": 14,
    "test_up_honest": 14, "test_reliability_compose": 14, "test_hosts_secret": 14, "test_realcli_codex_harness": 13,
    "test_realcli_aider_watch": 12, "test_hosts_pause_over_ssh": 12, "test_views": 12, "test_report": 11,
}


def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False
    if not hasattr(config, "workerinput"):  # once, before the workers start
        _compile_the_package()


def _compile_the_package() -> None:
    """Byte-code for the package under test, as a regular (not editable) install would have.

    The suite starts thousands of `teamctl` processes. Where PYTHONDONTWRITEBYTECODE is set (some CI
    images set it) and the clone is fresh, none of them may cache what it compiles, so each compiled
    every module it imports again: 0.1-0.2 CPU s more per process, minutes over the suite.
    """
    import compileall

    import teamctl_supervisor

    for folder in teamctl_supervisor.__path__:
        compileall.compile_dir(folder, quiet=1)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: -FILE_SECONDS.get(item.path.stem, 0))  # stable: a file's tests stay together


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A team root (no compose tree) with the fake runtime's descriptor in runtimes/."""
    return make_root(tmp_path)


@pytest.fixture
def watchers() -> Any:
    """Watchers (or anything with close()) a test started; each is ended, by pid, afterwards."""
    started: list[Any] = []
    yield started
    for w in started:
        w.close()


# --------------------------------------------------------------------------------------------------
# tmux


@pytest.fixture(scope="session")
def tmux_socket() -> Any:
    """A private tmux server for the whole test session ($TEAMCTL_TMUX_SOCKET); killed at the end."""
    assert shutil.which("tmux"), "tmux is needed for these tests (.ci/run installs it)"
    name = f"teamctl-test-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    old = os.environ.get("TEAMCTL_TMUX_SOCKET")
    os.environ["TEAMCTL_TMUX_SOCKET"] = name
    yield name
    subprocess.run(["tmux", "-L", name, "kill-server"], capture_output=True, check=False)
    sock = Path(os.environ.get("TMUX_TMPDIR", "/tmp")) / f"tmux-{os.getuid()}" / name
    sock.unlink(missing_ok=True)
    if old is None:
        os.environ.pop("TEAMCTL_TMUX_SOCKET", None)
    else:
        os.environ["TEAMCTL_TMUX_SOCKET"] = old


# --------------------------------------------------------------------------------------------------
# Fake agent CLIs

_WRAPPER = '''#!{python}
"""Fake `{name}`: records its argv, then runs fake_agent.py with the steps for its agent."""
import json, os, sys
here = os.path.dirname(os.path.abspath(__file__))
agent = os.environ.get("TEAMCTL_AGENT", "unknown").replace(":", "-")
with open(os.path.join(here, "argv", agent + ".json"), "w") as fh:
    json.dump(sys.argv[1:], fh)
steps_file = os.path.join(here, "steps", agent)
if not os.path.exists(steps_file):
    steps_file = os.path.join(here, "steps", "default")
with open(steps_file) as fh:
    steps = [line.rstrip("\\n") for line in fh if line.strip()]
os.environ["FAKE_RUNS_FILE"] = os.path.join(here, "runs", agent)
os.execv(sys.executable, [sys.executable, {fake!r}, *steps])
'''


class FakeBin:
    """A PATH dir of fake `claude`, `codex`, `gemini`; steps per agent, argv and pids recorded per agent."""

    def __init__(self, root: Path) -> None:
        self.dir = root
        for sub in ("argv", "steps", "runs", "pids"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        for name in FAKE_BINARIES:
            path = root / name
            path.write_text(_WRAPPER.format(python=sys.executable, name=name, fake=str(FAKE_AGENT)))
            path.chmod(0o755)
        self.steps("default", "print:ready", "hang")

    def steps(self, agent: str, *steps: str) -> None:
        """Steps for `agent` ("hello:dev", or "default"); `pidfile:` is added so every pid is known."""
        key = agent.replace(":", "-")
        pidfile = f"pidfile:{self.dir / 'pids' / key}"
        (self.dir / "steps" / key).write_text("\n".join([pidfile, *steps]) + "\n")

    def argv(self, agent: str) -> list[str] | None:
        import json

        path = self.dir / "argv" / f"{agent.replace(':', '-')}.json"
        return json.loads(path.read_text()) if path.exists() else None

    def runs(self, agent: str) -> int:
        """How many times `agent`'s fake CLI has started."""
        path = self.dir / "runs" / agent.replace(":", "-")
        return int(path.read_text() or 0) if path.exists() else 0

    def pids(self) -> list[int]:
        found: list[int] = []
        for f in (self.dir / "pids").iterdir():
            found += [int(x) for x in f.read_text().split() if x.isdigit()]
        return found

    def remove(self, name: str) -> None:
        (self.dir / name).unlink()


@pytest.fixture
def fake_bin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeBin:
    """Fake runtimes first on PATH (the real binary names)."""
    fb = FakeBin(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{fb.dir}{os.pathsep}{os.environ.get('PATH', '')}")
    return fb


# --------------------------------------------------------------------------------------------------
# Example teams

RUNTIME_TOML = textwrap.dedent('''\
    # Test descriptor: launches the fake `{binary}` with the usual options.
    name = "{name}"

    [launch]
    binary = "{binary}"
    resume_args = ["--continue"]

    [launch.options]
    model = ["--model", "{{model}}"]
    role_prompt = ["--append-system-prompt-file", "{{role_prompt}}"]

    [launch.permission]
    auto = ["--permission-mode", "acceptEdits"]

    [[rate_limit]]
    id = "usage-limit"
    match = 'usage limit reached.*resets in (?P<reset>[0-9]+ ?s)'
    keywords = ["usage limit"]
    reset = "duration"
    action = "stop"

    [[cost]]
    id = "session-total"
    match = 'session cost: \\$(?P<usd>[0-9.]+)'
    keywords = ["session cost"]
    total = true
    ''')
RUNTIMES = {"claude-code": "claude", "codex": "codex", "gemini": "gemini"}


def copy_example(name: str, dest: Path, runtimes: bool = False) -> Path:
    """Copy an upstream example and create its workspace dirs. The built-in descriptors run it (the
    fake CLIs print the real lines); with `runtimes`, simpler test descriptors override them."""
    assert UPSTREAM.is_dir(), f"upstream examples not found at {UPSTREAM}"
    root = dest / name
    shutil.copytree(UPSTREAM / name, root)
    for d in EXAMPLE_DIRS[name]:
        (root / d).mkdir()
    if runtimes:
        rdir = root / ".team" / "runtimes"
        rdir.mkdir(exist_ok=True)
        for rt, binary in RUNTIMES.items():
            (rdir / f"{rt}.toml").write_text(RUNTIME_TOML.format(name=rt, binary=binary))
    return root


def tree_pids(pid: int) -> set[int]:
    try:
        p = psutil.Process(pid)
        return {pid, *(c.pid for c in p.children(recursive=True))}
    except psutil.Error:
        return set()


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False

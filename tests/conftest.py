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


# Files that wait on real CLIs, sshd, PostgreSQL or clocks for tens of seconds, longest kind first. Run in
# parallel (`-n 3 --dist loadfile`), each worker takes whole files in collection order: these go first, so
# the many quick files fill the gaps at the end instead of one long file running alone at the end.
# xdist's own reordering (most tests first) would put them last: it is turned off here.
STARTS_EARLY = ("test_realcli_", "test_hosts_", "test_bench_smoke", "test_new_runtimes", "test_newcomer_",
                "test_reliability_", "test_power_cut", "test_demo", "test_faults", "test_watch_rules",
                "test_escalation_watch", "test_team", "test_web", "test_store_postgres")


def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        return next((i for i, prefix in enumerate(STARTS_EARLY) if item.path.name.startswith(prefix)),
                    len(STARTS_EARLY))

    items.sort(key=rank)  # stable: a file's tests stay together and in order


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

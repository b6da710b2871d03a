"""Helpers for end-to-end tests of `teamctl rl-watch`: a team root with the fake runtime, a watcher
process, and waiting on conditions with deadlines."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

FAKES = Path(__file__).parent / "fakes"


def wait_for(pred: Callable[[], Any], timeout: float = 15.0, interval: float = 0.02, what: str = "") -> Any:
    """Poll `pred` until it returns something truthy; fail with `what` after `timeout`.

    Between polls it sleeps `interval`, or as long as `pred` itself took if that is longer: a `pred` that
    starts a `teamctl status` (a few hundred ms of CPU) then keeps at most half a core busy instead of a
    whole one, which on a 2-core machine running the suite in parallel is taken from the other tests."""
    deadline = time.monotonic() + timeout
    while True:
        began = time.monotonic()
        value = pred()
        if value:
            return value
        now = time.monotonic()
        if now > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or pred}")
        time.sleep(max(interval, now - began))


def ctrl_c_as_at_a_terminal() -> None:
    """Popen's preexec_fn for a command a test interrupts with SIGINT: the default disposition, as a
    terminal's foreground job has it. A test runner started by a script with `&` ignores SIGINT, its
    children inherit that, and Python then never turns SIGINT into KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def make_root(tmp_path: Path) -> Path:
    root = tmp_path / "team"
    (root / "runtimes").mkdir(parents=True)
    shutil.copy(FAKES / "runtimes" / "fake.toml", root / "runtimes" / "fake.toml")
    return root


def fake_env(root: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{FAKES}{os.pathsep}{env.get('PATH', '')}"
    env["FAKE_RUNS_FILE"] = str(root / "runs")
    env.pop("TEAMCTL_ROOT", None)
    env.update(extra)
    return env


class Watcher:
    """A real `teamctl rl-watch` process on the fake runtime, stdin not a terminal."""

    def __init__(self, root: Path, steps: list[str], *options: str, agent: str = "solo:dev",
                 env: dict[str, str] | None = None) -> None:
        self._start(root, agent, ["--runtime", "fake", "--root", str(root), *options], steps, root,
                    env or fake_env(root))

    def _start(self, root: Path, agent: str, options: list[str], steps: list[str], cwd: Path,
               env: dict[str, str]) -> None:
        self.root = root
        self.agent = agent
        self.out_path = root / f"{agent.replace(':', '-')}.out"
        argv = [sys.executable, "-m", "teamctl_supervisor", "rl-watch", agent, *options, "--", "fake_agent.py", *steps]
        self.out = open(self.out_path, "wb")
        self.proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=self.out,
                                     stderr=subprocess.STDOUT)

    def output(self) -> str:
        return self.out_path.read_bytes().decode("utf-8", "replace")

    def wait(self, timeout: float = 30.0) -> int:
        try:
            return self.proc.wait(timeout)
        finally:
            self.out.close()

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def close(self) -> None:
        """End only what this test started: the watcher and its whole tree."""
        if self.proc.poll() is None:
            try:
                kids = psutil.Process(self.proc.pid).children(recursive=True)
            except psutil.Error:
                kids = []
            self.proc.send_signal(signal.SIGKILL)
            for k in kids:
                try:
                    k.kill()
                except psutil.Error:
                    pass
            self.proc.wait(10)
        self.out.close()


def start(watchers: list, root: Path, steps: list[str], *options: str, **kw: Any) -> Watcher:
    """Start a watcher that the `watchers` fixture ends after the test."""
    w = Watcher(root, steps, *options, **kw)
    watchers.append(w)
    return w


def db(root: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(root / "state" / "mailbox.db", timeout=10)
    conn.row_factory = sqlite3.Row
    return conn


def rows(root: Path, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
    if not (root / "state" / "mailbox.db").exists():
        return []
    conn = db(root)
    try:
        return conn.execute(sql, params).fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        conn.close()


def state(root: Path, agent: str = "solo:dev") -> sqlite3.Row | None:
    found = rows(root, "SELECT * FROM supervisor_agent_state WHERE agent_id=?", (agent,))
    return found[0] if found else None


def runs(root: Path) -> int:
    try:
        return int((root / "runs").read_text() or 0)
    except FileNotFoundError:
        return 0


def pids_alive(pidfile: Path) -> list[int]:
    if not pidfile.exists():
        return []
    alive = []
    for line in pidfile.read_text().split():
        try:
            p = psutil.Process(int(line))
            if p.status() != psutil.STATUS_ZOMBIE:
                alive.append(p.pid)
        except psutil.Error:
            pass
    return alive


def make_team(tmp_path: Path, agents: dict[str, str], compose_extra: str = "", project: str = "p") -> Path:
    """A compose tree (`<tmp>/proj/.team`) whose agents run the fake runtime as `claude-code`.

    `agents` maps agent name to extra YAML lines for it (already indented by 4 spaces).
    """
    base = tmp_path / "proj"
    team = base / ".team"
    (team / "projects").mkdir(parents=True)
    (team / "runtimes").mkdir()
    (team / "roles").mkdir()
    (team / "runtimes" / "claude-code.toml").write_text(
        (FAKES / "runtimes" / "fake.toml").read_text().replace('name = "fake"', 'name = "claude-code"'))
    (team / "team-compose.yaml").write_text(
        "version: 2\nbroker: {type: sqlite, path: state/mailbox.db}\nsupervisor: {type: tmux, tmux_prefix: t-}\n"
        + compose_extra + f"projects:\n  - file: projects/{project}.yaml\n")
    lines = [f"version: 2\nproject: {{id: {project}, name: P, cwd: .}}\nworkers:"]
    for name, extra in agents.items():
        (team / "roles" / f"{name}.md").write_text(f"You are {name}.\n")
        lines.append(f"  {name}:\n    runtime: claude-code\n    role_prompt: roles/{name}.md\n{extra}")
    (team / "projects" / f"{project}.yaml").write_text("\n".join(lines) + "\n")
    return team


class TeamWatcher(Watcher):
    """`teamctl rl-watch AGENT -- fake_agent.py STEPS` inside a compose tree."""

    def __init__(self, team: Path, agent: str, steps: list[str], *options: str,
                 env: dict[str, str] | None = None) -> None:
        self._start(team, agent, list(options), steps, team.parent,
                    env or fake_env(team, FAKE_RUNS_FILE=str(team / f"runs-{agent.replace(':', '-')}")))

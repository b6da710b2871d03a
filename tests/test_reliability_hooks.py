"""Hooks finish (issue 23 item 12, build item 10): a `run` hook of a stop hit runs in a session of its
own, outside the runtime's tree, under its own deadline, and is not killed with the runtime."""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

import pexpect
from teamctl_supervisor.agent.hooks import HookRunner
from teamctl_supervisor.agent.orphans import our_children
from teamctl_supervisor.core.compose_model import HookSpec
from watchkit import FAKES, fake_env

#: Sleeps past the runtime's stop, then writes its session and group ids beside the ids of the watcher.
SLOW_HOOK = ("import json, os, sys, time; time.sleep(1.5); "
             "open(sys.argv[1], 'w').write(json.dumps([os.getsid(0), os.getpgid(0), os.getppid(), sys.argv[2]]))")


def _team(tmp_path: Path, marker: Path) -> Path:
    base = tmp_path / "proj"
    team = base / ".team"
    (team / "projects").mkdir(parents=True)
    (team / "runtimes").mkdir()
    (team / "roles").mkdir()
    (team / "roles" / "dev.md").write_text("You are dev.\n")
    (team / "runtimes" / "claude-code.toml").write_text(
        (FAKES / "runtimes" / "fake.toml").read_text().replace('name = "fake"', 'name = "claude-code"'))
    (team / "team-compose.yaml").write_text(
        "version: 2\nbroker: {type: sqlite, path: state/mailbox.db}\nsupervisor: {type: tmux, tmux_prefix: t-}\n"
        "rate_limits:\n  default_on_hit: [slow, wait]\n  margin_seconds: 0\n  hooks:\n"
        f"    - {{name: slow, action: run, timeout: 20, argv: ['{sys.executable}', '-c', \"{SLOW_HOOK}\", "
        f"'{marker}', '{{raw_match}}']}}\n"
        "projects:\n  - file: projects/p.yaml\n")
    (team / "projects" / "p.yaml").write_text(
        "version: 2\nproject: {id: p, name: P, cwd: .}\nworkers:\n  dev:\n    runtime: claude-code\n"
        "    role_prompt: roles/dev.md\n    restart: on-failure\n")
    return base


def test_a_run_hook_of_a_stop_hit_outlives_the_runtime_stop_in_its_own_session(tmp_path):
    marker = tmp_path / "hook.json"
    base = _team(tmp_path, marker)
    # run 1: the hit (a stop: the runtime's tree is stopped at once), then hang; run 2 ends the watcher
    out, status = pexpect.run(
        f"{sys.executable} -m teamctl_supervisor rl-watch p:dev -- fake_agent.py "
        "'1@print:usage limit reached \u00b7 resets in 2s' 1@hang exit:0",
        cwd=str(base), env=fake_env(base / ".team"), withexitstatus=True, timeout=60, encoding="utf-8")
    assert status == 0, out
    deadline = time.monotonic() + 60  # the hook is in a session of its own: it may outlive the watcher
    while not marker.exists() or not marker.read_text():
        assert time.monotonic() < deadline, f"the hook never wrote {marker}\n{out}"
        time.sleep(0.05)
    sid, pgid, _, raw = json.loads(marker.read_text())
    assert sid == pgid  # it leads a session of its own: not the runtime's group, not the watcher's pty
    assert raw.startswith("usage limit reached")


def test_a_run_hook_past_its_deadline_is_killed_with_its_whole_group(tmp_path):
    pidfile = tmp_path / "grandchild"
    code = (f"import subprocess, sys, time; p = subprocess.Popen([sys.executable, '-c', 'import time; "
            f"time.sleep(60)']); open({str(pidfile)!r}, 'w').write(str(p.pid)); time.sleep(60)")
    hook = HookSpec(action="run", name="slow", timeout=1.0, argv=(sys.executable, "-c", code))
    runner = HookRunner({"slow": hook}, env={})
    [result] = runner.run_chain(["slow"], {})
    assert not result.ok and "killed" in result.detail
    grandchild = int(pidfile.read_text())
    import psutil

    deadline = time.monotonic() + 10
    while psutil.pid_exists(grandchild) and psutil.Process(grandchild).status() != "zombie":
        assert time.monotonic() < deadline, "the hook's child outlived its deadline"
        time.sleep(0.05)
    assert runner.running_pids() == frozenset()


def test_hook_values_lose_c0_and_c1_controls(tmp_path):
    out = tmp_path / "argv.json"
    code = "import json, sys; open(sys.argv[1], 'w').write(json.dumps(sys.argv[2:]))"
    hook = HookSpec(action="run", name="log", argv=(sys.executable, "-c", code, str(out), "{raw_match}"))
    raw = "limit \x9b31mred\x9b0m \x1b]0;title\x07reached\x9d8;;http://x\x9c \x85\x07bell"
    [result] = HookRunner({"log": hook}, env={}).run_chain(["log"], {"raw_match": raw})
    assert result.ok, result.detail
    assert json.loads(out.read_text()) == ["limit red reached bell"]


def test_a_run_hook_being_started_is_never_taken_for_an_orphan_of_the_runtime(tmp_path):
    """A stop lists our children while the hook thread may be forking a `run` hook: a hook listed
    before its pid is recorded must still be spared (a stop hit's hook was killed with the runtime)."""
    pids = tmp_path / "hook-pids"
    writes_pid = "import os, sys; open(sys.argv[1], 'a').write(f'{os.getpid()}\\n')"
    runner = HookRunner({"h": HookSpec(name="h", action="run", argv=(sys.executable, "-c", writes_pid, str(pids)),
                                       timeout=20)})
    done = threading.Event()

    def spawn() -> None:
        for _ in range(40):
            runner.run_chain(["h"], {})
        done.set()

    worker = threading.Thread(target=spawn)
    worker.start()
    listed: set[int] = set()  # children listed as orphans and still there (other tests' children too); a hook
    listings = 0  # that ended and was reaped between the listing and the spare list is gone, never ended by a stop
    while not done.is_set():
        listed |= {p.pid for p in our_children(-1, runner.running_pids) if p.is_running()}
        listings += 1
    worker.join()
    hooks = {int(line) for line in pids.read_text().split()}
    assert len(hooks) == 40 and listings > 40
    taken = listed & hooks
    assert taken == set(), f"{len(taken)} hooks were listed as the runtime's orphans"

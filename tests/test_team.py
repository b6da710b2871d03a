"""End to end: `teamctl validate/up/status/down/restart/wake/logs/rate-limits/attach` on the upstream
example teams, with the runtimes replaced by the fake agent under their real binary names, in real
tmux (a private server) and as detached processes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import time
from pathlib import Path

import psutil
import pytest
import yaml
from conftest import FakeBin, alive, copy_example, tree_pids, wait_for
from teamctl_supervisor.cli import main
from teamctl_supervisor.store.mailbox import Store
from teamctl_supervisor.team import ops as ops
from teamctl_supervisor.team import report
from teamctl_supervisor.team.backends import tmux as tmux_backend
from watchkit import ctrl_c_as_at_a_terminal


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEAMCTL_ROOT", raising=False)


class Team:
    """One copied example team driven through the real CLI entry point."""

    def __init__(self, root: Path, capsys: pytest.CaptureFixture[str], fake: FakeBin) -> None:
        self.root = root
        self.capsys = capsys
        self.fake = fake
        self.watchers: set[int] = set()

    def run(self, *args: str) -> tuple[int, str]:
        self.capsys.readouterr()
        code = main([*args, "-C", str(self.root)])
        out = self.capsys.readouterr()
        return code, out.out + out.err

    def states(self) -> dict:
        with Store(self.root / ".team" / "state" / "mailbox.db") as st:
            return st.agent_states()

    def status(self) -> dict[str, dict]:
        code, out = self.run("status", "--json")
        assert code == 0, out
        start = out.index("[")
        return {s["id"]: s for s in json.loads(out[start:out.rindex("]") + 1])}

    def remember(self) -> None:
        """Every watcher and runtime pid recorded so far (to prove later that none survives)."""
        for row in self.states().values():
            for pid in (row.watcher_pid, row.pid):
                if pid:
                    self.watchers |= tree_pids(pid) or {pid}

    def leftovers(self) -> list[int]:
        pids = self.watchers | set(self.fake.pids())
        return [p for p in pids if alive(p) and _ours(p)]

    def cleanup(self) -> None:
        """Kill only what this test started (if a test failed half way)."""
        self.remember()
        for pid in self.leftovers():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def _ours(pid: int) -> bool:
    try:
        cmd = " ".join(psutil.Process(pid).cmdline())
    except psutil.Error:
        return False
    return "rl-watch" in cmd or "fake_agent.py" in cmd


@pytest.fixture
def hello(tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_bin: FakeBin) -> Team:
    team = Team(copy_example("hello-team", tmp_path), capsys, fake_bin)
    yield team
    team.cleanup()


def _sessions() -> set[str]:
    return tmux_backend.sessions() or set()


# --------------------------------------------------------------------------------------------------
# validate


@pytest.mark.parametrize("name", ["hello-team", "startup-team", "newsletter-office"])
def test_validate_upstream_examples(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                    fake_bin: FakeBin, monkeypatch: pytest.MonkeyPatch) -> None:
    # a user who did what `validate` asks of Gemini agents sharing a folder (docs/compose.md, Sessions)
    home = tmp_path / "home"
    (home / ".gemini").mkdir(parents=True)
    (home / ".gemini" / "settings.json").write_text('{"general": {"sessionRetention": {"enabled": false}}}')
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("GEMINI_CLI_HOME", raising=False)
    root = copy_example(name, tmp_path)
    assert main(["validate", "-C", str(root)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1].startswith("ok: ")
    # the only warnings: the parts of upstream's tree this supervisor does not serve (bot, hitl, mailbox)
    assert all("not applied by this supervisor" in x for x in out.splitlines() if ": warning: " in x), out


def test_validate_finds_root_by_walking_up(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                           fake_bin: FakeBin, monkeypatch: pytest.MonkeyPatch) -> None:
    root = copy_example("hello-team", tmp_path)
    (root / "deep" / "er").mkdir(parents=True)
    monkeypatch.chdir(root / "deep" / "er")
    assert main(["validate"]) == 0
    monkeypatch.setenv("TEAMCTL_ROOT", str(tmp_path / "nowhere"))
    assert main(["validate"]) == 2
    assert "TEAMCTL_ROOT" in capsys.readouterr().err


def test_validate_reports_every_problem_with_file_and_key(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                          fake_bin: FakeBin) -> None:
    root = copy_example("hello-team", tmp_path)
    project = root / ".team" / "projects" / "hello.yaml"
    data = yaml.safe_load(project.read_text())
    data["workers"]["dev"]["runtime"] = "claude-cod"
    data["managers"]["manager"]["role_prompt"] = "roles/nope.md"
    project.write_text(yaml.safe_dump(data, sort_keys=False))
    assert main(["validate", "-C", str(root)]) == 2
    out = capsys.readouterr().out
    assert f"{project}: workers.dev.runtime: unknown runtime 'claude-cod'" in out
    assert f"{project}: managers.manager.role_prompt:" in out
    assert "2 errors" in out
    # up refuses to start anything while the tree has errors
    assert main(["up", "-C", str(root)]) == 2
    assert "nothing started" in capsys.readouterr().err
    assert not (root / ".team" / "state" / "mailbox.db").exists()


def test_validate_without_compose(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["validate"]) == 2
    assert "no compose tree found" in capsys.readouterr().err
    assert main(["up", "-C", str(tmp_path)]) == 2
    assert "no team-compose.yaml" in capsys.readouterr().err


def test_validate_warns_about_missing_binary(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                             fake_bin: FakeBin) -> None:
    if shutil.which("gemini", path=os.environ["PATH"].split(os.pathsep, 1)[1]):
        pytest.skip("a real gemini is installed")
    fake_bin.remove("gemini")
    root = copy_example("newsletter-office", tmp_path)
    assert main(["validate", "-C", str(root)]) == 0
    out = capsys.readouterr().out
    assert out.count("runtime binary 'gemini' not found") == 2


# --------------------------------------------------------------------------------------------------
# up / status / down in tmux


def test_up_status_down_in_tmux(hello: Team, tmux_socket: str) -> None:
    # A model name with spaces and quotes must reach the runtime as one argument, unchanged.
    project = hello.root / ".team" / "projects" / "hello.yaml"
    data = yaml.safe_load(project.read_text())
    odd = 'big "quoted" model\'s name $HOME; `x`'
    data["workers"]["dev"]["model"] = odd
    project.write_text(yaml.safe_dump(data, sort_keys=False))

    code, out = hello.run("up")
    assert code == 0, out
    assert "hello:manager: started (tmux session a-hello-manager)" in out
    assert "hello:dev: started (tmux session a-hello-dev)" in out
    assert {"a-hello-manager", "a-hello-dev"} <= _sessions()
    hello.remember()

    status = hello.status()  # right after up: both rows are there
    for agent_id in ("hello:manager", "hello:dev"):
        s = status[agent_id]
        assert s["state"] in ("running", "starting"), s
        assert s["watcher_pid"] and s["session"]
    wait_for(lambda: all(s["state"] == "running" and s["pid"] for s in hello.status().values()),
             what="both agents running with pids")
    wait_for(lambda: hello.fake.argv("hello:dev"), what="dev's argv recorded")
    argv = hello.fake.argv("hello:dev")
    assert argv[argv.index("--model") + 1] == odd

    code, out = hello.run("status")
    assert code == 0 and "hello:dev" in out and "running" in out
    code, out = hello.run("ps")
    assert code == 0 and "hello:manager" in out

    rows = hello.states()
    code, out = hello.run("up")  # idempotent
    assert code == 0
    assert "hello:manager: already running" in out and "hello:dev: already running" in out
    assert {a: r.watcher_pid for a, r in hello.states().items()} == {a: r.watcher_pid for a, r in rows.items()}

    hello.remember()
    code, out = hello.run("down")
    assert code == 0, out
    assert "hello:manager: stopped" in out and "hello:dev: stopped" in out
    assert not {"a-hello-manager", "a-hello-dev"} & _sessions()
    assert hello.leftovers() == []
    assert {r.state for r in hello.states().values()} == {"stopped"}
    code, out = hello.run("down")
    assert "hello:dev: not running" in out


def test_missing_binary_reported_others_start(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              fake_bin: FakeBin, tmux_socket: str) -> None:
    if shutil.which("codex", path=os.environ["PATH"].split(os.pathsep, 1)[1]):
        pytest.skip("a real codex is installed")
    fake_bin.remove("codex")
    team = Team(copy_example("startup-team", tmp_path), capsys, fake_bin)
    try:
        code, out = team.run("up", "eng_ic", "researcher")
        assert code == 1
        assert "startup:eng_ic: runtime binary 'codex' not found" in out
        assert "startup:researcher: started (tmux session startup-startup-researcher)" in out
        assert "startup-startup-eng_ic" not in _sessions()
        status = team.status()
        assert status["startup:eng_ic"]["state"] == "not-started"
        assert status["startup:founder"]["text"] == "not started"
        team.remember()
        code, out = team.run("down")
        assert "startup:researcher: stopped" in out and "startup:founder: not running" in out
        assert team.leftovers() == []
    finally:
        team.cleanup()


def test_down_kills_tree_that_ignores_sigterm(hello: Team, tmux_socket: str) -> None:
    hello.fake.steps("hello:dev", "ignore-term", "fork:setsid,ignore-term", "print:ready", "hang")
    code, out = hello.run("up", "dev")
    assert code == 0, out
    wait_for(lambda: len(hello.fake.pids()) >= 2, what="runtime and grandchild pids")
    wait_for(lambda: hello.status()["hello:dev"]["state"] == "running", what="dev running")
    hello.remember()
    code, out = hello.run("down", "dev", "--timeout", "1")
    assert code == 0
    assert "hello:dev: killed after timeout" in out
    assert hello.leftovers() == []
    assert "a-hello-dev" not in _sessions()
    assert hello.states()["hello:dev"].state == "stopped"


def test_restart_and_attach(hello: Team, tmux_socket: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert hello.run("up", "dev")[0] == 0
    first = wait_for(lambda: hello.status()["hello:dev"]["watcher_pid"], what="watcher pid")
    hello.remember()
    code, out = hello.run("restart", "dev")
    assert code == 0, out
    assert "hello:dev: stopped" in out and "hello:dev: started" in out
    second = hello.status()["hello:dev"]["watcher_pid"]
    assert second and second != first and not alive(first)

    calls: list[list[str]] = []
    monkeypatch.setattr(os, "execvp", lambda file, argv: calls.append(argv))
    assert hello.run("attach", "dev")[0] == 0
    assert calls[-1][-4:] == ["attach-session", "-r", "-t", "=a-hello-dev"]
    assert "-L" in calls[-1] and tmux_socket in calls[-1]
    hello.run("attach", "dev", "--rw")
    assert "-r" not in calls[-1]
    code, out = hello.run("attach", "manager")
    assert code == 1 and "not running" in out
    hello.remember()
    assert hello.run("down")[0] == 0
    assert hello.leftovers() == []


def test_stale_agents_when_tmux_server_is_gone(hello: Team, tmux_socket: str) -> None:
    assert hello.run("up")[0] == 0
    wait_for(lambda: all(s["state"] == "running" for s in hello.status().values()), what="running")
    hello.remember()
    # Watchers killed outright (no chance to write "stopped"): their sessions and the server go away.
    for pid in list(hello.watchers):
        if alive(pid):
            os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not ({"a-hello-manager", "a-hello-dev"} & _sessions()), what="sessions gone")
    status = hello.status()
    assert {s["state"] for s in status.values()} == {"stale"}
    code, out = hello.run("status")
    if tmux_backend.sessions() is None:
        assert "tmux server not running: 2 agents it ran are down; run `teamctl up`" in out
    code, out = hello.run("down")
    assert "not running" in out
    assert {r.state for r in hello.states().values()} == {"stopped"}


def test_tmux_server_killed_under_a_running_team_status_says_so_and_up_recovers(hello: Team,
                                                                                 tmux_socket: str) -> None:
    assert hello.run("up")[0] == 0
    wait_for(lambda: all(s["state"] == "running" for s in hello.status().values()), what="running")
    hello.remember()
    subprocess.run(["tmux", "-L", tmux_socket, "kill-server"], check=True)
    wait_for(lambda: all(s["state"] in ("stopped", "stale") for s in hello.status().values()),
             what="watchers gone with the server")
    code, out = hello.run("status")
    assert "tmux server not running: 2 agents it ran are down; run `teamctl up`" in out
    wait_for(lambda: hello.leftovers() == [], what="the runtimes gone with their watchers")
    assert hello.run("up")[0] == 0
    wait_for(lambda: all(s["state"] == "running" for s in hello.status().values()), what="back up")
    assert {"a-hello-manager", "a-hello-dev"} <= _sessions()
    hello.remember()
    assert hello.run("down")[0] == 0
    assert hello.leftovers() == []


# --------------------------------------------------------------------------------------------------
# the process backend


def test_process_backend_up_status_logs_down(hello: Team) -> None:
    hello.fake.steps("hello:dev", "print:\\x1b[31mfirst red\\x1b[0m", "print:second", "print:third line", "hang")
    code, out = hello.run("up", "--backend", "process")
    assert code == 0, out
    assert "hello:dev: started (process " in out
    console = hello.root / ".team" / "state" / "logs" / "hello-dev.console.log"
    assert stat.S_IMODE(console.stat().st_mode) == 0o600
    status = hello.status()
    assert all(s["watcher_pid"] and s["session"] is None for s in status.values())
    wait_for(lambda: all(s["state"] == "running" and s["pid"] for s in hello.status().values()),
             what="both running")
    code, out = hello.run("up", "--backend", "process")
    assert "hello:dev: already running (process)" in out

    log = hello.root / ".team" / "state" / "logs" / "hello-dev.log"
    wait_for(lambda: log.exists() and b"third line" in log.read_bytes(), what="output logged")
    code, out = hello.run("logs", "dev", "-n", "2")
    assert code == 0
    assert out.splitlines() == ["second", "third line"]
    code, out = hello.run("logs", "hello:dev", "-n", "3", "--raw")
    assert "\x1b[31mfirst red" in out
    code, out = hello.run("logs", "dev", "-n", "3")
    assert out.splitlines()[0] == "first red"
    code, out = hello.run("logs", "dev", "--supervisor")  # the watcher's own log
    assert code == 0 and "state running" in out

    code, out = hello.run("attach", "dev")
    assert code == 1 and "attach needs tmux" in out and "teamctl logs -f hello:dev" in out

    hello.remember()
    code, out = hello.run("down")
    assert code == 0, out
    assert "hello:dev: stopped" in out
    assert hello.leftovers() == []
    assert {r.state for r in hello.states().values()} == {"stopped"}


def test_process_backend_when_tmux_is_missing(hello: Team, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tmux_backend, "binary", lambda: None)
    code, out = hello.run("up", "manager")
    assert code == 0 and "hello:manager: started (process " in out
    hello.remember()
    assert hello.run("down")[0] == 0
    assert hello.leftovers() == []


# --------------------------------------------------------------------------------------------------
# limits: wake, limit group, rate-limits


def test_wake_ends_a_limit_wait_and_rate_limits_lists_it(hello: Team) -> None:
    # Claude Code's stream-json limit event (generic signature, action stop), resetting in 30 s.
    resets = int(time.time() + 30)
    event = ('{"type":"rate_limit_event","rate_limit_info":{"status":"rejected","resetsAt":' + str(resets)
             + ',"rateLimitType":"five_hour"}}')
    hello.fake.steps("hello:manager", f"1@print:{event}", "print:working", "hang")
    assert hello.run("up", "--backend", "process")[0] == 0
    wait_for(lambda: hello.states().get("hello:manager") and hello.states()["hello:manager"].state
             == "rate_limited", what="manager rate-limited")
    status = hello.status()["hello:manager"]
    assert status["text"].startswith("rate-limited until ") and status["until"] > time.time() + 20
    # The limit is per account: dev (same runtime, so same limit group) is paused until the same reset.
    wait_for(lambda: hello.states()["hello:dev"].state == "rate_limited", 30, what="dev paused by its group")

    code, out = hello.run("rate-limits")
    assert code == 0 and "hello:manager" in out and "rate_limit_event" in out and " no " in out
    code, out = hello.run("rate-limits", "--agent", "dev")
    assert "no rate-limit hits" in out
    code, out = hello.run("rate-limits", "--since", "1d", "--json")
    hits = json.loads(out)
    assert [h["agent"] for h in hits] == ["hello:manager"] and hits[0]["handled"] is False

    code, out = hello.run("wake", "manager", "dev")
    assert code == 0
    assert "hello:manager: woken (was rate-limited until" in out
    wait_for(lambda: hello.states()["hello:manager"].state == "running"
             and hello.states()["hello:manager"].restarts >= 1, what="manager respawned")
    code, out = hello.run("rate-limits", "--json")
    hit = json.loads(out)[0]
    assert hit["handled"] is True and hit["waited_seconds"] >= 0
    code, out = hello.run("wake", "manager")
    assert "hello:manager: not waiting (running)" in out

    hello.remember()
    assert hello.run("down")[0] == 0
    assert hello.leftovers() == []


def test_status_cost_today(hello: Team) -> None:
    # Claude Code's /cost panel: the total counts under its "Session" heading (a catted file's does not)
    hello.fake.steps("hello:dev", "print:  Session\\n\\n  Total cost:            $0.25", "hang")
    assert hello.run("up", "dev", "--backend", "process")[0] == 0
    wait_for(lambda: hello.status()["hello:dev"]["cost_today_usd"] >= 0.25, what="cost recorded")
    code, out = hello.run("status")
    assert "$0.25" in out
    hello.remember()
    assert hello.run("down")[0] == 0


def test_status_is_fast_with_many_agents(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """50 agents with live-looking rows: one status pass makes two mailbox queries, not one per agent
    (its time is measured in bench/, not asserted here)."""
    root = copy_example("hello-team", tmp_path)
    project = root / ".team" / "projects" / "hello.yaml"
    data = yaml.safe_load(project.read_text())
    for i in range(48):
        data["workers"][f"w{i}"] = {"runtime": "claude-code", "model": "m"}
    project.write_text(yaml.safe_dump(data, sort_keys=False))
    team = ops.load(str(root))
    me = os.getpid()
    with ops.store(team) as st:
        for a in team.agents:
            st.set_state(a.id, a.runtime, "running", watcher_pid=me, pid=me, started_at=time.time())
            st.record_budget("hello", a.id, a.runtime, 0.5, 1, 1, time.time())
    assert {s.state for s in report.status(team).agents} == {"stale"}  # the pid is not an rl-watch process
    monkeypatch.setattr(report, "watcher_process", lambda agent_id, row: psutil.Process(me))
    queries: list[str] = []
    real_query = Store.query
    monkeypatch.setattr(Store, "query",
                        lambda self, sql, params=(): queries.append(sql) or real_query(self, sql, params))
    rep = report.status(team)
    assert len(queries) == 3  # all states, all of today's costs, all usage windows
    assert len(rep.agents) == 50
    assert all(s.state == "running" and s.pid == me and s.rss and s.cost_today == 0.5 for s in rep.agents)


@pytest.mark.timeout(400)  # each wait below is a deadline of its own (120 s); the run takes seconds
def test_logs_follow(tmp_path: Path, fake_bin: FakeBin) -> None:
    """`logs -f` prints the tail, then new lines, across a rotation, until interrupted."""
    import subprocess
    import sys

    root = copy_example("hello-team", tmp_path)
    logs = root / ".team" / "state" / "logs"
    logs.mkdir(parents=True)
    log = logs / "hello-dev.log"
    log.write_bytes(b"old 1\r\nold 2\r\n")
    import queue
    import threading

    proc = subprocess.Popen([sys.executable, "-m", "teamctl_supervisor", "logs", "dev", "-f", "-n", "1",
                             "-C", str(root)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=ctrl_c_as_at_a_terminal)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()

    def next_line() -> str:
        """The next line `logs -f` prints: waited for as a condition, with a deadline no loaded
        machine misses (a wall-clock budget of a few seconds is what timed out)."""
        try:
            return lines.get(timeout=120)
        except queue.Empty:
            raise AssertionError("logs -f printed nothing within 120 s") from None

    try:
        assert next_line() == "old 2\n"
        with open(log, "ab") as fh:
            fh.write(b"\x1b[32mnew\x1b[0m\r\n")
        assert next_line() == "new\n"
        os.replace(log, f"{log}.1")
        log.write_bytes(b"rotated\n")
        assert next_line() == "rotated\n"
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(120)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == 0


def test_down_and_status_work_when_runtime_files_break(hello: Team) -> None:
    assert hello.run("up", "dev", "--backend", "process")[0] == 0
    hello.remember()
    broken = hello.root / ".team" / "runtimes" / "claude-code.toml"
    broken.parent.mkdir(exist_ok=True)
    broken.write_text("[launch\nbinary = 'claude'\n")  # a team override with a TOML error
    code, out = hello.run("up", "dev")
    assert code == 2 and "claude-code.toml" in out and "TOML" in out
    assert hello.status()["hello:dev"]["state"] in ("running", "starting")
    code, out = hello.run("down")
    assert code == 0 and "hello:dev: stopped" in out
    assert hello.leftovers() == []


def test_down_still_stops_the_team_when_the_compose_file_breaks(hello: Team) -> None:
    assert hello.run("up", "--backend", "process")[0] == 0
    wait_for(lambda: all(s["state"] == "running" for s in hello.status().values()), what="running")
    hello.remember()
    compose = hello.root / ".team" / "team-compose.yaml"
    compose.write_text(compose.read_text() + "projects: [unclosed\n")  # a typo while the team runs
    code, out = hello.run("status")  # shows what the mailbox records, after one warning line
    assert code == 0 and "team-compose.yaml does not load (1 error: teamctl validate)" in out
    assert "hello:dev" in out and "running" in out
    code, out = hello.run("down")
    assert code == 0, out
    assert "does not load; stopping every agent recorded in" in out
    assert "hello:manager: stopped" in out and "hello:dev: stopped" in out
    wait_for(lambda: hello.leftovers() == [], what="nothing left running")

"""End to end: `teamctl rl-watch` drives the fake runtime through a real pty, real SQLite, real signals."""

from __future__ import annotations

import os
import signal
import sys
import time

import pexpect
import pytest
from watchkit import FAKES, fake_env, pids_alive, rows, runs, start, state, wait_for

LIMIT_IN_2S = r"1@print:usage limit reached \u00b7 resets in 2s"


def test_limit_hit_records_row_waits_and_respawns_with_resume_flag(root, watchers):
    w = start(watchers, root, ["print:working", LIMIT_IN_2S, "1@hang", "2@print:second-run"],
              "--margin", "0.5", "--restart", "on-failure")
    assert w.wait(30) == 0
    hits = rows(root, "SELECT * FROM rate_limits")
    assert len(hits) == 1
    hit = hits[0]
    assert hit["agent_id"] == "solo:dev" and hit["runtime"] == "fake"
    assert hit["raw_match"] == "usage limit reached · resets in 2s"
    assert hit["resets_at"] == pytest.approx(hit["hit_at"] + 2, abs=0.5)
    assert hit["handled_at"] >= hit["resets_at"] + 0.5 - 0.05
    out = w.output()
    assert "second-run" in out and "resumed-session" in out  # respawned with the resume args
    assert "rate-limited: resuming at" in out
    assert runs(root) == 2
    st = state(root)
    assert st["state"] == "stopped" and st["last_exit"] == 0 and st["restarts"] == 1


def test_limit_without_reset_waits_the_fallback(root, watchers):
    w = start(watchers, root, ["1@print:usage limit reached", "1@hang", "exit:0"],
              "--fallback-wait", "1", "--margin", "0", "--restart", "on-failure")
    assert w.wait(30) == 0
    hit = rows(root, "SELECT * FROM rate_limits")[0]
    assert hit["resets_at"] is None
    assert 0.9 <= hit["handled_at"] - hit["hit_at"] < 5
    assert runs(root) == 2


def test_limit_split_across_writes_and_wrapped_in_ansi_is_caught(root, watchers):
    steps = [r"1@write:\x1b[1;31musage lim", "1@sleep:0.2", r"1@write:it rea\x1b[0", "1@sleep:0.2",
             r"1@write:mched \u00b7 resets in 1s\x1b[0m", "1@sleep:0.2", "1@print:", "1@hang", "exit:0"]
    w = start(watchers, root, steps, "--margin", "0", "--restart", "on-failure")
    assert w.wait(30) == 0
    hits = rows(root, "SELECT raw_match FROM rate_limits")
    assert [h["raw_match"] for h in hits] == ["usage limit reached · resets in 1s"]


def test_reset_on_a_following_line_is_read_with_lookahead(root, watchers):
    steps = ["1@print:quota exceeded for gemini-2.5-pro", "1@print:", "1@print:Access resets at 11:59 PM",
             "1@hang"]
    w = start(watchers, root, steps, "--tz", "UTC", "--max-wait", "2", "--margin", "0")
    hit = wait_for(lambda: rows(root, "SELECT * FROM rate_limits"), what="the hit row")[0]
    assert "Access resets at 11:59 PM" in hit["raw_match"]
    reset = time.gmtime(hit["resets_at"])
    assert (reset.tm_hour, reset.tm_min) == (23, 59)
    assert "capped" in wait_for(lambda: "capped" in w.output() and w.output())  # 11:59 PM is > 2 s away
    scope = rows(root, "SELECT model FROM supervisor_limit_scope")
    assert scope[0]["model"] == "gemini-2.5-pro"


def test_exit_status_is_the_runtimes_own_when_not_restarting(root, watchers):
    w = start(watchers, root, ["print:bye", "exit:7"], "--restart", "never")
    assert w.wait(20) == 7
    assert state(root)["state"] == "stopped"
    assert state(root)["last_exit"] == 7


def test_crash_loop_backs_off_then_gives_up_as_failed(root, watchers):
    w = start(watchers, root, ["exit:3"], "--backoff-initial", "0.1", "--backoff-max", "0.4",
              "--give-up-exits", "4")
    started = time.monotonic()
    assert w.wait(30) == 3
    elapsed = time.monotonic() - started
    assert runs(root) == 4  # no tight loop: exactly the allowed spawns
    assert elapsed >= 0.1 + 0.2 + 0.4  # backoff doubled up to the cap between spawns
    st = state(root)
    assert st["state"] == "failed" and "gave up" in st["detail"]


def test_record_action_keeps_running_then_waits_for_reset_when_the_cli_gives_up(root, watchers):
    steps = ["1@print:rate limited; retrying in 1.5 seconds", "1@sleep:0.3", "1@exit:1",
             "2@print:second-run", "exit:0"]
    w = start(watchers, root, steps, "--margin", "0.2", "--restart", "on-failure", "--backoff-initial", "30")
    assert w.wait(30) == 0  # a 30 s crash backoff would have timed out: it waited for the reset instead
    hit = rows(root, "SELECT * FROM rate_limits")[0]
    assert hit["handled_at"] - hit["hit_at"] >= 1.5
    assert "second-run" in w.output()


def test_a_retrying_line_then_the_blocking_line_of_the_same_limit_make_one_row(root, watchers):
    """As Claude Code 2.1.197 draws `… limit reached · Retrying in …` beside its limit menu: read
    apart (here 0.3 s), the blocking line takes over the record line's row."""
    steps = ["1@print:rate limited; retrying in 2 seconds", "1@sleep:0.3",
             "1@print:usage limit reached · resets in 2s", "1@hang", "exit:0"]
    w = start(watchers, root, steps, "--margin", "0", "--restart", "on-failure")
    assert w.wait(30) == 0  # stopped at the blocking line, waited out, respawned, exited 0
    hits = rows(root, "SELECT * FROM rate_limits")
    assert [h["raw_match"] for h in hits] == ["usage limit reached · resets in 2s"]
    assert hits[0]["handled_at"] is not None
    scope = rows(root, "SELECT action FROM supervisor_limit_scope")
    assert [s["action"] for s in scope] == ["stop"]


def test_a_hit_the_clis_hook_wrote_first_is_the_screens_row_too(root, watchers):
    """Claude Code's StopFailure hook (`teamctl rl-hit`) may write the hit before the watcher reads
    it on the screen: one row, the hook's, marked handled by the watcher."""
    from teamctl_supervisor.store.mailbox import Store

    steps = ["1@sleep:1.5", "1@print:usage limit reached · resets in 2s", "1@hang", "exit:0"]
    w = start(watchers, root, steps, "--margin", "0", "--restart", "on-failure")
    store = Store(root / "state" / "mailbox.db")
    hooked = time.time()
    store.record_rate_limit("solo:dev", "fake", hooked, hooked + 2, "rate_limit")  # as rl-hit writes it
    store.close()
    assert w.wait(30) == 0
    hits = rows(root, "SELECT * FROM rate_limits")
    assert [h["hit_at"] for h in hits] == [hooked] and hits[0]["handled_at"] is not None
    assert hits[0]["raw_match"] == "usage limit reached · resets in 2s"
    assert [s["hit_at"] for s in rows(root, "SELECT hit_at FROM supervisor_limit_scope")] == [hooked]


def test_runtime_ignoring_sigterm_and_its_grandchildren_are_all_gone_after_a_limit_stop(root, watchers):
    pidfile = root / "pids"
    steps = [f"1@pidfile:{pidfile}", "1@ignore-term", "1@fork:ignore-term", "1@fork:setsid,ignore-term",
             r"1@print:usage limit reached \u00b7 resets in 1s", "1@hang", "2@print:second-run", "exit:0"]
    w = start(watchers, root, steps, "--margin", "0", "--restart", "on-failure", "--stop-timeout", "0.5")
    assert w.wait(30) == 0
    pids = pidfile.read_text().split()
    assert len(pids) == 3
    assert pids_alive(pidfile) == []
    assert "second-run" in w.output()


def test_sigterm_during_a_wait_exits_cleanly_and_promptly(root, watchers):
    w = start(watchers, root, ["print:usage limit reached", "hang"], "--fallback-wait", "3600")
    wait_for(lambda: (st := state(root)) and st["state"] == "rate_limited", what="rate_limited state")
    w.signal(signal.SIGTERM)
    assert w.wait(10) == 128 + signal.SIGTERM
    assert state(root)["state"] == "stopped"
    assert "Traceback" not in w.output()


def test_sigusr1_ends_a_wait_early(root, watchers):
    steps = ["1@print:usage limit reached", "1@hang", "2@print:second-run", "exit:0"]
    w = start(watchers, root, steps, "--fallback-wait", "3600", "--restart", "on-failure")
    wait_for(lambda: (st := state(root)) and st["state"] == "rate_limited", what="rate_limited state")
    w.signal(signal.SIGUSR1)
    assert w.wait(15) == 0
    assert "second-run" in w.output()
    assert rows(root, "SELECT handled_at FROM rate_limits")[0]["handled_at"] is not None


def test_resume_action_keeps_the_session_and_sends_the_resume_keys(root, watchers):
    steps = ["print:session limit hit, you can continue at in 1s", "echo-input", "exit:0"]
    w = start(watchers, root, steps, "--margin", "0.2", "--restart", "on-failure")
    assert w.wait(30) == 0
    assert "got: continue" in w.output()
    assert runs(root) == 1  # the same process went on: no respawn
    hit = rows(root, "SELECT * FROM rate_limits")[0]
    assert hit["handled_at"] - hit["hit_at"] >= 1.0


def test_dialog_is_answered_once(root, watchers):
    steps = ["print:Do you trust the files in this folder?", "echo-input", "exit:0"]
    w = start(watchers, root, steps, "--restart", "never")
    assert w.wait(20) == 0
    assert "got: 1" in w.output()


def test_cost_running_total_recorded_as_deltas(root, watchers):
    steps = ["print:session cost: $0.10 (1.2k in, 300 out)", "print:session cost: $0.10 (1.2k in, 300 out)",
             "print:session cost: $0.25 (2,000 in, 500 out)", "exit:0"]
    w = start(watchers, root, steps, "--restart", "never")
    assert w.wait(20) == 0
    got = [(round(r["usd"], 4), r["input_tok"], r["output_tok"]) for r in
           rows(root, "SELECT * FROM budget ORDER BY id")]
    assert got == [(0.10, 1200, 300), (0.15, 800, 200)]
    assert rows(root, "SELECT project_id, agent_id FROM budget")[0]["project_id"] == "solo"


def test_output_is_relayed_unchanged_to_stdout_and_log(root, watchers):
    payload = r"colour \x1b[32mgreen\x1b[0m and caf\u00e9"
    w = start(watchers, root, [f"print:{payload}", "exit:0"], "--restart", "never")
    assert w.wait(20) == 0
    expected = "colour \x1b[32mgreen\x1b[0m and café".encode()
    assert expected in (root / "solo-dev.out").read_bytes()
    log = root / "state" / "logs" / "solo-dev.log"
    assert expected in log.read_bytes()
    assert oct(log.stat().st_mode & 0o777) == "0o600"
    assert oct((root / "state").stat().st_mode & 0o777) == "0o700"


def test_missing_binary_exits_127_with_a_clear_message(root, tmp_path):
    env = fake_env(root)
    proc = pexpect.run(f"{sys.executable} -m teamctl_supervisor rl-watch solo:dev --runtime fake --root {root} "
                       "-- no-such-agent-cli", env=env, withexitstatus=True, timeout=20)
    out, status = proc
    assert status == 127
    assert b"no-such-agent-cli" in out and b"not found" in out


def test_bad_agent_id_is_refused_with_status_2(root):
    out, status = pexpect.run(f"{sys.executable} -m teamctl_supervisor rl-watch 'bad;id' --runtime fake --root {root} "
                              "-- fake_agent.py", env=fake_env(root), withexitstatus=True, timeout=20)
    assert status == 2
    assert b"PROJECT:AGENT" in out
    assert not (root / "state").exists()  # nothing half-started


def _modes(child: pexpect.spawn) -> str:
    """The terminal modes `stty -g` printed (before and after rl-watch ran in that terminal)."""
    child.expect(r"([0-9a-f:]{40,})\r\n")
    return child.match.group(1)


def test_interactive_terminal_forwards_keys_and_is_restored(root):
    env = fake_env(root)
    script = (f"stty -g; {sys.executable} -m teamctl_supervisor rl-watch solo:dev --runtime fake --root {root} "
              f"--restart never -- fake_agent.py print:ready echo-input exit:0; echo rc=$?; stty -g")
    child = pexpect.spawn("/bin/sh", ["-c", script], env=env, dimensions=(30, 100), timeout=20)
    try:
        before = _modes(child)
        child.expect("ready")
        child.sendline("hello there")
        child.expect("got: hello there")
        child.expect(r"rc=0\r\n")
        after = _modes(child)
    finally:
        child.close(force=True)
    assert before == after


def test_window_size_is_passed_to_the_runtime_and_follows_resizes(root, tmp_path):
    probe = tmp_path / "size.py"
    probe.write_text(
        "import os, signal, sys, time\n"
        "def show(*_):\n"
        "    c, r = os.get_terminal_size(0)\n"
        "    print(f'size={r}x{c}', flush=True)\n"
        "signal.signal(signal.SIGWINCH, show)\n"
        "show()\n"
        "sys.stdin.readline()\n")
    env = fake_env(root)
    cmd = (f"{sys.executable} -m teamctl_supervisor rl-watch solo:dev --runtime fake --root {root} --restart never "
           f"-- {sys.executable} {probe}")
    child = pexpect.spawn("/bin/sh", ["-c", cmd], env=env, dimensions=(30, 100), timeout=20)
    try:
        child.expect("size=30x100")
        child.setwinsize(40, 120)
        child.expect("size=40x120")
        child.sendline("")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)


def test_detached_runtime_gets_a_wide_window(root, tmp_path, watchers):
    probe = tmp_path / "size.py"
    probe.write_text("import os\nc, r = os.get_terminal_size(0)\nprint(f'size={r}x{c}', flush=True)\n")
    env = fake_env(root)
    out, status = pexpect.run(f"/bin/sh -c '{sys.executable} -m teamctl_supervisor rl-watch solo:dev --runtime fake "
                              f"--root {root} --restart never -- {sys.executable} {probe} < /dev/null'",
                              env=env, withexitstatus=True, timeout=20)
    assert status == 0
    assert b"size=50x400" in out


def test_trailing_partial_line_is_scanned_when_the_child_exits(root, watchers):
    w = start(watchers, root, [r"1@write:usage limit reached \u00b7 resets in 1s", "1@exit:0",
                               "2@print:second-run", "exit:0"], "--margin", "0", "--restart", "on-failure")
    assert w.wait(30) == 0
    assert len(rows(root, "SELECT * FROM rate_limits")) == 1
    assert runs(root) == 2


def test_hook_chain_runs_send_before_and_run_after_the_wait(tmp_path):
    base = tmp_path / "proj"
    team = base / ".team"
    (team / "projects").mkdir(parents=True)
    (team / "runtimes").mkdir()
    (team / "roles").mkdir()
    (team / "roles" / "dev.md").write_text("You are dev.\n")
    (team / "runtimes" / "claude-code.toml").write_text(
        (FAKES / "runtimes" / "fake.toml").read_text().replace('name = "fake"', 'name = "claude-code"'))
    marker = tmp_path / "hook-argv"
    (team / "team-compose.yaml").write_text(
        "version: 2\nbroker: {type: sqlite, path: state/mailbox.db}\nsupervisor: {type: tmux, tmux_prefix: t-}\n"
        "rate_limits:\n  default_on_hit: [notify, wait, after]\n  margin_seconds: 0\n  hooks:\n"
        "    - {name: notify, action: send, to: 'p:dev', text: 'limit {raw_match}'}\n"
        f"    - {{name: after, action: run, argv: ['{sys.executable}', '-c', "
        f"'import sys,json; open(sys.argv[1],\"w\").write(json.dumps(sys.argv[2:]))', '{marker}', "
        "'{raw_match}', '{agent}']}\n"
        "projects:\n  - file: projects/p.yaml\n")
    (team / "projects" / "p.yaml").write_text(
        "version: 2\nproject: {id: p, name: P, cwd: .}\nworkers:\n  dev:\n    runtime: claude-code\n"
        "    role_prompt: roles/dev.md\n    restart: on-failure\n")
    env = fake_env(team)
    hostile = r"$(touch PWNED) {agent} \"q usage limit reached \u00b7 resets in 1s"
    out, status = pexpect.run(
        f"{sys.executable} -m teamctl_supervisor rl-watch p:dev -- fake_agent.py '1@print:{hostile}' 1@hang exit:0",
        cwd=str(base), env=env, withexitstatus=True, timeout=30)
    assert status == 0, out
    import json
    import sqlite3

    argv = json.loads(marker.read_text())
    assert argv[0] == '$(touch PWNED) {agent} "q usage limit reached · resets in 1s'
    assert argv[1] == "p:dev"
    assert not (base / "PWNED").exists() and not (team / "PWNED").exists()
    conn = sqlite3.connect(team / "state" / "mailbox.db")
    msgs = conn.execute("SELECT recipient, text FROM messages").fetchall()
    assert msgs == [("p:dev", "limit " + argv[0])]
    os.environ.get("X")


def test_model_scoped_hit_pauses_only_the_group_members_on_that_model(root, watchers):
    other = start(watchers, root, ["print:other-up", "hang"], "--model", "claude-sonnet-4-6",
                  "--limit-group", "acct", agent="p:other")
    same = start(watchers, root, ["print:same-up", "hang"], "--model", "gemini-2.5-pro",
                 "--limit-group", "acct", agent="p:same")
    for agent in ("p:other", "p:same"):
        wait_for(lambda a=agent: (s := state(root, a)) and s["state"] == "running", what=f"{agent} running")
    start(watchers, root, ["print:quota exceeded for gemini-2.5-pro", "print:Access resets at 11:59 PM", "hang"],
          "--model", "gemini-2.5-pro", "--limit-group", "acct", "--tz", "UTC", agent="p:hit")
    wait_for(lambda: (s := state(root, "p:same")) and s["state"] == "rate_limited", what="same-model agent paused")
    hit = rows(root, "SELECT * FROM supervisor_limit_scope")[0]
    assert state(root, "p:same")["until"] == pytest.approx(hit["until"], abs=1)
    assert state(root, "p:other")["state"] == "running"  # another model of the same account goes on
    assert other.proc.poll() is None and same.proc.poll() is None


def test_ctrl_c_during_an_attached_wait_stops_cleanly_and_restores_the_terminal(root):
    script = (f"stty -g; {sys.executable} -m teamctl_supervisor rl-watch solo:dev --runtime fake --root {root} "
              f"--fallback-wait 3600 -- fake_agent.py 'print:usage limit reached' hang; echo rc=$?; stty -g")
    child = pexpect.spawn("/bin/sh", ["-c", script], env=fake_env(root), dimensions=(30, 100), timeout=20)
    try:
        before = _modes(child)
        child.expect(r"rate-limited: resuming at .* \(in 1h0?0m")  # the live countdown
        child.send("\x03")
        child.expect(r"rc=130")
        after = _modes(child)
    finally:
        child.close(force=True)
    assert before == after
    assert state(root)["state"] == "stopped"


def test_a_wait_hears_a_stop_queued_behind_a_wake_and_the_other_signals_are_handled_not_dropped(root):
    """The handlers only queue; a Wait's step takes the wake without clearing the rest of the queue:
    a stop behind it still ends the wait and reaches the reactor (its commands executed), and a
    window change queued with them is handled, not thrown away."""
    from teamctl_supervisor.agent.settings import adhoc_settings
    from teamctl_supervisor.agent.watch import AgentWatch
    from teamctl_supervisor.core import reactor as r
    from teamctl_supervisor.core.states import WaitEnd

    settings = adhoc_settings("solo:dev", "fake", ["fake_agent.py", "hang"], root)
    devnull = os.open(os.devnull, os.O_RDWR)
    w = AgentWatch(settings, stdin_fd=devnull, stdout_fd=devnull)
    try:
        w.reactor.start(w._now())
        wait = w.reactor.limits(w._now(), None, w.clock.wall() + 3600)[0]  # a budget pause: a Wait
        assert isinstance(wait, r.Wait) and w.reactor.phase is r.Phase.WAITING
        resized = []
        w.handle_winch = lambda signum: resized.append(signum)  # type: ignore[method-assign]
        w._signals.extend([("wake", signal.SIGUSR1), ("winch", signal.SIGWINCH)])
        assert w._pause(5.0) is WaitEnd.WAKE
        assert resized == [signal.SIGWINCH] and not w._signals
        w._signals.extend([("wake", signal.SIGUSR1), ("stop", signal.SIGTERM)])
        assert w._pause(5.0) is WaitEnd.STOP
        assert w.reactor.stopping_for == signal.SIGTERM and not w._signals
        assert w.reactor.waited(wait.kind, WaitEnd.STOP, w._now())[-1] == r.Exit(128 + signal.SIGTERM)
    finally:
        w._cleanup()
        os.close(devnull)

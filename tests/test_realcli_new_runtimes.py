"""opencode, GitHub Copilot CLI and Factory droid, the REAL pinned executables, against the fake API on
127.0.0.1 (tests/realcli/{opencode,copilot,droid}.py; evidence in tests/realcli/notes/new-runtimes.md).

Headless: each run reaches the fake API, prints its answer, and the usage it prints is read by the
Scanner with the figures the fake API sent. Under `teamctl rl-watch`, in private tmux panes: opencode's
TUI retrying a 429 is recorded, Copilot's TUI (its folder-trust dialog answered by the watcher) giving
up on a 429 is a resume hit at the provider's reset, and `droid exec` at a 402 is a stop hit. droid's
interactive TUI needs a Factory login and is not run. The runs of each group go at the same time; every
wait is a deadline on a condition. A missing CLI fails (binary() asserts).
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from realcli import copilot, droid, opencode
from realcli.fakeapi import FakeAPI
from realcli.install import pins
from realcli.watched import WatchedAgent
from teamctl_supervisor.agent.budget import find_price, load_prices, tokens_to_usd
from teamctl_supervisor.core.descriptors.loader import load_runtime
from teamctl_supervisor.core.scan.scanner import EventKind, Scanner
from teamctl_supervisor.store import layout

REPLY = "Hello from the fake API."


def scan(runtime: str, text: str) -> list:
    now = datetime.now(UTC)
    scanner = Scanner(load_runtime(runtime), tz=ZoneInfo("UTC"), clock=lambda: now)
    return scanner.feed(text.encode()) + scanner.finish()


@dataclass
class Run:
    api: FakeAPI
    proc: subprocess.CompletedProcess[str]


HEADLESS = {
    "run-opencode": (opencode, None, ("run", "--format", "json", "hi")),
    "run-opencode-quota": (opencode, ("quota", {"headers": {"retry-after": "0", "retry-after-ms": "0"}}),
                           ("run", "hi")),
    "run-copilot": (copilot, None, ("-p", "hi", "--allow-all-tools")),
    "run-droid": (droid, None, ("exec", "-m", droid.MODEL_ID, "-o", "json", "hi")),
}


def _start(module: Any, home: Path, api: FakeAPI, *args: str) -> subprocess.Popen[str]:
    env = module.prepare(home, api.base_url)
    return subprocess.Popen(module.argv(*args), env=env, cwd=home / "work", stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)




@dataclass
class Watched:
    api: FakeAPI
    agent: WatchedAgent
    reset_at: float


PROMPT = "say hello"


def _type_prompt(w: Watched, ready: str) -> None:
    """Type PROMPT once the TUI shows `ready`, then press Enter until a model request comes."""
    w.agent.wait_for(lambda: ready in w.agent.screen(), 60, f"the prompt ({ready!r})")
    w.agent.send(PROMPT, literal=True)
    w.agent.wait_for(lambda: PROMPT in w.agent.screen(), 20, "the typed prompt")
    assert w.agent.press_enter_until(w.api.model_requests), f"no model request\n{w.agent.screen()}"


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The watched agents and, while their TUIs start, every headless run (each with a fake API of its own)."""
    tmp = tmp_path_factory.mktemp("new-runtimes-watch")
    started: dict[str, Watched] = {}
    apis: list[FakeAPI] = []

    def start(name: str, module: Any, runtime: str, *args: str, limit: tuple[str, dict] | None = None,
              lifts_at: float | None = None, options: tuple[str, ...] = (), **prepare: Any) -> Watched:
        api = FakeAPI(reply_text=REPLY).start()
        apis.append(api)
        if limit:
            api.set_limit(limit[0], lifts_at, **limit[1])
        home = tmp / f"{name}-home"
        env = module.prepare(home, api.base_url, **prepare)
        agent = WatchedAgent(tmp / f"team-{name}", name[:2], runtime, module.argv(*args), env, home / "work", *options)
        started[name] = Watched(api, agent, 0.0)
        return started[name]

    procs: dict[str, tuple[FakeAPI, subprocess.Popen[str]]] = {}
    copilot.package_dir()  # unpacked once, before two copilot processes could race to do it
    try:
        # droid exec at a 402 (its BYOK quota: not retried), set before the CLI starts and lifted after
        # 20 s; the message names no reset, so the watcher waits its fallback (25 s here) and starts the
        # run again (no --resume: exec rejects it), which is answered; an exit 0 then ends the agent
        start("droid", droid, "droid", "exec", "-m", droid.MODEL_ID, "-o", "stream-json", "hi",
              limit=("quota", {"status": 402}), lifts_at=time.time() + 20,
              options=("--fallback-wait", "25", "--restart", "on-failure"))
        # copilot headless with JSON output (no tokens in it): the usage file the watcher names is read at exit
        start("copilot-json", copilot, "copilot", "-p", "hi", "--allow-all-tools", "--output-format", "json",
              options=("--restart", "on-failure"))
        # droid's TUI in Airgap mode (no Factory login): its folder-trust dialog first (the watcher answers it)
        dt = start("droid-tui", droid, "droid", airgap=True)
        # opencode: a 429 whose retry-after (two minutes) opencode waits out itself
        oc = start("opencode", opencode, "opencode")
        # copilot: its trust dialog first (the watcher answers it), then a 429 without a usable wait
        cp = start("copilot", copilot, "copilot")
        oc.reset_at = time.time() + 120
        oc.api.set_limit("rate_limit", oc.reset_at)
        cp.reset_at = time.time() + 300
        cp.api.set_limit("rate_limit", cp.reset_at, headers={"retry-after": "0", "retry-after-ms": "0"})
        for name, (module, limit, args) in HEADLESS.items():  # the headless runs while the TUIs start
            api = FakeAPI(reply_text=REPLY).start()
            apis.append(api)
            if limit:
                api.set_limit(limit[0], None, **limit[1])
            procs[name] = (api, _start(module, tmp / name, api, *args))
        _type_prompt(oc, "Ask anything")
        _type_prompt(cp, "/ commands")
        _type_prompt(dt, "? for help")  # shown once the trust dialog is gone
        runs = {}
        for name, (api, proc) in procs.items():
            out, err = proc.communicate(timeout=90)
            runs[name] = Run(api, subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
        yield {**started, **runs}
    finally:
        for _, proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        for w in started.values():
            w.agent.close()
        for api in apis:
            api.stop()


# ------------------------------------------------------------------------------------------------
# Headless


def test_opencode_run_reaches_the_api_and_its_json_step_gives_tokens_and_its_own_dollars(team) -> None:
    run = team["run-opencode"]
    assert run.proc.returncode == 0, run.proc.stderr
    events = [json.loads(line) for line in run.proc.stdout.splitlines() if line.startswith("{")]
    assert [e["part"]["text"] for e in events if e["type"] == "text"] == [REPLY]
    main = run.api.answered_ok()[0]
    assert main.path == "/v1/chat/completions" and main.body["model"] == opencode.MODEL
    assert main.body["stream"] is True and main.body["stream_options"] == {"include_usage": True}
    assert main.headers["user-agent"].startswith(f"opencode/{pins()['opencode']['version']} ")
    (cost,) = [e for e in scan("opencode", run.proc.stdout) if e.kind is EventKind.COST]
    u = run.api.usage
    assert (cost.input_tokens, cost.output_tokens, cost.cached_tokens) == (u["input"], u["output"], u["cache_read"])
    assert cost.usd == pytest.approx(opencode.usd(u), abs=1e-9)


def test_opencode_run_at_a_quota_ends_with_its_error_line_a_stop_hit(team) -> None:
    run = team["run-opencode-quota"]
    assert run.proc.returncode == 1
    assert "Error: \x1b[0mYou exceeded your current quota" in run.proc.stderr
    assert len(run.api.model_requests()) >= 6  # the first try and five retries (retry-after 0), plus the title's
    (hit,) = [e for e in scan("opencode", run.proc.stderr) if e.kind is EventKind.RATE_LIMIT]
    assert (hit.signature, hit.action.value) == ("opencode-run-error", "stop")


def test_copilot_prompt_mode_in_byok_reaches_the_api_and_its_stats_give_the_tokens(team) -> None:
    run = team["run-copilot"]
    assert run.proc.returncode == 0, run.proc.stderr
    assert run.proc.stdout.strip() == REPLY
    assert all(r.path == "/v1/chat/completions" for r in run.api.requests)  # offline: nothing but the model
    assert run.api.answered_ok()[0].body["model"] == copilot.MODEL
    assert "Tokens     ↑ 1.2k (200 cached) • ↓ 56" in run.proc.stderr
    (cost,) = [e for e in scan("copilot", run.proc.stderr) if e.kind is EventKind.COST]
    u = run.api.usage
    assert (cost.input_tokens, cost.output_tokens, cost.cached_tokens) == (1200, u["output"], u["cache_read"])
    assert cost.total and cost.cached_in_input  # ↑ is input with the cache reads, rounded to 1.2k


def test_droid_exec_with_a_byok_model_reaches_the_api_and_its_result_gives_the_tokens(team) -> None:
    run = team["run-droid"]
    assert run.proc.returncode == 0, run.proc.stderr
    result = json.loads(run.proc.stdout)
    assert result["result"] == REPLY and result["is_error"] is False
    ok = run.api.answered_ok()
    assert ok and ok[0].body["model"] == droid.MODEL and ok[0].headers["user-agent"] == "factory-cli/0.225.2"
    (cost,) = [e for e in scan("droid", run.proc.stdout) if e.kind is EventKind.COST]
    u = run.api.usage
    assert (cost.input_tokens, cost.output_tokens, cost.cached_tokens) == (u["input"], u["output"], u["cache_read"])
    assert not cost.cached_in_input and cost.usd is None


# ------------------------------------------------------------------------------------------------
# Under rl-watch


def _hit(w: Watched, signature: str, timeout: float = 60) -> Any:
    hits = w.agent.wait_for(w.agent.hits, timeout, "the rate-limit row")
    w.agent.wait_for(lambda: f"rate limit hit ({signature}, " in w.agent.log(), 20, f"{signature} in the log")
    return hits


def test_opencode_tui_retrying_a_429_is_recorded_while_it_waits_by_itself(team) -> None:
    w = team["opencode"]
    hits = _hit(w, "opencode-retrying-limit")
    assert len(hits) == 1 and hits[0]["runtime"] == "opencode" and "[retrying" in hits[0]["raw_match"]
    assert [r.answered for r in w.api.model_requests()].count("rate_limit") >= 1
    state = w.agent.state()
    assert state["restarts"] == 0 and state["pid"]  # record only: the TUI keeps running and retrying itself


def test_copilot_tui_trust_answered_then_its_give_up_on_a_429_is_a_resume_at_the_reset(team) -> None:
    w = team["copilot"]
    assert "copilot-trust-folder" in w.agent.log()  # answered: the prompt came and the request reached the API
    hits = _hit(w, "copilot-retries-exhausted-429")
    assert len(hits) == 1 and hits[0]["runtime"] == "copilot"
    assert "Failed to get response from the AI model" in hits[0]["raw_match"]
    assert abs(hits[0]["resets_at"] - w.reset_at) <= 3  # "Please try again in 295s" read at its print time
    assert len(w.api.model_requests()) == 6  # the first try and copilot's five retries
    assert [r["action"] for r in w.agent.rows("SELECT action FROM supervisor_limit_scope")] == ["resume"]


def test_copilot_prompt_with_json_output_is_counted_exactly_from_the_usage_file_it_writes(team) -> None:
    w = team["copilot-json"]
    rows = w.agent.wait_for(lambda: w.agent.rows("SELECT * FROM budget"), 60, "the usage file's budget row")
    u = w.api.usage
    assert [(r["input_tok"], r["output_tok"]) for r in rows] == [(u["input"] + u["cache_read"], u["output"])]
    price = find_price(load_prices(), copilot.MODEL)
    assert price is not None and rows[0]["usd"] == pytest.approx(
        tokens_to_usd(price, u["input"] + u["cache_read"], u["output"], u["cache_read"]), abs=1e-12)
    written = json.loads(layout.copilot_usage_file(w.agent.root / "state", "solo-co").read_text())  # by copilot
    assert written["modelMetrics"][copilot.MODEL]["usage"]["inputTokens"] == rows[0]["input_tok"]


def test_droid_tui_in_airgap_mode_has_its_trust_dialog_answered_and_reaches_the_api(team) -> None:
    w = team["droid-tui"]
    assert "dialog droid-trust-folder answered" in w.agent.log()
    w.agent.wait_for(lambda: REPLY in w.agent.screen(), 30, "the answer on the screen")
    assert "Airgap" in w.agent.screen() and w.api.answered_ok()
    assert "Trust this folder?" not in w.agent.screen()


def test_droid_tui_spend_is_read_from_its_session_file_as_the_fake_api_reported_it(team) -> None:
    """The TUI draws no tokens; the session's settings file (droid-session channel) has them exactly."""
    w = team["droid-tui"]
    u = w.api.usage
    w.agent.wait_for(lambda: REPLY in w.agent.screen(), 30, "the answer on the screen")  # the turn is over

    def counted() -> int:
        """How many requests the budget rows add up to, once they add up to every answered one."""
        n = len(w.api.answered_ok())
        rows = w.agent.rows("SELECT input_tok, output_tok FROM budget")
        tokens = (sum(r[0] for r in rows), sum(r[1] for r in rows))
        return n if tokens == (n * (u["input"] + u["cache_read"]), n * u["output"]) else 0
    n = w.agent.wait_for(counted, 45, "budget rows adding up to every answered request")  # at the idle tick
    assert n == 2  # the session's title, and the prompt's turn: droid rewrites the file after each
    want = (n * (u["input"] + u["cache_read"]), n * u["output"])
    price = find_price(load_prices(), droid.MODEL)  # customModels[0] of droid's settings: gpt-4o
    assert price is not None
    usd = sum(r["usd"] for r in w.agent.rows("SELECT usd FROM budget"))
    assert usd == pytest.approx(tokens_to_usd(price, want[0], want[1], n * u["cache_read"]), abs=1e-12)


def test_droid_exec_at_a_402_is_a_stop_hit_then_run_again_as_it_was_and_its_usage_counted(team) -> None:
    w = team["droid"]
    hits = _hit(w, "droid-exec-json-error")
    assert len(hits) == 1 and hits[0]["runtime"] == "droid" and '"message":"402 ' in hits[0]["raw_match"]
    assert [r["action"] for r in w.agent.rows("SELECT action FROM supervisor_limit_scope")] == ["stop"]
    rows = w.agent.wait_for(lambda: w.agent.rows("SELECT * FROM budget"), 90, "the budget row of the run again")
    assert [r.status for r in w.api.model_requests()] == [402, 200]  # not retried by droid; run again once
    u = w.api.usage
    assert [(r["input_tok"], r["output_tok"]) for r in rows] == [(u["input"] + u["cache_read"], u["output"])]
    w.agent.wait_for(lambda: (w.agent.state() or {})["state"] == "stopped", 30, "the agent stopped after exit 0")
    assert w.agent.state()["restarts"] == 1 and len(w.agent.hits()) == 1

"""Cost of the REAL opencode (opencode-linux-x64 1.19.5), GitHub Copilot CLI (@github/copilot-linux-x64
1.0.102) and Factory droid (@factory/cli-linux-x64 0.225.2, Airgap mode) TUIs under `teamctl rl-watch`, in
private tmux panes, against the fake API on 127.0.0.1.

Each agent answers a prompt and shows its cost (opencode's footer, Copilot's `/usage`; droid draws none,
its session file is read); then its
limit group is rate-limited for a few seconds (a hit of another agent in the mailbox), so the watcher
stops it and respawns it into its own session (`--session ID`, `--session-id ID`, `--resume ID`), where the
old totals are shown again; a
second prompt, the cost screen again. The budget rows must add up to what the CLI shows at the end:
each answer counted once, the reprinted totals never. The agents run at the same time (threads);
every wait is a deadline on a condition.
"""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from realcli import copilot, droid, opencode
from realcli.fakeapi import FakeAPI
from realcli.watched import WatchedAgent
from teamctl_supervisor.agent.budget import find_price, load_prices, tokens_to_usd
from teamctl_supervisor.store import layout
from teamctl_supervisor.store.mailbox import Store

#: the module's scenario (three TUIs at once, up to 240 s) runs in the first test's setup
pytestmark = pytest.mark.timeout(400)

REPLY = "Hello from the fake API."
#: opencode's price for the fake model here (USD per million tokens): its two-decimal footer shows an
#: answer of the fake API's usage (1034 input, 56 output, 200 cache reads) as $0.34
OPENCODE_COST = {"input": 250.0, "output": 1000.0, "cache_read": 125.0}


class Run:
    """One agent's scenario in a thread of its own; what it saw, for the tests."""

    def __init__(self, api: FakeAPI, agent: WatchedAgent, ready: str,
                 cost_screen: Callable[[Run, bool], str], exit_file: bool = False, inline: bool = False) -> None:
        self.api, self.agent, self.ready, self.cost_screen = api, agent, ready, cost_screen
        self.inline = inline  # the TUI draws in the normal screen (droid), not the alternate one
        self.exit_file = exit_file  # the CLI writes a usage file when it exits (a structured channel)
        self.screens: list[str] = []  # the cost screen: after the first answer, after the respawn, after the second
        self.first_argv: list[str] = []
        self.resumed_argv: list[str] = []
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self._scenario()
        except BaseException as exc:  # re-raised by the tests, with the screen in its message
            self.error = exc

    def live(self) -> str:
        """The screen below the watcher's last `[teamctl]` note: what the running CLI drew. droid's TUI
        draws inline (no alternate screen), so the stopped run's last frame, its "? for help" too, stays
        above the watcher's rate-limit notes while the resumed run starts: typed then, the prompt is lost.
        A full-screen TUI (opencode, Copilot) draws over the whole pane: all of it is the CLI's."""
        screen = self.agent.screen()
        return screen.rsplit("[teamctl] ", 1)[-1] if self.inline else screen

    def prompt(self, text: str) -> None:
        a = self.agent
        a.wait_for(lambda: self.ready in self.live(), 90, f"the prompt ({self.ready!r})")
        for attempt in range(3):  # a TUI still restoring a resumed session may drop or clear what was typed
            a.send(text, literal=True)
            try:
                a.wait_for(lambda: text in self.live(), 30, "the typed prompt")
            except AssertionError:
                if attempt == 2:
                    raise
                a.send("C-u")  # dropped while the TUI was still starting: type it again
                continue
            if self._stays(text):
                break
            a.send("C-u")
        answered = len(self.api.answered_ok())
        assert a.press_enter_until(lambda: len(self.api.model_requests()) > answered), a.screen()
        a.wait_for(lambda: len(self.api.answered_ok()) > answered, 60, "the answer")

    def _stays(self, text: str, seconds: float = 1.5) -> bool:
        """`text` is still on the screen after `seconds` (polled: False as soon as it is gone)."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if text not in self.live():
                return False
            time.sleep(0.1)
        return True

    def _scenario(self) -> None:
        a = self.agent
        self.prompt("say hello")
        self.screens.append(self.cost_screen(self, True))
        rows = a.wait_for(lambda: a.rows("SELECT * FROM budget"), 30, "the first budget row")
        # the limit group is rate-limited (another agent's hit, 4 s): the watcher stops this one
        state = a.state()
        assert state is not None
        self.first_argv = _cmdline(state["pid"])
        now = time.time()
        store = Store(a.root / "state" / "mailbox.db")
        store.record_hit("solo:other", state["runtime"], now, now + 4, "a limit of the group", state["limit_group"],
                         None, "stop", now + 4)
        store.close()
        os.kill(state["watcher_pid"], signal.SIGUSR2)
        a.wait_for(lambda: (a.state()["restarts"] >= 1 and a.state()["state"] == "running"
                            and a.state()["pid"] != state["pid"]), 60, "the respawn")
        self.resumed_argv = _cmdline(a.state()["pid"])
        if self.exit_file:  # the stopped run's usage file: the exact figures, what they add to the screen's
            def more() -> list[Any]:
                found = a.rows("SELECT * FROM budget")
                return found if len(found) > len(rows) else []
            rows = a.wait_for(more, 30, "the usage file's row")
        self.screens.append(self.cost_screen(self, False))
        assert len(a.rows("SELECT * FROM budget")) == len(rows), "the reprinted totals were counted"
        self.prompt("say hello again")
        self.screens.append(self.cost_screen(self, True))
        a.wait_for(lambda: len(a.rows("SELECT * FROM budget")) > len(rows), 30, "the second budget row")

    def budget(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.agent.rows("SELECT usd, input_tok, output_tok FROM budget ORDER BY id")]

    def check(self) -> None:
        if self.error is not None:
            raise AssertionError(f"{self.agent.agent}: {self.error}\n--- screen:\n{self.agent.screen()}"
                                 f"\n--- supervisor log:\n{self.agent.log()[-3000:]}") from self.error


def _cmdline(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")


def opencode_footer(run: Run, answered: bool) -> str:
    """The footer's total once it is drawn (before the first answer it shows no dollars); after an
    answer, once it has changed from the last one read."""
    last = run.screens[-1] if answered and run.screens else None

    def total() -> str | None:
        found = re.search(r"\(\d+%\) · (\$\d+\.\d\d)", run.agent.screen())
        return found.group(1) if found and found.group(1) != last else None
    return run.agent.wait_for(total, 90, "the footer's total")  # a respawned TUI under load: 30 s was short


def copilot_usage(run: Run, answered: bool) -> str:
    """`/usage`, typed at the prompt: the Tokens row it shows (the newest on the screen)."""
    a = run.agent
    a.wait_for(lambda: run.ready in a.screen(), 90, "the prompt")
    # the row's blanks may be drawn over by the input box's border (`Tokens─────↑ 1.2k ...`) when the
    # TUI repaints its prompt below the /usage output
    tokens = re.compile(r"Tokens[\s─]+(↑ [^\n]*?• ↓ \d+)")
    before = len(tokens.findall(a.screen()))
    a.send("/usage", literal=True)
    a.wait_for(lambda: "/usage" in a.screen(), 20, "the typed command")
    a.send("Enter")
    a.wait_for(lambda: len(tokens.findall(a.screen())) > before, 30, "the /usage screen")
    return tokens.findall(a.screen())[-1]


def droid_tokens(run: Run, answered: bool) -> str:
    """droid's TUI draws no tokens: what the budget rows add up to (its session file, read by the
    droid-session channel at the watcher's tick), once it has grown after an answer to cover every
    request the fake API answered. The first prompt makes two (the session's title, then the turn),
    and droid rewrites the file after each: a tick between the two writes records the title alone,
    and the turn's row comes later, during the respawn, where it would pass for a reprinted total."""
    last = run.screens[-1] if answered and run.screens else None

    def total() -> str | None:
        rows = run.agent.rows("SELECT input_tok, output_tok FROM budget")
        text = f"{sum(r[0] for r in rows)}/{sum(r[1] for r in rows)}"
        if answered:
            u, n = run.api.usage, len(run.api.answered_ok())
            if REPLY not in run.agent.screen() or text != f"{n * (u['input'] + u['cache_read'])}/{n * u['output']}":
                return None  # the turn not drawn yet, or a request the budget has not counted yet
        return text if rows and text != last else None
    return run.agent.wait_for(total, 45, "the session file's tokens in the budget")


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, monkeypatch_module: pytest.MonkeyPatch) -> Iterator[dict[str, Run]]:
    tmp = tmp_path_factory.mktemp("new-runtimes-costs")
    monkeypatch_module.setattr(opencode, "COST", OPENCODE_COST)
    copilot.package_dir()
    started: dict[str, Run] = {}
    try:
        agents = (("opencode", opencode, "opencode", "ctrl+p commands", opencode_footer, {}),
                  ("copilot", copilot, "copilot", "/ commands", copilot_usage, {}),
                  ("droid", droid, "droid", "? for help", droid_tokens, {"airgap": True}))
        for name, module, runtime, ready, screen, extra in agents:
            api = FakeAPI(reply_text=REPLY).start()
            home = tmp / f"{name}-home"
            agent = WatchedAgent(tmp / f"team-{name}", name[:2], runtime, module.argv(),
                                 module.prepare(home, api.base_url, **extra), home / "work", "--margin", "0")
            started[name] = Run(api, agent, ready, screen, exit_file=name == "copilot", inline=name == "droid")
        for run in started.values():
            run.thread.start()
        for run in started.values():
            run.thread.join(240)
        yield started
    finally:
        for run in started.values():
            run.agent.close()
            run.api.stop()


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def test_opencode_footer_total_after_a_respawn_and_resume_is_what_the_budget_rows_add_up_to(runs) -> None:
    run = runs["opencode"]
    run.check()
    assert "--session" in run.resumed_argv  # respawned into its own session (never "--continue": the latest)
    # one answer, the same total shown again by the resumed session, then the second answer's
    assert run.screens == ["$0.34", "$0.34", "$0.68"]
    rows = run.budget()
    assert [r["usd"] for r in rows] == [0.34, 0.34]  # the second only from the cells the TUI repainted
    assert sum(r["usd"] for r in rows) == pytest.approx(0.68, abs=1e-9)
    assert opencode.usd(run.api.usage) * 2 == pytest.approx(0.679, abs=1e-9)  # $0.68 is opencode's rounding


def test_copilot_usage_screen_after_a_respawn_and_resume_is_what_the_budget_rows_add_up_to(runs) -> None:
    run = runs["copilot"]
    run.check()
    # Copilot 1.0.102 names its session: `--session-id <id>` started it, the same flag and id resume it
    started = run.first_argv.index("--session-id")
    assert run.resumed_argv[run.resumed_argv.index("--session-id") + 1] == run.first_argv[started + 1]
    assert "--continue" not in run.resumed_argv
    # `/usage`: the resumed session goes on from the old totals (1,234 input with cache reads per answer)
    assert run.screens == ["↑ 1.2k (200 cached) • ↓ 56", "↑ 1.2k (200 cached) • ↓ 56",
                           "↑ 2.5k (400 cached) • ↓ 112"]
    rows = run.budget()
    # the screen's 1.2k; at the stop, the usage file's exact 1,234 (34 more); then the screen's 2.5k
    assert [(r["input_tok"], r["output_tok"]) for r in rows] == [(1200, 56), (34, 0), (1266, 56)]
    assert not layout.copilot_usage_file(run.agent.root / "state", "solo-co").exists()  # the second run: not yet
    # priced as the model its row names (gpt-4o, patterns/prices.toml): the last screen's tokens, once
    price = find_price(load_prices(), "gpt-4o")
    assert price is not None
    assert sum(r["usd"] for r in rows) == pytest.approx(tokens_to_usd(price, 2500, 112, 400), abs=1e-9)
    assert "no price for model" not in run.agent.log()


def test_droid_tui_session_file_after_a_respawn_and_resume_counts_each_request_once(runs) -> None:
    run = runs["droid"]
    run.check()
    assert "--resume" in run.resumed_argv and "--last" not in run.resumed_argv  # its own session, by id
    u = run.api.usage
    n = len(run.api.answered_ok())  # every model request droid made in both runs (answers and side requests)
    total = f"{n * (u['input'] + u['cache_read'])}/{n * u['output']}"
    # after the first run's requests; unchanged by the respawn; after the resumed session's answer
    assert run.screens[1] == run.screens[0] and run.screens[2] == total

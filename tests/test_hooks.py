"""Tests for supervisor.hooks: one-pass placeholders, argv-only `run`, JSON webhooks, a chain that goes on."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from teamctl_supervisor.agent.hooks import HookRunner, split_chain, substitute
from teamctl_supervisor.store.mailbox import Store
from teamctl_supervisor.team.compose import HookSpec

HOSTILE = (
    "usage limit reached; touch {x} && echo \"pwned\" 'single' `touch {x}` $(touch {x})"
    " | rm -rf ~ > /dev/null\n"
    "second line with {agent} and \\ backslash and $HOME and * glob"
)

ARGV_SCRIPT = """\
import json, sys
with open(sys.argv[1], "w", encoding="utf-8") as fh:
    json.dump(sys.argv[2:], fh)
"""


# -- substitute and split_chain ------------------------------------------------------------------------


def test_substitute_is_one_pass() -> None:
    values = {"agent": "p:dev", "raw_match": "{agent} {resets_at}", "resets_at": "16:00"}
    assert substitute("{raw_match} by {agent}", values) == "{agent} {resets_at} by p:dev"


def test_substitute_keeps_unknown_placeholders_and_blanks_none() -> None:
    text = substitute("{agent} {nope} {Agent} {resets_at}", {"agent": "a", "resets_at": None})
    assert text == "a {nope} {Agent} "


def test_substitute_formats_non_string_values() -> None:
    assert substitute("{n} hits, {usd}", {"n": 3, "usd": 0.5}) == "3 hits, 0.5"


@pytest.mark.parametrize(("chain", "before", "after"), [
    (["notify", "wait", "resume-note"], ["notify"], ["resume-note"]),
    (["wait", "notify"], [], ["notify"]),
    (["notify", "webhook"], ["notify", "webhook"], []),
    (["a", "wait", "b", "wait", "c"], ["a"], ["b", "c"]),
    ([], [], []),
])
def test_split_chain(chain: list[str], before: list[str], after: list[str]) -> None:
    assert split_chain(chain) == (before, after)


# -- run -----------------------------------------------------------------------------------------------


@pytest.fixture
def argv_script(tmp_path: Path) -> Path:
    script = tmp_path / "record_argv.py"
    script.write_text(ARGV_SCRIPT)
    return script


def test_run_hook_passes_hostile_raw_match_as_one_argv_element(tmp_path: Path, argv_script: Path) -> None:
    marker = tmp_path / "X"
    out = tmp_path / "argv.json"
    raw = HOSTILE.replace("{x}", str(marker))
    hook = HookSpec(action="run", name="log", argv=(sys.executable, str(argv_script), str(out),
                                                    "{raw_match}", "agent={agent}", "{unknown}"))
    results = HookRunner({"log": hook}).run_chain(["log"], {"raw_match": raw, "agent": "p:dev"})
    assert [(r.name, r.ok) for r in results] == [("log", True)]
    assert json.loads(out.read_text(encoding="utf-8")) == [raw, "agent=p:dev", "{unknown}"]
    assert not marker.exists()


def test_failing_hook_is_reported_and_the_chain_goes_on(tmp_path: Path, argv_script: Path) -> None:
    out = tmp_path / "argv.json"
    hooks = {
        "broken": HookSpec(action="run", name="broken",
                           argv=(sys.executable, "-c", "import sys; sys.stderr.write('boom'); sys.exit(3)")),
        "slow": HookSpec(action="run", name="slow", timeout=0.3,
                         argv=(sys.executable, "-c", "import time; time.sleep(30)")),
        "nowhere": HookSpec(action="webhook", name="nowhere", url="http://127.0.0.1:9/", timeout=2.0),
        "noenv": HookSpec(action="webhook", name="noenv", url_env="TEAMCTL_TEST_UNSET_URL"),
        "ok": HookSpec(action="run", name="ok", argv=(sys.executable, str(argv_script), str(out), "{agent}")),
    }
    runner = HookRunner(hooks, env={})
    chain = ["broken", "missing", "slow", "nowhere", "noenv", "wait", "ok"]
    results = runner.run_chain(chain, {"agent": "p:a"})
    assert [(r.name, r.ok) for r in results] == [
        ("broken", False), ("missing", False), ("slow", False), ("nowhere", False), ("noenv", False),
        ("ok", True)]
    assert results[0].detail.startswith("exit 3") and "boom" in results[0].detail
    assert results[1].detail == "unknown hook"
    assert "TEAMCTL_TEST_UNSET_URL" in results[4].detail
    assert json.loads(out.read_text()) == ["p:a"]


def test_send_hook_writes_a_message_to_the_mailbox(tmp_path: Path) -> None:
    with Store(tmp_path / "mailbox.db") as s:
        def send(to: str, text: str) -> bool:
            return s.send_message("p", "p:dev", to, text, 1.0)

        hook = HookSpec(action="send", name="tell", to="p:{manager}", text="{agent} waits: {raw_match}")
        values = {"agent": "p:dev", "manager": "lead", "raw_match": "{manager} limit"}
        results = HookRunner({"tell": hook}, send=send).run_chain(["tell"], values)
        assert [(r.ok, r.detail) for r in results] == [(True, "sent to p:lead")]
        rows = s.query("SELECT recipient, text FROM messages")
        assert [tuple(r) for r in rows] == [("p:lead", "p:dev waits: {manager} limit")]


def test_send_hook_without_mailbox_fails_without_raising() -> None:
    results = HookRunner({"tell": HookSpec(action="send", name="tell", to="p:a")}).run_chain(["tell"], {})
    assert [(r.ok, r.detail) for r in results] == [(False, "no mailbox to send to")]


# -- webhook ----------------------------------------------------------------------------------------------


class _Recorder(BaseHTTPRequestHandler):
    requests: list[dict[str, Any]]

    def _record(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.server.requests.append({  # type: ignore[attr-defined]
            "method": self.command, "path": self.path, "type": self.headers.get("Content-Type"),
            "body": self.rfile.read(length)})
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_POST = do_PUT = do_PATCH = do_GET = _record

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    server.requests = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", server.requests  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_webhook_posts_json_with_raw_match_intact_but_for_terminal_controls(tmp_path: Path,
                                                  http_server: tuple[str, list[dict[str, Any]]]) -> None:
    url, requests = http_server
    raw = HOSTILE.replace("{x}", str(tmp_path / "X")) + ' {"json": "in", "raw": [1]} \u2019 \x1b[0m'
    hook = HookSpec(action="webhook", name="hook", url_env="TEAMCTL_HOOK_URL", text="{agent}: {raw_match}")
    runner = HookRunner({"hook": hook}, env={"TEAMCTL_HOOK_URL": url})
    values = {"agent": "p:dev", "raw_match": raw, "resets_at": 1741100000.5, "model": None}
    results = runner.run_chain(["hook"], values)
    assert [(r.ok, r.detail) for r in results] == [(True, "POST 200")]
    assert len(requests) == 1
    req = requests[0]
    assert (req["method"], req["path"], req["type"]) == ("POST", "/hook", "application/json")
    body = json.loads(req["body"])
    shown = raw.removesuffix("\x1b[0m")  # issue 23 item 10: no terminal controls in a payload
    assert body["raw_match"] == shown
    assert body["text"] == f"p:dev: {shown}"
    assert body["resets_at"] == 1741100000.5 and body["model"] is None


def test_webhook_uses_the_configured_method(http_server: tuple[str, list[dict[str, Any]]]) -> None:
    # compose accepts `method: PUT` (WEBHOOK_METHODS); the hook must send what the team configured.
    url, requests = http_server
    hook = HookSpec(action="webhook", name="hook", url=url, method="PUT")
    results = HookRunner({"hook": hook}).run_chain(["hook"], {"agent": "p:dev"})
    assert [r.ok for r in results] == [True]
    assert [r["method"] for r in requests] == ["PUT"]

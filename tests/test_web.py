"""`teamctl web` end to end: real watchers on the fake runtime write the mailbox, the real command
serves it, and Debian's headless chromium renders the page (DevTools protocol): rows, live updates
with no reload, untrusted text shown as text, actions only by POST with the token, no network."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from teamctl_supervisor.store.mailbox import Store
from teamctl_supervisor.web.access import AccessProblem, decide, token_path
from teamctl_supervisor.web.hub import Hub
from teamctl_supervisor.web.server import DashboardServer
from watchkit import fake_env, rows, start, state, wait_for
from webkit import Browser, WebServer

IMG = "<img src=x onerror=top.p=1>"
SCRIPT = "<script>top.q=1</script>"
EXAMPLES = Path(__file__).parent.parent / "examples"
HIT = r"usage limit reached \u00b7 resets " + IMG + SCRIPT


@pytest.fixture
def browser():
    b = Browser()
    yield b
    b.close()


@pytest.fixture
def servers():
    started: list[WebServer] = []
    yield started
    for s in started:
        s.close()


def _ops(watchers: list, root: Path) -> None:
    start(watchers, root, ["print:all good", "hang"], agent="solo:ops",
          env=fake_env(root, FAKE_RUNS_FILE=str(root / "runs-ops")))


def _page_state(browser: Browser, agent: str) -> str | None:
    return browser.js(f"(document.querySelector('tr[data-agent=\"{agent}\"] .state') || {{}}).dataset?.state")


def _countdown(browser: Browser, agent: str) -> str:
    return browser.js(f"document.querySelector('tr[data-agent=\"{agent}\"] .countdown').textContent")


def test_dashboard_shows_the_team_live_and_runtime_text_as_text(root, watchers, servers, browser, tmp_path):
    _ops(watchers, root)
    start(watchers, root, [f"1@print:hello {IMG} {SCRIPT}", r"1@print:session cost: $0.42 (12k in, 3k out)",
                           "1@sleep:10", f"1@print:{HIT}", "1@hang", "print:resumed", "hang"],
          "--fallback-wait", "600", env=fake_env(root, TEAMCTL_TEST_SECRET="s3cr3t-in-the-env"))
    wait_for(lambda: all(state(root, a) and state(root, a)["state"] == "running" for a in ("solo:dev", "solo:ops")),
             what="both agents running")
    web = WebServer(root)
    servers.append(web)
    browser.goto(web.url)
    wait_for(lambda: _page_state(browser, "solo:dev") == "running" and _page_state(browser, "solo:ops") == "running",
             what="both rows on the page")
    assert not rows(root, "SELECT * FROM rate_limits"), "the hit came before the page showed the agents running"
    browser.js("window.__samePage = 'yes'")
    updates_before = int(browser.js("document.body.dataset.updates"))

    # a limit hit by the runtime: on the page, with a countdown, with no reload (how soon is a figure
    # of bench/, not a wall-clock budget here that a loaded machine can miss)
    wait_for(lambda: rows(root, "SELECT * FROM rate_limits"), timeout=30, what="the hit row")
    wait_for(lambda: _page_state(browser, "solo:dev") == "rate_limited" and ":" in _countdown(browser, "solo:dev"),
             timeout=30, interval=0.05, what="the hit on the page")
    assert browser.js("window.__samePage") == "yes"
    assert int(browser.js("document.body.dataset.updates")) > updates_before
    first = _countdown(browser, "solo:dev")
    wait_for(lambda: _countdown(browser, "solo:dev") != first, timeout=30, what="the countdown to move")
    wait_for(lambda: _page_state(browser, "solo:ops") == "rate_limited", what="its limit group to wait too")

    # the runtime's markup is text: in the limit line and in the log tail, and nothing ran
    raw = browser.js("[...document.querySelectorAll('details[data-agent=\"solo:dev\"] .hit-raw')]"
                     ".map(e => e.textContent)")
    assert raw == ["usage limit reached · resets " + IMG + SCRIPT]
    tail = browser.js("document.querySelector('details[data-agent=\"solo:dev\"] .log-tail').textContent")
    assert f"hello {IMG} {SCRIPT}" in tail
    assert browser.js("document.images.length") == 0
    assert browser.js("document.scripts.length") == 1  # app.js alone
    assert browser.js("[typeof window.p, typeof window.q]") == ["undefined", "undefined"]
    assert browser.js("document.querySelector('#spend-today').textContent") == "today $0.42"

    # no environment value reaches the page
    status, snapshot = web.request("GET", "/api/snapshot")
    assert status == 200 and b"solo:dev" in snapshot and b"s3cr3t" not in snapshot
    assert "s3cr3t" not in browser.js("document.documentElement.outerHTML")

    # no actions without --allow-actions: no buttons, and nothing to post to
    assert browser.js("document.querySelectorAll('button').length") == 0
    assert web.request("POST", "/api/action", b'{"action":"wake","agent":"solo:dev"}',
                       {"Content-Type": "application/json"})[0] == 404
    # with the network off (the resolver finds nothing but 127.0.0.1) everything came from the server
    requested = browser.requested()
    assert requested and all(u.startswith(web.url) for u in requested if not u.startswith("about:")), requested

    browser.js("document.querySelector('details[data-agent=\"solo:dev\"]').open = true")
    shot = tmp_path / "dashboard.png"
    browser.screenshot(shot)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_actions_need_a_post_with_the_token(root, watchers, servers, browser):
    start(watchers, root, [f"1@print:{HIT}", "1@hang", "print:resumed", "hang"], "--fallback-wait", "600")
    wait_for(lambda: (state(root) or {"state": ""})["state"] == "rate_limited", what="the wait")
    web = WebServer(root, "--allow-actions")
    servers.append(web)
    assert web.token and token_path(root / "state").stat().st_mode & 0o777 == 0o600
    body = json.dumps({"action": "wake", "agent": "solo:dev"}).encode()
    json_type = {"Content-Type": "application/json"}
    assert web.request("GET", "/api/action")[0] == 404
    assert web.request("GET", "/api/snapshot", headers={"Host": "evil.example:80"})[0] == 421  # DNS rebinding
    assert web.request("POST", "/api/action", body, {**json_type, "X-Teamctl-Token": web.token,
                                                     "Host": "evil.example:80"})[0] == 421
    assert web.request("GET", "/api/action?action=wake&agent=solo:dev&token=" + web.token)[0] == 404
    assert web.request("POST", "/api/action", body, json_type)[0] == 401
    assert web.request("POST", "/api/action", body, {**json_type, "X-Teamctl-Token": "wrong"})[0] == 401
    assert web.request("POST", "/api/action", body, {"Content-Type": "text/plain", "X-Teamctl-Token": web.token})[0] \
        == 415
    assert state(root)["state"] == "rate_limited"  # none of these changed anything

    browser.goto(web.url + "#token=" + web.token)
    wait_for(lambda: browser.js("document.querySelectorAll('tr[data-agent=\"solo:dev\"] .act-wake').length") == 1,
             what="the wake button")
    assert "token" not in browser.js("location.href")  # the fragment is dropped once read
    browser.js("document.querySelector('.act-wake').click()")
    wait_for(lambda: state(root)["state"] != "rate_limited", what="the wake to end the wait")
    wait_for(lambda: "woken" in browser.js("document.querySelector('#notice').textContent"), what="the answer")


def test_open_hands_the_page_with_its_token_to_the_browser(root, servers, tmp_path):
    with Store(root / "state" / "mailbox.db") as st:
        st.set_state("solo:dev", "fake", "stopped", now=time.time())
    opened = tmp_path / "opened"
    browser_cmd = tmp_path / "browser.sh"  # $BROWSER, as Python's webbrowser module reads it
    browser_cmd.write_text(f'#!/bin/sh\nprintf %s "$1" > {opened}\n')
    browser_cmd.chmod(0o755)
    web = WebServer(root, "--open", "--allow-actions", env=fake_env(root, BROWSER=f"{browser_cmd} %s"))
    servers.append(web)
    url = wait_for(lambda: opened.exists() and opened.read_text(), what="the browser to be asked")
    assert url == f"{web.url}#token={web.token}"


def test_non_loopback_bind_without_a_token_refuses_to_start(root):
    with Store(root / "state" / "mailbox.db") as st:
        st.set_state("solo:dev", "fake", "stopped", now=time.time())
    done = subprocess.run([sys.executable, "-m", "teamctl_supervisor", "web", "-C", str(root), "--host", "0.0.0.0",
                           "--port", "0"], capture_output=True, text=True, timeout=60, env=fake_env(root))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "needs a token" in done.stderr and "--new-token" in done.stderr
    assert not token_path(root / "state").exists()
    with pytest.raises(AccessProblem):
        decide("10.1.2.3", 80, root / "state", allow_actions=False, make_token=False)
    access, fresh = decide("10.1.2.3", 80, root / "state", allow_actions=False, make_token=True)
    assert fresh and access.reads_need_token and not access.allowed_hosts
    assert access.token_ok(token_path(root / "state").read_text().strip()) and not access.token_ok("x")


def test_many_open_pages_share_one_reader_and_are_capped(tmp_path):
    builds = []

    def build() -> dict:
        builds.append(1)
        return {"now": time.time(), "n": len(builds) // 3}

    hub = Hub(build, poll=0.1, max_clients=5)
    access, _ = decide("127.0.0.1", 0, tmp_path / "state", allow_actions=False, make_token=False)
    server = DashboardServer(("127.0.0.1", 0), hub, access, lambda a, b: (False, ""))
    port = server.server_address[1]
    server.access = access.__class__(None, False, False, frozenset({f"127.0.0.1:{port}"}))
    hub.start()
    server.serve_in_thread()
    streams, refused = [], 0
    try:
        for _ in range(20):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", "/events")
            resp = conn.getresponse()
            if resp.status == 503:
                refused += 1
                conn.close()
            else:
                assert resp.status == 200 and resp.getheader("Content-Type") == "text/event-stream"
                assert resp.fp.readline().startswith(b"data: {")
                streams.append(conn)
        assert (len(streams), refused) == (5, 15)
        before, t0 = len(builds), time.monotonic()
        wait_for(lambda: len(builds) >= before + 10, what="ten more polls")
        polls = (time.monotonic() - t0) / 0.1
        assert len(builds) - before <= polls + 2  # one build per poll, whatever the number of pages
    finally:
        for conn in streams:
            conn.close()
        hub.stop()
        server.shutdown()
        server.server_close()


def test_every_agent_of_the_demo_team_appears_with_its_state(tmp_path, servers, browser):
    """README's screenshot (docs/dashboard.png, with TEAMCTL_SCREENSHOT set) is this page."""
    team = tmp_path / "demo-team"
    shutil.copytree(EXAMPLES / "demo-team", team, ignore=shutil.ignore_patterns("state"))
    descriptor = team / ".team" / "runtimes" / "demo-agent.toml"  # a reset far enough ahead to be seen
    descriptor.write_text(descriptor.read_text().replace('binary = "demo-agent"\n',
                                                         'binary = "demo-agent"\nargs = ["--reset-in", "90"]\n'))
    env = {**os.environ, "PATH": f"{team / 'bin'}{os.pathsep}{os.environ['PATH']}", "TEAMCTL_BACKEND": "process"}
    env.pop("TEAMCTL_ROOT", None)
    teamctl = [sys.executable, "-m", "teamctl_supervisor"]
    up = subprocess.run([*teamctl, "up", "-C", str(team / ".team")], env=env, capture_output=True, text=True,
                        timeout=120)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        mailbox = team / ".team" / "state"
        wait_for(lambda: {r["state"] for r in rows(mailbox.parent, "SELECT state FROM supervisor_agent_state")}
                 == {"rate_limited"}, timeout=60, what="both demo agents waiting on their shared limit")
        web = WebServer(team / ".team")
        servers.append(web)
        browser.goto(web.url)
        for agent in ("demo:lead", "demo:dev"):
            wait_for(lambda a=agent: _page_state(browser, a) == "rate_limited" and ":" in _countdown(browser, a),
                     what=f"{agent} on the page")
        assert browser.js("[...document.querySelectorAll('#rows tr')].map(r => r.dataset.agent)") == [
            "demo:lead", "demo:dev"]
        wait_for(lambda: browser.js("document.querySelector('#spend-today').textContent") != "today $0.00",
                 what="the demo's spend")
        browser.js("document.querySelector('details[data-agent=\"demo:dev\"]').open = true")
        shot = tmp_path / "demo.png"
        browser.screenshot(shot)
        assert shot.stat().st_size > 10_000
        if os.environ.get("TEAMCTL_SCREENSHOT"):
            shutil.copy(shot, os.environ["TEAMCTL_SCREENSHOT"])
    finally:
        subprocess.run([*teamctl, "down", "-C", str(team / ".team")], env=env, capture_output=True, timeout=120)


def test_the_dashboard_labels_an_agent_with_the_host_its_row_names(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from teamctl_supervisor.store import mailbox
    from teamctl_supervisor.store.readonly import ReadOnlyMailbox
    from teamctl_supervisor.team.compose import load_team
    from teamctl_supervisor.web import snapshot
    from watchkit import make_team

    team = load_team(make_team(tmp_path, {"a": "", "b": ""}))
    (team.team_dir / "state").mkdir(mode=0o700)
    monkeypatch.setattr(mailbox, "HOST", "host-x")
    with Store(team.mailbox_path) as s:  # a's watcher ran on host-x
        s.set_state("p:a", "claude-code", "stopped")
        assert s.flush()
    got = snapshot.build(team, ReadOnlyMailbox(team.mailbox_path))
    assert {a["id"]: a["host"] for a in got["agents"]} == {"p:a": "host-x", "p:b": "local"}
    with Store(team.mailbox_path) as s:  # b's watcher runs on host-x: no pid of it lives here
        s.set_state("p:b", "claude-code", "running", watcher_pid=2**22 + 1, pid=2**22 + 2)
        assert s.flush()
    got = snapshot.build(team, ReadOnlyMailbox(team.mailbox_path))
    b = next(a for a in got["agents"] if a["id"] == "p:b")
    assert (b["host"], b["state"]) == ("host-x", "running")  # not "stale": its liveness is that host's

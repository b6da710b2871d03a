"""Hooks for the night and a say over automatic resumes (issue 22, item 5): compose `on_event`,
`auto_resume: false` and `max_resumes_per_day`, read by the real `teamctl rl-watch` on the fake runtime."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from teamctl_supervisor.agent.hooks import EVENTS, event_of
from teamctl_supervisor.team.compose import ComposeError, load_compose
from watchkit import TeamWatcher, make_team, rows, state, wait_for

HOOKS = ("rate_limits:\n  hooks:\n"
         "    - {name: tell, action: send, to: user, text: '{agent} {event}: {detail}'}\n")
LIMIT = r"1@print:usage limit reached \u00b7 resets in 1s"


def _messages(team) -> list[str]:
    return [r["text"] for r in rows(team, "SELECT text FROM messages ORDER BY id")]


def test_events_are_the_states_that_matter_overnight() -> None:
    assert EVENTS == ("failed", "stalled", "blocked", "stuck", "resumed")
    assert event_of("failed", None) == "failed" and event_of("stuck", "no model turn") == "stuck"
    assert event_of("running", "stalled since 3:04am") == "stalled"
    assert event_of("running", None) is None and event_of("rate_limited", "group") is None


def test_compose_reads_the_resume_keys_and_event_hooks(tmp_path) -> None:
    team_dir = make_team(tmp_path, {"a": "    auto_resume: false\n    max_resumes_per_day: 3\n"
                                         "    on_event: {stuck: tell, failed: [tell]}\n", "b": ""}, HOOKS)
    team = load_compose(str(team_dir))
    a, b = team.agent("p:a"), team.agent("p:b")
    assert (a.auto_resume, a.max_resumes_per_day, dict(a.on_event)) == \
        (False, 3, {"stuck": ("tell",), "failed": ("tell",)})
    assert (b.auto_resume, b.max_resumes_per_day, dict(b.on_event)) == (True, None, {})


@pytest.mark.parametrize(("extra", "key", "says"), [
    ("    auto_resume: 'no'\n", "workers.a.auto_resume", "true or false"),
    ("    max_resumes_per_day: -1\n", "workers.a.max_resumes_per_day", "whole number"),
    ("    on_event: {stuk: tell}\n", "workers.a.on_event.stuk", "did you mean 'stuck'"),
    ("    on_event: {stuck: nosuch}\n", "workers.a.on_event.stuck", "unknown hook 'nosuch'"),
])
def test_bad_resume_keys_name_file_and_key(tmp_path, extra: str, key: str, says: str) -> None:
    team_dir = make_team(tmp_path, {"a": extra}, HOOKS)
    with pytest.raises(ComposeError) as err:
        load_compose(str(team_dir))
    text = str(err.value)
    assert key in text and says in text and "p.yaml" in text


def test_failed_runs_its_event_hook(tmp_path, watchers) -> None:
    team = make_team(tmp_path, {"a": "    restart: on-failure\n    on_event: {failed: tell}\n"}, HOOKS)
    w = TeamWatcher(team, "p:a", ["exit:3"], "--give-up-exits", "2", "--backoff-initial", "0.1")
    watchers.append(w)
    wait_for(lambda: (s := state(team, "p:a")) and s["state"] == "failed", 30, what="failed")
    msgs = wait_for(lambda: _messages(team), 15, what="the failed hook's message")
    assert msgs[0].startswith("p:a failed: ")


def test_auto_resume_off_stops_at_the_reset_and_tells_the_blocked_hook(tmp_path, watchers) -> None:
    team = make_team(tmp_path, {"a": "    restart: on-failure\n    auto_resume: false\n"
                                      "    on_event: {blocked: tell}\n"}, HOOKS)
    w = TeamWatcher(team, "p:a", [LIMIT, "1@hang", "print:should-not-run", "hang"], "--margin", "0")
    watchers.append(w)
    wait_for(lambda: len(rows(team, "SELECT * FROM rate_limits")) == 1, 20, what="the hit")
    assert w.wait(30) == 0
    s = state(team, "p:a")
    assert s["state"] == "stopped" and "auto_resume is off" in s["detail"]
    assert (team / "runs-p-a").read_text().strip() == "1"  # never respawned
    assert _messages(team) == ["p:a blocked: auto_resume is off: the agent waits for `teamctl restart`"]


def test_max_resumes_per_day_caps_automatic_resumes(tmp_path, watchers) -> None:
    team = make_team(tmp_path, {"a": "    restart: on-failure\n    max_resumes_per_day: 1\n"}, HOOKS)
    steps = [LIMIT, "1@hang", r"2@print:usage limit reached \u00b7 resets in 2s", "2@hang", "print:third", "hang"]
    w = TeamWatcher(team, "p:a", steps, "--margin", "0")
    watchers.append(w)
    assert w.wait(40) == 0
    s = state(team, "p:a")
    assert s["state"] == "stopped" and "max_resumes_per_day (1) reached" in s["detail"]
    assert (team / "runs-p-a").read_text().strip() == "2"  # one automatic resume, not two
    record = (team / "state" / "sessions" / "p-a.json").read_text()
    assert '"resumes_today": 1' in record


def test_failed_posts_the_slack_shaped_webhook(tmp_path, watchers) -> None:
    got: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        hooks = ("rate_limits:\n  hooks:\n    - {name: slack, action: webhook, "
                 f"url: 'http://127.0.0.1:{server.server_port}/hook', text: '{{agent}}: {{event}} ({{detail}})'}}\n")
        team = make_team(tmp_path, {"a": "    restart: on-failure\n    on_event: {failed: slack}\n"}, hooks)
        w = TeamWatcher(team, "p:a", ["exit:3"], "--give-up-exits", "2", "--backoff-initial", "0.1")
        watchers.append(w)
        body = wait_for(lambda: got, 30, what="the webhook")[0]
    finally:
        server.shutdown()
    assert body["event"] == "failed" and body["agent"] == "p:a"
    assert body["text"].startswith("p:a: failed (")

"""The hook chain run on a rate-limit hit (and on budget caps): wait, send, webhook, run.

Hook text comes from compose, but the values substituted into it (`{raw_match}` above all) come
from a runtime's untrusted output. So: placeholders are replaced in one pass (a value that itself
looks like `{agent}` stays as it is), `run` gets an argv list and never a shell, and `webhook`
sends a JSON body built by json.dumps. A failing hook is logged and the chain goes on. Values are
stripped of terminal controls (core.controls) first: a hook's text ends up in terminals and logs.

A `run` hook starts in a session of its own, so it is outside the runtime's process group and pty
(a stop hit stops that tree while the hook runs), and it has its own deadline, after which its whole
group is killed. The watcher spares `running_pids()` when it ends the runtime's leftovers.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from ..core.controls import printable
from ..core.lazy_dataclass import lazy_dataclass
from .orphans import SPAWNING

log = logging.getLogger(__name__)

WAIT = "wait"
#: Agent events a compose file can hang hooks on (`on_event:`, docs/compose.md "Hooks for the night"):
#: the agent gave up (`failed`), shows no new output (`stalled`), waits on a person (`blocked`),
#: showed no model turn after every escalation (`stuck`), or was proven back at work (`resumed`).
EVENTS = ("failed", "stalled", "blocked", "stuck", "resumed")


def event_of(state: str, detail: str | None) -> str | None:
    """The event a state change is, if any (a stall is shown as running with a "stalled" detail)."""
    if state in EVENTS:
        return state
    if detail and detail.startswith("stalled"):
        return "stalled"
    return None
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


class HookLike(Protocol):
    action: str
    name: str | None
    to: str | None
    text: str | None
    url: str | None
    url_env: str | None
    argv: tuple[str, ...]
    timeout: float


@lazy_dataclass(frozen=True)
class HookResult:
    name: str
    ok: bool
    detail: str = ""


def substitute(template: str, values: Mapping[str, Any]) -> str:
    """Replace known `{name}` placeholders once; unknown ones and substituted text stay literal."""

    def repl(m: re.Match[str]) -> str:
        key = m.group(1)
        return str(values[key]) if key in values and values[key] is not None else ("" if key in values else m.group(0))

    return _PLACEHOLDER.sub(repl, template)


def split_chain(chain: Sequence[str]) -> tuple[list[str], list[str]]:
    """Hooks before the `wait` run at the hit; hooks after it run when the wait is over."""
    if WAIT in chain:
        i = list(chain).index(WAIT)
        return list(chain[:i]), [h for h in chain[i + 1:] if h != WAIT]
    return list(chain), []


class HookRunner:
    """Runs named hooks; `send` needs a message writer (the store), injected to keep this testable."""

    def __init__(self, hooks: Mapping[str, HookLike], send: Callable[[str, str], object] | None = None,
                 env: Mapping[str, str] | None = None) -> None:
        self.hooks = hooks
        self.send = send
        self.env = env if env is not None else os.environ
        self._running: set[int] = set()
        self._lock = threading.Lock()

    def running_pids(self) -> frozenset[int]:
        """Pids of `run` hooks running now (each leads its own process group)."""
        with self._lock:
            return frozenset(self._running)

    def run_chain(self, names: Sequence[str], values: Mapping[str, Any]) -> list[HookResult]:
        values = clean_values(values)
        results = []
        for name in names:
            if name == WAIT:
                continue
            hook = self.hooks.get(name)
            if hook is None:
                results.append(HookResult(name, False, "unknown hook"))
                log.warning("hook %s: not defined", name)
                continue
            try:
                detail = self._run(hook, values)
                results.append(HookResult(name, True, detail))
                log.info("hook %s (%s): %s", name, hook.action, detail)
            except Exception as exc:  # a hook must never stop the chain or the watcher
                results.append(HookResult(name, False, str(exc)))
                log.warning("hook %s (%s) failed: %s", name, hook.action, exc)
        return results

    def _run(self, hook: HookLike, values: Mapping[str, Any]) -> str:
        if hook.action == "send":
            if self.send is None:
                raise RuntimeError("no mailbox to send to")
            default = "{agent}: {event} ({detail})" if values.get("event") else \
                "{agent} hit a rate limit; resets {resets_at_local}"
            text = substitute(hook.text or default, values)
            recipient = substitute(hook.to or "", values)
            self.send(recipient, text)
            return f"sent to {recipient}"
        if hook.action == "webhook":
            url = hook.url or (self.env.get(hook.url_env, "") if hook.url_env else "")
            if not url:
                raise RuntimeError(f"no url (env {hook.url_env} is empty)" if hook.url_env else "no url")
            body = dict(values)
            if hook.text:
                body["text"] = substitute(hook.text, values)
            data = json.dumps(body, default=str).encode()
            method = getattr(hook, "method", "POST") or "POST"
            status = post_within(url, method, None if method == "GET" else data, hook.timeout)
            return f"{method} {status}"
        if hook.action == "run":
            return self._run_process([substitute(arg, values) for arg in hook.argv], hook.timeout)
        raise RuntimeError(f"unknown action {hook.action!r}")

    def _run_process(self, argv: list[str], timeout: float) -> str:
        """`argv` in a new session (its own process group), within `timeout` seconds: then its whole
        group is killed, children included."""
        import subprocess  # only `run` hooks need it (with selectors and locale): not every watcher

        with SPAWNING:  # known before a stop can list it among the runtime's orphans
            proc = subprocess.Popen(argv, shell=False, start_new_session=True, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            with self._lock:
                self._running.add(proc.pid)
        try:
            try:
                _, err = proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                _kill_group(proc.pid)
                proc.communicate()
                raise TimeoutError(f"still running after {timeout:g}s: killed") from None
        finally:
            with self._lock:
                self._running.discard(proc.pid)
        _kill_group(proc.pid)  # what it left behind in its group goes with it
        if proc.returncode != 0:
            raise RuntimeError(f"exit {proc.returncode}: {printable(err.decode(errors='replace'))[:200]}")
        return "exit 0"


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass


def clean_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """Placeholder values without terminal controls (C0 and C1; line ends kept): runtime output."""
    return {k: printable(v, newlines=True) if isinstance(v, str) else v for k, v in values.items()}


def post_within(url: str, method: str, data: bytes | None, timeout: float) -> int:
    """One HTTP request with a deadline for the whole of it (a server that trickles a byte every few
    seconds never trips a per-read socket timeout); the response status."""
    import http.client  # only webhooks need these: kept out of every watcher's memory
    import socket
    import threading
    import urllib.parse

    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RuntimeError(f"not an http(s) URL: {url!r}")
    cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = cls(parts.hostname, parts.port, timeout=timeout)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    result: dict[str, Any] = {}

    def request() -> None:
        try:
            conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            resp.read(65536)
            result["status"] = resp.status
        except Exception as exc:  # reported by the caller
            result["error"] = exc

    worker = threading.Thread(target=request, name="webhook", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        sock = conn.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        conn.close()
        raise TimeoutError(f"no complete answer within {timeout:g}s")
    conn.close()
    if "error" in result:
        raise result["error"]
    if not 200 <= result["status"] < 400:
        raise RuntimeError(f"HTTP {result['status']}")
    return int(result["status"])

"""The fake model API's core: one threaded HTTP server on loopback, a request log, a limit switch.

Each wire protocol lives in its own module (`anthropic`, `openai`, `gemini`) and registers routes
here. The server answers normally, with usage figures, until a test sets a `Limit`; then every
model request gets that protocol's own limit response until the limit's reset instant, after which
it answers normally again. Every request is logged, so a test can tell whether a resume really
reached the API.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

#: kind of limit -> what each protocol module sends for it
LIMIT_KINDS = ("rate_limit", "usage_limit", "quota", "overload")


@dataclass(frozen=True)
class Limit:
    """A limit in force: `kind` (one of LIMIT_KINDS) until the epoch `reset_at` (None: never lifts)."""

    kind: str
    reset_at: float | None = None
    #: protocol-specific extras, e.g. {"claim": "five_hour"} for Anthropic's unified limits
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Record:
    """One request as the server saw it, and what it answered."""

    t: float
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    status: int = 0
    answered: str = ""  # "ok", a limit kind, or "other"


Handler = Callable[["Exchange"], None]


class Exchange:
    """One request being answered: what a protocol module reads and writes."""

    def __init__(self, api: FakeAPI, http: BaseHTTPRequestHandler, record: Record, match: re.Match[str]):
        self.api = api
        self.http = http
        self.record = record
        self.match = match

    @property
    def body(self) -> Any:
        return self.record.body

    def limit(self) -> Limit | None:
        """The limit in force now, if any (lifted once its reset instant has passed)."""
        return self.api.limit_now()

    def send_json(self, status: int, obj: Any, headers: dict[str, str] | None = None, answered: str = "ok") -> None:
        data = json.dumps(obj).encode()
        self.http.send_response(status)
        self.http.send_header("content-type", "application/json")
        self.http.send_header("content-length", str(len(data)))
        for k, v in (headers or {}).items():
            self.http.send_header(k, v)
        self.http.end_headers()
        self.http.wfile.write(data)
        self._done(status, answered)

    def send_sse(self, events: list[tuple[str | None, Any]], headers: dict[str, str] | None = None,
                 answered: str = "ok", status: int = 200) -> None:
        """Server-sent events: (event name or None, data object or raw string) each."""
        self.http.send_response(status)
        self.http.send_header("content-type", "text/event-stream")
        self.http.send_header("cache-control", "no-cache")
        self.http.send_header("connection", "close")
        for k, v in (headers or {}).items():
            self.http.send_header(k, v)
        self.http.end_headers()
        for name, data in events:
            chunk = ""
            if name:
                chunk += f"event: {name}\n"
            chunk += f"data: {data if isinstance(data, str) else json.dumps(data)}\n\n"
            self.http.wfile.write(chunk.encode())
            self.http.wfile.flush()
        self.http.close_connection = True
        self._done(status, answered)

    def _done(self, status: int, answered: str) -> None:
        self.record.status = status
        self.record.answered = answered


class FakeAPI:
    """Start with `start()` (or as a context manager); `base_url` is http://127.0.0.1:<port>."""

    def __init__(self, reply_text: str = "OK.", usage: dict[str, int] | None = None):
        self.reply_text = reply_text
        #: token usage each normal answer reports
        self.usage = usage or {"input": 1034, "output": 56, "cache_read": 200, "cache_write": 0}
        self.requests: list[Record] = []
        self._limit: Limit | None = None
        self._lock = threading.Lock()
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self._server: ThreadingHTTPServer | None = None
        from . import anthropic, chat, gemini, openai  # each module adds its routes

        for module in (anthropic, openai, chat, gemini):
            module.register(self)

    # -- routes -----------------------------------------------------------------------------------

    def route(self, method: str, pattern: str, handler: Handler) -> None:
        self._routes.append((method, re.compile(pattern), handler))

    # -- the limit switch -------------------------------------------------------------------------

    def set_limit(self, kind: str, reset_at: float | None = None, **extra: Any) -> Limit:
        assert kind in LIMIT_KINDS, kind
        with self._lock:
            self._limit = Limit(kind, reset_at, dict(extra))
            return self._limit

    def clear_limit(self) -> None:
        with self._lock:
            self._limit = None

    def limit_now(self, now: float | None = None) -> Limit | None:
        with self._lock:
            lim = self._limit
            if lim and lim.reset_at is not None and (now or time.time()) >= lim.reset_at:
                self._limit = lim = None
            return lim

    # -- what the tests read ----------------------------------------------------------------------

    def model_requests(self, since: float = 0.0) -> list[Record]:
        """Requests that asked a model for an answer (not counted: token counts, model lists, ...)."""
        with self._lock:
            return [r for r in self.requests if r.t >= since and r.answered in ("ok", *LIMIT_KINDS)]

    def answered_ok(self, since: float = 0.0) -> list[Record]:
        return [r for r in self.model_requests(since) if r.answered == "ok"]

    # -- serving ----------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        assert self._server, "not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FakeAPI:
        api = self

        class _Http(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body: Any = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode("utf-8", "replace")
                path = self.path.split("?", 1)[0]
                rec = Record(time.time(), self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                             body)
                with api._lock:
                    api.requests.append(rec)
                for method, pattern, handler in api._routes:
                    m = pattern.fullmatch(path)
                    if m and method in (self.command, "*"):
                        handler(Exchange(api, self, rec, m))
                        return
                ex = Exchange(api, self, rec, re.match("", ""))  # type: ignore[arg-type]
                ex.send_json(404, {"error": {"type": "not_found", "message": f"no fake route {path}"}},
                             answered="other")

            do_GET = do_POST = do_PUT = do_DELETE = _handle  # noqa: N815

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Http)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="fakeapi", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeAPI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

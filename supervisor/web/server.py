"""`teamctl web`'s HTTP side, on the standard library's threading HTTP server.

Routes: `GET /` and its two static files; `GET /api/snapshot` (JSON); `GET /events` (server-sent
events, one `data:` line per new snapshot); `POST /api/action` (only with --allow-actions, only
with the token in `X-Teamctl-Token`). Nothing else, and nothing changes state on a GET.

Every answer carries a strict Content-Security-Policy (scripts and styles from this server only,
no inline code, no other origin), so even a slip in the page could not run a runtime's text.
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any

from .access import Access
from .hub import Hub

log = logging.getLogger(__name__)

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self';"
       " base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
_STATIC = {"/": ("index.html", "text/html; charset=utf-8"),
           "/app.js": ("app.js", "text/javascript; charset=utf-8"),
           "/app.css": ("app.css", "text/css; charset=utf-8")}
#: Seconds between keep-alive comments on an idle stream (also how soon a closed tab's slot frees).
PING_SECONDS = 10.0
MAX_BODY = 4096

Act = Callable[[str, str], tuple[bool, str]]


def _static(name: str) -> bytes:
    return (resources.files(__package__) / "static" / name).read_bytes()


class DashboardServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], hub: Hub, access: Access, act: Act) -> None:
        self.hub = hub
        self.access = access
        self.act = act
        self.files = {path: (_static(name), ctype) for path, (name, ctype) in _STATIC.items()}
        super().__init__(address, Handler)

    def serve_in_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, name="dashboard-http", daemon=True)
        thread.start()
        return thread


class Handler(BaseHTTPRequestHandler):
    server: DashboardServer
    protocol_version = "HTTP/1.1"
    server_version = "teamctl-web"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's name)
        log.debug("%s " + format, self.address_string(), *args)

    # -- answers ---------------------------------------------------------------------------------
    def _headers(self, status: int, ctype: str, length: int | None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("X-Frame-Options", "DENY")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Cache-Control", "no-store")
        if length is not None:
            self.send_header("Content-Length", str(length))
        self.end_headers()

    def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
        self._headers(status, ctype, len(body))
        if self.command != "HEAD":
            self.wfile.write(body)

    def _error(self, status: int, message: str) -> None:
        self._send(status, json.dumps({"error": message}).encode())

    # -- checks ----------------------------------------------------------------------------------
    def _token(self) -> str | None:
        given = self.headers.get("X-Teamctl-Token")
        if given is None:
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
            given = (query.get("token") or [None])[0]
        return given

    def _admitted(self, needs_token: bool) -> bool:
        access = self.server.access
        if not access.host_ok(self.headers.get("Host")):
            self._error(421, "unexpected Host header")
            return False
        if needs_token and not access.token_ok(self._token()):
            self._error(401, "token required")
            return False
        return True

    # -- methods ---------------------------------------------------------------------------------
    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        path = urllib.parse.urlsplit(self.path).path
        if path in self.server.files:
            if self._admitted(False):
                body, ctype = self.server.files[path]
                self._send(200, body, ctype)
            return
        if path not in ("/api/snapshot", "/events"):
            self._error(404, "not found")
            return
        if not self._admitted(self.server.access.reads_need_token):
            return
        if path == "/api/snapshot":
            self._send(200, self.server.hub.latest()[1])
        elif self.command == "HEAD":
            self._headers(200, "text/event-stream", 0)
        else:
            self._stream()

    do_HEAD = do_GET

    def do_POST(self) -> None:  # noqa: N802
        path = urllib.parse.urlsplit(self.path).path
        if path != "/api/action" or not self.server.access.allow_actions:
            self._error(404, "not found")  # without --allow-actions there is nothing to post to
            return
        if not self._admitted(True):
            return
        if self.headers.get_content_type() != "application/json":
            self._error(415, "JSON only")
            return
        length = int(self.headers.get("Content-Length") or 0)
        if not 0 < length <= MAX_BODY:
            self._error(400, "body missing or too long")
            return
        try:
            body = json.loads(self.rfile.read(length))
            action, agent = body["action"], body["agent"]
            assert isinstance(action, str) and isinstance(agent, str)
        except (ValueError, KeyError, TypeError, AssertionError):
            self._error(400, 'expected {"action": "wake"|"restart", "agent": "<project>:<agent>"}')
            return
        if action not in ("wake", "restart"):
            self._error(400, f"unknown action {action!r}")
            return
        ok, message = self.server.act(action, agent)
        self._send(200 if ok else 409, json.dumps({"ok": ok, "message": message}).encode())
        self.server.hub.refresh()

    def _method_not_allowed(self) -> None:
        self._error(405, "method not allowed")

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _method_not_allowed

    def _stream(self) -> None:
        hub = self.server.hub
        if not hub.join():
            self._error(503, f"too many open dashboards (at most {hub.max_clients})")
            return
        try:
            self._headers(200, "text/event-stream", None)
            self.close_connection = True
            version = 0
            while not hub.stopped:
                newer, body = hub.wait_newer(version, PING_SECONDS)
                chunk = b": ping\n\n" if newer == version else b"data: " + body + b"\n\n"
                version = newer
                self.wfile.write(chunk)
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass  # the tab closed
        finally:
            hub.leave()

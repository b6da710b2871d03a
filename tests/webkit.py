"""Helpers for the dashboard tests: a real `teamctl web` process, and Debian's headless chromium
driven over the Chrome DevTools protocol (its websocket, through websocket-client).

The browser gets its own profile in a temp folder, no first-run, sync, component updates or
background networking, and a resolver that finds no host but 127.0.0.1: the page must work with
no network at all.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

import websocket
from watchkit import fake_env, wait_for

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class WebServer:
    """`teamctl web -C ROOT --port 0 ...` as a process; its URL read from its first line."""

    def __init__(self, root: Path, *options: str, env: dict[str, str] | None = None) -> None:
        self.out_path = root.parent / f"web-{os.getpid()}-{id(self)}.out"
        self.out = open(self.out_path, "wb")  # noqa: SIM115 (closed in close())
        self.proc = subprocess.Popen([sys.executable, "-m", "teamctl_supervisor", "web", "-C", str(root), "--port", "0",
                                      "--poll", "0.3", *options], stdin=subprocess.DEVNULL, stdout=self.out,
                                     stderr=subprocess.STDOUT, env=env or fake_env(root))
        found = wait_for(lambda: re.search(r"(http://127\.0\.0\.1:\d+/)(#token=(\S+))?", self.output()),
                         what="the dashboard's URL")
        self.url, self.token = found.group(1), found.group(3)

    def output(self) -> str:
        return self.out_path.read_bytes().decode("utf-8", "replace")

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        req = urllib.request.Request(self.url.rstrip("/") + path, data=body, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.out.close()


class Browser:
    """One headless chromium with one page, driven over DevTools; every request it makes is kept."""

    def __init__(self, width: int = 1400, height: int = 900) -> None:
        assert CHROMIUM, "chromium is not installed (apt-get install chromium chromium-driver)"
        self.profile = Path(tempfile.mkdtemp(prefix="teamctl-chromium-"))
        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
             "--disable-default-apps", "--mute-audio", f"--user-data-dir={self.profile}",
             "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", "--remote-debugging-port=0",
             f"--window-size={width},{height}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        port_file = self.profile / "DevToolsActivePort"
        port = wait_for(lambda: port_file.exists() and port_file.read_text().split("\n")[0], timeout=30,
                        what="chromium's DevTools port")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as resp:
            pages = [t for t in json.load(resp) if t["type"] == "page"]
        self.ws = websocket.create_connection(pages[0]["webSocketDebuggerUrl"], timeout=30, suppress_origin=True)
        self._id = 0
        self.events: list[dict[str, Any]] = []
        self.send("Runtime.enable")
        self.send("Network.enable")
        self.send("Page.enable")

    def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        self._id += 1
        self.ws.send(json.dumps({"id": self._id, "method": method, "params": params or {}}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self._id:
                if "error" in msg:
                    raise AssertionError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def goto(self, url: str) -> None:
        self.send("Page.navigate", {"url": url})
        wait_for(lambda: self.js("document.readyState") == "complete", what=f"{url} to load")

    def js(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (JSON-serialisable values only)."""
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def requested(self) -> list[str]:
        self.js("1")  # drain the events that came in since the last command
        return [e["params"]["request"]["url"] for e in self.events if e.get("method") == "Network.requestWillBeSent"]

    def screenshot(self, path: Path) -> None:
        data = self.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})["data"]
        path.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        try:
            self.ws.close()
        finally:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)  # its own session: the renderers go with it
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
            shutil.rmtree(self.profile, ignore_errors=True)

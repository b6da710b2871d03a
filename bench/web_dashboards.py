"""Issue 26's figure: the watchers' CPU with 0 and with K dashboards open, on N agents.

    python bench/web_dashboards.py                       # 50 agents, 20 dashboards, 5 pairs of 10 s
    python bench/web_dashboards.py --agents 10 --window 5 --pairs 3

N real `teamctl rl-watch` processes on the fake runtime (each prints a line every 0.2 s, so the
watchers have work to be slowed down in) share one solo root; one
`teamctl web --poll 1` serves it. Each pair measures the watchers' CPU seconds (their whole trees,
from psutil) over one window with no page open, and over one window with K server-sent-event streams
open and read (what K browser tabs do), in turns (bench/pairs.py). The figure is the median of the
pair-by-pair ratio "with K / with none"; the goal is no measurable difference (about 1.0). The
server's own CPU is printed beside it. Everything runs in a temp dir; every process is ended by pid.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
from pairs import interleave, ratio_text, spread

HERE = Path(__file__).parent
FAKES = HERE.parent / "tests" / "fakes"


def _cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            p = psutil.Process(pid)
            for q in [p, *p.children(recursive=True)]:
                t = q.cpu_times()
                total += t.user + t.system
        except psutil.Error:
            pass
    return total


class Streams:
    """K open /events streams, each read by a thread until closed."""

    def __init__(self, port: int, k: int) -> None:
        self.socks = []
        for _ in range(k):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(f"GET /events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
            self.socks.append(s)
            threading.Thread(target=self._drain, args=(s,), daemon=True).start()

    @staticmethod
    def _drain(s: socket.socket) -> None:
        try:
            while s.recv(65536):
                pass
        except OSError:
            pass

    def close(self) -> None:
        for s in self.socks:
            s.close()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--agents", type=int, default=50)
    ap.add_argument("--dashboards", type=int, default=20)
    ap.add_argument("--window", type=float, default=10.0)
    ap.add_argument("--pairs", type=int, default=5)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="teamctl-bench-web-"))
    (root / "runtimes").mkdir()
    (root / "runtimes" / "fake.toml").write_text((FAKES / "runtimes" / "fake.toml").read_text())
    env = {**os.environ, "PATH": f"{FAKES}{os.pathsep}{os.environ['PATH']}"}
    procs: list[subprocess.Popen] = []
    steps = ["sleep:0.2", "print:● Editing src/app.py: one more line of agent output"] * 3000  # 10 minutes
    try:
        for i in range(args.agents):
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "teamctl_supervisor", "rl-watch", f"bench:a{i}", "--runtime", "fake",
                 "--root", str(root), "--", "fake_agent.py", "print:working", *steps, "hang"],
                cwd=root, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        watchers = [p.pid for p in procs]
        out = root / "web.out"
        with open(out, "wb") as fh:
            web = subprocess.Popen([sys.executable, "-m", "teamctl_supervisor", "web", "-C", str(root), "--port", "0",
                                    "--poll", "1", "--max-clients", str(max(32, args.dashboards))],
                                   env=env, stdin=subprocess.DEVNULL, stdout=fh, stderr=subprocess.STDOUT)
        procs.append(web)
        deadline = time.monotonic() + 120
        while not (m := re.search(r"127\.0\.0\.1:(\d+)/", out.read_text())):
            if time.monotonic() > deadline or web.poll() is not None:
                print(out.read_text(), file=sys.stderr)
                return 1
            time.sleep(0.2)
        port = int(m.group(1))
        time.sleep(max(5.0, args.agents * 0.1))  # start-up done: watchers idle at their prompts
        server_cpu: dict[str, list[float]] = {"none": [], "open": []}

        def window(k: int) -> float:
            streams = Streams(port, k) if k else None
            time.sleep(1.0)  # the streams are open and have had their first snapshot
            w0, s0 = _cpu(watchers), _cpu([web.pid])
            time.sleep(args.window)
            w1, s1 = _cpu(watchers), _cpu([web.pid])
            if streams:
                streams.close()
            server_cpu["open" if k else "none"].append(s1 - s0)
            return w1 - w0

        paired = interleave(lambda: window(args.dashboards), lambda: window(0), args.pairs)
        print(f"watchers_cpu_with_{args.dashboards}_dashboards: {ratio_text(paired)} "
              f"(CPU s per {args.window:g} s window on {args.agents} agents: none {spread(paired.b, '{:.3f}')}, "
              f"open {spread(paired.a, '{:.3f}')}; target ~1.0)")
        print(f"# server CPU s per window: none {spread(server_cpu['none'], '{:.3f}')}, "
              f"{args.dashboards} open {spread(server_cpu['open'], '{:.3f}')}", file=sys.stderr)
        return 0
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()


if __name__ == "__main__":
    sys.exit(main())

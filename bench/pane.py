"""Part `pane` of bench/run.py (issue 16): the end-to-end figure users feel.

The same transcript runs in a tmux pane twice, in turns: directly (`cat FILE` in the pane), and under
rl-watch as `teamctl up` runs it (`rl-watch solo:x --root DIR --runtime bench -- cat FILE` in the
pane, so the watcher relays from its pty to the pane's). The tmux server is a private one
(`tmux -L <own name> -f /dev/null`), killed at the end; the user's default server is never touched.

- Throughput: each run is `sh -c 'date > S0; X; date > E; times > TO'` respawned in the pane, with X
  either `sh -c 'date > S1; cat FILE; date > E1; times > TI'` or rl-watch running that. Start-up
  included is S0 -> E (for rl-watch: its start, relay, exit); excluded is S1 -> E1 (cat's own run).
  The ratio rl-watch / direct is taken pair by pair. In full mode each direct run is followed by one
  under bench/bare_relay.py (a pty relay doing nothing else), printed as a note: the cost of the
  extra pty hop itself, which any supervisor that owns the runtime's pty pays.
- CPU: the tmux server reaps the pane's processes, so psutil's user+sys of the server plus its
  children's (before and after a run) is the whole run's CPU: tmux, cat, shells and the watcher. The
  watcher's own CPU is the outer shell's `times` for its children less the inner shell's figures.
- Line latency: pane_lines.py writes a stamped line every 1/RATE s (directly, or under rl-watch);
  `tmux pipe-pane` hands what tmux reads from the pane to pane_lines.py read, which notes when each
  line arrived.
"""

from __future__ import annotations

import os
import shlex
import shutil
import statistics
import subprocess
import time
import uuid
from pathlib import Path

import psutil
from pairs import PAIRS, Paired, interleave, ratio_text, spread
from run import BENCH, PY, bench_env, figure, note, pct, record_only_descriptor, signature_source, verdict, wait_for
from transcript import generate

SIZE = (200, 50)
LINE_RATE = 50.0


class Tmux:
    """A private tmux server with one pane that stays (remain-on-exit) between respawned runs."""

    def __init__(self, env: dict[str, str]):
        self.socket = f"bench-pane-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.env = env
        self.tmux("-f", "/dev/null", "new-session", "-d", "-s", "bench", "-x", str(SIZE[0]), "-y", str(SIZE[1]),
                  "sleep 86400")
        self.tmux("set-option", "-t", "bench", "remain-on-exit", "on")
        self.pid = int(self.tmux("display-message", "-p", "-t", "bench", "#{pid}").strip())
        self.server = psutil.Process(self.pid)

    def tmux(self, *args: str, check: bool = True) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], check=check, capture_output=True, text=True,
                              env=self.env, stdin=subprocess.DEVNULL, timeout=30).stdout

    def respawn(self, argv: list[str]) -> int:
        """Run argv in the pane (ending what ran there); the pid of its process."""
        self.tmux("respawn-pane", "-k", "-t", "bench:0.0", shlex.join(argv))
        return int(self.tmux("display-message", "-p", "-t", "bench:0.0", "#{pane_pid}").strip())

    def reaped(self, pid: int) -> None:
        """Wait until the server has reaped the pane's process `pid` (not even a zombie left): then its
        CPU and its tree's are in the server's children's. tmux 3.3a sometimes leaves a dead pane's
        process a zombie until the pane is respawned: then it is respawned (a `sleep`) to reap it."""
        gone = lambda: not psutil.pid_exists(pid)  # noqa: E731
        if not wait_for(gone, 0.1, 0.005):
            self.respawn(["sleep", "86400"])
            if not wait_for(gone, 10, 0.01):
                raise RuntimeError(f"pane process {pid} still there after its run")

    def cpu(self) -> float:
        """The server's CPU and its reaped children's (every pane process, once it has ended)."""
        t = self.server.cpu_times()
        return t.user + t.system + t.children_user + t.children_system

    def close(self) -> None:
        """Kill this private server (and what runs in it), nothing else; by pid if it lingers."""
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, stdin=subprocess.DEVNULL,
                       timeout=30)
        try:
            self.server.wait(5)
        except psutil.TimeoutExpired:
            self.server.kill()
        except psutil.Error:
            pass


def _stamp(path: Path) -> float:
    return float(path.read_text().strip())


def _times(path: Path) -> tuple[float, float]:
    """`times` output: (the shell's own user+sys, its children's user+sys)."""
    rows = path.read_text().split("\n")

    def secs(row: str) -> float:
        total = 0.0
        for part in row.split():
            m, s = part.rstrip("s").split("m")
            total += int(m) * 60 + float(s)
        return total

    return secs(rows[0]), secs(rows[1])


def bench_pane(tmp: Path, quick: bool) -> None:
    root = tmp / "pane"
    (root / "runtimes").mkdir(parents=True)
    src_name, src, limit_t, cost_t = signature_source(root)
    record_only_descriptor(src, root / "runtimes" / "bench.toml", "bench")
    size = 2_000_000 if quick else 100_000_000
    pairs = 2 if quick else PAIRS
    n_lines = 20 if quick else 200
    t0 = time.perf_counter()
    made = generate(tmp / "pane-transcript.bin", size, seed=11, limits=5 if quick else 50, costs=5 if quick else 50,
                    limit_templates=limit_t, cost_templates=cost_t)
    note(f"pane transcript: {made.size / 1e6:.1f} MB ({src_name} signatures), made in {time.perf_counter() - t0:.1f}s")
    mb = made.size / 1e6
    env = bench_env()
    env.pop("TMUX", None)
    env.pop("TMUX_PANE", None)
    watch = [PY, "-m", "teamctl_supervisor", "rl-watch", "solo:x", "--root", str(root), "--runtime", "bench",
             "--restart", "never", "--"]
    f = {k: root / k for k in ("S0", "E", "TO", "S1", "E1", "TI", "lat.txt", "ready")}
    inner_cat = ["sh", "-c", 'date +%s.%N > "$1"; cat "$2"; date +%s.%N > "$3"; times > "$4"', "sh", str(f["S1"]),
                 str(made.path), str(f["E1"]), str(f["TI"])]
    outer = ["sh", "-c", 'date +%s.%N > "$1"; e="$2"; t="$3"; shift 3; "$@"; date +%s.%N > "$e"; times > "$t"',
             "sh", str(f["S0"]), str(f["E"]), str(f["TO"])]
    tm = Tmux(env)
    runs: list[dict[str, float]] = []
    try:
        def run(argv: list[str], prefix: list[str], done: Path, timeout: float) -> dict[str, float]:
            for p in f.values():
                p.unlink(missing_ok=True)
            shutil.rmtree(root / "state", ignore_errors=True)
            c0 = tm.cpu()
            pid = tm.respawn(outer + prefix + argv)
            if not wait_for(lambda: done.exists() and done.stat().st_size > 0, timeout, 0.01):
                raise RuntimeError(f"pane run did not finish in {timeout:.0f}s: {tm.tmux('capture-pane', '-p')[-800:]}")
            tm.reaped(pid)
            return {"cpu": tm.cpu() - c0}

        bare = [PY, str(BENCH / "bare_relay.py"), "--"]

        def throughput(side: str) -> float:
            r = run(inner_cat, {"watch": watch, "bare": bare}.get(side, []), f["TO"], 300)
            outer_self, outer_children = _times(f["TO"])
            inner_self, inner_children = _times(f["TI"])
            r.update(side=side, incl=_stamp(f["E"]) - _stamp(f["S0"]), excl=_stamp(f["E1"]) - _stamp(f["S1"]),
                     watcher=max(outer_children - inner_self - inner_children, 0.0))
            runs.append(r)
            return mb / r["incl"]

        def direct_then_bare() -> float:
            """The direct run; in full mode a bare Python pty relay right after it (a note, not a figure:
            what any relay with a pty of its own costs in a pane)."""
            value = throughput("direct")
            if not quick:
                throughput("bare")
            return value

        pr = interleave(lambda: throughput("watch"), direct_then_bare, pairs)
        direct = [r for r in runs if r["side"] == "direct"]
        watched = [r for r in runs if r["side"] == "watch"]
        bared = [r for r in runs if r["side"] == "bare"]
        excl = Paired([mb / r["excl"] for r in watched], [mb / r["excl"] for r in direct])
        quick_note = " (quick: 2 pairs)" if quick else ""
        figure("pane_throughput", f"{spread(pr.a, '{:.1f}')} MB/s through rl-watch in a tmux pane, start-up included "
               f"({mb:.0f} MB)", f"`cat` directly in the pane {spread(pr.b, '{:.1f}')} MB/s",
               ratio_text(pr) + quick_note, verdict(pr.ratio >= 0.95, ">= 0.95 (median of pairs)"))
        figure("pane_throughput_relay", f"{spread(excl.a, '{:.1f}')} MB/s through rl-watch, start-up excluded "
               "(from cat's start to its end)", f"`cat` directly {spread(excl.b, '{:.1f}')} MB/s",
               ratio_text(excl) + quick_note, verdict(excl.ratio >= 0.95, ">= 0.95 (median of pairs)"))
        shares = [r["watcher"] / r["cpu"] * 100 for r in watched]
        cpu = Paired([r["cpu"] for r in watched], [r["cpu"] for r in direct])
        figure("pane_watcher_cpu", f"{spread(shares, '{:.1f}')} % of the run's CPU is the watcher's "
               f"(watcher {spread([r['watcher'] for r in watched])} CPU s of "
               f"{spread(cpu.a)} CPU s: tmux, cat, shells, watcher)",
               f"the direct run's CPU (tmux, cat) {spread(cpu.b)} CPU s",
               "run CPU rl-watch / direct " + ratio_text(cpu) + quick_note)
        note("pane runs, MB/s start-up included (excluded), CPU s: " + ", ".join(
            f"{r['side']} {mb / r['incl']:.1f} ({mb / r['excl']:.1f}) cpu {r['cpu']:.2f}"
            + (f" relay {r['watcher']:.2f}" if r["side"] != "direct" else "") for r in runs))
        if bared:
            bp = Paired([mb / r["incl"] for r in bared], [mb / r["incl"] for r in direct])
            note(f"bare Python pty relay (bench/bare_relay.py) in the same pane: {spread(bp.a, '{:.1f}')} MB/s, "
                 f"its CPU {spread([r['watcher'] for r in bared])} s; bare / direct {ratio_text(bp)}")

        # -- line latency: a stamped line every 1/LINE_RATE s, seen through tmux pipe-pane
        lats: list[tuple[bool, list[float]]] = []
        writer = [PY, str(BENCH / "pane_lines.py"), "write", str(n_lines), str(LINE_RATE), str(f["ready"])]
        reader = shlex.join([PY, str(BENCH / "pane_lines.py"), "read", str(f["lat.txt"]), str(f["ready"])])

        def latency(watched: bool) -> float:
            for p in (f["lat.txt"], f["ready"], f["TO"]):
                p.unlink(missing_ok=True)
            shutil.rmtree(root / "state", ignore_errors=True)
            tm.respawn(outer + (watch if watched else []) + writer)
            tm.tmux("pipe-pane", "-t", "bench:0.0", f"exec {reader}")
            lines = lambda: f["lat.txt"].read_text().splitlines() if f["lat.txt"].exists() else []  # noqa: E731
            ok = wait_for(lambda: len(lines()) >= n_lines, n_lines / LINE_RATE + 15, 0.02)
            wait_for(lambda: f["TO"].exists(), 15, 0.02)
            tm.tmux("pipe-pane", "-t", "bench:0.0", check=False)  # close the pipe (gone with a dead pane)
            got = [(float(s) - float(w)) * 1000 for _, w, s in (ln.split() for ln in lines())]
            if not ok:
                note(f"pane latency run ({'rl-watch' if watched else 'direct'}): {len(got)}/{n_lines} lines seen")
            lats.append((watched, got))
            return pct(got, 99) if got else float("nan")

        lp = interleave(lambda: latency(True), lambda: latency(False), pairs)
        w50 = [pct(g, 50) for w, g in lats if w]
        d50 = [pct(g, 50) for w, g in lats if not w]
        added50 = [a - b for a, b in zip(w50, d50, strict=True)]
        added99 = [a - b for a, b in zip(lp.a, lp.b, strict=True)]
        seen = sum(len(g) for _, g in lats)
        figure("pane_line_latency", f"added p50 {spread(added50)} ms, p99 {spread(added99)} ms by rl-watch "
               f"(its p50 {spread(w50)} ms, p99 {spread(lp.a)} ms; {n_lines} lines at {LINE_RATE:g}/s a run, "
               f"{seen}/{2 * pairs * n_lines} seen)",
               f"direct in the pane p50 {spread(d50)} ms, p99 {spread(lp.b)} ms", "p99 " + ratio_text(lp, "{:.1f}")
               + quick_note, verdict(statistics.median(added99) < 16 and seen == 2 * pairs * n_lines,
                                     "added p99 < 16 ms (one 60 Hz frame), every line seen"))
    finally:
        tm.close()

"""Part `realpace` of bench/run.py (issue 16): what rl-watch costs at a real CLI's pace.

A real interactive session of Claude Code 2.1.333 and one of Codex 0.171.0 were recorded with
bench/capture_session.py (tool calls, streamed text, a usage limit, the cost screen; the CLI's own CPU
time, user+sys of its whole process tree, is stored beside each capture). Here each capture is
replayed at its recorded pace by bench/replay.py, the runtime, in two ways at once (a pair):

- under `rl-watch solo:<cli> --runtime bench-<cli> --restart never -- replay.py ...`, with the built-in
  descriptor copied as record-only (as the relay part does: a stop would end the replay at the limit);
- under bench/bare_relay.py, a pty relay that does nothing else (the baseline).

The record-only copy is a team's own descriptor, which a watcher checks in full unless its text
was checked before (store/descriptor_checks.py); each run's copy is checked once beforehand, as
`up`'s validation does for the watchers it starts (a first-ever start of a new text pays about
60 ms more for Claude Code's).

The watcher's CPU is what os.wait4 reports for it less the replay's own (start-up and exit included);
the replay also reads its parent's CPU from /proc when it starts and when it is done (relaying only).
The share is the watcher's CPU over the CLI's in the recorded session. The detection latency is from
the moment the replay writes the read holding the limit to the moment a rate_limits row is visible in
the mailbox (the replay polls it read-only every 0.5 ms).

At real pace every process is idle nearly all the time, so the pairs run side by side: pair i of
Claude starts at i * STAGGER s, Codex's half a stagger later, both sides of a pair together. Quick
mode replays the 20 s around the limit at 10x pace, one pair each, the CLI's CPU prorated.
"""

from __future__ import annotations

import base64
import json
import os
import statistics
import subprocess
import threading
import time
from pathlib import Path
from zoneinfo import ZoneInfo

from pairs import PAIRS, Paired, ratio_text, spread
from run import BENCH, PY, REPO, bench_env, figure, kill_pids, note, record_only_descriptor, verdict
from teamctl_supervisor.core.descriptors.loader import BUILTIN_DIR, load_runtime
from teamctl_supervisor.core.scan.scanner import EventKind, Scanner
from teamctl_supervisor.store.descriptor_checks import DescriptorChecks
from teamctl_supervisor.store.mailbox import Store

FIXTURES = REPO / "tests" / "fixtures" / "real_cli"
#: (figure suffix, what it is, built-in descriptor, capture without its extension)
CLIS = (("claude", "Claude Code 2.1.333", "claude-code", FIXTURES / "claude-2.1.333" / "session-200x50"),
        ("codex", "Codex 0.171.0", "codex", FIXTURES / "codex-0.171.0" / "session-200x50"))
STAGGER = 6.0
QUIET = 0.3  # the watcher scans a partial line once the runtime is quiet this long (agent/watch.py)
QUICK_PACE = 10.0
QUICK_WINDOW = (15.0, 5.0)  # capture seconds before and after the limit, in quick mode
UTC = ZoneInfo("UTC")


def load(capture: Path) -> list[tuple[float, bytes]]:
    with capture.open() as fh:
        return [(t, base64.b64decode(b)) for t, b in map(json.loads, fh)]


def limit_read(chunks: list[tuple[float, bytes]], runtime) -> int:
    """Index of the read whose bytes make the scanner report the first limit (fed read by read, a
    partial line flushed where the capture pauses for QUIET s, as the watcher does)."""
    scanner = Scanner(runtime, tz=UTC)
    for i, (t, data) in enumerate(chunks):
        events = scanner.feed(data)
        if i + 1 < len(chunks) and chunks[i + 1][0] - t >= QUIET:
            events += scanner.flush()
        if any(e.kind is EventKind.RATE_LIMIT for e in events):
            return i
    raise AssertionError("the capture shows no limit the descriptor reads")


def inprocess_detect(chunks: list[tuple[float, bytes]], mark: int, runtime, d: Path) -> float:
    """ms to scan the limit's read and commit its row, in-process (no pty, no process)."""
    scanner = Scanner(runtime, tz=UTC)
    for i, (t, data) in enumerate(chunks[:mark]):
        scanner.feed(data)
        if chunks[i + 1][0] - t >= QUIET:
            scanner.flush()
    d.mkdir(parents=True, exist_ok=True)
    store = Store(d / "mailbox.db", d / "spool", "inproc")
    store.conn()
    t0 = time.perf_counter()
    events = scanner.feed(chunks[mark][1])
    if mark + 1 >= len(chunks) or chunks[mark + 1][0] - chunks[mark][0] >= QUIET:
        events += scanner.flush()
    for ev in events:
        if ev.kind is EventKind.RATE_LIMIT:
            store.record_rate_limit("bench:inproc", "bench", time.time(), None, ev.raw)
            break
    dt = (time.perf_counter() - t0) * 1000
    store.close()
    return dt


class Replay(threading.Thread):
    """One replay run (watched or bare), started `offset` s after `t0`; waited for with os.wait4."""

    def __init__(self, argv: list[str], cwd: Path, out: Path, offset: float, t0: float, timeout: float,
                 started: set[int]):
        super().__init__(daemon=True)
        self.argv, self.cwd, self.out, self.offset, self.t0, self.timeout = argv, cwd, out, offset, t0, timeout
        self.started = started
        self.result: dict[str, float] = {}
        self.error = ""

    def run(self) -> None:
        try:
            time.sleep(max(self.t0 + self.offset - time.monotonic(), 0.0))
            with open(self.cwd / "stderr.txt", "wb") as err:
                proc = subprocess.Popen(self.argv, cwd=self.cwd, env=bench_env(), stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=err)
            self.started.add(proc.pid)
            t = time.monotonic()
            _, status, ru = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            self.result = {"wall": time.monotonic() - t, "rusage": ru.ru_utime + ru.ru_stime, "code": proc.returncode}
            if proc.returncode != 0 or not self.out.exists():
                self.error = f"exit {proc.returncode}: {(self.cwd / 'stderr.txt').read_text()[-500:]}"
                return
            self.result.update(json.loads(self.out.read_text()))
        except Exception as exc:  # reported by the caller
            self.error = f"{type(exc).__name__}: {exc}"


def bench_realpace(tmp: Path, quick: bool) -> None:
    pairs = 1 if quick else PAIRS
    pace = QUICK_PACE if quick else 1.0
    base = tmp / "realpace"
    started: set[int] = set()
    plans = []
    t0 = time.monotonic() + 0.5
    for c, (key, label, builtin, stem) in enumerate(CLIS):
        capture = stem.with_suffix(".jsonl")
        meta = json.loads(stem.with_suffix(".cpu.json").read_text())
        chunks = load(capture)
        root0 = base / key
        (root0 / "runtimes").mkdir(parents=True)
        record_only_descriptor(BUILTIN_DIR / f"{builtin}.toml", root0 / "runtimes" / f"bench-{key}.toml",
                               f"bench-{key}")
        runtime = load_runtime(f"bench-{key}", root0)
        mark = limit_read(chunks, runtime)
        first, last = 0, len(chunks)
        if quick:
            t_lim = chunks[mark][0]
            first = next(i for i, (t, _) in enumerate(chunks) if t >= t_lim - QUICK_WINDOW[0])
            last = next((i for i, (t, _) in enumerate(chunks) if t > t_lim + QUICK_WINDOW[1]), len(chunks))
        secs = chunks[last - 1][0] - chunks[first][0]
        window = min(chunks[mark][0] + QUICK_WINDOW[1], meta["seconds"]) - max(chunks[mark][0] - QUICK_WINDOW[0], 0.0)
        cli_cpu = meta["cli_cpu_s"] * (window / meta["seconds"] if quick else 1.0)
        runs = []
        for i in range(pairs):
            offset = 0.0 if quick else i * STAGGER + c * STAGGER / 2
            for side in ("bare", "watch"):
                d = base / f"{key}-{side}-{i}"
                d.mkdir(parents=True)
                out = d / "replay.json"
                replay = [PY, str(BENCH / "replay.py"), str(capture), str(first), str(last), str(pace), str(out)]
                if side == "watch":
                    (d / "runtimes").mkdir()
                    (d / "runtimes" / f"bench-{key}.toml").write_text(
                        (root0 / "runtimes" / f"bench-{key}.toml").read_text())
                    # checked in full once, as `up`'s validation does for the watchers it starts
                    load_runtime(f"bench-{key}", d, checks=DescriptorChecks(d / "state"))
                    argv = [PY, "-m", "teamctl_supervisor", "rl-watch", f"solo:{key}", "--root", str(d), "--runtime",
                            f"bench-{key}", "--restart", "never", "--", *replay, str(mark),
                            str(d / "state" / "mailbox.db")]
                else:
                    argv = [PY, str(BENCH / "bare_relay.py"), "--", *replay]
                runs.append((side, Replay(argv, d, out, offset, t0, secs / pace + 60, started)))
        plans.append((key, label, meta, chunks, mark, runtime, secs, window, cli_cpu, runs))
    threads = [r for p in plans for _, r in p[-1]]
    try:
        for r in threads:
            r.start()
        deadline = time.monotonic() + max(r.offset + r.timeout for r in threads) + 5
        for r in threads:
            r.join(max(deadline - time.monotonic(), 0.1))
    finally:
        kill_pids(started)  # whatever outlived its deadline
    for key, label, meta, chunks, mark, runtime, secs, window, cli_cpu, runs in plans:
        bad = [f"{side}: {r.error or 'did not finish'}" for side, r in runs if r.error or not r.result.get("own_cpu")]
        if bad:
            raise RuntimeError(f"realpace {key}: " + "; ".join(bad))
        watched = [r.result for side, r in runs if side == "watch"]
        bare = [r.result for side, r in runs if side == "bare"]
        cpu = Paired([r["rusage"] - r["own_cpu"] for r in watched], [r["rusage"] - r["own_cpu"] for r in bare])
        relaying = [r["parent_cpu_end"] - r["parent_cpu_start"] for r in watched]
        share = [x / cli_cpu * 100 for x in cpu.a]
        share_relay = [x / cli_cpu * 100 for x in relaying]
        how = (f"the {window:.0f} s around the limit at {pace:g}x pace (quick), the CLI's CPU prorated" if quick
               else f"the {secs:.0f} s session at its recorded pace")
        figure(f"realpace_cpu_{key}", f"watcher {spread(cpu.a, '{:.3f}')} CPU s = {spread(share)} % of {label}'s own "
               f"{cli_cpu:.2f} CPU s, start-up included (relaying only {spread(share_relay)} %), {how}",
               f"bare pty relay of the same replay {spread(cpu.b, '{:.3f}')} CPU s",
               "watcher / bare " + ratio_text(cpu, "{:.1f}") + (" (quick: 1 pair)" if quick else " side by side"),
               verdict(statistics.median(share) <= 3.0, "<= 3 % (median of pairs)"))
        lat = [(r["visible"] - r["written"]) * 1000 for r in watched if "visible" in r]
        missed = len(watched) - len(lat)
        inproc = [inprocess_detect(chunks, mark, runtime, base / f"{key}-inproc-{i}") for i in range(pairs)]
        lp = Paired(lat, inproc[: len(lat)]) if lat else Paired([float("nan")], [1.0])
        figure(f"realpace_latency_{key}", f"limit row visible {spread(lp.a)} ms after the replay wrote its bytes "
               f"(read {mark} of {len(chunks)}, at {chunks[mark][0]:.1f} s; {len(watched)} runs, {missed} missed)",
               f"in-process scan+commit of the same reads {spread(inproc)} ms",
               ratio_text(lp, "{:.1f}") + (" (quick: 1 pair)" if quick else ""),
               verdict(missed == 0 and bool(lat) and max(lat) < 500, "< 500 ms in every run"))
        note(f"realpace {key}: capture {meta['bytes'] / 1000:.0f} KB, {len(chunks)} reads, {meta['seconds']:.0f} s, "
             f"CLI CPU {meta['cli_cpu_s']:.2f} s; runs (watcher CPU s, relaying, bare CPU s, replay late max ms): "
             + ", ".join(f"{w['rusage'] - w['own_cpu']:.3f}/{w['parent_cpu_end'] - w['parent_cpu_start']:.3f}/"
                         f"{b['rusage'] - b['own_cpu']:.3f}/{w['late_max'] * 1000:.0f}" for w, b in zip(watched, bare,
                                                                                                     strict=True)))

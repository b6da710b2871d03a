"""Part `relay_split` of bench/run.py (issue 27): what the relay's time is made of, and what moving
the scan off the reading loop would buy.

The relay figure compares rl-watch with a bare pexpect loop. This part takes rl-watch's hot path
apart, in this process, over the relay part's transcript and `cat` under a pty (400 columns), each
variant paired with the bare loop (interleaved, B first):

- `log`: the reads of a burst joined, one write to the terminal (/dev/null) and one to a log file
  per burst: the relay without its scan;
- `scan_inline`: that, plus the real Scanner fed every 32 KiB on the reading loop (what rl-watch
  does, less its reactor and bookkeeping);
- `scan_thread`: the same scan on a second thread (the reading loop hands it each batch);
- `scan_process`: the same scan in a forked process fed through a pipe.

The events each scanning variant found are checked against the transcript's limit and cost lines.
"""

from __future__ import annotations

import os
import queue
import select
import threading
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

import pexpect
from pairs import PAIRS, interleave, ratio_text, spread
from run import _since_stamp, _timed_cat, bench_relay_inputs, figure, note, relay_bare, verdict
from teamctl_supervisor.core.descriptors.loader import load_runtime
from teamctl_supervisor.core.scan.scanner import EventKind, Scanner

BATCH = 32 * 1024
BURST = 256 * 1024
UTC = ZoneInfo("UTC")


def _relay(path: Path, log_path: Path, scan: Callable[[bytes], None] | None) -> float:
    """`cat FILE` under a pty: burst reads, one terminal and one log write per burst, `scan` fed
    per BATCH. Seconds from cat's start (its stamp, as in the relay part) to the end of output."""
    out = os.open(os.devnull, os.O_WRONLY)
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    stamp = log_path.with_suffix(".start")
    argv = _timed_cat(path, stamp)
    child = pexpect.spawn(argv[0], argv[1:], dimensions=(50, 400))
    fd = child.child_fd
    os.set_blocking(fd, False)
    held: list[bytes] = []
    held_size = 0
    try:
        eof = False
        while not eof:
            select.select([fd], [], [])
            parts: list[bytes] = []
            size = 0
            while size < BURST:
                try:
                    data = os.read(fd, 65536)
                except BlockingIOError:
                    break
                except OSError:
                    eof = True
                    break
                if not data:
                    eof = True
                    break
                parts.append(data)
                size += len(data)
            if not parts:
                continue
            data = b"".join(parts) if len(parts) > 1 else parts[0]
            os.write(out, data)
            os.write(log, data)
            if scan is not None:
                held.append(data)
                held_size += len(data)
                if held_size >= BATCH or eof:
                    scan(b"".join(held))
                    held.clear()
                    held_size = 0
        if scan is not None and held:
            scan(b"".join(held))
        return _since_stamp(stamp)
    finally:
        os.close(out)
        os.close(log)
        child.close(force=True)


class _Counted:
    """Limit and cost events of one run, whichever way the scan ran."""

    def __init__(self) -> None:
        self.limits = self.costs = 0

    def add(self, events) -> None:
        kinds = [e.kind for e in events]
        self.limits += kinds.count(EventKind.RATE_LIMIT)
        self.costs += kinds.count(EventKind.COST)


def _inline(runtime, path: Path, log: Path, got: list[_Counted]) -> float:
    scanner, counted = Scanner(runtime, tz=UTC, count_lines=False), _Counted()
    dt = _relay(path, log, lambda data: counted.add(scanner.feed(data)))
    counted.add(scanner.finish())
    got.append(counted)
    return dt


def _threaded(runtime, path: Path, log: Path, got: list[_Counted]) -> float:
    import time

    scanner, counted = Scanner(runtime, tz=UTC, count_lines=False), _Counted()
    batches: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()

    def work() -> None:
        while (data := batches.get()) is not None:
            counted.add(scanner.feed(data))

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    relayed = _relay(path, log, batches.put)
    t_relayed = time.perf_counter()
    batches.put(None)
    worker.join()
    counted.add(scanner.finish())
    got.append(counted)
    return relayed + time.perf_counter() - t_relayed  # until the scan has caught up: its events count


def _forked(runtime, path: Path, log: Path, got: list[_Counted]) -> float:
    import time

    scanner = Scanner(runtime, tz=UTC, count_lines=False)
    data_r, data_w = os.pipe()
    res_r, res_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the scanning process: counts, then its two numbers on the result pipe
        os.close(data_w)
        os.close(res_r)
        counted = _Counted()
        with os.fdopen(data_r, "rb", buffering=0) as src:
            while chunk := src.read(BURST):
                counted.add(scanner.feed(chunk))
        counted.add(scanner.finish())
        os.write(res_w, f"{counted.limits} {counted.costs}".encode())
        os._exit(0)
    os.close(data_r)
    os.close(res_w)
    try:
        relayed = _relay(path, log, lambda data: _write_all(data_w, data))
    finally:
        os.close(data_w)
    t_relayed = time.perf_counter()
    answer = os.read(res_r, 100).decode().split()
    os.close(res_r)
    os.waitpid(pid, 0)
    dt = relayed + time.perf_counter() - t_relayed
    counted = _Counted()
    counted.limits, counted.costs = (int(x) for x in answer)
    got.append(counted)
    return dt


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def bench_relay_split(tmp: Path, quick: bool) -> None:
    made, root, _ = bench_relay_inputs(tmp, quick)
    runtime = load_runtime("bench", root)
    mb = made.size / 1e6
    stamp = tmp / "split-start"
    log = tmp / "split.log"

    def bare() -> float:
        relay, _ = relay_bare(made.path, stamp)
        return mb / relay

    variants: list[tuple[str, str, Callable[..., float]]] = [
        ("log", "relay and log, no scan", lambda got: _relay(made.path, log, None)),
        ("scan_inline", "the scan on the reading loop", lambda got: _inline(runtime, made.path, log, got)),
        ("scan_thread", "the scan on a second thread", lambda got: _threaded(runtime, made.path, log, got)),
        ("scan_process", "the scan in a forked process", lambda got: _forked(runtime, made.path, log, got)),
    ]
    for key, what, run_one in variants:
        got: list[_Counted] = []
        pr = interleave(lambda run_one=run_one, got=got: mb / run_one(got), bare, 1 if quick else PAIRS)
        found = all(c.limits == made.limits and c.costs == made.costs for c in got)
        figure(f"relay_split_{key}", f"{spread(pr.a, '{:.1f}')} MB/s, {what}",
               f"bare pexpect loop {spread(pr.b, '{:.1f}')} MB/s", ratio_text(pr),
               verdict(found, "every limit and cost line found") if got else "")
    note("relay_split: in-process loops over the relay part's transcript; rl-watch adds its reactor and "
         "bookkeeping to scan_inline")

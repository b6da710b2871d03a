#!/usr/bin/env python3
"""teamctl-supervisor benchmarks (issue 7): `python bench/run.py [--quick]`.

Every figure is one line `name: value unit (baseline ...; ratio ...)`, its baseline measured in the
same run. Everything runs in a temp dir; every process started here is ended here, by pid.
See bench/README.md for the method and the latest results.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import select
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

import pexpect
import psutil

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
FAKES = REPO / "tests" / "fakes"
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(BENCH))

from pairs import PAIRS, Paired, interleave, ratio_text, spread  # noqa: E402
from teamctl_supervisor.agent.watch import IDLE_TICK_SECONDS  # noqa: E402
from teamctl_supervisor.core.descriptors.loader import BUILTIN_DIR, load_runtime  # noqa: E402
from teamctl_supervisor.core.reactor import FIRST_GROUP_POLL_SECONDS  # noqa: E402
from teamctl_supervisor.core.scan.scanner import EventKind, Scanner, strip_ansi  # noqa: E402
from teamctl_supervisor.store.mailbox import Store  # noqa: E402
from transcript import FAKE_COSTS, FAKE_LIMITS, Made, generate  # noqa: E402

PY = sys.executable
CHUNK = 65536
#: In-process scans feed the size a Linux pty read returns (measured mean 4.4 KB with 64 KiB reads).
SCAN_CHUNK = 4096
RELAY_PAIRS = PAIRS
NAIVE_SHARE = 4
UP_RUNS = 3
#: A watcher's start-up ends at its first idle tick (agent/watch.py: the group poll FIRST_GROUP_POLL_SECONDS
#: in, then IDLE_TICK_SECONDS of quiet; it hands its start-up heap back then): the idle windows begin
#: after that, counted from `up`'s return (every watcher started before it).
IDLE_AFTER = FIRST_GROUP_POLL_SECONDS + IDLE_TICK_SECONDS + 2.0
UTC = ZoneInfo("UTC")

#: Every pid this run started (watchers, runtimes, workers); ended in `cleanup()`.
STARTED: set[int] = set()


# -- output ---------------------------------------------------------------------------------------
def figure(name: str, value: str, baseline: str, ratio: str, target: str = "") -> None:
    extra = f"; {target}" if target else ""
    print(f"{name}: {value} (baseline {baseline}; ratio {ratio}{extra})", flush=True)


def verdict(ok: bool, text: str) -> str:
    return f"target {text} {'ok' if ok else 'MISSED'}"


def note(text: str) -> None:
    print(f"# {text}", file=sys.stderr, flush=True)


# -- processes ------------------------------------------------------------------------------------
_PYTHON_DIR: list[Path] = []


def python_dir() -> Path:
    """A folder whose `python3` is this interpreter's own executable, first on the bench's PATH.

    The fake runtimes start with `#!/usr/bin/env python3`. Where `python3` on PATH is a version
    manager's shim (pyenv: a bash script that runs a dozen more), each fake runtime start cost 0.1 CPU s
    of shell, a quarter of `up`'s CPU at 200 agents, and the figure measured the shim, not teamctl.
    """
    if not _PYTHON_DIR:
        folder = Path(tempfile.mkdtemp(prefix="teamctl-bench-python-"))
        (folder / "python3").symlink_to(os.path.realpath(sys.executable))
        _PYTHON_DIR.append(folder)
    return _PYTHON_DIR[0]


def bench_env(extra_path: Path | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("TEAMCTL_ROOT", None)
    env.pop("TEAMCTL_AGENT", None)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    path = [str(FAKES), str(python_dir())] + ([str(extra_path)] if extra_path else [])
    env["PATH"] = os.pathsep.join(path + [env.get("PATH", "")])
    env.setdefault("TERM", "xterm-256color")
    return env


def popen(argv: list[str], **kw) -> subprocess.Popen:
    proc = subprocess.Popen(argv, **kw)
    STARTED.add(proc.pid)
    return proc


def kill_pids(pids: set[int]) -> int:
    """SIGKILL whatever of `pids` still runs (and its children); returns how many were alive."""
    alive = 0
    procs: list[psutil.Process] = []
    for pid in pids:
        try:
            p = psutil.Process(pid)
            if p.status() == psutil.STATUS_ZOMBIE:
                continue
            procs += [p, *p.children(recursive=True)]
        except psutil.Error:
            continue
    for p in procs:
        try:
            p.kill()
            alive += 1
        except psutil.Error:
            pass
    psutil.wait_procs(procs, timeout=5)
    return alive


def cleanup() -> None:
    kill_pids(STARTED)
    for pid in list(STARTED):
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
    for folder in _PYTHON_DIR:
        shutil.rmtree(folder, ignore_errors=True)


def timed(argv: list[str], **kw) -> tuple[float, subprocess.CompletedProcess]:
    t0 = time.perf_counter()
    proc = popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, **kw)
    out, err = proc.communicate(timeout=300)
    dt = time.perf_counter() - t0
    return dt, subprocess.CompletedProcess(argv, proc.returncode, out, err)


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q / 100 * (len(s) - 1))))]


# -- runtimes and descriptors ---------------------------------------------------------------------
def signature_source(root: Path) -> tuple[str, Path, tuple[str, ...], tuple[str, ...]]:
    """The runtime whose signatures the relay figure uses: a built-in one when the repo ships it,
    else the test runtime (tests/fakes/runtimes/fake.toml); its limit and cost line templates."""
    builtin = BUILTIN_DIR / "claude-code.toml"
    if builtin.is_file():
        try:
            rt = load_runtime("claude-code")
            if rt.rate_limits and rt.costs:
                templates = _builtin_templates()
                if templates:
                    return "claude-code", builtin, *templates
        except Exception as exc:  # a descriptor being edited right now: fall back
            note(f"built-in claude-code descriptor not usable ({exc}); using the fake runtime")
    return "fake", FAKES / "runtimes" / "fake.toml", FAKE_LIMITS, FAKE_COSTS


def _builtin_templates() -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """Lines the built-in claude-code signatures should match (checked before use): today's notices
    (@anthropic-ai/claude-code-linux-x64 2.1.337 `You've hit your ${name} · resets ${when}`, the
    auto-continue footer), the 1.0.x wording still in use, and -p's JSON result for the cost."""
    limits = ("You've hit your limit · resets {secs}pm (UTC)",
              "Usage limit reached · limit resets at {secs}pm",
              "5-hour limit reached ∙ resets {secs}pm")
    costs = ('{{"type":"result","total_cost_usd":{usd:.4f},"usage":{{"input_tokens":{inp},'
             '"output_tokens":{out}}}}}',)
    rt = load_runtime("claude-code")
    sc = Scanner(rt, tz=UTC)
    probe = "\n".join(t.format(n=0, secs=3, usd=1.5, inp=10, out=5) for t in limits + costs) + "\n"
    events = sc.feed(probe.encode()) + sc.finish()
    kinds = [e.kind for e in events]
    if kinds.count(EventKind.RATE_LIMIT) == len(limits) and kinds.count(EventKind.COST) == len(costs):
        return limits, costs
    return None


def record_only_descriptor(src: Path, dst: Path, name: str) -> None:
    """A copy of `src` named `name` whose every rate-limit signature only records (never stops the
    runtime), so a relay run sees the whole transcript. Its session keys are left out: the bench
    runs `cat` or a replay under it, not the CLI, and `--session-id ID` would go to that command."""
    text = src.read_text(encoding="utf-8")
    text = re.sub(r'(?m)^session_\w+\s*=\s*(?:\[[^\]]*\]|\{[^}]*\}|.*)$', "", text)
    text = re.sub(r'(?m)^name\s*=.*$', f'name = "{name}"', text, count=1)
    text = re.sub(r'(?m)^aliases\s*=.*$', "", text)
    text = re.sub(r'(?m)^action\s*=.*$', "", text)
    text = re.sub(r'(?m)^\[\[rate_limit\]\]\s*$', '[[rate_limit]]\naction = "record"', text)
    if not re.search(r'(?m)^name\s*=', text):
        text = f'name = "{name}"\n' + text
    dst.write_text(text, encoding="utf-8")
    load_runtime(name, dst.parent.parent)  # must load


# -- 1. relay throughput ----------------------------------------------------------------------------
def _timed_cat(path: Path, stamp: Path) -> list[str]:
    """`cat FILE`, stamping the wall-clock time it starts at (the relay's start, past all start-up)."""
    return ["sh", "-c", 'date +%s.%N > "$1" && exec cat "$2"', "sh", str(stamp), str(path)]


def _since_stamp(stamp: Path) -> float:
    return time.time() - float(stamp.read_text().strip())


def relay_bare(path: Path, stamp: Path) -> tuple[float, float]:
    """Bare pexpect loop: spawn `cat FILE` under a pty, os.read 64 KiB, write to /dev/null.
    Returns (seconds from cat's start to the end, seconds from spawn to the end)."""
    out = os.open(os.devnull, os.O_WRONLY)
    t0 = time.perf_counter()
    argv = _timed_cat(path, stamp)
    child = pexpect.spawn(argv[0], argv[1:], dimensions=(50, 400), use_poll=True, env=bench_env())
    STARTED.add(child.pid)
    fd = child.child_fd
    try:
        while True:
            select.select([fd], [], [])
            try:
                data = os.read(fd, CHUNK)
            except OSError:
                break
            if not data:
                break
            os.write(out, data)
        child.wait()
        return _since_stamp(stamp), time.perf_counter() - t0
    finally:
        os.close(out)
        child.close(force=True)


def relay_watch(path: Path, stamp: Path, root: Path, runtime: str, agent: str) -> tuple[float, float]:
    """The real path: `rl-watch ... -- cat FILE`, stdout to /dev/null, log file on, a fresh state dir.
    Returns (seconds from cat's start to rl-watch's exit, seconds from spawn to exit)."""
    shutil.rmtree(root / "state", ignore_errors=True)
    argv = [PY, "-m", "teamctl_supervisor", "rl-watch", agent, "--runtime", runtime, "--root", str(root),
            "--restart", "never", "--", *_timed_cat(path, stamp)]
    with open(os.devnull, "wb") as null:
        t0 = time.perf_counter()
        proc = popen(argv, cwd=root, env=bench_env(), stdin=subprocess.DEVNULL, stdout=null,
                     stderr=subprocess.PIPE)
        _, err = proc.communicate(timeout=600)
        dt = time.perf_counter() - t0
        relay = _since_stamp(stamp)
    if proc.returncode != 0:
        raise RuntimeError(f"rl-watch relay exited {proc.returncode}: {err.decode()[-500:]}")
    return relay, dt


def scan_naive(chunks: list[bytes], runtime) -> tuple[float, int, int]:
    """Every signature's regex on every ANSI-stripped line, no prefilter."""
    sigs = runtime.rate_limits + runtime.costs + runtime.dialogs + runtime.ignores
    limits = costs = 0
    t0 = time.perf_counter()
    buf = b""
    for chunk in chunks + [b"\n"]:
        buf += chunk
        pieces = buf.split(b"\n")
        buf = pieces.pop()
        for piece in pieces:
            for part in piece.split(b"\r"):
                for text in strip_ansi(part):
                    if not text:
                        continue
                    for sig in sigs:
                        if sig.regex.search(text):
                            limits += sig.kind == "rate_limit"
                            costs += sig.kind == "cost"
    return time.perf_counter() - t0, limits, costs


def scan_real(chunks: list[bytes], runtime) -> tuple[float, int, int]:
    scanner = Scanner(runtime, tz=UTC)
    events = []
    t0 = time.perf_counter()
    for chunk in chunks:
        events += scanner.feed(chunk)
    events += scanner.finish()
    dt = time.perf_counter() - t0
    kinds = [e.kind for e in events]
    return dt, kinds.count(EventKind.RATE_LIMIT), kinds.count(EventKind.COST)


def bench_relay_inputs(tmp: Path, quick: bool) -> tuple[Made, Path, str]:
    """The relay transcript, the team root with its record-only `bench` runtime, and the runtime
    whose signatures it copies; made once per run (the relay and relay_split parts share them, and
    the second finds the first's on disk: run.py is also imported under its module name)."""
    root = tmp / "relay"
    made_file = root / "made.json"
    if made_file.exists():
        saved = json.loads(made_file.read_text())
        return Made(**{**saved["made"], "path": Path(saved["made"]["path"])}), root, saved["source"]
    (root / "runtimes").mkdir(parents=True)
    src_name, src, limit_t, cost_t = signature_source(root)
    record_only_descriptor(src, root / "runtimes" / "bench.toml", "bench")
    size = 4_000_000 if quick else 100_000_000
    n_lim, n_cost = (10, 10) if quick else (100, 100)
    t0 = time.perf_counter()
    made = generate(tmp / "transcript.bin", size, seed=7, limits=n_lim, costs=n_cost, limit_templates=limit_t,
                    cost_templates=cost_t)
    note(f"transcript: {made.size / 1e6:.1f} MB, {made.limits} limit + {made.costs} cost lines "
         f"({src_name} signatures), generated in {time.perf_counter() - t0:.1f}s")
    made_file.write_text(json.dumps({"made": {**made.__dict__, "path": str(made.path)}, "source": src_name}))
    return made, root, src_name


def bench_relay(tmp: Path, quick: bool) -> None:
    made, root, src_name = bench_relay_inputs(tmp, quick)
    mb = made.size / 1e6
    # interleaved pairs (bare, rl-watch), the throughput ratio taken pair by pair
    stamp = tmp / "relay-start"
    spawn: list[tuple[float, float]] = []

    def bare() -> float:
        relay, from_spawn = relay_bare(made.path, stamp)
        spawn.append((relay, from_spawn))
        return mb / relay

    def watch() -> float:
        relay, from_spawn = relay_watch(made.path, stamp, root, "bench", "bench:relay")
        spawn.append((relay, from_spawn))
        return mb / relay

    pr = interleave(watch, bare, RELAY_PAIRS)
    figure("relay_throughput", f"{spread(pr.a, '{:.1f}')} MB/s", f"bare pexpect loop {spread(pr.b, '{:.1f}')} MB/s",
           ratio_text(pr), verdict(pr.ratio >= 0.85, ">= 0.85 (median of pairs)"))
    note("relay pairs, MB/s from cat's start (from spawn): "
         + ", ".join(f"bare {mb / spawn[2 * i][0]:.0f} ({mb / spawn[2 * i][1]:.0f}) / rl-watch "
                     f"{mb / spawn[2 * i + 1][0]:.0f} ({mb / spawn[2 * i + 1][1]:.0f})" for i in range(len(pr.a))))
    # what rl-watch itself found in that run: one rate_limits row (record, 60 s dedup), one budget row per cost line
    conn = sqlite3.connect(root / "state" / "mailbox.db")
    n_rl = conn.execute("SELECT count(*) FROM rate_limits").fetchone()[0]
    n_budget = conn.execute("SELECT count(*) FROM budget").fetchone()[0]
    conn.close()
    note(f"rl-watch relay run: {n_rl} rate_limits row(s) (record action, deduplicated for 60 s), "
         f"{n_budget}/{made.costs} budget rows")

    runtime = load_runtime(src_name, None if src_name != "fake" else FAKES)
    data = made.path.read_bytes()
    chunks = [data[i:i + SCAN_CHUNK] for i in range(0, len(data), SCAN_CHUNK)]
    del data
    t_real, lim_r, cost_r = scan_real(chunks, runtime)
    # the naive baseline runs at ~2 MB/s: pairs over the first 5 MB (quick: the first quarter)
    part = chunks[: max(len(chunks) // NAIVE_SHARE if quick else 5_000_000 // SCAN_CHUNK, 1)]
    part_mb = sum(map(len, part)) / 1e6
    naive_counts: list[int] = []

    def naive() -> float:
        dt, lim_n, cost_n = scan_naive(part, runtime)
        naive_counts.append(lim_n + cost_n)
        return part_mb / dt

    pr = interleave(lambda: part_mb / scan_real(part, runtime)[0], naive, PAIRS)
    _, lim_p, cost_p = scan_real(part, runtime)
    figure("scan_throughput", f"{spread(pr.a, '{:.1f}')} MB/s over the first {part_mb:.0f} MB "
           f"(whole {mb:.0f} MB once: {mb / t_real:.1f} MB/s)",
           f"naive every-regex-every-line {spread(pr.b, '{:.1f}')} MB/s", ratio_text(pr, "{:.1f}"))
    expected = made.limits + made.costs
    found = lim_r + cost_r
    figure("events_found", f"{found}/{expected} events ({lim_r}/{made.limits} limit, {cost_r}/{made.costs} cost)",
           f"naive {naive_counts[-1]}/{lim_p + cost_p} in the first {part_mb:.0f} MB", f"{found / expected:.2f}",
           verdict(found == expected and n_budget == made.costs, "all found (and rl-watch budget rows)"))


    bench_scan_capture(quick)


#: Real Claude Code 2.1.333 TUI sessions recorded by the real-CLI harness (tests/realcli/record.py):
#: a prompt and reply, /cost, the limit notice, the trust dialog, model prose about limits, a warning.
CAPTURE_DIR = REPO / "tests" / "fixtures" / "real_cli" / "claude-2.1.333"
CAPTURES = ("exchange.jsonl", "limit.jsonl", "trust-dialog.jsonl", "prose-limit-talk.jsonl", "usage-warning.jsonl",
            "resume.jsonl", "continue.jsonl")


def _capture_bytes() -> bytes:
    """The captured sessions' output, back to back (each line of a capture: [seconds, base64 bytes])."""
    import base64

    out = []
    for name in CAPTURES:
        for line in (CAPTURE_DIR / name).read_text().splitlines():
            if line.strip():
                out.append(base64.b64decode(json.loads(line)[1]))
    return b"".join(out)


def bench_scan_capture(quick: bool) -> None:
    """The scanner on what a real Claude Code TUI draws (cursor moves for blanks, redraws by
    difference), repeated to a few MB: throughput against the naive scan, and the same events in
    every copy."""
    runtime = load_runtime("claude-code", None)
    one = _capture_bytes()
    copies = max(1, (1_000_000 if quick else 5_000_000) // len(one))
    chunks = [one[i:i + SCAN_CHUNK] for i in range(0, len(one), SCAN_CHUNK)] * copies
    mb = len(one) * copies / 1e6
    per_copy = [e.kind.value for e in Scanner(runtime, tz=UTC).feed(one)]
    # copies run into each other (a copy's last partial row meets the next one's first): the steady
    # count is what a second copy adds
    two = Scanner(runtime, tz=UTC)
    n2 = len(two.feed(one)) + len(two.feed(one)) + len(two.finish())
    expected = len(per_copy) + (copies - 1) * (n2 - len(per_copy))

    def real() -> float:
        scanner = Scanner(runtime, tz=UTC)
        t0 = time.perf_counter()
        found = 0
        for chunk in chunks:
            found += len(scanner.feed(chunk))
        found += len(scanner.finish())
        real_counts.append(found)
        return mb / (time.perf_counter() - t0)

    real_counts: list[int] = []
    naive_part = chunks[: max(len(chunks) // copies, 1)]  # the naive scan over one copy
    naive_mb = sum(map(len, naive_part)) / 1e6
    pr = interleave(real, lambda: naive_mb / scan_naive(naive_part, runtime)[0], PAIRS)
    kinds = ", ".join(f"{per_copy.count(k)} {k}" for k in sorted(set(per_copy)))
    figure("scan_real_capture", f"{spread(pr.a, '{:.1f}')} MB/s over {copies} copies of {len(one) / 1e3:.0f} KB of "
           f"real Claude Code 2.1.333 TUI output ({kinds} events in the first copy)",
           f"naive every-regex-every-line {spread(pr.b, '{:.1f}')} MB/s", ratio_text(pr, "{:.1f}"),
           verdict(all(c == expected for c in real_counts), f"{expected} events in every run"))


# -- 2. detection latency ---------------------------------------------------------------------------
LATENCY_TOML = """name = "benchlat"

[launch]
binary = "limit_writer.py"

[[rate_limit]]
id = "bench-hit"
match = 'bench limit hit #(?P<n>[0-9]+) resets in (?P<reset>[0-9]+s)'
keywords = ["bench limit hit"]
reset = "duration"
action = "resume"
resume_keys = "continue\\r"
"""


def bench_latency(tmp: Path, quick: bool) -> None:
    n = 20 if quick else 200
    pairs = PAIRS
    root = tmp / "latency"
    (root / "runtimes").mkdir(parents=True)
    (root / "runtimes" / "benchlat.toml").write_text(LATENCY_TOML)
    runtime = load_runtime("benchlat", root)
    missing_all = 0
    lats: list[list[float]] = []

    def watched() -> float:
        nonlocal missing_all
        out = root / "lat.json"
        out.unlink(missing_ok=True)
        shutil.rmtree(root / "state", ignore_errors=True)
        mailbox = root / "state" / "mailbox.db"
        argv = [PY, "-m", "teamctl_supervisor", "rl-watch", "bench:lat", "--runtime", "benchlat", "--root",
                str(root), "--restart", "never", "--margin", "0", "--", str(BENCH / "limit_writer.py"),
                str(mailbox), str(n), str(out)]
        with open(os.devnull, "wb") as null:
            proc = popen(argv, cwd=root, env=bench_env(BENCH), stdin=subprocess.DEVNULL, stdout=null,
                         stderr=subprocess.PIPE)
            _, err = proc.communicate(timeout=300)
        if proc.returncode != 0 or not out.exists():
            raise RuntimeError(f"latency run exited {proc.returncode}: {err.decode()[-500:]}")
        lat = [x * 1000 for x in json.loads(out.read_text())]
        missing_all += sum(1 for x in lat if x != x)
        lat = [x for x in lat if x == x]
        lats.append(lat)
        return pct(lat, 99)

    def inproc() -> float:
        # the same work in-process, no pty and no process: Scanner.feed + Store.record_rate_limit commit
        d = tmp / "latency-inproc"
        shutil.rmtree(d, ignore_errors=True)
        scanner = Scanner(runtime, tz=UTC)
        store = Store(d / "mailbox.db", d / "spool", "inproc")
        store.conn()  # schema created before timing, as the watcher does at start
        base = []
        for i in range(n):
            t0 = time.perf_counter()
            for ev in scanner.feed(f"bench limit hit #{i} resets in {(i + 1) * 3600}s\n".encode()):
                store.record_rate_limit("bench:lat", "benchlat", time.time(), None, ev.raw)
            base.append((time.perf_counter() - t0) * 1000)
        store.close()
        return pct(base, 99)

    pr = interleave(watched, inproc, pairs)
    p50s = [pct(x, 50) for x in lats]
    figure("detection_latency", f"p99 {spread(pr.a)} ms, p50 {spread(p50s)} ms, {pairs} runs of {n} hits "
           f"({missing_all} missed)", f"in-process scan+commit p99 {spread(pr.b)} ms", ratio_text(pr, "{:.1f}"),
           verdict(max(pr.a) < 50 and missing_all == 0, "p99 < 50 ms in every run"))


# -- 3 + 4. scale and idle ----------------------------------------------------------------------------
IDLE_TOML = """name = "claude-code"

[launch]
binary = "fake_agent.py"
args = ["print:ready", "hang"]
"""


def make_team(tmp: Path, n: int) -> Path:
    base = tmp / f"scale-{n}"
    team = base / ".team"
    for d in ("projects", "runtimes", "roles"):
        (team / d).mkdir(parents=True)
    (team / "runtimes" / "claude-code.toml").write_text(IDLE_TOML)
    (team / "team-compose.yaml").write_text(
        "version: 2\nbroker: {type: sqlite, path: state/mailbox.db}\nsupervisor: {type: tmux, tmux_prefix: bench-}\n"
        "projects:\n  - file: projects/bench.yaml\n")
    lines = ["version: 2\nproject: {id: bench, name: Bench, cwd: .}\nworkers:"]
    for i in range(n):
        name = f"w{i:02d}"
        (team / "roles" / f"{name}.md").write_text(f"You are {name}.\n")
        lines.append(f"  {name}:\n    runtime: claude-code\n    role_prompt: roles/{name}.md")
    (team / "projects" / "bench.yaml").write_text("\n".join(lines) + "\n")
    return team


def state_rows(team: Path) -> list[sqlite3.Row]:
    db = team / "state" / "mailbox.db"
    if not db.exists():
        return []
    conn = sqlite3.connect(db, timeout=10)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute("SELECT * FROM supervisor_agent_state").fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        conn.close()


def wait_for(pred: Callable[[], object], timeout: float, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(interval)
    return bool(pred())


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            t = psutil.Process(pid).cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


def bench_team(tmp: Path, quick: bool) -> None:
    """up, status, down, idle CPU at 10, 50 and 200 agents (quick: 10), then the per-agent cost."""
    sizes = (10,) if quick else (10, 50, 200)
    per_agent: dict[int, dict[str, float]] = {}
    for n in sizes:
        per_agent[n] = bench_team_size(tmp, n, quick, memory=n == sizes[-1])
    small, big = sizes[0], sizes[-1]
    cols = ", ".join(f"{n}: up {c['up'] * 1000:.0f} ms, status {c['status'] * 1000:.2f} ms, "
                     f"down {c['down'] * 1000:.0f} ms, idle {c['idle'] * 1000:.2f} m%" for n, c in per_agent.items())
    grow = per_agent[big]["up"] / per_agent[small]["up"]
    figure("scale_growth", f"per agent at {cols}", f"the per-agent cost at {small} agents",
           f"up per agent at {big} / at {small}: {grow:.2f}",
           verdict(grow <= 1.5, "linear or better (<= 1.5)"))


def bench_team_size(tmp: Path, n: int, quick: bool, memory: bool) -> dict[str, float]:
    """One team of n fake agents: PAIRS (bare n interpreters, up) pairs, status and down each paired
    with `teamctl --version`, idle CPU over PAIRS windows; memory once. Returns per-agent medians."""
    pairs = PAIRS
    window = 1.0 if quick else (6.0 if n >= 200 else 10.0)
    team = make_team(tmp, n)
    env = bench_env()
    teamctl = [PY, "-m", "teamctl_supervisor"]
    watcher_pids: list[int] = []
    runtime_pids: list[int] = []
    ups: list[tuple[float, bool, int]] = []
    downs: list[tuple[float, int, int]] = []
    statuses: list[float] = []
    listed: list[int] = []
    idle: list[float] = []
    idle_rt: list[float] = []

    def bare_at_once() -> float:
        t0 = time.perf_counter()
        bare = [popen([PY, "-c", "pass"]) for _ in range(n)]
        for p in bare:
            p.wait()
        return time.perf_counter() - t0

    def version() -> float:
        return timed(teamctl + ["--version"], env=env)[0]

    def up() -> float:
        """`teamctl up` until every state row says running."""
        t0 = time.perf_counter()
        proc = popen(teamctl + ["up", "--backend", "process", "--root", str(team)], env=env, cwd=team.parent,
                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

        def all_running() -> bool:
            rows = state_rows(team)
            return len(rows) == n and all(r["state"] == "running" for r in rows)

        ok_up = wait_for(all_running, 120)
        t_running = time.perf_counter() - t0
        up_out, _ = proc.communicate(timeout=120)
        rows = state_rows(team)
        watcher_pids[:] = [r["watcher_pid"] for r in rows if r["watcher_pid"]]
        runtime_pids[:] = [r["pid"] for r in rows if r["pid"]]
        STARTED.update(watcher_pids + runtime_pids)
        if not ok_up:
            note(f"teamctl up ({n}): not all running: {up_out.decode()[-800:]}")
        dt = max(t_running, time.perf_counter() - t0)
        ups.append((dt, ok_up, proc.returncode))
        return dt

    def status() -> float:
        dt, res = timed(teamctl + ["status", "--json", "--root", str(team)], env=env, cwd=team.parent)
        listed.append(len(json.loads(res.stdout or b"[]")) if res.returncode == 0 else -1)
        statuses.append(dt)
        return dt

    def down() -> float:
        dt, res = timed(teamctl + ["down", "--root", str(team)], env=env, cwd=team.parent)
        left = len([p for p in watcher_pids + runtime_pids if _running(p)])
        downs.append((dt, left, res.returncode))
        return dt

    p_up = Paired([], [])
    p_status = Paired([], [])
    p_down = Paired([], [])
    try:
        for i in range(pairs):
            p_up.b.append(bare_at_once())
            p_up.a.append(up())
            p_status.b.append(version())
            p_status.a.append(status())
            if i == 0:  # idle: CPU of the watchers only (not the runtimes), PAIRS windows once they idle
                time.sleep(1.0 if quick else IDLE_AFTER)  # quick: the smoke test checks the harness
                for _ in range(pairs):
                    c0, r0, t0 = cpu_seconds(watcher_pids), cpu_seconds(runtime_pids), time.perf_counter()
                    time.sleep(window)
                    wall = time.perf_counter() - t0
                    idle.append((cpu_seconds(watcher_pids) - c0) / wall * 100)
                    idle_rt.append((cpu_seconds(runtime_pids) - r0) / wall * 100)
                if memory:
                    bench_memory(watcher_pids)
            p_down.b.append(version())
            p_down.a.append(down())
    finally:
        rows = state_rows(team)  # also the watchers of an interrupted `up`
        kill_pids(set(watcher_pids + runtime_pids) | {r["watcher_pid"] for r in rows if r["watcher_pid"]}
                  | {r["pid"] for r in rows if r["pid"]})
    ok_up = all(u[1] and u[2] == 0 for u in ups)
    t_up, t_status, t_down = (statistics.median(x.a) for x in (p_up, p_status, p_down))
    up_target = n / 10
    figure(f"scale_up_{n}", f"{spread(p_up.a)} s for {n} agents (all running, exit 0: {ok_up})",
           f"{n} bare `python -c pass` at once {spread(p_up.b)} s", ratio_text(p_up, "{:.1f}"),
           verdict(ok_up and t_up < up_target, f"< {up_target:g} s"))
    figure(f"scale_status_{n}", f"{spread(p_status.a, '{:.3f}')} s for {min(listed)}-{max(listed)} agents",
           f"`teamctl --version` {spread(p_status.b, '{:.3f}')} s", ratio_text(p_status, "{:.1f}"),
           verdict(t_status < 1 and min(listed) == n, "< 1 s"))
    left = sum(d[1] for d in downs)
    ok_down = left == 0 and all(d[2] == 0 for d in downs)
    figure(f"scale_down_{n}", f"{spread(p_down.a)} s for {n} agents, {left} processes left after {len(downs)} downs",
           f"`teamctl --version` {spread(p_down.b, '{:.3f}')} s", ratio_text(p_down, "{:.1f}"),
           verdict(ok_down, "nothing left"))
    cpu_pct = statistics.median(idle)
    figure(f"idle_cpu_{n}", f"{spread(idle, '{:.3f}')} % of one core for {len(watcher_pids)} watchers "
           f"({len(idle)} windows of {window:g} s)", f"their idle runtimes {spread(idle_rt, '{:.3f}')} %",
           f"{cpu_pct / 1.0:.3f} of target", verdict(cpu_pct < 1.0, "< 1 %"))
    return {"up": t_up / n, "status": t_status / n, "down": t_down / n, "idle": cpu_pct / 100 / n}


def bench_memory(watcher_pids: list[int]) -> None:
    """RSS and USS of the idle watchers against PAIRS bare sleeping interpreters (paired in order)."""
    bare = [popen([PY, "-c", "import time; time.sleep(600)"]) for _ in range(PAIRS)]
    try:
        time.sleep(1.0)
        bm = [psutil.Process(p.pid).memory_full_info() for p in bare]
    finally:
        for p in bare:
            p.kill()
            p.wait()
    rss, uss = [], []
    for pid in watcher_pids:
        try:
            m = psutil.Process(pid).memory_full_info()
            rss.append(m.rss / 2**20)
            uss.append(m.uss / 2**20)
        except psutil.Error:
            pass
    b_rss = [m.rss / 2**20 for m in bm]
    pr = Paired(rss[:PAIRS], b_rss[: len(rss[:PAIRS])])  # watcher i against bare interpreter i
    mr, mb = statistics.median(rss), statistics.median(b_rss)
    figure("idle_memory", f"RSS {spread(rss, '{:.1f}')} MiB, USS {spread(uss, '{:.1f}')} MiB per watcher "
           f"(over {len(rss)} watchers)", f"bare python RSS {spread(b_rss, '{:.1f}')} MiB, USS "
           f"{statistics.median(m.uss for m in bm) / 2**20:.1f} MiB", ratio_text(pr),
           verdict(mr <= mb + 10, f"RSS <= bare + 10 MiB = {mb + 10:.1f} MiB"))


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


# -- 5. store contention ------------------------------------------------------------------------------
def run_writers(tmp: Path, name: str, n: int, duration: float) -> tuple[dict[str, int], int, float]:
    d = tmp / name
    d.mkdir()
    mailbox = d / "mailbox.db"
    Store(mailbox).conn()  # schema once, as `teamctl up` does before the watchers start
    go = d / "go"
    procs = [popen([PY, str(BENCH / "store_worker.py"), str(mailbox), str(go), str(i), str(duration)],
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=bench_env()) for i in range(n)]
    for p in procs:
        assert p.stdout is not None
        if p.stdout.readline().strip() != b"ready":
            raise RuntimeError(f"store worker failed: {p.stderr.read().decode()[-500:] if p.stderr else ''}")
    go.write_text(repr(time.time() + 0.05))
    totals = {"attempted": 0, "ok": 0, "spooled": 0, "errors": 0, "unreplayed": 0}
    for p in procs:
        out, err = p.communicate(timeout=duration + 120)
        if p.returncode != 0:
            totals["errors"] += 1
            note(f"store worker exited {p.returncode}: {err.decode()[-300:]}")
            continue
        r = json.loads(out.decode().strip().splitlines()[-1])
        for k in ("attempted", "ok", "spooled", "errors"):
            totals[k] += r[k]
        totals["unreplayed"] += not r["replayed"]
    conn = sqlite3.connect(mailbox)
    rows = sum(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("rate_limits", "budget"))
    conn.close()
    return totals, rows, duration


def bench_store(tmp: Path, quick: bool) -> None:
    n = 50
    duration = 1.0 if quick else 3.0
    pairs = 1 if quick else PAIRS
    totals = {"lost": 0, "errors": 0, "spooled": 0, "rows": 0}
    runs = iter(range(1000))

    def many() -> float:
        tot, rows, d = run_writers(tmp, f"store50-{next(runs)}", n, duration)
        totals["lost"] += tot["attempted"] - rows
        totals["errors"] += tot["errors"]
        totals["spooled"] += tot["spooled"]
        totals["rows"] += rows
        return rows / d

    def alone() -> float:
        _, rows, d = run_writers(tmp, f"store1-{next(runs)}", 1, duration)
        return rows / d

    pr = interleave(many, alone, pairs)
    figure("store_contention", f"{spread(pr.a, '{:.0f}')} rows/s from {n} processes, {pairs} runs of {duration:.0f} s, "
           f"{totals['rows']} rows, lost {totals['lost']}, errors {totals['errors']}, spooled {totals['spooled']}",
           f"1 process alone {spread(pr.b, '{:.0f}')} rows/s", ratio_text(pr) + (" (quick: 1 pair)" if quick else ""),
           verdict(totals["lost"] == 0 and totals["errors"] == 0, "0 lost, 0 errors"))


# -- 6. start-up --------------------------------------------------------------------------------------
def bench_startup(tmp: Path, quick: bool) -> None:
    reps = PAIRS if quick else 10
    root = tmp / "startup"
    (root / "runtimes").mkdir(parents=True)
    shutil.copy(FAKES / "runtimes" / "fake.toml", root / "runtimes" / "fake.toml")
    env = bench_env()
    argv = [PY, "-m", "teamctl_supervisor", "rl-watch", "bench:start", "--runtime", "fake", "--root", str(root),
            "--restart", "never", "--", "true"]

    def watch() -> float:
        dt, res = timed(argv, env=env, cwd=root)
        if res.returncode != 0:
            raise RuntimeError(f"rl-watch -- true exited {res.returncode}: {res.stderr.decode()[-400:]}")
        return dt * 1000

    pr = interleave(watch, lambda: timed([PY, "-c", "pass"], env=env)[0] * 1000, reps)
    figure("startup", f"{spread(pr.a, '{:.0f}')} ms rl-watch import+spawn+exit",
           f"`python -c pass` {spread(pr.b, '{:.0f}')} ms", ratio_text(pr, "{:.1f}"))


# -- main ----------------------------------------------------------------------------------------------
def _parts_that_import_this_module() -> dict[str, Callable[[Path, bool], None]]:
    """pane.py, realpace.py and relay_split.py take their helpers from this module, so they load after it."""
    import pane
    import realpace
    import relay_split

    return {"pane": pane.bench_pane, "realpace": realpace.bench_realpace, "relay_split": relay_split.bench_relay_split}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="tiny sizes (about 20 s), for the smoke test")
    ap.add_argument("--only", help="comma list of: relay, latency, team, store, startup, pane, realpace, relay_split")
    args = ap.parse_args()
    parts = {"relay": bench_relay, "latency": bench_latency, "team": bench_team, "store": bench_store,
             "startup": bench_startup, **_parts_that_import_this_module()}
    chosen = args.only.split(",") if args.only else list(parts)
    failed = 0
    t_all = time.perf_counter()
    # A normal install compiles the package to byte-code; some machines set PYTHONDONTWRITEBYTECODE,
    # which would make every watcher compile its modules again at start. Compile once, as pip would.
    import compileall

    compileall.compile_dir(str(Path(__file__).resolve().parent.parent / "supervisor"), quiet=1)
    old_term = signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))
    with tempfile.TemporaryDirectory(prefix="teamctl-bench-") as tmp:
        try:
            for name in chosen:
                t0 = time.perf_counter()
                try:
                    parts[name](Path(tmp), args.quick)
                except Exception as exc:
                    failed += 1
                    print(f"{name}: FAILED {type(exc).__name__}: {exc}", flush=True)
                note(f"{name} took {time.perf_counter() - t0:.1f}s")
        finally:
            cleanup()
            signal.signal(signal.SIGTERM, old_term)
    note(f"total {time.perf_counter() - t_all:.1f}s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

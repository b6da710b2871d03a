"""AgentWatch: the I/O shell of one agent, the body of `teamctl rl-watch`.

The rules live in core/reactor.py; this shell does what they ask. It spawns the runtime under a
pty, relays every byte to the terminal and the log, scans the bytes, and feeds the reactor what
happened: scanner events, the runtime's exit, ticks, signals (queued by the handlers, handled in
the loop by name), limit-group and budget polls, the ends of waits. The commands it gets back
(record a row, stop the tree, type keys, wait until T, run hooks, change state, respawn) it executes.
"""

from __future__ import annotations

import logging
import os
import select
import signal
import sys
import time
from collections import deque
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import pexpect

from ..core import reactor as r
from ..core.costs import CostLedger
from ..core.policy import CrashPolicy
from ..core.scan import Event, Scanner
from ..core.states import AgentState
from ..store.mailbox import SAME_HIT_SECONDS, Store
from . import procs, ptyio
from .budget import BudgetGuard, Pricer
from .channels import ChannelTailer
from .child import Child
from .hooks import HookRunner, split_chain
from .hookthread import HookQueue
from .logfile import RotatingLog
from .relay import LOG_HOLD, Relay
from .settings import WatchSettings
from .waiting import Clock, SystemClock, WaitEnd, countdown_line, local_clock, wait_until

if TYPE_CHECKING:
    import psutil  # imported where used: an idle watcher never loads it

log = logging.getLogger(__name__)

#: The longest a Wait (or the watcher's exit) waits for queued hooks to finish.
HOOK_DRAIN_SECONDS = 30.0
RECORD_DEDUP_SECONDS = r.RECORD_DEDUP_SECONDS
GROUP_POLL_SECONDS = r.GROUP_POLL_SECONDS


class AgentWatch:
    """One agent's watcher. `run()` returns the exit status for `teamctl rl-watch`."""

    def __init__(self, settings: WatchSettings, *, clock: Clock | None = None, stdin_fd: int = 0,
                 stdout_fd: int = 1) -> None:
        self.s = settings
        self.clock = clock or SystemClock()
        self.stdin_fd = stdin_fd
        self.stdout_fd = stdout_fd
        self.interactive = ptyio.is_tty(stdin_fd)
        self._keys_open = self.interactive  # False once our terminal reports end of input
        ensure_private_dir(settings.state_dir)
        self.store = Store(settings.mailbox, settings.state_dir / "spool", settings.log_name)
        self.output_log = RotatingLog(settings.state_dir / "logs" / f"{settings.log_name}.log",
                                      settings.log_max_bytes, settings.log_backups, hold=LOG_HOLD)
        self.scanner = Scanner(settings.runtime, tz=settings.tz, count_lines=False)
        self.ledger = CostLedger()
        # hooks run on their own thread, with their own mailbox connection for `send` hooks
        self.hooks = HookQueue(self._hook_runner)
        pre, post = split_chain(settings.chain)
        self.group = settings.limit_group or settings.runtime.name
        stall = settings.runtime.stall
        self.reactor = r.Reactor(
            r.Rules(margin=settings.margin, fallback_wait=settings.fallback_wait, max_wait=settings.max_wait,
                    pre_hooks=tuple(pre), post_hooks=tuple(post), give_up_exits=settings.give_up_exits,
                    give_up_window=settings.give_up_window, tz=settings.tz, limit_group=self.group,
                    stall_seconds=stall.seconds, stall_restart=stall.restart),
            CrashPolicy(restart=settings.restart, initial=settings.backoff_initial, cap=settings.backoff_max,
                        stable_after=settings.stable_after, give_up_exits=settings.give_up_exits,
                        give_up_window=settings.give_up_window, quick_uptime=settings.quick_uptime))
        self.child: Child | None = None
        self.child_started: float | None = None
        self._signals: deque[str] = deque()  # queued by the handlers, handled in the loop by name
        self._startup_trimmed = False
        self._row_of: dict[float, float] = {}  # a hit's hit_at -> the hit_at of its row (see _record_hit)
        self._stop_signal: int | None = None
        self._wake_r, self._wake_w = os.pipe()
        self.pricer = Pricer(settings.prices)
        self.budget = BudgetGuard(settings.caps, self.store, settings.project_id, settings.agent_id,
                                  settings.runtime.name, self.hooks.submit, self._notice, self._tell_capped)
        self.channels = ChannelTailer(settings, self.store, lambda: self.child_started)

    # -- lifecycle -----------------------------------------------------------------------------
    def run(self) -> int:
        saved = self._install_signals()
        # a group-mate's hit on another host (PostgreSQL mailbox): check the group now, as a local poke does
        self.store.listen_for_group(self.group, lambda: os.kill(os.getpid(), signal.SIGUSR2))
        _become_subreaper()
        try:
            with ptyio.raw_mode(self.stdin_fd, self.interactive):
                try:
                    return self._loop()
                finally:
                    self._cleanup()
        finally:
            for sig, handler in saved.items():
                signal.signal(sig, handler)

    def _loop(self) -> int:
        """Execute the reactor's commands until it says Exit: sessions and waits in between."""
        pending: deque[r.Command] = deque(self.reactor.start(self._now()))
        while True:
            cmd = pending.popleft()
            if isinstance(cmd, r.Exit):
                return cmd.code
            if isinstance(cmd, r.Spawn):
                pending.extend(self._session(cmd.resume))
            elif isinstance(cmd, r.Wait):
                self._drain_hooks()  # the wait follows what precedes it in the chain
                end = self._wait(cmd.state, cmd.deadline, cmd.label, cmd.detail)
                pending.extend(self.reactor.waited(cmd.kind, end, self._now()))
            else:
                pending.extend(self._do(cmd))

    def _now(self) -> r.Now:
        return r.Now(self.clock.wall(), self.clock.mono())

    # -- one runtime session ---------------------------------------------------------------------
    def _session(self, resume: bool) -> list[r.Command]:
        """Spawn the runtime, relay it until it ends; what the reactor says after its exit."""
        self.change_state(AgentState.STARTING)
        try:
            child = self._spawn(resume)
        except (pexpect.ExceptionPexpect, OSError) as exc:
            return self.reactor.spawn_failed(self._now(), f"{self.s.argv[0]!r}: {exc}")
        self.child = child
        self.child_started = _create_time(child.pid)
        if not self._startup_trimmed:  # once: a respawn leaves no start-up heap behind
            self._startup_trimmed = True
            _give_back_startup_memory()
        try:
            self._execute(self.reactor.spawned(self._now(), resume))
            self._relay(child)
            code = self._exit_code(child)
        finally:
            self._end_child(child)
            self.child = None
        return self.reactor.exited(self._now(), code)

    def _spawn(self, resume: bool) -> Child:
        argv = list(self.s.argv)
        if resume:
            argv += self.s.runtime.launch.resume_argv(argv)
        argv += self.channels.launch_args(argv)
        size = ptyio.window_size(self.stdin_fd) or ptyio.window_size(self.stdout_fd) \
            if self.interactive else None
        rows, cols = size or ptyio.DETACHED_SIZE
        env = dict(self.s.env)
        env.setdefault("TERM", "xterm-256color")
        env[procs.TAG_AGENT] = self.s.agent_id
        env[procs.TAG_STATE] = str(self.s.state_dir)
        child = Child(argv, str(self.s.cwd), env, rows, cols)
        self.scanner.new_session()
        self.ledger.new_session(resumed=resume)
        return child

    def _relay(self, child: Child) -> None:
        """The session's loop: read, relay, scan, tell the reactor; until the runtime is gone."""
        relay = Relay(self, child)
        while not relay.eof:
            ready = relay.select()
            events = relay.pump(ready)
            if self.stdin_fd in ready and self._keys_open:
                self._forward_keys(child)
            if self._wake_r in ready:
                self._drain_wake()
            events += relay.scan_due()
            if events or relay.eof:
                self.output_log.flush()  # what the runtime said before a limit or its exit is logged first
            if not relay.report_due(ready, events):
                continue  # a flood in mid-stream: the reactor hears of it in REPORT_SECONDS
            now = self._now()
            self._execute(self.reactor.output(now, events, relay.took_content(), relay.took_output()))
            self._handle_signals(child)
            self._execute(self.reactor.tick(self._now()))
            relay.maintain()

    def _forward_keys(self, child: Child) -> None:
        keys = ptyio.read_chunk(self.stdin_fd)
        if keys is None:
            self._keys_open = False  # a closed terminal must not make select spin
        elif keys:
            ptyio.write_all(child.fd, keys)

    def _handle_signals(self, child: Child) -> None:
        """Signals queued by the handlers, acted on here, in order, by name."""
        while self._signals:
            name = self._signals.popleft()
            if name == "winch":
                size = ptyio.window_size(self.stdin_fd)
                if size:
                    child.setwinsize(*size)
                self._execute(self.reactor.resized(self._now()))
            elif name == "wake":
                self._execute(self.reactor.wake(self._now()))
            elif name == "group":
                self._execute(self.reactor.poke(self._now()))
        if self._stop_signal is not None and self.child is not None and not getattr(self, "_stopping", False):
            self._stopping = True
            self._execute(self.reactor.stop_signal(self._stop_signal))

    # -- executing commands ----------------------------------------------------------------------
    def _execute(self, commands: Iterable[r.Command]) -> None:
        """Commands inside a session (never a Spawn, Wait or Exit there)."""
        pending = deque(commands)
        while pending:
            pending.extend(self._do(pending.popleft()))

    def _do(self, cmd: r.Command) -> list[r.Command]:
        """Execute one command; a poll's answer comes back as more commands."""
        if isinstance(cmd, r.RecordHit):
            self._record_hit(cmd.hit, cmd.until, cmd.replaces_record)
        elif isinstance(cmd, r.RecordCost):
            self._record_cost(cmd.event)
        elif isinstance(cmd, r.CheckLimits):
            if self.store.has_backlog():
                self.store.replay_spool()
            group = self._group_deadline() if cmd.group else None
            return self.reactor.limits(self._now(), group, self.budget.check(self.clock.wall()))
        elif isinstance(cmd, r.SendKeys):
            if self.child is not None:
                ptyio.write_all(self.child.fd, cmd.keys.encode())
        elif isinstance(cmd, r.Stop):
            if self.child is not None and self.child.alive():
                self._stop_child(self.child)
        elif isinstance(cmd, r.SetState):
            self.change_state(cmd.state, until=cmd.until, detail=cmd.detail)
        elif isinstance(cmd, r.Notice):
            self._notice(cmd.text)
        elif isinstance(cmd, r.Log):
            log.log(logging.WARNING if cmd.level == "warning" else logging.INFO, "%s", cmd.text)
        elif isinstance(cmd, r.RunHooks):
            self.hooks.submit(cmd.names, self._hook_values(cmd.hit))
        elif isinstance(cmd, r.MarkHandled):
            self.store.mark_handled(self.s.agent_id, self._row_of.get(cmd.hit.hit_at, cmd.hit.hit_at),
                                    self.clock.wall())
        elif isinstance(cmd, r.PokeGroup):
            _poke_watchers(self.store.group_watchers(self.group, exclude=self.s.agent_id))
        elif isinstance(cmd, r.BudgetWoken):
            self.budget.woken(self.clock.wall())
        else:  # pragma: no cover - a command the shell does not know is a bug
            raise AssertionError(f"unexpected command {cmd!r}")
        return []

    # -- hits, cost, groups ------------------------------------------------------------------------
    def _record_hit(self, hit: r.Hit, until: float, replaces_record: bool = False) -> None:
        """One row per limit. `replaces_record`: the record-only row of this limit becomes this hit's.
        A row the CLI's own StopFailure hook (`teamctl rl-hit`) wrote moments before is this hit's
        too: the structured report wins, the screen's copy adds no second row."""
        event = hit.event
        key, update = self._row_of.get(hit.hit_at, hit.hit_at), replaces_record
        if not update:
            mine = set(self._row_of.values())
            earlier = [row["hit_at"] for row in self.store.safe_query(
                "SELECT hit_at FROM rate_limits WHERE agent_id=? AND hit_at>=? AND handled_at IS NULL",
                (self.s.agent_id, hit.hit_at - SAME_HIT_SECONDS)) if row["hit_at"] not in mine]
            if earlier:
                key, update = max(earlier), True
        self._row_of[hit.hit_at] = key
        self.store.record_hit(self.s.agent_id, self.s.runtime.name, key, hit.resets_at, event.raw,
                              self.group, event.model, event.action.value if event.action else "stop", until,
                              update=update)
        log.info("rate limit hit (%s, %s): resets %s: %r", event.signature, event.action,
                 local_clock(hit.resets_at, self.s.tz) if hit.resets_at else "unknown", event.raw[:300])

    def _hook_values(self, hit: r.Hit) -> dict[str, object]:
        return {
            "agent": self.s.agent_id, "project": self.s.project_id, "runtime": self.s.runtime.name,
            "hit_at": hit.hit_at, "resets_at": hit.resets_at,
            "resets_at_local": local_clock(hit.resets_at, self.s.tz) if hit.resets_at else "unknown",
            "raw_match": hit.event.raw,
        }

    def _drain_hooks(self) -> None:
        """Let queued hooks finish (bounded), without holding up a stop signal."""
        deadline = time.monotonic() + HOOK_DRAIN_SECONDS
        while self._stop_signal is None and time.monotonic() < deadline:
            if self.hooks.drain(0.2):
                return

    def _hook_runner(self) -> HookRunner:
        """The hook thread's runner; its `send` hooks write through a mailbox connection of its own."""
        store = Store(self.s.mailbox, self.s.state_dir / "spool", f"{self.s.log_name}.hooks")

        def send(recipient: str, text: str) -> None:
            store.send_message(self.s.project_id, "cli", recipient, text, self.clock.wall())

        return HookRunner(self.s.hooks, send=send, env=self.s.env)

    def _group_deadline(self) -> float | None:
        """The latest reset (+ margin) of an active limit in our group that covers our model."""
        rows = self.store.active_group_limits(self.group, self.s.model, self.clock.wall())
        if not rows:
            return None
        return min(max(row["until"] for row in rows), self.clock.wall() + self.s.max_wait)

    def _record_cost(self, event: Event) -> None:
        spend = self.ledger.observe(event)
        if spend is None:
            return
        usd = self.pricer.usd(spend, event.model or self.s.model)
        self.store.record_budget(self.s.project_id, self.s.agent_id, self.s.runtime.name, usd,
                                 spend.input_tok, spend.output_tok, self.clock.wall())

    def _tell_capped(self, team_wide: bool) -> None:
        """A cap was reached: the other watchers of the project (or the team) check theirs now."""
        _poke_watchers(self.store.live_watchers(None if team_wide else self.s.project_id, self.s.agent_id))

    # -- waiting -------------------------------------------------------------------------------
    def _wait(self, state: AgentState, deadline: float, label: str, detail: str | None = None) -> WaitEnd:
        self.change_state(state, until=deadline, detail=detail)
        self._notice(countdown_line(label, deadline, deadline - self.clock.wall(), self.s.tz))
        last = [0.0]

        def tick(remaining: float) -> None:
            if self.interactive and self.clock.mono() - last[0] >= 1.0:
                last[0] = self.clock.mono()
                line = countdown_line(label, deadline, remaining, self.s.tz)
                ptyio.write_all(self.stdout_fd, f"\r\x1b[2K[teamctl] {line}".encode())

        # A detached watcher has no countdown to draw: it re-reads the wall clock every 5 s instead of 1 s.
        result = wait_until(deadline, self.clock, self._pause, tick, step=1.0 if self.interactive else 5.0)
        if self.interactive:
            ptyio.write_all(self.stdout_fd, b"\r\x1b[2K")
        return result.end

    def _pause(self, seconds: float) -> WaitEnd | None:
        watch = [self._wake_r] + ([self.stdin_fd] if self._keys_open else [])
        try:
            ready, _, _ = select.select(watch, [], [], seconds)
        except InterruptedError:
            ready = []
        if self._wake_r in ready:
            self._drain_wake()
        if self.stdin_fd in ready:
            keys = ptyio.read_chunk(self.stdin_fd)
            if keys is None:
                self._keys_open = False
            elif b"\x03" in keys:  # Ctrl-C while waiting (raw mode: no SIGINT from the terminal)
                self._stop_signal = signal.SIGINT
        if self._stop_signal is not None:
            self.reactor.stop_signal(self._stop_signal)
            return WaitEnd.STOP
        if "wake" in self._signals:
            self._signals.clear()
            return WaitEnd.WAKE
        return None

    # -- state and output ------------------------------------------------------------------------
    def change_state(self, state: AgentState, *, until: float | None = None, detail: str | None = None) -> None:
        """The one transition point: the state row, and a log line."""
        child = self.child
        self.store.set_state(
            self.s.agent_id, self.s.runtime.name, state.value, until=until, detail=detail,
            watcher_pid=os.getpid(), pid=child.pid if child is not None and state is not AgentState.STOPPED else None,
            started_at=self.child_started, restarts=self.reactor.restarts, last_exit=self.reactor.last_exit,
            limit_group=self.group, model=self.s.model, now=self.clock.wall())
        log.info("state %s%s%s", state.value, f" until {local_clock(until, self.s.tz)}" if until else "",
                 f" ({detail})" if detail else "")

    def _notice(self, text: str) -> None:
        log.info("%s", text)
        ptyio.write_all(self.stdout_fd, f"\r\n[teamctl] {text}\r\n".encode())

    # -- processes -----------------------------------------------------------------------------
    def _stop_child(self, child: Child) -> None:
        self.change_state(AgentState.STOPPING)
        result = child.stop(self.s.stop_timeout, extra=_our_children(child.pid))
        if result.killed:
            log.warning("runtime tree did not stop within %.0fs; killed", self.s.stop_timeout)

    def _end_child(self, child: Child) -> None:
        """After a session: nothing of it may be left, including orphans re-parented to us."""
        self.output_log.flush()
        leftovers = _our_children(child.pid)
        if child.alive() or leftovers:
            child.stop(self.s.stop_timeout, extra=leftovers)
        _reap_orphans(child.pid)
        child.close()

    def _exit_code(self, child: Child) -> int:
        status = child.wait(self.s.stop_timeout)
        if status is None:
            child.stop(self.s.stop_timeout)
            status = child.status
        return status if status is not None else 1

    def _cleanup(self) -> None:
        if self.child is not None:
            self._end_child(self.child)
        self.hooks.close(0.5 if self._stop_signal is not None else HOOK_DRAIN_SECONDS)
        self.output_log.close()
        self.store.close()

    # -- signals -------------------------------------------------------------------------------
    def _install_signals(self) -> dict[int, object]:
        os.set_blocking(self._wake_w, False)
        os.set_blocking(self._wake_r, False)

        def queue(name: str):
            def handler(signum: int, frame: object) -> None:
                self._signals.append(name)
                _poke(self._wake_w)
            return handler

        def stop(signum: int, frame: object) -> None:
            self._stop_signal = signum
            _poke(self._wake_w)

        handlers = {signal.SIGXFSZ: signal.SIG_IGN,  # a file-size limit must fail a write, not kill us
                    signal.SIGUSR1: queue("wake"), signal.SIGUSR2: queue("group"), signal.SIGWINCH: queue("winch"),
                    signal.SIGCHLD: queue("child"), signal.SIGTERM: stop, signal.SIGINT: stop, signal.SIGHUP: stop}
        return {sig: signal.signal(sig, handler) for sig, handler in handlers.items()}

    def _drain_wake(self) -> None:
        try:
            while os.read(self._wake_r, 512):
                pass
        except (BlockingIOError, OSError):
            pass


def ensure_private_dir(path: Path) -> None:
    """state/ holds the mailbox, logs and spool: readable by its owner only."""
    path.mkdir(parents=True, exist_ok=True)
    try:
        os.chmod(path, 0o700)
    except OSError:
        pass


def _poke(fd: int) -> None:
    try:
        os.write(fd, b"x")
    except OSError:
        pass


def _create_time(pid: int) -> float | None:
    return procs.create_time(pid)


def _become_subreaper() -> None:
    """Orphaned grandchildren of the runtime get re-parented to us, so we can still end them."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


def _give_back_startup_memory() -> None:
    """Start-up (click, compose, descriptors parsed from TOML) leaves freed heap behind; a watcher
    then idles for hours, two hundred of them at once. Hand the free pages back to the system."""
    if not sys.platform.startswith("linux"):
        return
    import gc

    gc.collect()
    try:
        import ctypes

        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _only_child_is(runtime_pid: int) -> bool:
    """Whether the runtime is our one child, read from /proc (each thread's `children` file) without
    importing psutil: the usual end of a session, which then costs no 25 ms import. False where
    /proc cannot tell (psutil looks then)."""
    try:
        tasks = os.listdir("/proc/self/task")
        pids: set[str] = set()
        for task in tasks:
            with open(f"/proc/self/task/{task}/children") as fh:
                pids.update(fh.read().split())
    except OSError:
        return False
    return pids <= {str(runtime_pid)}


def _our_children(runtime_pid: int) -> list[psutil.Process]:
    """Our other children: orphans of the runtime's tree re-parented to this subreaper."""
    if _only_child_is(runtime_pid):
        return []
    import psutil

    try:
        me = psutil.Process()
        return [c for c in me.children(recursive=True) if c.pid != runtime_pid]
    except psutil.Error:
        return []


def _reap_orphans(runtime_pid: int) -> None:
    if _only_child_is(runtime_pid):
        return
    import psutil

    try:
        for child in psutil.Process().children():
            if child.pid != runtime_pid and child.status() == psutil.STATUS_ZOMBIE:
                try:
                    os.waitpid(child.pid, os.WNOHANG)
                except ChildProcessError:
                    pass
    except psutil.Error:
        pass


def _poke_watchers(pids: list[int]) -> None:
    """SIGUSR2 to other watchers (only processes that really are `rl-watch`): check the mailbox now."""
    for pid in pids:
        if pid != os.getpid() and _is_watcher(pid):
            try:
                os.kill(pid, signal.SIGUSR2)
            except OSError:
                pass


def _is_watcher(pid: int) -> bool:
    import psutil

    try:
        return "rl-watch" in " ".join(psutil.Process(pid).cmdline())
    except psutil.Error:
        return False

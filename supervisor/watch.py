"""AgentWatch: the loop of one agent, the body of `teamctl rl-watch`.

Spawn the runtime under a pty, relay every byte to the terminal and the log, scan the bytes, and act
on what the scanner finds: record rate-limit hits at once, stop/wait/respawn or resume at the reset,
answer dialogs, record cost; after a crash, back off; after a crash loop, give up.
"""

from __future__ import annotations

import logging
import os
import select
import signal
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import pexpect

from . import procs, ptyio
from .budget import BudgetGuard, Caps, Price, Pricer
from .child import Child
from .costs import CostLedger
from .hooks import HookLike, HookRunner, split_chain
from .logfile import DEFAULT_BACKUPS, DEFAULT_MAX_BYTES, RotatingLog
from .policy import CrashPolicy, Restart, plan_wait
from .scan import Event, EventKind, Scanner
from .signatures import Action, Runtime
from .states import AgentState
from .store import Store
from .waiting import Clock, SystemClock, WaitEnd, countdown_line, human_duration, local_clock, wait_until

if TYPE_CHECKING:
    import psutil  # imported where used: an idle watcher never loads it

log = logging.getLogger(__name__)

RECORD_DEDUP_SECONDS = 60.0
GROUP_POLL_SECONDS = 30.0
#: A runtime quiet this long has finished its partial line (a prompt, a TUI row): it is scanned.
QUIET_SECONDS = 0.3
#: Output relayed while more is already waiting is scanned in one piece once this much has come,
#: or at once when the runtime pauses: a flood costs one scan per batch, a single line no delay.
SCAN_BATCH = 32 * 1024
#: Output bytes held before one write to the log; held bytes are written once the runtime pauses
#: for LOG_FLUSH_SECONDS, before any event is acted on, and when it exits.
LOG_HOLD = 64 * 1024
LOG_FLUSH_SECONDS = 0.05
#: While output floods in, whether the runtime still lives is checked every this many reads (an
#: exit also wakes the loop through SIGCHLD).
ALIVE_EVERY = 64


@dataclass(frozen=True)
class WatchSettings:
    """Everything one watcher needs, resolved from compose and the command line."""

    agent_id: str
    project_id: str
    runtime: Runtime
    argv: tuple[str, ...]
    cwd: Path
    env: Mapping[str, str]
    tz: ZoneInfo
    mailbox: Path
    state_dir: Path
    margin: float = 60.0
    fallback_wait: float = 1800.0
    max_wait: float = 8 * 86400.0
    restart: Restart = Restart.ALWAYS
    stop_timeout: float = 10.0
    backoff_initial: float = 1.0
    backoff_max: float = 300.0
    stable_after: float = 600.0
    give_up_exits: int = 5
    give_up_window: float = 120.0
    quick_uptime: float = 10.0
    hooks: Mapping[str, HookLike] = field(default_factory=lambda: MappingProxyType({}))
    chain: tuple[str, ...] = ("wait",)
    limit_group: str | None = None
    model: str | None = None
    log_max_bytes: int = DEFAULT_MAX_BYTES
    log_backups: int = DEFAULT_BACKUPS
    caps: Caps = field(default_factory=Caps)
    prices: Mapping[str, Price] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def log_name(self) -> str:
        return self.agent_id.replace(":", "-")


@dataclass
class _Hit:
    """The rate-limit hit that ended (or paused) a runtime session."""

    event: Event
    hit_at: float
    resets_at: float | None


@dataclass
class _Outcome:
    code: int
    hit: _Hit | None = None
    stop_signal: int | None = None
    group_deadline: float | None = None
    budget_until: float | None = None


class AgentWatch:
    """One agent's supervisor. `run()` returns the exit status for `teamctl rl-watch`."""

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
        self.policy = CrashPolicy(
            restart=settings.restart, initial=settings.backoff_initial, cap=settings.backoff_max,
            stable_after=settings.stable_after, give_up_exits=settings.give_up_exits,
            give_up_window=settings.give_up_window, quick_uptime=settings.quick_uptime)
        self.hooks = HookRunner(settings.hooks, send=self._send_message, env=settings.env)
        self.restarts = 0
        self.last_exit: int | None = None
        self.child: Child | None = None
        self.child_started: float | None = None
        self._flags: set[str] = set()
        self._stop_signal: int | None = None
        self._wake_r, self._wake_w = os.pipe()
        self._state = AgentState.STARTING
        self._woken = False
        self.pricer = Pricer(settings.prices)
        self.budget = BudgetGuard(settings.caps, self.store, settings.project_id, settings.agent_id,
                                  settings.runtime.name, self.hooks.run_chain, self._notice, self._tell_capped)
        self._last_record_hit: _Hit | None = None
        self._spawn_mono = 0.0

    # -- lifecycle -----------------------------------------------------------------------------
    def run(self) -> int:
        saved = self._install_signals()
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
        resume_session = False
        while True:
            waited = self._wait_for_group_limit()
            if waited is None:
                waited = self._wait_for_budget()
            if waited is not None:
                return waited
            outcome = self._run_once(resume_session)
            if outcome.stop_signal is not None:
                self.change_state(AgentState.STOPPED, detail=f"signal {outcome.stop_signal}")
                return 128 + outcome.stop_signal
            self.last_exit = outcome.code
            paused = self._pause_for(outcome)
            if paused is not None:
                if paused is WaitEnd.STOP:
                    return self._stopped()
                resume_session = True  # stopped for a limit or a cap: the session goes on
                self.restarts += 1
                continue
            uptime = self.clock.mono() - self._spawn_mono
            decision = self.policy.on_exit(outcome.code, uptime, self.clock.mono())
            if decision.give_up:
                self.change_state(AgentState.FAILED,
                                  detail=f"gave up after {self.s.give_up_exits} quick exits (last {outcome.code})")
                self._notice(f"gave up: {self.s.give_up_exits} exits within {self.s.give_up_window:.0f}s")
                return outcome.code
            if not decision.restart:
                self.change_state(AgentState.STOPPED, detail=f"exited {outcome.code}")
                return outcome.code
            self.restarts += 1
            if decision.delay > 0:
                deadline = self.clock.wall() + decision.delay
                self._notice(f"runtime exited {outcome.code}; backing off ({decision.attempt}) "
                             f"{human_duration(decision.delay)}")
                end = self._wait(AgentState.BACKING_OFF, deadline, "backing off",
                                 detail=f"backing off ({decision.attempt})")
                if end is WaitEnd.STOP:
                    return self._stopped()
            resume_session = False

    def _pause_for(self, outcome: _Outcome) -> WaitEnd | None:
        """The wait a session ended for (its own hit, its group's, a budget cap), or None."""
        if outcome.budget_until is not None:
            return self._wait_budget(outcome.budget_until)
        if outcome.group_deadline is not None:
            return self._wait(AgentState.RATE_LIMITED, outcome.group_deadline, "rate-limited (group)")
        if outcome.hit is not None:
            return self._wait_out_hit(outcome.hit)
        return None

    def _stopped(self) -> int:
        sig = self._stop_signal or signal.SIGTERM
        self.change_state(AgentState.STOPPED, detail=f"signal {sig}")
        return 128 + sig

    # -- one runtime process ---------------------------------------------------------------------
    def _spawn(self, resume: bool) -> Child:
        argv = list(self.s.argv)
        if resume and self.s.runtime.launch.resume_args:
            argv += [a for a in self.s.runtime.launch.resume_args if a not in argv]
        size = ptyio.window_size(self.stdin_fd) or ptyio.window_size(self.stdout_fd) \
            if self.interactive else None
        rows, cols = size or ptyio.DETACHED_SIZE
        env = dict(self.s.env)
        env.setdefault("TERM", "xterm-256color")
        env[procs.TAG_AGENT] = self.s.agent_id
        env[procs.TAG_STATE] = str(self.s.state_dir)
        child = Child(argv, str(self.s.cwd), env, rows, cols)
        self.scanner.new_session()
        self.ledger.new_session()
        return child

    def _run_once(self, resume: bool) -> _Outcome:
        self.change_state(AgentState.STARTING)
        self._spawn_mono = self.clock.mono()
        try:
            child = self._spawn(resume)
        except (pexpect.ExceptionPexpect, OSError) as exc:
            self._notice(f"cannot start {self.s.argv[0]!r}: {exc}")
            return _Outcome(127)
        self.child = child
        self.child_started = _create_time(child.pid)
        self.change_state(AgentState.RUNNING)
        try:
            return self._relay(child)
        finally:
            self._end_child(child)
            self.child = None

    def _relay(self, child: Child) -> _Outcome:
        fd = child.fd
        session_hit: _Hit | None = None
        resume_deadline: float | None = None
        last_record = -1e18
        next_group_poll = self.clock.mono() + GROUP_POLL_SECONDS
        reads = 0
        last_output = time.monotonic()  # real pty quiet, whatever clock the waits run on
        out_log = self.output_log
        watch: list[int] = []
        unscanned: list[bytes] = []  # relayed, not yet scanned: a flood is scanned in batches
        unscanned_size = 0

        def scan_unscanned() -> list[Event]:
            nonlocal unscanned_size
            if not unscanned:
                return []
            data = unscanned[0] if len(unscanned) == 1 else b"".join(unscanned)
            unscanned.clear()
            unscanned_size = 0
            return self.scanner.feed(data)

        while True:
            if len(watch) != 2 + self._keys_open:
                watch = [fd, self._wake_r] + ([self.stdin_fd] if self._keys_open else [])
            timeout = GROUP_POLL_SECONDS
            if self.scanner.has_pending():
                timeout = max(last_output + QUIET_SECONDS - time.monotonic(), 0.0)
            if out_log.held:
                timeout = min(timeout, LOG_FLUSH_SECONDS)
            if resume_deadline is not None:
                timeout = min(timeout, max(resume_deadline - self.clock.wall(), 0.0), 1.0)
            if unscanned:
                timeout = 0.0  # more output already waiting joins the batch; else scan it now
            try:
                ready, _, _ = select.select(watch, [], [], timeout)
            except InterruptedError:
                ready = []
            events: list[Event] = []
            eof = False
            output = fd in ready
            if output:
                last_output = time.monotonic()
                data = ptyio.read_chunk(fd)
                if data is None:
                    eof = True
                elif data:
                    ptyio.write_all(self.stdout_fd, data)
                    out_log.write(data)
                    unscanned.append(data)
                    unscanned_size += len(data)
                    if unscanned_size >= SCAN_BATCH:
                        events = scan_unscanned()
            elif out_log.held:
                out_log.flush()  # the runtime paused: the log catches up
            if unscanned and (not output or eof):
                events += scan_unscanned()
            if self.stdin_fd in ready and self._keys_open:
                keys = ptyio.read_chunk(self.stdin_fd)
                if keys is None:
                    self._keys_open = False  # a closed terminal must not make select spin
                elif keys:
                    ptyio.write_all(fd, keys)
            if self._wake_r in ready:
                self._drain_wake()
            if not output and self.scanner.has_pending() and time.monotonic() - last_output >= QUIET_SECONDS:
                events += self.scanner.flush()
            reads += 1
            if not eof and (not output or reads % ALIVE_EVERY == 0) and not child.alive():
                events += scan_unscanned()
                events += self._drain(fd)
                eof = True
            if eof:
                events += self.scanner.finish()
            if events or eof:
                out_log.flush()  # what the runtime said before a limit or its exit is in the log first
            for event in events:
                if event.kind is EventKind.RATE_LIMIT:
                    if event.action is Action.RECORD:
                        if self.clock.mono() - last_record >= RECORD_DEDUP_SECONDS:
                            last_record = self.clock.mono()
                            self._last_record_hit = self._record_hit(event)
                        continue
                    if session_hit is not None:
                        continue  # one hit per runtime session; a TUI redraws the same message
                    session_hit = self._record_hit(event)
                    pre, _ = split_chain(self.s.chain)
                    self.hooks.run_chain(pre, self._hook_values(session_hit))
                    self._signal_group()
                    if event.action is Action.STOP:
                        self._notice(f"rate limit: {event.raw[:200]}")
                        self._stop_child(child)
                        return _Outcome(self._exit_code(child), hit=session_hit)
                    plan = self._plan(session_hit)
                    resume_deadline = plan
                    self.change_state(AgentState.RATE_LIMITED, until=plan, detail="resume at reset")
                    self._notice(f"rate limit (session kept): resuming at {local_clock(plan, self.s.tz)}")
                elif event.kind is EventKind.COST:
                    self._record_cost(event)
                    until = self._budget_cap()
                    if until is not None:
                        self._stop_child(child)
                        return _Outcome(self._exit_code(child), budget_until=until)
                elif event.kind is EventKind.DIALOG:
                    log.info("dialog %s answered: %r", event.signature, event.raw[:120])
                    ptyio.write_all(fd, event.send.encode())
            if "winch" in self._flags:
                self._flags.discard("winch")
                size = ptyio.window_size(self.stdin_fd)
                if size:
                    child.setwinsize(*size)
            if self._stop_signal is not None:
                self._stop_child(child)
                return _Outcome(self._exit_code(child), stop_signal=self._stop_signal)
            if resume_deadline is not None and session_hit is not None and (
                    self.clock.wall() >= resume_deadline or "wake" in self._flags):
                self._flags.discard("wake")
                ptyio.write_all(fd, session_hit.event.resume_keys.encode())
                self._finish_hit(session_hit)
                self.change_state(AgentState.RUNNING)
                self._notice("limit reset: resumed the session")
                session_hit, resume_deadline = None, None
            self._flags.discard("wake")
            periodic = (not output or reads % ALIVE_EVERY == 0) and self.clock.mono() >= next_group_poll
            if periodic and self.store.has_backlog():
                self.store.replay_spool()
            group_check = "group" in self._flags or periodic
            if group_check and session_hit is None:
                self._flags.discard("group")
                next_group_poll = self.clock.mono() + GROUP_POLL_SECONDS
                until = self._budget_cap()
                if until is not None:
                    self._stop_child(child)
                    return _Outcome(self._exit_code(child), budget_until=until)
                deadline = self._group_deadline()
                if deadline is not None:
                    self._notice(f"limit group {self.s.limit_group} is rate-limited; pausing")
                    self._stop_child(child)
                    return _Outcome(self._exit_code(child), group_deadline=deadline)
            if eof:
                code = self._exit_code(child)
                if session_hit is not None:
                    return _Outcome(code, hit=session_hit)  # resume fallback: wait, then respawn
                record, self._last_record_hit = self._last_record_hit, None
                if record is not None and code != 0 and record.resets_at and record.resets_at > self.clock.wall():
                    return _Outcome(code, hit=record)
                return _Outcome(code)

    def _drain(self, fd: int) -> list[Event]:
        """The runtime exited: relay what is still in the pty (its last words are often the limit)."""
        events: list[Event] = []
        for _ in range(1000):
            ready, _, _ = select.select([fd], [], [], 0.05)
            if not ready:
                break
            data = ptyio.read_chunk(fd)
            if not data:
                break
            ptyio.write_all(self.stdout_fd, data)
            self.output_log.write(data)
            events += self.scanner.feed(data)
        return events

    # -- hits ----------------------------------------------------------------------------------
    def _hit_from(self, event: Event) -> _Hit:
        return _Hit(event, self.clock.wall(), event.resets_at.timestamp() if event.resets_at else None)

    def _record_hit(self, event: Event) -> _Hit:
        hit = self._hit_from(event)
        self.store.record_rate_limit(self.s.agent_id, self.s.runtime.name, hit.hit_at, hit.resets_at, event.raw)
        until = self._plan(hit, quiet=True)
        self.store.record_limit_scope(self.s.agent_id, hit.hit_at, self.s.limit_group or self.s.runtime.name,
                                      event.model, event.action.value if event.action else "stop", until)
        log.info("rate limit hit (%s, %s): resets %s: %r", event.signature, event.action,
                 event.resets_at.isoformat() if event.resets_at else "unknown", event.raw[:300])
        return hit

    def _plan(self, hit: _Hit, quiet: bool = False) -> float:
        plan = plan_wait(hit.hit_at, hit.resets_at, margin=self.s.margin, fallback=self.s.fallback_wait,
                         max_wait=self.s.max_wait)
        if quiet:
            return plan.deadline
        if plan.capped:
            log.warning("reset %s is more than %.0fs away; capped", hit.resets_at, self.s.max_wait)
            self._notice(f"reset is more than {human_duration(self.s.max_wait)} away: capped")
        if plan.guessed:
            log.info("reset time unknown; waiting the fallback %.0fs", self.s.fallback_wait)
        return plan.deadline

    def _wait_out_hit(self, hit: _Hit) -> WaitEnd:
        deadline = self._plan(hit)
        end = self._wait(AgentState.RATE_LIMITED, deadline, "rate-limited")
        if end is WaitEnd.STOP:
            return end
        self._finish_hit(hit)
        return end

    def _finish_hit(self, hit: _Hit) -> None:
        self.store.mark_handled(self.s.agent_id, hit.hit_at, self.clock.wall())
        _, post = split_chain(self.s.chain)
        self.hooks.run_chain(post, self._hook_values(hit))

    def _hook_values(self, hit: _Hit) -> dict[str, object]:
        return {
            "agent": self.s.agent_id, "project": self.s.project_id, "runtime": self.s.runtime.name,
            "hit_at": hit.hit_at, "resets_at": hit.resets_at,
            "resets_at_local": local_clock(hit.resets_at, self.s.tz) if hit.resets_at else "unknown",
            "raw_match": hit.event.raw,
        }

    def _send_message(self, recipient: str, text: str) -> None:
        self.store.send_message(self.s.project_id, "cli", recipient, text, self.clock.wall())

    # -- limit groups --------------------------------------------------------------------------
    def _group_deadline(self) -> float | None:
        """The latest reset (+ margin) of an active limit in our group that covers our model."""
        group = self.s.limit_group or self.s.runtime.name
        rows = self.store.active_group_limits(group, self.s.model, self.clock.wall())
        if not rows:
            return None
        return min(max(r["until"] for r in rows), self.clock.wall() + self.s.max_wait)

    def _wait_for_group_limit(self) -> int | None:
        """Before a (re)spawn: do not run into a wall that another agent of the group already hit."""
        if self._woken:
            self._woken = False
            return None
        deadline = self._group_deadline()
        if deadline is None:
            return None
        end = self._wait(AgentState.RATE_LIMITED, deadline, "rate-limited (group)")
        return self._stopped() if end is WaitEnd.STOP else None

    def _signal_group(self) -> None:
        """Tell the other watchers of our limit group to check the mailbox now."""
        group = self.s.limit_group or self.s.runtime.name
        _poke_watchers(self.store.group_watchers(group, exclude=self.s.agent_id))

    # -- cost and caps ---------------------------------------------------------------------------
    def _record_cost(self, event: Event) -> None:
        spend = self.ledger.observe(event)
        if spend is None:
            return
        usd = self.pricer.usd(spend, event.model or self.s.model)
        self.store.record_budget(self.s.project_id, self.s.agent_id, self.s.runtime.name, usd,
                                 spend.input_tok, spend.output_tok, self.clock.wall())

    def _budget_cap(self) -> float | None:
        return self.budget.check(self.clock.wall())

    def _tell_capped(self, team_wide: bool) -> None:
        """A cap was reached: the other watchers of the project (or the team) check theirs now."""
        _poke_watchers(self.store.live_watchers(None if team_wide else self.s.project_id, self.s.agent_id))

    def _wait_for_budget(self) -> int | None:
        until = self._budget_cap()
        if until is None:
            return None
        return self._stopped() if self._wait_budget(until) is WaitEnd.STOP else None

    def _wait_budget(self, until: float) -> WaitEnd:
        end = self._wait(AgentState.PAUSED_BUDGET, until, "paused (budget)")
        if end is WaitEnd.WAKE:
            self.budget.woken(self.clock.wall())
        return end

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
        if result.end is WaitEnd.WAKE:
            self._woken = True
            self._notice("woken early")
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
            return WaitEnd.STOP
        if "wake" in self._flags:
            self._flags.discard("wake")
            return WaitEnd.WAKE
        return None

    # -- state and output ------------------------------------------------------------------------
    def change_state(self, state: AgentState, *, until: float | None = None, detail: str | None = None) -> None:
        """The one transition point: the state row, and a log line."""
        self._state = state
        child = self.child
        self.store.set_state(
            self.s.agent_id, self.s.runtime.name, state.value, until=until, detail=detail,
            watcher_pid=os.getpid(), pid=child.pid if child is not None and state is not AgentState.STOPPED else None,
            started_at=self.child_started, restarts=self.restarts, last_exit=self.last_exit,
            limit_group=self.s.limit_group or self.s.runtime.name, model=self.s.model, now=self.clock.wall())
        log.info("state %s%s%s", state.value, f" until {until:.0f}" if until else "",
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
        self.output_log.close()
        self.store.close()

    # -- signals -------------------------------------------------------------------------------
    def _install_signals(self) -> dict[int, object]:
        os.set_blocking(self._wake_w, False)
        os.set_blocking(self._wake_r, False)

        def flag(name: str):
            def handler(signum: int, frame: object) -> None:
                self._flags.add(name)
                _poke(self._wake_w)
            return handler

        def stop(signum: int, frame: object) -> None:
            self._stop_signal = signum
            _poke(self._wake_w)

        handlers = {signal.SIGXFSZ: signal.SIG_IGN,  # a file-size limit must fail a write, not kill us
                    signal.SIGUSR1: flag("wake"), signal.SIGUSR2: flag("group"), signal.SIGWINCH: flag("winch"),
                    signal.SIGCHLD: flag("child"), signal.SIGTERM: stop, signal.SIGINT: stop, signal.SIGHUP: stop}
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


def _our_children(runtime_pid: int) -> list[psutil.Process]:
    """Our other children: orphans of the runtime's tree re-parented to this subreaper."""
    import psutil

    try:
        me = psutil.Process()
        return [c for c in me.children(recursive=True) if c.pid != runtime_pid]
    except psutil.Error:
        return []


def _reap_orphans(runtime_pid: int) -> None:
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

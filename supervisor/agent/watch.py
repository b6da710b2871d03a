"""AgentWatch: the I/O shell of one agent, the body of `teamctl rl-watch`.

The rules live in core/reactor/; this shell does what they ask. Its loop reads like a table of
contents: wait for I/O or a signal, hand what the pty session read (a Readout) to the reactor,
execute the commands it gives back. Signal handlers only queue a name; the loop dispatches
`handle_<name>` (gunicorn's Arbiter). The stop state lives in the reactor (a stop signal it was
told) and in the queue (one not yet told).
"""

from __future__ import annotations

import logging
import os
import select
import signal
import time
from collections import deque
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import replace

from ..core import reactor as r
from ..core.scan.scanner import Scanner
from ..core.states import AgentState
from ..store import layout
from ..store.journaled import JournaledStore
from ..store.safefs import private_dir
from . import launch, orphans, ptyio
from .budget import BudgetGuard
from .channels.tailer import ChannelTailer
from .child import Child
from .helpers import AgentHooks
from .hooks import split_chain
from .logfile import RotatingLog
from .pty_session import LOG_HOLD
from .ptyspawn import SpawnError
from .records import Records
from .sessions import SessionKeeper
from .settings import WatchSettings
from .start_over import start_over
from .turn_feed import TurnFeed, TurnPty, escalation_settings
from .waiting import Clock, SystemClock, WaitEnd, countdown_line, time_with_zone, wait_until

log = logging.getLogger(__name__)

#: The longest the loop sleeps in a session while the reactor has something due (a resume at the
#: reset, a dialog, a resume to confirm): its ticks need no finer.
TICK_SECONDS = 1.0
#: ... and while nothing is due: a quiet agent wakes this seldom (stall and group clocks run in
#: tens of seconds), so two hundred idle watchers cost well under 1 % of a core. Output, signals
#: and the runtime's exit wake the loop at once whatever this is.
IDLE_TICK_SECONDS = 15.0
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


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
        private_dir(settings.state_dir)
        # writes go to a journal and return at once; a thread commits them (issue 23 item 2)
        self.store = JournaledStore(settings.mailbox, layout.spool_dir(settings.state_dir), settings.log_name)
        self.store.replay_spool()  # events an older version spooled move into the journal
        self.output_log = RotatingLog(layout.output_log(settings.state_dir, settings.log_name),
                                      settings.log_max_bytes, settings.log_backups, hold=LOG_HOLD)
        self.scanner = Scanner(settings.runtime, tz=settings.tz, count_lines=False)
        self.group = settings.limit_group or settings.runtime.name
        self.records = Records(settings, self.store, self.clock, self.group)
        self.hooks = AgentHooks(settings, self.store, self.clock, self.records)
        pre, post = split_chain(settings.chain)
        stall = settings.runtime.stall
        self.reactor = r.Reactor(replace(settings.reactor, tz=settings.tz, pre_hooks=tuple(pre),
                                         post_hooks=tuple(post), limit_group=self.group,
                                         stall_seconds=stall.seconds, stall_restart=stall.restart,
                                         **escalation_settings(settings.runtime)))
        self.child: Child | None = None
        self.child_started: float | None = None
        self._signals: deque[tuple[str, int]] = deque()  # queued by the handlers, handled in the loop by name
        self._startup_trimmed = False
        self._wake_r, self._wake_w = os.pipe()
        self.budget = BudgetGuard(settings.caps, self.store, settings.project_id, settings.agent_id,
                                  settings.runtime.name, self.hooks.submit, self._notice, self._tell_capped)
        self.channels = ChannelTailer(settings, self.store, lambda: self.child_started)
        # the agent's own conversation, resumed by every spawn (issue 22)
        self.sessions = SessionKeeper(settings.runtime, settings.state_dir, settings.log_name, settings.env)
        self.turn_feed = TurnFeed(self.sessions, self.hooks)  # "resumed" on evidence of a model turn

    # -- lifecycle -----------------------------------------------------------------------------
    def run(self) -> int:
        saved = self._install_signals()
        # a group-mate's hit on another host (PostgreSQL mailbox): check the group now, as a local poke does
        self.store.listen_for_group(self.group, lambda: os.kill(os.getpid(), signal.SIGUSR2))
        orphans.become_subreaper()
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
                refused = self.sessions.refuse_auto_resume(self.s.auto_resume, self.s.max_resumes_per_day) \
                    if cmd.resume else None  # compose auto_resume / max_resumes_per_day
                if refused is not None:
                    self._notice(refused)
                    self.change_state(AgentState.STOPPED, detail=refused)
                    self.hooks.event("blocked", refused)
                    return 0
                answer = self._session(cmd.resume)
            elif isinstance(cmd, r.Wait):
                self.hooks.drain(self._stop_requested)  # the wait follows what precedes it in the chain
                end = self._wait(cmd.state, cmd.deadline, cmd.label, cmd.detail)
                answer = self.reactor.waited(cmd.kind, end, self._now())
            else:
                answer = self._do(cmd)
            pending.extendleft(reversed(answer))  # an answer's commands come before the rest

    def _now(self) -> r.Now:
        return r.Now(self.clock.wall(), self.clock.mono())

    # -- one runtime session ---------------------------------------------------------------------
    def _session(self, resume: bool) -> list[r.Command]:
        """Spawn the runtime, relay it until it ends; what the reactor says after its exit."""
        self.change_state(AgentState.STARTING)
        try:
            child = self._spawn(resume)
        except (SpawnError, OSError) as exc:
            return self.reactor.spawn_failed(self._now(), f"{self.s.argv[0]!r}: {exc}")
        self.child = child
        self.child_started = orphans.create_time(child.pid)
        began = time.monotonic()
        try:
            self._execute(self.reactor.spawned(self._now(), resume))
            self._relay(TurnPty(child, self.scanner, self.output_log, self.stdout_fd))
            code = child.exit_code(self.s.stop_timeout)
        finally:
            self.output_log.flush()
            child.finish(self.s.stop_timeout, self.hooks.pids)
            self.child = None
        self.sessions.ended(code, time.monotonic() - began)
        return self.reactor.exited(self._now(), code)

    def _spawn(self, resume: bool) -> Child:
        argv = launch.argv(self.s.runtime, list(self.s.argv), self.sessions.choose(), resume)
        argv += self.channels.launch_args(argv)
        size = ptyio.window_size(self.stdin_fd) or ptyio.window_size(self.stdout_fd) \
            if self.interactive else None
        rows, cols = size or ptyio.DETACHED_SIZE
        env = dict(self.s.env)
        env.setdefault("TERM", "xterm-256color")
        env[orphans.procs.TAG_AGENT] = self.s.agent_id
        env[orphans.procs.TAG_STATE] = str(self.s.state_dir)
        child = Child(argv, str(self.s.cwd), env, rows, cols)
        self.sessions.spawned(child.pid, resumed=resume)
        self.scanner.new_session()
        self.records.ledger.new_session(resumed=resume)
        return child

    def _relay(self, pty: TurnPty) -> None:
        """Wait for I/O or a signal; hand the readout to the reactor; execute; until the output ends."""
        while not pty.eof:
            ready = self._select(pty)
            if not (ready or self._startup_trimmed or self.reactor.busy()):  # first idle tick, not in `up`'s rush
                self._startup_trimmed = True
                start_over()
            if self.stdin_fd in ready and self._keys_open:
                self._forward_keys(pty.child)
            if self._wake_r in ready:
                self._drain_wake()
            readout = pty.read(pty.fd in ready, report=len(ready) > 1 or bool(self._signals))
            if readout is None:
                continue  # a flood in mid-stream: the reactor hears of it within REPORT_SECONDS
            self._execute(self.reactor.readout(self._now(), readout.events, readout.new_content, readout.wrote))
            self._execute(self.turn_feed.turns(self.reactor, self._now(), pty.take(), readout.events))
            self._handle_signals()
            self._execute(self.reactor.tick(self._now()))
            events = self.channels.poll(self.clock.wall(), final=pty.eof)  # they poll at most once a second
            if events:
                self._execute(self.reactor.readout(self._now(), events, False, False))

    def _select(self, pty: TurnPty) -> list[int]:
        watch = [pty.fd, self._wake_r] + ([self.stdin_fd] if self._keys_open else [])
        timeout = min(pty.timeout(), TICK_SECONDS if self.reactor.busy() else IDLE_TICK_SECONDS)
        if self.reactor.answer_due():
            timeout = min(timeout, 0.1)  # a dialog is answered once the screen settles
        if self._signals:
            timeout = 0.0
        try:
            ready, _, _ = select.select(watch, [], [], timeout)
        except InterruptedError:
            ready = []
        return ready

    def _forward_keys(self, child: Child) -> None:
        keys = ptyio.read_chunk(self.stdin_fd)
        if keys is None:
            self._keys_open = False  # a closed terminal must not make select spin
        elif keys:
            ptyio.write_all(child.fd, keys)

    # -- signals: the handlers queue, the loop dispatches handle_<name> ----------------------------
    def _handle_signals(self) -> None:
        while self._signals:
            name, signum = self._signals.popleft()
            getattr(self, f"handle_{name}")(signum)

    def handle_winch(self, signum: int) -> None:
        size = ptyio.window_size(self.stdin_fd)
        if size and self.child is not None:
            self.child.setwinsize(*size)
        self._execute(self.reactor.resized(self._now()))

    def handle_wake(self, signum: int) -> None:
        self._execute(self.reactor.wake(self._now()))

    def handle_group(self, signum: int) -> None:
        self._execute(self.reactor.poke(self._now()))

    def handle_child(self, signum: int) -> None:  # SIGCHLD only wakes the loop: the session sees the exit
        pass

    def handle_stop(self, signum: int) -> None:
        self._execute(self.reactor.stop_signal(signum))

    def _stop_requested(self) -> bool:
        return self.reactor.stopping_for is not None or any(name == "stop" for name, _ in self._signals)

    def _install_signals(self) -> dict[int, object]:
        os.set_blocking(self._wake_w, False)
        os.set_blocking(self._wake_r, False)

        def queue(name: str):
            def handler(signum: int, frame: object) -> None:
                self._signals.append((name, signum))
                _poke(self._wake_w)
            return handler

        handlers = {signal.SIGXFSZ: signal.SIG_IGN,  # a file-size limit must fail a write, not kill us
                    signal.SIGUSR1: queue("wake"), signal.SIGUSR2: queue("group"), signal.SIGWINCH: queue("winch"),
                    signal.SIGCHLD: queue("child"), **{sig: queue("stop") for sig in _STOP_SIGNALS}}
        return {sig: signal.signal(sig, handler) for sig, handler in handlers.items()}

    def _drain_wake(self) -> None:
        with suppress(OSError):  # BlockingIOError: drained
            while os.read(self._wake_r, 512):
                pass

    # -- executing commands ----------------------------------------------------------------------
    def _execute(self, commands: Iterable[r.Command]) -> None:
        """Commands inside a session (never a Spawn, Wait or Exit there); an answer's commands first."""
        pending = deque(commands)
        while pending:
            pending.extendleft(reversed(self._do(pending.popleft())))

    def _do(self, cmd: r.Command) -> list[r.Command]:
        """Execute one command; a query's answer comes back as more commands."""
        if isinstance(cmd, r.FindRows):
            return self.reactor.rows(self._now(), cmd.hit, cmd.until, self.records.unhandled_hits(cmd.since))
        if isinstance(cmd, r.CheckLimits):
            if self.store.has_backlog():
                self.store.replay_spool()
            group = self.records.group_deadline(self.s.reactor.max_wait) if cmd.group else None
            self.hooks.poll_report()
            return self.reactor.limits(self._now(), group, self.budget.check(self.clock.wall()))
        if isinstance(cmd, r.RecordHit):
            self.records.record_hit(cmd)
        elif isinstance(cmd, r.RecordCost):
            self.records.record_cost(cmd.event)
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
            self.hooks.submit(cmd.names, self.records.hook_values(cmd.hit))
        elif isinstance(cmd, r.MarkHandled):
            self.records.mark_handled(cmd)
        elif isinstance(cmd, r.PokeGroup):
            self.records.poke_group()
        elif isinstance(cmd, r.ArmTurns | r.RunEvent):
            self.turn_feed.do(cmd)
        elif isinstance(cmd, r.BudgetWoken):
            self.budget.woken(self.clock.wall())
        else:  # pragma: no cover - a command the shell does not know is a bug
            raise AssertionError(f"unexpected command {cmd!r}")
        return []

    # -- hooks ---------------------------------------------------------------------------------
    def _tell_capped(self, team_wide: bool) -> None:
        """A cap was reached: the other watchers of the project (or the team) check theirs now."""
        orphans.poke_watchers(self.store.live_watchers(None if team_wide else self.s.project_id, self.s.agent_id))

    # -- waiting -------------------------------------------------------------------------------
    def _wait(self, state: AgentState, deadline: float, label: str, detail: str | None = None) -> WaitEnd:
        self.change_state(state, until=deadline, detail=detail)
        self._notice(countdown_line(label, deadline, deadline - self.clock.wall(), self.s.tz))
        last = [0.0]

        def tick(remaining: float) -> None:
            self.hooks.poll_report()
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
        """One step of a Wait: a stop ends it (told to the reactor, its commands executed), and so
        does a wake; every other queued signal is handled as in a session (the table says what)."""
        watch = [self._wake_r] + ([self.stdin_fd] if self._keys_open else [])
        try:
            ready, _, _ = select.select(watch, [], [], 0.0 if self._signals else seconds)
        except InterruptedError:
            ready = []
        if self._wake_r in ready:
            self._drain_wake()
        if self.stdin_fd in ready:
            keys = ptyio.read_chunk(self.stdin_fd)
            if keys is None:
                self._keys_open = False
            elif b"\x03" in keys:  # Ctrl-C while waiting (raw mode: no SIGINT from the terminal)
                self._signals.append(("stop", signal.SIGINT))
        end = None
        while self._signals:
            name, signum = self._signals.popleft()
            if name == "stop":
                self._execute(self.reactor.stop_signal(signum))
                return WaitEnd.STOP
            if name == "wake":
                end = WaitEnd.WAKE  # the rest of the queue is still handled
            else:
                getattr(self, f"handle_{name}")(signum)
        return end

    # -- state and output ------------------------------------------------------------------------
    def change_state(self, state: AgentState, *, until: float | None = None, detail: str | None = None) -> None:
        """The one transition point: the state row, and a log line."""
        child = self.child
        self.store.set_state(
            self.s.agent_id, self.s.runtime.name, state.value, until=until, detail=detail,
            watcher_pid=os.getpid(), pid=child.pid if child is not None and state is not AgentState.STOPPED else None,
            started_at=self.child_started, restarts=self.reactor.restarts, last_exit=self.reactor.last_exit,
            limit_group=self.group, model=self.s.model, now=self.clock.wall())
        log.info("state %s%s%s", state.value, f" until {time_with_zone(until, self.s.tz)}" if until else "",
                 f" ({detail})" if detail else "")
        self.hooks.state_changed(state.value, detail)  # hooks for the night (issue 22)

    def _notice(self, text: str) -> None:
        log.info("%s", text)
        ptyio.write_all(self.stdout_fd, f"\r\n[teamctl] {text}\r\n".encode())

    # -- processes -----------------------------------------------------------------------------
    def _stop_child(self, child: Child) -> None:
        self.change_state(AgentState.STOPPING)
        if child.stop_tree(self.s.stop_timeout, self.hooks.pids).killed:
            log.warning("runtime tree did not stop within %.0fs; killed", self.s.stop_timeout)

    def _cleanup(self) -> None:
        if self.child is not None:
            self.output_log.flush()
            self.child.finish(self.s.stop_timeout, self.hooks.pids)
        self.hooks.close(self._stop_requested())
        self.output_log.close()
        self.store.finish()


def _poke(fd: int) -> None:
    with suppress(OSError):
        os.write(fd, b"x")


"""One conversation per agent: the session id each agent's runtime runs under, kept under state/.

The agents of a project share its folder, so "the latest conversation here" (`--continue`,
`resume --last`) is often another agent's. A runtime whose descriptor names sessions
(`launch.session_*`) runs each agent under an id of its own, kept in
state/sessions/<project>-<agent>.json (0600, never through a link): every spawn resumes it while
its file exists, after a crash, a limit, a pause, `restart` or a reboot. Where the CLI picks the id
itself (Codex), it is read from the file the runtime holds open. A session whose file is gone, or
that fails to resume twice in a row without writing a line, is replaced by a fresh one (logged
once); `teamctl restart --fresh` and `up --fresh` forget it.
"""

from __future__ import annotations

import glob
import json
import logging
import os
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path

from ..core.descriptors.loader import Runtime
from ..core.lazy_dataclass import lazy_dataclass
from ..core.placeholders import fill
from ..store.safefs import private_dir, read_nofollow, write_private
from . import session_db, session_files, turns
from .evidence import Turn, TurnWatch

log = logging.getLogger(__name__)

#: A resume that ends in failure this quickly, with the session file unchanged, did not take.
BROKEN_UPTIME = 20.0
#: That many failed resumes in a row: the session is unusable (corrupt), a fresh one starts.
BROKEN_TRIES = 2
CAPTURE_POLL_SECONDS = 0.25
#: How often the session file is read for model turns while the runtime runs.
EVIDENCE_POLL_SECONDS = 1.0
#: Session-file formats whose model rows evidence.model_turn knows.
_TURN_KINDS = ("claude-transcript", "codex-rollout")
#: A file the CLI wrote this long before its start belongs to an earlier run.
START_SLACK = 2.0


@lazy_dataclass(frozen=True)
class SessionChoice:
    """What one spawn does: resume the session `id`, or start it (`id` None: the CLI picks one).
    `home`: the session's folder under state/ (`{session_home}`), made when the descriptor uses it."""

    id: str | None
    resume: bool
    home: str = ""


@lazy_dataclass
class _Record:
    runtime: str
    id: str | None
    created_at: float
    seen: bool = False  # its file was there once: gone later means deleted
    failed_resumes: int = 0
    last_turn_at: float | None = None  # the model's last turn seen (for `status`)
    last_turn_source: str | None = None
    resume_day: str = ""  # automatic resumes counted on this local day (compose max_resumes_per_day)
    resumes_today: int = 0
    capturing_since: float | None = None  # spawned, its CLI's id not learned yet (opencode's database)
    capturing_in: list[str] | None = None  # the databases it learns it from (others there wait for it)


def session_path(state_dir: Path, log_name: str) -> Path:
    return state_dir / "sessions" / f"{log_name}.json"


def last_turn(state_dir: Path, log_name: str) -> float | None:
    """When the agent's model last took a turn, as its watcher saw it (None: not seen, or no session)."""
    try:
        value = json.loads(read_nofollow(session_path(state_dir, log_name))).get("last_turn_at")
    except (OSError, ValueError, AttributeError):
        return None
    return float(value) if isinstance(value, int | float) else None


def session_home(state_dir: Path, log_name: str, session_id: str) -> Path:
    """`{session_home}`: the session's own folder, for a CLI that keeps its history in files we name
    (aider's chat and input history). A new id (`--fresh`, a broken session) is a new, empty folder."""
    return state_dir / "sessions" / log_name / session_id


def forget(state_dir: Path, log_name: str) -> bool:
    """Drop the agent's session (`--fresh`): its next spawn starts a new conversation."""
    try:
        os.unlink(session_path(state_dir, log_name))  # a link planted there is removed, not followed
        return True
    except FileNotFoundError:
        return False


def new_session_id() -> str:
    """A random version-4 UUID as `str(uuid.uuid4())` writes it, without the uuid module (0.4 MiB a watcher)."""
    raw = bytearray(os.urandom(16))
    raw[6], raw[8] = raw[6] & 0x0F | 0x40, raw[8] & 0x3F | 0x80  # version 4, RFC 4122 variant
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def expand(template: str, env: Mapping[str, str], session_id: str, home: str = "") -> str | None:
    """`{VAR}` from the runtime's env, `{session_id}`, `{session_id_prefix}` (its first 8 characters,
    as Gemini CLI names its file) and `{session_home}`; None when one of them is unset or empty."""
    own = {"session_id": session_id, "session_id_prefix": session_id[:8], "session_home": home}
    text = fill(template, lambda name: own[name] if name in own else env.get(name))
    return None if text is None else os.path.expanduser(text)


class SessionKeeper:
    """The agent's session across its spawns. `choose()` before a spawn, `spawned(pid)` after it,
    `ended(code, uptime)` once the runtime is gone."""

    def __init__(self, runtime: Runtime, state_dir: Path, log_name: str, env: Mapping[str, str]) -> None:
        self.runtime, self.state_dir, self.log_name, self.env = runtime, state_dir, log_name, env
        self.keys = runtime.launch.session
        self.path = session_path(state_dir, log_name)
        self._rec: _Record | None = None
        self._choice: SessionChoice | None = None
        self._size: int | None = None
        self._started = 0.0
        self._lock = threading.Lock()
        self._capture: threading.Thread | None = None
        self._stop = threading.Event()
        kind = next((c.kind for c in runtime.channels if c.kind in _TURN_KINDS), None)
        if kind is None and self.keys is not None and (self.keys.files or self.keys.capture_db):  # has a reader
            kind = turns.kind_for(runtime.name)
        self.turns = TurnWatch(kind)  # evidence of model turns in the agent's own session file

    # -- the store -------------------------------------------------------------------------------
    def _load(self) -> _Record | None:
        try:
            data = json.loads(read_nofollow(self.path))
            rec = _Record(**{k: data[k] for k in _Record.__dataclass_fields__ if k in data})
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError) as exc:
            log.warning("session file %s unreadable (%s): starting a fresh session", self.path, exc)
            return None
        return rec if rec.runtime == self.runtime.name else None

    def _save(self, rec: _Record) -> None:
        private_dir(self.path.parent)
        write_private(self.path, json.dumps(asdict(rec)))

    def _new(self) -> _Record:
        assert self.keys is not None
        return _Record(self.runtime.name, new_session_id() if self.keys.start else None, time.time())

    @property
    def session_id(self) -> str | None:
        return self._rec.id if self._rec else None

    # -- the session's file ----------------------------------------------------------------------
    def _home(self, session_id: str | None) -> str:
        assert self.keys is not None
        uses = any("{session_home}" in part for part in (*self.keys.start, *self.keys.resume, *self.keys.files))
        return str(session_home(self.state_dir, self.log_name, session_id)) if uses and session_id else ""

    def _file(self, session_id: str) -> Path | None:
        assert self.keys is not None
        home = self._home(session_id)
        for template in self.keys.files:
            pattern = expand(template, self.env, glob.escape(session_id), glob.escape(home))
            if pattern is None:
                continue
            for hit in sorted(glob.glob(pattern)):
                if os.path.isfile(hit):
                    return Path(hit)
        return None

    def _exists(self, rec: _Record) -> tuple[bool, int | None]:
        if rec.id is None:
            return False, None
        if self.keys and self.keys.capture_db and rec.seen:  # no file: is it still in the CLI's database?
            ids = session_db.new_ids(self._db_patterns(), self.keys.capture_query, 0.0, strict=True)
            return (rec.seen if ids is None else rec.id in ids), None
        if not self.keys or not self.keys.files:
            return rec.seen, None
        path = self._file(rec.id)
        if path is None:
            return False, None
        try:
            return True, path.stat().st_size
        except OSError:
            return True, None

    # -- a spawn ---------------------------------------------------------------------------------
    def choose(self) -> SessionChoice | None:
        """Resume the agent's session if it exists, else start it (a new id when it is gone)."""
        if self.keys is None:
            return None
        with self._lock:
            rec = self._rec or self._load() or self._new()
            if rec.id is None and self.keys.start:
                rec.id = new_session_id()
            exists, self._size = self._exists(rec)
            if exists:
                rec.seen = True
            elif rec.seen:
                log.warning("session %s of %s can no longer be resumed (its file is gone): starting a fresh one",
                            rec.id, self.log_name)
                rec = self._new()
            self._rec = rec
            self._save(rec)
            home = self._home(rec.id)
            if home:
                private_dir(Path(home))
            self._choice = SessionChoice(rec.id, exists, home)
            log.info("session %s: %s", rec.id or "(the CLI picks its id)", "resuming it" if exists else "starting it")
            return self._choice

    def spawned(self, pid: int, resumed: bool = False) -> None:
        """The runtime runs: where it picks the id itself, learn it from the file it holds open.
        `resumed`: it was respawned to go on after a limit or a pause (its first turn is proof)."""
        self._started = time.time()
        rec = self._rec
        if rec is None or self.keys is None:
            self.turns.arm(self._started, None)  # the screen is its only evidence
            return
        if not self.keys.files and rec.id is not None and not rec.seen:
            rec.seen = True  # nothing to look at: a session we started exists from now on
            self._save(rec)
        if rec.id is None and (self.keys.capture_db or self.keys.capture):
            rec.capturing_since, rec.capturing_in = self._started, self._db_patterns() or None  # others there wait
            self._save(rec)
        self.turns.arm(self._started, self._file(rec.id) if rec.id else None)
        self._stop.clear()
        self._capture = threading.Thread(target=self._follow, args=(pid,), daemon=True, name="session")
        self._capture.start()

    def ended(self, code: int, uptime: float) -> None:
        """The runtime is gone: learn a missed id from its files; count a resume that did not take."""
        if self._capture is not None:
            self._stop.set()
            self._capture.join(2.0)
            self._capture = None
        rec, choice = self._rec, self._choice
        if rec is None or self.keys is None:
            return
        with self._lock:
            if rec.id is None and self.keys.capture:
                self._capture_files(rec)
        if rec.id is None and self.keys.capture_db:
            self._capture_db(rec, final=True)
        with self._lock:
            if rec.capturing_since is not None:
                rec.capturing_since = None
                self._save(rec)
        self.poll_turns()  # what a short run wrote after the last poll
        with self._lock:
            if choice is None or not choice.resume or not self.keys.files:
                return  # without a file to look at, a failed exit says nothing of the session
            _, size = self._exists(rec)
            if code != 0 and uptime < BROKEN_UPTIME and size == self._size:
                rec.failed_resumes += 1
                if rec.failed_resumes >= BROKEN_TRIES:
                    log.warning("session %s of %s failed to resume %d times (exit %s): starting a fresh one",
                                rec.id, self.log_name, rec.failed_resumes, code)
                    rec = self._new()
                    self._rec = rec
            else:
                rec.failed_resumes = 0
            self._save(rec)

    # -- learning an id the CLI chose ------------------------------------------------------------
    def _adopt(self, rec: _Record, session_id: str, how: str) -> None:
        rec.id, rec.seen, rec.capturing_since = session_id, True, None
        self._save(rec)
        log.info("session of %s is %s (%s)", self.log_name, session_id, how)

    def _follow(self, pid: int) -> None:
        """While the runtime runs: learn the id it chose, then read its session file for model turns."""
        if self.keys is not None and self.keys.capture and self._rec is not None and self._rec.id is None:
            self._capture_open(pid)
        if self.keys is not None and self.keys.capture_db and self._rec is not None and self._rec.id is None:
            while not self._capture_db(self._rec) and not self._stop.wait(CAPTURE_POLL_SECONDS * 4):
                pass
        while not self._stop.wait(EVIDENCE_POLL_SECONDS):
            self.poll_turns()

    def poll_turns(self, now: float | None = None) -> Turn | None:
        """Read the session file; a first model turn since the spawn is logged (the session works)."""
        rec = self._rec
        kind = self.turns.kind
        if rec is None or rec.id is None or kind is None:
            return None
        before, now, store = self.turns.last, now if now is not None else time.time(), turns.store_reader(kind)
        if store is not None:  # one database holds every session: the newest model row of this one
            proof = self.turns.stamp(now, store(self._db_patterns(), rec.id))
        else:
            proof = self.turns.poll(now, self.turns._file or self._file(rec.id))
        last = self.turns.last
        if last is not None and last is not before:
            with self._lock:
                rec.last_turn_at, rec.last_turn_source = last.at, last.source
                self._save(rec)
        if proof is not None:  # "resumed" is the reactor's to say (agent/turn_feed.py tells it)
            log.info("model turn seen (%s): session %s of %s is working", proof.source, rec.id, self.log_name)
        return proof

    def refuse_auto_resume(self, allowed: bool, per_day: int | None, now: float | None = None) -> str | None:
        """Why an automatic resume (after a limit or a pause) may not happen, or None (then it is
        counted): compose `auto_resume: false`, or `max_resumes_per_day` used up today."""
        if not allowed:
            return "auto_resume is off: the agent waits for `teamctl restart`"
        if per_day is None:
            return None
        now = time.time() if now is None else now
        day = time.strftime("%Y-%m-%d", time.localtime(now))
        with self._lock:
            rec = self._rec or self._load() or _Record(self.runtime.name, None, now)
            self._rec = rec
            if rec.resume_day != day:
                rec.resume_day, rec.resumes_today = day, 0
            if rec.resumes_today >= per_day:
                return f"max_resumes_per_day ({per_day}) reached: the agent waits for `teamctl restart`"
            rec.resumes_today += 1
            self._save(rec)
        return None

    def _capture_open(self, pid: int) -> None:
        import psutil

        assert self.keys is not None
        rx, tick = re.compile(self.keys.capture), 0
        while not self._stop.is_set():
            try:
                top = psutil.Process(pid)
                procs = [top, *top.children(recursive=True)]
            except psutil.Error:
                return
            for proc in procs:
                try:
                    files = proc.open_files()
                except psutil.Error:
                    continue
                for f in files:
                    m = rx.search(f.path)
                    if m:
                        with self._lock:
                            if self._rec is not None and self._rec.id is None:
                                self._adopt(self._rec, m.group("id"), "read from the file it holds open")
                        return
            tick += 1
            with self._lock:  # a CLI that holds its file open only while writing (droid): its files tell
                if tick % 4 == 0 and self._rec is not None and self._rec.id is None and self.keys.files:
                    self._capture_files(self._rec, final=False)
                if self._rec is None or self._rec.id is not None:
                    return
            self._stop.wait(CAPTURE_POLL_SECONDS)

    def _capture_files(self, rec: _Record, final: bool = True) -> None:
        """Its one new session file that no other agent holds: after a run too short to catch, or while
        it runs (`final` False) once it holds a model turn and no other agent may still claim it."""
        assert self.keys is not None
        patterns = [p for t in self.keys.files if (p := expand(t, self.env, "*"))]
        others, pending = self._others()
        since, kind = self._started - START_SLACK, None if final else self.turns.kind
        found = session_files.new_ids(patterns, self.keys.capture, since, others, kind)
        if len(found) > 1 and final and self.turns.kind:  # a TUI's stub sessions: the one with a turn
            found = session_files.new_ids(patterns, self.keys.capture, since, others, self.turns.kind)
        if len(found) == 1 and (final or not pending):
            self._adopt(rec, found.pop(), "its one new session file")
        elif found and final:
            log.warning("session of %s not learned: %d new session files could be its own", self.log_name, len(found))

    def _capture_db(self, rec: _Record, final: bool = False) -> bool:
        """The one session started since the spawn, in the CLI's database, that no other agent holds,
        while no other agent is still learning its own (agents started together could take each other's).
        Otherwise it waits while the CLI runs; at its end the id is not learned (logged): no guess."""
        assert self.keys is not None
        found = session_db.new_ids(self._db_patterns(), self.keys.capture_query, self._started - START_SLACK) or set()
        others, pending = self._others()
        mine, count = session_db.pick(found, others)
        if pending:
            mine, count = None, max(count, pending + 1)
        with self._lock:
            if rec.id is not None:
                return True
            if mine is not None:
                self._adopt(rec, mine, "its one new session in the CLI's database")
                return True
        if final and count:
            log.warning("session of %s not learned: %d new sessions could be its own", self.log_name, count)
        return False

    def _db_patterns(self) -> list[str]:
        return session_db.databases(expand(t, self.env, "*") for t in (self.keys.capture_db if self.keys else ()))

    def _others(self) -> tuple[set[str], int]:  # no database (session files): every agent learning counts
        return session_db.others(self.path, self.runtime.name, time.time(), self._db_patterns() or None)

"""Structured channels beside the screen: this agent's own session files, tailed once a second.

The screen is read as it is drawn and loses figures to rounding and wrapping; a CLI's session file
(Claude Code's transcript, Codex's rollout) has them exactly. A tailer finds the file of the session
its watcher started (by the runtime's cwd and the process's start time, or the path a Stop hook
left under state/channels/, never another agent's), reads what is appended, and turns it into
cost events marked with their `source`, so the cost ledger counts the structured report and not
the screen's copy. Limit windows in the file, and usage lines on the screen (read from the output
log, off the relay's path), become readings in the usage-windows table. A missing, unreadable or
unknown-version file leaves the screen path alone, with one log line.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shlex
import shutil
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ..core.descriptors.loader import Channel
from ..core.scan.scanner import Event, EventKind
from ..core.usage import Reading, read_text, screen_text, window_name
from ..store.mailbox import Store
from ..store.usage import record_window
from .settings import WatchSettings

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0
#: A session file not found this long after the start is reported once (the screen goes on alone).
FIND_GRACE_SECONDS = 30.0
#: Rows this much older than the runtime's start belong to an earlier session (resumed file).
START_SLACK = 2.0
MAX_READ = 4 * 1024 * 1024
MAX_LINE = 8 * 1024 * 1024


@dataclass(frozen=True)
class ChannelEvent(Event):
    """A scanner-like event read from a structured channel; `source` names it (not "screen")."""

    source: str = "structured"


def pointer_file(state_dir: Path, log_name: str) -> Path:
    """Where a Stop hook leaves this agent's transcript path for the tailer."""
    return state_dir / "channels" / f"{log_name}.transcript"


def hook_settings(settings: WatchSettings, channel: Channel, watched: bool = True) -> str:
    """The `--settings` JSON that makes Claude Code run our hook commands for this agent
    (`watched`: its watcher tails the transcript, so the Stop hook only says where it is)."""
    base = [sys.executable, "-m", "teamctl_supervisor"]
    tail = ["--mailbox", str(settings.mailbox), "--agent", settings.agent_id, "--project", settings.project_id,
            "--runtime", settings.runtime.name, "--state-dir", str(settings.state_dir)] + (["--watched"] * watched)
    commands = {"StopFailure": "rl-hit", "Stop": "budget-record"}
    hooks: dict[str, list[dict[str, Any]]] = {}
    (settings.state_dir / "channels").mkdir(parents=True, exist_ok=True, mode=0o700)  # the Stop hook's pointer
    for spec in channel.events:
        event, _, matcher = spec.partition(":")
        if event not in commands:
            continue
        command = shlex.join([*base, commands[event], *tail])
        if event == "StopFailure":
            command = _detached(command)
        entry: dict[str, Any] = {"hooks": [{"type": "command", "command": command}]}
        if matcher:
            entry["matcher"] = matcher
        hooks.setdefault(event, []).append(entry)
    return json.dumps({"hooks": hooks})


def _detached(command: str) -> str:
    """A hook that outlives the CLI: `claude -p` ends right after a StopFailure and kills its
    hooks (seen with 2.1.333: a 0.5 s hook never finished). So the hook's shell at once becomes
    `setsid --fork`, which starts the command in a session of its own and returns: the command
    reads the hook JSON from the pipe it inherits, which keeps what the CLI wrote after the CLI is
    gone. (Saving the JSON to a file first took a mktemp and a cat: under load the CLI killed the
    shell before the cat was done, and the hit was lost.)"""
    if shutil.which("setsid"):
        return f"exec setsid --fork {command} >/dev/null 2>&1"
    return f"({command} <&0 >/dev/null 2>&1 &)"  # an explicit <&0: a background job's stdin is /dev/null


def expand_dir(template: str, env: dict[str, str] | Any) -> Path | None:
    """`{VAR}/sub` with the runtime's env; None when a VAR is unset or empty."""
    missing = False

    def sub(m: re.Match[str]) -> str:
        nonlocal missing
        value = env.get(m.group(1), "")
        missing = missing or not value
        return value

    text = re.sub(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", sub, template)
    return None if missing else Path(text).expanduser()


def claude_slug(cwd: Path) -> str:
    """Claude Code's project folder name: the cwd with every non-alphanumeric as "-"."""
    return re.sub(r"[^A-Za-z0-9]", "-", str(cwd))


class _Lines:
    """New complete lines of one file, from an offset; a partial last line waits for its end."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.rest = b""

    def read(self) -> Iterator[bytes]:
        fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
        try:
            size = os.fstat(fd).st_size
            if size < self.offset:  # replaced or truncated: read it again from the start
                self.offset, self.rest = 0, b""
            os.lseek(fd, self.offset, os.SEEK_SET)
            data = os.read(fd, MAX_READ)
        finally:
            os.close(fd)
        self.offset += len(data)
        data = self.rest + data
        *lines, self.rest = data.split(b"\n")
        if len(self.rest) > MAX_LINE:
            self.rest = b""
        yield from (line for line in lines if line.strip())


class _SessionFile:
    """One channel's file for the current session: find, read, parse; disabled after a problem."""

    def __init__(self, channel: Channel, settings: WatchSettings, started: float, emit: Callable[[Reading], None]):
        self.channel = channel
        self.s = settings
        self.started = started
        self.emit_reading = emit
        self.lines: _Lines | None = None
        self.off = False
        self.root = next((p for t in channel.dirs if (p := expand_dir(t, settings.env)) is not None), None)
        self.cwd = Path(settings.cwd).resolve()

    def say_off(self, why: str) -> None:
        if not self.off:
            log.warning("channel %s: %s; the screen is read alone", self.channel.kind, why)
        self.off = True

    def poll(self, now: float, final: bool = False) -> list[Event]:
        if self.off:
            return []
        if self.lines is None:
            found = self.find()
            if found is None:
                if now - self.started > FIND_GRACE_SECONDS:
                    self.say_off(f"no session file of this agent under {self.root}")
                return []
            log.info("channel %s: reading %s", self.channel.kind, found)
            self.lines = _Lines(found)
        try:
            rows = list(self.lines.read())
        except OSError as exc:
            self.say_off(f"{self.lines.path}: cannot read ({exc.strerror or exc})")
            return []
        events: list[Event] = []
        for raw in rows:
            try:
                row = json.loads(raw)
            except ValueError:
                log.warning("channel %s: %s: a line that is not JSON skipped", self.channel.kind, self.lines.path)
                continue
            if isinstance(row, dict):
                events += self.parse(row)
            if self.off:
                break
        return events

    def candidates(self) -> list[Path]:
        return []

    def find(self) -> Path | None:
        return None

    def parse(self, row: dict[str, Any]) -> list[Event]:
        return []

    def known_version(self, version: object) -> bool:
        if not self.channel.versions:
            return True
        ok = isinstance(version, str) and version.startswith(tuple(self.channel.versions))
        if not ok:
            self.say_off(f"{self.lines.path if self.lines else '?'}: unknown version {version!r}"
                         f" (known: {', '.join(self.channel.versions)})")
        return ok

    def recent(self, path: Path) -> bool:
        try:
            return path.stat().st_mtime >= self.started - START_SLACK and path.is_file() and not path.is_symlink()
        except OSError:
            return False


def _stamp(text: object) -> float | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


class ClaudeTranscript(_SessionFile):
    """<config>/projects/<cwd slug>/<session>.jsonl: each assistant message's exact usage."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.seen: dict[str, tuple[int, int, int]] = {}
        self.version_checked = False

    def find(self) -> Path | None:
        pointer = pointer_file(self.s.state_dir, self.s.log_name)
        try:
            named = Path(pointer.read_text(encoding="utf-8").strip())
            if named.parent.name == claude_slug(self.cwd) and self.recent(named):
                return named
        except OSError:
            pass
        if self.root is None:
            return None
        folder = self.root / claude_slug(self.cwd)
        try:
            found = [p for p in folder.glob("*.jsonl") if self.recent(p)]
        except OSError:
            return None
        return found[0] if len(found) == 1 else None  # several: wait for the Stop hook's pointer

    def parse(self, row: dict[str, Any]) -> list[Event]:
        if row.get("type") != "assistant":
            return []
        if not self.version_checked:
            self.version_checked = True
            if not self.known_version(row.get("version")):
                return []
        ts = _stamp(row.get("timestamp"))
        msg = row.get("message")
        if not isinstance(msg, dict) or (ts is not None and ts < self.started - START_SLACK):
            return []
        usage = msg.get("usage")
        model = msg.get("model")
        if not isinstance(usage, dict) or model == "<synthetic>" or row.get("isApiErrorMessage"):
            return []
        figures = (_int(usage.get("input_tokens")) + _int(usage.get("cache_creation_input_tokens")),
                   _int(usage.get("output_tokens")), _int(usage.get("cache_read_input_tokens")))
        key = str(msg.get("id") or row.get("uuid"))
        before = self.seen.get(key, (0, 0, 0))
        self.seen[key] = tuple(max(a, b) for a, b in zip(before, figures, strict=True))  # type: ignore[assignment]
        inp, out, cached = (max(a - b, 0) for a, b in zip(figures, before, strict=True))
        if not (inp or out or cached):
            return []
        return [ChannelEvent(EventKind.COST, 0, f"transcript {key}", "claude-transcript",
                             model=model if isinstance(model, str) else None, input_tokens=inp,
                             output_tokens=out, cached_tokens=cached, cached_in_input=False,
                             source="claude-transcript")]


class CodexRollout(_SessionFile):
    """CODEX_HOME/sessions/YYYY/MM/DD/rollout-*.jsonl: token totals and the limit windows."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.total = (0, 0, 0)
        self.model: str | None = None
        self.meta_seen = False

    def find(self) -> Path | None:
        if self.root is None:
            return None
        best: tuple[float, Path] | None = None
        day = datetime.fromtimestamp(self.started)
        for d in (day - timedelta(days=1), day, day + timedelta(days=1)):
            folder = self.root / f"{d:%Y}" / f"{d:%m}" / f"{d:%d}"
            try:
                files = [p for p in folder.glob("rollout-*.jsonl") if self.recent(p)]
            except OSError:
                continue
            for path in files:
                meta = _first_row(path)
                payload = meta.get("payload") if meta else None
                if not isinstance(payload, dict) or meta.get("type") != "session_meta":  # type: ignore[union-attr]
                    continue
                try:
                    same = Path(str(payload.get("cwd"))).resolve() == self.cwd
                except OSError:
                    same = False
                began = _stamp(payload.get("timestamp")) or 0.0
                if same and (best is None or began > best[0]):
                    best = (began, path)
        return best[1] if best else None

    def parse(self, row: dict[str, Any]) -> list[Event]:
        kind, payload = row.get("type"), row.get("payload")
        if not isinstance(payload, dict):
            return []
        if kind == "session_meta" and not self.meta_seen:
            self.meta_seen = True
            self.known_version(payload.get("cli_version"))
            return []
        if kind == "turn_context" and isinstance(payload.get("model"), str):
            self.model = payload["model"]
            return []
        if kind != "event_msg" or payload.get("type") != "token_count":
            return []
        ts = _stamp(row.get("timestamp")) or time.time()
        self._windows(payload.get("rate_limits"), ts)
        info = payload.get("info")
        total = info.get("total_token_usage") if isinstance(info, dict) else None
        if not isinstance(total, dict):
            return []
        now = (_int(total.get("input_tokens")), _int(total.get("output_tokens")),
               _int(total.get("cached_input_tokens")))
        before, self.total = self.total, tuple(max(a, b) for a, b in zip(now, self.total, strict=True))  # type: ignore[assignment]
        if ts < self.started - START_SLACK:
            return []  # an earlier session's totals (a resumed rollout): the base, not new spend
        inp, out, cached = (max(a - b, 0) for a, b in zip(now, before, strict=True))
        if not (inp or out):
            return []  # at a limit Codex writes the same totals again
        return [ChannelEvent(EventKind.COST, 0, "rollout token_count", "codex-rollout", model=self.model,
                             input_tokens=inp, output_tokens=out, cached_tokens=cached, cached_in_input=True,
                             source="codex-rollout")]

    def _windows(self, limits: object, ts: float) -> None:
        if not isinstance(limits, dict):
            return
        for key in ("primary", "secondary"):
            w = limits.get(key)
            if not isinstance(w, dict) or not isinstance(w.get("used_percent"), int | float):
                continue
            minutes = w.get("window_minutes") if isinstance(w.get("window_minutes"), int | float) else None
            reset = w.get("resets_at") if isinstance(w.get("resets_at"), int | float) else None
            self.emit_reading(Reading(window_name(key, minutes) if minutes else key, float(w["used_percent"]),
                                      float(reset) if reset else None, ts, "codex-rollout"))


def _first_row(path: Path) -> dict[str, Any] | None:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        try:
            head = os.read(fd, 256 * 1024)
        finally:
            os.close(fd)
        row = json.loads(head.split(b"\n", 1)[0])
    except (OSError, ValueError):
        return None
    return row if isinstance(row, dict) else None


_READERS: dict[str, Any] = {"claude-transcript": ClaudeTranscript, "codex-rollout": CodexRollout}


def _readers() -> dict[str, Any]:
    if "copilot-usage-file" not in _READERS:
        from .copilot_usage import KIND, CopilotUsageFile  # they build on this module
        from .droid_session import KIND as DROID
        from .droid_session import DroidSession

        _READERS[KIND] = CopilotUsageFile
        _READERS[DROID] = DroidSession
    return _READERS


class ChannelTailer:
    """All structured channels of one agent, and its screen's usage lines, polled from the watcher's loop."""

    def __init__(self, settings: WatchSettings, store: Store, started: Callable[[], float | None]) -> None:
        self.s = settings
        self.store = store
        self.started = started
        self._session: float | None = None
        self._files: list[_SessionFile] = []
        self._next = 0.0
        self._store_warned = False
        self._screen = _Lines(settings.state_dir / "logs" / f"{settings.log_name}.log")
        self._skip_old_screen()

    def launch_args(self, argv: list[str]) -> list[str]:
        """The hook channel's launch options (`--settings <json>`), unless the argv has its own."""
        out: list[str] = []
        for ch in self.s.runtime.channels:
            if ch.kind == "copilot-usage-file":
                out += self._usage_file_args(ch, argv)
            if ch.kind != "claude-hooks":
                continue
            flag = next((a for a in ch.option if a != "{settings}"), None)
            if flag and flag in argv:
                log.info("channel claude-hooks: the command line has its own %s; hooks not added", flag)
                continue
            value = hook_settings(self.s, ch)
            out += [value if a == "{settings}" else a for a in ch.option]
        return out

    def _usage_file_args(self, ch: Channel, argv: list[str]) -> list[str]:
        """`--usage-output-file <state/channels/…>` for this run (unless the argv names its own file)."""
        flag = next((a for a in ch.option if a != "{file}"), None)
        if flag and any(a == flag or a.startswith(flag + "=") for a in argv):
            log.info("channel %s: the command line has its own %s; not read", ch.kind, flag)
            return []
        from .copilot_usage import prepare

        path = str(prepare(self.s.state_dir, self.s.log_name))
        return [path if a == "{file}" else a for a in ch.option]

    def poll(self, now: float, final: bool = False) -> list[Event]:
        """At most once a second: the events appended to this session's files since the last poll.
        `final`: the runtime has exited (files written at exit are read now, at once)."""
        mono = time.monotonic()
        if mono < self._next and not final:
            return []
        self._next = mono + POLL_SECONDS
        started = self.started()
        if started is not None and started != self._session:
            self._session = started
            readers = _readers()
            self._files = [readers[c.kind](c, self.s, started, self._record) for c in self.s.runtime.channels
                           if c.kind in readers]
        events: list[Event] = []
        for f in self._files:
            events += f.poll(now, final)
        self._poll_screen(now)
        return events

    def _skip_old_screen(self) -> None:
        try:
            self._screen.offset = self._screen.path.stat().st_size
        except OSError:
            pass

    def _poll_screen(self, now: float) -> None:
        if not self.s.runtime.usage:
            return
        try:
            lines = list(self._screen.read())
        except OSError:
            return  # no output yet
        if not lines:
            return
        for reading in read_text(screen_text(b"\n".join(lines)), self.s.runtime.usage, now, self.s.tz):
            self._record(reading)

    def _record(self, reading: Reading) -> None:
        try:
            record_window(self.store, self.s.runtime.name, self.s.agent_id, reading.window, reading.used,
                          reading.resets_at, reading.seen_at, reading.source)
        except sqlite3.Error as exc:
            if not self._store_warned:
                log.warning("usage window not recorded (%s); later ones may be lost too", exc)
            self._store_warned = True


def transcript_usage(path: Path) -> dict[str, tuple[int, int, int]]:
    """A Claude Code transcript's usage per model: (input with cache writes, output, cache reads),
    each message counted once (its largest figures), synthetic error turns not at all."""
    per_message: dict[str, tuple[str, tuple[int, int, int]]] = {}
    lines = _Lines(path)
    for raw in lines.read():
        try:
            row = json.loads(raw)
        except ValueError:
            continue
        msg = row.get("message") if isinstance(row, dict) and row.get("type") == "assistant" else None
        if not isinstance(msg, dict) or not isinstance(msg.get("usage"), dict) or row.get("isApiErrorMessage"):
            continue
        model, usage = msg.get("model"), msg["usage"]
        if not isinstance(model, str) or model == "<synthetic>":
            continue
        figures = (_int(usage.get("input_tokens")) + _int(usage.get("cache_creation_input_tokens")),
                   _int(usage.get("output_tokens")), _int(usage.get("cache_read_input_tokens")))
        key = str(msg.get("id") or row.get("uuid"))
        old = per_message.get(key, (model, (0, 0, 0)))[1]
        per_message[key] = (model, tuple(max(a, b) for a, b in zip(old, figures, strict=True)))  # type: ignore[assignment]
    out: dict[str, tuple[int, int, int]] = {}
    for model, figures in per_message.values():
        have = out.get(model, (0, 0, 0))
        out[model] = tuple(a + b for a, b in zip(have, figures, strict=True))  # type: ignore[assignment]
    return out

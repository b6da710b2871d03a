"""`teamctl rl-hit` and `teamctl budget-record`: hook commands that write a runtime's own report.

Claude Code runs them from the hooks a watcher gives it with `--settings` (StopFailure matched on
rate_limit, and Stop), with the hook's JSON on stdin. Rows mean what upstream teamctl's rows mean:
a `rate_limits` row for a hit, a `budget` row for spend. The agent and mailbox come from the
options the watcher puts in the command, else from the env it sets for its runtime
(TEAMCTL_AGENT_ID, TEAMCTL_STATE_DIR) or TEAMCTL_ROOT. Under a watcher (`--watched`) the Stop hook
only tells the watcher where the transcript is; the watcher's tailer counts it, so nothing is counted
twice. The hook JSON is untrusted input: bad JSON is an error naming stdin, exit status 2.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import click

from ..core.errors import UsageProblem
from ..store import layout
from ..store.safefs import private_dir

MAX_STDIN = 1024 * 1024


def _options(fn: Any) -> Any:
    for opt in reversed([
        click.option("--mailbox", type=click.Path(dir_okay=False), help="The team's mailbox (SQLite)."),
        click.option("--agent", help="Agent id <project>:<agent> (default: $TEAMCTL_AGENT_ID)."),
        click.option("--project", help="Project id (default: the agent id's first part)."),
        click.option("--runtime", default="claude-code", show_default=True, help="Runtime name."),
        click.option("--state-dir", type=click.Path(file_okay=False), help="The team's state/ dir."),
        click.option("--watched", is_flag=True, help="Run by a watcher's hook: its tailer counts usage."),
        click.option("--input", "input_file", type=click.Path(dir_okay=False),
                     help="Read the hook JSON from this file (then remove it) instead of stdin."),
    ]):
        fn = opt(fn)
    return fn


class _Target:
    """Where the row goes: mailbox, state dir, agent, project."""

    def __init__(self, mailbox: str | None, agent: str | None, project: str | None, state_dir: str | None) -> None:
        env = os.environ
        self.agent = agent or env.get("TEAMCTL_AGENT_ID") or ""
        if not self.agent:
            raise UsageProblem("no agent: give --agent or run under a watcher (TEAMCTL_AGENT_ID)")
        state = state_dir or env.get("TEAMCTL_STATE_DIR")
        root = env.get("TEAMCTL_ROOT")
        if mailbox:
            self.mailbox = Path(mailbox)
        elif state:
            self.mailbox = layout.mailbox(Path(state))
        elif root:
            from ..team.compose import load_team

            self.mailbox = load_team(Path(root)).mailbox_path
        else:
            raise UsageProblem("no mailbox: give --mailbox, or set TEAMCTL_STATE_DIR or TEAMCTL_ROOT")
        self.state_dir = Path(state) if state else self.mailbox.parent
        self.project = project or self.agent.split(":", 1)[0]

    def store(self) -> Any:
        from ..store.mailbox import Store

        return Store(self.mailbox, layout.spool_dir(self.state_dir), "hooks")


def _payload(input_file: str | None = None) -> dict[str, Any]:
    where = input_file or "stdin"
    if input_file:
        try:
            fd = os.open(input_file, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
            with os.fdopen(fd, "rb") as fh:
                data = fh.read(MAX_STDIN + 1)
            os.unlink(input_file)
        except OSError as exc:
            raise UsageProblem(f"{input_file}: cannot read ({exc.strerror or exc})") from None
    else:
        data = sys.stdin.buffer.read(MAX_STDIN + 1)
    if len(data) > MAX_STDIN:
        raise UsageProblem(f"{where}: hook JSON larger than {MAX_STDIN} bytes")
    try:
        payload = json.loads(data or b"{}")
    except ValueError as exc:
        raise UsageProblem(f"{where}: not JSON ({exc})") from None
    if not isinstance(payload, dict):
        raise UsageProblem(f"{where}: the hook JSON must be an object")
    return payload


@click.command("rl-hit")
@_options
def rl_hit(mailbox: str | None, agent: str | None, project: str | None, runtime: str, state_dir: str | None,
           watched: bool, input_file: str | None) -> int:
    """Record a rate-limit hit from a StopFailure hook's JSON on stdin (a `rate_limits` row)."""
    payload = _payload(input_file)
    target = _Target(mailbox, agent, project, state_dir)
    error = payload.get("error")
    if payload.get("hook_event_name") not in (None, "StopFailure") or error not in (None, "rate_limit"):
        return 0  # another failure (overloaded, auth...): not a limit
    text = payload.get("last_assistant_message")
    text = text if isinstance(text, str) else "rate_limit"
    now = time.time()
    resets_at = _reset_of(text, runtime, target)
    from ..core.reactor.rows import hook_report_is_known, rows_since

    with target.store() as st:
        if hook_report_is_known((row["hit_at"] for row in st.rate_limits(target.agent, since=rows_since(now))), now):
            return 0  # the watcher's screen recorded this hit already
        st.record_rate_limit(target.agent, runtime, now, resets_at, text[:2000])
    return 0


def _reset_of(text: str, runtime: str, target: _Target) -> float | None:
    """The reset the CLI's own line states, read with the runtime's signatures."""
    from ..core.descriptors.loader import DescriptorError, load_runtime
    from ..core.resets.parse import resolve_zone
    from ..core.scan.scanner import EventKind, Scanner

    try:
        rt = load_runtime(runtime, target.state_dir.parent)
    except DescriptorError:
        return None
    scanner = Scanner(rt, tz=resolve_zone(None, dict(os.environ)))
    events = scanner.feed(text.encode() + b"\n") + scanner.finish()
    hit = next((e for e in events if e.kind is EventKind.RATE_LIMIT and e.resets_at), None)
    return hit.resets_at.timestamp() if hit and hit.resets_at else None


@click.command("budget-record")
@_options
def budget_record(mailbox: str | None, agent: str | None, project: str | None, runtime: str,
                  state_dir: str | None, watched: bool, input_file: str | None) -> int:
    """Record a turn's spend from a Stop hook's JSON on stdin (its transcript's exact usage)."""
    from ..agent.channels.claude_transcript import transcript_usage

    payload = _payload(input_file)
    target = _Target(mailbox, agent, project, state_dir)
    path = payload.get("transcript_path")
    if not isinstance(path, str) or not path:
        raise UsageProblem("stdin: no transcript_path in the hook JSON")
    transcript = Path(path)
    if transcript.is_symlink() or not transcript.is_file():
        raise UsageProblem(f"transcript_path {path}: not a regular file")
    log_name = layout.agent_file_name(target.agent)
    if watched:
        _write_private(layout.transcript_pointer(target.state_dir, log_name), str(transcript))
        return 0
    session = str(payload.get("session_id") or transcript.stem)
    mark = layout.counted_mark(target.state_dir, log_name, _safe(session))
    counted = _read_mark(mark)
    usage = transcript_usage(transcript)
    rows = []
    for model, (inp, out, cached) in usage.items():
        old = counted.get(model, [0, 0, 0])
        delta = [max(inp - old[0], 0), max(out - old[1], 0), max(cached - old[2], 0)]
        if any(delta):
            rows.append((model, delta))
        counted[model] = [max(a, b) for a, b in zip(old, (inp, out, cached), strict=True)]
    if rows:
        from ..agent.budget import find_price, load_prices, tokens_to_usd

        prices = load_prices(target.state_dir.parent)
        now = time.time()
        with target.store() as st:
            for model, (inp, out, cached) in rows:
                price = find_price(prices, model)
                usd = tokens_to_usd(price, inp + cached, out, cached) if price else 0.0
                st.record_budget(target.project, target.agent, runtime, usd, inp + cached, out, now)
    _write_private(mark, json.dumps(counted))
    return 0


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)[:80]


def _read_mark(path: Path) -> dict[str, list[int]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, list) and len(v) == 3} if isinstance(data, dict) else {}


def _write_private(path: Path, text: str) -> None:
    """Under state/, never through a symlink: write a temp file, then rename it over."""
    private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)

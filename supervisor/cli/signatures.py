"""`teamctl signatures list|show|test`: see and try the signatures rl-watch uses, on real transcripts."""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import click

from ..core.resets import resolve_zone
from ..core.scan import Event, EventKind, Scanner
from ..core.signatures import generic_patterns_path, load_runtime, runtime_files
from ..team.compose import find_root


def _team_dir(root: str | None) -> Path | None:
    return find_root(root, os.environ, Path.cwd())


@click.group()
def signatures() -> None:
    """List, show and test runtime signatures."""


@signatures.command("list")
@click.option("--root", "-C", help="Team root (its runtimes/ folder adds or overrides runtimes).")
def list_(root: str | None) -> None:
    """Every runtime with its descriptor file and signature counts."""
    team_dir = _team_dir(root)
    files = runtime_files(team_dir)
    seen: set[Path] = set()
    for name, path in sorted(files.items()):
        if path in seen or path.stem != name:
            continue
        seen.add(path)
        rt = load_runtime(name, team_dir, generic=False)
        aliases = f" (aliases: {', '.join(rt.aliases)})" if rt.aliases else ""
        click.echo(f"{name:<14} {len(rt.rate_limits):>2} rate-limit {len(rt.costs):>2} cost "
                   f"{len(rt.dialogs):>2} dialog {len(rt.ignores):>2} ignore  {path}{aliases}")
    click.echo(f"{'(generic)':<14} {generic_patterns_path()}")


@signatures.command("show")
@click.argument("runtime")
@click.option("--root", "-C")
def show(runtime: str, root: str | None) -> None:
    """The launch settings and every signature of RUNTIME (generic ones last)."""
    rt = load_runtime(runtime, _team_dir(root))
    click.echo(f"runtime {rt.name}  ({rt.path})")
    click.echo(f"  launch: {rt.launch.binary} {' '.join(rt.launch.args)}")
    if rt.launch.resume_args:
        click.echo(f"  resume: {' '.join(rt.launch.resume_args)}")
    for title, sigs in (("rate_limit", rt.rate_limits), ("cost", rt.costs), ("dialog", rt.dialogs),
                        ("ignore", rt.ignores)):
        for sig in sigs:
            extra = ""
            if title == "rate_limit":
                extra = f" action={sig.action.value} reset={sig.reset}"
            elif title == "cost":
                extra = f" total={str(sig.total).lower()}"
            elif title == "dialog":
                extra = f" send={sig.send!r}"
            click.echo(f"  [{title}] {sig.id}{extra}  ({Path(sig.source).name})")
            click.echo(f"      {sig.regex.pattern}")


@signatures.command("test")
@click.argument("runtime")
@click.argument("file", required=False, type=click.File("rb"), default="-")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per event, one per line.")
@click.option("--now", help="ISO 8601 instant the transcript is read at (default: now).")
@click.option("--tz", help="IANA zone bare clock times are in (default: host).")
@click.option("--root", "-C")
def test(runtime: str, file: IO[bytes], as_json: bool, now: str | None, tz: str | None,
         root: str | None) -> None:
    """Feed a transcript (raw terminal bytes) through rl-watch's scanner and print every event."""
    rt = load_runtime(runtime, _team_dir(root))
    zone = resolve_zone(tz, None) if tz else resolve_zone(None, dict(os.environ))
    if now:
        try:
            fixed = datetime.fromisoformat(now.replace("Z", "+00:00"))
        except ValueError:
            raise click.BadParameter(f"{now!r} is not ISO 8601", param_hint="--now") from None
        if fixed.tzinfo is None:
            fixed = fixed.replace(tzinfo=zone)
        clock = lambda: fixed  # noqa: E731
    else:
        clock = lambda: datetime.now(UTC)  # noqa: E731
    scanner = Scanner(rt, tz=zone, clock=clock)
    count = 0
    while chunk := file.read(65536):
        for event in scanner.feed(chunk):
            _print(event, as_json)
            count += 1
    for event in scanner.finish():
        _print(event, as_json)
        count += 1
    if not as_json:
        click.echo(f"{count} event{'s' if count != 1 else ''}", err=True)


def event_json(event: Event) -> dict[str, Any]:
    """The `signatures test --json` shape of one event."""
    if event.kind is EventKind.RATE_LIMIT:
        return {"line": event.line, "kind": "rate_limit", "action": event.action.value if event.action else None,
                "resets_at": event.resets_at.isoformat() if event.resets_at else None, "raw": event.raw,
                "signature": event.signature, "model": event.model}
    if event.kind is EventKind.COST:
        return {"line": event.line, "kind": "cost", "usd": event.usd, "input_tokens": event.input_tokens,
                "output_tokens": event.output_tokens, "total": event.total, "raw": event.raw,
                "signature": event.signature}
    return {"line": event.line, "kind": "dialog", "send": event.send, "raw": event.raw,
            "signature": event.signature}


def _print(event: Event, as_json: bool) -> None:
    data = event_json(event)
    if as_json:
        sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")
        return
    details = " ".join(f"{k}={v}" for k, v in data.items() if k not in ("line", "kind", "raw") and v is not None)
    click.echo(f"line {data['line']}: {data['kind']} {details}\n    {data['raw']}")

"""`teamctl signatures list|show|test|audit`: see and try the signatures rl-watch uses, on real transcripts."""

from __future__ import annotations

import json
import mmap
import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import click

from ..core.descriptors.loader import generic_patterns_path, load_runtime, runtime_files
from ..core.resets.parse import resolve_zone
from ..core.scan.scanner import Event, EventKind, Scanner
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
    for sub, extra in rt.launch.resume_for.items():
        click.echo(f"  resume ({sub}): {' '.join(extra) or '(none: started again)'}")
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
            if sig.after is not None:
                extra += f" after={sig.after.pattern!r}"
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


#: How `signatures audit` reads a file, by its name; other files are read as binaries when they
#: start like one (ELF, Mach-O, PE), else skipped.
_AUDIT_READERS = {".py": "python", ".js": "js", ".mjs": "js", ".cjs": "js", ".json": "js"}
_BINARY_MAGIC = (b"\x7fELF", b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe", b"\xca\xfe\xba\xbe", b"MZ")
_AUDIT_SKIP_DIRS = {"__pycache__", ".git"}


def _audit_files(path: Path) -> Iterator[tuple[Path, str]]:
    """The files under `path` (or `path` itself) with how each is read; symlinks inside are skipped
    (node_modules/.bin would give every file twice)."""
    if path.is_file():
        yield path, _AUDIT_READERS.get(path.suffix, "binary")
        return
    for folder, dirs, names in os.walk(path):
        dirs[:] = sorted(d for d in dirs if d not in _AUDIT_SKIP_DIRS)
        for name in sorted(names):
            file = Path(folder) / name
            if file.is_symlink() or name.endswith((".d.ts", ".map")):
                continue
            reader = _AUDIT_READERS.get(file.suffix)
            if reader is None:
                try:
                    with open(file, "rb") as fh:
                        head = fh.read(4)
                except OSError:
                    continue
                reader = "binary" if head.startswith(_BINARY_MAGIC) else None
            if reader:
                yield file, reader


def _audit_strings(file: Path, reader: str) -> Iterator[str]:
    from ..core.descriptors import pkgstrings
    from ..core.descriptors.audit import WANTED, WANTED_BYTES

    if reader == "binary":
        with open(file, "rb") as fh:
            if os.fstat(fh.fileno()).st_size == 0:
                return
            with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
                yield from pkgstrings.binary_strings(data, WANTED, WANTED_BYTES)  # type: ignore[arg-type]
        return
    text = file.read_bytes().decode("utf-8", "replace")
    if not WANTED.search(text):
        return
    yield from (pkgstrings.python_literals(text) if reader == "python" else pkgstrings.js_literals(text))


@signatures.command("audit")
@click.argument("runtime")
@click.argument("package", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="One JSON object: every string, its covers, the counts.")
@click.option("--uncovered", is_flag=True, help="List only the strings no signature covers.")
@click.option("--root", "-C")
def audit(runtime: str, package: Path, as_json: bool, uncovered: bool, root: str | None) -> None:
    """Every limit-, quota-, usage-, cost- or token-like string in PACKAGE (an unpacked package folder,
    a JS bundle or an executable), marked with the RUNTIME signatures that read it, or as uncovered."""
    from ..core.descriptors.audit import audit as run_audit
    from ..core.descriptors.audit import summary

    rt = load_runtime(runtime, _team_dir(root))
    if not package.exists():
        raise click.BadParameter(f"{package}: no such file or directory", param_hint="PACKAGE")
    files = list(_audit_files(package))
    if not files:
        raise click.BadParameter(f"{package}: no JS, Python or executable file in it", param_hint="PACKAGE")
    base = package if package.is_dir() else package.parent

    def strings() -> Iterator[tuple[str, str]]:
        for file, reader in files:
            where = str(file.relative_to(base))
            try:
                for text in _audit_strings(file, reader):
                    yield text, where
            except OSError as exc:
                click.echo(f"{file}: cannot read: {exc.strerror or exc}", err=True)

    findings = run_audit(rt, strings())
    counts = summary(findings)
    shown = [f for f in findings if not (uncovered and f.covered)]
    if as_json:
        sys.stdout.write(json.dumps({
            "runtime": rt.name, "descriptor": str(rt.path), "package": str(package), "files": len(files),
            "summary": counts,
            "strings": [{"text": f.display, "where": f.where, "category": f.category, "covered": f.covered,
                         "notice": f.notice, "seen": f.seen,
                         "covers": [{"kind": c.kind, "id": c.id, "how": c.how, "keyword": c.keyword,
                                     "descriptor": Path(c.source).name} for c in f.covers]}
                        for f in shown],
        }, ensure_ascii=False, indent=1) + "\n")
        return
    click.echo(f"{rt.name} ({rt.path.name}) against {package}: {len(files)} file{'s' if len(files) != 1 else ''}")
    for f in shown:
        mark = "covered  " if f.covered else "UNCOVERED" if f.notice else "uncovered"
        names = ", ".join(f"{c.kind} {c.id}" + (" (prefix)" if c.how == "prefix" else "")
                          + ("" if c.keyword else " (regex only: no keyword in it)") for c in f.covers)
        click.echo(f"{mark} {f.category:<5} {f.display}")
        click.echo(f"          {f.where}" + (f"  <- {names}" if names else ""))
    for name, row in counts.items():
        click.echo(f"{name:<6} {row['strings']:>5} strings {row['covered']:>5} covered {row['uncovered']:>5} uncovered"
                   f" ({row['uncovered_notices']} reading like a notice: UNCOVERED)")

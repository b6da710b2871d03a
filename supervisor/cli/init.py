"""`teamctl init`: scaffold a team in the current directory (or DIR) that `teamctl validate` passes."""

from __future__ import annotations

from pathlib import Path

import click

from ..team import scaffold


@click.command("init")
@click.argument("directory", required=False, metavar="[DIR]")
@click.option("--project", help="Project id (default: from the folder's name).")
@click.option("--runtime", help="Runtime of the one agent (default: the first CLI found on PATH:"
                                " claude-code, codex, gemini, qwen-code, aider).")
def init(directory: str | None, project: str | None, runtime: str | None) -> int:
    """Write .team/ (compose file, one project with one agent, its role file); never overwrites."""
    base = Path(directory or ".")
    p = scaffold.plan(base, project, runtime)
    try:
        written = scaffold.write(p)
    except scaffold.Exists as exc:
        click.echo(f"teamctl: {exc}", err=True)
        return 2
    for path in written:
        click.echo(f"wrote {path}")
    if not p.binary_found:
        click.echo(f"note: no agent CLI found on PATH; the agent uses {p.runtime} (install it, or edit "
                   f"runtime: in {written[1]})", err=True)
    where = "" if directory is None else f" -C {directory}"
    click.echo(f"next: teamctl validate{where} && teamctl up{where}")
    return 0

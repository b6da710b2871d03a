"""Shell completion of agent names: `teamctl logs he<TAB>` offers the team's agent ids, bare names
and project ids (click's completion: `eval "$(_TEAMCTL_COMPLETE=bash_source teamctl)"`)."""

from __future__ import annotations

import os

import click
from click.shell_completion import CompletionItem


def complete_agents(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Agent ids, unique bare names and project ids of the team this command would act on; nothing
    (never an error) when no tree loads."""
    from ..team import ops

    root = ctx.params.get("root") or os.environ.get("TEAMCTL_ROOT")
    parent = ctx.parent
    while root is None and parent is not None:
        root = parent.params.get("root")
        parent = parent.parent
    try:
        team = ops.load(root, strict=False)
    except Exception:  # noqa: BLE001 - completion must never print a traceback into the shell
        return []
    names = [a.id for a in team.agents]
    bare = [a.name for a in team.agents]
    names += [n for n in bare if bare.count(n) == 1] + [p.id for p in team.projects]
    return [CompletionItem(n) for n in dict.fromkeys(names) if n.startswith(incomplete)]

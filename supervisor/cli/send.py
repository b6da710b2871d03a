"""`teamctl send AGENT TEXT...`: what upstream's READMEs use to give an agent work.

Upstream inserts a mailbox message (sender `cli`) that its team MCP server hands to the agent. This
supervisor runs no such server, so the message is typed into the agent's tmux session (tmux
`send-keys -l`: literal keys, no shell, no key names), then Enter, and also recorded in the mailbox
as upstream records it, for upstream's tools. An agent not running in tmux gets nothing typed: exit 1.
"""

from __future__ import annotations

import re
import time

import click

from ..team import ops as ops
from ..team.backends import tmux as tmux_backend
from .completion import complete_agents
from .team import root_option, team_for_command

_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # no key a user did not mean: ESC, C1, ^C ...
_TYPABLE = {"starting", "running"}


def typed_text(words: tuple[str, ...]) -> str:
    """The words as one line: line breaks (which would submit early) and control characters become spaces."""
    return _CONTROLS.sub(" ", " ".join(words)).strip()


@click.command("send")
@click.argument("agent", shell_complete=complete_agents)
@click.argument("text", nargs=-1, required=True)
@root_option
def send(agent: str, text: tuple[str, ...], root: str | None) -> int:
    """Type TEXT into a running agent (its tmux session), then Enter; recorded in the mailbox too."""
    team = team_for_command(root, solo=True)
    member = team.agent(agent)
    line = typed_text(text)
    if not line:
        click.echo("teamctl send: nothing to send (TEXT is empty)", err=True)
        return 2
    row = None
    if team.mailbox_path.exists():
        with ops.store(team) as st:
            row = st.agent_state(member.id)
    session = ops.team_sessions(team).get(member.id)
    if session is None:
        how = ("it runs as a detached process (--backend process): nothing can be typed into it"
               if ops.watcher_process(member.id, row) is not None else "it is not running (teamctl up)")
        click.echo(f"{member.id}: not sent: {how}", err=True)
        return 1
    if row is not None and row.state not in _TYPABLE:
        click.echo(f"{member.id}: not sent: it is {row.state.replace('_', '-')}, its runtime is not reading "
                   f"(teamctl wake {member.id}, or teamctl restart {member.id} if it failed)", err=True)
        return 1
    target = f"={session}:"
    tmux_backend.tmux("send-keys", "-t", target, "-l", "--", line)
    tmux_backend.tmux("send-keys", "-t", target, "Enter")
    with ops.store(team) as st:
        st.send_message(member.project, "cli", member.id, line, time.time())
    click.echo(f"{member.id}: sent ({len(line)} characters typed into tmux session {session})")
    return 0

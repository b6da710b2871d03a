"""`teamctl web`: the live dashboard of the team (supervisor/web/ does the work)."""

from __future__ import annotations

import threading

import click

from ..web.app import WebOptions
from .team import root_option, team_for_command

_DEFAULT = WebOptions()


@click.command("web")
@click.option("--host", default=_DEFAULT.host, show_default=True,
              help="Address to listen on. Anything but loopback needs a token (--new-token once).")
@click.option("--port", type=click.IntRange(0, 65535), default=_DEFAULT.port, show_default=True,
              help="0: any free port.")
@click.option("--allow-actions", is_flag=True, help="Show wake and restart buttons (each a POST with the token).")
@click.option("--new-token", is_flag=True, help="Make a new token, keep it in state/web/token (0600), print it once.")
@click.option("--open", "open_browser", is_flag=True, help="Open the dashboard in the browser.")
@click.option("--poll", type=click.FloatRange(0.2, 60), default=_DEFAULT.poll, show_default=True,
              help="Seconds between reads of the mailbox (one reader for every open page).")
@click.option("--max-clients", type=click.IntRange(1, 1000), default=_DEFAULT.max_clients, show_default=True,
              help="Open pages served at once; more are turned away.")
@root_option
def web(host: str, port: int, allow_actions: bool, new_token: bool, open_browser: bool, poll: float,
        max_clients: int, root: str | None) -> int:
    """Serve a live dashboard of the team: states, countdowns, spend, hits and output, read-only."""
    from ..web.access import AccessProblem, token_path
    from ..web.app import open_dashboard

    team = team_for_command(root, solo=True)
    options = WebOptions(host, port, allow_actions, new_token, poll, max_clients)
    try:
        board = open_dashboard(team, options)
    except AccessProblem as exc:
        click.echo(f"teamctl web: {exc}", err=True)
        return 2
    except OSError as exc:
        click.echo(f"teamctl web: cannot listen on {host}:{port}: {exc}", err=True)
        return 2
    if board.token_is_new:
        click.echo(f"token (printed once; kept in {token_path(team.state_dir)}): {board.access.token}")
    shown = board.page_url() if board.token_is_new or not board.access.token \
        else f"{board.url}#token=<the token in {token_path(team.state_dir)}>"
    click.echo(f"dashboard of {len(team.agents)} agents: {shown}", err=False)
    click.echo("read-only" + ("; actions on (wake, restart)" if allow_actions else "") + "; Ctrl-C stops")
    if open_browser:
        import webbrowser

        threading.Thread(target=webbrowser.open, args=(board.page_url(),), daemon=True).start()
    try:
        board.server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        board.close()
    return 0

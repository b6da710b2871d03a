"""`teamctl`'s click group: every command's module is imported only when it runs."""

from __future__ import annotations

import importlib
import os

import click

from .. import __version__

#: Each command's module (in this package) and attribute, imported on first use.
_COMMANDS = {
    "rl-watch": ("watch", "rl_watch"),
    "up": ("team", "up"),
    "down": ("team", "down"),
    "status": ("views", "status"),
    "ps": ("views", "ps"),
    "logs": ("views", "logs"),
    "restart": ("team", "restart"),
    "wake": ("team", "wake"),
    "attach": ("team", "attach"),
    "send": ("send", "send"),
    "startup": ("startup", "startup"),
    "unstartup": ("startup", "unstartup"),
    "rate-limits": ("team", "rate_limits"),
    "budget": ("budget", "budget"),
    "validate": ("team", "validate"),
    "signatures": ("signatures", "signatures"),
    "init": ("init", "init"),
    "rl-hit": ("channels", "rl_hit"),
    "budget-record": ("channels", "budget_record"),
    "web": ("web", "web"),
    "report": ("report", "report"),
}


#: Run by Claude Code's hooks, not by people: callable, but not listed in --help nor completed.
_HIDDEN = {"rl-hit", "budget-record"}
#: `teamctl --help`'s one line per command, whole (click would cut the docstring with "...").
SUMMARIES = {
    "attach": "Open an agent's tmux session (read-only by default).",
    "budget": "Spend per project per day, limits and share used.",
    "down": "Stop agents and every process they started.",
    "init": "Write a .team/ that validates (never overwrites).",
    "logs": "Output of an agent, a project or the whole team.",
    "ps": "Alias of status.",
    "rate-limits": "Recent rate-limit hits and usage windows.",
    "restart": "Stop, then start, agents.",
    "rl-watch": "Supervise one runtime under a pty (what up runs).",
    "send": "Type a task into a running agent.",
    "signatures": "List, show, test and audit runtime signatures.",
    "startup": "Start this team at boot (systemd or cron).",
    "status": "One line per agent: state, pid, uptime, cost.",
    "unstartup": "Stop starting this team at boot.",
    "up": "Start the agents that are not running.",
    "validate": "Check the compose tree; print every problem.",
    "wake": "End a limit wait, backoff or budget pause now.",
}


class LazyGroup(click.Group):
    """A click group that imports a command's module on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in _COMMANDS:
            return None
        module, attr = _COMMANDS[name]
        loaded = importlib.import_module(f"{__package__}.{module}")
        cmd: click.Command = getattr(loaded, attr)
        cmd.hidden = name in _HIDDEN
        return cmd

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The summaries above, wrapped when the terminal is narrow, never cut; no module imported."""
        rows = [(name, SUMMARIES.get(name, "")) for name in self.list_commands(ctx) if name not in _HIDDEN]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="teamctl")
@click.option("-C", "--root", "root", metavar="DIR", help="Team root, as for every command (like git -C).")
def cli(root: str | None) -> None:
    """Supervise a team of AI coding-agent CLIs: keep them alive, within budget, past their limits."""
    if root is not None:
        # every command finds its root through TEAMCTL_ROOT when it is not given its own -C
        os.environ["TEAMCTL_ROOT"] = os.path.abspath(root)


def run_click(argv: list[str] | None) -> object:
    """click's own errors here; ours (and Ctrl-C, SystemExit) in cli.main's run_guarded."""
    try:
        return cli.main(args=argv, prog_name="teamctl", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return 2 if exc.exit_code in (1, 2) else exc.exit_code

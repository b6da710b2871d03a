"""Every file and folder under a team's `state/`, named once.

Code that needs a path asks here (`layout.output_log(state, name)`) instead of joining strings, so a
name changes in one place and a reader sees the whole tree below. Paths only: creating a folder or
opening a file goes through safefs (no symlink followed, 0700 / 0600).

    state/
      mailbox.db              the store (messages, agent states, limits, costs)
      spool/<writer>.jsonl    events kept while the mailbox is not writable
      logs/<agent>.log        an agent's output, as its screen showed it
      logs/<agent>.supervisor.log  its watcher's own log
      logs/<agent>.console.log  a watcher started without tmux: its own output
      run/<agent>.lock        held by the agent's watcher while it runs
      run/<agent>.tmux        present while the agent's watcher was started in tmux
      run/team.lock           held while a team command changes the team
      channels/<agent>.*      the structured channels' files (hook pointer, usage file, counted marks)
      agent-scope/<agent>/    the role prompt and MCP config handed to the CLI
      cache/compose.json      the parsed compose files, keyed by their stamps
      cache/launch/<agent>.json  the agent's part of the loaded tree, for the watcher `up` starts
      cache/start.<python>    compiled record methods and parsed TOML, for the next watchers' start

`<agent>` is the agent's id with ":" as "-" (`agent_file_name`).
"""

from __future__ import annotations

from pathlib import Path

STATE_DIRNAME = "state"
MAILBOX_NAME = "mailbox.db"
#: The mailbox's place relative to the team folder (the compose file's default `mailbox:`).
DEFAULT_MAILBOX = Path(STATE_DIRNAME) / MAILBOX_NAME
LOCK_SUFFIX = ".lock"


def agent_file_name(agent_id: str) -> str:
    """An agent id as a file name: `project:name` -> `project-name`."""
    return agent_id.replace(":", "-")


def state_dir(team_dir: Path) -> Path:
    return team_dir / STATE_DIRNAME


def mailbox(state: Path) -> Path:
    return state / MAILBOX_NAME


def spool_dir(state: Path) -> Path:
    return state / "spool"


def logs_dir(state: Path) -> Path:
    return state / "logs"


def output_log(state: Path, log_name: str) -> Path:
    return logs_dir(state) / f"{log_name}.log"


def supervisor_log(state: Path, log_name: str) -> Path:
    """The watcher's own log: hits, waits, hooks, state changes."""
    return logs_dir(state) / f"{log_name}.supervisor.log"


def console_log(state: Path, log_name: str) -> Path:
    return logs_dir(state) / f"{log_name}.console.log"


def run_dir(state: Path) -> Path:
    return state / "run"


def watcher_lock(state: Path, agent_id: str) -> Path:
    return run_dir(state) / f"{agent_file_name(agent_id)}{LOCK_SUFFIX}"


def tmux_marker(state: Path, log_name: str) -> Path:
    return run_dir(state) / f"{log_name}.tmux"


def team_lock(state: Path) -> Path:
    return run_dir(state) / "team.lock"


def channels_dir(state: Path) -> Path:
    return state / "channels"


def transcript_pointer(state: Path, log_name: str) -> Path:
    """Where Claude Code's Stop hook leaves this agent's transcript path for the tailer."""
    return channels_dir(state) / f"{log_name}.transcript"


def copilot_usage_file(state: Path, log_name: str) -> Path:
    """Where this agent's Copilot runs write their usage (one run at a time)."""
    return channels_dir(state) / f"{log_name}.copilot-usage.json"


def counted_mark(state: Path, log_name: str, session: str) -> Path:
    """What a Stop hook already counted of one session (`session` already made a safe name)."""
    return channels_dir(state) / f"{log_name}.{session}.counted.json"


def agent_scope_dir(state: Path, agent_id: str) -> Path:
    return state / "agent-scope" / agent_file_name(agent_id)


def compose_cache(state: Path) -> Path:
    return state / "cache" / "compose.json"


def descriptor_check(state: Path, name: str) -> Path:
    """The text of a team's runtime descriptor `name` that passed the full check
    (store/descriptor_checks.py)."""
    return state / "cache" / "descriptor-checks" / name


def start_cache(state: Path, interpreter: str) -> Path:
    """What watchers' starts work out alike (compiled record methods, parsed TOML), for one
    `interpreter` (its cache tag, as in __pycache__: cpython-311) (agent/start_cache.py)."""
    return state / "cache" / f"start.{interpreter}"


def launch_file(state: Path, log_name: str) -> Path:
    """The agent's part of the compose tree, written by `up` for the watcher it starts."""
    return state / "cache" / "launch" / f"{log_name}.json"

"""Team operations behind `teamctl up/down/wake` (the views are report.py's), free of click: the
module the commands import, gathering the modules that each hold one part.

loading.py loads the team for a command; watchers.py finds an agent's watcher (its names, files,
identity and leftovers); starting.py is `up`, stopping.py `down` and waking.py `wake`.
"""

from __future__ import annotations

from .loading import (
    NoTeam,
    binary_problem,
    binary_warnings,
    launch_plan,
    launch_warnings,
    load,
    register,
    runtime_problems,
    store,
    team_dir,
)
from .starting import PASS_ENV, START_WAIT_SECONDS, choose_backend, up, watcher_argv, watcher_env
from .stopping import down, down_recorded
from .waking import wake
from .watchers import (
    Outcome,
    end_leftovers,
    find_watcher,
    log_name,
    output_log,
    session_name,
    team_sessions,
    watcher_process,
)

__all__ = [
    "NoTeam", "binary_problem", "binary_warnings", "launch_warnings", "launch_plan", "load", "register",
    "runtime_problems", "store",
    "team_dir", "PASS_ENV", "START_WAIT_SECONDS", "choose_backend", "up", "watcher_argv", "watcher_env", "down",
    "down_recorded", "wake", "Outcome", "end_leftovers", "find_watcher", "log_name", "output_log", "session_name",
    "team_sessions", "watcher_process",
]

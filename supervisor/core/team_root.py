"""Where a team's compose tree is: the folder holding team-compose.yaml, found from --root,
TEAMCTL_ROOT or the working folder.

Its own file, with nothing else imported: a watcher finds its team's state/ before it loads the
compose model (agent/start_cache.py reads its cache from there first).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

COMPOSE_FILE = "team-compose.yaml"
TEAM_DIRNAME = ".team"


def _compose_dir(candidate: Path) -> Path | None:
    """The dir holding team-compose.yaml for `candidate` (a .team dir, its parent, or a bare root)."""
    if (candidate / COMPOSE_FILE).is_file():
        return candidate.resolve()
    if (candidate / TEAM_DIRNAME / COMPOSE_FILE).is_file():
        return (candidate / TEAM_DIRNAME).resolve()
    return None


def find_root(explicit: str | Path | None, env: Mapping[str, str], cwd: Path) -> Path | None:
    """--root/-C wins, then TEAMCTL_ROOT, then the nearest `.team/team-compose.yaml` walking up from cwd.

    Accepts either the `.team` dir, a dir containing `.team/`, or a dir directly holding
    team-compose.yaml. Returns the directory that holds team-compose.yaml, or None. An explicit or
    env root that holds no compose file gives None rather than silently falling back, so a typo in
    `-C` never starts some other team.
    """
    cwd = Path(cwd)
    for given in (explicit, env.get("TEAMCTL_ROOT") or None):
        if given is not None and str(given) != "":
            p = Path(given).expanduser()
            return _compose_dir(p if p.is_absolute() else cwd / p)
    here = cwd.resolve()
    for d in (here, *here.parents):
        if (d / TEAM_DIRNAME / COMPOSE_FILE).is_file():
            return (d / TEAM_DIRNAME).resolve()
        if (d / COMPOSE_FILE).is_file():
            return d
    return None

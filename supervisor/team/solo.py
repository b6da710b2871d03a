"""A solo root: what `teamctl rl-watch --root DIR` leaves when there is no compose tree.

Such a root holds `state/mailbox.db` and no `team-compose.yaml`. The read-only commands and `wake`
still have to show and reach its agents, so the agents the mailbox's state rows name are made into a
Team of their own: one project per id prefix, each agent on the runtime its watcher recorded.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from ..core.compose_model import (
    Agent,
    BudgetSettings,
    FrozenMap,
    Project,
    RateLimitSettings,
    Team,
    find_root,
)
from ..store.mailbox import Store

MAILBOX = Path("state") / "mailbox.db"


def solo_dir(root: str | None, env: Mapping[str, str] | None = None, cwd: Path | None = None) -> Path | None:
    """The solo root for --root / $TEAMCTL_ROOT / the current directory (as rl-watch defaults), or
    None when that place has a compose tree or no mailbox."""
    env = os.environ if env is None else env
    cwd = cwd or Path.cwd()
    given = root or env.get("TEAMCTL_ROOT") or None
    if find_root(given, env, cwd) is not None:
        return None
    where = Path(given).expanduser() if given else cwd
    where = (where if where.is_absolute() else cwd / where).resolve()
    return where if (where / MAILBOX).is_file() and not os.path.islink(where / MAILBOX) else None


def solo_team(root: str | None, env: Mapping[str, str] | None = None, cwd: Path | None = None) -> Team | None:
    """The agents recorded in a solo root's mailbox as a Team, or None when there is no solo root."""
    where = solo_dir(root, env, cwd)
    if where is None:
        return None
    return recorded_team(where)


def recorded_team(where: Path) -> Team:
    """The agents recorded in `where`/state/mailbox.db as a Team: a solo root's, or a compose team's
    whose YAML does not load (`status` reads state/, whatever the YAML holds)."""
    mailbox = where / MAILBOX
    rows = {}
    if mailbox.is_file():  # nothing recorded is no agent, and no mailbox made for the asking
        with Store(mailbox, where / "state" / "spool", "teamctl") as st:
            rows = st.agent_states()
    agents = tuple(
        Agent(id=row.agent_id, project=row.agent_id.split(":", 1)[0], name=row.agent_id.split(":", 1)[-1],
              runtime=row.runtime, model=row.model, role_prompt=None, permission_mode=None, effort=None,
              on_rate_limit=(), restart="always", tz=None, env=FrozenMap(),
              limit_group=row.limit_group or row.runtime, is_manager=False, reports_to=None, cwd=where,
              source=mailbox)
        for row in sorted(rows.values(), key=lambda r: r.agent_id))
    projects = tuple(Project(id=p, name=p, cwd=where, file=mailbox)
                     for p in sorted({a.project for a in agents}))
    return Team(team_dir=where, base_dir=where, compose_file=mailbox, tmux_prefix="t-", mailbox_path=mailbox,
                state_dir=where / "state", rate_limits=RateLimitSettings(), budget=BudgetSettings(),
                projects=projects, agents=agents)

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
from ..store import layout
from ..store.mailbox import Store

MAILBOX = layout.DEFAULT_MAILBOX


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
    return mailbox_team(where)


def mailbox_team(where: Path, tmux_prefix: str = "t-") -> Team:
    """The agents whose state rows `where/state/mailbox.db` holds, as a Team rooted at `where`
    (also what status and logs show when a team's compose tree does not load)."""
    mailbox = where / MAILBOX
    with Store(mailbox, layout.spool_dir(layout.state_dir(where)), "teamctl") as st:
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
    return Team(team_dir=where, base_dir=where, compose_file=mailbox, tmux_prefix=tmux_prefix, mailbox_path=mailbox,
                state_dir=layout.state_dir(where), rate_limits=RateLimitSettings(), budget=BudgetSettings(),
                projects=projects, agents=agents)

"""`teamctl init`: the smallest team that validates, written into the current directory.

Upstream's `init` writes `.team/` from a template (a compose file, one project file, role files, a
`.gitignore` for `state/`). Ours writes the same shape with one agent, on the first runtime whose
binary is on PATH, working in the folder that holds `.team/` (`cwd: ..`, resolved against `.team/`
as upstream does). It never overwrites: when any of its files exists, nothing is written.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from ..agent.launch import find_binary
from ..core.compose_model import TEAM_DIRNAME
from ..core.descriptors.loader import load_runtime
from ..core.errors import DescriptorError
from ..core.lazy_dataclass import lazy_dataclass

#: Tried in this order when no runtime is named: the CLIs upstream's templates and examples use first.
PREFERRED = ("claude-code", "codex", "gemini", "qwen-code", "aider")
FALLBACK = "claude-code"

COMPOSE = """\
# Written by `teamctl init`. Keys: docs/compose.md; check with `teamctl validate`.
version: 2

broker:
  type: sqlite
  path: state/mailbox.db   # relative to this .team/ folder; state/ is gitignored

supervisor:
  type: tmux
  tmux_prefix: a-   # tmux sessions are <prefix><project>-<agent>: a-{project}-{agent}

projects:
  - file: projects/{project}.yaml
"""

PROJECT = """\
version: 2

project:
  id: {project}
  name: {name}
  cwd: ..   # relative to .team/: the folder that holds .team/

workers:
  {agent}:
    runtime: {runtime}
    role_prompt: roles/{agent}.md
"""

ROLE = """\
# {agent}

You are the developer of the {name} project. Read the code before you change it, keep each change
small, run the tests, and say in one line what you changed and why.
"""

GITIGNORE = """\
# teamctl state: the mailbox, logs, locks. Do not commit.
state/
"""


class Exists(Exception):
    """A file `init` would write is already there (nothing was written)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(f"{path} already exists: teamctl init never overwrites a file (nothing written)")


@lazy_dataclass(frozen=True)
class Plan:
    """What `init` writes: each file's path and text, and the runtime it picked (and whether its
    binary was found)."""

    files: tuple[tuple[Path, str], ...]
    runtime: str
    binary_found: bool


def slug(text: str) -> str:
    """A project id from a folder name: letters, digits, '_', '.', '-', at most 30, else `main`."""
    s = re.sub(r"[^A-Za-z0-9_.-]+", "-", text.strip()).strip("-.").lower()[:30].strip("-.")
    return s or "main"


def pick_runtime(env_path: str | None, named: str | None = None) -> tuple[str, bool]:
    """The runtime to use and whether its binary is on PATH: `named`, else the first of PREFERRED
    whose binary is found, else FALLBACK (validate then warns that its binary is missing)."""
    for name in ([named] if named else list(PREFERRED)):
        try:
            runtime = load_runtime(name, None, generic=False)
        except DescriptorError:
            if named:
                raise
            continue
        if find_binary(runtime.launch.binary, env_path) is not None:
            return name, True
    return (named or FALLBACK), False


def plan(base: Path, project: str | None = None, runtime: str | None = None, agent: str = "dev",
         env: Mapping[str, str] | None = None) -> Plan:
    """The files for a team in `base` (its `.team/`), without writing anything."""
    env = os.environ if env is None else env
    pid = slug(project or base.resolve().name)
    chosen, found = pick_runtime(env.get("PATH"), runtime)
    name = " ".join(w.capitalize() for w in re.split(r"[-_.]+", pid) if w) or pid
    values = {"project": pid, "name": name, "agent": agent, "runtime": chosen}
    team = base / TEAM_DIRNAME
    files = (
        (team / "team-compose.yaml", COMPOSE.format(**values)),
        (team / "projects" / f"{pid}.yaml", PROJECT.format(**values)),
        (team / "roles" / f"{agent}.md", ROLE.format(**values)),
        (team / ".gitignore", GITIGNORE),
    )
    return Plan(files, chosen, found)


def write(p: Plan) -> list[Path]:
    """Write every file of the plan, or none: an existing one (or a link there) raises Exists first."""
    for path, _ in p.files:
        if os.path.lexists(path):
            raise Exists(path)
    written: list[Path] = []
    for path, text in p.files:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        written.append(path)
    return written

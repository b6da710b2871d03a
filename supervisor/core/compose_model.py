"""The validated compose tree as frozen dataclasses (where to find it: team_root.py).

compose.py reads and checks the YAML; everything else in the supervisor only ever sees these types.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import field
from pathlib import Path
from typing import Any

from .errors import ComposeError as ComposeError  # defined in errors.py; imported from here too
from .errors import UnknownAgentError
from .lazy_dataclass import lazy_dataclass
from .reactor.settings import DEFAULTS as REACTOR_DEFAULTS
from .team_root import COMPOSE_FILE as COMPOSE_FILE  # defined in team_root.py; imported from here too
from .team_root import TEAM_DIRNAME as TEAM_DIRNAME
from .team_root import find_root as find_root


def did_you_mean(word: str, choices: Collection[str]) -> str:
    """` (did you mean 'model'?)`, or nothing when no choice is close (difflib: loaded for errors only)."""
    import difflib

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


# --------------------------------------------------------------------------------------------------
# Public data types


@lazy_dataclass(frozen=True)
class Problem:
    """One thing wrong with the compose tree; `key` is a dotted path like `workers.dev.runtime`."""

    file: Path
    key: str
    message: str
    severity: str = "error"  # or "warning"
    line: int | None = None  # 1-based line of the key in `file`, when known

    def __str__(self) -> str:
        head = f"{self.file}: {self.key}: " if self.key else f"{self.file}: "
        tail = f" (line {self.line})" if self.line else ""
        tag = "warning: " if self.severity == "warning" else ""
        return f"{head}{tag}{self.message}{tail}"


class FrozenMap(Mapping[str, str]):
    """Read-only, hashable, picklable str->str mapping so Agent stays a hashable frozen dataclass."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, str] | None = None):
        self._data: dict[str, str] = dict(data or {})

    def __getitem__(self, key: str) -> str:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        return hash(frozenset(self._data.items()))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return dict(self._data) == dict(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"FrozenMap({self._data!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenMap, (self._data,))


@lazy_dataclass(frozen=True)
class HookSpec:
    """One named rate-limit / budget hook: what to do when an agent hits a limit or a cap."""

    action: str  # "wait" | "send" | "webhook" | "run"
    name: str | None = None
    to: str | None = None  # send: recipient agent id (normalised to "project:agent" when resolvable)
    text: str | None = None  # send: message template; webhook: optional text field in the payload
    url: str | None = None  # webhook: literal URL
    url_env: str | None = None  # webhook: env var holding the URL (keeps secrets out of the YAML)
    argv: tuple[str, ...] = ()  # run: argv, never passed through a shell
    timeout: float = 10.0
    method: str = "POST"  # webhook HTTP method


WAIT_HOOK = HookSpec(action="wait", name="wait")


@lazy_dataclass(frozen=True)
class RateLimitSettings:
    """`rate_limits:` block. `hooks` always includes a `wait` hook (built-in unless declared)."""

    hooks: tuple[HookSpec, ...] = (WAIT_HOOK,)
    default_on_hit: tuple[str, ...] = ("wait",)
    fallback_wait_seconds: float = REACTOR_DEFAULTS.fallback_wait  # each default said once, there
    margin_seconds: float = REACTOR_DEFAULTS.margin
    max_wait_seconds: float = REACTOR_DEFAULTS.max_wait

    def hook(self, name: str) -> HookSpec:
        """Hook by name; `wait` always resolves so callers need no special case."""
        for h in self.hooks:
            if h.name == name:
                return h
        if name == "wait":
            return WAIT_HOOK
        raise KeyError(f"no rate-limit hook named {name!r}")


@lazy_dataclass(frozen=True)
class BudgetSettings:
    """`budget:` block. Limits are USD per day in `tz` (host zone when None)."""

    daily_usd_limit: float | None = None
    per_project_usd_limit: float | dict[str, float] | None = None
    warn_threshold_pct: float = 80.0
    tz: str | None = None
    on_cap: tuple[str, ...] = ()
    on_warn: tuple[str, ...] = ()
    message_ttl_hours: float | None = None
    report_at: str | None = None  # "07:30": `teamctl report` goes through on_report then, each day
    on_report: tuple[str, ...] = ()

    def project_limit(self, project_id: str) -> float | None:
        """Daily limit for one project, whether the compose gave one number or a per-project map."""
        lim = self.per_project_usd_limit
        if isinstance(lim, dict):
            return lim.get(project_id)
        return lim


@lazy_dataclass(frozen=True)
class Agent:
    """One long-lived agent CLI. `id` is `<project>:<name>`; paths are absolute."""

    id: str
    project: str
    name: str
    runtime: str
    model: str | None
    role_prompt: Path | None
    permission_mode: str | None
    effort: str | None
    on_rate_limit: tuple[str, ...]  # empty: use rate_limits.default_on_hit
    restart: str
    tz: str | None
    env: Mapping[str, str]
    limit_group: str
    is_manager: bool
    reports_to: str | None
    cwd: Path
    source: Path
    role_prompts: tuple[Path, ...] = ()  # every file, in order (upstream concatenates a list)
    display_name: str | None = None
    mcps: tuple[McpServer, ...] = ()
    #: issue 22: respawn after a limit or a pause on its own (False: stop there and tell the hooks);
    #: at most this many such resumes a day (None: no cap); hooks per agent event (hooks.EVENTS)
    auto_resume: bool = True
    max_resumes_per_day: int | None = None
    on_event: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: FrozenMap())
    host: str | None = None  # a name under compose `hosts:`; None: the host that runs the command


@lazy_dataclass(frozen=True)
class McpServer:
    """One per-agent MCP server (`mcps:`), written into the runtime's MCP config at launch."""

    name: str
    command: str
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=lambda: FrozenMap())


@lazy_dataclass(frozen=True)
class Project:
    """A project file: its id, human name, absolute working directory and source file."""

    id: str
    name: str
    cwd: Path
    file: Path


@lazy_dataclass(frozen=True)
class HostSpec:
    """One `hosts:` entry: where its agents run, reached over ssh (docs/hosts.md)."""

    name: str
    ssh: str  # the ssh destination, [user@]host
    port: int | None = None
    root: str | None = None  # the team dir there (default: the same path as here)
    teamctl: str = "teamctl"  # the command there


@lazy_dataclass(frozen=True)
class Team:
    """A validated compose tree."""

    team_dir: Path
    base_dir: Path
    compose_file: Path
    tmux_prefix: str
    mailbox_path: Path
    state_dir: Path
    rate_limits: RateLimitSettings
    budget: BudgetSettings
    projects: tuple[Project, ...]
    agents: tuple[Agent, ...]
    warnings: tuple[Problem, ...] = ()
    #: broker.type postgres: its URL as written, or the variable that holds it (docs/hosts.md)
    broker_url: str | None = None
    broker_url_env: str | None = None
    hosts: tuple[HostSpec, ...] = ()

    def agent(self, ident: str) -> Agent:
        """Resolve `project:agent` or a bare agent name that is unique across the team."""
        for a in self.agents:
            if a.id == ident:
                return a
        if ":" not in ident:
            matches = [a for a in self.agents if a.name == ident]
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                ids = ", ".join(a.id for a in matches)
                raise UnknownAgentError(f"agent name {ident!r} is ambiguous: use one of {ids}")
        known = [a.id for a in self.agents] + [a.name for a in self.agents]
        raise UnknownAgentError(f"no agent {ident!r}{did_you_mean(ident, known)}; known: "
                                + ", ".join(a.id for a in self.agents))

    def select(self, idents: Sequence[str]) -> list[Agent]:
        """Agents named by `idents` in team order; `[]` selects all, `proj` / `proj:*` a project."""
        if not idents:
            return list(self.agents)
        project_ids = {p.id for p in self.projects}
        wanted: set[str] = set()
        for ident in idents:
            proj = ident[:-2] if ident.endswith(":*") else ident
            is_agent_name = any(a.name == ident or a.id == ident for a in self.agents)
            if proj in project_ids and (ident.endswith(":*") or not is_agent_name):
                wanted.update(a.id for a in self.agents if a.project == proj)
            else:
                wanted.add(self.agent(ident).id)
        return [a for a in self.agents if a.id in wanted]

    def project(self, ident: str) -> Project:
        """Project by id."""
        for p in self.projects:
            if p.id == ident:
                return p
        raise KeyError(f"no project {ident!r}{did_you_mean(ident, [p.id for p in self.projects])}")

    def hook_chain(self, agent: Agent) -> tuple[HookSpec, ...]:
        """Hooks to run when `agent` hits a rate limit (its own list, else the team default)."""
        names = agent.on_rate_limit or self.rate_limits.default_on_hit
        return tuple(self.rate_limits.hook(n) for n in names)

"""The typed model a runtime descriptor loads into: Runtime, its Launch, Signatures and the rest.

Frozen dataclasses and no behaviour; signatures.py loads them, the scanner and the watcher read
them. The TOML keys behind each field are in docs/runtime-descriptors.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from ..lazy_dataclass import lazy_dataclass
from ..lazyre import LazyPattern

if TYPE_CHECKING:
    import regex as regex_engine


class Action(StrEnum):
    """What the watcher does after a rate-limit hit."""

    STOP = "stop"
    RESUME = "resume"
    RECORD = "record"
    #: The notice waits on a person (billing, an organisation's pause, a seat without credits): the
    #: agent is shown `blocked` with the reason and never respawned in a loop; a stated reset is
    #: waited out as usual.
    BLOCK = "block"


RESET_KINDS = ("none", "clock", "duration", "epoch", "iso", "auto")


@lazy_dataclass(frozen=True)
class Signature:
    """One line signature (rate limit, cost, dialog or ignore).

    `regex` and `follow` are compiled patterns, or for built-in descriptors LazyPatterns that compile
    on first use (see load_descriptor); both answer `.search`, `.groupindex` and `.pattern`.
    """

    kind: str
    id: str
    regex: regex_engine.Pattern | LazyPattern
    keywords: tuple[str, ...] = ()
    reset: str = "none"
    reset_group: str = "reset"
    tz: str | None = None
    lookahead: int = 0
    follow: regex_engine.Pattern | LazyPattern | None = None
    model_group: str = "model"
    action: Action = Action.STOP
    resume_keys: str = "continue\r"
    total: bool = False
    cached_in_input: bool = True
    in_place: bool = False
    send: str = ""
    once: bool = True
    #: (dialogs) the dialog's title or first rows: `match` (its option) counts only within
    #: DIALOG_TITLE_WINDOW after it, so a numbered list in prose never answers it
    after: regex_engine.Pattern | LazyPattern | None = None
    source: str = ""


@lazy_dataclass(frozen=True)
class SessionKeys:
    """How the CLI names one conversation, so every respawn of an agent resumes its own and no other
    (docs/runtime-descriptors.md, "Sessions"). `{session_id}` is the agent's id in each fragment,
    `{session_home}` a private folder of that session under state/ (aider keeps its history there)."""

    #: starts a conversation under an id we chose (Claude Code `--session-id <uuid>`); empty: the CLI
    #: picks the id and `capture` learns it
    start: tuple[str, ...] = ()
    #: resumes the conversation (Claude Code `--resume <id>`, Codex `resume <id>`)
    resume: tuple[str, ...] = ()
    #: a subcommand's own resume fragment, put right after that subcommand (`codex exec resume <id>`)
    resume_for: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    #: where the conversation lives ({VAR}s of the runtime's env, `*` globs, `{session_id}`): it
    #: exists (resume it) when one matches, it is gone (start a fresh one) when none does
    files: tuple[str, ...] = ()
    #: a regex over the paths the runtime's processes hold open; its group `id` is the id the CLI chose
    capture: str = ""
    #: or the SQLite databases (path templates, as `files`) where the CLI keeps its sessions (opencode),
    #: and the read-only query that lists the ids of the sessions started since `:since` (epoch seconds)
    capture_db: tuple[str, ...] = ()
    capture_query: str = ""


@lazy_dataclass(frozen=True)
class Launch:
    """How to start the CLI: binary, fixed args, optional fragments per setting, resume flag, env."""

    binary: str
    args: tuple[str, ...] = ()
    resume_args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    #: environment each agent gets unless its user or compose sets the variable: templates of
    #: AGENT_ENV_PLACEHOLDERS (a database of its own: opencode's OPENCODE_DB)
    agent_env: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    options: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    permission: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    role_prompt_env: str | None = None  # env var given the role prompt file's path (GEMINI_SYSTEM_MD)
    #: a subcommand's own resume flags, in place of `resume_args` (`droid exec` takes no `--resume`)
    resume_for: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    #: the CLI's own way to name a conversation; None: `resume_args` ("the latest") is all it has
    session: SessionKeys | None = None
    #: seconds after a resume with no model turn before escalating (issue 22); None: the default
    resume_deadline: float | None = None

    def resume_argv(self, argv: list[str]) -> list[str]:
        """What a resumed session adds to `argv`: the flags of its subcommand (the first word after
        the binary that is not an option) when the descriptor names one, else `resume_args`; none
        that `argv` already holds."""
        sub = next((a for a in argv[1:] if not a.startswith("-")), None)
        extra = self.resume_for.get(sub, self.resume_args) if sub is not None else self.resume_args
        return [a for a in extra if a not in argv]


@lazy_dataclass(frozen=True)
class StallRule:
    """A CLI that retries silently behind a spinner: after `seconds` with no new content the agent
    is shown as stalled and logged; `restart` also restarts the runtime. 0 seconds: never."""

    seconds: float = 300.0
    restart: bool = False


@lazy_dataclass(frozen=True)
class Runtime:
    """A loaded descriptor; `rate_limits` already has the generic signatures appended."""

    name: str
    path: Path
    launch: Launch
    aliases: tuple[str, ...] = ()
    tz: str | None = None
    rate_limits: tuple[Signature, ...] = ()
    costs: tuple[Signature, ...] = ()
    dialogs: tuple[Signature, ...] = ()
    ignores: tuple[Signature, ...] = ()
    stall: StallRule = StallRule()
    channels: tuple[Channel, ...] = ()
    usage: tuple[UsagePattern, ...] = ()
    #: the CLI prints pretty-printed JSON documents (Gemini CLI's `--output-format json`): each is
    #: also read as one compact line
    json_documents: bool = False


#: Structured channels a watcher can read beside the screen (docs/runtime-descriptors.md, Channels).
CHANNEL_KINDS = ("claude-hooks", "claude-transcript", "codex-rollout", "copilot-usage-file", "droid-session")


@lazy_dataclass(frozen=True)
class Channel:
    """One structured channel: hooks given at launch (`option` with `{settings}`), or session files
    under the first of `dirs` whose `{VAR}`s the runtime's env all sets, in a format of `versions`."""

    kind: str
    dirs: tuple[str, ...] = ()
    versions: tuple[str, ...] = ()
    events: tuple[str, ...] = ()
    option: tuple[str, ...] = ()


@lazy_dataclass(frozen=True)
class UsagePattern:
    """A line that says how much of a limit window is used: a reading, never a hit."""

    id: str
    regex: regex_engine.Pattern | LazyPattern
    keywords: tuple[str, ...] = ()
    window: str = ""

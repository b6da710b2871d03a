"""The settings the reactor reads, each default written once: the CLI's options, their help text,
the compose loader and the watcher all read them from here (and the crash policy's from
core/policy.CrashSettings, nested inside)."""

from __future__ import annotations

from dataclasses import field
from zoneinfo import ZoneInfo

from ..lazy_dataclass import lazy_dataclass
from ..policy import CrashSettings

#: Record-only hits (the CLI retries by itself) closer together than this are one hit.
RECORD_DEDUP_SECONDS = 60.0
#: two readings of one reset: a duration counted from two moments, or a clock rounded to the minute
SAME_RESET_SECONDS = 120.0
#: One hit reported twice for an agent (its watcher's screen and the CLI's StopFailure hook, in
#: either order) is this close: the later report keeps the earlier row.
SAME_HIT_SECONDS = 120.0
#: How often a running agent polls the mailbox for its limit group and budget caps.
GROUP_POLL_SECONDS = 30.0
#: A session's first poll comes this soon: a group-mate that hit a limit while this watcher was
#: starting poked the watchers it could see, and this one's row may not have been visible yet.
FIRST_GROUP_POLL_SECONDS = 3.0
#: "Not reset yet" re-checks: first wait, doubled each time, capped.
RECHECK_FIRST, RECHECK_CAP = 30.0, 600.0
#: Kept for old imports: "resumed" is no longer a time without the limit, it is a model turn seen.
RESUME_CONFIRM_SECONDS = 15.0
#: No model turn this long after a resume, a respawn or typed keys: the next escalation step (a
#: runtime's descriptor sets its own, `[launch] resume_deadline_seconds`).
RESUME_DEADLINE_SECONDS = 120.0
#: After a respawn with resume (or a resize), a limit line the CLI redraws from its history in this
#: window, matching a hit already handled, is history, not a new hit.
REPLAY_WINDOW_SECONDS = 20.0
RESIZE_REPLAY_SECONDS = 5.0
#: A dialog is answered once the screen has been still this long: a TUI that is still starting up
#: (asking the terminal what it can do) drops keys typed into it.
DIALOG_SETTLE_SECONDS = 0.5
#: Handled hits remembered for telling history from a new hit.
REMEMBERED_HITS = 16


@lazy_dataclass(frozen=True)
class ReactorSettings:
    """What the rules of an agent's life read: the waits (from compose, or the command line), the
    hook chain, the zone, the limit group, the stall rule (from the descriptor), the crash policy."""

    margin: float = 60.0
    fallback_wait: float = 1800.0
    max_wait: float = 8 * 86400.0
    pre_hooks: tuple[str, ...] = ("wait",)
    post_hooks: tuple[str, ...] = ()
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    limit_group: str = ""
    stall_seconds: float = 300.0  # 0: never
    stall_restart: bool = False
    crash: CrashSettings = field(default_factory=CrashSettings)
    resume_deadline: float = RESUME_DEADLINE_SECONDS  # escalate without a model turn by then; 0: never
    continue_keys: str = "continue\r"  # typed where the CLI waits at its prompt ("" : none, respawn)


#: One instance to read defaults from (help text, compose): never a second spelling of a number.
DEFAULTS = ReactorSettings()

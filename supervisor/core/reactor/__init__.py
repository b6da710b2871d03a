"""The reactor: one agent's life as a table of (phase, input) -> handler, commands out, no I/O.

phases.py names the phases, inputs and wait kinds; commands.py what goes in and out; settings.py
the settings and constants; limits.py and rows.py the rate-limit and one-row rules; machine.py
the Reactor and its TABLE. Import from here."""

from .commands import (
                       ArmTurns,
                       BudgetWoken,
                       CheckLimits,
                       Command,
                       Exit,
                       FindRows,
                       Hit,
                       Log,
                       MarkHandled,
                       Notice,
                       Now,
                       PokeGroup,
                       RecordCost,
                       RecordHit,
                       RunEvent,
                       RunHooks,
                       SendKeys,
                       SetState,
                       Spawn,
                       Stop,
                       Wait,
)
from .machine import TABLE, Reactor
from .phases import SESSION_PHASES, Input, Pause, Phase, UnexpectedInput, WaitKind
from .rows import adopted_row, hook_report_is_known, same_limit_as_record
from .settings import (
                       DEFAULTS,
                       DIALOG_SETTLE_SECONDS,
                       FIRST_GROUP_POLL_SECONDS,
                       GROUP_POLL_SECONDS,
                       RECHECK_CAP,
                       RECHECK_FIRST,
                       RECORD_DEDUP_SECONDS,
                       REPLAY_WINDOW_SECONDS,
                       RESIZE_REPLAY_SECONDS,
                       RESUME_CONFIRM_SECONDS,
                       RESUME_DEADLINE_SECONDS,
                       SAME_HIT_SECONDS,
                       SAME_RESET_SECONDS,
                       ReactorSettings,
)

__all__ = [
    "ArmTurns", "RunEvent", "RESUME_DEADLINE_SECONDS",
    "BudgetWoken", "CheckLimits", "Command", "Exit", "FindRows", "Hit", "Log", "MarkHandled", "Notice", "Now",
    "PokeGroup", "RecordCost", "RecordHit", "RunHooks", "SendKeys", "SetState", "Spawn", "Stop", "Wait",
    "TABLE", "Reactor", "SESSION_PHASES", "Input", "Pause", "Phase", "UnexpectedInput", "WaitKind",
    "adopted_row", "hook_report_is_known", "same_limit_as_record", "DEFAULTS", "DIALOG_SETTLE_SECONDS",
    "FIRST_GROUP_POLL_SECONDS", "GROUP_POLL_SECONDS", "RECHECK_CAP", "RECHECK_FIRST", "RECORD_DEDUP_SECONDS",
    "REPLAY_WINDOW_SECONDS",
    "RESIZE_REPLAY_SECONDS", "RESUME_CONFIRM_SECONDS", "SAME_HIT_SECONDS", "SAME_RESET_SECONDS",
    "ReactorSettings",
]

"""rl-watch's options, said once, and the quick reading of a watcher's command line.

click builds `teamctl rl-watch` (help, errors) from OPTIONS (cli/watch.py). A watcher that `up`
started has an ordinary command line, and one watcher runs per agent for days: `parse` reads such a
line from the same table without importing click (about 1 MiB and 30 ms of CPU per watcher). It
returns None for anything it does not read exactly as click would (help, an unknown or bad option, a
value that looks like an option), and the caller hands that line to click, so help and errors are
click's own.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from ..core.policy import Restart


class Option(NamedTuple):
    """One rl-watch option: its flags, the parameter name, how its value is read, and the setting it
    changes ("reactor.crash.restart": see agent/settings.default_of; None: no default of its own)."""

    flags: tuple[str, ...]
    dest: str
    kind: str  # "text", "seconds" (a finite float), "int" or "restart" (a Restart value)
    setting: str | None
    help: str


#: In --help's order. An option with a setting shows that setting's default in its help.
OPTIONS: tuple[Option, ...] = (
    Option(("--agent",), "agent_opt", "text", None, "Agent id <project>:<agent> (when no positional AGENT)."),
    Option(("--runtime",), "runtime", "text", None,
           "Runtime descriptor name (default: from compose, or guessed from argv)."),
    Option(("-C", "--root"), "root", "text", None,
           "Team root (default: nearest .team/ above, else the current directory)."),
    Option(("--margin",), "margin", "seconds", "reactor.margin", "Seconds to wait past the reset time"),
    Option(("--fallback-wait",), "fallback_wait", "seconds", "reactor.fallback_wait",
           "Seconds to wait when the reset is unknown"),
    Option(("--max-wait",), "max_wait", "seconds", "reactor.max_wait", "Longest wait for one reset"),
    Option(("--restart",), "restart", "restart", "reactor.crash.restart", "Restart policy"),
    Option(("--stop-timeout",), "stop_timeout", "seconds", "stop_timeout", "Seconds between SIGTERM and SIGKILL"),
    Option(("--backoff-initial",), "backoff_initial", "seconds", "reactor.crash.initial",
           "First crash backoff, seconds"),
    Option(("--backoff-max",), "backoff_max", "seconds", "reactor.crash.cap", "Crash backoff cap, seconds"),
    Option(("--give-up-exits",), "give_up_exits", "int", "reactor.crash.give_up_exits",
           "Quick exits within the window that mean a crash loop"),
    Option(("--give-up-window",), "give_up_window", "seconds", "reactor.crash.give_up_window",
           "Crash-loop window, seconds"),
    Option(("--quick-uptime",), "quick_uptime", "seconds", "reactor.crash.quick_uptime",
           "An exit before this many seconds is quick"),
    Option(("--stable-after",), "stable_after", "seconds", "reactor.crash.stable_after",
           "Uptime that resets the backoff, seconds"),
    Option(("--log-max-bytes",), "log_max_bytes", "int", "log_max_bytes", "Output log size before rotation"),
    Option(("--tz",), "tz", "text", None, "IANA zone the runtime states bare clock times in."),
    Option(("--limit-group",), "limit_group", "text", "limit_group",
           "Agents sharing a limit group share a rate limit (default: runtime)."),
    Option(("--model",), "model", "text", "model", "Model the agent runs (for model-scoped limits)."),
)
RESTARTS = tuple(r.value for r in Restart)
_BY_FLAG = {flag: option for option in OPTIONS for flag in option.flags}


def _value(kind: str, text: str) -> object:
    """`text` read as click reads it for `kind`; ValueError where click would refuse it."""
    if kind == "seconds":
        number = float(text)
        if not math.isfinite(number):
            raise ValueError(text)
        return number
    if kind == "int":
        return int(text)
    if kind == "restart" and text not in RESTARTS:
        raise ValueError(text)
    return text


def parse(tokens: list[str]) -> dict[str, object] | None:
    """The parameters click would give rl-watch for `tokens` (what follows `rl-watch`), or None when
    this reading is not certain to be click's: then click reads the line (and explains an error)."""
    params: dict[str, object] = {option.dest: None for option in OPTIONS}
    positional: list[str] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        i += 1
        if token == "--":
            positional.extend(tokens[i:])
            break
        if token[:1] != "-" or token == "-":
            positional.append(token)
            continue
        flag, eq, text = token.partition("=") if token.startswith("--") else (token, "", "")
        option = _BY_FLAG.get(flag)
        if option is None:
            return None  # --help, -h, an unknown option, -CDIR: click's to read or refuse
        if not eq:
            if i >= len(tokens) or tokens[i][:1] == "-":
                return None
            text = tokens[i]
            i += 1
        try:
            params[option.dest] = _value(option.kind, text)
        except ValueError:
            return None
    params["agent"] = positional[0] if positional else None
    params["argv"] = tuple(positional[1:])
    return params

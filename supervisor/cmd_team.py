"""Team commands: up, down, status, logs, restart, wake, attach, rate-limits, validate."""

from __future__ import annotations

COMMANDS: list = []

"""`{NAME}` templates in descriptors (session files, channel dirs, per-agent env), filled all or
nothing: a path built with one part missing would name the wrong file, so a template with an unset
or empty placeholder has no value at all."""

from __future__ import annotations

import re
from collections.abc import Callable

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def fill(template: str, value_of: Callable[[str], str | None]) -> str | None:
    """`template` with each `{NAME}` replaced by `value_of(NAME)`; None when any of them is unset or empty."""
    missing = False

    def sub(m: re.Match[str]) -> str:
        nonlocal missing
        value = value_of(m.group(1)) or ""
        missing = missing or not value
        return value

    text = PLACEHOLDER.sub(sub, template)
    return None if missing else text

"""The fake API's openai wire protocol (placeholder until its module is written)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .server import FakeAPI


def register(api: FakeAPI) -> None:
    """Add this protocol's routes to `api`."""

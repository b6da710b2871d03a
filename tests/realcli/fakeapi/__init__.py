"""A fake model API on 127.0.0.1 for the real-CLI tests: Anthropic, OpenAI and Gemini wire formats."""

from .server import FakeAPI, Limit, Record

__all__ = ["FakeAPI", "Limit", "Record"]

"""teamctl-supervisor: keeps a team of AI coding-agent CLIs alive, within budget and past their rate limits."""

__version__ = "0.1.0"

"""Turn cost events into budget rows: running totals become deltas, bad figures are refused.

A CLI that prints a session total (aider's session cost, a `/cost` report printed twice) must not be
counted twice: within one runtime process only the increase over the last total seen is recorded.
A respawned process starts a new session. A cost line is untrusted output: negative, absurd or
malformed figures are logged and dropped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from .scan import Event

log = logging.getLogger(__name__)

MAX_USD_PER_LINE = 1000.0
MAX_TOKENS_PER_LINE = 100_000_000


@dataclass(frozen=True)
class Spend:
    """One budget row's figures."""

    usd: float
    input_tok: int
    output_tok: int
    priced: bool = True
    cached_tok: int = 0


@dataclass
class _Totals:
    usd: float = 0.0
    input_tok: int = 0
    output_tok: int = 0
    cached_tok: int = 0


class CostLedger:
    """Per runtime process: remembers the last running total of each signature."""

    def __init__(self, max_usd: float = MAX_USD_PER_LINE) -> None:
        self.max_usd = max_usd
        self._totals: dict[str, _Totals] = {}

    def new_session(self) -> None:
        self._totals.clear()

    def observe(self, event: Event) -> Spend | None:
        """The spend this event adds, or None when it adds nothing or is not believable."""
        usd = event.usd
        inp = event.input_tokens
        out = event.output_tokens
        cached = event.cached_tokens or 0
        if inp is not None and cached and not event.cached_in_input:
            inp += cached  # the budget counts all input; cache reads are priced apart
        for name, value in (("usd", usd), ("input", inp), ("output", out)):
            if value is not None and (value < 0 or value != value or value == float("inf")):
                log.warning("cost line refused (%s=%r): %r", name, value, event.raw[:200])
                return None
        if event.total:
            seen = self._totals.setdefault(event.signature, _Totals())
            d_usd = max((usd or 0.0) - seen.usd, 0.0) if usd is not None else 0.0
            d_in = max((inp or 0) - seen.input_tok, 0) if inp is not None else 0
            d_out = max((out or 0) - seen.output_tok, 0) if out is not None else 0
            if usd is not None:
                seen.usd = max(seen.usd, usd)
            d_cached = max(cached - seen.cached_tok, 0)
            seen.cached_tok = max(seen.cached_tok, cached)
            if inp is not None:
                seen.input_tok = max(seen.input_tok, inp)
            if out is not None:
                seen.output_tok = max(seen.output_tok, out)
            if d_usd <= 0 and d_in <= 0 and d_out <= 0:
                return None
            return self._believable(Spend(round(d_usd, 10), d_in, d_out, usd is not None, d_cached), event)
        if not (usd or inp or out):
            return None
        return self._believable(Spend(usd or 0.0, inp or 0, out or 0, usd is not None, cached), event)

    def _believable(self, spend: Spend, event: Event) -> Spend | None:
        """The increase one line adds is capped (by default $1000, 100M tokens); a running total may
        grow past those figures, its increase may not."""
        if spend.usd > self.max_usd or max(spend.input_tok, spend.output_tok) > MAX_TOKENS_PER_LINE:
            log.warning("cost line refused (adds $%.2f, %d/%d tokens): %r", spend.usd, spend.input_tok,
                        spend.output_tok, event.raw[:200])
            return None
        return spend

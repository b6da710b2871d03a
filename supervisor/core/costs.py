"""Turn cost events into budget rows: what a runtime process has spent, counted once.

A CLI reports the same spend many ways: a session total printed again and again (aider's session
cost, `/cost` opened twice, Codex's `/status` and then its exit line), per-model rows beside that
total (Claude Code's `/cost`, Gemini's `/stats`), per-turn lines, and, beside the screen, a
structured channel (hooks, transcripts) telling of the same turns. Each of these is one *view* of the
same spend: totals are kept per model (a total with no model is the whole session), per-turn lines
add up, and what counts is, figure by figure, the largest view. Only the increase of that over what
was already recorded becomes a row, so no view is counted on top of another.

A respawned process starts at zero; a resumed one (`--continue`, `codex resume`) keeps the views, as
the CLI reprints the old session's totals (only what they grow by is new). A cost line is untrusted
output: negative, absurd or malformed figures are logged and dropped.
"""

from __future__ import annotations

import logging

from .lazy_dataclass import lazy_dataclass
from .scan.scanner import Event

log = logging.getLogger(__name__)

MAX_USD_PER_LINE = 1000.0
MAX_TOKENS_PER_LINE = 100_000_000
#: The source of a cost event read from the terminal; structured channels name their own.
SCREEN = "screen"


@lazy_dataclass(frozen=True)
class Spend:
    """One budget row's figures."""

    usd: float
    input_tok: int
    output_tok: int
    priced: bool = True
    cached_tok: int = 0


@lazy_dataclass
class _Figures:
    usd: float = 0.0
    input_tok: int = 0
    output_tok: int = 0
    cached_tok: int = 0

    def top(self, other: _Figures) -> _Figures:
        return _Figures(max(self.usd, other.usd), max(self.input_tok, other.input_tok),
                        max(self.output_tok, other.output_tok), max(self.cached_tok, other.cached_tok))

    def plus(self, other: _Figures) -> _Figures:
        return _Figures(self.usd + other.usd, self.input_tok + other.input_tok,
                        self.output_tok + other.output_tok, self.cached_tok + other.cached_tok)


class CostLedger:
    """Per runtime session: every view of its spend, and what of it is already recorded."""

    def __init__(self, max_usd: float = MAX_USD_PER_LINE) -> None:
        self.max_usd = max_usd
        self._totals: dict[tuple[str, str | None], _Figures] = {}  # (source, model): a running total
        self._turns: dict[str, _Figures] = {}  # source: per-turn lines added up
        self._counted = _Figures()
        self._priced = False
        self._structured = False  # a structured channel has reported this session's spend

    def new_session(self, resumed: bool = False) -> None:
        """A new runtime process. `resumed`: it continues the last session (its totals go on from
        the old ones, so they are kept); otherwise it starts from zero."""
        if resumed:
            return
        self._totals.clear()
        self._turns.clear()
        self._counted = _Figures()
        self._priced = False
        self._structured = False

    def observe(self, event: Event, source: str = SCREEN) -> Spend | None:
        """The spend this event adds, or None when it adds nothing or is not believable.

        `source`: where the event was read ("screen", or a structured channel's name). Views from
        every source are weighed together, so a turn seen on the screen and in a channel counts once.
        """
        source = getattr(event, "source", None) or source  # a channel's event names its own
        if source != SCREEN:
            # a channel's turns replace the screen's; a channel's session total (Copilot's usage file,
            # written at exit) is one more view, weighed with the screen's live ones
            self._structured = self._structured or not event.total
        elif self._structured:
            return None  # a structured channel reports this session's turns: the screen's copy is not counted
        figures = self._figures(event)
        if figures is None:
            return None
        if event.total:
            key = (source, event.model or None)
            seen = self._totals.get(key)
            new_view = figures if seen is None else seen.top(figures)  # a total that drops adds nothing
            views = dict(self._totals)
            views[key] = new_view
            turns = self._turns
        else:
            views = self._totals
            turns = dict(self._turns)
            turns[source] = turns.get(source, _Figures()).plus(figures)
        counted = self._weigh(views, turns)
        priced = self._priced or event.usd is not None
        delta = Spend(round(max(counted.usd - self._counted.usd, 0.0), 10),
                      max(counted.input_tok - self._counted.input_tok, 0),
                      max(counted.output_tok - self._counted.output_tok, 0), priced,
                      max(counted.cached_tok - self._counted.cached_tok, 0))
        if delta.usd > self.max_usd or max(delta.input_tok, delta.output_tok) > MAX_TOKENS_PER_LINE:
            # the increase one line adds is capped; a running total may grow past the cap, its jump may not
            log.warning("cost line refused (adds $%.2f, %d/%d tokens): %r", delta.usd, delta.input_tok,
                        delta.output_tok, event.raw[:200])
            return None
        if event.total:
            self._totals = views
        else:
            self._turns = turns
        self._counted = self._counted.top(counted)
        self._priced = priced
        if delta.usd <= 0 and delta.input_tok <= 0 and delta.output_tok <= 0:
            return None
        return delta

    def _figures(self, event: Event) -> _Figures | None:
        """The event's figures, input counting cache reads; None when one is not believable."""
        usd = event.usd
        inp = event.input_tokens
        out = event.output_tokens
        cached = event.cached_tokens or 0
        if inp is not None and cached and not event.cached_in_input:
            inp += cached  # the budget counts all input; cache reads are priced apart
        for name, value in (("usd", usd), ("input", inp), ("output", out), ("cached", cached)):
            if value is not None and (value < 0 or value != value or value == float("inf")):
                log.warning("cost line refused (%s=%r): %r", name, value, event.raw[:200])
                return None
        return _Figures(usd or 0.0, inp or 0, out or 0, cached)

    @staticmethod
    def _weigh(totals: dict[tuple[str, str | None], _Figures], turns: dict[str, _Figures]) -> _Figures:
        """The largest view, figure by figure: per source, its whole-session total, the sum of its
        per-model totals, and its per-turn lines added up."""
        best = _Figures()
        parts: dict[str, _Figures] = {}
        for (source, model), figures in totals.items():
            if model is None:
                best = best.top(figures)
            else:
                parts[source] = parts.get(source, _Figures()).plus(figures)
        for figures in list(parts.values()) + list(turns.values()):
            best = best.top(figures)
        return best

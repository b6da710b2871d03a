"""Spend: prices for CLIs that print tokens but no dollars, days in the team's zone, and caps.

A day is a calendar day in the budget zone (compose `budget.tz`, else the host's), so a cap
resets at local midnight, not at UTC midnight. Caps are checked against the `budget` rows, which
every watcher of the team writes, so a cap holds across watcher restarts and across agents.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from ..core import toml_text
from ..core.costs import Spend
from ..core.descriptors.loader import DescriptorError, package_data_dir
from ..core.lazy_dataclass import lazy_dataclass
from ..core.lazyre import LazyPattern
from ..store.journaled import SPEND_TODAY, JournaledStore
from ..store.mailbox import Store
from .waiting import time_with_zone

log = logging.getLogger(__name__)

#: How long a watcher that reached a cap waits for its cost lines to reach the mailbox before it
#: tells the others to check theirs.
CAP_FLUSH_SECONDS = 5.0


@lazy_dataclass(frozen=True)
class Price:
    """USD per million tokens."""

    input: float
    output: float
    cache_read: float | None = None


def load_prices(team_dir: Path | None = None) -> dict[str, Price]:
    """The shipped table (patterns/prices.toml), with the team's `<team dir>/prices.toml` on top."""
    files = [package_data_dir() / "prices.toml"]
    if team_dir is not None:
        files.append(team_dir / "prices.toml")
    prices: dict[str, Price] = {}
    for path in files:
        if not path.is_file():
            continue
        try:
            data = toml_text.loads(path.read_text(encoding="utf-8"))
        except (OSError, toml_text.TomlSyntaxError) as exc:
            raise DescriptorError(path, "", f"cannot read price table: {exc}") from exc
        models = data.get("models", {})
        if not isinstance(models, dict):
            raise DescriptorError(path, "models", "must be a table of models")
        for model, entry in models.items():
            where = f"models.{model}"
            if not isinstance(entry, dict) or not {"input", "output"} <= set(entry):
                raise DescriptorError(path, where, "needs `input` and `output` (USD per million tokens)")
            unknown = set(entry) - {"input", "output", "cache_read"}
            if unknown:
                raise DescriptorError(path, f"{where}.{sorted(unknown)[0]}", "unknown key")
            try:
                prices[model.lower().replace(".", "-")] = Price(float(entry["input"]), float(entry["output"]),
                                              float(entry["cache_read"]) if "cache_read" in entry else None)
            except (TypeError, ValueError):
                raise DescriptorError(path, where, "prices must be numbers") from None
    return prices


# Compiled with the first cost line priced, not at every watcher's start.
# A context tag as Claude Code names it (`claude-opus-4-8[1m]`) is a tag too.
_TAGGED = LazyPattern(r"^(?P<base>.+?)(?:-\d{8}|@[\w.-]+|-latest|-preview(?:-[\w-]+)?|\[\w+\])$")


def find_price(prices: Mapping[str, Price], model: str | None) -> Price | None:
    """The model's exact name, or its name without a date or tag suffix; dots read as dashes.

    No looser prefix match: `claude-opus-4` must not price `claude-opus-4-7`, whose price differs.
    """
    if not model:
        return None
    name = model.lower().replace(".", "-")
    if name in prices:
        return prices[name]
    m = _TAGGED.match(name)
    return prices.get(m.group("base")) if m else None


def tokens_to_usd(price: Price, input_tok: int, output_tok: int, cached_tok: int = 0) -> float:
    """Cached tokens are a subset of input tokens, billed at the cache-read rate when there is one."""
    cached = min(max(cached_tok, 0), max(input_tok, 0))
    cache_rate = price.cache_read if price.cache_read is not None else price.input
    usd = (input_tok - cached) * price.input + cached * cache_rate + output_tok * price.output
    return round(usd / 1_000_000, 10)


def day_start(now: float, tz: ZoneInfo) -> float:
    """Unix time of the last local midnight in `tz`."""
    local = datetime.fromtimestamp(now, tz)
    return datetime.combine(local.date(), time(0), tz).timestamp()


def next_midnight(now: float, tz: ZoneInfo) -> float:
    local = datetime.fromtimestamp(now, tz)
    return datetime.combine(local.date() + timedelta(days=1), time(0), tz).timestamp()


def local_day(ts: float, tz: ZoneInfo) -> date:
    return datetime.fromtimestamp(ts, tz).date()


@lazy_dataclass(frozen=True)
class Caps:
    """The compose `budget` block, as the watchers and `teamctl budget` need it."""

    daily_usd_limit: float | None = None
    per_project: Mapping[str, float] | float | None = None
    warn_threshold_pct: float = 80.0
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    on_cap: tuple[str, ...] = ()
    on_warn: tuple[str, ...] = ()
    report_at: str | None = None  # "07:30" in `tz`: the daily report goes through `on_report`
    on_report: tuple[str, ...] = ()

    def project_limit(self, project_id: str) -> float | None:
        if isinstance(self.per_project, Mapping):
            return self.per_project.get(project_id)
        return self.per_project

    @property
    def any(self) -> bool:
        return self.daily_usd_limit is not None or bool(self.per_project)


@lazy_dataclass(frozen=True)
class CapCheck:
    """Today's spend against the limits: `capped` names the limit reached, `warn` the one near it."""

    project_spend: float
    team_spend: float
    capped: str | None = None
    warn: str | None = None
    until: float | None = None


def check_caps(store: Store, caps: Caps, project_id: str, now: float) -> CapCheck:
    """Has the project (or the whole team) reached its limit for today?"""
    start = day_start(now, caps.tz)
    if isinstance(store, JournaledStore):  # this watcher's cost lines still in its journal count too
        per = store.spend_by_project(start)
    else:
        rows = store.query(SPEND_TODAY, [start])
        per = {r["project_id"]: r["usd"] or 0.0 for r in rows}
    project_spend = per.get(project_id, 0.0)
    team_spend = sum(per.values())
    capped = warn = None
    for label, spent, limit in (("project", project_spend, caps.project_limit(project_id)),
                                ("team", team_spend, caps.daily_usd_limit)):
        if limit is None:
            continue
        if spent >= limit and capped is None:
            capped = f"{label} limit ${limit:.2f} reached (${spent:.2f} today)"
        elif spent >= limit * caps.warn_threshold_pct / 100 and warn is None:
            warn = f"{label} at {spent / limit * 100:.0f}% of ${limit:.2f} (${spent:.2f} today)"
    return CapCheck(project_spend, team_spend, capped, warn, next_midnight(now, caps.tz) if capped else None)


@lazy_dataclass
class DayRow:
    day: date
    project_id: str
    agent_id: str | None
    usd: float = 0.0
    input_tok: int = 0
    output_tok: int = 0


def spend_by_day(rows: Iterable[Mapping], tz: ZoneInfo, by_agent: bool = False) -> list[DayRow]:
    """Budget rows summed per local day and project (and agent), oldest first."""
    table: dict[tuple, DayRow] = defaultdict(lambda: DayRow(date.min, "", None))
    for r in rows:
        key = (local_day(r["observed_at"], tz), r["project_id"], r["agent_id"] if by_agent else None)
        row = table[key]
        row.day, row.project_id, row.agent_id = key
        row.usd += r["usd"] or 0.0
        row.input_tok += r["input_tok"] or 0
        row.output_tok += r["output_tok"] or 0
    return [table[k] for k in sorted(table, key=lambda k: (k[0], k[1], k[2] or ""))]


class Pricer:
    """Dollars for a spend that came as tokens only, from the price table; says once per model when
    there is no price (its tokens are recorded with usd 0)."""

    def __init__(self, prices: Mapping[str, Price]) -> None:
        self.prices = prices
        self._unpriced: set[str] = set()

    def usd(self, spend: Spend, model: str | None) -> float:
        if spend.priced:
            return spend.usd
        price = find_price(self.prices, model)
        if price is None:
            if (model or "") not in self._unpriced:
                self._unpriced.add(model or "")
                log.warning("no price for model %r: its tokens are recorded with usd 0", model)
            return 0.0
        usd = tokens_to_usd(price, spend.input_tok, spend.output_tok, spend.cached_tok)
        log.info("cost priced from the price table (%s): $%.6f", model, usd)
        return usd


class BudgetGuard:
    """One agent's side of the caps: is it to pause, and until when? Runs `on_warn` and `on_cap` once
    per project per local day (the mailbox decides which watcher does), tells the other watchers of
    the capped project or team, and honours `teamctl wake` for the rest of the day."""

    def __init__(self, caps: Caps, store: Store, project_id: str, agent_id: str, runtime: str,
                 run_chain: Callable[[Sequence[str], Mapping[str, object]], object],
                 notice: Callable[[str], None], tell_others: Callable[[bool], None]) -> None:
        self.caps = caps
        self.store = store
        self.project_id = project_id
        self.agent_id = agent_id
        self.runtime = runtime
        self.run_chain = run_chain
        self.notice = notice
        self.tell_others = tell_others
        self._override: date | None = None

    def woken(self, now: float) -> None:
        """`teamctl wake` during a pause: no cap for this agent until the day rolls over."""
        self._override = local_day(now, self.caps.tz)

    def check(self, now: float) -> float | None:
        """The end of the pause (next local midnight) when today's spend has reached a cap, else None."""
        caps = self.caps
        if not caps.any:
            return None
        today = local_day(now, caps.tz)
        if self._override == today:
            return None
        try:
            check = check_caps(self.store, caps, self.project_id, now)
        except Exception as exc:  # an unreadable mailbox must not stop the agent
            log.warning("budget check failed: %s", exc)
            return None
        reason = check.capped or check.warn or ""
        values = {"agent": self.agent_id, "project": self.project_id, "runtime": self.runtime,
                  "usd": round(check.project_spend, 4), "team_usd": round(check.team_spend, 4),
                  "reason": reason, "hit_at": now, "resets_at": check.until, "raw_match": reason,
                  "resets_at_local": time_with_zone(check.until, caps.tz) if check.until else ""}
        if check.warn and not check.capped and self.store.claim_alert(self.project_id, str(today), "warn", now):
            self.notice(f"budget warning: {check.warn}")
            self.run_chain(caps.on_warn, values)
        if not check.capped:
            return None
        if self.store.claim_alert(self.project_id, str(today), "cap", now):
            self.notice(f"budget cap: {check.capped}")
            self.run_chain(caps.on_cap, values)
            # the others read the cap from the mailbox: our cost lines must be in it first (the
            # agent pauses now, so this short wait holds up no output)
            if not self.store.flush(CAP_FLUSH_SECONDS):
                log.warning("cost lines not yet in the mailbox; the other agents see the cap when they are")
            self.tell_others(check.capped.startswith("team"))
        return check.until

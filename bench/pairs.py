"""Ratios that hold on a noisy machine: A and B run in turns (A B A B ...), the ratio is taken pair by
pair, and the median is quoted with the min and max beside it (one slow or lucky run cannot move it)."""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

#: every ratio in bench/ comes from at least this many pairs (the quick mode may use fewer, and says
#: so; the test suite's smoke run sets TEAMCTL_BENCH_PAIRS=1: it checks that each figure prints)
PAIRS = int(os.environ.get("TEAMCTL_BENCH_PAIRS") or 5)


@dataclass(frozen=True)
class Paired:
    """The A and B measurements of each pair, in run order, and A/B pair by pair."""

    a: list[float]
    b: list[float]

    @property
    def ratios(self) -> list[float]:
        return [x / y if y else float("inf") for x, y in zip(self.a, self.b, strict=True)]

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios)


def interleave(a: Callable[[], float], b: Callable[[], float], n: int = PAIRS) -> Paired:
    """Run b then a, n times (B first so neither side always runs on a warm cache); both as measured."""
    xs: list[float] = []
    ys: list[float] = []
    for _ in range(n):
        ys.append(b())
        xs.append(a())
    return Paired(xs, ys)


def spread(values: Sequence[float], fmt: str = "{:.2f}") -> str:
    """`median M (min X, max Y)`."""
    return (f"median {fmt.format(statistics.median(values))} (min {fmt.format(min(values))}, "
            f"max {fmt.format(max(values))})")


def ratio_text(p: Paired, fmt: str = "{:.2f}") -> str:
    """The pair-by-pair ratio, as quoted in every figure line."""
    return f"{spread(p.ratios, fmt)} over {len(p.ratios)} interleaved pairs"

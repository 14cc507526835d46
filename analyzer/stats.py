"""Duration statistics per operation; percentiles use the nearest-rank definition."""
from __future__ import annotations

import math

NS_PER_MS = 1_000_000


def nearest_rank_index(n: int, pct: float) -> int:
    """Where the nearest rank of pct% falls among n sorted values (n > 0)."""
    return min(max(1, math.ceil(pct / 100.0 * n)), n) - 1


def nearest_rank(sorted_values, pct: float):
    """The smallest value with at least pct% of the values at or below it."""
    n = len(sorted_values)
    if not n:
        return None
    return sorted_values[nearest_rank_index(n, pct)]


def ms(ns) -> float | None:
    return None if ns is None else round(ns / NS_PER_MS, 6)


def summarize(durations, failed: int = 0) -> dict:
    """count/total/mean/p50/p95/max in milliseconds for one operation's durations."""
    values = sorted(durations)
    n = len(values)
    total = sum(values)
    return {
        "count": n,
        "failed": failed,
        "total_ms": ms(total),
        "mean_ms": ms(total / n) if n else None,
        "p50_ms": ms(nearest_rank(values, 50)),
        "p95_ms": ms(nearest_rank(values, 95)),
        "max_ms": ms(values[-1]) if n else None,
    }

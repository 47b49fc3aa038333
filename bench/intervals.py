"""Confidence intervals for a median, shared by the latency pass (when to stop timing) and the gate (how precise a
comparison is). Pure statistics: no torch, no records.

The interval is the distribution-free **order-statistic (binomial) interval for the median**: for ``n`` independent
samples, the number ``B`` of them below the true median is Binomial(n, 1/2), so the sorted samples
``x(l) <= x(n - l + 1)`` (1-based) bracket the median with probability ``1 - 2 P(B <= l - 1)``. ``l`` is the largest
index that keeps that probability >= the confidence (scipy.stats.binom). It assumes nothing about the latency
distribution (skewed, heavy-tailed, bimodal), only independent samples; its coverage is at least the nominal level
(it is conservative because B is discrete).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

CONFIDENCE = 0.95


@dataclass(frozen=True)
class MedianCI:
    """The median (linear interpolation, as every percentile of a record) and its confidence interval."""

    median: float
    low: float
    high: float
    n: int
    confidence: float = CONFIDENCE
    bounded: bool = True
    """False when ``n`` is too small for any pair of order statistics to reach the confidence (n < 6 at 95%): the
    interval is then the sample range and says nothing at that level."""

    @property
    def half_width(self) -> float:
        """The larger distance from the median to a bound, relative to the median (0.01 = ±1%)."""
        if self.median <= 0:
            return math.inf
        return max(self.median - self.low, self.high - self.median) / self.median

    def within(self, precision: float) -> bool:
        """Whether the interval lies within ±``precision`` of the median."""
        return self.bounded and self.half_width <= precision


@functools.lru_cache(maxsize=4096)  # the gate asks for the same few block sizes thousands of times
def order_statistic_ranks(n: int, confidence: float = CONFIDENCE, q: float = 0.5) -> tuple[int, int] | None:
    """The 1-based ranks ``(l, u)`` of the ``q``-quantile's interval for ``n`` samples (``(l, n - l + 1)`` for the
    median), or None if ``n`` is too small for that confidence. With B ~ Binomial(n, q) the number of samples below
    the true quantile, ``P(x(l) <= quantile <= x(u)) >= 1 - P(B <= l - 1) - P(B >= u)``."""
    if n < 1:
        return None
    from scipy import stats  # here, not at import: scipy.stats costs a second of every pytest start-up

    tail = (1.0 - confidence) / 2.0
    # the largest l with P(B <= l - 1) <= tail: binom.ppf gives the smallest k with cdf(k) >= tail
    k = int(stats.binom.ppf(tail, n, q))
    lower = (k if stats.binom.cdf(k, n, q) <= tail else k - 1) + 1
    # the smallest u with P(B >= u) <= tail, i.e. cdf(u - 1) >= 1 - tail
    upper = int(stats.binom.ppf(1.0 - tail, n, q)) + 1
    if lower < 1 or upper > n:
        return None
    return lower, upper


def quantile_ci(samples: Sequence[float], q: float = 0.5, confidence: float = CONFIDENCE) -> MedianCI:
    """The ``q``-quantile of ``samples`` (linear interpolation) and its distribution-free interval."""
    values = np.sort(np.asarray(samples, dtype=float))
    if values.size == 0:
        raise ValueError("no samples")
    value = float(np.percentile(values, 100 * q))
    ranks = order_statistic_ranks(values.size, confidence, q)
    if ranks is None:
        return MedianCI(value, float(values[0]), float(values[-1]), int(values.size), confidence, bounded=False)
    low, high = ranks
    return MedianCI(value, float(values[low - 1]), float(values[high - 1]), int(values.size), confidence)


def median_ci(samples: Sequence[float], confidence: float = CONFIDENCE) -> MedianCI:
    """The median of ``samples`` and its distribution-free ``confidence`` interval (order statistics)."""
    return quantile_ci(samples, 0.5, confidence)


def samples_needed(ci: MedianCI, precision: float, safety: float = 1.2) -> int:
    """Samples that would bring ``ci`` to ±``precision``, from the interval's 1/sqrt(n) scaling (x ``safety``).

    The order-statistic interval of a median shrinks like 1/sqrt(n) for any continuous distribution, so a pilot's
    relative half-width ``h`` at ``n`` samples projects to ``n (h / precision)^2``.
    """
    if precision <= 0:
        raise ValueError("precision must be > 0")
    if not ci.bounded or not math.isfinite(ci.half_width):
        return max(2 * ci.n, 6)
    if ci.half_width <= precision:
        return ci.n
    return math.ceil(ci.n * (ci.half_width / precision) ** 2 * safety)

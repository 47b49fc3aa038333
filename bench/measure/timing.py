"""Latency statistics derived from raw per-call samples (the samples are always kept beside them)."""

from __future__ import annotations

import dataclasses
import itertools
import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from bench.measure import PassResult
from bench.spec import MeasureSpec


class UnstableWarning(UserWarning):
    """Latency spread (IQR/median, or between windows) is above the suite's threshold: figures may not reproduce."""


@dataclass(frozen=True)
class LatencyStats:
    latency_p50_ms: float
    latency_p90_ms: float
    latency_p95_ms: float
    latency_p99_ms: float
    latency_mean_ms: float
    latency_std_ms: float
    latency_min_ms: float
    latency_iqr_ms: float
    rounds: int
    unstable: bool
    throughput_items_per_s: float
    repeats: int = 1
    latency_between_spread: float | None = None

    @classmethod
    def from_samples(
        cls,
        samples_ms: Sequence[float],
        batch_size: int,
        unstable_iqr_ratio: float = 0.10,
        *,
        windows: int = 1,
        max_between_spread: float = 0.10,
    ) -> LatencyStats:
        """Percentiles (linear interpolation), mean, sample std, IQR; ``unstable`` when IQR/median is high.

        With ``windows`` > 1 the samples are that many consecutive, equal windows (independent latency passes):
        ``latency_between_spread`` is (max - min) / median of the window medians, and a spread above
        ``max_between_spread`` makes the case ``unstable`` too. Throughput is single-stream: ``batch_size / mean``.
        """
        values = np.asarray(samples_ms, dtype=float)
        if values.size == 0:
            raise ValueError("no latency samples")
        if np.any(values <= 0):
            raise ValueError("latency samples must be > 0")
        p25, p50, p75, p90, p95, p99 = np.percentile(values, [25, 50, 75, 90, 95, 99])
        mean = float(values.mean())
        iqr = float(p75 - p25)
        spread = between_spread(values, windows) if windows > 1 else None
        noisy_between = spread is not None and spread > max_between_spread
        return cls(
            latency_p50_ms=float(p50),
            latency_p90_ms=float(p90),
            latency_p95_ms=float(p95),
            latency_p99_ms=float(p99),
            latency_mean_ms=mean,
            latency_std_ms=float(values.std(ddof=1)) if values.size > 1 else 0.0,
            latency_min_ms=float(values.min()),
            latency_iqr_ms=iqr,
            rounds=int(values.size),
            unstable=bool(iqr / p50 > unstable_iqr_ratio or noisy_between),
            throughput_items_per_s=batch_size / (mean / 1000.0),
            repeats=windows,
            latency_between_spread=spread,
        )


def window_medians(samples_ms: Sequence[float], windows: int) -> list[float]:
    """Median of each of ``windows`` consecutive, equal slices of the samples (the last takes any remainder)."""
    values = np.asarray(samples_ms, dtype=float)
    if windows < 1 or values.size < windows:
        raise ValueError(f"cannot split {values.size} samples into {windows} windows")
    size = values.size // windows
    bounds = [i * size for i in range(windows)] + [values.size]
    return [float(np.median(values[a:b])) for a, b in itertools.pairwise(bounds)]


def between_spread(samples_ms: Sequence[float], windows: int) -> float:
    """(max - min) / median of the window medians: how far apart independent latency windows landed."""
    medians = window_medians(samples_ms, windows)
    return float((max(medians) - min(medians)) / np.median(medians))


@dataclass(frozen=True)
class WarmUp:
    first_call_s: float
    """The first call on this case's inputs, timed alone: it carries one-off work (a recompile for a new shape,
    an ONNX Runtime session for a new thread count), so it is kept out of the per-call estimate."""
    seconds_per_call: float
    """Mean of the calls after the first: sizes the latency pass."""
    calls: int


def warm_up(call: Callable[[], object], seconds: float, clock: Callable[[], float] = time.perf_counter) -> WarmUp:
    """Call ``call`` untimed for ``seconds`` (at least twice): the first call alone, then the rest."""
    start = clock()
    call()
    first_done = clock()
    deadline = start + seconds
    calls = 0
    while True:
        call()
        calls += 1
        now = clock()
        if now >= deadline:
            return WarmUp(first_call_s=first_done - start, seconds_per_call=(now - first_done) / calls, calls=calls + 1)


def rounds_for(seconds_per_call: float, min_time_s: float, min_rounds: int, max_rounds: int) -> int:
    """Rounds (one call each) so the latency pass lasts ``min_time_s``, within ``[min_rounds, max_rounds]``."""
    wanted = math.ceil(min_time_s / max(seconds_per_call, 1e-9))
    return max(min_rounds, min(wanted, max_rounds))


def latency_pass(
    call: Callable[[], object],
    time_calls: Callable[..., list[float]],
    spec: MeasureSpec,
    device: str,
    batch_size: int,
    case_id: str,
) -> PassResult:
    """The latency pass: ``measure.repeats`` windows, each after an untimed warm-up, timed in one ``time_calls``
    (so pytest-benchmark sees every sample); the windows' spread counts towards ``unstable``."""
    windows = spec.repeats_for(device)
    warm = warm_up(call, spec.warmup_s)
    rounds = rounds_for(warm.seconds_per_call, spec.min_time_s / windows, spec.min_rounds, spec.max_rounds)
    if windows == 1:
        samples_ms = time_calls(call, rounds)
    else:
        counter = iter(range(rounds * windows))

        def before_round() -> None:  # untimed: between windows, warm up again
            index = next(counter)
            if index and index % rounds == 0:
                warm_up(call, spec.warmup_s)

        samples_ms = time_calls(call, rounds * windows, before_round=before_round)
    stats = LatencyStats.from_samples(
        samples_ms,
        batch_size,
        spec.unstable_iqr_ratio,
        windows=windows,
        max_between_spread=spec.max_between_spread,
    )
    if stats.unstable:
        iqr_ratio = stats.latency_iqr_ms / stats.latency_p50_ms
        reasons = [f"latency IQR/median = {iqr_ratio:.0%} > {spec.unstable_iqr_ratio:.0%}"] * (
            iqr_ratio > spec.unstable_iqr_ratio
        )
        if (stats.latency_between_spread or 0.0) > spec.max_between_spread:
            reasons.append(
                f"the medians of {windows} windows spread {stats.latency_between_spread:.0%} "
                f"> {spec.max_between_spread:.0%}"
            )
        warnings.warn(
            f"{case_id}: {'; '.join(reasons)}; figures may not be reproducible", UnstableWarning, stacklevel=3
        )
    return PassResult(
        "latency", columns=dataclasses.asdict(stats), extra={"first_call_s": warm.first_call_s}, samples_ms=samples_ms
    )

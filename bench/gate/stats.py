"""Gate statistics: the sample statistic of a timed metric, Mann-Whitney U, Holm's correction, and the cleaning of
blocks of calls that a burst of interference slowed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

Runs = Sequence[Sequence[float]]
"""Raw samples of one side, one list per run, in the order they were taken."""
MIN_SAMPLES = 8
"""Fewer raw samples than this on either side: the timed metric is not comparable."""
BLOCKS_PER_RUN = 10
"""Each run's samples are cut into this many blocks of consecutive calls to find bursts of interference."""
DISTURBED_RATIO = 1.10
"""A block whose median is more than 10% above the side's fastest block median was disturbed: it is dropped."""
MAX_DISTURBED_SHARE = 0.7
"""More than 70% of a side's blocks disturbed: its timed metrics are not comparable (tuned by ``bench calibrate``:
at 0.5 quiet-enough runs were refused, at 0.8 runs disturbed from start to end slipped through as false alarms)."""
# ------------------------------------------------------------------------------------------- statistics


def sample_statistic(metric: str, samples_ms: Sequence[float], batch_size: int = 1) -> float:
    """The metric computed from raw per-call latencies (percentiles by linear interpolation, as the records).

    Throughput is judged as ``batch_size / median latency``: the typical single-stream throughput. The records'
    ``batch_size / mean latency`` is dominated by preemption spikes on a shared machine (calibration saw the mean
    of one case swing by 40% between identical runs while its median moved by under 3%).
    """
    values = np.asarray(samples_ms, dtype=float)
    if metric == "throughput_items_per_s":
        return batch_size / (float(np.median(values)) / 1000.0)
    if metric == "latency_mean_ms":
        return float(values.mean())
    percentile = int(metric.removeprefix("latency_p").removesuffix("_ms"))
    return float(np.percentile(values, percentile))


def mann_whitney_p(baseline_ms: Sequence[float], current_ms: Sequence[float]) -> float:
    """Two-sided Mann-Whitney U p-value of two raw latency samples (asymptotic with tie correction for large n)."""
    from scipy.stats import mannwhitneyu

    return float(mannwhitneyu(baseline_ms, current_ms, alternative="two-sided").pvalue)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (step-down; controls the family-wise error rate, in the input order)."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


@dataclass(frozen=True)
class Undisturbed:
    """The samples of one side left after dropping blocks a busy machine slowed down."""

    samples_ms: np.ndarray
    blocks: int
    dropped: int

    @property
    def dropped_share(self) -> float:
        return self.dropped / self.blocks if self.blocks else 0.0


def undisturbed(runs: Runs, blocks_per_run: int = BLOCKS_PER_RUN, ratio: float = DISTURBED_RATIO) -> Undisturbed:
    """Split each run's samples into consecutive blocks and drop the blocks a neighbour disturbed.

    Interference only ever adds time, and it comes in bursts: a disturbed block's median sits far above the
    side's fastest block median, while blocks of a quiet run agree within 1-2%. Blocks whose median exceeds the
    fastest block median of the side by more than ``ratio`` are dropped. A real slowdown of the code slows every
    block alike, so it is kept (both sides are cleaned separately).
    """
    blocks: list[np.ndarray] = []
    for run in runs:
        values = np.asarray(run, dtype=float)
        count = max(1, min(blocks_per_run, len(values) // MIN_SAMPLES))
        blocks += [b for b in np.array_split(values, count) if len(b)]
    if not blocks:
        return Undisturbed(np.asarray([], dtype=float), 0, 0)
    medians = np.asarray([np.median(b) for b in blocks])
    keep = medians <= medians.min() * ratio
    kept = [b for b, k in zip(blocks, keep, strict=True) if k]
    return Undisturbed(np.concatenate(kept), len(blocks), int((~keep).sum()))


def _as_runs(samples: Sequence[float] | Runs) -> Runs:
    if len(samples) and not isinstance(samples[0], (int, float, np.floating, np.integer)):
        return samples  # already one list per run
    return [samples]


@dataclass(frozen=True)
class TimedFigures:
    """A timed metric on both sides, after dropping disturbed blocks, and the test between them."""

    baseline: float | None
    current: float | None
    p_value: float | None
    reason: str = ""
    """Why the metric is not comparable ("" when it is)."""
    note: str = ""
    pairs: tuple[tuple[float, float], ...] = ()
    """Per interleaved pair of runs, (baseline, current) figures: set when both sides have the same N >= 2 runs."""


def timed_figures(metric: str, baseline: Sequence[float] | Runs, current: Sequence[float] | Runs, batch_size=1):
    """Clean both sides (:func:`undisturbed`), then the metric on each and the Mann-Whitney U p-value."""
    sides = {"baseline": undisturbed(_as_runs(baseline)), "current run": undisturbed(_as_runs(current))}
    for name, side in sides.items():
        if side.dropped_share > MAX_DISTURBED_SHARE:
            return TimedFigures(
                None,
                None,
                None,
                reason=f"{name} disturbed: {side.dropped} of {side.blocks} blocks of calls ran more than "
                f"{DISTURBED_RATIO - 1:.0%} slower than its fastest block (a busy machine); re-run, or use --rerun",
            )
        if len(side.samples_ms) < MIN_SAMPLES:
            return TimedFigures(None, None, None, reason=f"fewer than {MIN_SAMPLES} raw samples in the {name}")
    old, new = sides["baseline"], sides["current run"]
    note = "; ".join(
        f"{side.dropped}/{side.blocks} disturbed blocks dropped in the {name}"
        for name, side in sides.items()
        if side.dropped
    )
    old_runs, new_runs = _as_runs(baseline), _as_runs(current)
    pairs: tuple[tuple[float, float], ...] = ()
    if len(old_runs) == len(new_runs) >= 2:
        pairs = tuple(
            (sample_statistic(metric, a, batch_size), sample_statistic(metric, b, batch_size))
            for a, b in zip(old_runs, new_runs, strict=True)
        )
    return TimedFigures(
        sample_statistic(metric, old.samples_ms, batch_size),
        sample_statistic(metric, new.samples_ms, batch_size),
        mann_whitney_p(old.samples_ms, new.samples_ms),
        note=note,
        pairs=pairs,
    )

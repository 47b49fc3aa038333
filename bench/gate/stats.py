"""Gate statistics: the sample statistic of a timed metric, Mann-Whitney U, Holm's correction, and the cleaning of
blocks of calls that a burst of interference slowed."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from bench.intervals import quantile_ci

Runs = Sequence[Sequence[float]]
"""Raw samples of one side, one list per run, in the order they were taken."""
MIN_SAMPLES = 8
"""Fewer raw samples than this on either side: the timed metric is not comparable."""
BLOCKS_PER_RUN = 10
"""Each run's samples are cut into this many blocks of consecutive calls to find bursts of interference."""
DISTURBED_RATIO = 1.10
"""A block whose median is more than 10% above the side's quiet level (see :data:`QUIET_SHARE`) was disturbed: it
is dropped; more than :data:`NOISE_MULTIPLIER` times the side's own quiet spread, when that is larger."""
QUIET_SHARE = 0.2
"""The quiet level of a side is the median of the block at 20% of the way up from the fastest (the 2nd of 10 blocks,
the 6th of 30): one unusually fast block (the machine briefly idle) must not make every ordinary block look slow.
It stays quiet as long as at most 80% of the blocks are disturbed, beyond :data:`MAX_DISTURBED_SHARE`."""
NOISE_MULTIPLIER = 5.0
"""The quiet spread is (quiet level / fastest block median) - 1: the ordinary block-to-block noise of the case. A
block is disturbed only beyond 5x that (or 10%): a sub-millisecond case whose block medians wander by several percent
is not a busy machine, while bursts of interference (blocks 1.5-3x slower beside quiet ones) still stand out.
Calibrated on synthetic samples (tests/test_gate_precision.py)."""
SAMPLING_MULTIPLIER = 4.0
"""Nor is a block disturbed within 4 standard errors of a block median (from the blocks' own calls): with 20 calls a
block and 30% per-call noise, block medians differ by 10% by chance alone."""
RUN_NOISE = 0.30
"""Relative standard deviation of one run's figure between runs of the same code on this machine (the process's
memory layout, its cores, the machine's load): one run cannot show it, so with a single run a side the gate takes
this value (``gates: {run_noise: ...}``, ``bench gate --run-noise``); with N >= 2 interleaved runs a side it is
measured from the run pairs (pooled with a calibrated value: :class:`RunNoise`). 30% is what ``bench calibrate``
measured on the development machine, a 2-core VM on a shared host, quiet as far as this VM could tell: the cleaned
p50 of the same code had a run-to-run standard deviation of 24.8% (batch 1) and 29.3% (batch 64) over 30 runs, and
an A/A pair of default-suite runs differed by up to +79%. With it one run a side decides only changes beyond about
90%, and says *inconclusive* below that; a dedicated runner should set what ``bench calibrate`` measures there."""
NOISIER_THAN_CALIBRATED = 0.99
"""A calibrated run noise is pooled with the measured run pairs unless the pairs' variance exceeds it beyond the
99th percentile of the F distribution: the machine is noisier now than when it was calibrated, and the pairs alone
decide (with their own, wider, Student's t)."""


@dataclass(frozen=True)
class RunNoise:
    """One run's relative standard deviation between runs of the same code (``gates.run_noise``), and how many runs
    it was measured over (``gates.run_noise_runs``, what ``bench calibrate`` reports; None: assumed, not measured).

    A measured value is evidence with ``runs - 1`` degrees of freedom. With ``--rerun N`` the gate pools it with the
    N run pairs' own spread (the pooled variance, Student's t at ``runs - 1 + N - 1`` degrees of freedom), so three
    runs a side on a calibrated quiet machine are not held back by the t of 2 degrees of freedom (4.30) that three
    pairs alone would get. An assumed value is never pooled: the pairs alone decide, as without it."""

    sd: float
    runs: int | None = None

    @property
    def dof(self) -> int:
        """Degrees of freedom of the calibration (0: assumed)."""
        return self.runs - 1 if self.runs is not None and self.runs >= 2 else 0


def as_run_noise(value: float | RunNoise) -> RunNoise:
    """A bare fraction is an assumed run noise."""
    return value if isinstance(value, RunNoise) else RunNoise(float(value))


Z95 = 1.959963984540054
"""The two-sided 95% normal quantile: a comparison's precision is the half-width of the change's 95% interval."""
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
        seconds = float(np.median(values)) / 1000.0
        return batch_size / seconds if seconds else math.inf  # a median of 5e-324 ms is 0 s: no finite throughput
    if metric == "latency_mean_ms":
        return float(values.mean())
    percentile = int(metric.removeprefix("latency_p").removesuffix("_ms"))
    return float(np.percentile(values, percentile))


def run_samples(samples_ms: Sequence[float]) -> np.ndarray:
    """One run's samples after dropping its disturbed blocks (:func:`undisturbed`) as the pooled sides are, for the
    figure of its run pair: a run whose second half a neighbour slowed by 50% must not read as a 50% change of the
    code in its pair. A run left with fewer than :data:`MIN_SAMPLES` calls is taken whole."""
    kept = undisturbed([samples_ms]).samples_ms
    return kept if len(kept) >= MIN_SAMPLES else np.asarray(samples_ms, dtype=float)


def paired_figures(pairs: Sequence[tuple[float, float]]) -> tuple[float, float] | None:
    """Each side's figure of N >= 2 interleaved run pairs: the geometric mean of its runs' figures, so that current /
    baseline is the geometric mean of the pairs' own ratios, the change :func:`paired_precision` draws its interval
    around. None when fewer than two pairs have positive, finite figures on both sides."""
    usable = _usable_pairs(pairs)
    if len(usable) < 2:
        return None
    logs = np.log(np.asarray([pairs[k] for k in usable], dtype=float))
    return float(np.exp(logs[:, 0].mean())), float(np.exp(logs[:, 1].mean()))


def _usable_pairs(pairs: Sequence[tuple[float, float]]) -> list[int]:
    """The indices of the run pairs whose figures are positive and finite on both sides: those a log change exists
    for (:func:`paired_figures` and :func:`paired_precision` take the same ones)."""
    return [k for k, (a, b) in enumerate(pairs) if 0 < a < math.inf and 0 < b < math.inf]


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
    threshold: float = DISTURBED_RATIO - 1
    """How far above the quiet level a block had to be to be dropped (relative)."""
    drift: float = 0.0
    """How much the case moved within the run: the relative standard deviation of the kept blocks' medians beyond
    what their own sampling spreads them by (:func:`block_drift`); 0 for a steady case."""

    @property
    def dropped_share(self) -> float:
        return self.dropped / self.blocks if self.blocks else 0.0


def undisturbed(runs: Runs, blocks_per_run: int = BLOCKS_PER_RUN, ratio: float = DISTURBED_RATIO) -> Undisturbed:
    """Split each run's samples into consecutive blocks and drop the blocks a neighbour disturbed.

    Interference only ever adds time, and it comes in bursts: a disturbed block's median sits far above the side's
    quiet blocks, while blocks of a quiet run agree within their ordinary noise. Blocks whose median exceeds the
    side's quiet level (:func:`quiet_level`) by more than ``ratio`` - 1, or by more than :data:`NOISE_MULTIPLIER`
    times the quiet spread when that is larger, are dropped. A real slowdown of the code slows every block alike, so
    it is kept (both sides are cleaned separately).
    """
    blocks: list[np.ndarray] = []
    for run in runs:
        values = np.asarray(run, dtype=float)
        count = max(1, min(blocks_per_run, len(values) // MIN_SAMPLES))
        blocks += [b for b in np.array_split(values, count) if len(b)]
    if not blocks:
        return Undisturbed(np.asarray([], dtype=float), 0, 0)
    medians = np.asarray([np.median(b) for b in blocks])
    level, spread = quiet_level(medians)
    threshold = max(ratio - 1.0, NOISE_MULTIPLIER * spread, SAMPLING_MULTIPLIER * block_median_se(blocks))
    keep = medians <= level * (1.0 + threshold)
    kept = [b for b, k in zip(blocks, keep, strict=True) if k]
    drift = block_drift(kept, medians[keep])
    return Undisturbed(np.concatenate(kept), len(blocks), int((~keep).sum()), threshold, drift)


def block_drift(blocks: Sequence[np.ndarray], medians: np.ndarray) -> float:
    """How much a case moved between its blocks: the relative standard deviation of the block medians, less the
    part that sampling alone gives (:func:`block_median_se`), in variance. Block medians of a steady case differ by
    chance by about sqrt(blocks) times the standard error of the run's median (2.4% for 2,400 calls of 30% noise in
    10 blocks), which the within term of a comparison already counts; taken as the run moving, it doubled a calibrated
    1% run noise and made one run a side inconclusive where nothing moved. 0 with fewer than 3 blocks."""
    if medians.size < 3:
        return 0.0
    spread = float(medians.std(ddof=1) / medians.mean())
    return math.sqrt(max(0.0, spread**2 - block_median_se(blocks) ** 2))


def block_median_se(blocks: Sequence[np.ndarray]) -> float:
    """The typical relative standard error of a block's median from its own calls (the median over blocks of their
    order-statistic intervals / (2 x 1.96)): how far apart block medians land by sampling alone."""
    widths = []
    for block in blocks:
        ci = quantile_ci(block, 0.5)
        if ci.bounded and ci.median > 0:
            widths.append((ci.high - ci.low) / (2 * Z95) / ci.median)
    return float(np.median(widths)) if widths else 0.0


def quiet_level(block_medians: np.ndarray) -> tuple[float, float]:
    """A side's quiet level (the block median at :data:`QUIET_SHARE` of the way up from the fastest) and its quiet
    spread (how far that sits above the fastest block, relative): the ordinary block-to-block noise of the case."""
    ordered = np.sort(np.asarray(block_medians, dtype=float))
    level = float(ordered[math.ceil(QUIET_SHARE * ordered.size) - 1])
    return level, (level / float(ordered[0]) - 1.0) if ordered[0] > 0 else 0.0


def _as_runs(samples: Sequence[float] | Runs) -> Runs:
    """One side's samples as one sequence per run: a flat sequence (a list of numbers, a 1-D array) is one run; a
    sequence of lists or arrays is already one per run."""
    if isinstance(samples, np.ndarray):
        return [samples] if samples.ndim == 1 else list(samples)
    if len(samples) and not isinstance(samples[0], (int, float, np.floating, np.integer)):
        return samples  # already one list per run
    return [samples]


@dataclass(frozen=True)
class TimedFigures:
    """A timed metric on both sides, after dropping disturbed blocks, and the test between them.

    With one run a side (or unequal runs) ``baseline`` and ``current`` are the metric of each side's pooled samples;
    with N >= 2 interleaved run pairs they are the geometric means of each side's run figures (:func:`paired_figures`):
    a pooled median behaves like the median of the runs' levels when runs differ more than their calls, which spreads
    1.2-1.3x more than the mean the between-run term measures. The p-value is always the pooled samples'."""

    baseline: float | None
    current: float | None
    p_value: float | None
    reason: str = ""
    """Why the metric is not comparable ("" when it is)."""
    note: str = ""
    pairs: tuple[tuple[float, float], ...] = ()
    """Per interleaved pair of runs, (baseline, current) figures: set when both sides have the same N >= 2 runs."""
    precision: Precision | None = None
    """How precisely the data fix the relative change (the half-width of its 95% interval) and what it is made of."""
    _precision_at: Callable[[float | RunNoise], Precision] | None = field(default=None, repr=False, compare=False)
    _set_aside: Callable[[], SetAside | None] | None = field(default=None, repr=False, compare=False)

    def precision_at(self, run_noise: float | RunNoise) -> Precision | None:
        """The precision the same cleaned samples and run pairs give at another run noise (``bench calibrate`` judges
        each comparison at the default and at a calibrated one), without cleaning and testing them again."""
        return None if self._precision_at is None else self._precision_at(run_noise)

    def set_aside(self) -> SetAside | None:
        """The same comparison without its most outlying run pair (three pairs or more; see :class:`SetAside`)."""
        return None if self._set_aside is None else self._set_aside()


@dataclass(frozen=True)
class SetAside:
    """A comparison of N >= 3 interleaved run pairs, less the pair whose change lies farthest from the pairs' median
    change (in log-ratio): one run of a side that a neighbour slowed for its whole length (+40% on a quiet 1% machine)
    spreads the pairs beyond a calibrated run noise, and the pairs alone then cannot decide a plain 10% change.

    The gate may decide on the other pairs only where :func:`bench.gate.compare.set_aside_verdict` allows: a
    calibrated run noise, pooled with the other pairs, whose runs agree with it on each side, and a pair set aside
    that went the same way as the verdict the others reach, only further. It never turns a comparison into
    "unchanged", nor into the opposite verdict."""

    number: int
    """The pair's place among the pairs, from 1."""
    pair: tuple[float, float]
    """Its (baseline, current) figures."""
    figures: TimedFigures
    """The comparison of the other pairs' runs, cleaned and tested afresh."""
    noise: RunNoise
    """The run noise that comparison was judged at."""


@dataclass(frozen=True)
class Precision:
    """The precision of one timed comparison: the half-width of the 95% interval of the relative change (a
    log-ratio). One run a side: ``sqrt((Z95 * within)^2 + (q * between)^2)`` with ``q`` = Z95 for an assumed run
    noise and Student's t of a calibration's ``runs - 1`` degrees of freedom. N >= 2 run pairs (:attr:`paired`):
    ``t * between``, Student's t with N - 1 degrees of freedom, plus a calibration's ``runs - 1`` when it is pooled."""

    half_width: float
    within: float
    """Standard error from the samples of both sides (their statistics' order-statistic intervals), relative."""
    between: float
    """Standard error of the change from run-to-run variation, relative."""
    run_noise: float
    """One run's relative standard deviation: measured from the run pairs, or the prior (:data:`RUN_NOISE`)."""
    measured: bool
    """Whether ``run_noise`` was measured (N >= 2 runs a side) or assumed."""
    runs: int
    """Runs a side (the smaller side)."""
    prior_dof: int = 0
    """Degrees of freedom of the calibrated run noise in the interval (pooled with the pairs, or taken for one run a
    side); 0: assumed, or not pooled."""
    note: str = ""
    """Why a calibrated run noise was not pooled with the run pairs ("" when it was, or there was none)."""
    paired: bool = False
    """N >= 2 interleaved run pairs: the change is the mean of the pairs' log changes and ``between`` its whole
    standard error, the samples' part included (each pair's change holds its runs' sampling noise; ``within`` is
    that part alone, for information, not added again)."""

    def reruns_for(self, needed: float) -> int | None:
        """Interleaved runs a side (``--rerun N``) that would bring the half-width to ``needed``; ``None`` when the
        samples of a run, not the number of runs, limit the precision (longer windows would help instead)."""
        within = 0.0 if self.paired else self.within  # run pairs: more runs average the samples' part too
        if needed <= 0 or Z95 * within >= needed:
            return None
        # N pairs measure the run-to-run noise, at Student's t with N - 1 degrees of freedom (plus a calibration's)
        for runs in range(2, 1000):
            multiplier = t95(self.prior_dof + runs - 1)
            if math.hypot(Z95 * within, multiplier * self.run_noise * math.sqrt(2 / runs)) <= needed:
                return runs
        return 1000


def within_run_se(metric: str, samples_ms: Sequence[float]) -> float:
    """Relative standard error of a side's figure from its samples alone: for a percentile (and throughput, judged
    on the median) its distribution-free order-statistic interval / (2 x 1.96); for the mean s / sqrt(n)."""
    values = np.asarray(samples_ms, dtype=float)
    if metric == "latency_mean_ms":
        return float(values.std(ddof=1) / math.sqrt(values.size) / values.mean()) if values.size > 1 else math.inf
    q = 0.5 if metric == "throughput_items_per_s" else int(metric.removeprefix("latency_p").removesuffix("_ms")) / 100
    ci = quantile_ci(values, q)
    if not ci.bounded or ci.median <= 0:
        return math.inf
    return float((ci.high - ci.low) / (2 * Z95) / ci.median)


def comparison_precision(
    metric: str,
    old: Undisturbed,
    new: Undisturbed,
    runs: tuple[int, int],
    pairs: Sequence[tuple[float, float]],
    run_noise: float | RunNoise = RUN_NOISE,
    pair_within: Sequence[float] = (),
) -> Precision:
    """The precision of a timed comparison: the samples' own uncertainty, plus the variation between runs.

    With N >= 2 interleaved run pairs, see :func:`paired_precision` (``pair_within``: each pair's relative standard
    error from its runs' samples). Otherwise one run's variation is taken as ``run_noise`` (at Student's t of its
    calibration, or the normal 1.96 for an assumed one), or as the drift of the side's blocks within the run
    (:func:`block_drift`) when that is larger (a case that moved by 10% between blocks of one run will move at least
    as much between two runs at different times), beside the samples' own uncertainty."""
    prior = as_run_noise(run_noise)
    within = math.hypot(within_run_se(metric, old.samples_ms), within_run_se(metric, new.samples_ms))
    if len(pairs) >= 2:
        return paired_precision(pairs, pair_within, within, min(runs), prior)
    noise_old, noise_new = max(prior.sd, old.drift), max(prior.sd, new.drift)
    between = math.sqrt(noise_old**2 / runs[0] + noise_new**2 / runs[1])
    multiplier = t95(prior.dof) if prior.dof else Z95
    half = math.hypot(Z95 * within, multiplier * between)
    return Precision(half, within, between, max(noise_old, noise_new), False, min(runs), prior.dof)


def paired_precision(
    pairs: Sequence[tuple[float, float]],
    pair_within: Sequence[float],
    within: float,
    runs: int,
    prior: RunNoise,
) -> Precision:
    """The precision of the change of N >= 2 interleaved run pairs, centred on the mean of their log changes
    (:func:`paired_figures`): the standard deviation of those changes / sqrt(N), at Student's t with N - 1 degrees
    of freedom. Each pair's change already holds its runs' sampling noise, so nothing is added for the samples.

    A calibrated ``prior`` (see :class:`RunNoise`) is pooled with the pairs unless they spread beyond what it allows
    (:data:`NOISIER_THAN_CALIBRATED`); the calibration measured whole runs at another time, so the pairs' own
    sampling noise (the mean of ``pair_within`` squared; N x ``within`` squared, the pooled sides', where a run's is
    unknown) is added to it first, as one run a side adds it. Earlier the change was the pooled samples' figure
    inside this interval: where runs differ more than their calls, a pooled median behaves like the median of the
    runs' levels, and 95% intervals of A/A comparisons missed zero in 10-13% of them."""
    usable = _usable_pairs(pairs)
    if len(usable) < 2:
        return Precision(math.inf, within, math.inf, math.inf, True, runs, paired=True)
    changes = np.log([pairs[k][1] / pairs[k][0] for k in usable])
    own = [pair_within[k] ** 2 for k in usable] if len(pair_within) == len(pairs) else []
    sampling = float(np.mean(own)) if own and all(math.isfinite(w) for w in own) else len(usable) * within**2
    variance, dof, note = pooled_pair_variance(float(changes.var(ddof=1)), changes.size - 1, prior, sampling)
    between = math.sqrt(variance / changes.size)
    # a standard deviation estimated from N pairs is itself uncertain: Student's t with N - 1 degrees of freedom
    # (4.30 for 3 pairs, 12.7 for 2), not the normal 1.96; a calibration adds its own
    half = t95(dof) * between
    pooled = dof - (changes.size - 1)
    noise = math.sqrt(variance / 2)
    return Precision(half, math.sqrt(sampling / changes.size), between, noise, True, runs, pooled, note, paired=True)


PAIRS_ALONE = "the run pairs spread more"
"""How the note starts that says a calibrated run noise was not pooled (:func:`pooled_pair_variance`)."""


def pooled_pair_variance(measured: float, dof: int, prior: RunNoise, sampling: float = 0.0) -> tuple[float, int, str]:
    """The variance of one pair's change (log-ratio), its degrees of freedom, and a note: the run pairs' own
    (``measured``, with ``dof``), pooled with a calibrated run noise (a pair of independent runs varies by
    ``2 * sd**2``, plus the ``sampling`` variance of this comparison's pairs) unless the pairs are significantly
    noisier than the calibration said."""
    if not prior.dof or prior.sd <= 0:  # assumed, or "trust each run's samples alone": the pairs decide
        return measured, dof, ""
    calibrated = 2.0 * prior.sd**2 + sampling
    from scipy import stats

    if measured / calibrated > float(stats.f.ppf(NOISIER_THAN_CALIBRATED, dof, prior.dof)):
        spread = math.sqrt(measured / 2.0)
        note = (
            f"{PAIRS_ALONE} ({spread:.1%} a run) than the calibrated run noise ({prior.sd:.1%} over "
            f"{prior.runs} runs) allows: judged on the pairs alone"
        )
        return measured, dof, note
    return (prior.dof * calibrated + dof * measured) / (prior.dof + dof), prior.dof + dof, ""


def t95(dof: int) -> float:
    """The two-sided 95% quantile of Student's t with ``dof`` degrees of freedom."""
    from scipy import stats

    return float(stats.t.ppf(0.975, dof))


def timed_figures(
    metric: str,
    baseline: Sequence[float] | Runs,
    current: Sequence[float] | Runs,
    batch_size=1,
    run_noise: float | RunNoise = RUN_NOISE,
    outliers: bool = True,
):
    """Clean both sides (:func:`undisturbed`), then the metric on each (of N >= 2 run pairs: the geometric mean of its
    runs' figures, :func:`paired_figures`), the Mann-Whitney U p-value of the pooled samples and the precision of
    the change (:func:`comparison_precision`); with ``outliers``, the comparison without its most
    outlying run pair is at hand too (:meth:`TimedFigures.set_aside`, computed when asked)."""
    sides = {"baseline": undisturbed(_as_runs(baseline)), "current run": undisturbed(_as_runs(current))}
    for name, side in sides.items():
        if side.dropped_share > MAX_DISTURBED_SHARE:
            return TimedFigures(
                None,
                None,
                None,
                reason=f"{name} disturbed: {side.dropped} of {side.blocks} blocks of calls ran more than "
                f"{side.threshold:.0%} slower than its quiet blocks (a busy machine); re-run, or use --rerun",
            )
        if len(side.samples_ms) < MIN_SAMPLES:
            return TimedFigures(None, None, None, reason=f"fewer than {MIN_SAMPLES} raw samples in the {name}")
    old, new = sides["baseline"], sides["current run"]
    statistics = {name: sample_statistic(metric, side.samples_ms, batch_size) for name, side in sides.items()}
    for name, value in statistics.items():
        if not 0 < value < math.inf:  # samples of 5e-324 ms (or 1e308): a hand-edited or foreign samples file
            return TimedFigures(None, None, None, reason=f"the {name}'s samples give a {metric} of {value:g}")
    notes = [
        f"{side.dropped}/{side.blocks} disturbed blocks dropped in the {name}"
        for name, side in sides.items()
        if side.dropped
    ]
    old_runs, new_runs = _as_runs(baseline), _as_runs(current)
    pairs: tuple[tuple[float, float], ...] = ()
    pair_within: tuple[float, ...] = ()
    if len(old_runs) == len(new_runs) >= 2:
        kept = [(run_samples(a), run_samples(b)) for a, b in zip(old_runs, new_runs, strict=True)]
        pairs = tuple(
            (sample_statistic(metric, a, batch_size), sample_statistic(metric, b, batch_size)) for a, b in kept
        )
        pair_within = tuple(math.hypot(within_run_se(metric, a), within_run_se(metric, b)) for a, b in kept)
        centre = paired_figures(pairs)
        if centre is not None:  # the change the pairs' interval is drawn around (see TimedFigures)
            statistics = {"baseline": centre[0], "current run": centre[1]}

    def precision_at(noise: float | RunNoise) -> Precision:
        return comparison_precision(metric, old, new, (len(old_runs), len(new_runs)), pairs, noise, pair_within)

    def set_aside() -> SetAside | None:
        if len(pairs) < 3 or not all(a > 0 and b > 0 for a, b in pairs):
            return None
        logs = np.log([b / a for a, b in pairs])
        outlier = int(np.argmax(np.abs(logs - np.median(logs))))
        rest = [k for k in range(len(pairs)) if k != outlier]
        others = timed_figures(
            metric, [old_runs[k] for k in rest], [new_runs[k] for k in rest], batch_size, run_noise, outliers=False
        )
        return None if others.reason else SetAside(outlier + 1, pairs[outlier], others, as_run_noise(run_noise))

    precision = precision_at(run_noise)
    return TimedFigures(
        statistics["baseline"],
        statistics["current run"],
        mann_whitney_p(old.samples_ms, new.samples_ms),
        note="; ".join(filter(None, [*notes, precision.note])),
        pairs=pairs,
        precision=precision,
        _precision_at=precision_at,
        _set_aside=functools.cache(set_aside) if outliers else None,
    )

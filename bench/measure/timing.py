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

from bench.errors import BenchError, BenchWarning, counted, percent
from bench.hardware import CPU_WAIT_LIMIT
from bench.intervals import MedianCI, median_ci, samples_needed
from bench.measure import PassResult
from bench.spec import MeasureSpec


class UnstableWarning(BenchWarning):
    """Latency spread (IQR/median, or between windows) is above the suite's threshold: figures may not reproduce."""


class ImpreciseWarning(BenchWarning):
    """The latency pass stopped at ``max_time_s`` (or ``max_rounds``) before the p50 reached ``measure.precision``,
    or ``max_time_s`` stopped it before ``measure.min_rounds`` calls (``extra.min_rounds_cut`` says where), or a
    case too slow for one call a window in ``max_time_s`` ran past it (``extra.max_time_s_passed``)."""


class BusyWarning(BenchWarning):
    """Other processes held the case's cores during its timed calls (``extra.cpu_wait_share`` above
    :data:`bench.hardware.CPU_WAIT_LIMIT`): its timings are not those of a quiet machine."""


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
        sizes: Sequence[int] | None = None,
    ) -> LatencyStats:
        """Percentiles (linear interpolation), mean, sample std, IQR; ``unstable`` when IQR/median is high.

        With ``windows`` > 1 the samples are that many consecutive, equal windows (independent latency passes), or
        windows of ``sizes`` samples each (``max_time_s`` cut some short): ``latency_between_spread`` is
        (max - min) / median of the window medians, and a spread above ``max_between_spread`` makes the case
        ``unstable`` too. Throughput is single-stream: ``batch_size / mean``.
        """
        values = np.asarray(samples_ms, dtype=float)
        if values.size == 0:
            raise ValueError("no latency samples")
        if np.any(values <= 0):
            raise ValueError("latency samples must be > 0")
        p25, p50, p75, p90, p95, p99 = np.percentile(values, [25, 50, 75, 90, 95, 99])
        mean = float(values.mean())
        iqr = float(p75 - p25)
        spread = between_spread(values, windows, sizes) if windows > 1 else None
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


def window_medians(samples_ms: Sequence[float], windows: int, sizes: Sequence[int] | None = None) -> list[float]:
    """Median of each of ``windows`` consecutive, equal slices of the samples (the last takes any remainder), or of
    consecutive slices of ``sizes`` samples each."""
    values = np.asarray(samples_ms, dtype=float)
    if windows < 1 or values.size < windows:
        raise ValueError(f"cannot split {values.size} samples into {windows} windows")
    if sizes is None:
        size = values.size // windows
        bounds = [i * size for i in range(windows)] + [values.size]
    else:
        bounds = list(itertools.accumulate(sizes, initial=0))
        if len(sizes) != windows or bounds[-1] != values.size or 0 in sizes:
            raise ValueError(f"cannot split {values.size} samples into windows of {list(sizes)}")
    return [float(np.median(values[a:b])) for a, b in itertools.pairwise(bounds)]


def between_spread(samples_ms: Sequence[float], windows: int, sizes: Sequence[int] | None = None) -> float:
    """(max - min) / median of the window medians: how far apart independent latency windows landed."""
    medians = window_medians(samples_ms, windows, sizes)
    return float((max(medians) - min(medians)) / np.median(medians))


@dataclass(frozen=True)
class WarmUp:
    first_call_s: float
    """The first call on this case's inputs, timed alone: it carries one-off work (a recompile for a new shape,
    an ONNX Runtime session for a new thread count), so it is kept out of the per-call estimate."""
    seconds_per_call: float
    """Mean of the calls after the first: sizes the latency pass."""
    calls: int


def warm_up(
    call: Callable[[], object],
    seconds: float,
    clock: Callable[[], float] = time.perf_counter,
    rest: Callable[[float], int] | None = None,
) -> WarmUp:
    """Call ``call`` untimed for ``seconds`` (at least twice): the first call alone, then the rest.

    ``rest(seconds_left)``, when given, makes the calls after the first itself and returns how many it made: the
    runner samples the memory pass over them, so the pass costs no calls of its own. If it made none (it failed
    before calling), the warm-up makes its calls as usual."""
    start = clock()
    call()
    first_done = clock()
    deadline = start + seconds
    calls = rest(max(deadline - first_done, 0.0)) if rest is not None else 0
    if calls > 0:
        return WarmUp(first_call_s=first_done - start, seconds_per_call=(clock() - first_done) / calls, calls=calls + 1)
    while True:
        call()
        calls += 1
        now = clock()
        if now >= deadline:
            return WarmUp(first_call_s=first_done - start, seconds_per_call=(now - first_done) / calls, calls=calls + 1)


def rounds_for(
    seconds_per_call: float, min_time_s: float, min_rounds: int, max_rounds: int, max_time_s: float | None = None
) -> int:
    """Rounds (one call each) so the latency pass lasts ``min_time_s``, within ``[min_rounds, max_rounds]``; of
    ``min_rounds`` only as many as ``max_time_s`` affords at ``seconds_per_call`` (at least one): ``max_time_s`` is
    the hard bound, ``min_rounds`` a floor within it."""
    per_call = max(seconds_per_call, 1e-9)
    wanted = math.ceil(min_time_s / per_call)
    floor = min_rounds if max_time_s is None else min(min_rounds, max(1, math.floor(max_time_s / per_call)))
    return max(floor, min(wanted, max_rounds))


@dataclass(frozen=True)
class Timed:
    """The latency pass's samples, window by window, and how precisely they fix the median."""

    windows: list[list[float]]
    ci: MedianCI
    elapsed_s: float
    reached: bool | None
    """Whether the p50's interval came within ``measure.precision``; ``None`` when no precision was asked for."""
    stopped_by: str = ""
    """``max_time_s`` or ``max_rounds`` when the pass stopped before it was done: short of the precision, or of
    ``min_rounds`` (``reached`` then says whether the precision itself was met)."""

    @property
    def samples_ms(self) -> list[float]:
        """Window after window (within a window, in the order timed)."""
        return [value for window in self.windows for value in window]


def rewarm_s(warmup_s: float, per_call_s: float) -> float:
    """The longest a re-warm (:func:`warm_up` for ``warmup_s``) takes at ``per_call_s`` a call: it calls at least
    twice, and its last call may end up to one call past ``warmup_s``."""
    return max(warmup_s, per_call_s) + per_call_s


@dataclass
class _Chunk:
    """The rounds of one ``time_calls``: ``shares[j]`` more for window ``j``, window after window, each share after a
    re-warm where ``rewarm_first`` or it is not the first window's. The ``left_s`` seconds from ``start`` are split
    into one slot a window (what one leaves, the next may use): each window's re-warm (as predicted at the start),
    then an equal part of what the re-warms leave, so a window that re-warms gets as long for its calls as the
    first, which does not. :meth:`before_round` does not start a round, or a share's re-warm and first round,
    predicted to end past its window's slot once the window has its ``least`` calls (``cut`` says it refused one).
    A call is predicted to take the mean call so far (of those timed before, ``seen_s`` over ``seen``, and of this
    chunk's as they end) or the last one, whichever is longer (calls that turn slower are foreseen at once);
    ``estimate_s`` (the warm-up's) before the first."""

    shares: list[int]
    had: list[int]
    least: int
    rewarm: Callable[[], object]
    rewarm_first: bool
    warmup_s: float
    estimate_s: float
    seen_s: float
    seen: int
    start: float
    left_s: float
    last_s: float = 0.0
    made: list[int] = dataclasses.field(init=False)
    ends: list[float] = dataclasses.field(init=False)
    window: int = dataclasses.field(init=False, default=0)
    last: float | None = dataclasses.field(init=False, default=None)
    cut: bool = dataclasses.field(init=False, default=False)

    def __post_init__(self) -> None:
        self.made = [0] * len(self.shares)
        # a slot is its window's re-warm, then an equal part of what the re-warms leave: equal slots took the
        # re-warms off the later windows' calls alone (max_time_s 1 s, warmup_s 0.2: 41, 17 and 16 calls of 8 ms)
        call_s = self.call_s()
        rewarms = [
            rewarm_s(self.warmup_s, call_s) if share and self.rewarms(j) else 0.0 for j, share in enumerate(self.shares)
        ]
        part_s = max(0.0, self.left_s - sum(rewarms)) / max(1, sum(1 for share in self.shares if share))
        slots = [rewarm + (part_s if share else 0.0) for rewarm, share in zip(rewarms, self.shares, strict=True)]
        self.ends = list(itertools.accumulate(slots, initial=self.start))[1:]

    def rewarms(self, j: int) -> bool:
        return self.made[j] == 0 and (j > 0 or self.rewarm_first)

    def call_s(self) -> float:
        """How long the next call is predicted to take."""
        return max(self.seen_s / self.seen, self.last_s) if self.seen else self.estimate_s

    def fits(self, j: int, now: float) -> bool:
        """Whether window ``j``'s next round (after its re-warm, where it needs one) is due to end in its slot, or
        is one of the ``least`` calls it makes whatever the time."""
        if self.had[j] + self.made[j] < self.least:
            return True
        call_s = self.call_s()
        return now + call_s + (rewarm_s(self.warmup_s, call_s) if self.rewarms(j) else 0.0) <= self.ends[j]

    def before_round(self, clock: Callable[[], float], untimed_s: float = 0.0) -> bool | None:
        """Runs before each round: re-warms where a window's share starts; ``False`` ends the rounds there.
        ``untimed_s``: seconds since the last round started that were no part of its call and will not recur
        (pytest-benchmark's profiled call under ``--benchmark-cprofile``): kept out of the prediction."""
        now = clock()
        if self.last is not None:  # the round just made joins the prediction
            self.last_s = max(now - self.last - untimed_s, 0.0)
            self.seen_s, self.seen = self.seen_s + self.last_s, self.seen + 1
        self.last = None
        while self.window < len(self.shares):
            j = self.window
            if self.made[j] < self.shares[j] and self.fits(j, now):
                if self.rewarms(j):
                    self.rewarm()
                self.made[j] += 1
                self.last = clock()
                return None
            self.cut = self.cut or self.made[j] < self.shares[j]
            self.window += 1
        return False


def time_chunk(
    call: Callable[[], object],
    time_calls: Callable[..., list[float]],
    chunk: _Chunk,
    clock: Callable[[], float] = time.perf_counter,
) -> list[list[float]]:
    """One ``time_calls`` for ``chunk``'s shares, split window by window: its ``before_round`` re-warms between
    windows, so they stay independent (one window needs none: its calls simply continue), and ends the rounds
    that would pass the time left. With one window, rounds past those ``before_round`` let start (a ``time_calls``
    that does not ask it) go to that window: none is dropped. With several (``measure.repeats``), a ``time_calls``
    that made other rounds than ``before_round`` let start is a :class:`~bench.errors.BenchError` naming the
    contract: which window a sample belongs to, and whether a re-warm came before it, is then unknown (all went to
    the last window, as one window's samples, never re-warmed)."""
    samples = time_calls(
        call, sum(chunk.shares), before_round=lambda untimed_s=0.0: chunk.before_round(clock, untimed_s)
    )
    if len(chunk.shares) > 1 and len(samples) != sum(chunk.made):
        parts = (getattr(time_calls, "__module__", None), getattr(time_calls, "__qualname__", None))
        name = ".".join(part for part in parts if part)
        raise BenchError(
            f"time_calls {name or type(time_calls).__name__} returned {counted(len(samples), 'sample')} where its "
            f"before_round let {counted(sum(chunk.made), 'round')} start: with measure.repeats "
            f"{len(chunk.shares)} a time_calls must call before_round() before every round and stop where it returns "
            "False (bench.runner.TimeCalls), which re-warms between the windows and keeps to measure.max_time_s; its "
            "samples cannot be told apart by window"
        )
    bounds = list(itertools.accumulate(chunk.made, initial=0))
    bounds[-1] = max(bounds[-1], len(samples))
    return [samples[a:b] for a, b in itertools.pairwise(bounds)]


def look_again(windows: int) -> float:
    """How much a window grows, at most, between two looks at the p50's interval: a quarter with one window (a look
    costs one interval), double with several (each look re-warms every window). The 1/sqrt(n) projection from a
    pilot's few samples asks for far too many when they were noisy or drifting (20 calls at ±5.6% projected 500,
    where the first 75 of the same run were within ±1.22%), and every call past the precision asked for is time
    the user did not need to spend."""
    return 0.25 if windows == 1 else 1.0


def time_until_precise(
    call: Callable[[], object],
    time_calls: Callable[..., list[float]],
    spec: MeasureSpec,
    windows: int,
    rounds: int,
    clock: Callable[[], float] = time.perf_counter,
    per_call_s: float = 0.0,
) -> Timed:
    """Time ``rounds`` calls per window, then, while the p50's 95% interval (:func:`bench.intervals.median_ci`) is
    wider than ±``spec.precision``, time more: as many as the interval's 1/sqrt(n) scaling says are missing (at
    least 10% more, at most :func:`look_again`'s share more before the next look), within ``spec.time_limit_s`` (of
    timed calls and re-warms) and ``spec.max_rounds``. A window still short of ``spec.min_rounds`` (``rounds`` was
    cut to what the time limit seemed to afford) is topped up too, within the same limits.

    No call or re-warm is started that is predicted (:class:`_Chunk`; ``per_call_s``, the warm-up's call, before
    the first) to end past the time limit, once each window has its one call (with a suite's own ``max_time_s``)
    or its ``min_rounds`` (with the default limit, which never cuts them): a call slower than those before it is
    the most the pass can run past the limit, besides those least calls. Windows cut short may differ in length;
    a top-up evens them out first."""
    per_window: list[list[float]] = [[] for _ in range(windows)]
    elapsed, shares = 0.0, [rounds] * windows
    least = spec.min_rounds if spec.max_time_s is None else 1  # a window's calls no time limit refuses

    def rewarm() -> None:
        warm_up(call, spec.warmup_s, clock)

    while True:
        pooled = [v for w in per_window for v in w]
        left_s, start = spec.time_limit_s - elapsed, clock()
        # the first window follows the pass's own warm-up; every later window share is re-warmed
        chunk = _Chunk(
            shares,
            had=[len(w) for w in per_window],
            least=least,
            rewarm=rewarm,
            rewarm_first=windows > 1 and bool(pooled),
            warmup_s=spec.warmup_s,
            estimate_s=per_call_s,
            seen_s=sum(pooled) / 1000.0,
            seen=len(pooled),
            start=start,
            left_s=left_s,
            last_s=pooled[-1] / 1000.0 if pooled else 0.0,
        )
        chunks = time_chunk(call, time_calls, chunk, clock)
        # the time limit counts the calls and re-warms, not the interval's arithmetic (whose first use imports
        # scipy: a second that would otherwise come off the first case's budget)
        elapsed += clock() - start
        for window, more in zip(per_window, chunks, strict=True):
            window.extend(more)
        pooled = [v for w in per_window for v in w]
        ci = median_ci(pooled)
        done = min(len(w) for w in per_window)
        precise = spec.precision is None or ci.within(spec.precision)
        reached = None if spec.precision is None else precise
        if precise and done >= spec.min_rounds:
            return Timed(per_window, ci, elapsed, reached)
        if chunk.cut:  # the next call would have ended past the time limit
            return Timed(per_window, ci, elapsed, reached, "max_time_s")
        wanted = spec.min_rounds - done
        if not precise:
            needed = math.ceil(samples_needed(ci, spec.precision) / windows) - done
            step = max(needed, math.ceil(0.1 * done), 1)
            # a projection from a few noisy samples can ask for ten times too many: look again after a share more
            wanted = max(wanted, min(step, max(math.ceil(look_again(windows) * done), 1)))
        call_s = float(np.mean(pooled)) / 1000.0  # the mean: slow calls spend the budget too
        rewarms_s = rewarm_s(spec.warmup_s, call_s) * windows if windows > 1 else 0.0
        affordable = math.floor((spec.time_limit_s - elapsed - rewarms_s) / max(call_s * windows, 1e-9))
        more = min(wanted, affordable, spec.max_rounds - done)
        if more < 1:
            stopped_by = "max_rounds" if done >= spec.max_rounds else "max_time_s"
            return Timed(per_window, ci, elapsed, reached, stopped_by)
        shares = [max(0, done + more - len(w)) for w in per_window]


def latency_pass(
    call: Callable[[], object],
    time_calls: Callable[..., list[float]],
    spec: MeasureSpec,
    device: str,
    batch_size: int,
    case_id: str,
    clock: Callable[[], float] = time.perf_counter,
    warm_rest: Callable[[float], int] | None = None,
    cpu_wait: Callable[[], int | None] | None = None,
    threads: int = 1,
) -> PassResult:
    """The latency pass: ``measure.repeats`` windows, each after an untimed warm-up, timed until the p50 is known
    to ``measure.precision`` (:func:`time_until_precise`); the windows' spread counts towards ``unstable``.
    ``warm_rest`` makes the first warm-up's calls after its first (:func:`warm_up`).

    A suite's own ``measure.max_time_s`` bounds the pass, ``measure.min_rounds`` included: a case too slow for that
    many calls a window in that time gets the calls the time affords (at least one a window), ``extra.min_rounds_cut``
    says so and the pass warns (:class:`ImpreciseWarning`). The default limit (5 x ``min_time_s``) never cuts
    ``min_rounds``: a suite that asks for that many calls and sets no bound gets them.

    ``cpu_wait`` (:func:`bench.hardware.run_queue_wait_ns`), read before and after the timed windows, gives
    ``extra.cpu_wait_share``: the share of the ``threads`` threads' time in those windows spent waiting for a CPU
    that another process held (0 on a quiet machine; ``bench gate`` does not judge timings taken above
    :data:`bench.hardware.CPU_WAIT_LIMIT`, and the pass warns: :class:`BusyWarning`)."""
    windows = spec.repeats_for(device)
    warm = warm_up(call, spec.warmup_s, clock, warm_rest)
    budget_s = None  # the default limit (5 x min_time_s) leaves min_rounds whole: only a suite's own bound cuts it
    if spec.max_time_s is not None:  # a window's share, less its re-warm
        rewarms_s = (windows - 1) * rewarm_s(spec.warmup_s, warm.seconds_per_call)
        budget_s = (spec.max_time_s - rewarms_s) / windows
    rounds = rounds_for(warm.seconds_per_call, spec.min_time_s / windows, spec.min_rounds, spec.max_rounds, budget_s)
    waited_before, started = (cpu_wait() if cpu_wait else None), time.perf_counter()
    timed = time_until_precise(call, time_calls, spec, windows, rounds, clock, warm.seconds_per_call)
    elapsed, waited_after = time.perf_counter() - started, (cpu_wait() if cpu_wait else None)
    extra: dict[str, float | str] = {"first_call_s": warm.first_call_s}
    if waited_before is not None and waited_after is not None and elapsed > 0:
        waited_s = max(0, waited_after - waited_before) / 1e9
        extra["cpu_wait_share"] = round(min(1.0, waited_s / (elapsed * max(1, threads))), 4)
        if extra["cpu_wait_share"] > CPU_WAIT_LIMIT:
            warnings.warn(
                f"{case_id}: its threads waited for a CPU {extra['cpu_wait_share']:.0%} of the time of its timed "
                "calls: other processes held its cores, so its timings are not a quiet machine's (bench gate does "
                "not judge them); run it again on a quiet machine",
                BusyWarning,
                stacklevel=3,
            )
    samples_ms = timed.samples_ms
    stats = LatencyStats.from_samples(
        samples_ms,
        batch_size,
        spec.unstable_iqr_ratio,
        windows=windows,
        max_between_spread=spec.max_between_spread,
        sizes=[len(window) for window in timed.windows],
    )
    if stats.unstable:
        _warn_unstable(stats, spec, windows, case_id)
    if timed.reached is False:
        warnings.warn(
            f"{case_id}: the p50's 95% interval is ±{timed.ci.half_width:.1%} after {len(samples_ms)} calls in "
            f"{timed.elapsed_s:.2f} s, wider than measure.precision ±{spec.precision:.1%}: stopped by "
            f"{timed.stopped_by} ({_limit(spec, timed.stopped_by)})",
            ImpreciseWarning,
            stacklevel=3,
        )
    calls = min(len(window) for window in timed.windows)  # a window's (the fewest, where max_time_s cut one short)
    most = max(len(window) for window in timed.windows)
    if calls < spec.min_rounds:
        extra["min_rounds_cut"] = (
            f"measure.max_time_s {spec.time_limit_s:g} s stopped the latency pass at {calls}"
            + (f" to {most}" if most > calls else "")
            + f" of measure.min_rounds {spec.min_rounds} calls"
            + (" a window" if windows > 1 else "")
        )
        warnings.warn(
            f"{case_id}: {extra['min_rounds_cut']} ({stats.latency_mean_ms:.3g} ms a call on average); "
            "its figures rest on fewer calls than the suite asks for (extra.min_rounds_cut): raise measure.max_time_s "
            "or lower measure.min_rounds",
            ImpreciseWarning,
            stacklevel=3,
        )
    if spec.max_time_s is not None and timed.elapsed_s > spec.max_time_s and calls == 1:
        _passed_max_time(extra, spec, timed.elapsed_s, windows, stats.latency_mean_ms, case_id)
    columns = {
        **dataclasses.asdict(stats),
        "latency_p50_ci_low_ms": timed.ci.low,
        "latency_p50_ci_high_ms": timed.ci.high,
        "precision_reached": timed.reached,
    }
    return PassResult("latency", columns=columns, extra=extra, samples_ms=samples_ms)


def _passed_max_time(
    extra: dict, spec: MeasureSpec, elapsed_s: float, windows: int, mean_ms: float, case_id: str
) -> None:
    """The one rule ``max_time_s`` gives way to: a window's first call (and its re-warm) is made whatever the time
    left, and a case too slow for that ran past the limit. The record says so (``extra.max_time_s_passed``)."""
    least = "one call a window, each after its re-warm," if windows > 1 else "one call"
    extra["max_time_s_passed"] = (
        f"the latency pass took {elapsed_s:.3g} s, past measure.max_time_s {spec.max_time_s:g} s: it makes at least "
        f"{least} whatever the time, and at {mean_ms:.3g} ms a call that did not fit in it"
    )
    warnings.warn(
        f"{case_id}: {extra['max_time_s_passed']} (extra.max_time_s_passed): raise measure.max_time_s",
        ImpreciseWarning,
        stacklevel=4,
    )


def _limit(spec: MeasureSpec, stopped_by: str) -> str:
    return f"{spec.max_rounds} rounds" if stopped_by == "max_rounds" else f"{spec.time_limit_s:g} s"


def _above(value: float, limit: float) -> str:
    """``value > limit``, each shown to as many decimals as keep ``value`` above the limit it passed: an IQR of
    10.3% of the median against a 10% limit read "10% > 10%"."""
    return f"{percent(value, math.nextafter(limit, math.inf))} > {percent(limit, limit)}"


def _warn_unstable(stats: LatencyStats, spec: MeasureSpec, windows: int, case_id: str) -> None:
    iqr_ratio = stats.latency_iqr_ms / stats.latency_p50_ms
    reasons = [f"latency IQR/median = {_above(iqr_ratio, spec.unstable_iqr_ratio)}"] * (
        iqr_ratio > spec.unstable_iqr_ratio
    )
    if (stats.latency_between_spread or 0.0) > spec.max_between_spread:
        spread = _above(stats.latency_between_spread, spec.max_between_spread)
        reasons.append(f"the medians of {windows} windows spread {spread}")
    warnings.warn(f"{case_id}: {'; '.join(reasons)}; figures may not be reproducible", UnstableWarning, stacklevel=4)

"""Precision-driven latency: the median's order-statistic interval and the rule that stops timing."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import stats

from bench.intervals import median_ci, order_statistic_ranks, samples_needed
from bench.measure import timing
from bench.measure.timing import ImpreciseWarning, latency_pass
from bench.spec import MeasureSpec

# The fake clocks here draw from wide distributions on purpose; that such a case is unstable is said where it matters
pytestmark = pytest.mark.filterwarnings("ignore::bench.measure.timing.UnstableWarning")

DISTRIBUTIONS = {
    # name: (sampler, true median)
    "normal": (lambda rng, n: rng.normal(10.0, 1.0, n), 10.0),
    "lognormal": (lambda rng, n: rng.lognormal(0.0, 0.6, n), 1.0),
    "exponential": (lambda rng, n: 0.5 + rng.exponential(1.0, n), 0.5 + np.log(2.0)),
    "pareto": (lambda rng, n: 1.0 + rng.pareto(2.5, n), 2.0 ** (1 / 2.5)),  # heavy right tail, like latencies
}


@pytest.mark.parametrize("name", DISTRIBUTIONS)
@pytest.mark.parametrize("n", [20, 57, 300])
def test_the_median_interval_covers_the_true_median_at_least_93_percent_of_the_time(name, n):
    sampler, true_median = DISTRIBUTIONS[name]
    rng = np.random.default_rng(12)
    trials = 400
    covered = sum(ci.low <= true_median <= ci.high for ci in (median_ci(sampler(rng, n)) for _ in range(trials)))
    assert covered / trials >= 0.93


def test_the_ranks_are_the_binomial_ones():
    # n = 20 at 95%: P(B <= 5) = 0.021 <= 0.025 < P(B <= 6) = 0.058, so the 6th and 15th order statistics
    assert order_statistic_ranks(20) == (6, 15)
    for n in (6, 20, 101, 1000):
        low, high = order_statistic_ranks(n)
        assert high == n - low + 1
        assert 1 - 2 * stats.binom.cdf(low - 1, n, 0.5) >= 0.95 > 1 - 2 * stats.binom.cdf(low, n, 0.5)
    assert order_statistic_ranks(5) is None  # 1 - 2 / 32 < 95%: no interval from five samples


def test_too_few_samples_give_an_unbounded_interval_that_never_meets_a_precision():
    ci = median_ci([1.0, 1.0, 1.0])
    assert not ci.bounded and not ci.within(0.5)


def test_the_interval_narrows_like_one_over_root_n_and_projects_the_samples_needed():
    rng = np.random.default_rng(3)
    small, large = median_ci(rng.lognormal(0, 0.3, 100)), median_ci(rng.lognormal(0, 0.3, 10_000))
    assert 5 < small.half_width / large.half_width < 20  # sqrt(100) = 10
    needed = samples_needed(small, small.half_width / 4, safety=1.0)
    assert 14 * 100 <= needed <= 17 * 100  # (4x narrower) -> 16x the samples
    assert samples_needed(small, 1.0) == small.n  # already there


class FakeClock:
    """A clock that moves only when the fake model is called: each call takes the next drawn duration."""

    def __init__(self, durations_ms):
        self.now = 0.0
        self.durations = iter(durations_ms)
        self.calls = 0

    def __call__(self) -> float:
        return self.now

    def call(self) -> None:
        self.now += next(self.durations) / 1000.0
        self.calls += 1

    def time_calls(self, call, rounds, before_round=None):
        samples = []
        for _ in range(rounds):
            if before_round is not None and before_round() is False:
                break
            start = self.now
            call()
            samples.append((self.now - start) * 1000.0)
        return samples


SPEC = MeasureSpec(warmup_s=0.01, min_time_s=0.1, min_rounds=20, max_time_s=5.0, precision=0.01, energy=False)


def run(durations_ms, spec=SPEC, device="cpu"):
    clock = FakeClock(durations_ms)
    result = latency_pass(clock.call, clock.time_calls, spec, device, 1, "s::m[fp32-cpu-1t-bs1]", clock=clock)
    return result, clock


def test_a_steady_case_stops_at_the_minimum_and_a_noisy_one_keeps_timing():
    rng = np.random.default_rng(0)
    steady, steady_clock = run(1.0 + rng.normal(0, 0.005, 1_000_000).clip(-0.5, 0.5))
    noisy, noisy_clock = run(1.0 * rng.lognormal(0, 0.25, 1_000_000))
    assert steady.columns["precision_reached"] is True and noisy.columns["precision_reached"] is True
    assert steady.columns["rounds"] == 100  # min_time_s / 1 ms: enough already
    assert noisy.columns["rounds"] > 5 * steady.columns["rounds"]
    assert steady_clock.now < noisy_clock.now
    for result in (steady, noisy):
        columns = result.columns
        assert columns["latency_p50_ci_low_ms"] <= columns["latency_p50_ms"] <= columns["latency_p50_ci_high_ms"]
        half = max(
            columns["latency_p50_ms"] - columns["latency_p50_ci_low_ms"],
            columns["latency_p50_ci_high_ms"] - columns["latency_p50_ms"],
        )
        assert half <= 0.01 * columns["latency_p50_ms"]
        assert len(result.samples_ms) == columns["rounds"]


def test_a_noisy_start_does_not_commit_the_pass_to_what_its_few_samples_projected():
    # 20 drifting calls (an interval of about ±15%), then steady ones: the 1/sqrt(n) projection from the first 20 asks
    # for thousands, where a few dozen reach ±1%; the pass looks again after a quarter more, and stops soon after
    rng = np.random.default_rng(5)
    durations = np.concatenate([rng.lognormal(0, 0.3, 20), 1.0 + rng.normal(0, 0.01, 1_000_000)])
    spec = dataclasses.replace(SPEC, min_time_s=0.02, max_time_s=60.0)
    result, clock = run(durations, spec)
    timed = durations[clock.calls - result.columns["rounds"] :]  # the warm-up's calls came first
    first_precise = next(n for n in range(20, 10_000) if median_ci(timed[:n]).within(0.01))
    assert result.columns["precision_reached"] is True
    assert first_precise <= result.columns["rounds"] <= 2 * first_precise


def test_a_case_that_hits_max_time_first_is_flagged_with_a_warning():
    rng = np.random.default_rng(1)
    spec = dataclasses.replace(SPEC, max_time_s=0.3)
    with pytest.warns(ImpreciseWarning, match=r"wider than measure.precision ±1.0%: stopped by max_time_s \(0.3 s\)"):
        result, clock = run(rng.lognormal(0, 1.0, 1_000_000), spec)
    assert result.columns["precision_reached"] is False
    assert 0.25 <= clock.now <= 0.3 + 0.05  # it used the time it had and stopped there


def test_max_time_s_bounds_min_rounds_too_and_a_case_cut_short_of_them_is_flagged():
    """min_rounds was a floor no limit capped: a million rounds of a 25 ms case ran about 7 hours past max_time_s."""
    spec = dataclasses.replace(SPEC, min_rounds=100_000, max_rounds=1_000_000, max_time_s=5.0)
    cut = r"measure.max_time_s 5 s stopped the latency pass at \d+ of measure.min_rounds 100000 calls \(25 ms a call"
    with pytest.warns(ImpreciseWarning, match=cut):
        result, clock = run(np.full(1_000_000, 25.0), spec)
    rounds = result.columns["rounds"]
    assert clock.now <= spec.warmup_s + 0.05 + spec.max_time_s  # the warm-up, then at most max_time_s
    assert 5.0 / 0.025 * 0.9 <= rounds < spec.min_rounds  # it used the time it had, and stopped there
    assert result.extra["min_rounds_cut"].startswith(f"measure.max_time_s 5 s stopped the latency pass at {rounds} ")
    assert result.columns["precision_reached"] is True  # the p50 itself is as precise as asked
    assert len(result.samples_ms) == rounds


def test_the_default_time_limit_never_cuts_min_rounds():
    """Review: the cut applied to the default limit too (5 x min_time_s), so that with the defaults every CPU case
    slower than 250 ms a call (77 ms on CUDA's three windows) lost rounds the suite asked for, and below 8 samples
    the gate could not judge it. Only a suite's own max_time_s is a bound on min_rounds."""
    spec = dataclasses.replace(SPEC, min_rounds=20, min_time_s=1.0, max_time_s=None, precision=None)
    result, _ = run(np.full(1000, 400.0), spec)  # 20 x 400 ms = 8 s, past the default limit of 5 s
    assert result.columns["rounds"] == 20 and "min_rounds_cut" not in result.extra


def test_a_window_cut_to_what_the_warm_up_suggested_is_topped_up_to_min_rounds_while_time_is_left():
    # the warm-up's calls take 50 ms, the timed ones 10 ms: 21 rounds fit max_time_s by the warm-up, 100 really do
    spec = dataclasses.replace(SPEC, min_rounds=100, min_time_s=0.1, max_time_s=1.05, precision=None)
    result, clock = run(np.concatenate([[50.0, 50.0], np.full(10_000, 10.0)]), spec)
    assert result.columns["rounds"] == spec.min_rounds
    assert "min_rounds_cut" not in result.extra and clock.now <= 0.1 + spec.max_time_s + 1e-6  # warm-up + limit


def test_re_warms_count_against_max_time_s():
    """Each re-warm makes two calls at least (and may end a call past warmup_s), but the plan counted warmup_s for
    it: three windows of 100 ms calls with warmup_s 0.01 took 1.3 s of a 1 s max_time_s."""
    spec = dataclasses.replace(SPEC, repeats=3, warmup_s=0.01, min_time_s=0.1, max_time_s=1.0, precision=None)
    with pytest.warns(ImpreciseWarning, match="min_rounds_cut"):
        result, clock = run(np.full(1000, 100.0), spec)
    assert clock.now <= 2 * 0.1 + spec.max_time_s + 1e-9  # the warm-up's two calls, then at most max_time_s
    assert result.columns["rounds"] >= 3 and "max_time_s_passed" not in result.extra  # one call a window did fit


def test_a_first_batch_slower_than_the_warm_up_said_stops_at_max_time_s():
    """The first rounds were sized by the warm-up's calls (10 ms) and timed in one go: at 100 ms a call they took
    1.9 s of a 0.5 s max_time_s. Now no call is started that is due to end past it."""
    spec = dataclasses.replace(SPEC, warmup_s=0.02, min_time_s=0.1, max_time_s=0.5, precision=None)
    with pytest.warns(ImpreciseWarning, match="stopped the latency pass at 5 of measure.min_rounds 20 calls"):
        result, clock = run(np.concatenate([np.full(3, 10.0), np.full(1000, 100.0)]), spec)
    assert clock.now <= 0.02 + spec.max_time_s + 1e-9  # the warm-up's two calls, then at most max_time_s
    assert result.columns["rounds"] == 5 == len(result.samples_ms)  # every call that fitted, and no more


def test_windows_cut_short_unequally_keep_their_samples_and_their_own_medians():
    # window 0 at 10 ms a call; from its first re-warm on, 100 ms: the later windows fit fewer calls in their slots
    spec = dataclasses.replace(SPEC, repeats=3, warmup_s=0.01, min_time_s=0.1, max_time_s=1.0, precision=None)
    with pytest.warns(ImpreciseWarning, match=r"stopped the latency pass at \d+ to 20 of measure.min_rounds 20"):
        result, clock = run(np.concatenate([np.full(22, 10.0), np.full(1000, 100.0)]), spec)
    assert clock.now <= 0.02 + spec.max_time_s + 1e-9
    columns, samples = result.columns, result.samples_ms
    assert columns["rounds"] == len(samples) and samples[:20] == pytest.approx([10.0] * 20) and len(samples) < 60
    assert columns["latency_between_spread"] == pytest.approx((100 - 10) / 100)  # the windows' own medians


def test_the_windows_share_the_time_a_suite_gives_alike_the_re_warms_set_aside_first():
    """Each window's slot was an equal part of max_time_s, but the later windows spend their re-warm inside theirs:
    three windows of 8 ms calls, warmup_s 0.2 and max_time_s 1 got 41, 17 and 16 calls, cut short of min_rounds 20
    that an even split (about 24 each) affords."""
    spec = dataclasses.replace(SPEC, repeats=3, warmup_s=0.2, min_time_s=1.0, max_time_s=1.0, precision=None)
    clock = FakeClock(np.full(100_000, 8.0))
    windows = []
    original = timing.time_until_precise

    def kept(*args, **kwargs):
        timed = original(*args, **kwargs)
        windows.extend(len(window) for window in timed.windows)
        return timed

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(timing, "time_until_precise", kept)
        result = latency_pass(clock.call, clock.time_calls, spec, "cpu", 1, "s::m[fp32-cpu-1t-bs1]", clock=clock)
    assert "min_rounds_cut" not in result.extra and "max_time_s_passed" not in result.extra
    assert min(windows) >= spec.min_rounds and max(windows) - min(windows) <= 2  # an even split of the time
    assert sum(windows) == result.columns["rounds"] == len(result.samples_ms)
    assert clock.now <= 0.2 + 0.008 + spec.max_time_s + 1e-9  # the warm-up, then at most max_time_s


@pytest.mark.parametrize("repeats", [1, 3])
def test_a_case_too_slow_for_one_call_a_window_in_max_time_s_says_it_passed_it(repeats):
    spec = dataclasses.replace(SPEC, repeats=repeats, warmup_s=0.01, min_time_s=0.1, max_time_s=0.5, precision=None)
    with pytest.warns(ImpreciseWarning) as caught:
        result, _ = run(np.full(1000, 2000.0), spec)  # 2 s a call
    assert result.columns["rounds"] == repeats  # one call a window, whatever the limit
    passed = result.extra["max_time_s_passed"]
    assert passed.startswith("the latency pass took ") and "past measure.max_time_s 0.5 s" in passed
    assert any("extra.max_time_s_passed" in str(w.message) for w in caught)
    assert "min_rounds_cut" in result.extra


def test_a_case_that_fits_its_time_limit_says_nothing_about_passing_it():
    spec = dataclasses.replace(SPEC, min_rounds=1, min_time_s=0.1, max_time_s=0.5, precision=None)
    result, _ = run(np.full(1000, 10.0), spec)
    assert "max_time_s_passed" not in result.extra and "min_rounds_cut" not in result.extra


def test_the_time_limit_counts_the_calls_not_the_interval_arithmetic(monkeypatch):
    """The interval's first use imports scipy (about a second on a small machine): that must not come off the
    first case's time budget and stop it after its first chunk."""
    import bench.measure.timing as timing

    clock = FakeClock(np.random.default_rng(1).lognormal(0, 1.0, 1_000_000))

    real_ci, intervals = timing.median_ci, []

    def slow_first_ci(samples):
        if not intervals:
            clock.now += 10.0  # a slow import, on the same clock
        intervals.append(len(samples))
        return real_ci(samples)

    monkeypatch.setattr(timing, "median_ci", slow_first_ci)
    spec = dataclasses.replace(SPEC, max_time_s=0.3)
    with pytest.warns(ImpreciseWarning, match=r"after \d+ calls in 0.[23]\d s"):
        result = latency_pass(clock.call, clock.time_calls, spec, "cpu", 1, "s::m[fp32-cpu-1t-bs1]", clock=clock)
    assert result.columns["rounds"] > 2 * SPEC.min_rounds  # it went on timing after the slow first interval


def test_max_rounds_bounds_the_pass_too():
    rng = np.random.default_rng(2)
    spec = dataclasses.replace(SPEC, max_rounds=150)
    with pytest.warns(ImpreciseWarning, match="stopped by max_rounds"):
        result, _ = run(rng.lognormal(0, 1.0, 1_000_000), spec)
    assert result.columns["rounds"] == 150


def test_without_a_precision_the_pass_is_exactly_min_time_s():
    rng = np.random.default_rng(4)
    clock = FakeClock(rng.lognormal(0, 1.0, 1_000_000))
    chunks = []

    def time_calls(call, rounds, before_round=None):
        chunks.append(rounds)
        return clock.time_calls(call, rounds, before_round)

    spec = dataclasses.replace(SPEC, precision=None)
    result = latency_pass(clock.call, time_calls, spec, "cpu", 1, "s::m", clock=clock)
    assert len(chunks) == 1 and result.columns["rounds"] == chunks[0]  # one window of min_time_s, as before
    assert result.columns["precision_reached"] is None
    assert result.columns["latency_p50_ci_low_ms"] < result.columns["latency_p50_ci_high_ms"]


def test_repeats_grow_every_window_alike_and_rewarm_before_each_share():
    rng = np.random.default_rng(5)
    spec = dataclasses.replace(SPEC, repeats=3, max_time_s=10.0)  # time enough: this is not about the limit
    clock = FakeClock(rng.lognormal(0, 0.25, 1_000_000))
    rewarms = []
    original = clock.time_calls

    def time_calls(call, rounds, before_round=None):
        counted = None if before_round is None else (lambda: (rewarms.append(clock.calls), before_round())[1])
        return original(call, rounds, counted)

    result = latency_pass(clock.call, time_calls, spec, "cpu", 1, "s::m", clock=clock)
    columns = result.columns
    assert columns["precision_reached"] is True and columns["repeats"] == 3
    assert columns["rounds"] % 3 == 0 and columns["rounds"] > 3 * 34  # topped up beyond min_time_s / 3 per window
    assert columns["latency_between_spread"] is not None
    assert len(rewarms) == columns["rounds"]  # before_round runs before every round


def test_a_time_calls_that_never_asks_before_round_fails_its_case_under_repeats_naming_the_contract(tmp_path):
    """Was: its samples all went to the last window (0, 0 and 9606 calls), never re-warmed, and the pass went on to
    report a spread between windows it never made; with one window they are all that window's, as before."""
    from bench.errors import BenchError
    from bench.results import RunWriter
    from bench.runner import Session
    from bench.spec import Case, MethodSpec, Placement

    def ignoring(call, rounds, before_round=None):  # a third party's: times every round, asks nothing
        samples = []
        for _ in range(rounds):
            start = clock.now
            call()
            samples.append((clock.now - start) * 1000.0)
        return samples

    rng = np.random.default_rng(5)
    spec = dataclasses.replace(SPEC, repeats=3, max_time_s=10.0)
    clock = FakeClock(rng.lognormal(0, 0.25, 1_000_000))
    contract = (
        r"^time_calls tests\.test_precision\.test_.*\.<locals>\.ignoring returned \d+ samples where its before_round "
        r"let 0 rounds start: with measure\.repeats 3 a time_calls must call before_round\(\) before every round and "
        r"stop where it returns False \(bench\.runner\.TimeCalls\)"
    )
    with pytest.raises(BenchError, match=contract):
        latency_pass(clock.call, ignoring, spec, "cpu", 1, "s::m", clock=clock)

    clock = FakeClock(rng.lognormal(0, 0.25, 1_000_000))
    one = latency_pass(clock.call, ignoring, dataclasses.replace(spec, repeats=1), "cpu", 1, "s::m", clock=clock)
    assert one.columns["repeats"] == 1 and one.columns["rounds"] == len(one.samples_ms) >= 100

    # through the runner: the case fails, its record says why in one line, and the next case runs
    writer = RunWriter(tmp_path, "r", {})
    session = Session(writer, {})
    tiny = MeasureSpec(warmup_s=0.0, min_time_s=0.01, min_rounds=5, memory_s=0.01, energy=False, accuracy=False)
    noop = Case("s", MethodSpec("noop"), MethodSpec("fp32"), MethodSpec("eager"), Placement("cpu", 1), 1, tiny)
    with pytest.raises(BenchError):
        session.run_case(dataclasses.replace(noop, measure=dataclasses.replace(tiny, repeats=2)), ignoring)
    writer.close("finished")
    records = (tmp_path / "r" / "records.jsonl").read_text().splitlines()
    import json

    (failed,) = [json.loads(line) for line in records]
    assert failed["status"] == "failed" and "\n" not in failed["error"]
    assert failed["error"].startswith("BenchError: time_calls ") and "measure.repeats 2" in failed["error"]


@pytest.mark.parametrize(
    "measure, message",
    [
        ({"precision": 1.5}, "measure.precision: must be a fraction below 1"),
        ({"precision": 0}, "measure.precision: must be > 0"),
        ({"max_time_s": 0.5, "min_time_s": 1.0}, r"measure.max_time_s: must not be below measure.min_time_s"),
    ],
)
def test_bad_precision_settings_are_suite_errors(tmp_path, measure, message):
    import yaml

    from bench.errors import SuiteError
    from bench.suite import load_suite

    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({"suite": "s", "models": ["noop"], "measure": measure}))
    with pytest.raises(SuiteError, match=message):
        load_suite(path)


def test_precision_null_switches_the_rule_off(tmp_path):
    from bench.suite import load_suite

    path = tmp_path / "s.yaml"
    path.write_text("suite: s\nmodels: [noop]\nmeasure: {precision: null, max_time_s: null}\n")
    assert load_suite(path).cases[0].measure.precision is None

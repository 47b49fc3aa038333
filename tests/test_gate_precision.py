"""Gate verdicts at a stated precision, and the disturbed-block detector, on synthetic samples."""

from __future__ import annotations

import re

import numpy as np
import pytest

from bench import gate
from bench.errors import SuiteError
from bench.gate.compare import verdict_for
from bench.gate.rules import parse_rule
from bench.gate.stats import RUN_NOISE, undisturbed
from bench.intervals import quantile_ci
from tests.gate_helpers import latencies

RULE = gate.Rule("latency_p50_ms", 0.05, relative=True)


def verdict(baseline, current, run_noise=RUN_NOISE, alpha=0.01):
    """One timed comparison as the gate makes it (without the Holm step), with its precision."""
    figures = gate.timed_figures(RULE.metric, baseline, current, 1, run_noise)
    if figures.reason:
        return "not comparable", figures
    change = RULE.change(figures.baseline, figures.current)
    precision = figures.precision.half_width
    return gate.verdict_for(RULE, change, figures.p_value < alpha, figures.pairs, precision), figures


def sub_ms(rng, n=200, sigma=0.3, median=0.4):
    """A sub-millisecond case with heavy ordinary per-call noise (no interference)."""
    return median * rng.lognormal(0.0, sigma, n)


# --------------------------------------------------------------------------------------- disturbed blocks


def test_ordinary_sub_millisecond_noise_is_not_a_busy_machine():
    rng = np.random.default_rng(0)
    refused = dropped = 0
    for _ in range(300):
        cleaned = undisturbed([sub_ms(rng)])
        dropped += cleaned.dropped
        refused += cleaned.dropped_share > gate.MAX_DISTURBED_SHARE
    assert refused == 0  # the fastest-block 10% rule refused most of these
    assert dropped / 300 < 1.0  # fewer than one block in ten dropped on average


def test_one_unusually_fast_block_does_not_make_the_others_disturbed():
    rng = np.random.default_rng(1)
    values = 0.5 * rng.lognormal(0.0, 0.05, 1000)
    values[:100] *= 0.8  # the machine was briefly idle during the first block
    cleaned = undisturbed([values])
    assert cleaned.dropped <= 1


@pytest.mark.parametrize("disturbed", [2, 5, 7])
def test_bursts_of_a_competing_process_are_found_beside_quiet_blocks(disturbed):
    rng = np.random.default_rng(disturbed)
    values = sub_ms(rng, n=1000, sigma=0.1)
    for block in rng.choice(10, size=disturbed, replace=False):
        part = slice(block * 100, (block + 1) * 100)
        values[part] *= 1.0 + rng.uniform(0.6, 2.0)  # a neighbour on the same core: 1.6-3x slower for a while
    cleaned = undisturbed([values])
    assert cleaned.dropped == disturbed


def test_a_machine_busy_most_of_the_run_makes_the_side_not_comparable():
    rng = np.random.default_rng(3)
    values = sub_ms(rng, n=1000, sigma=0.1)
    values[200:] *= 1.8  # 8 of 10 blocks
    result, figures = verdict(sub_ms(rng, n=1000, sigma=0.1), values)
    assert result == "not comparable" and figures.reason.startswith("current run disturbed: 8 of 10 blocks")


# -------------------------------------------------------------------------------------------- precision


def test_a_run_to_run_difference_with_one_run_a_side_is_inconclusive_never_regressed():
    """A/A: two runs of the same code whose whole figure moved by run-to-run noise (sd 4% per run)."""
    rng = np.random.default_rng(4)
    verdicts = []
    for i in range(600):
        shift_a, shift_b = 1 + rng.normal(0, 0.04, 2)
        verdicts.append(verdict(latencies(i, n=200, scale=shift_a), latencies(1000 + i, n=200, scale=shift_b))[0])
    assert verdicts.count("regressed") <= 6  # at most 1% false alarms (0.2% expected: a 2.8 sigma move)
    assert "inconclusive" in verdicts  # the bigger moves are reported as undecidable at the rule, not hidden
    plain = [
        verdict(latencies(i, scale=1 + d), latencies(1000 + i, scale=1 + e), run_noise=0.0)[0]
        for i, (d, e) in enumerate(np.random.default_rng(4).normal(0, 0.04, (200, 2)))
    ]
    assert plain.count("regressed") > 20  # judged on the samples alone, the same data gives many false alarms


def test_block_medians_apart_by_sampling_alone_are_no_drift_and_leave_a_calibrated_noise_as_it_is():
    """Was: a steady run's drift was the spread of its block medians, which sampling alone gives (sqrt(10) x the
    standard error of the run's median: about 2.4% for 2,400 calls of 30% noise), and it replaced a calibrated 1%
    run noise, so one run a side called a plain 10% slowdown inconclusive. A run that really moves keeps its drift."""
    rng = np.random.default_rng(0)
    base, slower = sub_ms(rng, n=2400), sub_ms(rng, n=2400, median=0.44)
    medians = [np.median(block) for block in np.array_split(base, 10)]
    spread = np.std(medians, ddof=1) / np.mean(medians)
    assert spread > 0.02  # what chance alone puts between the block medians of a steady run
    assert undisturbed([base]).drift < spread / 4
    result, figures = verdict(base, slower, run_noise=gate.RunNoise(0.01, 30))
    assert figures.precision.run_noise == 0.01 and result == "regressed"
    ramp = np.repeat(np.linspace(0.95, 1.05, 10), 240)  # the case slowed by 10% over the run
    assert undisturbed([base * ramp]).drift > 0.02


def test_a_change_beyond_the_rule_that_is_not_significant_is_inconclusive_never_unchanged():
    """Was "unchanged" (folded away among the unchanged rows): a true 30% slowdown timed in 8 calls a side read
    +45.2% ± 117% with p = 0.2, which decides nothing either way. Now inconclusive, both ways, saying why."""
    assert verdict_for(RULE, 0.45, significant=False, precision=1.17) == "inconclusive"
    assert verdict_for(RULE, -0.30, significant=False, precision=1.17) == "inconclusive"
    assert verdict_for(RULE, 0.03, significant=False, precision=1.17) == "unchanged"  # within the rule
    rng = np.random.default_rng(4)
    result = gate.compare(_side("base", sub_ms(rng, n=8)), _side("cur", sub_ms(rng, n=8, median=0.52)))
    latency = _latency(result)
    assert latency.change > 0.05 and latency.p_adjusted >= 0.01 and latency.verdict == "inconclusive"
    assert latency.reason.startswith(f"beyond the rule but not significant (p={latency.p_adjusted:.2g} >= 0.01); ")
    assert "cannot decide at the rule +5%" in latency.reason and result.exit_code == 0


def test_the_inconclusive_reason_states_the_precision_needed_and_a_rerun_count():
    # a machine whose runs differ by 4% (sd): 12% is beyond the rule, but one run a side cannot tell
    result, figures = verdict(latencies(1), latencies(2, scale=1.12), run_noise=0.04)
    assert result == "inconclusive"
    verdicts = gate.compare(
        *(_side(label, samples) for label, samples in (("a", latencies(1)), ("b", latencies(2, scale=1.12)))),
        rules={"demo": {"throughput_items_per_s": "off"}},
        run_noise=0.04,
    ).verdicts
    (latency,) = [v for v in verdicts if v.metric == "latency_p50_ms"]
    assert latency.verdict == "inconclusive" and latency.precision == pytest.approx(figures.precision.half_width)
    assert re.search(r"cannot decide at the rule \+5%: \+1\d\.\d% ± 11\.\d% \(95%\)", latency.reason)
    assert re.search(r"deciding needs ± \d\.\d% or better: about --rerun \d+$", latency.reason)
    assert 2 <= latency.rerun_hint <= 10


def test_the_precision_the_inconclusive_reason_asks_for_would_decide():
    """The interval of a relative change is multiplicative; the reason computed the precision needed as change - rule
    (+12% at +5%: 7.0%), which does not decide (1.12 / e^0.07 = 1.044 < 1.05). It is now the log-ratio distance."""
    verdicts = gate.compare(
        *(_side(label, samples) for label, samples in (("a", latencies(1)), ("b", latencies(2, scale=1.12)))),
        rules={"demo": {"throughput_items_per_s": "off"}},
        run_noise=0.04,
    ).verdicts
    (latency,) = [v for v in verdicts if v.metric == "latency_p50_ms"]
    needed = float(re.search(r"deciding needs ± (\d+\.\d)%", latency.reason).group(1)) / 100
    rule = parse_rule("latency_p50_ms", "+5%")
    assert verdict_for(rule, latency.change, precision=needed - 0.001) == "regressed"
    assert verdict_for(rule, latency.change, precision=needed + 0.001) == "inconclusive"


def test_a_large_slowdown_is_regressed_even_with_one_run_a_side():
    assert verdict(latencies(1), latencies(2, scale=1.4), run_noise=0.04)[0] == "regressed"
    assert verdict(latencies(1), latencies(2, scale=0.6), run_noise=0.04)[0] == "improved"
    # at the default run noise (a shared machine) only a change beyond it is decided
    assert verdict(latencies(1), latencies(2, scale=1.4))[0] == "inconclusive"
    assert verdict(latencies(1), latencies(2, scale=2.5))[0] == "regressed"


def test_a_noise_measured_from_few_run_pairs_is_not_trusted_like_a_known_one():
    """Three pairs estimate the run-to-run spread poorly: the interval uses Student's t (2 degrees of freedom)."""
    rng = np.random.default_rng(8)
    a = [latencies(40 + i, scale=1 + rng.normal(0, 0.05)) for i in range(3)]
    b = [latencies(50 + i, scale=1.15 * (1 + rng.normal(0, 0.05))) for i in range(3)]
    figures = verdict(a, b)[1]
    normal = 1.959963984540054 * np.hypot(figures.precision.within, figures.precision.between)
    assert figures.precision.measured and figures.precision.half_width > 2 * normal


def test_interleaved_runs_measure_the_run_to_run_noise_and_decide():
    rng = np.random.default_rng(5)
    steady_a = [latencies(10 + i, scale=1 + rng.normal(0, 0.01)) for i in range(3)]
    steady_b = [latencies(20 + i, scale=1.10 * (1 + rng.normal(0, 0.01))) for i in range(3)]
    result, figures = verdict(steady_a, steady_b)
    assert result == "regressed" and figures.precision.measured and figures.precision.runs == 3
    # the same 10% on runs that disagree by 15% pair to pair cannot be decided: more runs are suggested
    shaky_b = [latencies(30 + i, scale=1.10 * s) for i, s in enumerate((0.92, 1.14, 1.0))]
    result, figures = verdict(steady_a, shaky_b)
    assert result == "inconclusive"
    assert figures.precision.reruns_for(0.05) > 3


def test_a_calibrated_run_noise_is_pooled_with_the_run_pairs_so_three_runs_decide():
    """Was: with --rerun 3 the gate threw a calibrated gates.run_noise away and judged 3 pairs at Student's t with 2
    degrees of freedom (4.30): on a quiet machine (runs within 1%) a 10% slowdown was often inconclusive, and more
    runs a side decided less than one run a side with the calibrated noise. Now the calibration is pooled (t with
    29 + 2 degrees of freedom), so a modest pair spread no longer hides the change."""
    a = [latencies(10 + i, scale=s) for i, s in enumerate((1.0, 1.015, 0.985))]
    b = [latencies(20 + i, scale=1.10 * s) for i, s in enumerate((0.985, 1.0, 1.015))]
    assumed, assumed_figures = verdict(a, b, run_noise=gate.RunNoise(0.015))
    calibrated, figures = verdict(a, b, run_noise=gate.RunNoise(0.015, runs=30))
    assert assumed == "inconclusive" and calibrated == "regressed"
    assert figures.precision.prior_dof == 29 and figures.precision.half_width < assumed_figures.precision.half_width
    # the rerun hint counts the calibration too: fewer runs are needed than with the pairs alone
    assert figures.precision.reruns_for(0.03) < assumed_figures.precision.reruns_for(0.03)


def test_the_rerun_interval_of_a_a_comparisons_holds_no_change_95_percent_of_the_time():
    """Was: with --rerun N the change was the pooled samples' figure while the interval's between-run term was the
    mean's (the pair changes' standard deviation / sqrt(N)). Where runs differ more than their calls, a pooled
    median behaves like the median of the runs' levels, which spreads wider: 3 runs a side at 30% run noise, 10%
    per call, calibrated, missed zero in 12% of A/A comparisons, not 5%. The change is now the mean of the pairs'
    log changes, the centre the interval is drawn around."""
    rng = np.random.default_rng(5)
    calibrated = gate.RunNoise(0.3, runs=30)
    missed = 0
    for _ in range(200):
        a, b = ([rng.lognormal(rng.normal(0.0, 0.3), 0.1, 24) for _ in range(3)] for _ in range(2))
        figures = gate.timed_figures(RULE.metric, a, b, 1, calibrated, outliers=False)
        missed += abs(np.log(figures.current / figures.baseline)) > figures.precision.half_width
    assert 4 <= missed <= 14  # 95% nominal: 10 of 200 expected (was 24)


def test_run_pairs_far_noisier_than_the_calibration_are_judged_alone_and_say_so():
    """A machine noisier now than when calibrated: pooling a 1% calibration with pairs 20% apart would claim a
    precision the runs do not have. The F test refuses it, and the pairs alone decide (inconclusive here)."""
    a = [latencies(10 + i, scale=s) for i, s in enumerate((1.0, 1.2, 0.8))]
    b = [latencies(20 + i, scale=1.30 * s) for i, s in enumerate((0.8, 1.0, 1.2))]
    pooled, figures = verdict(a, b, run_noise=gate.RunNoise(0.01, runs=30))
    alone, alone_figures = verdict(a, b, run_noise=RUN_NOISE)
    assert figures.precision.prior_dof == 0 and figures.precision.half_width == alone_figures.precision.half_width
    assert pooled == alone == "inconclusive"
    assert "than the calibrated run noise (1.0% over 30 runs) allows: judged on the pairs alone" in figures.note


def test_a_runs_disturbed_half_does_not_make_its_pair_look_changed():
    """Was: the pair figures that --rerun's median-pair rule and spread use were each run's raw median, so a run
    whose second half a neighbour slowed by 50% read as a 50% change in its pair while the pooled, cleaned sides
    agreed: the pairs' spread made a plain 10% slowdown inconclusive. Each run is now cleaned as the sides are."""
    a = [latencies(10 + i) for i in range(3)]
    b = [latencies(20 + i, scale=1.10) for i in range(3)]
    b[1] = np.concatenate([b[1][:200], 1.5 * np.asarray(b[1][200:])])  # its second half: a busy neighbour
    result, figures = verdict(a, b, run_noise=gate.RunNoise(0.01, runs=30))
    assert all(0.05 < new / old - 1 < 0.15 for old, new in figures.pairs)
    assert result == "regressed"


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"run_noise": "2%", "run_noise_runs": 1}, "gates.run_noise_runs: must be a whole number of runs, at least 2"),
        ({"run_noise": "2%", "run_noise_runs": "30"}, "gates.run_noise_runs: must be a whole number of runs"),
        ({"run_noise": "2%", "run_noise_runs": 2.5}, "gates.run_noise_runs: must be a whole number of runs"),
        ({"run_noise_runs": 30}, "gates.run_noise_runs: needs gates.run_noise"),
    ],
)
def test_run_noise_runs_is_checked_in_one_line(section, message):
    with pytest.raises(SuiteError) as err:
        gate.validate_gates(section)
    assert message in str(err.value)


def test_run_noise_runs_makes_the_suites_run_noise_a_calibrated_one():
    from bench.gate.rules import run_noise_for

    assert run_noise_for({"run_noise": "1.2%", "run_noise_runs": 30}) == gate.RunNoise(0.012, 30)
    assert run_noise_for({"run_noise": "1.2%"}) == gate.RunNoise(0.012, None)
    assert run_noise_for({}) is None


def test_the_median_quantile_intervals_of_a_p90_cover_too():
    rng = np.random.default_rng(6)
    true_p90 = float(np.exp(0.5 * 1.2815515655446004))  # lognormal(0, 0.5)
    covered = sum(
        ci.low <= true_p90 <= ci.high for ci in (quantile_ci(rng.lognormal(0, 0.5, 200), 0.9) for _ in range(400))
    )
    assert covered / 400 >= 0.93


def _side(label, samples):
    return gate.RunSide(
        label,
        {"demo::m[a]": {"status": "ok", "batch_size": 1, "latency_p50_ms": float(np.median(samples))}},
        {"demo::m[a]": [samples]},
        [{"run_id": label, "suites": [{"name": "demo"}]}],
    )


def test_a_calibrated_run_noise_of_zero_is_not_pooled_and_says_nothing_about_it():
    """run_noise 0 means "trust each run's samples": with run pairs they alone decide, with no note claiming the
    pairs spread more than a calibration allows."""
    a = [latencies(10 + i, scale=s) for i, s in enumerate((1.0, 1.015, 0.985))]
    b = [latencies(20 + i, scale=1.10 * s) for i, s in enumerate((0.985, 1.0, 1.015))]
    figures = verdict(a, b, run_noise=gate.RunNoise(0.0, runs=30))[1]
    assert figures.precision.prior_dof == 0 and "calibrated" not in figures.note


# ------------------------------------------------------------------------- a run pair set aside (--rerun 3)


def _runs_side(label, runs):
    samples = [float(v) for run in runs for v in run]
    side = _side(label, samples)
    side.samples["demo::m[a]"] = [list(run) for run in runs]
    return side


def _latency(result):
    return next(v for v in result.verdicts if v.metric == "latency_p50_ms")


def test_a_run_a_neighbour_slowed_throughout_no_longer_hides_a_plain_slowdown():
    """Was: on a quiet calibrated machine (runs within 1%), one current run that a neighbour slowed by 40% from start
    to end spread the three pairs beyond the calibration, the pairs alone (t with 2 degrees of freedom) could not
    decide, and a plain 10% slowdown read "inconclusive" in 10% of `bench calibrate`'s comparisons. That pair went
    the same way as the others, only further: set aside, the other two decide it, and the reason says so."""
    a = [latencies(10 + i, scale=s) for i, s in enumerate((1.0, 1.01, 0.99))]
    b = [latencies(20 + i, scale=1.10 * s) for i, s in enumerate((0.99, 1.40, 1.01))]
    noise = gate.RunNoise(0.01, runs=30)
    whole = verdict(a, b, run_noise=noise)[0]
    result = _latency(gate.compare(_runs_side("base", a), _runs_side("cur", b), run_noise=noise))
    assert whole == "inconclusive" and result.verdict == "regressed"
    assert len(result.pairs) == 2 and 0.07 < result.change < 0.13  # the other pairs' change, not the pooled one
    assert re.match(r"run pair 2 \(\+5\d\.\d%\) set aside: it went the same way as the other 2 pairs", result.reason)
    assert "all 3 pairs:" in result.reason and result.set_aside is None  # decided: nothing left to serialise


def test_a_set_aside_never_ends_unchanged_through_the_spread_between_windows():
    """Review: the other pairs' change (+10.6%) lay within the spread between measure.repeats windows (11.5%) while
    all three pairs' (+12.4%) did not: the set-aside decided "regressed", and the spread check after it then made
    that "unchanged", which a set-aside may never conclude. It decides nothing then: the verdict stays inconclusive."""
    a = [latencies(10 + i, scale=s) for i, s in enumerate((1.0, 1.01, 0.99))]
    b = [latencies(20 + i, scale=1.10 * s) for i, s in enumerate((0.99, 1.08, 1.01))]
    noise = gate.RunNoise(0.01, runs=30)
    current = _runs_side("cur", b)
    current.records["demo::m[a]"]["latency_between_spread"] = 0.115
    result = _latency(gate.compare(_runs_side("base", a), current, run_noise=noise))
    assert result.verdict == "inconclusive" and "set aside" not in result.reason
    assert result.change > 0.115 and len(result.pairs) == 3  # all three pairs' change, beyond the spread


def test_a_run_slowed_throughout_is_never_a_regression_nor_a_pass_by_itself():
    """A/A: the same outlier run on unchanged code. Without it the other pairs show no change, which a set-aside
    may never conclude, so nothing is decided on them: the verdict is the whole comparison's."""
    a = [latencies(10 + i, scale=s) for i, s in enumerate((1.0, 1.01, 0.99))]
    b = [latencies(20 + i, scale=s) for i, s in enumerate((0.99, 1.40, 1.01))]
    noise = gate.RunNoise(0.01, runs=30)
    whole = verdict(a, b, run_noise=noise)[0]
    result = _latency(gate.compare(_runs_side("base", a), _runs_side("cur", b), run_noise=noise))
    assert result.verdict == whole != "regressed" and "set aside" not in result.reason


@pytest.mark.parametrize(
    ("metric", "others", "outlier", "expected"),
    [
        ("latency_p50_ms", 1.10, 1.45, "regressed"),  # further the same way: the others' +10% holds
        ("latency_p50_ms", 1.10, 0.70, None),  # it pulled the other way: leaving it out would inflate the change
        ("latency_p50_ms", 1.02, 1.45, None),  # the others see no change: never "unchanged" by a set-aside
        ("latency_p50_ms", 0.90, 0.60, "improved"),
        ("latency_p50_ms", 0.90, 1.20, None),
        ("throughput_items_per_s", 0.90, 0.60, "regressed"),  # higher is better: further down is further worse
        ("throughput_items_per_s", 0.90, 1.20, None),
    ],
)
def test_a_set_aside_decides_only_what_the_pair_it_leaves_out_points_beyond(metric, others, outlier, expected):
    from bench.gate.compare import set_aside_verdict
    from bench.gate.stats import Precision, SetAside, TimedFigures

    rule = gate.Rule(metric, 0.05, relative=True)
    noise = gate.RunNoise(0.01, runs=30)
    rest = TimedFigures(100.0, 100.0 * others, 1e-9, pairs=((100.0, 100.0 * others), (101.0, 101.0 * others)))
    aside = SetAside(2, (100.0, 100.0 * outlier), rest, noise)
    pooled = Precision(0.02, 0.001, 0.01, 0.01, True, 2, prior_dof=29)
    assert set_aside_verdict(rule, True, aside, pooled, noise) == expected
    assert set_aside_verdict(rule, False, aside, pooled, noise) is None  # not significant: nothing to decide
    wide = Precision(0.5, 0.001, 0.25, 0.2, True, 2, prior_dof=29)
    assert set_aside_verdict(rule, True, aside, wide, noise) is None  # the others alone too imprecise


def test_a_set_aside_needs_a_calibration_the_runs_left_agree_with():
    """Review: dropping the pair farthest from the median always keeps the closest ones, whose spread alone reads
    too small; judged on their own (an assumed run noise) or beside a calibration the machine no longer matches,
    that doubled the A/A false alarms of --rerun 3 in simulation. So a set-aside decides only with a calibrated run
    noise, pooled with the other pairs, whose runs agree with it on each side."""
    from bench.gate.compare import set_aside_verdict
    from bench.gate.stats import Precision, SetAside, TimedFigures

    calibrated = gate.RunNoise(0.01, runs=30)
    rest = TimedFigures(100.0, 110.0, 1e-9, pairs=((100.0, 110.0), (101.0, 111.0)))
    pooled = Precision(0.02, 0.001, 0.01, 0.01, True, 2, prior_dof=29)
    aside = SetAside(2, (100.0, 145.0), rest, calibrated)
    assert set_aside_verdict(RULE, True, aside, pooled, calibrated) == "regressed"
    assumed = gate.RunNoise(0.01)
    alone = Precision(0.02, 0.001, 0.01, 0.01, True, 2)
    assert set_aside_verdict(RULE, True, SetAside(2, (100.0, 145.0), rest, assumed), alone, assumed) is None
    noisier = Precision(0.02, 0.001, 0.01, 0.01, True, 2, note="the run pairs spread more (9.0% a run) than ...")
    assert set_aside_verdict(RULE, True, aside, noisier, calibrated) is None
    apart = TimedFigures(100.0, 110.0, 1e-9, pairs=((100.0, 110.0), (106.0, 116.6)))  # baseline runs 6% apart
    assert set_aside_verdict(RULE, True, SetAside(2, (100.0, 145.0), apart, calibrated), pooled, calibrated) is None


@pytest.mark.parametrize(("family", "significant"), [(1, True), (5, False)])
def test_a_set_aside_whose_p_value_underflowed_takes_the_largest_holm_multiplier(monkeypatch, family, significant):
    """Its Holm multiplier is p_adjusted / p, unknown where p underflowed to 0: it was taken as 1, so the other pairs'
    p-value of 0.004 passed the 0.01 level uncorrected whatever the number of tests. Bonferroni's (the family's size)
    bounds Holm's from above."""
    import importlib

    from bench.gate.stats import SetAside, TimedFigures

    module = importlib.import_module("bench.gate.compare")  # the package re-exports a function of that name

    seen = {}

    def decided(rule, significant, aside, precision, noise):
        seen["significant"] = significant
        return None

    monkeypatch.setattr(module, "set_aside_verdict", decided)
    others = TimedFigures(10.0, 11.0, 0.004, pairs=((10.0, 11.0), (10.0, 11.1)))
    aside = SetAside(3, (10.0, 15.0), others, gate.RunNoise(0.01, runs=30))
    rule = parse_rule("latency_p50_ms", "+5%")
    verdict = module.Verdict("demo::m[a]", "latency_p50_ms", "inconclusive", 10.0, 12.0, 0.2, p_value=0.0)
    verdict.set_aside = lambda: aside
    module._decide_without_outlier(verdict, rule, 0.01, 0.0, family=family)
    assert seen["significant"] is significant

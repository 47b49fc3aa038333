from __future__ import annotations

import pytest

from bench.measure.timing import LatencyStats, rounds_for


def test_stats_from_known_samples():
    samples = [1.0, 2.0, 3.0, 4.0, 5.0]
    stats = LatencyStats.from_samples(samples, batch_size=10)
    assert stats.latency_p50_ms == 3.0
    assert stats.latency_min_ms == 1.0
    assert stats.latency_mean_ms == 3.0
    assert stats.latency_iqr_ms == pytest.approx(2.0)  # numpy linear: p75=4, p25=2
    assert stats.latency_std_ms == pytest.approx(1.5811, rel=1e-4)  # sample std (ddof=1)
    assert stats.rounds == 5
    assert stats.throughput_items_per_s == pytest.approx(10 / 0.003)
    assert stats.latency_p50_ms <= stats.latency_p90_ms <= stats.latency_p95_ms <= stats.latency_p99_ms


def test_unstable_when_iqr_over_median_exceeds_threshold():
    steady = [1.0, 1.01, 1.02, 0.99, 1.0, 1.0]
    noisy = [1.0, 1.5, 0.7, 1.3, 0.8, 1.2]
    assert not LatencyStats.from_samples(steady, 1).unstable
    assert LatencyStats.from_samples(noisy, 1).unstable
    assert not LatencyStats.from_samples(noisy, 1, unstable_iqr_ratio=0.9).unstable


@pytest.mark.parametrize("bad", [[], [1.0, 0.0], [-1.0]])
def test_bad_samples_are_rejected(bad):
    with pytest.raises(ValueError):
        LatencyStats.from_samples(bad, 1)


def test_rounds_honour_min_time_and_bounds():
    assert rounds_for(0.001, min_time_s=1.0, min_rounds=20, max_rounds=100_000) == 1000
    assert rounds_for(0.5, min_time_s=1.0, min_rounds=20, max_rounds=100_000) == 20
    assert rounds_for(1e-7, min_time_s=1.0, min_rounds=20, max_rounds=5000) == 5000
    # max_time_s caps the min_rounds floor (not min_time_s, which is at most max_time_s), and leaves one call
    assert rounds_for(0.5, min_time_s=1.0, min_rounds=20, max_rounds=100_000, max_time_s=5.0) == 10
    assert rounds_for(0.001, min_time_s=1.0, min_rounds=20, max_rounds=100_000, max_time_s=1.0) == 1000
    assert rounds_for(60.0, min_time_s=1.0, min_rounds=20, max_rounds=100_000, max_time_s=5.0) == 1


def test_warm_up_keeps_the_first_call_out_of_the_estimate():
    from bench.measure.timing import warm_up

    now = [0.0]
    durations = iter([5.0] + [0.01] * 1000)  # a 5 s first call (a compile), then 10 ms calls

    def call():
        now[0] += next(durations)

    warm = warm_up(call, seconds=5.2, clock=lambda: now[0])
    assert warm.first_call_s == 5.0
    assert warm.seconds_per_call == pytest.approx(0.01)
    assert warm.calls >= 2


def test_warm_up_hands_the_calls_after_the_first_to_rest_and_sizes_from_them():
    from bench.measure.timing import warm_up

    now, calls, given = [0.0], [], []

    def call():
        now[0] += 0.5 if not calls else 0.02  # a 0.5 s first call, then 20 ms calls
        calls.append(1)

    def rest(seconds_left: float) -> int:  # stands in for the memory pass: 10 calls of its own
        given.append(seconds_left)
        for _ in range(10):
            call()
        return 10

    warm = warm_up(call, seconds=1.0, clock=lambda: now[0], rest=rest)
    assert given == [pytest.approx(0.5)]  # what is left of the warm-up after the first call
    assert len(calls) == 11 and warm.calls == 11  # no warm-up calls besides rest's
    assert warm.first_call_s == 0.5 and warm.seconds_per_call == pytest.approx(0.02)


def test_warm_up_makes_its_own_calls_when_rest_made_none():
    from bench.measure.timing import warm_up

    calls = []
    warm = warm_up(lambda: calls.append(1), seconds=0.0, rest=lambda seconds_left: 0)  # e.g. it failed at once
    assert len(calls) == 2 and warm.calls == 2


def test_warm_up_calls_at_least_twice_with_no_warm_up_time():
    from bench.measure.timing import warm_up

    calls = []
    warm = warm_up(lambda: calls.append(1), seconds=0.0)
    assert len(calls) == 2 and warm.calls == 2


def test_a_figure_above_its_limit_never_reads_equal_to_it():
    """The quickstart printed 'latency IQR/median = 10% > 10%' for an IQR of 10.3% of the median."""
    from bench.measure.timing import _above

    assert _above(0.1003, 0.1) == "10.03% > 10%"
    assert _above(0.13, 0.1) == "13% > 10%"
    assert _above(0.2, 0.125) == "20% > 12.5%"

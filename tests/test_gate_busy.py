"""A busy machine, told from the scheduler: timings taken while other processes held the cores are not judged."""

from __future__ import annotations

import itertools

import pytest

from bench import gate
from bench.hardware import CPU_WAIT_LIMIT, run_queue_wait_ns
from bench.measure.timing import BusyWarning, latency_pass
from bench.spec import MeasureSpec
from tests.gate_helpers import latencies, make_run


def test_run_queue_wait_sums_every_thread_and_is_none_where_it_cannot_be_read(tmp_path, monkeypatch):
    import bench.hardware as hardware

    for tid, fields in {"11": "500 2000 3", "12": "7 40 1", "13": "garbage"}.items():
        (tmp_path / tid).mkdir()
        (tmp_path / tid / "schedstat").write_text(fields + "\n")
    (tmp_path / "14").mkdir()  # a thread that ended between the listing and the read: no file
    monkeypatch.setattr(hardware, "TASKS", str(tmp_path))
    assert run_queue_wait_ns() == 2040  # the second field of each thread that has one
    monkeypatch.setattr(hardware, "TASKS", str(tmp_path / "absent"))
    assert run_queue_wait_ns() is None


def test_the_real_probe_reads_this_process_where_linux_keeps_it():
    value = run_queue_wait_ns()
    if value is None:
        pytest.skip("no /proc/self/task/*/schedstat on this system")
    assert isinstance(value, int) and value >= 0


class Clock:
    """A fake clock: every call takes 1 ms."""

    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def call(self) -> None:
        self.now += 0.001

    def time_calls(self, call, rounds: int, before_round=None) -> list[float]:
        samples = []
        for _ in range(rounds):
            if before_round is not None and before_round() is False:
                break
            call()
            samples.append(0.001)
        return samples


def test_the_latency_pass_records_the_share_of_thread_time_spent_waiting_for_a_cpu():
    spec = MeasureSpec(warmup_s=0.01, min_time_s=0.05, max_time_s=0.2, min_rounds=5, precision=0.5)
    clock = Clock()
    readings = itertools.count(start=0, step=10**12)  # 1000 s of waiting between two readings: capped at 1
    result = latency_pass(clock.call, clock.time_calls, spec, "cpu", 1, "s::m", clock=clock, cpu_wait=lambda: 0)
    assert result.extra["cpu_wait_share"] == 0.0  # no wait at all: a quiet machine
    with pytest.warns(BusyWarning, match=r"s::m: its threads waited for a CPU 100% of the time of its timed calls"):
        result = latency_pass(
            clock.call, clock.time_calls, spec, "cpu", 1, "s::m", clock=clock, cpu_wait=readings.__next__, threads=2
        )
    assert result.extra["cpu_wait_share"] == 1.0
    result = latency_pass(clock.call, clock.time_calls, spec, "cpu", 1, "s::m", clock=clock, cpu_wait=lambda: None)
    assert "cpu_wait_share" not in result.extra  # not readable: nothing recorded, nothing claimed


CASES = ("a", "b", "c")


def _runs(results, name, scale, wait, seed):
    return make_run(
        results,
        name,
        {
            c: {"samples": latencies(seed + i, scale=scale), "extra": {"cpu_wait_share": wait}}
            for i, c in enumerate(CASES)
        },
    )


def test_a_slowdown_measured_on_a_busy_machine_is_not_comparable_never_regressed(tmp_path):
    """Was: a 2-thread case run beside other processes came out +336% slower in an A/A comparison and the gate
    called it regressed; the calls' blocks were all slow alike, so the disturbed-block check could not see it."""
    results = tmp_path / "results"
    _runs(results, "base", 1.0, 0.001, 0)
    _runs(results, "cur", 3.0, 0.4, 10)
    result = gate.gate_runs(["base"], ["cur"], results)
    timed = [v for v in result.verdicts if v.metric == "latency_p50_ms"]
    assert {v.verdict for v in timed} == {"not comparable"}
    assert timed[0].reason.startswith("current run ran on a busy machine: its threads waited for a CPU 40% of the")
    assert "regressed" not in {v.verdict for v in result.verdicts}
    assert result.exit_code == gate.NOT_COMPARED  # never "passed" about what it did not compare


def test_a_baseline_measured_on_a_busy_machine_says_to_measure_the_baseline_again(tmp_path):
    """Was: "baseline ran on a busy machine ...; re-run on a quiet machine", which a nightly job read as its own run
    to repeat, though the current run was quiet and only a new baseline would do."""
    results = tmp_path / "results"
    _runs(results, "base", 1.0, 0.4, 0)
    _runs(results, "cur", 1.0, 0.001, 10)
    result = gate.gate_runs(["base"], ["cur"], results)
    reasons = {v.reason for v in result.verdicts if v.metric == "latency_p50_ms"}
    assert len(reasons) == 1 and reasons.pop().endswith(
        "at most 5% is judged); measure the baseline again on a quiet machine (bench baseline set RUN, or --rerun)"
    )
    assert result.exit_code == gate.NOT_COMPARED


def test_the_same_slowdown_on_a_quiet_machine_is_a_regression(tmp_path):
    results = tmp_path / "results"
    _runs(results, "base", 1.0, 0.001, 0)
    _runs(results, "cur", 3.0, CPU_WAIT_LIMIT / 2, 10)
    result = gate.gate_runs(["base"], ["cur"], results)
    assert {v.verdict for v in result.verdicts if v.metric == "latency_p50_ms"} == {"regressed"}


def test_pooled_runs_leave_out_the_busy_one_with_its_pair(tmp_path):
    """--rerun 3: the one busy run is left out of its side with the baseline run it was paired with; the two quiet
    pairs decide, and the verdict says what was left out."""
    results = tmp_path / "results"
    for i in range(3):
        _runs(results, f"base{i}", 1.0, 0.001, 100 * i)
        _runs(results, f"cur{i}", 1.0 if i != 1 else 5.0, 0.5 if i == 1 else 0.001, 100 * i + 50)
    side = gate.load_side(["cur0", "cur1", "cur2"], results)
    assert side.cpu_wait["demo::a"] == [0.001, 0.5, 0.001]
    result = gate.gate_runs(["base0", "base1", "base2"], ["cur0", "cur1", "cur2"], results)
    timed = [v for v in result.verdicts if v.metric == "latency_p50_ms"]
    assert {v.verdict for v in timed} == {"unchanged"}  # the 5x slower busy run did not make it a regression
    assert "1 of 3 runs of the current run left out with their pairs (busy machine: threads waited" in timed[0].reason
    assert all(len(v.pairs) == 2 for v in timed)


def test_runs_without_the_figure_are_judged_as_before(tmp_path):
    """Runs recorded before the probe existed (or where it cannot be read) carry no cpu_wait_share: judged."""
    results = tmp_path / "results"
    make_run(results, "base", {c: {"samples": latencies(i)} for i, c in enumerate(CASES)})
    make_run(results, "cur", {c: {"samples": latencies(10 + i, scale=3.0)} for i, c in enumerate(CASES)})
    result = gate.gate_runs(["base"], ["cur"], results)
    assert {v.verdict for v in result.verdicts if v.metric == "latency_p50_ms"} == {"regressed"}


@pytest.mark.parametrize("stored", [-0.5, 1.5, 5.0, "busy"])
def test_a_stored_share_no_run_gives_reads_as_not_recorded_with_a_warning(tmp_path, stored):
    """Was: a hand-edited (or foreign) ``cpu_wait_share`` outside [0, 1] was taken as it stood, without a word: a
    negative one read as a quiet run, one above 1 left the run out as busy ("waited for a CPU 500% of the time").
    A share is from 0 to 1, so such a value reads as not recorded (as in a run from before the probe), named."""
    from bench.results import ResultsWarning

    results = tmp_path / "results"
    make_run(results, "base", {c: {"samples": latencies(i)} for i, c in enumerate(CASES)})
    extra = {"cpu_wait_share": stored}
    cases = {c: {"samples": latencies(10 + i, scale=3.0), "extra": extra} for i, c in enumerate(CASES)}
    make_run(results, "cur", cases)
    with pytest.warns(ResultsWarning, match=r"outside \[0, 1\]\), read as not measured: 1 \(extra.cpu_wait_share\)"):
        side = gate.load_side(["cur"], results)
    assert side.cpu_wait["demo::a"] == [None]
    with pytest.warns(ResultsWarning):
        result = gate.gate_runs(["base"], ["cur"], results)
    assert {v.verdict for v in result.verdicts if v.metric == "latency_p50_ms"} == {"regressed"}

"""The energy pass inside a real case run: columns land in the record, extras in ``extra.*``, YAML keys validate."""

from __future__ import annotations

import time

import pandas as pd
import pytest

from bench import results
from bench.errors import SuiteError
from bench.hardware import environment
from bench.measure import energy
from bench.results import RunWriter
from bench.runner import Session
from bench.spec import Case, MeasureSpec, MethodSpec, Placement
from bench.suite import load_suite
from tests.fakes.nvml import FakeGpu, FakeNvml

# A no-op model's latency is the timer's own jitter: unstable by nature, and not what these tests are about
pytestmark = pytest.mark.filterwarnings("ignore::bench.measure.timing.UnstableWarning")


@pytest.fixture(autouse=True)
def _fresh_reports():
    energy._reported.clear()
    yield
    energy._reported.clear()


def time_calls(call, rounds: int, before_round=None) -> list[float]:
    samples = []
    for _ in range(rounds):
        if before_round is not None and before_round() is False:
            break
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000 + 1e-6)
    return samples


def run_noop(tmp_path, **measure) -> dict:
    spec = MeasureSpec(
        **{"warmup_s": 0.0, "min_time_s": 0.01, "min_rounds": 3, "memory_s": 0.01, "energy_min_s": 0.05, **measure}
    )
    case = Case("energy", MethodSpec("noop"), MethodSpec("fp32"), MethodSpec("eager"), Placement("cpu", 1), 2, spec)
    writer = RunWriter(tmp_path / "results", "run-1", {})
    Session(writer, environment()).run_case(case, time_calls)
    writer.close("finished")
    frame = results.load("run-1", tmp_path / "results")
    return frame.iloc[0].to_dict()


def test_cpu_case_without_rapl_says_why(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_RAPL_ROOT", str(tmp_path / "no-powercap"))
    row = run_noop(tmp_path)
    assert row["status"] == "ok"
    # the folder the variable chose is named: a mistyped $BENCH_RAPL_ROOT is not taken for a machine without RAPL
    assert row["energy_source"] == f"unavailable: no RAPL interface in $BENCH_RAPL_ROOT {tmp_path / 'no-powercap'}"
    assert pd.isna(row["energy_j_per_item"]) and pd.isna(row["power_w_avg"])  # empty, never 0


@pytest.mark.parametrize("moving", [True, False], ids=["counting", "frozen"])
def test_cpu_case_with_rapl_fills_columns_and_extras(tmp_path, monkeypatch, moving):
    """A counter that moves (here 10 W of the monotonic clock) fills the columns; one that never moves is no
    measurement: empty columns and the reason, never a measured 0 J (it was recorded as 0.0, labelled rapl)."""
    from bench.measure import rapl

    zone = tmp_path / "powercap" / "intel-rapl:0"
    zone.mkdir(parents=True)
    (zone / "name").write_text("package-0\n")
    (zone / "energy_uj").write_text("1000\n")
    (zone / "max_energy_range_uj").write_text("262143328850\n")
    monkeypatch.setenv("BENCH_RAPL_ROOT", str(tmp_path / "powercap"))
    if moving:
        monkeypatch.setattr(rapl.RaplZone, "read_uj", lambda self: int(time.monotonic() * 1e7) % 262143328850)
    row = run_noop(tmp_path)
    if not moving:
        assert row["energy_source"].startswith("unavailable: the RAPL counters (package-0) did not move")
        assert pd.isna(row["energy_j_per_item"]) and pd.isna(row["power_w_avg"])  # empty, never 0
        return
    assert row["energy_source"] == "rapl"
    assert row["energy_j_per_item"] > 0 and row["power_w_avg"] == pytest.approx(10.0, rel=0.2)
    assert row["energy_window_s"] >= 0.05
    assert row["extra.energy_rapl_zones"] == "package-0"
    assert row["extra.energy_calls"] >= 1


def test_gpu_columns_fit_the_record_through_the_runner(tmp_path, monkeypatch):
    """The runner merges ``info`` into ``extra``: checked on a CPU case forced onto the fake NVML path."""
    from bench.measure import nvml

    real = energy.measure_energy

    def as_gpu(call, device, batch_size, spec):
        return real(call, "cuda:0", batch_size, spec)

    monkeypatch.setattr(energy, "measure_energy", as_gpu)
    with nvml.use_backend(FakeNvml([FakeGpu(power_w=75.0, counter_update_s=0.001)])):
        row = run_noop(tmp_path)
    assert row["energy_source"] == "nvml-counter"
    assert row["power_w_avg"] == pytest.approx(75.0, rel=0.2)
    assert row["gpu_util_pct"] == 87
    assert "extra.energy_counter_vs_sampling_pct" in row


def test_energy_off_through_the_runner(tmp_path):
    row = run_noop(tmp_path, energy=False)
    assert row["energy_source"] == "off: measure.energy is false"


def write_suite(tmp_path, measure: str):
    path = tmp_path / "s.yaml"
    path.write_text(f"suite: s\nmodels: [noop]\nhardware: {{cpu: {{threads: [1]}}}}\nmeasure: {measure}\n")
    return path


def test_suite_keys_validate(tmp_path):
    suite = load_suite(write_suite(tmp_path, "{energy: false, cpu_tdp_w: 65, energy_min_s: 0.5}"))
    spec = suite.cases[0].measure
    assert (spec.energy, spec.cpu_tdp_w, spec.energy_min_s) == (False, 65, 0.5)
    with pytest.raises(SuiteError, match=r"measure\.energy"):
        load_suite(write_suite(tmp_path, "{energy: estimate}"))
    with pytest.raises(SuiteError, match=r"measure\.cpu_tdp_w"):
        load_suite(write_suite(tmp_path, "{cpu_tdp_w: -5}"))

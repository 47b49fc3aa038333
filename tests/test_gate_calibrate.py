"""Calibration plumbing (no measuring): the slowdown engine with a fake clock, the suite, the rates."""

from __future__ import annotations

import numpy as np
import pytest

from bench.compress import Compressed
from bench.engines import ENGINES
from bench.gate import calibrate
from bench.spec import Placement
from bench.suite import load_suite
from tests.gate_helpers import latencies


class FakeClock:
    """perf_counter stand-in: each read advances 1 µs; the model call advances 10 ms."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1e-6
        return self.now


def test_slowdown_engine_stretches_each_call(monkeypatch):
    import bench.engines.slowdown as slowdown_module

    clock = FakeClock()
    monkeypatch.setattr(slowdown_module.time, "perf_counter", clock)

    def ten_ms_model(x):
        clock.now += 0.010
        return x * 2

    compressed = Compressed(module=ten_ms_model)
    entry = ENGINES.get("slowdown")
    assert entry.params == {"percent": 10.0, "inner": "eager"}
    prepared = entry.fn(compressed, (1,), Placement("cpu", 1), percent=10.0)
    start = clock.now
    assert prepared.call(21) == 42
    assert clock.now - start == pytest.approx(0.011, abs=1e-5)  # 10 ms call + 10% busy-wait
    assert prepared.info["slowdown_percent"] == 10.0
    with pytest.raises(ValueError, match="cannot wrap itself"):
        entry.fn(compressed, (1,), Placement("cpu", 1), inner="slowdown")


def test_calibration_suite_is_valid(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(calibrate.suite_yaml(10.0, [1], 0.5, [1, 64]))
    suite = load_suite(path)
    assert [c.case_id for c in suite.cases] == [
        "dlrm-tiny[fp32-cpu-1t-bs1]",
        "dlrm-tiny[fp32-cpu-1t-bs64]",
        "dlrm-tiny[fp32-slowdown-10.0-cpu-1t-bs1]",
        "dlrm-tiny[fp32-slowdown-10.0-cpu-1t-bs64]",
    ]
    path.write_text(calibrate.suite_yaml(10.0, [1, 2], 0.5, [8], model="cnn-products"))
    assert [c.case_id for c in load_suite(path).cases] == [
        "cnn-products[fp32-cpu-1t-bs8]",
        "cnn-products[fp32-cpu-2t-bs8]",
        "cnn-products[fp32-slowdown-10.0-cpu-1t-bs8]",
        "cnn-products[fp32-slowdown-10.0-cpu-2t-bs8]",
    ]


def test_rates_on_synthetic_runs():
    runs = 9  # 3 a side for --rerun 3, and 3 left over to calibrate each of those comparisons on
    case = calibrate.CaseRuns(
        "m[cpu-1t-bs1]",
        1,
        eager=[np.asarray(latencies(i, n=400)) for i in range(runs)],
        slowed=[np.asarray(latencies(100 + i, n=400, scale=1.10)) for i in range(runs)],
    )
    comparisons = calibrate._comparisons([case], pool=40, rng=np.random.default_rng(0))
    assert len(comparisons["aa_runs"]) == runs * (runs - 1)
    assert len(comparisons["aa_rerun"]) == 10
    (row,) = calibrate.evaluate(comparisons, [0.01], [0.05], by_case=False)[:1]
    assert row["aa_runs"]["rate"] == 0.0 and row["aa_runs"]["ci95"][1] < 0.1
    # one run a side cannot show run-to-run noise: with the 4% prior a 10% slowdown is inconclusive, not regressed
    assert row["ab_runs"]["rate"] == 0.0 and row["ab_runs"]["inconclusive"]["rate"] == 1.0
    # three interleaved runs a side measure it (none here): the slowdown is decided at the rule
    assert row["ab_rerun"]["rate"] == 1.0 and row["aa_rerun"]["rate"] == 0.0
    assert calibrate.meets(row, "rerun") and not calibrate.meets(row, "runs")
    assert calibrate.run_noise(case.eager) < 0.01
    markdown = calibrate.summarise([case], [row], [row], {**_setup(), "runs": runs})
    assert "| all | latency_p50_ms | 0.01 | 5% | 30%, assumed (the default) | 0.00% (0/72" in markdown
    # judged with the run noise the other runs measured (what gates.run_noise_runs declares), one run a side decides
    (calibrated,) = calibrate.evaluate(comparisons, [0.01], [0.05], calibrated=True)[:1]
    assert calibrated["run_noise"] == "calibrated" and calibrated["aa_runs"]["rate"] == 0.0
    assert calibrated["ab_runs"]["rate"] == 1.0 and calibrated["ab_rerun"]["rate"] == 1.0
    assert calibrated["ab_pool"]["rate"] is None  # half-runs have no held-out calibration: n/a, not 0%
    advice = calibrate.recommended([case])
    assert advice["run_noise_runs"] == runs and advice["run_noise"].endswith("%")
    assert float(advice["run_noise"][:-1]) / 100 >= calibrate.run_noise(case.eager)  # rounded up, never down
    assert f'`gates: {{run_noise: "{advice["run_noise"]}", run_noise_runs: {runs}}}`' in markdown


def test_a_slowed_run_that_a_neighbour_also_slowed_is_set_aside_as_the_gate_does():
    """`bench calibrate` judges each comparison as the gate does, set-aside included: a current run that a
    neighbour slowed by 40% throughout no longer makes a 10% slowdown inconclusive with three runs a side, and no
    A/A comparison turns into a false alarm."""
    runs = 9
    slowed = [np.asarray(latencies(100 + i, n=400, scale=1.10)) for i in range(runs)]
    slowed[4] = slowed[4] * 1.40
    case = calibrate.CaseRuns(
        "m[cpu-1t-bs1]", 1, eager=[np.asarray(latencies(i, n=400)) for i in range(runs)], slowed=slowed
    )
    comparisons = calibrate._comparisons([case], pool=80, rng=np.random.default_rng(1))
    (row,) = calibrate.evaluate(comparisons, [0.01], [0.05], calibrated=True)[:1]
    # 70% without the set-aside; what is left: the runs kept on a side disagree beyond the held-out calibration
    assert row["ab_rerun"]["rate"] >= 0.9 and row["ab_rerun"]["inconclusive"]["rate"] <= 0.1
    assert row["aa_rerun"]["rate"] == 0.0
    (assumed,) = calibrate.evaluate(comparisons, [0.01], [0.05])[:1]  # an assumed run noise never sets aside
    assert assumed["ab_rerun"]["rate"] < row["ab_rerun"]["rate"]


def test_the_held_out_run_noise_leaves_the_compared_runs_out():
    figures = np.array([1.0, 1.0, 1.0, 1.0, 2.0])
    assert calibrate.held_out_noise(figures, [4]) == calibrate.RunNoise(0.0, 4)
    held = calibrate.held_out_noise(figures, [0])
    assert held.runs == 4 and held.sd > 0.3
    assert calibrate.held_out_noise(figures, [0, 1, 2]) is None  # two runs left: too few to calibrate on


def _setup():
    return {"percent": 10.0, "min_time_s": 0.5, "wall_s": 1.0, "cpu_model": "cpu", "cpu_cores": 2}


def test_reused_runs_with_a_case_without_raw_samples_leave_that_case_out_with_a_warning(tmp_path):
    from tests.gate_helpers import make_run

    runs = tmp_path / "runs"
    make_run(runs, "a1", {"m[a]": {"samples": latencies(1, n=50)}, "m[s]": {"samples": latencies(2, n=50)}})
    make_run(runs, "a2", {"m[a]": {"samples": latencies(3, n=50)}, "m[s]": {"samples": latencies(4, n=50)}})
    samples = runs / "a2" / "samples.jsonl"
    samples.write_text(samples.read_text().splitlines()[1] + "\n")  # a2's m[a] lost its samples line
    with pytest.warns(UserWarning, match=r"runs: 1 case\(s\) without raw samples left out: a2/demo::m\[a\]"):
        cases = calibrate.collect(runs)  # was KeyError: 'demo::m[a]'
    (family,) = cases  # make_run writes model m, fp32, eager: one family
    assert len(family.eager) == 3  # a1's two cases and a2's m[s]


def test_one_run_says_n_a_and_needs_two_not_nan():
    """Was: "run-to-run standard deviation of the cleaned p50 nan%" (and a spread of +0.0%) from a single run."""
    case = calibrate.CaseRuns("m[cpu-1t-bs1]", 1, eager=[np.asarray(latencies(1, n=100))], slowed=[])
    comparisons = calibrate._comparisons([case], pool=10, rng=np.random.default_rng(0))
    rows = calibrate.evaluate(comparisons, [0.01], [0.05])
    markdown = calibrate.summarise([case], rows, rows, {**_setup(), "runs": 1})
    assert "nan" not in markdown.lower()
    assert "max/min of the runs' p50s n/a (1 run: needs at least two)" in markdown
    assert "standard deviation of the cleaned p50 n/a (1 run: needs at least two)" in markdown


def test_calibrate_refuses_one_run_on_the_command_line_and_when_reusing_one(tmp_path, capsys):
    from bench.cli import main
    from bench.errors import BenchError
    from tests.gate_helpers import make_run

    with pytest.raises(SystemExit) as stop:
        main(["calibrate", "--runs", "1", "--out", str(tmp_path / "cal")])
    assert stop.value.code == 2
    assert "argument --runs: must be an integer >= 2 (the false-alarm and detection rates compare two different " in (
        capsys.readouterr().err
    )
    make_run(tmp_path / "cal" / "runs", "cal-000", {"m[a]": {"samples": latencies(1, n=50)}})
    with pytest.raises(BenchError, match=r"calibration needs at least two runs \(found 1\)"):
        calibrate.calibrate(tmp_path / "cal", reuse=True)
    assert not (tmp_path / "cal" / "calibration.md").exists()


def test_the_recommended_run_noise_covers_a_heavy_tail_not_only_the_standard_deviation():
    """Was: the standard deviation alone. On a VM whose runs were now and then twice as slow it said 19%, and one run
    a side at that noise called 3% of A/A pairs regressed (target: 1%)."""
    rng = np.random.default_rng(3)
    steady = 1.0 + rng.normal(0.0, 0.01, 30)
    assert calibrate.gate_noise(steady) == pytest.approx(np.std(steady, ddof=1) / np.mean(steady))
    tailed = steady.copy()
    tailed[:1] *= 2.0  # one of thirty runs twice as slow
    sd = float(np.std(tailed, ddof=1) / np.mean(tailed))
    noise = calibrate.gate_noise(tailed)
    assert noise > sd
    # with that noise, one run a side keeps the slow pairs' change inside the interval beyond the +5% rule
    ratios = np.log(tailed[:, None] / tailed[None, :])[~np.eye(30, dtype=bool)]
    edge = np.log(1.05) + calibrate.t95(29) * np.sqrt(2) * noise
    assert np.mean(ratios > edge) <= calibrate.TARGET_FALSE_ALARM


def test_a_run_without_samples_keeps_the_other_runs_in_their_places():
    """Was: run_figures dropped empty runs, so the indices of the runs a comparison used pointed at other runs, and
    the wrong ones were held out of its calibration."""
    runs = [np.asarray([1.0] * 20), np.asarray([]), np.asarray([3.0] * 20)]
    figures = calibrate.run_figures(runs)
    assert figures[0] == 1.0 and np.isnan(figures[1]) and figures[2] == 3.0
    assert calibrate.run_noise(runs) == pytest.approx(np.std([1.0, 3.0], ddof=1) / 2.0)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--threads", "1", "1"], "--threads: 1 is listed twice"),
        (["--batch-sizes", "2000000"], "--batch-sizes: must be an integer <= 1048576, got 2000000"),
        (
            ["--model", "minilm-search", "--batch-sizes", "100000"],
            "--batch-sizes: minilm-search: batch_size 100000 x 1008.5 KiB of inputs and activations per item = "
            "96.2 GiB; at most 8 GiB",
        ),
    ],
)
def test_options_the_calibration_suite_refuses_are_one_line_before_any_run(
    tmp_path, monkeypatch, capsys, options, message
):
    """Was: the first `bench run` failed on the suite, then a RuntimeError's traceback with pytest's output in it.
    Nothing is left behind either: the refused suite stayed in --out as gate-calibration.yaml."""
    from bench.cli import main

    monkeypatch.setattr(calibrate, "run_to_its_end", lambda *a, **k: pytest.fail("a run was started"))
    assert main(["calibrate", "--runs", "2", "--out", str(tmp_path / "cal"), *options]) == 2
    err = capsys.readouterr().err
    assert err == f"bench calibrate: error: {message}\n"
    assert not (tmp_path / "cal").exists()
    (tmp_path / "mine").mkdir()  # a folder the user made stays, without the suite
    assert main(["calibrate", "--runs", "2", "--out", str(tmp_path / "mine"), *options]) == 2
    assert list((tmp_path / "mine").iterdir()) == []


def test_a_failed_calibration_run_ends_in_one_line_after_its_output(tmp_path, monkeypatch, capsys):
    import subprocess

    from bench.cli import main

    failed = subprocess.CompletedProcess([], 1, stdout="1 failed in 2.0s\n", stderr="")
    monkeypatch.setattr(calibrate, "run_to_its_end", lambda *a, **k: failed)
    assert main(["calibrate", "--runs", "2", "--out", str(tmp_path / "cal")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "1 failed in 2.0s" in err
    assert err.endswith(
        "bench calibrate: error: calibration run 1/2 failed (bench run exited 1; its output is above)\n"
    )


def test_measuring_again_into_an_earlier_calibrations_folder_says_how_before_any_run(tmp_path, monkeypatch, capsys):
    """Was: the second `bench calibrate` (its --out defaults to reports/calibration) failed on its first run: run id
    cal-000 already taken (a RuntimeError traceback)."""
    from bench.cli import main

    (tmp_path / "cal" / "runs" / "cal-000").mkdir(parents=True)
    monkeypatch.setattr(calibrate, "run_to_its_end", lambda *a, **k: pytest.fail("a run was started"))
    assert main(["calibrate", "--runs", "2", "--out", str(tmp_path / "cal")]) == 2
    assert capsys.readouterr().err == (
        f"bench calibrate: error: {tmp_path / 'cal' / 'runs'} holds the runs of an earlier calibration: bench "
        "calibrate --reuse evaluates them again; to measure anew, remove that folder or give another --out\n"
    )


@pytest.mark.parametrize("refused", ["mkdir", "write_text"])
def test_an_out_folder_that_cannot_be_written_is_one_line_naming_out_and_leaves_nothing(
    tmp_path, monkeypatch, capsys, refused
):
    """Was: "bench calibrate: error: [Errno 2] No such file or directory: '/proc/self/cal'" (or "[Errno 13]
    Permission denied: '.../gate-calibration.yaml'" on a read-only folder), naming no option."""
    import pathlib

    from bench.cli import main

    def refuse(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.chdir(tmp_path)
    out = pathlib.Path("cal")
    monkeypatch.setattr(pathlib.Path, refused, refuse)  # as on a read-only or virtual file system (/proc, /sys)
    monkeypatch.setattr(calibrate, "run_to_its_end", lambda *a, **k: pytest.fail("a run was started"))
    assert main(["calibrate", "--runs", "2", "--out", str(out)]) == 2
    where = out if refused == "mkdir" else out / "gate-calibration.yaml"
    assert capsys.readouterr().err == (
        f"bench calibrate: error: --out '{out}': cannot write the calibration: permission denied ('{where}')\n"
    )
    assert not out.exists()  # the folder it made for the suite it could not write is gone


def test_a_sigterm_stopping_a_calibration_is_passed_on_to_its_run_and_waited_for(tmp_path):
    """Was: a SIGTERM (``kill PID``) ended bench calibrate at once, without a word, and its ``bench run`` went on
    measuring, an orphan; now the run gets it, closes (its finished cases kept), and then the calibration stops."""
    import os
    import signal
    import sys
    import threading
    import time

    ready, closed = tmp_path / "ready", tmp_path / "closed"
    child = (  # a bench run's stand-in: SIGTERM closes it
        "import pathlib, signal, sys, time\n"
        f"def close(*_):\n    pathlib.Path({str(closed)!r}).write_text('closed')\n    sys.exit(143)\n"
        "signal.signal(signal.SIGTERM, close)\n"
        f"pathlib.Path({str(ready)!r}).write_text('ready')\n"
        "time.sleep(60)\n"
    )

    def terminate_once_ready():
        for _ in range(2000):
            if ready.exists():
                break
            time.sleep(0.005)
        os.kill(os.getpid(), signal.SIGTERM)  # this process alone, as `kill PID` does

    before = signal.getsignal(signal.SIGTERM)
    threading.Thread(target=terminate_once_ready, daemon=True).start()
    with pytest.raises(KeyboardInterrupt) as stop:
        calibrate.run_to_its_end([sys.executable, "-c", child])
    assert stop.value.args == ("SIGTERM",)  # bench calibrate: interrupted (SIGTERM), exit 143
    assert closed.read_text() == "closed"  # the run was told, and waited for
    assert signal.getsignal(signal.SIGTERM) is before

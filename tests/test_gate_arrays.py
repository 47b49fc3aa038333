"""The gate reads raw samples as numpy arrays (8 bytes a sample, not a Python list's 32), and judges them exactly as
it judged lists: a samples file of several GB no longer runs ``bench gate`` out of memory."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bench import gate
from bench import results as store
from bench.gate import calibrate
from tests.gate_helpers import latencies, make_run


def _disturbed(seed: int, scale: float = 1.0) -> list[float]:
    """Quiet calls with a burst of interference: one block of ten twice as slow."""
    values = latencies(seed, scale=scale)
    return values[:120] + [2.0 * v for v in values[120:160]] + values[160:]


def _drop_samples(run, case_id):
    """A run whose samples of ``case_id`` were lost (its line taken out of ``samples.jsonl``)."""
    path = run / "samples.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(line for line in lines if f'"case_id": "{case_id}"' not in line))


def _runs(results):
    """Runs that take the gate through its every use of the samples: one run a side (regressed, unchanged, disturbed
    blocks, too few samples, samples on one side only) and three a side as ``--rerun 3`` pools them (a busy run left
    out with its pair, and an outlying pair that a calibrated run noise may set aside)."""
    make_run(
        results,
        "base",
        {
            "m[slow]": {"samples": latencies(1)},
            "m[same]": {"samples": latencies(2)},
            "m[burst]": {"samples": _disturbed(3)},
            "m[few]": {"samples": [1.0, 1.1, 1.2, 1.0]},
            "m[lost]": {"samples": latencies(5)},
        },
    )
    make_run(
        results,
        "cur",
        {
            "m[slow]": {"samples": latencies(11, scale=1.5)},
            "m[same]": {"samples": latencies(12)},
            "m[burst]": {"samples": _disturbed(13, scale=1.3)},
            "m[few]": {"samples": [1.0, 1.1, 1.2]},
            "m[lost]": {"samples": latencies(15)},
        },
    )
    _drop_samples(results / "cur", "m[lost]")
    for i, (a, b) in enumerate(zip((1.0, 1.01, 0.99), (0.99, 1.40, 1.01), strict=True)):
        wait = {"extra": {"cpu_wait_share": 0.5 if i == 1 else 0.001}}
        make_run(
            results,
            f"A{i}",
            {"m[x]": {"samples": latencies(30 + i, scale=a)}, "m[y]": wait | {"samples": latencies(40 + i)}},
        )
        make_run(
            results,
            f"B{i}",
            {
                "m[x]": {"samples": latencies(50 + i, scale=1.10 * b)},
                "m[y]": {"samples": latencies(60 + i, scale=1.2)},
            },
        )


def _gate_both_ways(results, monkeypatch, *sides, **options):
    """The gate's JSON verdicts of ``sides`` with the samples read as lists, then as arrays (as it reads them)."""
    read = store.load_samples
    outputs = []
    for arrays in (False, True):
        monkeypatch.setattr(
            store, "load_samples", lambda run, *a, arrays=arrays, **k: read(run, *a, **k | {"arrays": arrays})
        )
        outputs.append(gate.gate_runs(*sides, results, **options).to_json())
    monkeypatch.setattr(store, "load_samples", read)
    return outputs


@pytest.mark.parametrize(
    ("sides", "options"),
    [
        ((["base"], ["cur"]), {"run_noise": 0.0}),
        ((["base"], ["cur"]), {}),
        ((["A0", "A1", "A2"], ["B0", "B1", "B2"]), {"run_noise": gate.RunNoise(0.01, runs=30)}),
        ((["A0", "A1"], ["B0", "B1"]), {}),
    ],
)
def test_samples_read_as_arrays_give_the_verdicts_and_figures_of_lists(tmp_path, monkeypatch, sides, options):
    results = tmp_path / "results"
    _runs(results)
    as_lists, as_arrays = _gate_both_ways(results, monkeypatch, *sides, **options)
    assert as_arrays == as_lists
    json.dumps(as_arrays, allow_nan=False)  # no numpy type in the verdicts that JSON cannot hold
    verdicts = {(v["case"], v["metric"]): v for v in as_arrays["verdicts"]}
    if sides[0] == ["base"]:  # every path of one run a side was taken
        assert verdicts[("demo::m[slow]", "latency_p50_ms")]["verdict"] in ("regressed", "inconclusive")
        assert "disturbed blocks dropped" in verdicts[("demo::m[burst]", "latency_p50_ms")]["reason"]
        assert "fewer than" in verdicts[("demo::m[few]", "latency_p50_ms")]["reason"]
        assert verdicts[("demo::m[lost]", "latency_p50_ms")]["reason"] == "no raw samples in the current run"
    else:
        assert "left out with their pairs" in verdicts[("demo::m[y]", "latency_p50_ms")]["reason"]
    if len(sides[0]) == 3:
        assert "set aside" in verdicts[("demo::m[x]", "latency_p50_ms")]["reason"]


def test_the_gate_keeps_each_run_s_samples_as_an_array(tmp_path, monkeypatch):
    """Was: ``load_side`` read the samples as lists of Python floats (about 32 bytes a sample, 4x an array's)."""
    results = tmp_path / "results"
    _runs(results)
    asked = []
    read = store.load_samples
    monkeypatch.setattr(store, "load_samples", lambda *a, **k: asked.append(k.get("arrays")) or read(*a, **k))
    side = gate.load_side(["A0", "A1"], results)
    assert asked == [True, True]
    runs = side.samples["demo::m[x]"]
    assert len(runs) == 2 and all(isinstance(run, np.ndarray) and run.dtype == np.float64 for run in runs)
    assert runs[0].tolist() == latencies(30)


def test_calibration_reads_the_samples_as_arrays_and_still_leaves_out_a_case_without_any(tmp_path, monkeypatch):
    results = tmp_path / "results"
    make_run(results, "r1", {"m[a]": {"samples": latencies(1)}, "m[b]": {"samples": latencies(2)}})
    _drop_samples(results / "r1", "m[b]")
    asked = []
    read = store.load_samples
    monkeypatch.setattr(store, "load_samples", lambda *a, **k: asked.append(k.get("arrays")) or read(*a, **k))
    with pytest.warns(UserWarning, match=r"1 case\(s\) without raw samples left out: r1/demo::m\[b\]"):
        (case,) = calibrate.collect(results)
    assert asked == [True]
    assert len(case.eager) == 1 and case.eager[0].tolist() == latencies(1)


def test_timed_figures_of_a_flat_array_and_of_arrays_per_run_are_those_of_lists():
    one, other = latencies(1), latencies(2, scale=1.2)
    for old, new in [(one, other), ([one, one[::-1]], [other, other[::-1]])]:
        lists = gate.timed_figures("latency_p50_ms", old, new)
        arrays = gate.timed_figures(
            "latency_p50_ms",
            np.asarray(old) if isinstance(old[0], float) else [np.asarray(r) for r in old],
            np.asarray(new) if isinstance(new[0], float) else [np.asarray(r) for r in new],
        )
        assert (arrays.baseline, arrays.current, arrays.p_value, arrays.pairs, arrays.note) == (
            lists.baseline,
            lists.current,
            lists.p_value,
            lists.pairs,
            lists.note,
        )
        assert arrays.precision == lists.precision

"""The accuracy pass: accuracy_drop against the right fp32 reference, and skips recorded with their reason."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from bench.engines import Prepared
from bench.measure.accuracy import accuracy_key, host_first, measure_accuracy, reference_accuracy
from bench.models import Accuracy
from bench.spec import Case, MethodSpec, Placement

EXAMPLES = Path(__file__).parent.parent / "examples" / "user_model"


def case(compression: str, engine: str = "eager", **params) -> Case:
    return Case(
        "s",
        MethodSpec("m"),
        MethodSpec(compression, tuple(params.items())),
        MethodSpec(engine),
        Placement("cpu", 1),
        1,
    )


class FakeBundle:
    """evaluate() answers by the name the fake predict returns, so each module has a known accuracy."""

    def __init__(self, scores: dict[str, float]):
        self.scores = scores
        self.module = lambda *_: "fp32-eager"

    def evaluate(self, predict) -> Accuracy:
        return Accuracy(self.scores[predict(None)], "top1", {"n": 3})


fake_bundle = FakeBundle


def prepared(name: str):
    return Prepared(call=lambda *_: name)


COMPRESSED = SimpleNamespace(input_dtype=None)


def test_fp32_is_its_own_reference():
    result = measure_accuracy(fake_bundle({"fp32": 0.8}), prepared("fp32"), COMPRESSED, case("fp32"))
    assert result["accuracy"] == 0.8 and result["accuracy_drop"] == 0.0
    assert result["extra"] == {"n": 3, "accuracy_reference": "fp32/eager/cpu"}


def test_drop_is_against_fp32_on_the_same_engine_when_measured():
    measured = {
        (MethodSpec("m"), MethodSpec("fp32"), MethodSpec("compile"), "cpu"): {"accuracy": 0.9},
        (MethodSpec("m"), MethodSpec("fp32"), MethodSpec("eager"), "cpu"): {"accuracy": 0.7},
    }
    target = case("bf16", engine="compile")
    reference = reference_accuracy(measured, target)
    assert reference == (0.9, "fp32/compile/cpu")
    result = measure_accuracy(fake_bundle({"bf16": 0.85}), prepared("bf16"), COMPRESSED, target, reference)
    assert result["accuracy_drop"] == pytest.approx(0.05)


def test_without_a_measured_reference_the_eager_fp32_model_is_evaluated():
    bundle = fake_bundle({"int8": 0.6, "fp32-eager": 0.75})
    result = measure_accuracy(bundle, prepared("int8"), COMPRESSED, case("int8"), reference=None)
    assert result["accuracy_drop"] == pytest.approx(0.15)
    assert result["extra"]["accuracy_reference"] == "fp32/eager/cpu"


def test_the_eager_fallback_works_with_a_real_bundle_and_is_computed_once():
    from tests._zoo import mlp_bundle

    bundle = mlp_bundle()
    calls = []
    evaluate = bundle.evaluate
    bundle.evaluate = lambda predict: calls.append(predict) or evaluate(predict)
    half = Prepared(call=lambda x: bundle.module(x) * 0 + torch.arange(4.0))  # always predicts class 3
    for _ in range(2):
        result = measure_accuracy(bundle, half, COMPRESSED, case("bf16"))
        assert result["accuracy_drop"] == pytest.approx(1.0 - result["accuracy"])
    assert len(calls) == 3  # the case twice, the fp32 reference once


def test_an_fp32_with_parameters_is_not_the_reference():
    measured = {(MethodSpec("m"), MethodSpec("fp32", (("x", 1),)), MethodSpec("eager"), "cpu"): {"accuracy": 0.1}}
    assert reference_accuracy(measured, case("bf16")) is None


def test_each_accuracy_group_starts_with_its_most_threads_largest_batch_case():
    def at(compression, engine, placement, batch):
        return Case("s", MethodSpec("m"), MethodSpec(compression), MethodSpec(engine), placement, batch)

    cpu1, cpu2, gpu = Placement("cpu", 1), Placement("cpu", 2), Placement("cuda:0")
    suite_order = [
        at(c, e, p, b)
        for c in ("fp32", "int8")
        for e in ("eager", "compile")
        for p in (cpu1, cpu2, gpu)
        for b in (1, 16, 4)
    ] + [at("fp16", "eager", cpu1, 8)]  # a group of one case
    ordered = host_first(suite_order)
    assert sorted(map(id, ordered)) == sorted(map(id, suite_order))  # the same cases, each once
    keys = [accuracy_key(c) for c in ordered]
    runs = [k for i, k in enumerate(keys) if i == 0 or keys[i - 1] != k]
    assert runs == list(dict.fromkeys(accuracy_key(c) for c in suite_order))  # contiguous, in the suite's order
    for key in runs:
        group = [c for c in ordered if accuracy_key(c) == key]
        host = group[0]
        if key[3] == "cpu" and len(group) > 1:
            assert (host.placement.threads, host.batch_size) == (2, 16)
        elif key[3] == "cuda":
            assert host.batch_size == 16
        assert group[1:] == [c for c in suite_order if accuracy_key(c) == key and c is not host]  # suite's order
    assert ordered[-1].compression.name == "fp16"


@pytest.mark.slow
def test_suite_records_accuracy_columns_and_skip_reasons(pytester):
    pytester.makepyfile(my_models=(EXAMPLES / "my_models.py").read_text())
    pytester.makefile(
        ".yaml",
        suite="""
suite: acc
models: [{factory: "my_models:build", name: reviews, params: {epochs: 10}}]
compression: [fp32, bf16, ort-int8-dynamic]
engines: [eager, onnxruntime]
hardware: {cpu: {threads: [1]}}
batch_sizes: [4]
measure: {warmup_s: 0.01, min_time_s: 0.01, min_rounds: 3, memory_s: 0.01}
""",
    )
    results = pytester.path / "results"
    outcome = pytester.runpytest_subprocess(
        "--benchmark-only", "suite.yaml", "--bench-results", str(results), "-p", "no:cacheprovider"
    )
    outcome.assert_outcomes(passed=4, skipped=2)
    from bench.results import load

    frame = load(None, results).set_index("case_id")
    skipped = frame[frame["status"] == "skipped"]
    assert set(skipped.index) == {"reviews[bf16-onnxruntime-cpu-1t-bs4]", "reviews[ort-int8-dynamic-cpu-1t-bs4]"}
    assert "bfloat16" in skipped.loc["reviews[bf16-onnxruntime-cpu-1t-bs4]", "error"]
    assert "only on the onnxruntime engine" in skipped.loc["reviews[ort-int8-dynamic-cpu-1t-bs4]", "error"]
    ok = frame[frame["status"] == "ok"]
    assert ok["accuracy"].between(0, 1).all() and (ok["accuracy_metric"] == "top1").all()
    assert ok.loc["reviews[fp32-cpu-1t-bs4]", "accuracy_drop"] == 0.0
    ort = ok.loc["reviews[ort-int8-dynamic-onnxruntime-cpu-1t-bs4]"]
    assert ort["extra.accuracy_reference"] == "fp32/onnxruntime/cpu"
    assert ort["compile_time_s"] > 0 and ort["compress_backend"].startswith("onnxruntime.quantization")

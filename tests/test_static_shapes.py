"""Engines with static shapes (compile, TensorRT): the accuracy pass feeds them the case's own batch shape, so it
evaluates the graph that was timed and compiles nothing more; row-wise outputs come back whole and in order."""

from __future__ import annotations

import torch

from bench.compress import Compressed
from bench.engines import Prepared
from bench.measure.accuracy import measure_accuracy
from bench.measure.inputs import device_predict
from bench.spec import Case, MeasureSpec, MethodSpec, Placement
from tests._zoo import mlp_bundle


def recording(module):
    seen = []

    def call(*inputs):
        seen.append(tuple(t.shape[0] for t in inputs))
        return module(*inputs)

    return call, seen


def test_chunked_predict_returns_what_the_whole_request_would():
    torch.manual_seed(0)
    model = torch.nn.Linear(5, 3)
    call, seen = recording(model)
    x = torch.randn(10, 5)
    out = device_predict(call, "cpu", None, batch=4)(x)
    assert torch.allclose(out, model(x), atol=1e-6) and out.shape == (10, 3)
    assert set(seen) == {(4,)} and len(seen) == 3  # 4 + 4 + 2 padded to 4


def test_chunked_predict_keeps_output_structure():
    def call(a, b):
        return {"sum": a + b, "pair": (a * 2, b.sum(1, keepdim=True))}

    a, b = torch.arange(12.0).reshape(6, 2), torch.ones(6, 2)
    whole = call(a, b)
    got = device_predict(call, "cpu", None, batch=4)(a, b)
    assert torch.equal(got["sum"], whole["sum"]) and torch.equal(got["pair"][0], whole["pair"][0])
    assert torch.equal(got["pair"][1], whole["pair"][1])


def test_outputs_that_are_not_row_wise_get_the_whole_request():
    call, seen = recording(lambda x: x.sum())  # one number per request: chunking would change the answer
    x = torch.ones(10, 2)
    assert device_predict(call, "cpu", None, batch=4)(x).item() == 20.0
    assert seen[-1] == (10,)


def test_accuracy_of_a_static_shape_engine_sees_only_the_case_batch():
    bundle = mlp_bundle()
    call, seen = recording(bundle.module)
    case = Case(
        "s", MethodSpec("mlp"), MethodSpec("fp32"), MethodSpec("compile"), Placement("cpu", 1), 3, MeasureSpec()
    )
    static = measure_accuracy(bundle, Prepared(call, static_shapes=True), Compressed(bundle.module), case)
    assert {rows for rows, *_ in seen} == {3}
    seen.clear()
    dynamic = measure_accuracy(bundle, Prepared(call), Compressed(bundle.module), case)
    assert {rows for rows, *_ in seen} != {3}  # the model's own evaluation batches
    assert static["accuracy"] == dynamic["accuracy"]

"""Engines: compile and onnxruntime give the eager answers; impossible combinations skip with a reason."""

from __future__ import annotations

import pytest
import torch

from bench.errors import NotApplicable
from bench.spec import Placement
from tests._zoo import compress, mlp_bundle, one_thread, prepare

# The ONNX exporter and inductor raise library deprecation notices of their own; they are not ours to fix.
pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
    pytest.mark.filterwarnings("ignore:.*axis name.*:UserWarning"),
    pytest.mark.filterwarnings("ignore:To copy construct from a tensor:UserWarning"),
    pytest.mark.filterwarnings("ignore:torch.quantize_per_tensor:UserWarning"),
]


@pytest.fixture(autouse=True, scope="module")
def _single_thread():
    with one_thread():
        yield


@pytest.fixture(scope="module")
def bundle():
    return mlp_bundle()


def test_compile_matches_eager_and_times_compilation_apart(bundle):
    fp32 = compress("fp32", bundle)
    x = bundle.make_inputs(8)
    with torch.inference_mode():
        prepared = prepare("compile", fp32, x)
        assert prepared.info["compile_time_s"] > 0
        assert torch.allclose(prepared.call(*x), bundle.module(*x), atol=1e-5)
        other = bundle.make_inputs(3)  # a new batch size compiles again and still answers right
        assert torch.allclose(prepared.call(*other), bundle.module(*other), atol=1e-5)


@pytest.fixture
def frozen(monkeypatch) -> list[int]:
    """The thread count of every graph inductor freezes from here on (its real freezing pass still runs)."""
    import torch._inductor.freezing as freezing

    threads: list[int] = []
    real_freeze = freezing.freeze
    monkeypatch.setattr(
        freezing, "freeze", lambda *a, **k: threads.append(torch.get_num_threads()) or real_freeze(*a, **k)
    )
    return threads


def test_compile_freezes_the_graph_of_every_thread_count(bundle, frozen):
    """dynamo recompiles when the thread count changes; that graph, too, must be frozen (oneDNN pre-packing, real
    int8 kernels), not compiled with inductor's defaults as if it were the graph of a shape already seen."""
    fp32 = compress("fp32", bundle)
    x = bundle.make_inputs(4)
    with torch.inference_mode():
        prepared = prepare("compile", fp32, x)
        previous = torch.get_num_threads()
        try:
            torch.set_num_threads(2)
            assert torch.allclose(prepared.call(*x), bundle.module(*x), atol=1e-5)
            prepared.call(*x)  # the same key again: no further compilation
        finally:
            torch.set_num_threads(previous)
    assert frozen == [1, 2]


def test_compile_never_falls_back_to_eager_silently(bundle, frozen, monkeypatch):
    """dynamo stops compiling past its recompile limit and runs the function eagerly without an error; the engine
    gives each prepared model room for GRAPH_LIMIT graphs and fails loudly past it."""
    import bench.engines.compile as engine

    fp32 = compress("fp32", bundle)
    # recompile_limit 1: as if a sweep had outgrown dynamo's default of 8 graphs
    limit, _ = engine.limit_settings()
    with torch._dynamo.config.patch({limit: 1}), torch.inference_mode():
        prepared = prepare("compile", fp32, bundle.make_inputs(1))
        for batch in (2, 3):
            x = bundle.make_inputs(batch)
            assert torch.allclose(prepared.call(*x), bundle.module(*x), atol=1e-5)
        assert len(frozen) == 3  # every shape compiled (and frozen), none run eagerly
        monkeypatch.setattr(engine, "GRAPH_LIMIT", 3)
        with pytest.raises(RuntimeError, match="needs more than 3 graphs"):
            prepared.call(*bundle.make_inputs(4))


def test_compiled_static_int8_runs_and_keeps_accuracy(bundle):
    quantized = compress("int8-static", bundle, calibration_batches=4)
    with torch.inference_mode():
        prepared = prepare("compile", quantized, bundle.make_inputs(8))
        assert bundle.evaluate(prepared.call).value > 0.8


def test_onnxruntime_matches_eager_at_each_thread_count(bundle):
    fp32 = compress("fp32", bundle)
    x = bundle.make_inputs(8)
    previous = torch.get_num_threads()
    try:
        with torch.inference_mode():
            prepared = prepare("onnxruntime", fp32, x)
            assert prepared.info["onnx_size_bytes"] > 0
            for threads in (1, 2):
                torch.set_num_threads(threads)
                assert torch.allclose(prepared.call(*x), bundle.module(*x), atol=1e-4)
    finally:
        torch.set_num_threads(previous)


def test_ort_int8_dynamic_is_smaller_and_runs_only_on_onnxruntime(bundle):
    from bench.measure.size import measure_size

    quantized = compress("ort-int8-dynamic", bundle)
    assert measure_size(quantized.module).model_size_bytes < 0.5 * quantized.info["fp32_onnx_bytes"]
    x = bundle.make_inputs(8)
    with torch.inference_mode():
        prepared = prepare("onnxruntime", quantized, x)
        assert bundle.evaluate(prepared.call).value > 0.8
    for engine in ("eager", "compile"):
        with pytest.raises(NotApplicable, match="only on the onnxruntime engine"):
            prepare(engine, quantized, x)


@pytest.mark.parametrize(
    ("compression", "params", "engine", "reason"),
    [
        ("bf16", {}, "onnxruntime", "no torch.bfloat16 kernels"),
        ("fp16", {}, "onnxruntime", "no torch.float16 kernels"),
        ("int8-dynamic", {"backend": "torch.ao"}, "compile", "cannot trace torch.ao dynamic quantized Linear"),
        ("int8-dynamic", {"backend": "torch.ao"}, "onnxruntime", "does not export to ONNX"),
        ("int8-static", {"calibration_batches": 1}, "onnxruntime", "does not export to ONNX"),
    ],
)
def test_impossible_combinations_skip_with_a_reason(bundle, compression, params, engine, reason):
    compressed = compress(compression, bundle, **params)
    with pytest.raises(NotApplicable, match=reason):
        prepare(engine, compressed, bundle.make_inputs(2))


def test_onnxruntime_on_cuda_without_the_provider_skips(bundle):
    import onnxruntime

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("this onnxruntime has CUDA")
    with pytest.raises(NotApplicable, match="CUDAExecutionProvider"):
        prepare("onnxruntime", compress("fp32", bundle), bundle.make_inputs(2), placement=Placement("cuda:0"))


@pytest.mark.parametrize("compression", ["bf16", "fp16"])
def test_onnxruntime_on_cuda_refuses_half_precision_with_a_reason_about_cuda(monkeypatch, bundle, compression):
    """Was: 'ONNX Runtime's CPU provider has no torch.bfloat16 kernels for most ops' for a cuda:0 case."""
    import onnxruntime

    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: ["CUDAExecutionProvider"])
    compressed = compress(compression, bundle)
    with pytest.raises(NotApplicable) as skipped:
        prepare("onnxruntime", compressed, bundle.make_inputs(2), placement=Placement("cuda:1"))
    reason = str(skipped.value)
    assert "CPU" not in reason and f"{compressed.input_dtype} models on cuda:1" in reason
    assert "runs fp32 and ort-int8-dynamic models there" in reason


def test_a_model_that_does_not_export_to_onnx_fails_naming_its_line_and_the_cause():
    """Was: 'TorchExportError: Failed to export the model with torch.export. \\x1b[96mThis is step 1/3\\x1b[0m of
    exporting the model to ONNX. Next steps: - Modify the model code ...', cut at 300 characters before the cause."""
    import inspect

    from bench.engines.onnxruntime import OnnxExportError, export_onnx
    from bench.errors import one_line
    from tests.fakes.models import DataDependent

    module = DataDependent().eval()
    with pytest.raises(OnnxExportError) as info:
        export_onnx(module, (torch.randn(2, 8),))
    line = inspect.getsourcelines(DataDependent.forward)[1] + 2
    message = one_line(info.value)
    assert message.startswith(
        f"OnnxExportError: the model does not export to ONNX (torch.onnx.export), at "
        f"{inspect.getsourcefile(DataDependent)}:{line} (if float(y.sum()) > 0: # the line the export fails at): "
    )
    assert "\x1b" not in message and "Next steps" not in message and len(message) < 300


@pytest.mark.parametrize("mode", ["default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"])
@pytest.mark.parametrize("max_autotune", [False, True])
def test_the_compile_record_says_whether_inductor_autotuned_as_torch_compile_decides(monkeypatch, mode, max_autotune):
    """``{compile: {mode: max-autotune, max_autotune: false}}`` autotuned (torch.compile applies its mode's options
    after the engine's settings) while the record said max_autotune: false. The record now says what torch applies."""
    import bench.engines.compile

    monkeypatch.setattr(bench.engines.compile.torch, "compile", lambda module, **_: module)  # nothing to compile
    bundle = mlp_bundle()
    with one_thread(), torch.inference_mode():
        prepared = prepare(
            "compile", compress("fp32", bundle), bundle.make_inputs(2), mode=mode, max_autotune=max_autotune
        )
    applied = torch._TorchCompileInductorWrapper(mode, None, False).config  # what torch.compile patches over ours
    assert prepared.info["compile_max_autotune"] == applied.get("max_autotune", max_autotune)
    overridden = prepared.info["compile_max_autotune"] != max_autotune
    assert ("compile_max_autotune_note" in prepared.info) == overridden
    if overridden:
        assert f"mode {mode} sets max_autotune: true" in prepared.info["compile_max_autotune_note"]

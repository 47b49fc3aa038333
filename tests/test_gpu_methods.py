"""The GPU-oriented methods on a CPU-only machine: compile's ``mode`` (CUDA graphs apply only on CUDA), fp8's
skips with reasons, fp8 weight-only for real, and the tensorrt engine's skips and fallback accounting (with a fake
``torch_tensorrt`` standing in: no TensorRT runs here)."""

from __future__ import annotations

import contextlib
import sys
import types

import pytest
import torch
from torch import nn

from bench.errors import NotApplicable
from bench.measure.size import measure_size
from bench.spec import Placement
from tests._zoo import compress, mlp_bundle, one_thread, prepare

CUDA0 = Placement("cuda:0")

pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
]


@pytest.fixture(autouse=True, scope="module")
def _single_thread():
    with one_thread():
        yield


@pytest.fixture(scope="module")
def bundle():
    return mlp_bundle(width=128)


# -- compile mode ------------------------------------------------------------------------------------------


def test_reduce_overhead_compiles_and_runs_on_cpu_and_says_cuda_graphs_did_not_apply(bundle):
    from bench.engines.compile import compile_modes, uses_cudagraphs

    assert "reduce-overhead" in compile_modes() and uses_cudagraphs("reduce-overhead")
    x = bundle.make_inputs(8)
    with torch.inference_mode():
        prepared = prepare("compile", compress("fp32", bundle), x, mode="reduce-overhead")
        assert torch.allclose(prepared.call(*x), bundle.module(*x), atol=1e-5)
        other = bundle.make_inputs(3)  # a new shape compiles again
        assert torch.allclose(prepared.call(*other), bundle.module(*other), atol=1e-5)
    info = prepared.info
    assert info["compile_mode"] == "reduce-overhead"
    assert info["compile_cudagraphs"] is False
    assert "only to CUDA devices" in info["compile_cudagraphs_note"] and "cpu" in info["compile_cudagraphs_note"]
    assert info["compile_cudagraph_skips"] >= 1  # inductor itself declined CUDA graphs for the CPU graph
    assert "compile_outputs" not in info  # outputs are copied only where a CUDA graph owns them


def _spy_sync(monkeypatch, module_name: str, events: list[str]) -> None:
    """The engine's device synchronizer for ``cuda:0`` records when it runs (no CUDA here: nothing is waited on)."""
    import importlib

    engine = importlib.import_module(module_name)
    real = engine.synchronizer
    monkeypatch.setattr(
        engine, "synchronizer", lambda device: (lambda: events.append("sync")) if device == "cuda:0" else real(device)
    )


def test_compile_time_on_cuda_includes_the_first_calls_kernels(bundle, monkeypatch):
    """A CUDA call returns before its kernels ran: compile_time_s stopped its clock there, and the first call's GPU
    work fell into the warm-up instead. The engine now waits for the device after the call that compiles."""
    events: list[str] = []
    _spy_sync(monkeypatch, "bench.engines.compile", events)
    module = compress("fp32", bundle).module
    handle = module.register_forward_hook(lambda *_: events.append("call"))
    try:
        with torch.inference_mode():
            prepared = prepare("compile", compress("fp32", bundle), bundle.make_inputs(2), placement=CUDA0)
    finally:
        handle.remove()
    assert events[-1] == "sync" and events.count("sync") == 1 and prepared.info["compile_time_s"] > 0
    events.clear()
    with torch.inference_mode():
        prepare("compile", compress("fp32", bundle), bundle.make_inputs(2))
    assert events == []  # on the CPU there is nothing to wait for


def test_an_unknown_compile_mode_is_refused_before_compiling(bundle):
    with pytest.raises(ValueError, match=r"unknown mode 'turbo'; allowed: default, .*reduce-overhead"):
        prepare("compile", compress("fp32", bundle), bundle.make_inputs(2), mode="turbo")


# -- fp8 ------------------------------------------------------------------------------------------------------


def test_fp8_skips_on_cpu_with_the_reason(bundle):
    with pytest.raises(NotApplicable, match=r"compute capability >= 8\.9 .*cpu is not a CUDA device"):
        compress("fp8", bundle)


@pytest.mark.parametrize("granularity", ["per-row", "per-tensor"])
def test_fp8_skips_on_a_gpu_older_than_ada_naming_its_capability(bundle, monkeypatch, granularity):
    # only the capability query is faked: the check must refuse before any CUDA work
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (8, 0))
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "NVIDIA A100")
    with pytest.raises(NotApplicable, match=r"cuda:0 \(NVIDIA A100\) is 8\.0"):
        compress("fp8", bundle, placement=CUDA0, granularity=granularity)


def test_fp8_capability_gate_admits_ada_and_hopper(monkeypatch):
    from bench.compress.float8 import check_float8_matmul

    for capability in ((8, 9), (9, 0), (10, 0)):
        monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None, c=capability: c)
        check_float8_matmul(CUDA0)  # no NotApplicable
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (8, 6))
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "NVIDIA RTX A6000")
    with pytest.raises(NotApplicable, match=r"is 8\.6"):
        check_float8_matmul(CUDA0)


@pytest.mark.parametrize("granularity", ["per-row", "per-tensor"])
def test_fp8_weight_only_stores_float8_weights_and_stays_close(bundle, granularity):
    from torchao.quantization import Float8Tensor

    result = compress("fp8-weight-only", bundle, granularity=granularity)
    linears = [m for m in result.module.modules() if isinstance(m, nn.Linear)]
    assert linears and all(isinstance(m.weight, Float8Tensor) for m in linears)
    assert result.info["float8_linears"] == f"{len(linears)}/{len(linears)}"
    assert result.info["float8_granularity"] == granularity and granularity in result.info["backend"]
    assert result.input_dtype == torch.bfloat16
    bf16_size = measure_size(compress("bf16", bundle).module).model_size_bytes
    assert measure_size(result.module).model_size_bytes < 0.7 * bf16_size
    assert measure_size(bundle.module).model_size_bytes > 3 * measure_size(result.module).model_size_bytes
    x = bundle.make_inputs(16)[0]
    with torch.inference_mode():
        out = result.module(x.to(torch.bfloat16)).float()
        assert out.shape == bundle.module(x).shape
        assert torch.allclose(out, bundle.module(x), atol=0.1)
        assert bundle.evaluate(lambda t: result.module(t.to(torch.bfloat16))).value > 0.9
    assert bundle.module[0].weight.dtype == torch.float32, "the fp32 bundle is never modified"


def test_fp8_levels_skip_models_without_linear_layers_and_onnxruntime():
    from bench.models import MODELS

    noop = MODELS.get("noop").fn()
    with pytest.raises(NotApplicable, match="fp8-weight-only quantizes Linear layers and this model has none"):
        compress("fp8-weight-only", noop)
    quantized = compress("fp8-weight-only", mlp_bundle())
    with pytest.raises(NotApplicable, match="float8 model does not export to ONNX"):
        prepare("onnxruntime", quantized, (torch.zeros(2, 32),))


# -- tensorrt -------------------------------------------------------------------------------------------------


class FakeEngine(nn.Module):
    """Stands in for a TensorRT engine submodule: runs the PyTorch layers it was given."""

    def __init__(self, layers: nn.Module):
        super().__init__()
        self.layers = layers

    def forward(self, x):
        return self.layers(x)


class Tail(nn.Module):
    """The part a partitioner left to PyTorch: traced into call_function nodes (relu, linear)."""

    def __init__(self, linear: nn.Linear):
        super().__init__()
        self.linear = linear

    def forward(self, x):
        return nn.functional.linear(torch.relu(x), self.linear.weight, self.linear.bias)


@pytest.fixture
def fake_torch_tensorrt(monkeypatch):
    """A ``torch_tensorrt`` whose compile returns a graph module partitioned the way Torch-TensorRT names it:
    ``_run_on_acc_0`` (an "engine": the first three layers) then ``_run_on_gpu_1`` (relu + linear in PyTorch).

    The GPU's memory is faked too: each build takes 300 MiB outside torch's allocator (TensorRT's own) and makes
    torch reserve 20 MiB more (``torch.cuda.mem_get_info`` sees both, ``torch.cuda.memory_reserved`` the latter)."""
    calls: list[dict] = []
    gpu = {"used": 1000 * 2**20, "reserved": 500 * 2**20}
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (80 * 2**30 - gpu["used"], 80 * 2**30))
    monkeypatch.setattr(torch.cuda, "memory_reserved", lambda device=None: gpu["reserved"])

    def compile(module, ir, inputs, enabled_precisions, min_block_size, device=None):
        calls.append({"ir": ir, "shape": tuple(inputs[0].shape), "precisions": enabled_precisions, "device": device})
        calls[-1]["current"] = current[-1] if current else None
        gpu["used"] += 320 * 2**20
        gpu["reserved"] += 20 * 2**20
        root = nn.Module()
        root._run_on_acc_0 = FakeEngine(module[:3])
        root._run_on_gpu_1 = torch.fx.symbolic_trace(Tail(module[4]))
        graph = torch.fx.Graph()
        x = graph.placeholder("x")
        graph.output(graph.call_module("_run_on_gpu_1", (graph.call_module("_run_on_acc_0", (x,)),)))
        return torch.fx.GraphModule(root, graph)

    monkeypatch.setitem(sys.modules, "torch_tensorrt", types.SimpleNamespace(compile=compile, __version__="0-fake"))
    import bench.engines.tensorrt

    monkeypatch.setattr(bench.engines.tensorrt, "synchronizer", lambda device: lambda: None)  # no CUDA to wait for
    current: list[str] = []  # the current CUDA device, as torch.cuda.device would set it

    @contextlib.contextmanager
    def current_device(device):
        current.append(device)
        try:
            yield
        finally:
            current.pop()

    monkeypatch.setattr(bench.engines.tensorrt, "current_device", current_device)
    return calls


def test_tensorrt_skips_off_cuda_with_the_reason(bundle):
    with pytest.raises(NotApplicable, match="TensorRT runs only on NVIDIA CUDA GPUs; cpu is not one"):
        prepare("tensorrt", compress("fp32", bundle), bundle.make_inputs(2))


def test_tensorrt_skips_when_torch_tensorrt_is_missing_saying_how_to_install(bundle, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch_tensorrt", None)  # import raises ImportError
    with pytest.raises(NotApplicable, match=r"needs torch-tensorrt \(pip install 'bench\[tensorrt\]'\)"):
        prepare("tensorrt", compress("fp32", bundle), bundle.make_inputs(2), placement=CUDA0)


class _LibrariesMissing:
    """A finder for ``torch_tensorrt`` whose import fails as the real package's does without TensorRT's libraries:
    its ``__init__`` loads ``libtorchtrt.so`` through ctypes (``torch.ops.load_library``), which raises OSError."""

    def find_spec(self, name, path=None, target=None):
        if name == "torch_tensorrt":
            raise OSError("libnvinfer_plugin.so.10: cannot open shared object file: No such file or directory")
        return None


def test_tensorrt_skips_when_its_libraries_do_not_load_naming_the_library(bundle, monkeypatch):
    """torch-tensorrt present, TensorRT's shared libraries absent: every tensorrt case failed with an OSError
    traceback instead of a skip."""
    monkeypatch.delitem(sys.modules, "torch_tensorrt", raising=False)
    monkeypatch.setattr(sys, "meta_path", [_LibrariesMissing(), *sys.meta_path])
    with pytest.raises(NotApplicable) as skipped:
        prepare("tensorrt", compress("fp32", bundle), bundle.make_inputs(2), placement=CUDA0)
    assert "cannot load TensorRT's libraries (libnvinfer_plugin.so.10: cannot open shared object" in str(skipped.value)


def test_tensorrt_records_engines_and_the_ops_that_fell_back(bundle, fake_torch_tensorrt):
    x = bundle.make_inputs(4)
    with torch.inference_mode():
        prepared = prepare("tensorrt", compress("fp32", bundle), x, placement=CUDA0)
        assert torch.allclose(prepared.call(*x), bundle.module(*x), atol=1e-6)
        other = bundle.make_inputs(8)
        assert torch.allclose(prepared.call(*other), bundle.module(*other), atol=1e-6)
    info = prepared.info
    assert (info["tensorrt_engines"], info["tensorrt_fallback_submodules"]) == (1, 1)
    assert info["tensorrt_fallback_op_count"] == 2
    assert set(info["tensorrt_fallback_ops"].split(", ")) == {"relu x1", "linear x1"}
    assert info["tensorrt_version"] == "0-fake" and info["tensorrt_precision"] == "float32"
    # one build per input shape (static-shape engines), dynamo frontend, in the model's own precision
    assert [(c["ir"], c["shape"], c["precisions"]) for c in fake_torch_tensorrt] == [
        ("dynamo", (4, 32), {torch.float32}),
        ("dynamo", (8, 32), {torch.float32}),
    ]


def test_tensorrt_measures_the_memory_its_engines_hold_outside_torch(bundle, fake_torch_tensorrt):
    """TensorRT's engines live outside torch's allocator: the memory pass read torch's counters only and reported
    the inputs and fallbacks as the case's CUDA memory, without the engines' weights. Now the engine says its memory
    is outside torch (the memory pass then leaves torch's figures out with the reason, as for ONNX Runtime) and
    measures what its builds took outside torch (faked GPU memory here)."""
    with torch.inference_mode():
        prepared = prepare("tensorrt", compress("fp32", bundle), bundle.make_inputs(4), placement=CUDA0)
        assert "outside torch's caching allocator" in (prepared.outside_torch or "")
        assert prepared.info["tensorrt_outside_torch_mb"] == pytest.approx(300.0)  # not torch's 20 MiB more
        prepared.call(*bundle.make_inputs(8))  # a second engine: both are held
        assert prepared.info["tensorrt_outside_torch_mb"] == pytest.approx(600.0)
        prepared.call(*bundle.make_inputs(8))  # no build: nothing more
    assert prepared.info["tensorrt_outside_torch_mb"] == pytest.approx(600.0)


def test_tensorrt_build_time_includes_the_first_run_on_the_gpu(bundle, fake_torch_tensorrt, monkeypatch):
    events: list[str] = []
    _spy_sync(monkeypatch, "bench.engines.tensorrt", events)
    with torch.inference_mode():
        prepare("tensorrt", compress("fp32", bundle), bundle.make_inputs(4), placement=CUDA0)
    assert events == ["sync"] and len(fake_torch_tensorrt) == 1


def test_tensorrt_builds_in_the_compressed_precision(bundle, fake_torch_tensorrt):
    half = compress("fp16", bundle)
    with torch.inference_mode():
        prepared = prepare("tensorrt", half, (bundle.make_inputs(2)[0].half(),), placement=CUDA0)
    assert fake_torch_tensorrt[0]["precisions"] == {torch.float16}
    assert prepared.info["tensorrt_precision"] == "float16"


def test_tensorrt_refuses_torchao_tensor_subclasses(bundle, fake_torch_tensorrt):
    quantized = compress("fp8-weight-only", bundle)
    with pytest.raises(NotApplicable, match=r"cannot compile torchao's quantized tensor subclasses \(Float8Tensor"):
        prepare("tensorrt", quantized, bundle.make_inputs(2), placement=CUDA0)
    assert not fake_torch_tensorrt


def test_tensorrt_builds_and_runs_on_the_cases_gpu_not_the_current_one(bundle, fake_torch_tensorrt):
    """Torch-TensorRT compiles for the current CUDA device unless given one, and every thread starts on device 0:
    a cuda:1 case built its engines for GPU 0 while its inputs were on GPU 1."""
    x = bundle.make_inputs(4)
    with torch.inference_mode():
        prepared = prepare("tensorrt", compress("fp32", bundle), x, placement=Placement("cuda:1"))
        prepared.call(*bundle.make_inputs(2))  # a new shape: another build, from a later call
    assert [(c["device"], c["current"]) for c in fake_torch_tensorrt] == [(torch.device("cuda:1"), "cuda:1")] * 2


def test_partition_summary_of_a_graph_without_fallback():
    from bench.engines.tensorrt import partition_summary

    root = nn.Module()
    root._run_on_acc_0 = nn.Identity()
    graph = torch.fx.Graph()
    graph.output(graph.call_module("_run_on_acc_0", (graph.placeholder("x"),)))
    summary = partition_summary(torch.fx.GraphModule(root, graph))
    assert summary == {
        "tensorrt_engines": 1,
        "tensorrt_fallback_submodules": 0,
        "tensorrt_fallback_op_count": 0,
        "tensorrt_fallback_ops": "",
    }


def test_cuda_graphs_say_torchs_peak_misses_their_pool_and_only_on_cuda(bundle, monkeypatch):
    """A CUDA graph replays in the private pool it was recorded in and allocates nothing: the memory pass read the
    weights plus the copied outputs as a reduce-overhead case's peak, far below the same model's eager figure."""
    _spy_sync(monkeypatch, "bench.engines.compile", [])
    x = bundle.make_inputs(2)
    with torch.inference_mode():
        graphs = prepare("compile", compress("fp32", bundle), x, placement=CUDA0, mode="reduce-overhead")
        plain = prepare("compile", compress("fp32", bundle), x, placement=CUDA0)
        on_cpu = prepare("compile", compress("fp32", bundle), x, mode="reduce-overhead")
    assert "private memory pool" in graphs.cuda_peak_unseen and "reduce-overhead" in graphs.cuda_peak_unseen
    assert plain.cuda_peak_unseen is None and on_cpu.cuda_peak_unseen is None
    assert graphs.outside_torch is None  # torch's allocator holds the pool: the resident weights are still read


def test_the_memory_pass_leaves_a_cuda_graph_peak_empty_and_keeps_the_weights(monkeypatch):
    import bench.measure.memory
    from bench.measure.memory import memory_pass
    from tests.test_device_contract import FakeGpu

    replay = FakeGpu(resident=2**20, work=0)  # a replay allocates nothing
    monkeypatch.setattr(bench.measure.memory, "CudaMemory", lambda device: replay)
    monkeypatch.setattr(bench.measure.memory, "device_bytes", lambda module, device: 4 * 2**20)
    result = memory_pass(replay.call, "cuda:0", 0.0, nn.Linear(4, 4), None, "CUDA graphs replay in their pool")
    assert result.columns["cuda_max_allocated_mb"] is None and result.columns["cuda_weights_mb"] == 4
    assert result.extra["cuda_memory_note"] == (
        "cuda_max_allocated_mb not measured: CUDA graphs replay in their pool; cuda_weights_mb is measured"
    )
    eager = memory_pass(replay.call, "cuda:0", 0.0, nn.Linear(4, 4))
    assert eager.columns["cuda_max_allocated_mb"] == 4 and "cuda_memory_note" not in eager.extra
    on_cpu = memory_pass(replay.call, "cpu", 0.0, nn.Linear(4, 4), None, "unseen")
    assert on_cpu.columns["cuda_max_allocated_mb"] is None and "cuda_memory_note" not in on_cpu.extra


def test_current_device_is_the_cases_gpu_and_nothing_off_cuda():
    from bench.hardware import current_device

    guard = current_device("cuda:1")
    assert isinstance(guard, torch.cuda.device) and guard.idx == 1  # entered only on a real GPU
    assert current_device("cuda").idx == 0  # bare cuda: torch's default device
    with current_device("cpu"):  # nothing to set, and no CUDA touched
        pass

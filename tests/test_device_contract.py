"""The device contract, checked without a GPU: models see CPU tensors only, torchao variants are built on the case's
device, and the CUDA memory figure is the case's own whatever ran before it.

A fake ``cuda:0`` comes from ``FakeTensorMode``: its tensors carry a device but no data, and mixing devices raises
``FakeTensorDeviceMismatchError`` exactly as a real GPU would. A step that needs a value (``float()``,
``.numpy()``) cannot run on fake tensors; everything up to it has run, device checks included.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import pytest
import torch
from torch._subclasses.fake_tensor import DataDependentOutputException, FakeTensorMode
from torch.func import functional_call

from bench.compress import Compressed
from bench.engines import Prepared
from bench.measure.accuracy import measure_accuracy
from bench.measure.memory import measure_memory, memory_pass
from bench.measure.size import device_bytes
from bench.models import MODELS
from bench.spec import Case, MeasureSpec, MethodSpec, Placement
from tests._zoo import compress, mlp_bundle, one_thread

EXAMPLES = Path(__file__).parent.parent / "examples" / "user_model"
FAKE_CUDA = Placement("cuda:0")


def _fake_cuda_call(module: torch.nn.Module, mode: FakeTensorMode):
    """The module run with its weights on a fake cuda:0 (as an engine on a real GPU would run it)."""
    state = {**dict(module.named_parameters()), **dict(module.named_buffers())}
    weights = {name: mode.from_tensor(tensor.detach()).to("cuda:0") for name, tensor in state.items()}
    return lambda *inputs: functional_call(module, weights, inputs)


def evaluate_on_fake_cuda(bundle) -> list[torch.device]:
    """Run the accuracy pass of ``bundle`` on a fake cuda:0; returns the devices of every output ``evaluate`` saw."""
    seen: list[torch.device] = []
    evaluate = bundle.evaluate

    def spying_evaluate(predict):
        def spy(*inputs):
            assert all(t.device.type == "cpu" for t in inputs if isinstance(t, torch.Tensor)), "evaluate's inputs"
            out = predict(*inputs)
            seen.append(out.device)
            return out

        return evaluate(spy)

    bundle.evaluate = spying_evaluate
    case = Case("s", MethodSpec("m"), MethodSpec("fp32"), MethodSpec("eager"), FAKE_CUDA, 1, MeasureSpec())
    with torch.no_grad(), FakeTensorMode(allow_non_fake_inputs=True) as mode:
        prepared = Prepared(call=_fake_cuda_call(bundle.module, mode))
        with contextlib.suppress(DataDependentOutputException):  # a value was needed: fake tensors have none
            try:
                measure_accuracy(bundle, prepared, Compressed(module=bundle.module), case)
            except RuntimeError as err:
                if "not supported for tensor subclasses" not in str(err):  # .numpy() of a fake tensor
                    raise
    assert seen, "evaluate never called predict"
    return seen


def _example_bundle():
    sys.path.insert(0, str(EXAMPLES))
    try:
        import my_models

        return my_models.build(epochs=1)
    finally:
        sys.path.remove(str(EXAMPLES))


def _registered(name: str, **params):
    entry = MODELS.get(name)
    pytest.importorskip("sklearn")
    with one_thread():
        return entry.fn(**{**entry.params, **params})


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(_example_bundle, id="examples/user_model"),
        pytest.param(lambda: _registered("cnn-products", epochs=1), id="cnn-products"),
        pytest.param(mlp_bundle, id="mlp"),
    ],
)
def test_evaluate_sees_only_cpu_tensors_when_the_case_runs_on_cuda(build):
    """The documented user-model interface (and the built-in helpers) works on cuda unchanged. (dlrm-ctr's
    EmbeddingBag asks for a real CUDA device guard even on fake tensors, so it is covered by the interface alone.)"""
    bundle = build()
    if bundle.evaluate is None:
        pytest.skip("this model has no accuracy pass")
    assert {device.type for device in evaluate_on_fake_cuda(bundle)} == {"cpu"}


def test_a_device_mismatch_is_what_the_fake_cuda_catches():
    """The harness of these tests can fail: a predict that leaves outputs on cuda breaks a CPU comparison."""
    bundle = mlp_bundle()
    labels = torch.zeros(4, dtype=torch.long)
    with torch.no_grad(), FakeTensorMode(allow_non_fake_inputs=True) as mode:
        call = _fake_cuda_call(bundle.module, mode)
        out = call(torch.zeros(4, 32).to("cuda:0"))
        with pytest.raises(RuntimeError, match="same device"):
            _ = out.argmax(1) == labels


@pytest.mark.parametrize(("method", "params"), [("int8-weight-only", {}), ("int8-dynamic", {"backend": "torchao"})])
def test_torchao_methods_quantize_a_module_already_on_the_case_device(monkeypatch, method, params):
    """torchao's tensor subclasses cannot move across devices after quantization, so they must be built in place.
    The ``meta`` device stands in for an accelerator: quantize_ is spied on, and must see no CPU weight."""
    pytest.importorskip("torchao")
    import torchao.quantization

    devices: list[set[str]] = []
    monkeypatch.setattr(
        torchao.quantization,
        "quantize_",
        lambda module, config: devices.append({p.device.type for p in module.parameters()}),
    )
    compress(method, mlp_bundle(), Placement("meta"), **params)
    assert devices == [{"meta"}]


class FakeGpu:
    """The allocator counters of one device: ``resident`` bytes held by whatever ran before, ``work`` transient
    bytes each call allocates and frees."""

    def __init__(self, resident: int, work: int):
        self.resident, self.work, self._peak = resident, work, resident

    def settle(self) -> None:
        pass

    def reset_peak(self) -> None:
        self._peak = self.resident

    def allocated(self) -> int:
        return self.resident

    def peak(self) -> int:
        return self._peak

    def call(self) -> None:
        self._peak = max(self._peak, self.resident + self.work)


@pytest.mark.parametrize("left_over_mb", [0, 121, 631])
def test_cuda_memory_is_the_cases_own_whatever_ran_before(left_over_mb):
    """Earlier variants still resident (121 MB, 631 MB in the H100 evidence) do not change the case's figure."""
    weights = 40 * 2**20
    gpu = FakeGpu(resident=weights + left_over_mb * 2**20, work=8 * 2**20)
    result = measure_memory(gpu.call, "cuda:0", 0.0, weights_bytes=weights, gpu=gpu)
    assert result.cuda_weights_mb == pytest.approx(40)
    assert result.cuda_max_allocated_mb == pytest.approx(48)


def test_device_bytes_counts_resident_weights_once():
    module = torch.nn.Sequential(torch.nn.Linear(16, 16), torch.nn.Linear(16, 16))
    module[1].weight = module[0].weight  # tied weights share one storage
    expected = (16 * 16 + 16 + 16) * 4
    assert device_bytes(module, "cpu") == expected
    assert device_bytes(module, "cuda:0") == 0  # nothing of it is on a GPU
    assert device_bytes(object(), "cpu") is None
    bf16 = compress("bf16", mlp_bundle())
    assert device_bytes(bf16.module, "cpu") * 2 == device_bytes(mlp_bundle().module, "cpu")


def test_cuda_memory_outside_torchs_allocator_is_empty_with_the_reason(monkeypatch):
    """ONNX Runtime on CUDA allocates with its own arena: torch's counters saw only the inputs, and the record
    showed a near-zero cuda_max_allocated_mb as the case's peak. A torch module on a torch engine keeps its figures."""
    import bench.measure.memory
    from bench.engines.onnxruntime import OnnxModel

    monkeypatch.setattr(bench.measure.memory, "CudaMemory", lambda device: FakeGpu(resident=2**20, work=2**20))
    arena = "ONNX Runtime's CUDA provider allocates device memory in its own arena"
    for module, outside, why in [
        (OnnxModel(b"onnx"), None, "the model is not a torch module (OnnxModel)"),
        (torch.nn.Linear(4, 4), arena, arena),  # fp32 exported by the engine: the torch copy is not what runs
    ]:
        result = memory_pass(lambda: None, "cuda:0", 0.0, module, outside)
        assert result.columns["cuda_max_allocated_mb"] is None and result.columns["cuda_weights_mb"] is None
        assert (
            result.extra["cuda_memory_note"]
            == f"not measured: {why}; cuda_max_allocated_mb reads torch's allocator only"
        )
        assert result.columns["peak_rss_mb"] > 0
    torch_engine = memory_pass(lambda: None, "cuda:0", 0.0, torch.nn.Linear(4, 4))
    assert torch_engine.columns["cuda_weights_mb"] == 0  # its weights are on the CPU here, not on the device
    assert torch_engine.columns["cuda_max_allocated_mb"] == 0 and "cuda_memory_note" not in torch_engine.extra
    assert memory_pass(lambda: None, "cpu", 0.0, OnnxModel(b"onnx")).extra.keys() == {"memory_calls", "memory_window_s"}


@pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::DeprecationWarning")
def test_the_onnxruntime_engine_on_cuda_says_its_memory_is_outside_torch(monkeypatch):
    pytest.importorskip("onnxruntime")
    import onnxruntime

    from tests._zoo import prepare

    monkeypatch.setattr(
        onnxruntime, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"]
    )
    _fake_ort_sessions(monkeypatch, onnxruntime, active="CUDAExecutionProvider")
    bundle = mlp_bundle()
    with one_thread(), torch.inference_mode():
        on_cuda = prepare("onnxruntime", compress("fp32", bundle), bundle.make_inputs(2), placement=FAKE_CUDA)
        on_cpu = prepare("onnxruntime", compress("fp32", bundle), bundle.make_inputs(2))
    assert "own arena" in on_cuda.outside_torch and on_cpu.outside_torch is None


@pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::DeprecationWarning")
def test_the_slowdown_engine_keeps_what_its_inner_engine_says_of_its_device_memory(monkeypatch):
    """slowdown wraps another engine: it returned only that engine's call and info, so an onnxruntime case on CUDA
    read torch's counters (its inputs alone, ONNX Runtime's arena unseen) as the case's CUDA memory."""
    pytest.importorskip("onnxruntime")
    import onnxruntime

    from tests._zoo import prepare

    _fake_ort_sessions(monkeypatch, onnxruntime, active="CUDAExecutionProvider")
    bundle = mlp_bundle()
    with one_thread(), torch.inference_mode():
        inner = prepare("onnxruntime", compress("fp32", bundle), bundle.make_inputs(2), placement=FAKE_CUDA)
        slowed = prepare("slowdown", compress("fp32", bundle), bundle.make_inputs(2), FAKE_CUDA, inner="onnxruntime")
    assert slowed.outside_torch == inner.outside_torch and "own arena" in slowed.outside_torch
    assert (slowed.static_shapes, slowed.cuda_peak_unseen) == (inner.static_shapes, inner.cuda_peak_unseen)
    assert slowed.info["slowdown_inner"] == "onnxruntime" and "onnx_size_bytes" in slowed.info


class _HostBinding:
    """ONNX Runtime's IOBinding of a session on the CPU provider, for a session that says it runs on CUDA: each
    binding is recorded as the engine asked for it, ``(kind, name, device_type, device_id)``, then made in host
    memory, where the test's tensors are."""

    def __init__(self, real, bound: list):
        self.real, self.bound = real, bound

    def bind_input(self, name, device_type, device_id, *buffer):
        self.bound.append(("input", name, device_type, device_id))
        self.real.bind_input(name, "cpu", 0, *buffer)

    def bind_output(self, name, device_type="cpu", device_id=0, *buffer):
        self.bound.append(("output", name, device_type, device_id))
        self.real.bind_output(name, "cpu", 0, *buffer)

    def __getattr__(self, name):
        return getattr(self.real, name)


def _fake_ort_sessions(
    monkeypatch, onnxruntime, active: str, fails_at_run: int | None = None, bound: list | None = None
) -> list:
    """ONNX Runtime's sessions made on the CPU provider (there is no CUDA here), each reporting ``active`` as the
    provider it runs on when the engine asked for CUDA (as a session on a real GPU does); their IOBindings record
    what was bound where in ``bound`` (:class:`_HostBinding`). With ``fails_at_run``, such a session's CUDA provider
    fails from that run on, as ONNX Runtime reports an execution provider's failure (``EPFail``). The ``providers``
    each session was asked for are returned, in order."""
    from onnxruntime.capi.onnxruntime_pybind11_state import EPFail

    asked: list = []
    bound = [] if bound is None else bound
    real_session = onnxruntime.InferenceSession
    monkeypatch.setattr(
        onnxruntime, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"]
    )

    class Session:
        def __init__(self, model, options, providers):
            asked.append(providers)
            self.real = real_session(model, options, providers=["CPUExecutionProvider"])
            cuda = any("CUDA" in str(p) for p in providers)
            self.active = [active, "CPUExecutionProvider"] if cuda and active != "CPUExecutionProvider" else None
            self.runs = 0

        def get_providers(self):
            return self.active or self.real.get_providers()

        def io_binding(self):
            return _HostBinding(self.real.io_binding(), bound) if self.active else self.real.io_binding()

        def run_with_iobinding(self, binding, run_options=None):
            self.runs += 1
            if self.active and fails_at_run and self.runs >= fails_at_run:
                raise EPFail("CUDA failure 700: an illegal memory access was encountered")
            self.real.run_with_iobinding(getattr(binding, "real", binding), run_options)

        def __getattr__(self, name):
            return getattr(self.real, name)

    monkeypatch.setattr(onnxruntime, "InferenceSession", Session)
    return asked


@pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::DeprecationWarning")
def test_an_onnxruntime_session_that_fell_back_to_the_cpu_is_a_skip_not_a_cuda_timing(monkeypatch):
    """A CUDA build of ONNX Runtime whose CUDA or cuDNN libraries do not load runs the session on its CPU provider
    after one logged error: the case was timed on the CPU and recorded as cuda:0."""
    pytest.importorskip("onnxruntime")
    import onnxruntime

    from bench.errors import NotApplicable
    from tests._zoo import prepare

    _fake_ort_sessions(monkeypatch, onnxruntime, active="CPUExecutionProvider")
    bundle = mlp_bundle()
    with one_thread(), torch.inference_mode(), pytest.raises(NotApplicable) as skipped:
        prepare("onnxruntime", compress("fp32", bundle), bundle.make_inputs(2), placement=FAKE_CUDA)
    assert "could not start its CUDA provider for cuda:0 and fell back to CPUExecutionProvider" in str(skipped.value)
    with one_thread(), torch.inference_mode():  # the CPU engine on the CPU is what it asked for
        assert prepare("onnxruntime", compress("fp32", bundle), bundle.make_inputs(2)).outside_torch is None


@pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::DeprecationWarning")
def test_an_onnxruntime_cuda_provider_that_fails_during_a_call_fails_the_case_not_runs_on_the_cpu(monkeypatch):
    """ONNX Runtime's run() answers an execution provider's failure by rebuilding the session on the CPU provider
    and running on, with a printed notice: every later call of a cuda:0 case was timed on the CPU. The CUDA call
    runs with IOBinding, and fails with the provider's error."""
    pytest.importorskip("onnxruntime")
    import onnxruntime
    from onnxruntime.capi.onnxruntime_pybind11_state import EPFail

    from tests._zoo import prepare

    # the first call runs twice (once to learn the outputs' shapes): the third run is the second call's
    _fake_ort_sessions(monkeypatch, onnxruntime, active="CUDAExecutionProvider", fails_at_run=3)
    bundle = mlp_bundle()
    x = bundle.make_inputs(2)
    with one_thread(), torch.inference_mode():
        prepared = prepare("onnxruntime", compress("fp32", bundle), x, placement=FAKE_CUDA)  # its first call ran
        with pytest.raises(EPFail, match="illegal memory access"):
            prepared.call(*x)
        on_cpu = prepare("onnxruntime", compress("fp32", bundle), x)  # the CPU engine's own fallback is left as is
        assert on_cpu.call(*x).shape == bundle.module(*x).shape


@pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::DeprecationWarning")
@pytest.mark.parametrize("device, index", [("cuda:0", 0), ("cuda:1", 1), ("cuda", 0)])
def test_an_onnxruntime_session_for_cuda_k_runs_on_device_k(monkeypatch, device, index):
    """ONNX Runtime's CUDA provider runs on its device_id, 0 unless told: a cuda:1 case ran on GPU 0, beside
    whatever else ran there, and its energy was read on GPU 1."""
    pytest.importorskip("onnxruntime")
    import onnxruntime

    from tests._zoo import prepare

    asked = _fake_ort_sessions(monkeypatch, onnxruntime, active="CUDAExecutionProvider")
    bundle = mlp_bundle()
    with one_thread(), torch.inference_mode():
        prepare("onnxruntime", compress("fp32", bundle), bundle.make_inputs(2), placement=Placement(device))
        prepare("onnxruntime", compress("fp32", bundle), bundle.make_inputs(2))
    assert asked == [[("CUDAExecutionProvider", {"device_id": index})], ["CPUExecutionProvider"]]


class _DeviceOnly(torch.Tensor):
    """An input that fails any copy to host memory, as an input on the GPU would be copied by ``.cpu().numpy()``."""

    def cpu(self, *args, **kwargs):
        raise AssertionError("the call copied an input to host memory (.cpu())")

    def numpy(self, *args, **kwargs):
        raise AssertionError("the call copied an input to host memory (.numpy())")


@pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::DeprecationWarning")
def test_the_onnxruntime_engine_on_cuda_k_binds_inputs_and_outputs_on_device_k(monkeypatch):
    """A cuda:K case's call copied its inputs to host memory (.cpu().numpy()) and its outputs back from it on every
    timed call, which a torch engine's call (inputs and outputs on the GPU) does not: the engines were not timed
    on equal terms. Everything is bound on GPU K now, and the output is a torch tensor beside the inputs."""
    pytest.importorskip("onnxruntime")
    import onnxruntime

    from tests._zoo import prepare

    bound: list = []
    _fake_ort_sessions(monkeypatch, onnxruntime, active="CUDAExecutionProvider", bound=bound)
    bundle = mlp_bundle()
    x = tuple(t.as_subclass(_DeviceOnly) for t in bundle.make_inputs(3))
    with one_thread(), torch.inference_mode():
        prepared = prepare("onnxruntime", compress("fp32", bundle), x, placement=Placement("cuda:1"))
        for batch in (3, 5):
            inputs = tuple(t.as_subclass(_DeviceOnly) for t in bundle.make_inputs(batch))
            out = prepared.call(*inputs)
            assert type(out) is torch.Tensor and out.device == inputs[0].device
            torch.testing.assert_close(out, bundle.module(*bundle.make_inputs(batch)), rtol=1e-4, atol=1e-5)
        on_cpu = prepare("onnxruntime", compress("fp32", bundle), bundle.make_inputs(3))
    assert {kind for kind, *_ in bound} == {"input", "output"}
    assert {(device_type, device_id) for *_, device_type, device_id in bound} == {("cuda", 1)}
    assert prepared.info["onnxruntime_io"].startswith("device: ") and on_cpu.info["onnxruntime_io"].startswith("host")


def _two_output_session(onnxruntime):
    """An ONNX Runtime CPU session of ``Y = X @ W`` and ``Z = Y + 1`` with a dynamic batch: two outputs."""
    import numpy as np
    import onnx
    from onnx import helper

    weights = helper.make_tensor("W", onnx.TensorProto.FLOAT, [3, 2], np.arange(6, dtype=np.float32).ravel())
    one = helper.make_tensor("one", onnx.TensorProto.FLOAT, [], [1.0])
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["X", "W"], ["Y"]), helper.make_node("Add", ["Y", "one"], ["Z"])],
        "two_outputs",
        [helper.make_tensor_value_info("X", onnx.TensorProto.FLOAT, ["batch", 3])],
        [helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, ["batch", 2]) for name in ("Y", "Z")],
        [weights, one],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    return onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def test_the_device_call_gives_what_the_session_computes_for_each_input_shape():
    """The IOBinding call the engine makes on cuda:K, run on the CPU against a real session: inputs bound by pointer
    (a non-contiguous one made contiguous), every output bound in a fresh torch tensor, the first returned."""
    onnxruntime = pytest.importorskip("onnxruntime")
    from bench.engines.onnxruntime import device_call

    session = _two_output_session(onnxruntime)
    call = device_call(lambda: session, "cpu")
    outputs = []
    for x in (torch.randn(4, 3), torch.randn(3, 4).T, torch.randn(6, 3)):
        out = call(x)
        expected = session.run(None, {"X": x.contiguous().numpy()})[0]
        assert out.shape == expected.shape and out.dtype == torch.float32
        torch.testing.assert_close(out, torch.from_numpy(expected))
        outputs.append(out)
    assert outputs[0].data_ptr() != outputs[1].data_ptr()  # a later call does not overwrite an earlier output

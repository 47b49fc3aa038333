"""Compression methods: relations (smaller, sparser, narrower), recorded facts, and clean skips."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from bench.errors import NotApplicable
from bench.measure.size import measure_size
from bench.spec import Placement
from tests._zoo import compress, mlp_bundle, one_thread

TORCH_AO_DEPRECATION = "ignore:torch.quantize_per_tensor:UserWarning"
TORCH_AO_MODULE_DEPRECATION = "ignore:torch.ao.quantization is deprecated:DeprecationWarning"


@pytest.fixture(autouse=True, scope="module")
def _single_thread():
    with one_thread():
        yield


@pytest.fixture(scope="module")
def bundle():
    return mlp_bundle(width=128)


@pytest.fixture(scope="module")
def dlrm_tiny():
    from bench.models import MODELS

    entry = MODELS.get("dlrm-tiny")
    return entry.fn(**entry.params)


def test_bf16_and_fp16_halve_the_size(bundle):
    fp32 = measure_size(bundle.module).model_size_bytes
    for name in ("bf16", "fp16"):
        assert measure_size(compress(name, bundle).module).model_size_bytes < 0.6 * fp32


@pytest.mark.filterwarnings(TORCH_AO_DEPRECATION)
@pytest.mark.filterwarnings(TORCH_AO_MODULE_DEPRECATION)
@pytest.mark.parametrize("backend", ["torch.ao", "torchao"])
def test_int8_dynamic_is_smaller_and_says_which_backend_ran(bundle, backend):
    result = compress("int8-dynamic", bundle, backend=backend)
    assert backend in result.info["backend"]
    assert measure_size(result.module).model_size_bytes < 0.6 * measure_size(bundle.module).model_size_bytes
    x = bundle.make_inputs(8)[0]
    with torch.inference_mode():
        assert torch.allclose(result.module(x), bundle.module(x), atol=0.1)


@pytest.mark.filterwarnings(TORCH_AO_DEPRECATION)
def test_int8_dynamic_torch_ao_surfaces_its_deprecation(bundle):
    with pytest.warns(DeprecationWarning, match=r"torch\.ao\.quantization is deprecated"):
        compress("int8-dynamic", bundle, backend="torch.ao")


def test_int8_dynamic_torch_ao_in_a_torch_without_it_is_a_skip_naming_the_other_backend(bundle, monkeypatch):
    """torch.ao.quantization is deprecated upstream (to be removed): in a torch without it, the default backend's
    case was a failure with an ImportError; it is not applicable there, and the reason names backend: torchao."""
    import sys

    monkeypatch.setitem(sys.modules, "torch.ao.quantization", None)  # import raises ImportError, as once removed
    with pytest.raises(NotApplicable, match=r"needs torch\.ao\.quantization, which torch .* use backend: torchao$"):
        compress("int8-dynamic", bundle, backend="torch.ao")


def test_int8_dynamic_rejects_an_unknown_backend(bundle):
    with pytest.raises(ValueError, match=r"allowed: torch\.ao, torchao"):
        compress("int8-dynamic", bundle, backend="fbgemm")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.jit.script_method, inside the export path
def test_int8_static_is_smaller_and_keeps_the_answers(bundle):
    result = compress("int8-static", bundle, calibration_batches=4)
    assert "X86InductorQuantizer" in result.info["backend"]
    assert measure_size(result.module).model_size_bytes < 0.5 * measure_size(bundle.module).model_size_bytes
    with torch.inference_mode():
        assert bundle.evaluate(result.module).value > 0.8
    assert "onnxruntime" in result.unsupported_engines


@pytest.mark.parametrize("amount", [0.3, 0.7])
def test_prune_l1_reaches_the_requested_sparsity(bundle, amount):
    result = compress("prune-l1", bundle, amount=amount)
    assert result.info["sparsity"] == pytest.approx(amount, abs=0.01)
    weights = [m.weight for m in result.module.modules() if isinstance(m, nn.Linear)]
    assert all(not hasattr(m, "weight_mask") for m in result.module.modules())  # made permanent
    assert sum(int((w == 0).sum()) for w in weights) / sum(w.numel() for w in weights) == pytest.approx(
        amount, abs=0.01
    )
    size = measure_size(result.module)
    assert size.nonzero_params < size.params
    if amount > 0.5:
        assert result.info["sparse_size_bytes"] < size.model_size_bytes


def test_prune_l1_fine_tuning_records_its_time_and_keeps_the_mask(bundle):
    result = compress("prune-l1", bundle, amount=0.5, finetune_steps=5)
    assert result.info["train_time_s"] > 0
    assert result.info["sparsity"] == pytest.approx(0.5, abs=0.01)


def test_prune_l1_rejects_an_amount_outside_0_1(bundle):
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        compress("prune-l1", bundle, amount=1.5)


def test_prune_structured_really_shrinks_layer_shapes(bundle):
    result = compress("prune-structured", bundle, amount=0.5)
    linears = [m for m in result.module.modules() if isinstance(m, nn.Linear)]
    assert [tuple(m.weight.shape) for m in linears] == [(64, 32), (64, 64), (4, 64)]
    x = bundle.make_inputs(8)[0]
    with torch.inference_mode():
        assert result.module(x).shape == bundle.module(x).shape
    assert measure_size(result.module).params < measure_size(bundle.module).params


def test_prune_structured_shrinks_conv_channels_through_a_global_pool():
    from bench.compress.prune import shrink
    from bench.models.cnn import small_cnn

    model = small_cnn(8)
    changes = shrink(model, 0.5)
    assert [c["width"] for c in changes] == [[8, 4], [16, 8], [32, 16], [32, 16]]
    assert model(torch.randn(2, 1, 16, 16)).shape == (2, 10)


def test_distill_builds_a_narrower_student_and_records_train_time(bundle):
    result = compress("distill", bundle, fraction=0.5, steps=100, lr=0.005)
    assert result.info["train_time_s"] > 0
    assert result.info["student_params"] < result.info["teacher_params"]
    assert result.info["output_rel_error_after"] <= result.info["output_rel_error_before"]


@pytest.fixture
def fake_gpu(monkeypatch, bundle):
    """Moves to a device are recorded instead of done (no CUDA here): ``(what, device)`` per move, ``what`` being
    ``module``, ``bundle module`` (the fp32 bundle's own, which must never move) or ``batch``; a module reports the
    device it was last moved to, and a wait for a GPU is recorded as ``("sync", device)``."""
    import bench.compress._train as train
    import bench.compress.distill as distill
    import bench.compress.prune as prune

    events, where = [], {}

    def move(value, device):
        if isinstance(value, tuple):
            events.append(("batch", device))
        else:
            events.append(("bundle module" if value is bundle.module else "module", device))
            where[id(value)] = device
        return value

    for module in (train, distill, prune):
        monkeypatch.setattr(module, "move", move, raising=False)
    monkeypatch.setattr(train, "_device_of", lambda module: where.get(id(module), "cpu"), raising=False)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: events.append(("sync", device)))
    return events


@pytest.mark.parametrize(
    ("method", "params"),
    [("distill", {"steps": 3}), ("prune-structured", {"finetune_steps": 3}), ("prune-l1", {"finetune_steps": 3})],
)
def test_a_cuda_case_trains_on_its_gpu_and_gets_the_result_back_on_the_cpu(bundle, fake_gpu, method, params):
    result = compress(method, bundle, Placement("cuda:1"), **params)
    # was: trained on the CPU whatever the case's device, with no record of where
    assert result.info["train_device"] == "cuda:1"
    assert ("bundle module", "cuda:1") not in fake_gpu  # a copy of the teacher goes to the GPU, never the bundle's
    assert fake_gpu.count(("module", "cuda:1")) == 2  # the student (or pruned model) and the teacher's copy
    assert ("batch", "cuda:1") in fake_gpu and ("sync", "cuda:1") in fake_gpu  # train_time_s waits for the GPU
    assert fake_gpu[-1] == ("module", "cpu")  # the result (and the cached artefact) is on the CPU
    assert all(p.device.type == "cpu" for p in result.module.parameters())


def test_a_cpu_case_trains_on_the_cpu_and_a_cuda_case_without_steps_moves_nothing(bundle, fake_gpu):
    assert compress("prune-structured", bundle, finetune_steps=2).info["train_device"] == "cpu"
    assert "train_device" not in compress("prune-structured", bundle, Placement("cuda:0")).info
    assert not [event for event in fake_gpu if event[1] != "cpu"]


def test_row_wise_int8_and_int4_embeddings_shrink_the_tables(dlrm_tiny):
    fp32 = measure_size(dlrm_tiny.module).model_size_bytes
    int8 = compress("emb-int8", dlrm_tiny)
    int4 = compress("emb-int4", dlrm_tiny)
    assert fp32 > measure_size(int8.module).model_size_bytes > measure_size(int4.module).model_size_bytes
    # 16-dim rows: 64 bytes fp32 -> 16 + 8 bytes int8, 8 + 4 bytes int4
    assert int8.info["table_compression_x"] == pytest.approx(64 / 24, rel=0.01)
    assert int4.info["table_compression_x"] == pytest.approx(64 / 12, rel=0.01)
    assert int8.info["output_rel_error"] < 0.02
    assert int8.info["output_rel_error"] < int4.info["output_rel_error"] < 0.2


def test_row_wise_embedding_matches_a_plain_embedding_lookup():
    from bench.compress.embedding import RowwiseQuantizedEmbeddingBag

    table = nn.Embedding(50, 8)
    quantized = RowwiseQuantizedEmbeddingBag(table, 8)
    ids = torch.randint(0, 50, (3, 5))
    assert quantized(ids).shape == (3, 5, 8)
    assert torch.allclose(quantized(ids), table(ids), atol=0.02)


def test_int4_embeddings_skip_tables_of_odd_width_with_a_reason():
    """Was: 'RuntimeError: qembeddingbag_4bit_prepack only works for the number of columns a multiple of 2', a failed
    case with the kernel's traceback, for dlrm-tiny's valid embedding_dim: 3."""
    from bench.models import MODELS

    entry = MODELS.get("dlrm-tiny")
    odd = entry.fn(**{**entry.params, "tables": 2, "embedding_dim": 3})
    with pytest.raises(NotApplicable, match=r"embedding_dim must be even; embeddings\.0 has 3$"):
        compress("emb-int4", odd)
    assert compress("emb-int8", odd).info["quantized_tables"] == 2
    with pytest.raises(NotApplicable, match="no embedding tables with at least 1000000 rows"):
        compress("emb-int4", odd, min_rows=10**6)  # tables it would not quantize do not count


@pytest.mark.parametrize(
    ("name", "params", "fits"),
    [
        ("int8-static", {}, "int8-static"),
        ("distill", {"steps": 3}, "distill (steps 3)"),
        ("prune-l1", {"finetune_steps": 2}, "prune-l1 (finetune_steps 2)"),
        ("prune-structured", {"finetune_steps": 2}, "prune-structured (finetune_steps 2)"),
    ],
)
def test_a_method_that_fits_the_model_skips_one_without_calibration_saying_what_to_add(bundle, name, params, fits):
    """Was: int8-static skipped ("needs calibration data and this model provides none") while fine-tuning and
    distillation trained on make_inputs batches, which a factory may draw from its evaluation set (the example's
    and the test zoo's do): the student then matched the teacher on the very inputs its accuracy was measured on.
    Every method that fits the model to data now needs the bundle's calibration batches, and says how to add them."""
    import dataclasses

    made: list[int] = []
    uncalibrated = dataclasses.replace(bundle, calibration=None)
    uncalibrated.make_inputs = lambda batch_size: made.append(batch_size) or bundle.make_inputs(batch_size)
    with pytest.raises(NotApplicable) as skipped:
        compress(name, uncalibrated, **params)
    assert str(skipped.value) == (
        f"{fits} fits the model to training-side batches and its ModelBundle has no calibration: add calibration=, a "
        "function returning a list of input tuples as make_inputs(n) returns them (e.g. 8 batches of training data, "
        "never the evaluation set)"
    )
    assert not made  # nothing was fitted to the timing inputs first


@pytest.mark.parametrize(("name", "params"), [("distill", {"steps": 0}), ("prune-l1", {"finetune_steps": 0})])
def test_a_method_that_only_compares_outputs_still_runs_without_calibration(bundle, name, params):
    """Without training steps nothing is fitted: the fidelity figures compare outputs on one make_inputs batch."""
    import dataclasses

    result = compress(name, dataclasses.replace(bundle, calibration=None), **params)
    assert "train_time_s" not in result.info or not result.info["train_time_s"]


def test_embedding_methods_skip_models_without_tables(bundle):
    with pytest.raises(NotApplicable, match="no embedding tables"):
        compress("emb-int8", bundle)


def test_cpu_only_methods_skip_on_cuda_with_a_reason(bundle):
    gpu = Placement("cuda:0")
    for name in ("int8-static", "emb-int8", "ort-int8-dynamic"):
        with pytest.raises(NotApplicable):
            compress(name, bundle, placement=gpu)


def test_every_method_declares_typed_defaults_for_yaml_validation():
    from bench.compress import COMPRESSIONS

    for name in ("int8-dynamic", "int8-static", "prune-l1", "prune-structured", "emb-int8", "emb-int4", "distill"):
        assert COMPRESSIONS.get(name).params, name


def test_a_wrongly_typed_compression_param_is_a_suite_error(tmp_path):
    from bench.errors import SuiteError
    from bench.suite import load_suite

    path = tmp_path / "s.yaml"
    path.write_text("suite: s\nmodels: [dlrm-tiny]\ncompression: [{prune-l1: {amount: lots}}]\n")
    with pytest.raises(SuiteError, match=r"compression\[0\]\.prune-l1\.amount: must be a number"):
        load_suite(path)
    path.write_text("suite: s\nmodels: [dlrm-tiny]\ncompression: [{prune-l1: {amount: 0.5, sparsity: 1}}]\n")
    with pytest.raises(SuiteError, match="Allowed: amount, finetune_steps, lr"):
        load_suite(path)


def test_torchao_quantized_size_is_measured_inside_inference_mode(bundle):
    # the runner measures size under torch.inference_mode(); torchao tensors must not trip on it
    result = compress("int8-dynamic", bundle, backend="torchao")
    with torch.inference_mode():
        size = measure_size(result.module)
    assert 0 < size.model_size_bytes < measure_size(bundle.module).model_size_bytes

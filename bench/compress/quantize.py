"""Integer quantization of Linear (and Conv) layers: dynamic int8, and static int8 through the PT2E flow."""

from __future__ import annotations

import copy

import torch
from torch import nn

from bench.compress import TORCHAO_INDUCTOR_CONFIG, Compressed, copy_on_device, register_compression
from bench.compress._train import no_calibration
from bench.errors import NotApplicable

INT8_DYNAMIC_BACKENDS = ("torch.ao", "torchao")
_NO_ONNX = "{what} does not export to ONNX; use the ort-int8-dynamic compression for the onnxruntime engine"


def _check_backend(backend: str) -> None:
    if backend not in INT8_DYNAMIC_BACKENDS:
        raise ValueError(f"int8-dynamic: unknown backend '{backend}'; allowed: {', '.join(INT8_DYNAMIC_BACKENDS)}")


@register_compression(
    "int8-dynamic",
    params={"backend": "torch.ao"},
    check=lambda backend, **_: _check_backend(backend),
    description="Dynamic int8 quantization of Linear layers (weights int8, activations quantized per call).",
)
def int8_dynamic(bundle, placement, backend: str) -> Compressed:
    """``backend: torch.ao`` uses ``torch.ao.quantization.quantize_dynamic`` with per-channel weights (deprecated,
    but still the fast eager path on CPU); ``backend: torchao`` uses ``torchao.quantization.quantize_`` with
    ``Int8DynamicActivationInt8WeightConfig`` (pays off under the ``compile`` engine)."""
    _check_backend(backend)
    if not any(isinstance(m, nn.Linear) for m in bundle.module.modules()):
        raise NotApplicable("int8-dynamic quantizes Linear layers and this model has none")
    if backend == "torch.ao":
        if placement.device_type != "cpu":
            raise NotApplicable("torch.ao dynamic quantized Linear kernels exist only for the CPU")
        try:
            from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic
        except ImportError as err:  # deprecated upstream since torch 2.10: a later torch may not have it
            raise NotApplicable(
                f"int8-dynamic with backend: torch.ao needs torch.ao.quantization, which torch {torch.__version__} "
                f"does not have ({err}); use backend: torchao"
            ) from None
        module = quantize_dynamic(
            copy.deepcopy(bundle.module), {nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8
        )
        return Compressed(
            module=module,
            info={"backend": "torch.ao.quantization.quantize_dynamic (per-channel int8)"},
            unsupported_engines={
                "onnxruntime": _NO_ONNX.format(what="a torch.ao quantized model"),
                "compile": "torch.compile cannot trace torch.ao dynamic quantized Linear (packed-params ScriptObject): "
                "it graph-breaks around every layer and runs them eagerly; use int8-dynamic with backend: torchao, "
                "or int8-static, for the compile engine",
            },
        )
    from torchao.quantization import Int8DynamicActivationInt8WeightConfig

    return _torchao(bundle, placement, Int8DynamicActivationInt8WeightConfig)


def _torchao(bundle, placement, config) -> Compressed:
    """The bundle's module quantized by torchao's ``quantize_`` with the config class ``config``, on the case's
    device (torchao's tensor subclasses are built where they run). ``set_inductor_config=False``: torchao would
    otherwise change inductor's global settings for every later case; its recommended ones go to the compile engine,
    which applies them while compiling this model only."""
    from torchao.quantization import quantize_

    module = copy_on_device(bundle, placement)
    quantize_(module, config(set_inductor_config=False))
    return Compressed(
        module=module,
        info={"backend": f"torchao.quantization.quantize_({config.__name__})"},
        inductor_config=dict(TORCHAO_INDUCTOR_CONFIG),
        unsupported_engines={"onnxruntime": _NO_ONNX.format(what="a torchao quantized model")},
    )


@register_compression(
    "int8-weight-only",
    description="int8 weights with fp activations (torchao Int8WeightOnlyConfig): the memory-bound GPU favourite.",
)
def int8_weight_only(bundle, placement) -> Compressed:
    """Linear weights stored as int8 with per-channel scales and dequantized in the matmul; activations keep
    their precision. Halves weight memory traffic, which is what memory-bound (small-batch GPU) inference pays for."""
    if not any(isinstance(m, nn.Linear) for m in bundle.module.modules()):
        raise NotApplicable("int8-weight-only quantizes Linear layers and this model has none")
    from torchao.quantization import Int8WeightOnlyConfig

    return _torchao(bundle, placement, Int8WeightOnlyConfig)


def export_for_quantization(module: nn.Module, example: tuple) -> torch.fx.GraphModule:
    """``torch.export`` with a dynamic batch dimension, then dead-code elimination (MiniLM's exported graph
    carries unused nodes that ``prepare_pt2e`` would otherwise annotate)."""
    batch = torch.export.Dim("batch", min=1, max=65536)
    shapes = tuple({0: batch} if isinstance(t, torch.Tensor) and t.dim() > 0 else None for t in example)
    graph_module = torch.export.export(module, example, dynamic_shapes=shapes).module()
    graph_module.graph.eliminate_dead_code()
    graph_module.recompile()
    return graph_module


def drop_unused_tensors(graph_module: torch.fx.GraphModule) -> torch.fx.GraphModule:
    """Delete parameters and buffers no graph node reads: ``convert_pt2e`` keeps the fp32 weights beside the
    folded int8 ones, which would double the shipped size."""
    used = {node.target for node in graph_module.graph.nodes if node.op == "get_attr"}
    names = [name for name, _ in graph_module.named_parameters()] + [name for name, _ in graph_module.named_buffers()]
    for name in names:
        if name not in used:
            owner_name, _, attr = name.rpartition(".")
            owner = graph_module.get_submodule(owner_name) if owner_name else graph_module
            delattr(owner, attr)
    return graph_module


MAX_CALIBRATION_BATCHES = 100_000
"""Most calibration batches ``int8-static`` may ask for (it uses at most as many as the model provides)."""


def _check_calibration_batches(calibration_batches: int, **_) -> None:
    if not 1 <= calibration_batches <= MAX_CALIBRATION_BATCHES:
        raise ValueError(
            f"int8-static: calibration_batches must be an integer from 1 to {MAX_CALIBRATION_BATCHES}, "
            f"got {calibration_batches}"
        )


@register_compression(
    "int8-static",
    params={"calibration_batches": 8},
    check=_check_calibration_batches,
    description="Static int8 (PT2E, X86InductorQuantizer) calibrated on training data; fast only when compiled.",
)
def int8_static(bundle, placement, calibration_batches: int) -> Compressed:
    """Post-training static quantization: ``torch.export`` -> ``prepare_pt2e`` -> calibrate -> ``convert_pt2e``.

    The result is a graph of quantize/dequantize ops around fp32 kernels: under the ``eager`` engine it runs as
    that reference graph (slower than fp32; recorded as such), under ``compile`` inductor fuses the patterns
    into real int8 kernels.
    """
    _check_calibration_batches(calibration_batches)
    if placement.device_type != "cpu":
        raise NotApplicable("int8-static uses X86InductorQuantizer, which targets x86 CPUs")
    if bundle.calibration is None:
        raise NotApplicable(no_calibration("int8-static"))
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e
    from torchao.quantization.pt2e.quantizer.x86_inductor_quantizer import (
        X86InductorQuantizer,
        get_default_x86_inductor_quantization_config,
    )

    batches = [tuple(b) for b in bundle.calibration()][:calibration_batches]
    quantizer = X86InductorQuantizer()
    quantizer.set_global(get_default_x86_inductor_quantization_config())
    with torch.inference_mode(False), torch.no_grad():
        batches = [tuple(t.clone() if isinstance(t, torch.Tensor) else t for t in b) for b in batches]
        graph_module = export_for_quantization(copy.deepcopy(bundle.module), batches[0])
        prepared = prepare_pt2e(graph_module, quantizer)
        for batch in batches:
            prepared(*batch)
        converted = drop_unused_tensors(convert_pt2e(prepared))
    return Compressed(
        module=converted,
        info={
            "backend": "torchao.quantization.pt2e (X86InductorQuantizer, static int8)",
            "calibration_batches": len(batches),
            "eager_runs": "quantize/dequantize reference graph (int8 kernels need the compile engine)",
        },
        unsupported_engines={"onnxruntime": _NO_ONNX.format(what="a PT2E quantized graph")},
    )

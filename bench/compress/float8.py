"""float8 (e4m3) through torchao: dynamic fp8 activations x fp8 weights on the fp8 tensor cores of Ada/Hopper
GPUs (``fp8``), and fp8 weights dequantized into bf16 matmuls (``fp8-weight-only``).

Both cast the model to bfloat16 first (torchao's float8 recipes quantize from bf16; per-row scaling requires it)
and are built on the case's device with :func:`bench.compress.copy_on_device`: torchao's ``Float8Tensor`` weights
cannot be moved across devices after quantization.
"""

from __future__ import annotations

import torch
from torch import nn

from bench.compress import TORCHAO_INDUCTOR_CONFIG, Compressed, copy_on_device, register_compression
from bench.errors import NotApplicable

GRANULARITIES = ("per-row", "per-tensor")
MIN_CAPABILITY = (8, 9)
_NO_ONNX = "a torchao float8 model does not export to ONNX"


def _check_granularity(granularity: str, **_) -> None:
    if granularity not in GRANULARITIES:
        raise ValueError(f"unknown granularity '{granularity}'; allowed: {', '.join(GRANULARITIES)}")


def _granularity(granularity: str):
    from torchao.quantization import PerRow, PerTensor

    return PerRow() if granularity == "per-row" else PerTensor()


def check_float8_matmul(placement) -> None:
    """Raise :class:`NotApplicable` unless the case's device has fp8 tensor cores (CUDA compute capability >= 8.9)."""
    if placement.device_type != "cuda":
        raise NotApplicable(
            f"fp8 needs float8 matmul kernels (torch._scaled_mm), which need a CUDA GPU with compute capability "
            f">= 8.9 (Ada, Hopper); {placement.device} is not a CUDA device"
        )
    major, minor = torch.cuda.get_device_capability(placement.device)
    if (major, minor) < MIN_CAPABILITY:
        raise NotApplicable(
            f"fp8 needs float8 matmul kernels (torch._scaled_mm), which need compute capability >= 8.9 (Ada, Hopper); "
            f"{placement.device} ({torch.cuda.get_device_name(placement.device)}) is {major}.{minor}"
        )


def _quantize(bundle, placement, config, what: str, granularity: str) -> Compressed:
    """The bundle's module cast to bf16 on the case's device, its Linear weights quantized by ``config`` (of
    ``granularity``), with what the record says of it: the config, the granularity and how many Linear layers it
    quantized."""
    from torchao.quantization import Float8Tensor, quantize_

    if not any(isinstance(m, nn.Linear) for m in bundle.module.modules()):
        raise NotApplicable(f"{what} quantizes Linear layers and this model has none")
    module = copy_on_device(bundle, placement).to(torch.bfloat16)
    linears = [m for m in module.modules() if isinstance(m, nn.Linear)]
    if placement.device_type == "cuda":
        with torch.cuda.device(placement.device):  # torchao checks the capability of the current device
            quantize_(module, config)
    else:
        quantize_(module, config)
    quantized = sum(isinstance(m.weight, Float8Tensor) for m in linears)
    if quantized == 0:
        raise NotApplicable(
            f"{what}: no Linear layer could be quantized (float8 matmuls need in and out features that are "
            "multiples of 16)"
        )
    return Compressed(
        module=module,
        input_dtype=torch.bfloat16,
        info={
            "backend": f"torchao.quantization.quantize_({type(config).__name__}, {granularity})",
            "float8_granularity": granularity,
            "float8_linears": f"{quantized}/{len(linears)}",
            "float8_high_precision_dtype": "bfloat16",
        },
        unsupported_engines={"onnxruntime": _NO_ONNX},
        inductor_config=dict(TORCHAO_INDUCTOR_CONFIG),
    )


@register_compression(
    "fp8",
    params={"granularity": "per-row"},
    check=_check_granularity,
    description="float8 e4m3 dynamic activations x float8 weights (torchao); needs an Ada/Hopper GPU (sm >= 8.9).",
)
def fp8(bundle, placement, granularity: str) -> Compressed:
    """``Float8DynamicActivationFloat8WeightConfig``: weights stored in fp8 with per-row (default) or per-tensor
    scales, activations quantized to fp8 per call, matmuls on the fp8 tensor cores. Linear layers whose features
    are not multiples of 16 stay in bf16 (``float8_linears`` says how many were quantized)."""
    _check_granularity(granularity)
    check_float8_matmul(placement)
    from torchao.quantization import Float8DynamicActivationFloat8WeightConfig

    # set_inductor_config=False: torchao would otherwise change inductor's global settings for every later case;
    # its recommended settings go to the compile engine, which applies them while compiling this model only
    config = Float8DynamicActivationFloat8WeightConfig(granularity=_granularity(granularity), set_inductor_config=False)
    return _quantize(bundle, placement, config, "fp8", granularity)


@register_compression(
    "fp8-weight-only",
    params={"granularity": "per-row"},
    check=_check_granularity,
    description="float8 e4m3 weights dequantized into bf16 matmuls (torchao Float8WeightOnlyConfig).",
)
def fp8_weight_only(bundle, placement, granularity: str) -> Compressed:
    """``Float8WeightOnlyConfig``: a quarter of fp32's weight bytes; the matmul runs in bf16 after dequantizing,
    so it needs no fp8 tensor cores and runs on any device torchao supports (it pays off where weight memory
    traffic dominates: small-batch GPU inference)."""
    _check_granularity(granularity)
    from torchao.quantization import Float8WeightOnlyConfig

    config = Float8WeightOnlyConfig(granularity=_granularity(granularity), set_inductor_config=False)
    return _quantize(bundle, placement, config, "fp8-weight-only", granularity)

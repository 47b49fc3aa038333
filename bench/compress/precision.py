"""Floating-point precision levels: fp32 (the reference), bf16 and fp16."""

from __future__ import annotations

import copy

import torch

from bench.compress import Compressed, register_compression


def _cast(bundle, dtype: torch.dtype) -> Compressed:
    module = copy.deepcopy(bundle.module).to(dtype)
    return Compressed(module=module, input_dtype=dtype, info={"backend": f"torch.Tensor.to({dtype})"})


@register_compression("fp32", description="The reference: the model as built, in float32.")
def fp32(bundle, placement) -> Compressed:
    return Compressed(module=bundle.module, input_dtype=None, info={"backend": "none"})


@register_compression("bf16", description="All weights and activations in bfloat16.")
def bf16(bundle, placement) -> Compressed:
    return _cast(bundle, torch.bfloat16)


@register_compression(
    "fp16", description="All weights and activations in float16 (runs on CPU, but is not faster there)."
)
def fp16(bundle, placement) -> Compressed:
    return _cast(bundle, torch.float16)

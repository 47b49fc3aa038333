"""Model size: the serialized size of what would ship, and parameter counts."""

from __future__ import annotations

import io
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class SizeResult:
    model_size_bytes: int
    params: int
    nonzero_params: int


def measure_size(module) -> SizeResult:
    """``model_size_bytes`` is ``len(torch.save(module.state_dict()))``: weights plus quantization metadata.

    ``params`` counts the elements of every floating-point or integer tensor in the state dict (so quantized
    and packed weights count too), ``nonzero_params`` those that are not zero.
    """
    if not isinstance(module, torch.nn.Module):
        return SizeResult(model_size_bytes=0, params=0, nonzero_params=0)
    state = module.state_dict()
    buffer = io.BytesIO()
    torch.save(state, buffer)
    params = nonzero = 0
    for tensor in _tensors(state):
        params += tensor.numel()
        nonzero += int(torch.count_nonzero(tensor.int_repr() if tensor.is_quantized else tensor))
    return SizeResult(model_size_bytes=buffer.tell(), params=params, nonzero_params=nonzero)


def _tensors(state):
    for value in state.values():
        if isinstance(value, torch.Tensor):
            yield value
        elif isinstance(value, (tuple, list)):  # packed params of torch.ao quantized modules
            yield from (v for v in value if isinstance(v, torch.Tensor))

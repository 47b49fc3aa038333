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
    For an exported ONNX model (``ort-int8-dynamic``) it is the size of the serialized ONNX file.

    ``params`` counts the elements of every floating-point or integer tensor in the state dict (so quantized
    and packed weights count too), ``nonzero_params`` those that are not zero.
    """
    onnx_size = getattr(module, "onnx_size", None)
    if onnx_size is not None:
        return SizeResult(*onnx_size())
    if not isinstance(module, torch.nn.Module):
        return SizeResult(model_size_bytes=0, params=0, nonzero_params=0)
    with torch.inference_mode(False):  # torchao tensor subclasses cannot be detached as inference tensors
        return _measure(module)


def _measure(module: torch.nn.Module) -> SizeResult:
    state = module.state_dict()
    buffer = io.BytesIO()
    torch.save(state, buffer)
    params = nonzero = 0
    for tensor in _tensors(state):
        params += tensor.numel()
        if tensor.is_floating_point() and tensor.element_size() == 1:  # float8: count_nonzero has no kernel
            tensor = tensor.float()
        nonzero += int(torch.count_nonzero(tensor.int_repr() if tensor.is_quantized else tensor))
    return SizeResult(model_size_bytes=buffer.tell(), params=params, nonzero_params=nonzero)


def _tensors(state):
    for value in state.values():
        if isinstance(value, torch.Tensor):
            yield from _plain(value)
        elif isinstance(value, (tuple, list)):  # packed params of torch.ao quantized modules
            yield from (t for v in value if isinstance(v, torch.Tensor) for t in _plain(v))


def _plain(tensor: torch.Tensor):
    """The stored tensors behind a tensor: itself, or the inner data of a tensor subclass (torchao's int8
    tensors hold ``qdata`` and ``scale``), so counts are of what is actually stored."""
    flatten = getattr(tensor, "__tensor_flatten__", None)
    if type(tensor) is torch.Tensor or type(tensor) is torch.nn.Parameter or flatten is None:
        yield tensor
        return
    names, _ = flatten()
    for name in names:
        inner = getattr(tensor, name)
        if isinstance(inner, torch.Tensor):
            yield from _plain(inner)


def device_bytes(module, device: str) -> int | None:
    """Bytes of the module's parameters and buffers resident on ``device`` (shared storages counted once, tensor
    subclasses by what they store); ``None`` for what is not a torch module (an ONNX Runtime session)."""
    if not isinstance(module, torch.nn.Module):
        return None
    target = torch.device(device)
    seen: set[tuple[int, int]] = set()
    total = 0
    with torch.inference_mode(False):
        for tensor in [*module.parameters(), *module.buffers()]:
            for plain in _plain(tensor):
                if plain.device.type != target.type or (
                    target.index is not None and plain.device.index != target.index
                ):
                    continue
                storage = plain.untyped_storage()
                key = (storage.data_ptr(), storage.nbytes())
                if key not in seen:
                    seen.add(key)
                    total += storage.nbytes()
    return total

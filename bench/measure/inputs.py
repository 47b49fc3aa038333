"""The device contract: models and their helpers see CPU tensors only; the harness moves data to and from devices.

Every tensor a model's helpers handle (``make_inputs``, ``evaluate``, calibration data) is on the CPU. The runner
moves inputs to the case's device, and :func:`device_predict` brings outputs back before they reach ``evaluate``,
so built-in models and user factories are device-agnostic by construction.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def to_device(inputs: tuple, device: str, dtype) -> tuple:
    """The case's inputs on its device, floating-point ones cast to the compressed model's input dtype."""
    import torch

    def move(tensor):
        if not isinstance(tensor, torch.Tensor):
            return tensor
        if dtype is not None and tensor.is_floating_point():
            tensor = tensor.to(dtype)
        return tensor.to(device)

    return tuple(move(t) for t in inputs)


def to_host(outputs: Any) -> Any:
    """Every tensor in ``outputs`` (nested tuples, lists, dicts, model outputs) moved to the CPU."""
    import torch
    from torch.utils import _pytree as pytree

    return pytree.tree_map(lambda t: t.cpu() if isinstance(t, torch.Tensor) else t, outputs)


def device_predict(call: Callable[..., Any], device: str, dtype, batch: int | None = None) -> Callable[..., Any]:
    """The ``predict`` a model's ``evaluate`` receives: CPU tensors in, CPU tensors out.

    Inputs are moved to ``device`` (and cast to ``dtype``) before ``call``; outputs come back to the CPU. Models and
    user factories therefore never see a device tensor, and work on any device unchanged.

    With ``batch``, ``call`` only ever sees ``batch`` rows: each request is cut into chunks of ``batch`` rows along
    the first dimension (the last padded by repeating its final row) and the outputs' rows are put back together
    (padding dropped). A request whose outputs are not one row per input row is passed through whole.
    """

    def predict(*inputs):
        return to_host(call(*to_device(inputs, device, dtype)))

    if batch is None:
        return predict

    def in_chunks(*inputs):
        import torch
        from torch.utils import _pytree as pytree

        rows = {t.shape[0] for t in inputs if isinstance(t, torch.Tensor) and t.dim() > 0}
        if len(rows) != 1 or next(iter(rows)) == batch:
            return predict(*inputs)
        total = rows.pop()
        parts = []
        for start in range(0, total, batch):
            index = torch.arange(start, start + batch).clamp(max=total - 1)
            chunk = tuple(t[index] if isinstance(t, torch.Tensor) and t.dim() > 0 else t for t in inputs)
            out = predict(*chunk)
            leaves, spec = pytree.tree_flatten(out)
            if not all(isinstance(v, torch.Tensor) and v.dim() > 0 and v.shape[0] == batch for v in leaves):
                return predict(*inputs)  # not row-wise outputs: the whole request, as the model asked
            parts.append([v[: min(batch, total - start)] for v in leaves])
        return pytree.tree_unflatten([torch.cat(column) for column in zip(*parts, strict=True)], spec)

    return in_chunks

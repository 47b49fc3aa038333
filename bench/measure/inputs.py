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


def device_predict(call: Callable[..., Any], device: str, dtype) -> Callable[..., Any]:
    """The ``predict`` a model's ``evaluate`` receives: CPU tensors in, CPU tensors out.

    Inputs are moved to ``device`` (and cast to ``dtype``) before ``call``; outputs come back to the CPU. Models and
    user factories therefore never see a device tensor, and work on any device unchanged.
    """

    def predict(*inputs):
        return to_host(call(*to_device(inputs, device, dtype)))

    return predict

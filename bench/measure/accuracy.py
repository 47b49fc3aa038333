"""Accuracy pass: the model's own held-out evaluation, run on the case's compressed model and engine."""

from __future__ import annotations

from typing import Any


def measure_accuracy(bundle, prepared, compressed, case) -> dict[str, Any]:
    """``accuracy`` and ``accuracy_metric`` columns from ``bundle.evaluate``; inputs are moved and cast first."""
    from bench.runner import _to_device

    def predict(*inputs):
        return prepared.call(*_to_device(inputs, case.placement.device, compressed.input_dtype))

    result = bundle.evaluate(predict)
    return {"accuracy": result.value, "accuracy_metric": result.metric}

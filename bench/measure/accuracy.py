"""Accuracy pass: the model's own held-out evaluation, run on the case's compressed model and engine.

``accuracy_drop`` is ``reference - accuracy`` where the reference is the fp32 accuracy of the same model on the
same engine and device type when this run measured it (suites list fp32 first, so it usually has), else the fp32
model evaluated in eager mode on the CPU. ``extra.accuracy_reference`` names which one was used.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any

from bench.measure import PassResult

# id(bundle) -> (weak reference to it, its eager fp32 accuracy); bundles are unhashable dataclasses
_EAGER_FP32: dict[int, tuple[weakref.ref, float]] = {}


def is_reference(spec) -> bool:
    """True for the fp32 compression without parameters: the reference every drop is measured against."""
    return spec.name == "fp32" and not spec.params


def _eager_fp32(bundle) -> float:
    import torch

    cached = _EAGER_FP32.get(id(bundle))
    if cached is not None and cached[0]() is bundle:
        return cached[1]
    with torch.inference_mode():
        value = bundle.evaluate(bundle.module).value
    for key in [k for k, (ref, _) in _EAGER_FP32.items() if ref() is None]:
        del _EAGER_FP32[key]
    _EAGER_FP32[id(bundle)] = (weakref.ref(bundle), value)
    return value


def reference_accuracy(measured: dict[Any, dict[str, Any]], case) -> tuple[float, str] | None:
    """The fp32 accuracy of ``case``'s model on its engine and device type, if this run measured it."""
    for (model, compression, engine, device_type), result in measured.items():
        if (model, engine, device_type) == (case.model, case.engine, case.placement.device_type) and is_reference(
            compression
        ):
            return result["accuracy"], f"fp32/{engine.label}/{device_type}"
    return None


def measure_accuracy(bundle, prepared, compressed, case, reference: tuple[float, str] | None = None) -> dict[str, Any]:
    """``accuracy``, ``accuracy_metric`` and ``accuracy_drop`` columns from ``bundle.evaluate``.

    ``evaluate`` sees the CPU only: its ``predict`` moves inputs to the case's device (cast to the compressed
    model's dtype) and brings outputs back. An engine with static shapes (``prepared.static_shapes``) is fed the
    case's batch size only, so the accuracy is that of the graph that was timed. ``extra`` holds the metric's own
    extras (e.g. ``mean_cosine_to_fp32``)."""
    from bench.measure.inputs import device_predict

    batch = case.batch_size if prepared.static_shapes else None
    result = bundle.evaluate(device_predict(prepared.call, case.placement.device, compressed.input_dtype, batch))
    if is_reference(case.compression):
        reference = (result.value, f"fp32/{case.engine.label}/{case.placement.device_type}")
    elif reference is None:
        reference = (_eager_fp32(bundle), "fp32/eager/cpu")
    return {
        "accuracy": result.value,
        "accuracy_metric": result.metric,
        "accuracy_drop": reference[0] - result.value,
        "extra": {**result.extra, "accuracy_reference": reference[1]},
    }


def accuracy_key(case) -> tuple:
    """The cases that share one accuracy figure: same model, compression, engine and device type."""
    return (case.model, case.compression, case.engine, case.placement.device_type)


def host_first(cases: Sequence[Any]) -> list[Any]:
    """The run order of ``cases``: the suite's, except that each accuracy group (:func:`accuracy_key`) starts
    with its case of most threads and, among those, largest batch, which then measures the group's accuracy.

    An engine with static shapes evaluates at its case's batch size and thread count (it would otherwise compile
    another graph), so the group's first case decides what the accuracy pass costs. In one run of
    ``suites/ecommerce.yaml``, a compiled MiniLM's time per item at batch 16 and 2 threads was 0.3-0.8x its time at
    batch 1 and 1 thread, a compiled DLRM's 0.05-0.2x. Which case hosts the pass changes the figure by
    floating-point rounding at most, and every case of the group records the same accuracy."""
    keys = [(case.suite, *accuracy_key(case)) for case in cases]
    groups: dict[tuple, list[Any]] = {}
    for key, case in zip(keys, cases, strict=True):
        groups.setdefault(key, []).append(case)
    hosts = {key: max(group, key=lambda c: (c.placement.threads or 0, c.batch_size)) for key, group in groups.items()}
    ordered: list[Any] = []
    started: set[tuple] = set()
    for key, case in zip(keys, cases, strict=True):
        if key not in started:
            started.add(key)
            ordered.append(hosts[key])
        if case is not hosts[key]:
            ordered.append(case)
    return ordered


def accuracy_pass(measured: dict[Any, dict[str, Any]], bundle, prepared, compressed, case) -> PassResult:
    """The accuracy pass of one case, measured once per (model, compression, engine, device type) and kept in
    ``measured``, which also supplies the fp32 reference of the same engine and device type.

    Nothing in it is timed, so a CPU case evaluates on every core this process may use (the figure is the
    variant's, whatever thread count the case that measures it has). An engine with static shapes keeps the
    case's thread count, as it keeps its batch shape: another of either would compile another graph."""
    from bench.hardware import cpu_cores, cpu_threads

    if not case.measure.accuracy or bundle.evaluate is None:
        return PassResult("accuracy")
    key = accuracy_key(case)
    if key not in measured:
        all_cores = case.placement.device_type == "cpu" and not prepared.static_shapes
        with cpu_threads(cpu_cores() if all_cores else None):
            measured[key] = measure_accuracy(bundle, prepared, compressed, case, reference_accuracy(measured, case))
    columns = dict(measured[key])
    extra = columns.pop("extra", {})
    return PassResult("accuracy", columns=columns, extra=extra)

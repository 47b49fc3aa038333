"""Models: built-in reference models and the user-model interface.

A model is a function returning a :class:`ModelBundle`; register it with :func:`register_model`, or point a suite
at any ``"package.module:function"`` that returns one (``models: [{factory: "my_pkg.models:build"}]``).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from bench.checks import short
from bench.registry import Entry, Registry, import_submodules, register_entry

MODELS: Registry[Entry] = Registry("model")


@dataclass(frozen=True)
class Accuracy:
    """An accuracy figure in [0, 1] (higher is better) and the metric it is (text, e.g. ``"top1"``).

    ``value`` may be any real number, or a tensor or array of one element (``(predicted == labels).float().mean()``):
    it is kept as a Python float. Text, a bool, NaN or a value outside [0, 1] is refused with a ``ValueError``."""

    value: float
    metric: str
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.metric, str) or not self.metric.strip():
            raise ValueError(f"an accuracy's metric must be its name as text (e.g. 'top1'), got {short(self.metric)}")
        value = _real(self.value)
        if value is None:  # was: a tensor stored as the text 'tensor(0.9000)', a string failing on '<=' in the pass
            raise ValueError(
                f"accuracy {self.metric} must be a number in [0, 1] (a float, or a tensor or array of one element), "
                f"got {short(self.value)}"
            )
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"accuracy {self.metric}={value} is outside [0, 1]")
        object.__setattr__(self, "value", value)


def _real(value: Any) -> float | None:
    """``value`` as a float when it is a real number (not a bool) or a tensor or array holding one; else None."""
    if not isinstance(value, numbers.Real) and hasattr(value, "item") and hasattr(value, "shape"):
        if math.prod(value.shape) != 1:
            return None
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    return float(value)


@dataclass
class ModelBundle:
    """What a model factory returns.

    module: the ``torch.nn.Module`` in fp32, on the CPU, in eval mode.
    make_inputs: ``batch_size -> tuple of input tensors`` (CPU; the harness moves and casts them), dimension 0 the
        batch: a call counts as ``batch_size`` items, so at least one input must have ``batch_size`` rows.
    evaluate: optional ``predict -> Accuracy``, where ``predict(*inputs)`` runs the case's compressed model on
        its device; measured in its own pass on held-out data.
    calibration: optional ``() -> iterable of input tuples`` drawn from training data (disjoint from the
        evaluation data): static quantization calibrates on it, distillation and fine-tuning train on it; without
        it they are skipped, never fitted to ``make_inputs``' batches.
    make_student: optional ``(fraction) -> smaller nn.Module`` initialised from the fp32 model (e.g. fewer
        layers), for ``distill``; without it, ``distill`` uses a structurally pruned (narrower) copy.
    task: a short word for reports (``ctr``, ``search``, ``image``).
    """

    module: Any
    make_inputs: Callable[[int], tuple]
    evaluate: Callable[[Callable[..., Any]], Accuracy] | None = None
    calibration: Callable[[], Iterable[tuple]] | None = None
    make_student: Callable[[float], Any] | None = None
    task: str = ""
    info: dict[str, Any] = field(default_factory=dict)


def register_model(
    name: str,
    *,
    params: dict[str, Any] | None = None,
    description: str = "",
    check: Callable[..., None] | None = None,
    item_bytes: Callable[..., tuple[int, int]] | None = None,
) -> Callable[[Callable[..., ModelBundle]], Callable[..., ModelBundle]]:
    """Register ``build(**params) -> ModelBundle`` under ``name``; ``params`` are the YAML keys and defaults.

    ``item_bytes(**params) -> (inputs, activations)``, when given, estimates the bytes one batch item takes in the
    inputs and in the largest activations of a forward pass: a suite whose batches would need more than
    :data:`MAX_MEMORY_BYTES` is refused when it is validated (see :func:`check_batch`)."""

    return register_entry(MODELS, name, params, description, check, item_bytes=item_bytes)


MAX_SEED = 2**32 - 1
"""Largest ``seed`` a reference model takes (numpy's and Python's generators all accept it)."""


MAX_MEMORY_BYTES = 8 * 1024**3
"""Most memory (8 GiB) a reference model's tables, generated data or one batch may need by its own estimate: larger
values are refused when a suite is validated, before anything is allocated (one line, not an out-of-memory kill)."""


def check_bytes(what: str, size: int) -> None:
    """Raise ValueError ``'<what> = N GiB; at most 8 GiB'`` when ``size`` bytes exceed :data:`MAX_MEMORY_BYTES`."""
    if size > MAX_MEMORY_BYTES:
        raise ValueError(f"{what} = {size / 1024**3:.1f} GiB; at most {MAX_MEMORY_BYTES // 1024**3} GiB")


def size_text(size: float) -> str:
    """``size`` bytes in the largest binary unit that keeps a number >= 1 (``512 B``, ``3.5 KiB``, ``17.6 MiB``)."""
    for unit in ("B", "KiB", "MiB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


def batch_bytes(per_item: tuple[int, int], items: int, what: str, prepared: int | None = None) -> tuple[str, int]:
    """What a forward pass on ``items`` batch items needs by a model's ``item_bytes`` estimate ``per_item`` =
    (inputs, activations): a description (``"<what> x 27.0 MiB of inputs and activations per item"``) and the
    bytes. ``what`` says where ``items`` comes from (``"batch_size 100000"``); ``prepared``, when given, is how many
    items of inputs are built and kept at once (the load pass prepares an input for each padded batch size)."""
    inputs, activations = per_item
    if prepared is None:
        return f"{what} x {size_text(inputs + activations)} of inputs and activations per item", items * (
            inputs + activations
        )
    return (
        f"{what} x {size_text(activations)} of activations per item, with inputs prepared for {prepared} items "
        f"x {size_text(inputs)}",
        items * activations + prepared * inputs,
    )


def check_batch(per_item: tuple[int, int], items: int, what: str, prepared: int | None = None) -> None:
    """Raise ValueError when a forward pass on ``items`` batch items needs more than :data:`MAX_MEMORY_BYTES`, by a
    model's ``item_bytes`` estimate (see :func:`batch_bytes`)."""
    check_bytes(*batch_bytes(per_item, items, what, prepared))


def item_bytes_of(spec) -> tuple[int, int] | None:
    """The (inputs, activations) bytes per batch item that the registered model of ``spec`` (a ``MethodSpec``)
    estimates for its parameters; None for a user factory or a model registered without ``item_bytes``."""
    if spec.factory:
        return None
    entry = MODELS.get(spec.name)
    return None if entry.item_bytes is None else entry.item_bytes(**{**entry.params, **spec.kwargs})


def check_int(name: str, value: Any, low: int, high: int) -> None:
    """For a model's ``check``: raise ValueError unless ``value`` is an integer from ``low`` to ``high``."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer from {low} to {high}, got {short(value)}")


def int_ranges(**ranges: tuple[int, int]) -> Callable[..., None]:
    """A model's ``check`` from ``param=(low, high)`` ranges (a ``seed`` from 0 to :data:`MAX_SEED` is added)."""
    ranges = {"seed": (0, MAX_SEED), **ranges}

    def check(**params: Any) -> None:
        for name, (low, high) in ranges.items():
            check_int(name, params[name], low, high)

    return check


import_submodules(__name__)

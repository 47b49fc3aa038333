"""Models: built-in reference models and the user-model interface.

A model is a function returning a :class:`ModelBundle`; register it with :func:`register_model`, or point a suite
at any ``"package.module:function"`` that returns one (``models: [{factory: "my_pkg.models:build"}]``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from bench.checks import short
from bench.registry import Entry, Registry, import_submodules, register_entry

MODELS: Registry[Entry] = Registry("model")


@dataclass(frozen=True)
class Accuracy:
    """An accuracy figure in [0, 1] (higher is better) and the metric it is."""

    value: float
    metric: str
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0.0 <= self.value <= 1.0:
            raise ValueError(f"accuracy {self.metric}={self.value} is outside [0, 1]")


@dataclass
class ModelBundle:
    """What a model factory returns.

    module: the ``torch.nn.Module`` in fp32, on the CPU, in eval mode.
    make_inputs: ``batch_size -> tuple of input tensors`` (CPU; the harness moves and casts them).
    evaluate: optional ``predict -> Accuracy``, where ``predict(*inputs)`` runs the case's compressed model on
        its device; measured in its own pass on held-out data.
    calibration: optional ``() -> iterable of input tuples`` drawn from training data (disjoint from the
        evaluation data): static quantization calibrates on it, distillation and fine-tuning train on it.
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
) -> Callable[[Callable[..., ModelBundle]], Callable[..., ModelBundle]]:
    """Register ``build(**params) -> ModelBundle`` under ``name``; ``params`` are the YAML keys and defaults."""

    return register_entry(MODELS, name, params, description, check)


MAX_SEED = 2**32 - 1
"""Largest ``seed`` a reference model takes (numpy's and Python's generators all accept it)."""


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

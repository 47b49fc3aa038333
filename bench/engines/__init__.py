"""Engines: how a compressed model is executed (eager PyTorch, torch.compile, ONNX Runtime, ...).

An engine is ``prepare(compressed, example_inputs, placement, **params) -> Prepared``; register it with
:func:`register_engine`. Raise :class:`bench.errors.NotApplicable` for combinations it cannot run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.registry import Entry, Registry, import_submodules, register_entry

ENGINES: Registry[Entry] = Registry("engine")


@dataclass
class Prepared:
    """A ready-to-time callable ``call(*inputs) -> outputs`` and what preparing it cost (``compile_time_s``)."""

    call: Callable[..., Any]
    info: dict[str, Any] = field(default_factory=dict)
    static_shapes: bool = False
    """True when every new input shape costs a compilation (``compile`` with ``dynamic=False``, TensorRT): the
    accuracy pass then feeds ``call`` the case's own batch shape, on the case's thread count, so it evaluates the
    very graph that was timed and compiles nothing more."""
    outside_torch: str | None = None
    """Why the engine's device memory is not allocated by torch (ONNX Runtime's CUDA provider has its own arena):
    the memory pass then leaves the CUDA memory columns empty with this reason instead of reading torch's counters."""
    cuda_peak_unseen: str | None = None
    """Why torch's allocated-memory counters miss what the engine's calls use on the device although torch holds it
    (CUDA graphs replay in the private pool they were recorded in, and a replay allocates nothing): the memory pass
    then leaves ``cuda_max_allocated_mb`` empty with this reason and keeps ``cuda_weights_mb``."""


def register_engine(
    name: str,
    *,
    params: dict[str, Any] | None = None,
    description: str = "",
    check: Callable[..., None] | None = None,
) -> Callable[[Callable[..., Prepared]], Callable[..., Prepared]]:
    """Register ``prepare(compressed, example_inputs, placement, **params) -> Prepared`` under ``name``."""

    return register_entry(ENGINES, name, params, description, check)


import_submodules(__name__)

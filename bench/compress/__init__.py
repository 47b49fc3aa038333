"""Compression methods: one module per family, each registered with :func:`register_compression`.

A method is ``apply(bundle, placement, **params) -> Compressed``. It receives the fp32 bundle (never modified:
methods work on a copy) and returns the model to run plus what it did. Raise :class:`bench.errors.NotApplicable`
for a combination that cannot work; the case is then skipped with that reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.registry import Entry, Registry, import_submodules, register_entry

COMPRESSIONS: Registry[Entry] = Registry("compression")


@dataclass
class Compressed:
    """A compressed model ready for an engine.

    input_dtype: floating-point inputs are cast to this dtype (``None`` keeps fp32).
    info: what the method did, copied into the record: e.g. ``backend``, ``train_time_s``,
        ``sparse_size_bytes``, ``sparsity``.
    unsupported_engines: engine name -> why this model cannot run there; the engine then raises
        :class:`bench.errors.NotApplicable` with that reason and the case is recorded as skipped.
    """

    module: Any
    input_dtype: Any = None
    info: dict[str, Any] = field(default_factory=dict)
    unsupported_engines: dict[str, str] = field(default_factory=dict)
    inductor_config: dict[str, Any] = field(default_factory=dict)
    """Inductor settings the ``compile`` engine applies while it compiles this model (e.g. torchao's recommended
    ones), patched for that compilation only instead of set process-wide."""

    def check_engine(self, engine: str) -> None:
        """Raise :class:`NotApplicable` when this compressed model cannot run on ``engine``."""
        from bench.errors import NotApplicable

        if engine in self.unsupported_engines:
            raise NotApplicable(self.unsupported_engines[engine])


def copy_on_device(bundle, placement):
    """A deep copy of the bundle's fp32 module, moved to the case's device *before* any rewriting.

    Methods that swap weights for tensor subclasses (torchao's int8 and float8 tensors) must quantize on the
    device the case runs on: a subclass built on the CPU cannot be moved to CUDA afterwards ("Attempted to set the
    storage of a tensor on device cuda:0 to a storage on different device cpu"). Plain casts may use it too.
    """
    import copy

    return copy.deepcopy(bundle.module).to(placement.device)


TORCHAO_INDUCTOR_CONFIG: dict[str, Any] = {
    "coordinate_descent_tuning": True,
    "coordinate_descent_check_all_directions": True,
    "force_fuse_int_mm_with_mul": True,
}
"""What torchao's ``set_inductor_config=True`` would set for the whole process (``recommended_inductor_config_setter``);
our torchao methods pass ``set_inductor_config=False`` and hand these to the compile engine instead."""


def register_compression(
    name: str,
    *,
    params: dict[str, Any] | None = None,
    description: str = "",
    check: Callable[..., None] | None = None,
    cached: Callable[..., bool] | None = None,
) -> Callable[[Callable[..., Compressed]], Callable[..., Compressed]]:
    """Register ``apply(bundle, placement, **params) -> Compressed`` under ``name``.

    ``cached(**params)`` says when the result is worth keeping across processes (:mod:`bench.artefacts`): methods
    that train or calibrate. The whole :class:`Compressed` is stored, keyed by the fp32 model's content, the
    method, its parameters, the device type, the library versions and the method's source file."""

    return register_entry(COMPRESSIONS, name, params, description, check, cached)


import_submodules(__name__)

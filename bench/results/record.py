"""The versioned record of one case (:class:`Record`): identity, every measured column of the metric table, the
environment it ran on."""

from __future__ import annotations

import dataclasses
from dataclasses import field
from typing import Any

from bench import metrics

SCHEMA_VERSION = 2
"""2 added ``pass_errors``, ``repeats``, ``latency_between_spread`` and ``cuda_weights_mb``; version-1 records read as
before (the new columns empty)."""


IDENTITY_FIELDS: tuple[tuple[str, Any, Any], ...] = (
    ("run_id", str, dataclasses.MISSING),
    ("suite", str, dataclasses.MISSING),
    ("case_id", str, dataclasses.MISSING),
    ("model", str, dataclasses.MISSING),
    ("compression", str, dataclasses.MISSING),
    ("engine", str, dataclasses.MISSING),
    ("device", str, dataclasses.MISSING),
    ("threads", int | None, dataclasses.MISSING),  # empty on GPU
    ("batch_size", int, dataclasses.MISSING),
    ("status", str, dataclasses.MISSING),  # ok | failed | skipped
    ("error", str | None, None),  # the exception of a failed case, the reason of a skipped one
)
ENVIRONMENT_FIELDS: tuple[str, ...] = (
    "cpu_model",
    "cpu_cores",
    "gpu_name",
    "driver_version",
    "torch_version",
    "cuda_version",
    "python_version",
    "git_commit",
    "hostname",
)
"""What decides whether two results are comparable; every record carries it (``git_commit`` ends in ``+dirty``
when tracked files were modified)."""


_ENV_TYPES = {"cpu_cores": int | None}


STATUSES = ("ok", "failed", "skipped")
"""What a case's record says of it."""


def _check_record(self) -> None:
    if self.status not in STATUSES:
        raise ValueError(f"status must be ok, failed or skipped, not {self.status!r}")
    if self.status == "ok" and self.latency_p50_ms is None:
        raise ValueError(f"{self.case_id}: an ok record needs latency figures")


Record = dataclasses.make_dataclass(
    "Record",
    [
        *((name, kind, field(default=default)) for name, kind, default in IDENTITY_FIELDS),
        # every measured column of the metric table, in its order (bench.metrics: one row per metric)
        *((m.name, m.type | None, field(default=None)) for m in metrics.recorded()),
        *((name, _ENV_TYPES.get(name, str | None), field(default=None)) for name in ENVIRONMENT_FIELDS),
        ("timestamp", str | None, field(default=None)),
        ("schema_version", int, field(default=SCHEMA_VERSION)),
        # parameters of the axes and anything method-specific
        ("extra", dict[str, Any], field(default_factory=dict)),
    ],
    frozen=True,
    namespace={"__post_init__": _check_record, "__module__": __name__},
)
Record.__doc__ = """One case's result. ``None`` means "not measured", never zero.

Identity fields, then one field per measured column of :mod:`bench.metrics` (its table documents them), then the
environment (:data:`ENVIRONMENT_FIELDS`), ``timestamp``, ``schema_version`` and ``extra`` (axis parameters and
method-specific figures)."""


COLUMNS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Record))

"""Measurement passes. Each owns its window: latency, memory, energy and accuracy never overlap.

Every pass returns one :class:`PassResult`: the record columns it filled (names from :mod:`bench.metrics`), its
extras for ``Record.extra``, and its error when it failed, so a failed pass leaves the others' figures intact.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bench.errors import one_line  # noqa: F401  (re-exported: the passes and the runner name it from here)


@dataclass
class PassResult:
    """What one measurement pass of one case produced."""

    name: str
    columns: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    samples_ms: list[float] | None = None
    """The latency pass's raw per-call samples (kept beside the record)."""

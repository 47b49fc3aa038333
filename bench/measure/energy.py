"""Energy pass (placeholder until NVML/RAPL meters land): reports honestly that nothing was measured."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench.spec import MeasureSpec


def measure_energy(call: Callable[[], object], device: str, batch_size: int, spec: MeasureSpec) -> dict[str, Any]:
    """Energy columns for one case; empty values with ``energy_source`` saying why when nothing is readable."""
    return {"energy_source": "unavailable: no energy meter implemented"}

"""NVML access through ``nvidia-ml-py`` (the ``pynvml`` module), detected once and never fatal."""

from __future__ import annotations

import functools


@functools.lru_cache(maxsize=1)
def _nvml():
    """The initialised pynvml module, or ``None`` (no package, no driver, no GPU)."""
    try:
        import pynvml

        pynvml.nvmlInit()
    except Exception:  # any NVML failure means "no NVML here"; callers report that once
        return None
    return pynvml


def driver_version() -> str | None:
    nvml = _nvml()
    if nvml is None:
        return None
    version = nvml.nvmlSystemGetDriverVersion()
    return version.decode() if isinstance(version, bytes) else str(version)

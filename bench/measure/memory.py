"""Peak memory, measured in its own pass: a sampler thread watches RSS while the model runs."""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass

from bench.measure.sampler import Sampler

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def current_rss_bytes() -> int:
    """Resident set size of this process now (``/proc/self/statm``; peak RSS where that is unreadable)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * _PAGE
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


@dataclass(frozen=True)
class MemoryResult:
    peak_rss_mb: float
    cuda_max_allocated_mb: float | None
    calls: int
    window_s: float


def measure_memory(call: Callable[[], object], device: str, seconds: float) -> MemoryResult:
    """Run ``call`` for ``seconds`` (at least once) while sampling RSS every millisecond.

    On CUDA the allocator's peak is reset first, so ``cuda_max_allocated_mb`` is this case's own peak.
    """
    cuda = device.startswith("cuda")
    if cuda:
        import torch

        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    before = current_rss_bytes()
    sampler = Sampler(current_rss_bytes, time.perf_counter, interval_s=0.001)
    start = time.perf_counter()
    sampler.start()
    calls = 0
    try:
        while True:
            call()
            calls += 1
            if time.perf_counter() - start >= seconds:
                break
    finally:
        sampler.stop()
    if sampler.error is not None:
        raise sampler.error
    peak = max([before, current_rss_bytes(), *(rss for _, rss in sampler.samples)])
    window = time.perf_counter() - start
    cuda_peak = None
    if cuda:
        cuda_peak = torch.cuda.max_memory_allocated(device) / 2**20
    return MemoryResult(peak_rss_mb=peak / 2**20, cuda_max_allocated_mb=cuda_peak, calls=calls, window_s=window)

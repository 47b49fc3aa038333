"""Peak memory, sampled while the model runs: a sampler thread watches RSS (and CUDA's allocator) during the warm-up."""

from __future__ import annotations

import ctypes
import functools
import os
import resource
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.measure import PassResult, one_line
from bench.measure.size import device_bytes
from bench.measure.window import run_window

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def current_rss_bytes() -> int:
    """Resident set size of this process now (``/proc/self/statm``; peak RSS where that is unreadable)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * _PAGE
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def release_freed_memory(compiled: bool = True) -> None:
    """Give back what earlier cases left behind, so that a case's peak RSS is its own and not its place in the run:
    Python's unreachable objects and the heap pages glibc keeps after a free (``malloc_trim``; fine-tuning and
    distillation leave hundreds of MiB there), and with ``compiled`` the graphs ``torch.compile`` keeps for every
    model it compiled (they hang on the model class's code, not on the model, and a frozen graph holds its own copy
    of the weights). Called when a case's engine is replaced (``compiled`` when that engine compiled), before the next
    one is built. Never fails a case: a torch whose private layout differs gets one warning, and the run goes on."""
    import gc
    import sys

    try:
        if compiled and "torch._dynamo" in sys.modules:  # its caches outlive the modules
            import torch

            torch.compiler.reset()
            _forget_inductor_modules()
        gc.collect()
        trim_heap()
    except Exception as err:  # a figure a little high is better than a case lost
        if not _RELEASE_WARNED:
            _RELEASE_WARNED.append(err)
            warnings.warn(
                f"memory could not be given back between cases ({one_line(err)}): peak_rss_mb may include "
                "what earlier cases left",
                stacklevel=2,
            )


_RELEASE_WARNED: list[BaseException] = []


def trim_heap() -> None:
    """Hand the heap's free pages back to the OS (glibc's ``malloc_trim``; nothing where the C library lacks it):
    what earlier passes freed must not read as this pass's resident memory."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


INDUCTOR_MODULES = "torch._inductor.runtime.compile_tasks."
"""Where inductor loads the Python module of each graph it compiled (``sys.modules``): a frozen graph's module holds
its constants, oneDNN-packed weights included, as globals, and ``torch.compiler.reset`` leaves it there."""


def _forget_inductor_modules() -> None:
    """Drop inductor's loaded graph modules (its in-memory ``PyCodeCache`` and their ``sys.modules`` entries; the
    files stay on disk, so a later compile of the same graph still finds them). Private torch API: skipped, not
    failed, where a torch version lays it out differently."""
    import sys

    codecache = sys.modules.get("torch._inductor.codecache")  # never imported here: nothing was compiled then
    clear = getattr(getattr(codecache, "PyCodeCache", None), "cache_clear", None)
    if clear is None:  # not imported, or laid out differently
        return
    clear()
    for name in [name for name in sys.modules if name.startswith(INDUCTOR_MODULES)]:
        del sys.modules[name]


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim`` (``None`` on a C library without it, e.g. musl or macOS)."""
    try:
        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None


@dataclass(frozen=True)
class MemoryResult:
    peak_rss_mb: float
    cuda_max_allocated_mb: float | None
    calls: int
    window_s: float
    cuda_weights_mb: float | None = None


class CudaMemory:
    """The CUDA caching allocator's counters for one device (a stand-in with the same methods serves tests)."""

    def __init__(self, device: str):
        import torch

        self.torch = torch
        self.device = torch.device(device)

    def settle(self) -> None:
        self.torch.cuda.synchronize(self.device)

    def reset_peak(self) -> None:
        self.torch.cuda.reset_peak_memory_stats(self.device)

    def allocated(self) -> int:
        return self.torch.cuda.memory_allocated(self.device)

    def peak(self) -> int:
        return self.torch.cuda.max_memory_allocated(self.device)


def measure_memory(
    call: Callable[[], object],
    device: str,
    seconds: float,
    *,
    weights_bytes: int | None = None,
    gpu: CudaMemory | None = None,
) -> MemoryResult:
    """Run ``call`` for ``seconds`` (at least once) while sampling RSS every millisecond.

    On CUDA the figure is the case's own, whatever ran before it: ``cuda_weights_mb`` is the variant's resident
    weights (``weights_bytes``, its parameters and buffers on the device), and ``cuda_max_allocated_mb`` is those
    weights plus the peak the case's calls allocated above what was resident when the pass began (the peak is
    reset first). Earlier variants still held by caches are therefore never counted.
    """
    if gpu is None and device.startswith("cuda"):
        gpu = CudaMemory(device)
    resident = 0
    if gpu is not None:
        gpu.settle()
        gpu.reset_peak()
        resident = gpu.allocated()
    trim_heap()  # what the previous case's accuracy pass freed, glibc still holds: not this case's
    window = run_window(call, seconds, current_rss_bytes, time.perf_counter, 0.001)
    if window.error is not None:
        raise window.error
    peak = max(rss for _, rss in window.samples)
    cuda_peak = weights_mb = None
    if gpu is not None:
        gpu.settle()
        weights = weights_bytes or 0
        weights_mb = weights / 2**20 if weights_bytes is not None else None
        cuda_peak = (weights + max(0, gpu.peak() - resident)) / 2**20
    return MemoryResult(
        peak_rss_mb=peak / 2**20,
        cuda_max_allocated_mb=cuda_peak,
        calls=window.calls,
        window_s=window.seconds,
        cuda_weights_mb=weights_mb,
    )


def memory_pass(
    call: Callable[[], object],
    device: str,
    seconds: float,
    module: Any = None,
    outside_torch: str | None = None,
    peak_unseen: str | None = None,
) -> PassResult:
    """The memory pass of one case: :func:`measure_memory`, with the variant's resident weights on CUDA.

    On CUDA the figures come from torch's caching allocator, so they are left empty (``extra.cuda_memory_note`` says
    why) where the device memory is allocated elsewhere: ``outside_torch`` is the engine's reason (ONNX Runtime's CUDA
    provider has its own arena), and a model that is not a torch module is outside it too. torch's counters would
    show the inputs alone, a few MiB, as the case's peak. ``peak_unseen`` is the engine's reason why torch's peak
    misses memory torch itself holds (CUDA graphs replay in their recorded pool): ``cuda_max_allocated_mb`` is then
    left empty with it, and ``cuda_weights_mb`` kept."""
    cuda = device.startswith("cuda")
    weights = device_bytes(module, device) if cuda and module is not None else None
    result = measure_memory(call, device, seconds, weights_bytes=weights)
    extra: dict[str, Any] = {"memory_calls": result.calls, "memory_window_s": round(result.window_s, 4)}
    cuda_peak, cuda_weights = result.cuda_max_allocated_mb, result.cuda_weights_mb
    if cuda and weights is None and outside_torch is None:
        outside_torch = f"the model is not a torch module ({type(module).__name__})"
    if cuda and outside_torch is not None:
        cuda_peak = cuda_weights = None
        extra["cuda_memory_note"] = f"not measured: {outside_torch}; cuda_max_allocated_mb reads torch's allocator only"
    elif cuda and peak_unseen is not None:
        cuda_peak = None
        extra["cuda_memory_note"] = f"cuda_max_allocated_mb not measured: {peak_unseen}; cuda_weights_mb is measured"
    return PassResult(
        "memory",
        columns={
            "peak_rss_mb": result.peak_rss_mb,
            "cuda_max_allocated_mb": cuda_peak,
            "cuda_weights_mb": cuda_weights,
        },
        extra=extra,
    )

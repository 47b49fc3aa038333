"""torch.compile with the inductor backend; compile time is measured apart from latency.

``mode`` is torch.compile's: ``reduce-overhead`` (and ``max-autotune``) add CUDA graphs, which replay a whole
captured call as one launch; that is what removes the per-kernel launch cost of small-batch GPU inference.
CUDA graphs apply only to CUDA devices: on the CPU those modes compile as inductor would anyway, and the record
says so (``compile_cudagraphs``).
"""

from __future__ import annotations

import time

import torch

from bench.engines import Prepared, register_engine
from bench.errors import NotApplicable
from bench.hardware import synchronizer

CPU_NOTE = "CUDA graphs apply only to CUDA devices; on {device} this mode compiles without them"
CUDAGRAPH_POOL = (
    "CUDA graphs (compile mode {mode}) replay in the private memory pool they were recorded in, and a replay "
    "allocates nothing, so torch's allocated-memory peak would show the weights and the copied outputs only"
)


def compile_modes() -> list[str]:
    """torch.compile's modes in the installed torch (``default``, ``reduce-overhead``, ``max-autotune``, ...)."""
    return list(torch._inductor.list_mode_options())


def uses_cudagraphs(mode: str) -> bool:
    return bool(torch._inductor.list_mode_options().get(mode, {}).get("triton.cudagraphs", False))


MAX_AUTOTUNE_NOTE = (
    "mode {mode} sets max_autotune: {ran}, which torch.compile applies after the engine's max_autotune: {asked}"
)


def effective_max_autotune(mode: str, max_autotune: bool) -> bool:
    """Whether inductor autotunes: torch.compile applies its mode's options (``max-autotune`` and
    ``max-autotune-no-cudagraphs`` set ``max_autotune``) over the settings the engine compiles under."""
    return bool(torch._inductor.list_mode_options().get(mode, {}).get("max_autotune", max_autotune))


def _check(mode: str, **_) -> None:
    modes = compile_modes()
    if mode not in modes:
        raise ValueError(f"compile: unknown mode '{mode}'; allowed: {', '.join(modes)}")


def _cudagraph_skips() -> int:
    from torch._dynamo.utils import counters

    return int(counters["inductor"]["cudagraph_skips"])


def _cache_counts() -> dict[str, int]:
    """inductor's FX graph cache and AOTAutograd's cache (both across processes, on disk): hits, misses, bypasses."""
    from torch._dynamo.utils import counters

    return {
        f"{cache}_{outcome}": int(counters[group][f"{key}_{outcome}"])
        for cache, group, key in (
            ("fxgraph_cache", "inductor", "fxgraph_cache"),
            ("autograd_cache", "aot_autograd", "autograd_cache"),
        )
        for outcome in ("hit", "miss", "bypass")
    }


def graph_key(inputs: tuple) -> tuple:
    """What makes dynamo compile another graph for a static-shape module: the inputs' shapes, dtypes and devices,
    and the global state its guards check (the thread count, grad and inference mode).

    A call with a key not seen before runs under the engine's inductor settings. Keying on shapes alone let a
    second thread count recompile silently without ``freezing``: int8 graphs then ran at eager speed."""
    tensors = tuple(
        (tuple(t.shape), t.dtype, t.device.type) if isinstance(t, torch.Tensor) else type(t).__name__ for t in inputs
    )
    return tensors, torch.get_num_threads(), torch.is_grad_enabled(), torch.is_inference_mode_enabled()


GRAPH_LIMIT = 64
"""Graphs one prepared model may compile (one per batch size and thread count). dynamo's own default is 8, past
which it runs the function eagerly without a word: a sweep of 3 thread counts x 3 batch sizes would have timed
its last case in eager mode under the name ``compile``."""


def limit_settings() -> tuple[str, str]:
    """dynamo's names for its recompile limit and for failing past it (they differ across torch versions)."""
    config = torch._dynamo.config
    limit = "recompile_limit" if hasattr(config, "recompile_limit") else "cache_size_limit"
    fail = (
        "fail_on_recompile_limit_hit" if hasattr(config, "fail_on_recompile_limit_hit") else "fail_on_cache_limit_hit"
    )
    return limit, fail


class _NeverRaised(Exception):
    """Stands in for dynamo's limit exception in a torch that has none (nothing else is caught by mistake)."""


def _limit_hit() -> type[Exception]:
    """The exception dynamo raises past its recompile limit when told to fail."""
    exc = torch._dynamo.exc
    return getattr(exc, "FailOnRecompileLimitHit", None) or getattr(exc, "FailOnCacheLimitHit", _NeverRaised)


def _graph_limits() -> dict[str, object]:
    """dynamo's settings for a call that may compile: room for :data:`GRAPH_LIMIT` graphs, and an error, not a
    silent eager fallback, past it."""
    limit, fail = limit_settings()
    return {limit: GRAPH_LIMIT, fail: True}


@register_engine(
    "compile",
    params={"freezing": True, "max_autotune": False, "mode": "default"},
    check=_check,
    description="torch.compile (inductor); the first call, which compiles, is timed as compile_time_s.",
)
def compile_engine(compressed, example_inputs, placement, freezing: bool, max_autotune: bool, mode: str) -> Prepared:
    """Compile the module for static shapes: each batch size and thread count gets its own graph, as a
    deployment would.

    ``freezing`` lets inductor constant-fold weights and pre-pack them for oneDNN; static int8 from
    ``int8-static`` needs it to become real int8 kernels. ``mode: reduce-overhead`` records CUDA graphs on CUDA.
    """
    _check(mode)
    compressed.check_engine("compile")
    if not isinstance(compressed.module, torch.nn.Module):
        raise NotApplicable(f"torch.compile needs a torch module, not {type(compressed.module).__name__}")
    # A fresh dynamo cache per prepared model: many compressed variants of one model class would otherwise
    # hit the recompile limit and silently fall back to eager.
    torch._dynamo.reset()
    compiled = torch.compile(compressed.module, dynamic=False, mode=None if mode == "default" else mode)
    settings = {**compressed.inductor_config, "freezing": freezing, "max_autotune": max_autotune}
    cudagraphs = uses_cudagraphs(mode) and placement.device_type == "cuda"
    seen: set[tuple] = set()

    def run(*inputs):
        key = graph_key(inputs)
        if key in seen:
            return compiled(*inputs)
        # a call dynamo may compile for: inductor's settings apply for that compilation only (torch.compile's
        # ``options=`` does not reach the freezing pass that int8-static needs)
        try:
            with torch._inductor.config.patch(settings), torch._dynamo.config.patch(_graph_limits()):
                out = compiled(*inputs)
        except _limit_hit() as err:
            raise RuntimeError(
                f"compile: one prepared model needs more than {GRAPH_LIMIT} graphs (one per batch size and thread "
                "count); past that, torch.compile would run the case eagerly, so it fails instead. Split the "
                "suite's batch_sizes or threads"
            ) from err
        seen.add(key)
        return out

    call = run
    if cudagraphs:

        def call(*inputs):
            # A CUDA graph writes every replay's outputs into the same static buffers: the next call would
            # overwrite what the caller still holds (the accuracy pass keeps a list of outputs), so each call
            # returns a copy. The copy is one small device-to-device transfer of the output, timed with the call.
            torch.compiler.cudagraph_mark_step_begin()
            return torch.utils._pytree.tree_map_only(torch.Tensor, torch.clone, run(*inputs))

    skips_before, caches_before = _cudagraph_skips(), _cache_counts()
    sync = synchronizer(placement.device) or (lambda: None)
    start = time.perf_counter()
    call(*example_inputs)
    sync()  # on CUDA the call returns before its kernels ran: they are part of the first call's cost
    compile_time_s = time.perf_counter() - start
    info = {"compile_time_s": compile_time_s, "compile_freezing": freezing, "compile_mode": mode}
    info["compile_max_autotune"] = effective_max_autotune(mode, max_autotune)
    if info["compile_max_autotune"] != max_autotune:
        ran, asked = str(info["compile_max_autotune"]).lower(), str(max_autotune).lower()
        info["compile_max_autotune_note"] = MAX_AUTOTUNE_NOTE.format(mode=mode, ran=ran, asked=asked)
    # what the first compilation found in torch's own caches across processes (on disk, keyed by graph content)
    info["compile_cache"] = {k: v - caches_before[k] for k, v in _cache_counts().items() if v - caches_before[k]}
    if uses_cudagraphs(mode):
        skipped = _cudagraph_skips() - skips_before
        info["compile_cudagraph_skips"] = skipped  # graphs of the first compilation left without a CUDA graph
        info["compile_cudagraphs"] = cudagraphs and skipped == 0
        if not cudagraphs:
            info["compile_cudagraphs_note"] = CPU_NOTE.format(device=placement.device)
        else:
            info["compile_outputs"] = "cloned out of the CUDA graph's static buffers on every call"
    unseen = CUDAGRAPH_POOL.format(mode=mode) if cudagraphs else None
    return Prepared(call=call, info=info, static_shapes=True, cuda_peak_unseen=unseen)

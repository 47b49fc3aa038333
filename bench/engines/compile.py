"""torch.compile with the inductor backend; compile time is measured apart from latency."""

from __future__ import annotations

import time

import torch

from bench.engines import Prepared, register_engine
from bench.errors import NotApplicable


@register_engine(
    "compile",
    params={"freezing": True, "max_autotune": False},
    description="torch.compile (inductor); the first call, which compiles, is timed as compile_time_s.",
)
def compile_engine(compressed, example_inputs, placement, freezing: bool, max_autotune: bool) -> Prepared:
    """Compile the module for static shapes (each batch size gets its own graph, as a deployment would).

    ``freezing`` lets inductor constant-fold weights and pre-pack them for oneDNN; static int8 from
    ``int8-static`` needs it to become real int8 kernels.
    """
    compressed.check_engine("compile")
    if not isinstance(compressed.module, torch.nn.Module):
        raise NotApplicable(f"torch.compile needs a torch module, not {type(compressed.module).__name__}")
    # A fresh dynamo cache per prepared model: many compressed variants of one model class would otherwise
    # hit the recompile limit and silently fall back to eager.
    torch._dynamo.reset()
    compiled = torch.compile(compressed.module, dynamic=False)
    settings = {"freezing": freezing, "max_autotune": max_autotune}
    seen: set[tuple] = set()

    def call(*inputs):
        shapes = tuple(getattr(t, "shape", None) for t in inputs)
        if shapes in seen:
            return compiled(*inputs)
        # a new shape compiles: inductor's settings apply for that compilation only (torch.compile's
        # ``options=`` does not reach the freezing pass that int8-static needs)
        with torch._inductor.config.patch(settings):
            out = compiled(*inputs)
        seen.add(shapes)
        return out

    start = time.perf_counter()
    call(*example_inputs)
    compile_time_s = time.perf_counter() - start
    return Prepared(call=call, info={"compile_time_s": compile_time_s, "compile_freezing": freezing})

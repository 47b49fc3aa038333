"""Eager PyTorch: the module called as it is."""

from __future__ import annotations

from bench.engines import Prepared, register_engine


@register_engine("eager", description="Plain PyTorch eager execution.")
def eager(compressed, example_inputs, placement) -> Prepared:
    compressed.check_engine("eager")
    return Prepared(call=compressed.module, info={})

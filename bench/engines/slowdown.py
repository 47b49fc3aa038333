"""A deliberately slower engine: another engine plus a busy-wait of a chosen percentage of each call's own time.

Used to calibrate the regression gate (``bench calibrate``): a known 10% slowdown must be caught. Each call is
timed and followed by a busy-wait of ``percent`` of that call's duration, so the whole latency distribution is
stretched by ``1 + percent/100`` (its noise included), not shifted by a constant.
"""

from __future__ import annotations

import dataclasses
import time

from bench.engines import ENGINES, Prepared, register_engine
from bench.hardware import synchronizer

MAX_PERCENT = 1000.0
"""Largest slowdown a suite may ask for (as ``bench calibrate --percent``): 11 times the inner engine's time."""


def _check(percent: float, inner: str, **_) -> None:
    if not 0.0 <= percent <= MAX_PERCENT:  # NaN fails too
        raise ValueError(f"slowdown: percent must be from 0 to {MAX_PERCENT:g}, got {percent:g}")
    if inner == "slowdown":
        raise ValueError("slowdown cannot wrap itself")
    ENGINES.get(inner)  # unknown names raise with "did you mean"


@register_engine(
    "slowdown",
    params={"percent": 10.0, "inner": "eager"},
    check=_check,
    description="Another engine (inner, default eager) made percent% slower per call by a busy-wait (calibration).",
)
def slowdown(compressed, example_inputs, placement, percent: float = 10.0, inner: str = "eager") -> Prepared:
    _check(percent, inner)
    entry = ENGINES.get(inner)
    prepared = entry.fn(compressed, example_inputs, placement, **entry.params)
    call, factor, clock = prepared.call, percent / 100.0, time.perf_counter
    sync = synchronizer(placement.device)  # the device's time must be inside the stretched window (None on CPU)

    def slowed(*inputs):
        start = clock()
        out = call(*inputs)
        if sync is not None:
            sync()
        end = clock()
        deadline = end + (end - start) * factor
        while clock() < deadline:
            pass
        return out

    # what the inner engine says of itself (static shapes, device memory outside torch or unseen by its peak) holds
    # for the slowed call too
    info = {**prepared.info, "slowdown_percent": percent, "slowdown_inner": inner}
    return dataclasses.replace(prepared, call=slowed, info=info)

"""``bench overhead``: what the harness adds per timed call, against a bare ``time.perf_counter_ns`` loop.

Runs ``suites/harness.yaml`` (a no-op model) through the normal pytest path, then times the very same call in a
bare loop in this process and reports the difference of the medians.
"""

from __future__ import annotations

import argparse
import time

from bench.commands import add_results_option
from bench.commands._args import suite_path
from bench.errors import BenchError


def bare_loop_ns(call, calls: int) -> list[int]:
    """Per-call latency of ``call`` in a bare perf_counter_ns loop: the floor any harness is compared with."""
    samples = [0] * calls
    clock = time.perf_counter_ns
    for i in range(calls):
        start = clock()
        call()
        samples[i] = clock() - start
    return samples


def overhead(args: argparse.Namespace, extra: list[str]) -> int:
    import statistics

    import pytest
    import torch

    from bench import results as store
    from bench.runner import build_model
    from bench.spec import MethodSpec

    run_id = store.new_run_id() + "-overhead"
    code = pytest.main(
        ["--benchmark-only", "-q", args.suite, "--bench-results", args.results, "--bench-run-id", run_id]
    )
    if code != 0:
        return int(code)
    frame = store.load(run_id, args.results)
    samples = list(store.load_samples(run_id, args.results).values())
    if not samples or not (frame["status"] == "ok").any():
        why = "; ".join(f"{r.case_id}: {r.status} ({r.error})" for r in frame.itertuples()) or "no case ran"
        raise BenchError(f"{args.suite}: no case was measured, so there is no overhead to compare ({why})")
    harness_ns = statistics.median(samples[0]) * 1e6
    bundle = build_model(MethodSpec("noop"))
    inputs = bundle.make_inputs(1)
    module = bundle.module
    with torch.inference_mode():
        bare = statistics.median(bare_loop_ns(lambda: module(*inputs), int(frame["rounds"].iloc[0])))
    added = harness_ns - bare
    print(f"harness median per call: {harness_ns:8.1f} ns   (rounds: {int(frame['rounds'].iloc[0])})")
    print(f"bare loop median:        {bare:8.1f} ns")
    print(f"added by the harness:    {added:8.1f} ns = {added / 1e6:.4%} of a 1 ms inference")
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser("overhead", help="measure the harness's own per-call overhead")
    parser.add_argument(
        "--suite",
        type=suite_path,
        default="suites/harness.yaml",
        help="the no-op suite (default: suites/harness.yaml)",
    )
    add_results_option(parser)
    parser.set_defaults(func=overhead)

"""``bench overhead``: what the harness adds per timed call, against a bare ``time.perf_counter_ns`` loop.

Runs ``suites/harness.yaml`` (a no-op model) through the normal pytest path, then times the very same call in a
bare loop in this process and reports the difference of the medians.
"""

from __future__ import annotations

import argparse
import time

from bench.commands import add_results_option
from bench.commands._args import check_terminal_width, default_here, suite_path
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
    from bench.commands.run import suite_args
    from bench.runner import build_model
    from bench.spec import MethodSpec

    if args.suite is None:  # the default, as bench run's: from a subfolder, one line saying so
        default_here(DEFAULT_SUITES, DEFAULT_SUITES, "bench overhead --suite path/to/harness.yaml")
        args.suite = DEFAULT_SUITES[0]
    suites = suite_args([args.suite])  # not a suite, a fragment, an empty folder: one line, as for bench run
    check_terminal_width()
    run_id = store.new_run_id() + "-overhead"
    code = pytest.main(["--benchmark-only", "-q", *suites, "--bench-results", args.results, "--bench-run-id", run_id])
    if code != 0:
        return int(code)
    frame = store.load(run_id, args.results)
    samples = store.load_samples(run_id, args.results)
    # the bare loop calls the no-op model eagerly in fp32 on the CPU: only such a case is the same call
    same_call = (
        (frame["status"] == "ok")
        & (frame["model"] == "noop")
        & (frame["compression"] == "fp32")
        & (frame["engine"] == "eager")
        & (frame["device"] == "cpu")
    )
    rows = [r for r in frame[same_call].itertuples() if samples.get(f"{r.suite}::{r.case_id}")]
    if not rows:
        why = "; ".join(f"{r.case_id}: {r.status}" + (f" ({r.error})" if r.error else "") for r in frame.itertuples())
        raise BenchError(
            f"{args.suite}: no case of the no-op model (noop, fp32, eager, cpu) was measured, so there is no "
            f"overhead to compare with the bare loop ({why or 'no case ran'})"
        )
    row = rows[0]
    harness_ns = statistics.median(samples[f"{row.suite}::{row.case_id}"]) * 1e6
    bundle = build_model(MethodSpec("noop"))
    inputs = bundle.make_inputs(int(row.batch_size))
    module = bundle.module
    with torch.inference_mode():
        bare = statistics.median(bare_loop_ns(lambda: module(*inputs), int(row.rounds)))
    added = harness_ns - bare
    print(f"harness median per call: {harness_ns:8.1f} ns   ({row.case_id}, rounds: {int(row.rounds)})")
    print(f"bare loop median:        {bare:8.1f} ns")
    print(f"added by the harness:    {added:8.1f} ns = {added / 1e6:.4%} of a 1 ms inference")
    return 0


DEFAULT_SUITES = ["suites/harness.yaml"]
"""What ``bench overhead`` runs when no ``--suite`` is named: checked where it is used, not by argparse, which checked
it as if it had been given ("argument --suite: 'suites/harness.yaml': no such file or directory" from a subfolder
of the project, an option never passed)."""


def register(subparsers) -> None:
    parser = subparsers.add_parser("overhead", help="measure the harness's own per-call overhead")
    parser.add_argument(
        "--suite",
        type=suite_path,
        help=f"the no-op suite (default: {DEFAULT_SUITES[0]})",
    )
    add_results_option(parser)
    parser.set_defaults(func=overhead)

"""``bench calibrate``: measure the gate's false-alarm and detection rates on this machine (a benchmark)."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.commands._args import (
    add_out_option,
    at_least,
    bounded_int,
    number_type,
    positive_int,
    writing_below,
)

MAX_POOL = 20_000
"""The most pooled comparisons per case: about 20 minutes of comparisons, without a word of progress, on 2 cores
(a larger --pool looked like a hang)."""


def model_name(text: str) -> str:
    """argparse type: a registered model's name (``bench list`` shows them)."""
    from bench.errors import UnknownName
    from bench.models import MODELS

    try:
        MODELS.get(text)
    except UnknownName as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text


MAX_RUNS = 1000
"""The most calibration runs: each is a process of a few seconds here, so 1000 take hours (a larger --runs, accepted
up to any integer, looked like a hang)."""


def run_count(text: str) -> int:
    """argparse type for ``--runs``: at least 2, as every rate compares two different runs; at most
    :data:`MAX_RUNS`."""
    runs = at_least(2, "the false-alarm and detection rates compare two different runs")(text)
    if runs > MAX_RUNS:
        raise argparse.ArgumentTypeError(f"must be an integer from 2 to {MAX_RUNS} (each takes seconds), got {runs}")
    return runs


def calibrate_command(args: argparse.Namespace, extra: list[str]) -> int:
    from bench.gate.calibrate import calibrate

    with writing_below(args.out, "the calibration"):
        calibrate(
            Path(args.out),
            runs=args.runs,
            model=args.model,
            percent=args.percent,
            threads=args.threads,
            batch_sizes=args.batch_sizes,
            min_time_s=args.min_time_s,
            pool=args.pool,
            reuse=args.reuse,
        )
    print(f"written: {Path(args.out) / 'calibration.md'}, {Path(args.out) / 'calibration.json'}")
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "calibrate",
        help="measure the gate's false-alarm rate (A/A) and detection rate (injected slowdown) on this machine",
    )
    add_out_option(parser, "folder for runs and the report", "calibration")
    parser.add_argument(
        "--runs", type=run_count, default=30, help=f"separate runs of the suite, 2 to {MAX_RUNS} (default: 30)"
    )
    parser.add_argument(
        "--model",
        type=model_name,
        default="dlrm-tiny",
        help="the model timed (default: dlrm-tiny, whose sparse lookups are the noisiest workload measured here; "
        "calibrate the model family your gate guards)",
    )
    parser.add_argument(
        "--percent", type=number_type(0, 1000), default=10.0, help="injected slowdown in percent (default: 10)"
    )
    parser.add_argument("--threads", type=positive_int, nargs="+", default=[1], help="CPU thread counts (default: 1)")
    parser.add_argument(
        "--batch-sizes", type=positive_int, nargs="+", default=[1, 64], help="batch sizes (default: 1 64)"
    )
    parser.add_argument(
        "--min-time-s", type=number_type(0, 3600), default=0.5, help="latency pass length per case (default: 0.5)"
    )
    parser.add_argument(
        "--pool",
        type=bounded_int(1, MAX_POOL),
        default=1000,
        help=f"pooled comparisons per case, 1 to {MAX_POOL} (default: 1000; each 1000 take about a minute here)",
    )
    parser.add_argument("--reuse", action="store_true", help="re-evaluate the runs already in --out/runs")
    parser.set_defaults(func=calibrate_command)

"""``bench results [RUN]``: list runs, or show one run's table."""

from __future__ import annotations

import argparse
import warnings

from bench.commands import add_results_option, one_line_cells
from bench.errors import counted, one_line_text

SHOWN = [
    "case_id",
    "status",
    "latency_p50_ms",
    "latency_p99_ms",
    "throughput_items_per_s",
    "unstable",
    "model_size_bytes",
    "peak_rss_mb",
    "accuracy",
    "energy_j_per_item",
    "energy_source",
    "error",
]


def results(args: argparse.Namespace, extra: list[str]) -> int:
    import pandas as pd

    from bench import results as store

    if args.run is None:
        runs = store.list_runs(args.results)
        if runs.empty:
            print(f"no runs under {args.results}/ yet (bench run suites/quick.yaml)")
            return 0
        print(one_line_cells(runs.drop(columns=["damage", "empty"])).to_string(index=False))
        for run in runs[runs["damage"] != ""].itertuples():
            read = run.ok + run.failed + run.skipped
            print(one_line_text(f"damaged: {run.run_id}: {read} records read; not read: {run.damage}"))
        for run in runs[runs["empty"] != ""].itertuples():
            print(one_line_text(f"empty: {run.run_id}: {run.empty}"))
        return 0
    with warnings.catch_warnings():  # shown below, with what was read; records of a newer bench are no damage
        warnings.simplefilter("ignore", store.ResultsWarning)
        warnings.simplefilter("default", store.NewerSchemaWarning)
        opened = store.open_run(args.run, args.results)  # its meta.json read once, for every file of it
        frame = store.load(opened)
    meta = opened.meta
    print(f"run {meta['run_id']} ({meta.get('status')}), {counted(len(frame), 'case')}")
    if meta.get("empty"):
        print(f"empty: {meta['empty']}")
    if meta.get("status") == "running":  # on another host, how long it has been quiet: it may have been killed there
        print(f"still running{store.running_who(meta)}")
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.max_colwidth", 60):
        print(one_line_cells(frame[[c for c in SHOWN if c in frame.columns]]).to_string(index=False))
    for problem in store.run_damage(opened):
        print(f"not read: {problem}")
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser("results", help="list runs, or show one run")
    parser.add_argument("run", nargs="?", help="run id, unique prefix, path or 'latest'")
    add_results_option(parser)
    parser.set_defaults(func=results)

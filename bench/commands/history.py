"""``bench history SUITE``: the runs of a suite in time order, trend charts per metric, detected change points."""

from __future__ import annotations

import argparse

from bench.commands import add_results_option, one_line_cells
from bench.commands._args import add_out_option, number_type, positive_int, probability


def history_command(args: argparse.Namespace, extra: list[str]) -> int:
    import pandas as pd

    from bench.errors import BenchError
    from bench.gate import history

    runs = history.index_runs(args.results, args.suite)
    if args.last:
        runs = runs[-args.last :]
    if not runs:
        known = sorted({s for r in history.index_runs(args.results) for s in r.suites})
        raise BenchError(
            f"no runs of suite '{args.suite}' under {args.results}/; suites with runs: {', '.join(known) or 'none'}"
        )
    frame = history.history_frame(runs, args.suite)
    by_run = frame.groupby("run_order")  # once, not a scan of every row per run (thousands of runs)
    counts = by_run.size()
    medians = by_run["latency_p50_ms"].median() if "latency_p50_ms" in frame.columns else pd.Series(dtype=float)
    table = pd.DataFrame(
        [
            {
                "run_id": r.run_id,
                "started_at": r.started_at,
                "commit": r.commit,
                "machine": r.machine,
                "status": r.status,
                "cases_ok": int(counts.get(order, 0)),
                "latency_p50_ms_median": _rounded(medians.get(order)),
            }
            for order, r in enumerate(runs)
        ]
    )
    print(f"suite {args.suite}: {len(runs)} runs, oldest first")
    print(one_line_cells(table).to_string(index=False))
    metrics = args.metric or list(history.TREND_METRICS)
    paths, steps = history.plot_trends(
        frame,
        args.suite,
        args.out,
        metrics,
        alpha=args.alpha,
        min_change=args.min_change,
        min_size=args.min_size,
        window=args.window,
    )
    if steps:
        print("\nchange points (Mann-Whitney U between the runs just before and just after):")
        for s in steps:
            print(
                f"  {s['metric']:24} {s['case_id']}: {s['before']:.4g} -> {s['after']:.4g} ({s['change']:+.1%}) "
                f"from run {s['run_id']} (commit {s['commit'] or '?'}), p={s['p_value']:.2g}"
            )
    else:
        print(f"\nno change points (needs >= {2 * args.min_size} runs and a step > {args.min_change:.0%})")
    for path in paths:
        print(f"trend: {path}")
    drawn = {path.name for path in paths}
    for metric in dict.fromkeys(args.metric or ()):  # asked for by name: say why it has no chart rather than nothing
        if f"{args.suite}-{metric}.png" not in drawn:
            print(f"no trend of {metric}: not measured in any ok case of these runs")
    return 0


def _rounded(value) -> float | None:
    """A run's median to 4 decimals; None where it has no figure."""
    return None if value is None or value != value else round(float(value), 4)


def _metric(text: str) -> str:
    """argparse type: a numeric column of the metric table."""
    from bench import metrics
    from bench.errors import did_you_mean

    known = [m.name for m in metrics.recorded() if m.type in (float, int)]
    if text not in known:
        raise argparse.ArgumentTypeError(
            f"unknown metric {text!r}.{did_you_mean(text, known)} Allowed: {', '.join(known)}"
        )
    return text


def register(subparsers) -> None:
    parser = subparsers.add_parser("history", help="runs of a suite over time, trend PNGs, change points")
    parser.add_argument("suite", help="suite name (e.g. ecommerce-quick)")
    add_results_option(parser)
    add_out_option(parser, "folder for the PNGs", "history")
    parser.add_argument(
        "--metric", type=_metric, action="append", help="metric to chart (repeatable; default: the main ones)"
    )
    parser.add_argument("--last", type=positive_int, metavar="N", help="only the last N runs")
    parser.add_argument("--alpha", type=probability, default=0.05, help="change point test level (default: 0.05)")
    parser.add_argument(
        "--min-change",
        type=number_type(0, 100, strict=False),
        default=0.05,
        help="smallest relative step (default: 0.05)",
    )
    parser.add_argument(
        "--min-size", type=positive_int, default=4, help="fewest runs on each side of a step (default: 4)"
    )
    parser.add_argument(
        "--window", type=positive_int, default=6, help="runs compared on each side of a point (default: 6)"
    )
    parser.set_defaults(func=history_command)

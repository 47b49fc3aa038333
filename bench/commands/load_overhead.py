"""``bench load-overhead``: what the LoadGen system under test adds per query, and the highest rate it sustains.

On the no-op model (``torch.nn.Identity`` on one value), so every microsecond is the harness's:

1. **direct**: the call in a bare ``perf_counter_ns`` loop;
2. **LoadGen inline**: LoadGen SingleStream with a SUT that calls and completes inside the issue callback (LoadGen's
   own floor: its issue thread, the Python callback, the completion);
3. **bench SUT**: LoadGen SingleStream and Server (at a low rate) through :class:`bench.measure.sut.BatchingSUT`
   (the queue, the worker's wake-up, the completion from the worker thread).

The SUT's added latency is (3) minus (1) at the same percentile; (3) minus (2) is the queue-and-worker design alone.
Then the Server peak search on no-op, batching off and on, gives the highest rate the SUT sustains at the SLO.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from bench.commands._args import bounded_int, folder, number_type
from bench.errors import BenchError


def _percentiles_us(samples_ns: list[int]) -> tuple[float, float]:
    import numpy as np

    p50, p99 = np.percentile(np.asarray(samples_ns, dtype=float), [50, 99])
    return p50 / 1e3, p99 / 1e3


def _inline(call, settings, log_dir: Path):
    """A LoadGen run against a SUT that serves each query inside the issue callback (no queue, no worker)."""
    from bench.measure.sut import loadgen, read_logs

    lg = loadgen()

    def issue(samples):
        call()
        lg.QuerySamplesComplete([lg.QuerySampleResponse(s.id, 0, 0) for s in samples])

    log_dir.mkdir(parents=True, exist_ok=True)
    log_settings = lg.LogSettings()
    log_settings.log_output.outdir = str(log_dir)
    sut = lg.ConstructSUT(issue, lambda: None)
    qsl = lg.ConstructQSL(1024, 1024, lambda s: None, lambda s: None)
    try:
        lg.StartTestWithLogSettings(sut, qsl, settings, log_settings, str(log_dir / "no-audit.config"))
    finally:
        lg.DestroyQSL(qsl)
        lg.DestroySUT(sut)
    return read_logs(log_dir)


def load_overhead(args: argparse.Namespace, extra: list[str]) -> int:
    import torch

    from bench.commands.overhead import bare_loop_ns
    from bench.measure.load import LoadSpec, Runner, fastest_rate, find_peak, slowest_rate
    from bench.measure.sut import BatchingSUT

    spec = LoadSpec(slo_p99_ms=args.slo_ms, min_duration_s=args.seconds, min_queries=1000)
    lowest, highest = slowest_rate(spec.min_queries, args.seconds), fastest_rate(args.seconds)
    for option, rate in (("--low-qps", args.low_qps), ("--start-qps", args.start_qps)):
        if not lowest <= rate <= highest:  # LoadGen would issue 1000 queries for hours, or run out of memory
            raise BenchError(
                f"{option} {rate:g}: with --seconds {args.seconds:g} it must be from {lowest:.4g} "
                f"(1000 queries in 8 x --seconds) to {highest:.4g} QPS (what one LoadGen run may hold in memory)"
            )

    module, inputs = torch.nn.Identity().eval(), (torch.zeros(1, 1),)

    def call_for(requests: int):
        batch = (torch.zeros(requests, 1),)
        return lambda: module(*batch)

    folder = Path(args.logs or tempfile.mkdtemp(prefix="bench-load-overhead-"))
    with torch.inference_mode():
        direct = _percentiles_us(bare_loop_ns(lambda: module(*inputs), 50_000))
    with BatchingSUT(call_for, 1, 0.0, torch.inference_mode) as sut:
        runner = Runner(sut, spec, folder / "sut", capacity_qps=50_000)
        single = runner.single_stream(50_000)
        low = runner.server(args.low_qps)
        settings = runner.settings("single-stream"), runner.server_settings(args.low_qps)
    inline = _inline(call_for(1), settings[0], folder / "inline-single-stream")
    inline_low = _inline(call_for(1), settings[1], folder / "inline-server")
    rows = [
        ("direct call (bare loop)", *direct),
        ("LoadGen SingleStream, inline SUT", inline.p50_ms * 1e3, inline.p99_ms * 1e3),
        ("LoadGen SingleStream, bench SUT", single.p50_ms * 1e3, single.p99_ms * 1e3),
        (f"LoadGen Server {args.low_qps:g} QPS, inline SUT", inline_low.p50_ms * 1e3, inline_low.p99_ms * 1e3),
        (f"LoadGen Server {args.low_qps:g} QPS, bench SUT", low.p50_ms * 1e3, low.p99_ms * 1e3),
    ]
    print(f"{'per query':44s} {'p50 (us)':>10s} {'p99 (us)':>10s}")
    for name, p50, p99 in rows:
        print(f"{name:44s} {p50:10.1f} {p99:10.1f}")
    print(f"added by the bench SUT at p99 (SingleStream - direct): {rows[2][2] - direct[1]:8.1f} us")
    print(f"added by the queue and worker alone (bench - inline):  {rows[2][2] - rows[1][2]:8.1f} us")
    print(
        f"added by the queue and worker at p99 in Server {args.low_qps:g} QPS (bench - inline): "
        f"{rows[4][2] - rows[3][2]:8.1f} us"
    )
    for max_batch, wait in ((1, 0.0), (args.max_batch, args.max_wait_ms)):
        started = time.perf_counter()
        with BatchingSUT(call_for, max_batch, wait, torch.inference_mode) as sut:
            runner = Runner(sut, spec, folder / f"peak-batch{max_batch}", capacity_qps=100_000 * max_batch)
            peak, runs = find_peak(runner.server, args.start_qps, 0.05, 12, max_qps=runner.max_qps)
        label = "batching off" if max_batch == 1 else f"max_batch {max_batch}, max_wait_ms {wait:g}"
        figure = f"{peak.target_qps:,.0f} QPS (p99 {peak.p99_ms:.2f} ms, {peak.validity})" if peak else "none"
        print(
            f"highest Server rate with p99 <= {args.slo_ms:g} ms, {label}: {figure}; "
            f"{len(runs)} runs in {time.perf_counter() - started:.0f} s, mean batch "
            f"{statistics.mean(r.mean_batch or 1 for r in runs):.1f}"
        )
    print(f"LoadGen logs: {folder}")
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "load-overhead", help="what the LoadGen system under test adds per query, and the highest QPS it sustains"
    )
    parser.add_argument(
        "--seconds",
        type=number_type(0.001, 3600, strict=False),
        default=2.0,
        help="LoadGen min_duration per run (default 2)",
    )
    parser.add_argument(
        "--slo-ms", type=number_type(0, 3_600_000), default=10.0, help="p99 SLO of the peak search (default 10 ms)"
    )
    parser.add_argument(
        "--low-qps", type=number_type(0, 1e7), default=1000.0, help="the low Server rate (default 1000)"
    )
    parser.add_argument(
        "--start-qps", type=number_type(0, 1e9), default=20_000.0, help="where the peak search starts (default 20000)"
    )
    parser.add_argument(
        "--max-batch", type=bounded_int(1, 65_536), default=32, help="batching for the second peak search (default 32)"
    )
    parser.add_argument(
        "--max-wait-ms",
        type=number_type(0, 60_000, strict=False),
        default=0.5,
        help="batching wait for the second peak search (default 0.5 ms)",
    )
    parser.add_argument(
        "--logs", type=folder, default=None, help="folder for the LoadGen logs (default: a temporary folder)"
    )
    parser.set_defaults(func=load_overhead)

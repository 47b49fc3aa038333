"""``bench load-overhead``: what the LoadGen system under test adds per query, and the highest rate it sustains.

On the no-op model (``torch.nn.Identity`` on one value), so every microsecond is the harness's:

1. **direct**: the call in a bare ``perf_counter_ns`` loop;
2. **LoadGen inline**: LoadGen SingleStream with a SUT that calls and completes inside the issue callback (LoadGen's
   own floor: its issue thread, the Python callback, the completion);
3. **bench SUT**: LoadGen SingleStream and Server (at a low rate) through :class:`bench.measure.sut.BatchingSUT`
   (the queue, the worker's wake-up, the completion from the worker thread).

The SUT's added latency is (3) minus (1) at the same percentile; (3) minus (2) is the queue-and-worker design alone.
Then the Server peak search on no-op, batching off and on, gives the highest rate the SUT sustains at the SLO. With
``--max-batch 1`` (batching off) only the first search is made, and a line says so.

The whole command takes at most ``--max-time-s`` (default: 10 x ``--seconds`` for each of the 28 runs it may make, 16
with ``--max-batch 1``), with the semantics of a suite's ``load.max_time_s``: no LoadGen run starts with less than
``--seconds`` left, each is given LoadGen's ``max_duration_ms`` = the time left, and what was measured before the limit
is printed, with a line saying where it stopped; a peak from a search it cut short is printed as "at least". An
inline run that has not returned :data:`INLINE_GRACE_S` after its own ``max_duration_ms`` is given up on (it serves a
no-op: LoadGen waits for completions that never came), and no other run starts. Whenever what it printed is not the
whole measurement (the time ran out, a run was given up on, or a peak search stopped before it was done: its peak only
a lower bound), it exits :data:`CUT_SHORT` (3), not 0.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from bench.checks import short
from bench.commands._args import bounded_int, folder, number_type
from bench.errors import BenchError, os_reason, short_name


def _percentiles_us(samples_ns: list[int]) -> tuple[float, float]:
    import numpy as np

    p50, p99 = np.percentile(np.asarray(samples_ns, dtype=float), [50, 99])
    return p50 / 1e3, p99 / 1e3


INLINE_GRACE_S = 60.0
"""How long an inline run may go on past its own ``max_duration_ms`` before it is given up on as hung: it serves a
no-op inside the issue callback, so LoadGen has nothing left to wait for once it stops issuing."""


def _inline(call, settings, log_dir: Path):
    """A LoadGen run against a SUT that serves each query inside the issue callback (no queue, no worker)."""
    from bench.measure.sut import loadgen, read_logs, run_log_settings, start_test

    lg = loadgen()

    def issue(samples):
        call()
        lg.QuerySamplesComplete([lg.QuerySampleResponse(s.id, 0, 0) for s in samples])

    log_settings = run_log_settings(log_dir)  # as bench's SUT logs: a trace of each query would cost this one alone
    sut = lg.ConstructSUT(issue, lambda: None)
    qsl = lg.ConstructQSL(1024, 1024, lambda s: None, lambda s: None)
    stopped: list[BaseException] = []  # a Ctrl-C: the run ends on its own within --seconds, then it is raised
    limit_s = settings.max_duration_ms / 1000 + INLINE_GRACE_S
    start_test(lg, sut, qsl, settings, log_settings, log_dir, stopped.append, limit_s=limit_s)
    if stopped:
        raise stopped[0]
    return read_logs(log_dir)


CUT_SHORT = 3
"""The exit status when the figures printed are not the whole measurement: ``--max-time-s`` ran out (a LoadGen run
stopped early, or runs never made) or a peak search stopped before it was done (its peak only a lower bound). As
``bench gate``'s and ``bench report``'s 3: the figures are printed, and a script must not take them for complete."""

SEARCH_RUNS = 12
"""The most Server runs one peak search makes."""

DEFAULT_WAIT_MS = 0.5
"""``--max-wait-ms`` when it is not given: the batched peak search's wait."""


def overhead_runs(searches: int) -> int:
    """The LoadGen runs ``bench load-overhead`` may make: SingleStream and Server at the low rate, each through bench's
    SUT and inline, then ``searches`` peak searches (two; one with ``--max-batch 1``) of at most :data:`SEARCH_RUNS`
    runs each (one more SingleStream run if the first is too short counts in the allowance)."""
    return 4 + searches * SEARCH_RUNS


def time_limit_s(seconds: float, max_time_s: float | None, searches: int = 2) -> float:
    """``--max-time-s``, or as for a suite's ``load.max_time_s``: ``RUN_ALLOWANCE`` x ``--seconds`` for every run the
    command may make (:func:`overhead_runs`), at most a week."""
    from bench.measure.load import MAX_TIME_S, RUN_ALLOWANCE

    if max_time_s is not None:
        return max_time_s
    return min(MAX_TIME_S, RUN_ALLOWANCE * seconds * overhead_runs(searches))


def load_overhead(args: argparse.Namespace, extra: list[str]) -> int:
    import torch

    from bench.commands.overhead import bare_loop_ns
    from bench.measure.load import (
        SEARCH_CUTS,
        LoadSpec,
        Runner,
        TimeLimit,
        fastest_rate,
        find_peak,
        search_cut,
        slo_too_long,
        slowest_rate,
    )
    from bench.measure.sut import BatchingSUT, LoadgenHung

    too_long = slo_too_long(args.slo_ms, args.seconds, "--seconds", "--slo-ms", "the highest Server rate")
    if too_long:  # as a suite's slo.p99_ms is refused beside its min_duration_s
        raise BenchError(f"--slo-ms {args.slo_ms:g}: {too_long}")
    spec = LoadSpec(slo_p99_ms=args.slo_ms, min_duration_s=args.seconds, min_queries=1000)
    lowest, highest = slowest_rate(spec.min_queries, args.seconds), fastest_rate(args.seconds)
    for option, rate in (("--low-qps", args.low_qps), ("--start-qps", args.start_qps)):
        if not lowest <= rate <= highest:  # LoadGen would issue 1000 queries for hours, or run out of memory
            raise BenchError(
                f"{option} {rate:g}: with --seconds {args.seconds:g} it must be from {lowest:.4g} "
                f"(1000 queries in 8 x --seconds) to {highest:.4g} QPS (what one LoadGen run may hold in memory)"
            )
    max_time_s = getattr(args, "max_time_s", None)
    if max_time_s is not None and max_time_s < args.seconds:
        raise BenchError(
            f"--max-time-s {max_time_s:g}: leaves no LoadGen run of --seconds {args.seconds:g}; must be >= "
            f"{args.seconds:g} (or lower --seconds)"
        )
    wait_ms = _batching_wait_ms(args.max_batch, args.max_wait_ms, args.slo_ms)
    searches = [(1, 0.0)] + ([(args.max_batch, wait_ms)] if args.max_batch > 1 else [])  # --max-batch 1: one search
    limit_s = time_limit_s(args.seconds, max_time_s, len(searches))
    deadline = time.monotonic() + limit_s  # as a suite's load.max_time_s: no run starts with less than --seconds left

    module, inputs = torch.nn.Identity().eval(), (torch.zeros(1, 1),)

    def call_for(requests: int):
        batch = (torch.zeros(requests, 1),)
        return lambda: module(*batch)

    folder = _log_folder(args.logs)
    with torch.inference_mode():
        direct = _percentiles_us(bare_loop_ns(lambda: module(*inputs), 50_000))
    rows = [("direct call (bare loop)", *direct)]
    runs = {}  # name -> LoadgenRun, in the order measured
    low_name = f"Server {args.low_qps:g} QPS"
    runner, hung = None, None
    try:
        with BatchingSUT(call_for, 1, 0.0, torch.inference_mode) as sut:
            runner = Runner(sut, spec, folder / "sut", capacity_qps=50_000, deadline=deadline)
            runs["SingleStream, bench SUT"] = runner.single_stream(50_000)
            runs[f"{low_name}, bench SUT"] = runner.server(args.low_qps)
        settings = runner.settings("single-stream", "the inline SingleStream run")
        runs["SingleStream, inline SUT"] = _inline(call_for(1), settings, folder / "inline-single-stream")
        settings = runner.server_settings(args.low_qps)
        runs[f"{low_name}, inline SUT"] = _inline(call_for(1), settings, folder / "inline-server")
    except TimeLimit:
        pass  # what was measured is printed; the line below says where the time ran out
    except LoadgenHung as err:
        hung = str(err)  # LoadGen is left running: no other run may start in this process
    order = ["SingleStream, inline SUT", "SingleStream, bench SUT", f"{low_name}, inline SUT", f"{low_name}, bench SUT"]
    rows += [(f"LoadGen {name}", runs[name].p50_ms * 1e3, runs[name].p99_ms * 1e3) for name in order if name in runs]
    print(f"{'per query':44s} {'p50 (us)':>10s} {'p99 (us)':>10s}")
    for name, p50, p99 in rows:
        print(f"{name:44s} {p50:10.1f} {p99:10.1f}")
    p99 = {name: run.p99_ms * 1e3 for name, run in runs.items()}
    if "SingleStream, bench SUT" in p99:
        added = p99["SingleStream, bench SUT"] - direct[1]
        print(f"added by the bench SUT at p99 (SingleStream - direct): {added:8.1f} us")
    if "SingleStream, inline SUT" in p99:
        added = p99["SingleStream, bench SUT"] - p99["SingleStream, inline SUT"]
        print(f"added by the queue and worker alone (bench - inline):  {added:8.1f} us")
    if f"{low_name}, inline SUT" in p99:
        added = p99[f"{low_name}, bench SUT"] - p99[f"{low_name}, inline SUT"]
        print(f"added by the queue and worker at p99 in {low_name} (bench - inline): {added:8.1f} us")
    cut_text = {
        SEARCH_CUTS[0]: "--max-time-s ran out",
        SEARCH_CUTS[1]: f"{SEARCH_RUNS} runs were made",
        SEARCH_CUTS[2]: "rate cap",
    }
    not_run, cut_short = [], False
    for max_batch, wait in searches:
        label = "batching off" if max_batch == 1 else f"max_batch {max_batch}, max_wait_ms {wait:g}"
        if hung or runner is None or runner.out_of_time(f"the peak search with {label}"):
            not_run.append(f"the peak search with {label}")
            continue
        started = time.perf_counter()
        with BatchingSUT(call_for, max_batch, wait, torch.inference_mode) as sut:
            runner = Runner(
                sut, spec, folder / f"peak-batch{max_batch}", capacity_qps=100_000 * max_batch, deadline=deadline
            )
            made = []

            def run_at(qps, runner=runner, made=made):
                made.append(runner.server(qps))
                return made[-1]

            def stop(runner=runner, made=made, label=label):
                return runner.out_of_time(f"Server run {len(made) + 1} of at most {SEARCH_RUNS} ({label})")

            peak, searched = find_peak(run_at, args.start_qps, 0.05, SEARCH_RUNS, max_qps=runner.max_qps, stop=stop)
        figure = f"{peak.target_qps:,.0f} QPS (p99 {peak.p99_ms:.2f} ms, {peak.validity})" if peak else "none"
        cut = search_cut(runner, spec, peak, searched, args.start_qps / 16) if searched else SEARCH_CUTS[0]
        if cut:
            cut_short = True
            figure += (
                f", {'at least' if peak else 'not measured'}: the search stopped before it was done ({cut_text[cut]})"
            )
        batch = f"{statistics.mean(r.mean_batch or 1 for r in searched):.1f}" if searched else "-"
        print(
            f"highest Server rate with p99 <= {args.slo_ms:g} ms, {label}: {figure}; "
            f"{len(searched)} runs in {time.perf_counter() - started:.0f} s, mean batch {batch}"
        )
    if len(searches) == 1:
        print("no batched peak search: --max-batch 1 turns batching off; the search with batching off is the only one")
    if hung:
        print(f"not measured: {hung}; not run: {', '.join(not_run)}")
        print(f"LoadGen logs: {folder}")
        return CUT_SHORT
    where = runner.ran_out() if runner is not None else None  # as a suite's load pass says it
    if where or not_run:
        cut_short = True
        where = where or "during the last run"
        skipped = f"; not run: {', '.join(not_run)}" if not_run else ""
        print(f"--max-time-s {limit_s:g} s ran out {where}{skipped}; what ran before it is shown above")
    print(f"LoadGen logs: {folder}")
    return CUT_SHORT if cut_short else 0


def _log_folder(logs: str | None) -> Path:
    """The folder for the LoadGen logs, ``--logs`` or a new temporary folder, made before anything is measured: one
    that cannot be made or written in (a read-only or virtual file system) is one line naming it."""
    try:
        folder = Path(logs) if logs else Path(tempfile.mkdtemp(prefix="bench-load-overhead-"))
        (folder / "sut").mkdir(parents=True, exist_ok=True)  # the first run's, made as the first run would
    except OSError as err:
        named = f"--logs {short_name(logs)!r}" if logs else "a temporary folder (give --logs)"
        where = f" ({short(err.filename)})" if isinstance(err.filename, str) else ""
        raise BenchError(f"{named}: cannot write the LoadGen logs: {os_reason(err)}{where}") from None
    return folder


def _batching_wait_ms(max_batch: int, max_wait_ms: float | None, slo_ms: float) -> float:
    """The batched search's ``--max-wait-ms`` (:data:`DEFAULT_WAIT_MS` when not given; none with ``--max-batch 1``,
    which makes no batched search), refused by the rule a suite's ``batching.max_wait_ms`` is refused by
    (:func:`bench.measure.load.wait_problem`): given with ``--max-batch 1``, or not below ``--slo-ms``."""
    from bench.measure.load import wait_problem

    wait_ms = max_wait_ms
    if wait_ms is None:  # the batched search's default; none where no batched search is made
        wait_ms = 0.0 if max_batch == 1 else DEFAULT_WAIT_MS
    problem = wait_problem(max_batch, wait_ms, slo_ms, "--max-batch", "--max-wait-ms", "--slo-ms")
    if problem:
        given = f"--max-wait-ms {wait_ms:g}" if max_wait_ms is not None else f"the default --max-wait-ms {wait_ms:g}"
        raise BenchError(f"{given}: {problem}")
    return wait_ms


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "load-overhead",
        help="what the LoadGen system under test adds per query, and the highest QPS it sustains",
        description="Measure on the no-op model what the LoadGen system under test adds per query (a direct call, "
        "LoadGen with an inline SUT, bench's SUT), then the highest Server rate it sustains at --slo-ms, batching off "
        "and on (with --max-batch 1: batching off only, one peak search).",
        epilog=f"Exit codes: 0 every figure measured; 2 a bad option, or LoadGen not installed; {CUT_SHORT} cut short: "
        "--max-time-s ran out (a line says before what, and what was not run), an inline LoadGen run never returned "
        "(a line says so), or a peak search stopped before it was done (its peak reads 'at least'): the figures "
        "printed are partial or lower bounds.",
    )
    parser.add_argument(
        "--seconds",
        type=number_type(0.001, 3600, strict=False),
        default=2.0,
        help="LoadGen min_duration per run (default 2)",
    )
    parser.add_argument(
        "--slo-ms",
        type=number_type(0, 3_600_000),
        default=10.0,
        help="p99 SLO of the peak search, at most 10%% of --seconds as a suite's slo.p99_ms is of its min_duration_s "
        "(default 10 ms)",
    )
    parser.add_argument(
        "--low-qps", type=number_type(0, 1e7), default=1000.0, help="the low Server rate (default 1000)"
    )
    parser.add_argument(
        "--start-qps", type=number_type(0, 1e9), default=20_000.0, help="where the peak search starts (default 20000)"
    )
    parser.add_argument(
        "--max-batch",
        type=bounded_int(1, 65_536),
        default=32,
        help="batching for the second peak search; 1: batching off, no second search (default 32)",
    )
    parser.add_argument(
        "--max-wait-ms",
        type=number_type(0, 60_000, strict=False),
        default=None,
        help=f"batching wait for the second peak search, below --slo-ms; not with --max-batch 1 (default "
        f"{DEFAULT_WAIT_MS:g} ms)",
    )
    parser.add_argument(
        "--max-time-s",
        type=number_type(0, 7 * 24 * 3600),
        default=None,
        help="the longest the whole command may take, as a suite's load.max_time_s: no LoadGen run starts with less "
        "than --seconds left, and each stops issuing queries when it runs out (default: 10 x --seconds per run it may "
        "make, 28 runs, 16 with --max-batch 1)",
    )
    parser.add_argument(
        "--logs", type=folder, default=None, help="folder for the LoadGen logs (default: a temporary folder)"
    )
    parser.set_defaults(func=load_overhead)

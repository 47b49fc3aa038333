"""Does interleaving two processes in lockstep cancel this machine's run-to-run noise?

The regression gate's ``--rerun N`` alternates whole runs of the baseline code and the current code (A B, B A, ...).
On a shared VM the same code's p50 still moves 12-30% from one process to the next (docs/gates.md, Calibration).
If that wander were the machine's (a neighbour's load, the host's clock), two processes timed in turns of a few
milliseconds would see it together, and the ratio of their figures would be steady. If it is each process's own
(its memory layout, the core it runs on), the ratio wanders as much as the figures do.

This script times ``dlrm-tiny`` (1 thread) in two processes of the *same* code, in one of two ways:

* ``seq``: A for ``--seconds``, then B for ``--seconds`` (what ``--rerun`` does, at the scale of one case);
* ``lockstep``: turns of ``--block-ms`` each, A B, B A, A B, ... until each side has had ``--seconds``.

and prints, over ``--pairs`` process pairs, the spread of the ratio B/A of their p50s (an A/A comparison: any spread
is noise), and for ``lockstep`` also the spread of the median of the per-turn ratios, which cancels whatever the
two processes share. Results of 2026-11-24 are in docs/gates.md. Run on a quiet machine:

    python benchmarks/noise/lockstep.py --mode lockstep --pairs 10 --seconds 2
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import statistics
import time


def _worker(conn, batch_size: int) -> None:
    import torch

    from bench.models.dlrm import build_dlrm_tiny

    torch.set_num_threads(1)
    bundle = build_dlrm_tiny(tables=8, rows=1000, embedding_dim=16, bag_size=2, seed=0)
    model, inputs, clock = bundle.module, bundle.make_inputs(batch_size), time.perf_counter
    with torch.inference_mode():
        for _ in range(200):
            model(*inputs)
        conn.send("ready")
        while (seconds := conn.recv()) is not None:
            times, end = [], clock() + seconds
            while True:
                start = clock()
                model(*inputs)
                stop = clock()
                times.append(stop - start)
                if stop >= end:
                    break
            conn.send(times)


def one_pair(batch_size: int, mode: str, seconds: float, block_s: float) -> tuple[float, float | None]:
    """log(p50 B / p50 A) over all calls, and (lockstep) the log of the median per-turn ratio."""
    ends = [mp.Pipe() for _ in range(2)]
    procs = [mp.Process(target=_worker, args=(child, batch_size)) for _, child in ends]
    for proc in procs:
        proc.start()
    a, b = (parent for parent, _ in ends)
    a.recv(), b.recv()
    times = {a: [], b: []}
    turn_ratios = []
    if mode == "lockstep":
        for turn in range(max(1, round(seconds / block_s))):
            got = {}
            for side in (a, b) if turn % 2 == 0 else (b, a):
                side.send(block_s)
                got[side] = side.recv()
                times[side] += got[side]
            turn_ratios.append(statistics.median(got[b]) / statistics.median(got[a]))
    else:
        for side in (a, b):
            side.send(seconds)
            times[side] = side.recv()
    for side in (a, b):
        side.send(None)
    for proc in procs:
        proc.join()
    pooled = math.log(statistics.median(times[b]) / statistics.median(times[a]))
    return pooled, (math.log(statistics.median(turn_ratios)) if turn_ratios else None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=("seq", "lockstep"), default="lockstep")
    parser.add_argument("--pairs", type=int, default=10, help="process pairs (default 10)")
    parser.add_argument("--seconds", type=float, default=2.0, help="timed seconds per side (default 2)")
    parser.add_argument("--block-ms", type=float, default=20.0, help="lockstep turn length (default 20 ms)")
    parser.add_argument("--batch-size", type=int, default=1)
    args = parser.parse_args()
    mp.set_start_method("spawn")
    rows = [one_pair(args.batch_size, args.mode, args.seconds, args.block_ms / 1000) for _ in range(args.pairs)]
    pooled = [row[0] for row in rows]
    print(
        f"{args.mode}, batch {args.batch_size}, {args.pairs} pairs: sd of log(p50 B / p50 A) "
        f"{100 * statistics.stdev(pooled):.1f}%, largest {100 * max(map(abs, pooled)):.1f}%"
    )
    if args.mode == "lockstep":
        turns = [row[1] for row in rows]
        print(
            f"  median of per-turn ratios: sd {100 * statistics.stdev(turns):.1f}%, "
            f"largest {100 * max(map(abs, turns)):.1f}%"
        )


if __name__ == "__main__":
    main()

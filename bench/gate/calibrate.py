"""Calibrate the regression gate on this machine: its false-alarm rate and its detection rate.

1. **True re-runs.** ``R`` separate ``bench run`` processes of a small suite (``dlrm-tiny`` at batch 1 and 64,
   each with the ``eager`` engine and the ``slowdown`` engine that adds ``percent``% per call). Every run is a new
   process, so process-level noise (memory layout, thread placement, a neighbour's load) is in the data.
2. **A/A (false alarms).** For every ordered pair of different runs ``(i, j)``, the eager case of run ``i`` is the
   baseline and the eager case of run ``j`` the candidate: same code twice. A "regressed" verdict is a false alarm.
3. **A/B (detection).** Eager of run ``i`` against slowdown of run ``j`` (``i != j``): a "regressed" verdict is a
   detection of the injected slowdown.
4. **Pool.** Many shorter comparisons: random contiguous halves of the raw samples of two different runs, which
   adds within-run variation to the run-to-run variation of step 2 and 3.

Every comparison is evaluated for a grid of test levels and effect thresholds (one comparison per case-metric,
so no multiple-comparison correction), for ``latency_p50_ms`` and ``throughput_items_per_s``. The report gives
each rate with a 95% Clopper-Pearson interval; pairs share runs, so the effective sample is the runs, not the pairs.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.durable import write_atomic
from bench.errors import BenchError, SuiteError, first_few, os_reason
from bench.gate.compare import set_aside_verdict, verdict_for
from bench.gate.rerun import run_to_its_end
from bench.gate.rules import DEFAULT_ALPHA, METRICS, Rule, parse_rule
from bench.gate.stats import RUN_NOISE, RunNoise, t95, timed_figures, undisturbed

SUITE = "gate-calibration"
CALIBRATED_METRICS = ("latency_p50_ms", "throughput_items_per_s")
TARGET_FALSE_ALARM = 0.01
TARGET_DETECTION = 0.95
RERUN_ROUNDS = 3
KINDS = ("aa_runs", "aa_pool", "aa_rerun", "ab_runs", "ab_pool", "ab_rerun")
KIND_TITLES = {
    "aa_runs": "A/A false alarms, one run a side",
    "aa_pool": "A/A false alarms, half-runs",
    "aa_rerun": f"A/A false alarms, {RERUN_ROUNDS} runs a side",
    "ab_runs": "detection, one run a side",
    "ab_pool": "detection, half-runs",
    "ab_rerun": f"detection, {RERUN_ROUNDS} runs a side",
}


def suite_yaml(
    percent: float, threads: Sequence[int], min_time_s: float, batch_sizes: Sequence[int], model: str = "dlrm-tiny"
) -> str:
    return (
        f"# Written by bench calibrate: eager against a {percent:g}% slowdown of itself.\n"
        f"suite: {SUITE}\n"
        f"models: [{model}]\n"
        "compression: [fp32]\n"
        f"engines: [eager, {{slowdown: {{percent: {float(percent)}}}}}]\n"
        f"hardware: {{cpu: {{threads: {list(threads)}}}}}\n"
        f"batch_sizes: {list(batch_sizes)}\n"
        # fixed-length windows (no precision target): every run of a case has the same number of samples
        f"measure: {{warmup_s: 0.2, min_time_s: {min_time_s}, min_rounds: 20, memory_s: 0.01, accuracy: false, "
        "precision: null}\n"
    )


def measure(
    out: Path, runs: int, percent: float, threads: Sequence[int], min_time_s: float, batch_sizes, model: str
) -> Path:
    """Run the calibration suite ``runs`` times, each in its own process; returns the results folder."""
    results = out / "runs"
    if results.is_dir() and any(results.iterdir()):  # its cal-000 was taken: the first run failed ("already exists")
        raise BenchError(
            f"{results} holds the runs of an earlier calibration: bench calibrate --reuse evaluates them again; to "
            "measure anew, remove that folder or give another --out"
        )
    made = not out.exists()
    suite = out / "gate-calibration.yaml"
    try:
        out.mkdir(parents=True, exist_ok=True)
        suite.write_text(suite_yaml(percent, threads, min_time_s, batch_sizes, model))
        check_suite(suite)
    except (BenchError, OSError):  # refused before any run: nothing of it is left behind (the suite, the --out made)
        with contextlib.suppress(OSError):
            suite.unlink(missing_ok=True)
        if made:
            with contextlib.suppress(OSError):
                out.rmdir()
        raise
    for r in range(runs):
        started = time.perf_counter()
        command = [sys.executable, "-m", "bench.cli", "run", str(suite), "--results", str(results)]
        command += ["--run-id", f"cal-{r:03d}", "-q", "-p", "no:cacheprovider"]
        done = run_to_its_end(command)
        if done.returncode != 0:  # its output first, then one line (was a RuntimeError's traceback)
            print(f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}".strip(), file=sys.stderr)
            raise BenchError(
                f"calibration run {r + 1}/{runs} failed (bench run exited {done.returncode}; its output is above)"
            )
        print(f"calibration run {r + 1}/{runs}: {time.perf_counter() - started:.1f} s", flush=True)
    return results


OPTION_OF_KEY = (
    ("hardware.cpu.threads", "--threads"),
    ("batch_sizes", "--batch-sizes"),
    ("models", "--model"),
    ("engines", "--percent"),
    ("measure", "--min-time-s"),
)
"""The ``bench calibrate`` option that sets each key of the suite it writes (:func:`suite_yaml`)."""


def check_suite(path: Path) -> None:
    """Validate the calibration suite before any run: a value the options passed but the suite refuses (``--threads
    1 1``, a batch size beyond memory) is one line naming the option, not a traceback after the first run failed."""
    from bench.suite import load_suite

    try:
        load_suite(path)
    except SuiteError as err:
        option = next((option for key, option in OPTION_OF_KEY if (err.key or "").startswith(key)), None)
        raise BenchError(f"{option}: {err.message}" if option else str(err)) from None


@dataclass
class CaseRuns:
    """Per run: the raw samples of the eager case (A) and of the slowed case (B) of one case family."""

    name: str
    batch_size: int
    eager: list[np.ndarray]
    slowed: list[np.ndarray]


def collect(results: Path) -> list[CaseRuns]:
    """The raw samples of every ok case of the runs under ``results``, by case family (eager and slowed). A case
    whose samples are missing (a damaged ``samples.jsonl``) is left out with a warning: there is nothing to compare."""
    from bench import results as store

    families: dict[str, CaseRuns] = {}
    missing: list[str] = []
    for path in store.run_dirs(results):
        frame = store.load(path)
        read = store.load_samples(path, arrays=True)  # arrays: 8 bytes a sample, not a list's 32
        samples = store.checked_samples(frame, read, path / "samples.jsonl")
        for row in frame[frame["status"] == "ok"].itertuples():
            key = f"{row.suite}::{row.case_id}"
            values = samples.get(key)
            if values is None or not len(values):  # by len: an array of several samples has no truth value
                missing.append(f"{path.name}/{key}")
                continue
            family = f"{row.model}[{row.compression}-cpu-{row.threads}t-bs{row.batch_size}]"
            item = families.setdefault(family, CaseRuns(family, int(row.batch_size), [], []))
            values = np.asarray(values, dtype=float)
            (item.slowed if row.engine.startswith("slowdown") else item.eager).append(values)
    if missing:
        warnings.warn(
            f"{results}: {len(missing)} case(s) without raw samples left out: {first_few(missing)}", stacklevel=2
        )
    return list(families.values())


def _comparisons(cases: list[CaseRuns], pool: int, rng: np.random.Generator) -> dict[str, list[dict[str, Any]]]:
    """p-value and change per metric for every A/A and A/B comparison (true pairs and pooled halves).

    Exactly what the gate computes for one case-metric: disturbed blocks dropped on each side, then the metric
    and the Mann-Whitney U test on what is left; ``p`` is ``None`` when the gate would say "not comparable".
    Comparisons of whole runs are also judged with a *calibrated* run noise (``{metric}_precision_calibrated``):
    the run-to-run deviation of the case's other runs, those the comparison does not use (:func:`held_out_noise`),
    as a user would set ``gates.run_noise`` and ``gates.run_noise_runs`` from an earlier ``bench calibrate``.
    """

    def one(case: CaseRuns, base, cur, used: Sequence[int] | None = None) -> dict[str, Any]:
        prior = held_out_noise(figures_of[case.name], used) if used is not None else None
        row: dict[str, Any] = {"case": case.name, "prior": prior}
        for metric in CALIBRATED_METRICS:
            figures = timed_figures(metric, base, cur, case.batch_size)
            rule = parse_rule(metric, METRICS[metric].default_rule)
            row["p"] = figures.p_value
            row[metric] = None if figures.reason else rule.change(figures.baseline, figures.current)
            row[f"{metric}_pairs"] = figures.pairs
            row[f"{metric}_precision"] = figures.precision.half_width if figures.precision else None
            if len(figures.pairs) >= 3:  # an inconclusive verdict may set one pair aside, as the gate's
                row[f"{metric}_set_aside"] = figures.set_aside
            if prior is not None:
                calibrated = figures.precision_at(prior)
                row[f"{metric}_precision_calibrated"] = calibrated.half_width if calibrated else None
        return row

    def half(values: np.ndarray) -> np.ndarray:
        size = len(values) // 2
        start = int(rng.integers(0, len(values) - size + 1))
        return values[start : start + size]

    figures_of = {case.name: run_figures(case.eager) for case in cases}
    out: dict[str, list[dict[str, Any]]] = {k: [] for k in KINDS}
    for case in cases:
        n = min(len(case.eager), len(case.slowed))
        for i, j in [(i, j) for i in range(n) for j in range(n) if i != j]:
            out["aa_runs"].append(one(case, case.eager[i], case.eager[j], (i, j)))
            out["ab_runs"].append(one(case, case.eager[i], case.slowed[j], (i, j)))
        for _ in range(pool if n > 1 else 0):
            i, j = rng.choice(n, size=2, replace=False)
            out["aa_pool"].append(one(case, half(case.eager[i]), half(case.eager[j])))
            i, j = rng.choice(n, size=2, replace=False)
            out["ab_pool"].append(one(case, half(case.eager[i]), half(case.slowed[j])))
        for _ in range(pool // 4 if n >= 2 * RERUN_ROUNDS else 0):  # as `bench gate --rerun 3`: 3 runs a side
            picked = rng.choice(n, size=2 * RERUN_ROUNDS, replace=False)
            a, b = picked[:RERUN_ROUNDS], picked[RERUN_ROUNDS:]
            used = [int(i) for i in picked]
            out["aa_rerun"].append(one(case, [case.eager[i] for i in a], [case.eager[i] for i in b], used))
            out["ab_rerun"].append(one(case, [case.eager[i] for i in a], [case.slowed[i] for i in b], used))
    return out


def run_figures(runs: Sequence[np.ndarray]) -> np.ndarray:
    """Each run's cleaned p50 (the gate's cleaning of disturbed blocks, then the median), in the runs' order: NaN
    for a run without samples, so that a run's index is its place in ``runs``."""
    return np.asarray(
        [float(np.median(undisturbed([run]).samples_ms)) if len(run) else math.nan for run in runs], dtype=float
    )


def held_out_noise(figures: np.ndarray, used: Sequence[int]) -> RunNoise | None:
    """The run noise a user would have calibrated without the runs a comparison uses: :func:`gate_noise` of the
    other runs' cleaned p50s, over that many runs. None with fewer than three runs left."""
    rest = np.delete(figures, [i for i in used if i < figures.size])
    rest = rest[np.isfinite(rest)]
    if rest.size < 3 or rest.mean() <= 0:
        return None
    return RunNoise(gate_noise(rest), int(rest.size))


def gate_noise(figures: np.ndarray) -> float:
    """The ``gates.run_noise`` these runs' cleaned p50s support: their relative standard deviation, or more where a
    heavy tail needs it. A machine whose runs are now and then twice as slow has a standard deviation that says
    19%, while one run a side would then call 3% of A/A pairs regressed; so the noise is at least what keeps the
    upper :data:`TARGET_FALSE_ALARM` of the runs' pairwise log-ratios inside the interval the gate draws with one
    run a side (Student's t at ``runs - 1`` degrees of freedom, times sqrt(2), beyond the default rule)."""
    figures = np.asarray(figures, dtype=float)
    figures = figures[np.isfinite(figures) & (figures > 0)]
    if figures.size < 2:
        return float("nan")
    sd = float(np.std(figures, ddof=1) / np.mean(figures))
    logs = np.log(figures)
    ratios = (logs[None, :] - logs[:, None])[~np.eye(logs.size, dtype=bool)]
    tail = float(np.quantile(ratios, 1.0 - TARGET_FALSE_ALARM, method="higher"))
    limit = math.log1p(parse_rule("latency_p50_ms", METRICS["latency_p50_ms"].default_rule).limit)
    needed = max(0.0, tail - limit) / (t95(figures.size - 1) * math.sqrt(2.0))
    return min(max(sd, needed), 0.99)


def run_noise(runs: Sequence[np.ndarray]) -> float:
    """One run's relative standard deviation of the p50 between runs of the same code, after the gate's cleaning of
    disturbed blocks: what ``gates.run_noise`` should be on this machine. NaN with fewer than two runs (the report
    says "n/a")."""
    figures = run_figures(runs)
    figures = figures[np.isfinite(figures)]
    return float(np.std(figures, ddof=1) / np.mean(figures)) if len(figures) >= 2 else float("nan")


def _rate(hits: int, total: int) -> dict[str, Any]:
    from scipy.stats import binomtest

    if total == 0:
        return {"hits": 0, "n": 0, "rate": None, "ci95": [None, None]}
    ci = binomtest(hits, total).proportion_ci(confidence_level=0.95, method="exact")
    return {"hits": hits, "n": total, "rate": hits / total, "ci95": [ci.low, ci.high]}


def _cells(
    items: list[dict[str, Any]], metric: str, alpha: float, threshold: float, calibrated: bool = False
) -> dict[str, Any]:
    """Rates of one metric at one test level and threshold, each comparison judged by :func:`bench.gate.verdict_for`
    itself; *inconclusive* counts only changes in the bad direction (what a false alarm or a detection would be).
    ``calibrated``: with the held-out calibrated run noise (comparisons without one, the half-runs, are left out)."""
    rule = Rule(metric, threshold, relative=True)
    key = f"{metric}_precision_calibrated" if calibrated else f"{metric}_precision"
    items = [c for c in items if key in c]
    comparable = [c for c in items if c[metric] is not None]
    verdicts = [(c, _verdict(rule, c, metric, alpha, c[key] or 0.0, calibrated)) for c in comparable]
    return {
        **_rate(sum(v == "regressed" for _, v in verdicts), len(items)),
        "not_comparable": _rate(len(items) - len(comparable), len(items)),
        "inconclusive": _rate(sum(v == "inconclusive" and rule.worse(c[metric]) for c, v in verdicts), len(items)),
    }


def _verdict(rule: Rule, c: dict[str, Any], metric: str, alpha: float, precision: float, calibrated: bool) -> str:
    """The gate's verdict of one comparison (:func:`bench.gate.verdict_for`), and as the gate, an inconclusive one
    of three run pairs decided on the other pairs where :func:`bench.gate.compare.set_aside_verdict` allows (at the
    held-out calibrated run noise; an assumed one never allows it)."""
    verdict = verdict_for(rule, c[metric], c["p"] < alpha, c[f"{metric}_pairs"], precision)
    set_aside = c.get(f"{metric}_set_aside")
    if verdict != "inconclusive" or set_aside is None or not calibrated or c["prior"] is None:
        return verdict
    aside = set_aside()
    if aside is None:
        return verdict
    others = aside.figures
    key = f"{metric}_set_aside_precision"
    if key not in c:  # the same for every test level and threshold
        c[key] = others.precision_at(c["prior"])
    significant = c["p"] < alpha and (others.p_value or 0.0) < alpha
    return set_aside_verdict(rule, significant, aside, c[key], c["prior"]) or verdict


def evaluate(
    comparisons: dict[str, list[dict[str, Any]]],
    alphas: Sequence[float],
    thresholds: Sequence[float],
    by_case=False,
    calibrated: bool = False,
):
    """Rates for every (metric, alpha, threshold): false alarms on A/A, detections on A/B (per case if asked), at
    the default run noise or (``calibrated``) at each comparison's held-out calibrated one.

    Rates are over all comparisons: a "not comparable" verdict is neither a false alarm nor a detection.
    """
    groups = {"all cases": comparisons}
    if by_case:
        names = sorted({c["case"] for items in comparisons.values() for c in items})
        groups = {name: {k: [c for c in v if c["case"] == name] for k, v in comparisons.items()} for name in names}
    rows = []
    for group, items in groups.items():
        for metric in CALIBRATED_METRICS:
            for alpha in alphas:
                for threshold in thresholds:
                    row: dict[str, Any] = {"case": group, "metric": metric, "alpha": alpha, "threshold": threshold}
                    row["run_noise"] = "calibrated" if calibrated else "default"
                    for key, kind in items.items():
                        row[key] = _cells(kind, metric, alpha, threshold, calibrated)
                    rows.append(row)
    return rows


def meets(row: dict[str, Any], mode: str = "runs") -> bool:
    """At most 1% false alarms and at least 95% detection, one run a side (``runs``) or three (``rerun``)."""
    false_alarms, detections = row[f"aa_{mode}"]["rate"], row[f"ab_{mode}"]["rate"]
    if false_alarms is None or detections is None:
        return False
    return false_alarms <= TARGET_FALSE_ALARM and detections >= TARGET_DETECTION


def _pct(cell: dict[str, Any]) -> str:
    if cell["rate"] is None:
        return "n/a"
    return f"{cell['rate']:.2%} ({cell['hits']}/{cell['n']}, CI ≤{cell['ci95'][1]:.2%})"


NOISE_TITLES = {
    "default": f"{RUN_NOISE:.0%}, assumed (the default)",
    "calibrated": "calibrated: the other runs' (held out)",
}


def recommended(cases: list[CaseRuns]) -> dict[str, Any] | None:
    """The ``gates:`` keys this calibration supports: the largest :func:`gate_noise` of its cases (rounded up to
    0.1%), over the fewest runs any case had. None with fewer than two runs."""
    figures = [run_figures(case.eager) for case in cases]
    measured = [(gate_noise(found), int(np.isfinite(found).sum())) for found in figures]
    measured = [(noise, runs) for noise, runs in measured if runs >= 2 and np.isfinite(noise)]
    if not measured:
        return None
    noise = min(math.ceil(max(n for n, _ in measured) * 1000) / 10, 99.9)
    return {"run_noise": f"{noise:.1f}%", "run_noise_runs": min(r for _, r in measured)}


def _table(rows: list[dict[str, Any]], first: str) -> list[str]:
    lines = [
        f"| {first} | metric | alpha | threshold | run noise | "
        + " | ".join(KIND_TITLES[k] for k in KINDS)
        + " | not comparable (one run a side, A/A) | inconclusive (one run / 3 runs a side, A/B) "
        "| meets targets (one run / 3 runs) |",
        "| --- | --- | ---: | ---: | --- |" + " ---: |" * (len(KINDS) + 2) + " :---: |",
    ]
    for row in rows:
        lines.append(
            f"| {row['case'] if first == 'case' else 'all'} | {row['metric']} | {row['alpha']:g} | "
            f"{row['threshold']:.0%} | {NOISE_TITLES[row.get('run_noise', 'default')]} | "
            + " | ".join(_pct(row[k]) for k in KINDS)
            + f" | {_pct(row['aa_runs']['not_comparable'])} | "
            f"{_pct(row['ab_runs']['inconclusive'])} / {_pct(row['ab_rerun']['inconclusive'])} | "
            f"{'yes' if meets(row, 'runs') else 'no'} / {'yes' if meets(row, 'rerun') else 'no'} |"
        )
    return lines


def summarise(cases: list[CaseRuns], rows: list[dict[str, Any]], per_case, setup: dict[str, Any]) -> str:
    lines = [
        "# Gate calibration",
        "",
        f"- machine: {setup['cpu_model']} ({setup['cpu_cores']} cores, shared with other jobs), {setup['runs']} "
        f"separate runs, injected slowdown {setup['percent']:g}%, latency pass {setup['min_time_s']:g} s per case, "
        f"wall time {setup['wall_s']:.0f} s",
        f"- gate defaults under test: alpha={DEFAULT_ALPHA:g}, latency_p50_ms "
        f"{METRICS['latency_p50_ms'].default_rule}, throughput_items_per_s "
        f"{METRICS['throughput_items_per_s'].default_rule}",
    ]
    for case in cases:
        medians = [float(np.median(s)) for s in case.eager if len(s)]
        rounds = int(np.median([len(s) for s in case.eager])) if case.eager else 0
        p50 = f"{np.median(medians):.4g} ms" if medians else "n/a (no eager run)"
        if len(medians) >= 2:  # between runs: one run has no run-to-run figure (it printed nan%)
            spread = f"{max(medians) / min(medians) - 1:+.1%}"
            noise = f"{run_noise(case.eager):.1%}"
        else:
            spread = noise = f"n/a ({len(medians)} run{'' if len(medians) == 1 else 's'}: needs at least two)"
        lines.append(
            f"- `{case.name}`: {len(case.eager)} runs, ~{rounds} samples per run, eager p50 "
            f"{p50}, max/min of the runs' p50s {spread}, run-to-run standard deviation "
            f"of the cleaned p50 {noise} (the gate's `gates.run_noise`; default {RUN_NOISE:.0%})"
        )
    advice = recommended(cases)
    if advice is not None:
        lines.append(
            f'- for a gate on this machine, in the suite: `gates: {{run_noise: "{advice["run_noise"]}", '
            f"run_noise_runs: {advice['run_noise_runs']}}}` (or `bench gate --run-noise {advice['run_noise']} "
            f"--run-noise-runs {advice['run_noise_runs']}`): the largest run noise above, or more where slow runs "
            "make the tail heavier than a standard deviation says (what keeps 99% of these runs' A/A pairs inside "
            'the interval of one run a side); the rows "calibrated" below judge each comparison with that noise of '
            "the runs it does not use"
        )
    lines += ["", "## Per case at the defaults", "", *_table(per_case, "case")]
    lines += ["", "## All cases, by test level and effect threshold", "", *_table(rows, "cases")]
    return "\n".join(lines) + "\n"


def calibrate(
    out: Path,
    runs: int = 30,
    model: str = "dlrm-tiny",
    percent: float = 10.0,
    threads: Sequence[int] = (1,),
    batch_sizes: Sequence[int] = (1, 64),
    min_time_s: float = 0.5,
    pool: int = 1000,
    alphas: Sequence[float] = (0.05, DEFAULT_ALPHA, 0.001),
    thresholds: Sequence[float] = (0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08),
    reuse: bool = False,
    seed: int = 0,
) -> dict[str, Any]:
    """Measure (unless ``reuse``), compare, and write ``calibration.md`` and ``calibration.json`` into ``out``."""
    from bench.hardware import cpu_cores, environment

    started = time.perf_counter()
    results = out / "runs"
    if not reuse:
        results = measure(out, runs, percent, threads, min_time_s, batch_sizes, model)
    cases = collect(results)
    if not cases:
        raise FileNotFoundError(f"no calibration runs under {results}")
    if max(min(len(c.eager), len(c.slowed)) for c in cases) < 2:  # A/A and A/B compare different runs
        raise BenchError(
            f"{results}: calibration needs at least two runs (found {max(len(c.eager) for c in cases)}): every rate "
            "compares two different runs; run it with --runs 2 or more"
        )
    comparisons = _comparisons(cases, pool, np.random.default_rng(seed))
    rows = evaluate(comparisons, alphas, thresholds)
    default_threshold = parse_rule("latency_p50_ms", METRICS["latency_p50_ms"].default_rule).limit
    per_case = evaluate(comparisons, [DEFAULT_ALPHA], [default_threshold], by_case=True)
    per_case += evaluate(comparisons, [DEFAULT_ALPHA], [default_threshold], by_case=True, calibrated=True)
    per_case.sort(key=lambda row: (row["case"], row["metric"]))
    env = environment()
    setup = {
        "runs": max(len(c.eager) for c in cases),
        "model": cases[0].name.split("[")[0],
        "percent": percent,
        "threads": list(threads),
        "min_time_s": min_time_s,
        "pool_per_case": pool,
        "cpu_model": env.get("cpu_model"),
        "cpu_cores": cpu_cores(),
        "wall_s": time.perf_counter() - started,
    }
    markdown = summarise(cases, rows, per_case, setup)
    payload = {"setup": setup, "recommended_gates": recommended(cases), "per_case_at_defaults": per_case, "rows": rows}
    print(markdown)  # first: a refused write below loses no measured rate
    for name, text in (("calibration.md", markdown), ("calibration.json", json.dumps(payload, indent=2) + "\n")):
        path = out / name
        try:  # whole or not at all: an earlier calibration's file stays as it was
            write_atomic(path, text.encode("utf-8"), path.with_name(f".{name}.tmp{os.getpid()}"))
        except OSError as err:  # a full disk, a read-only folder
            raise BenchError(
                f"cannot write {path}: {os_reason(err)}; the calibration is printed above, and its runs are kept in "
                f"{results} (bench calibrate --reuse writes it again)"
            ) from None
    return payload

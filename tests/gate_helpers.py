"""Builders for fake runs (RunWriter + Record in tmp_path): no benchmarking, fully deterministic."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from bench.measure.timing import LatencyStats
from bench.results import Record, RunWriter

ENV = {
    "cpu_model": "Test CPU 9000",
    "cpu_cores": 2,
    "gpu_name": None,
    "torch_version": "2.13.0+cpu",
    "python_version": "3.11.0",
    "git_commit": "a" * 40,
    "hostname": "ci-box",
}


def latencies(seed: int, n: int = 400, scale: float = 1.0, median_ms: float = 1.0) -> list[float]:
    """Right-skewed latencies around ``median_ms`` (like real ones), stretched by ``scale``."""
    rng = np.random.default_rng(seed)
    values = median_ms * (0.97 + rng.gamma(2.0, 0.02, n))
    return [float(v) for v in values * scale]


def make_run(
    results: Path,
    run_id: str,
    cases: dict[str, dict[str, Any]],
    *,
    suite: str = "demo",
    gates: dict[str, Any] | None = None,
    env: dict[str, Any] | None = None,
    started_at: str = "2026-11-22T10:00:00Z",
    status: str = "finished",
    extra_suites: tuple[str, ...] = (),
    measure: dict[str, Any] | None = None,
) -> Path:
    """A run folder with one record (and raw samples) per case.

    ``cases`` maps case id to fields: ``samples`` (list of ms), optional ``suite``, ``threads``, ``status``,
    and any Record column (``model_size_bytes``, ``accuracy``, ...).
    """
    env = {**ENV, **(env or {})}
    suites = [{"name": suite, "path": f"suites/{suite}.yaml", "sections": {"gates": gates} if gates else {}}]
    if measure is not None:
        suites[0]["measure"] = measure
    suites += [{"name": s, "path": f"suites/{s}.yaml", "sections": {}} for s in extra_suites]
    writer = RunWriter(results, run_id, {"started_at": started_at, "suites": suites, "environment": env})
    for case_id, fields in cases.items():
        fields = dict(fields)
        samples = fields.pop("samples", None)
        case_status = fields.pop("status", "ok")
        stats = dataclasses.asdict(LatencyStats.from_samples(samples, 1)) if samples and case_status == "ok" else {}
        record = Record(
            run_id=run_id,
            suite=fields.pop("suite", suite),
            case_id=case_id,
            model="m",
            compression="fp32",
            engine="eager",
            device=fields.pop("device", "cpu"),
            threads=fields.pop("threads", 1),
            batch_size=1,
            status=case_status,
            **{k: v for k, v in env.items() if k in ("cpu_model", "gpu_name", "torch_version", "git_commit")},
            **{**stats, **fields},
        )
        writer.append(record, samples if case_status == "ok" else None)
    if status == "running":  # killed mid-run: files closed, meta.json still says running
        writer._records.close()
        writer._samples.close()
        return writer.path
    writer.close(status)
    return writer.path


def compare_samples(rule, baseline_ms, current_ms, alpha: float = 0.01, batch_size: int = 1):
    """Verdict, change and p-value of a timed metric from raw samples: one comparison, no correction (what
    ``bench.gate.compare`` does for each case, without the Holm step)."""
    from bench import gate

    figures = gate.timed_figures(rule.metric, baseline_ms, current_ms, batch_size)
    if figures.reason:
        return "not comparable", None, None
    change = rule.change(figures.baseline, figures.current)
    return gate.verdict_for(rule, change, figures.p_value < alpha, figures.pairs), change, figures.p_value

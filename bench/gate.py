"""Regression gate: compare two runs case by case and decide improved / regressed / unchanged / not comparable.

* Timed metrics (latency percentiles, throughput) need **both** a significant two-sample test on the raw samples
  (Mann-Whitney U, two-sided, level ``alpha`` after a Holm correction over all timed comparisons of one gate)
  **and** an effect beyond the metric's rule. Either alone is not enough: with thousands of samples a 0.5% shift
  is "significant", and a 20% shift on 5 noisy samples may be chance.
* Before that, each side's samples are cut into blocks of consecutive calls and blocks slowed by a burst of
  interference (median > 10% above the side's fastest block) are dropped; a side with more than 70% of its blocks
  disturbed is not comparable. A slowdown of the code slows every block, so it is never dropped.
* Deterministic metrics (size, accuracy) and single-reading metrics (peak memory, energy) use the rule alone.
* Runs on different environments (CPU model, GPU of a GPU case, torch version, the case's thread count) are not
  comparable unless forced; a forced comparison is shown as such in the summary.

Rules live in a suite's ``gates:`` section, e.g. ``gates: {latency_p50_ms: "+5%", accuracy: "-0.005"}``: the sign
is the bad direction, ``%`` makes the limit relative, no ``%`` makes it absolute in the metric's unit.
See docs/gates.md.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench import metrics
from bench.errors import BenchError, SuiteError, did_you_mean
from bench.metrics import LOWER, SAMPLED, Metric

DEFAULT_ALPHA = 0.01
"""Level of the Mann-Whitney U test (two-sided), after Holm's correction over the timed comparisons of one gate."""
MIN_SAMPLES = 8
"""Fewer raw samples than this on either side: the timed metric is not comparable."""
BLOCKS_PER_RUN = 10
"""Each run's samples are cut into this many blocks of consecutive calls to find bursts of interference."""
DISTURBED_RATIO = 1.10
"""A block whose median is more than 10% above the side's fastest block median was disturbed: it is dropped."""
MAX_DISTURBED_SHARE = 0.7
"""More than 70% of a side's blocks disturbed: its timed metrics are not comparable (tuned by ``bench calibrate``:
at 0.5 quiet-enough runs were refused, at 0.8 runs disturbed from start to end slipped through as false alarms)."""

METRICS: dict[str, Metric] = metrics.gated()
"""The metrics the gate judges, from the one metric table (:mod:`bench.metrics`): direction, kind, default rule."""
OPTIONS = ("alpha",)
"""Non-metric keys of ``gates:``: ``alpha`` overrides :data:`DEFAULT_ALPHA` for the suite."""
VERDICTS = ("regressed", "improved", "unchanged", "not comparable")
ENV_KEYS = ("cpu_model", "gpu_name", "torch_version", "threads")

_RULE = re.compile(r"^\s*([+-])\s*(\d+(?:\.\d*)?|\.\d+)(?:[eE]([+-]?\d+))?\s*(%?)\s*$")


class GateError(BenchError):
    """A usage error of the gate (nothing comparable, no baseline, bad option): exit code 2."""


# ------------------------------------------------------------------------------------------------ rules


@dataclass(frozen=True)
class Rule:
    """How far a metric may move in its bad direction: ``+5%`` (relative) or ``-0.005`` (absolute)."""

    metric: str
    limit: float
    relative: bool

    @property
    def better(self) -> str:
        return METRICS[self.metric].better

    @property
    def text(self) -> str:
        sign = "+" if self.better == LOWER else "-"
        return f"{sign}{self.limit * 100:g}%" if self.relative else f"{sign}{self.limit:g}"

    def change(self, baseline: float, current: float) -> float:
        """Relative (``current / baseline - 1``) or absolute (``current - baseline``) change."""
        if not self.relative:
            return current - baseline
        if baseline == 0:
            return 0.0 if current == 0 else math.copysign(math.inf, current)
        return current / baseline - 1.0

    def worse(self, change: float) -> bool:
        """The change goes beyond the limit in the bad direction."""
        return change > self.limit if self.better == LOWER else change < -self.limit

    def better_by(self, change: float) -> bool:
        """The change goes beyond the limit in the good direction."""
        return change < -self.limit if self.better == LOWER else change > self.limit


def _allowed_forms(metric: Metric) -> str:
    sign, word = ("+", "grow") if metric.better == LOWER else ("-", "drop")
    unit = f" {metric.unit}" if metric.unit else ""
    return (
        f"{metric.name} is {metric.better}-is-better, so its rule says how much it may {word}: "
        f"'{sign}N%' (relative, e.g. '{sign}5%'), '{sign}X' (absolute{unit}, e.g. '{sign}0.5'), or 'off'"
    )


def parse_rule(metric_name: str, raw: Any, where: str = "gates") -> Rule | None:
    """Parse one rule; ``None`` means the metric is not gated. Raises :class:`SuiteError` naming the key."""
    key = f"{where}.{metric_name}"
    if metric_name not in METRICS:
        allowed = ", ".join([*METRICS, *OPTIONS])
        raise SuiteError(None, key, f"unknown metric.{did_you_mean(metric_name, METRICS)} Allowed: {allowed}")
    metric = METRICS[metric_name]
    if raw is None or raw is False or (isinstance(raw, str) and raw.strip().lower() == "off"):
        return None
    if isinstance(raw, bool):
        raise SuiteError(None, key, f"got {raw!r}; {_allowed_forms(metric)}")
    if isinstance(raw, (int, float)):
        text = f"{raw:+}"
    elif isinstance(raw, str):
        text = raw
    else:
        raise SuiteError(None, key, f"got a {type(raw).__name__}; {_allowed_forms(metric)}")
    match = _RULE.match(text)
    if not match:
        raise SuiteError(None, key, f"cannot read {raw!r}; {_allowed_forms(metric)}")
    sign, number, exponent, percent = match.groups()
    limit = float(number + (f"e{exponent}" if exponent else ""))
    wanted = "+" if metric.better == LOWER else "-"
    if sign != wanted and limit != 0:
        raise SuiteError(None, key, f"{raw!r} has the wrong sign; {_allowed_forms(metric)}")
    return Rule(metric_name, limit / 100.0 if percent else limit, relative=bool(percent))


def validate_gates(value: Any, where: str = "gates") -> dict[str, Any]:
    """Validate a suite's ``gates:`` section (called by bench.suite); returns it as given, JSON-ready."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SuiteError(
            None, where, f"must be a mapping of metric to rule, e.g. {{latency_p50_ms: '+5%'}}; got {value!r}"
        )
    for name, raw in value.items():
        if name == "alpha":
            _parse_alpha(raw, f"{where}.alpha")
        else:
            parse_rule(str(name), raw, where)
    return {str(k): v for k, v in value.items()}


def _parse_alpha(raw: Any, key: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not 0 < raw < 1:
        raise SuiteError(None, key, f"must be a number between 0 and 1 (the test level, e.g. 0.01); got {raw!r}")
    return float(raw)


def rules_for(section: Mapping[str, Any] | None) -> tuple[dict[str, Rule], float]:
    """The effective rules of a suite: the defaults of :data:`METRICS`, overridden by its ``gates:`` section."""
    section = dict(section or {})
    alpha = _parse_alpha(section.pop("alpha"), "gates.alpha") if "alpha" in section else DEFAULT_ALPHA
    raw = {name: metric.default_rule for name, metric in METRICS.items()} | section
    rules = {name: parse_rule(name, value) for name, value in raw.items()}
    return {name: rule for name, rule in rules.items() if rule is not None}, alpha


# ------------------------------------------------------------------------------------------- statistics


def sample_statistic(metric: str, samples_ms: Sequence[float], batch_size: int = 1) -> float:
    """The metric computed from raw per-call latencies (percentiles by linear interpolation, as the records).

    Throughput is judged as ``batch_size / median latency``: the typical single-stream throughput. The records'
    ``batch_size / mean latency`` is dominated by preemption spikes on a shared machine (calibration saw the mean
    of one case swing by 40% between identical runs while its median moved by under 3%).
    """
    values = np.asarray(samples_ms, dtype=float)
    if metric == "throughput_items_per_s":
        return batch_size / (float(np.median(values)) / 1000.0)
    if metric == "latency_mean_ms":
        return float(values.mean())
    percentile = int(metric.removeprefix("latency_p").removesuffix("_ms"))
    return float(np.percentile(values, percentile))


def mann_whitney_p(baseline_ms: Sequence[float], current_ms: Sequence[float]) -> float:
    """Two-sided Mann-Whitney U p-value of two raw latency samples (asymptotic with tie correction for large n)."""
    from scipy.stats import mannwhitneyu

    return float(mannwhitneyu(baseline_ms, current_ms, alternative="two-sided").pvalue)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (step-down; controls the family-wise error rate, in the input order)."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def decide(rule: Rule, change: float, significant: bool = True, pairs: Sequence[tuple[float, float]] = ()) -> str:
    """The verdict of one comparison: beyond the rule (and significant, for timed metrics), else unchanged.

    ``pairs`` are the (baseline, current) figures of each interleaved pair of runs (``--rerun N``, N >= 2). Pooled
    samples treat every call as independent and miss run-to-run variation (a process's memory layout, its cores),
    so with replicated runs a verdict also needs the median pair to go beyond the rule (2 of 3 with ``--rerun 3``).
    """
    typical = float(np.median([rule.change(old, new) for old, new in pairs])) if pairs else change
    if significant and rule.worse(change) and rule.worse(typical):
        return "regressed"
    if significant and rule.better_by(change) and rule.better_by(typical):
        return "improved"
    return "unchanged"


Runs = Sequence[Sequence[float]]
"""Raw samples of one side, one list per run, in the order they were taken."""


@dataclass(frozen=True)
class Undisturbed:
    """The samples of one side left after dropping blocks a busy machine slowed down."""

    samples_ms: np.ndarray
    blocks: int
    dropped: int

    @property
    def dropped_share(self) -> float:
        return self.dropped / self.blocks if self.blocks else 0.0


def undisturbed(runs: Runs, blocks_per_run: int = BLOCKS_PER_RUN, ratio: float = DISTURBED_RATIO) -> Undisturbed:
    """Split each run's samples into consecutive blocks and drop the blocks a neighbour disturbed.

    Interference only ever adds time, and it comes in bursts: a disturbed block's median sits far above the
    side's fastest block median, while blocks of a quiet run agree within 1-2%. Blocks whose median exceeds the
    fastest block median of the side by more than ``ratio`` are dropped. A real slowdown of the code slows every
    block alike, so it is kept (both sides are cleaned separately).
    """
    blocks: list[np.ndarray] = []
    for run in runs:
        values = np.asarray(run, dtype=float)
        count = max(1, min(blocks_per_run, len(values) // MIN_SAMPLES))
        blocks += [b for b in np.array_split(values, count) if len(b)]
    if not blocks:
        return Undisturbed(np.asarray([], dtype=float), 0, 0)
    medians = np.asarray([np.median(b) for b in blocks])
    keep = medians <= medians.min() * ratio
    kept = [b for b, k in zip(blocks, keep, strict=True) if k]
    return Undisturbed(np.concatenate(kept), len(blocks), int((~keep).sum()))


def _as_runs(samples: Sequence[float] | Runs) -> Runs:
    if len(samples) and not isinstance(samples[0], (int, float, np.floating, np.integer)):
        return samples  # already one list per run
    return [samples]


@dataclass(frozen=True)
class TimedFigures:
    """A timed metric on both sides, after dropping disturbed blocks, and the test between them."""

    baseline: float | None
    current: float | None
    p_value: float | None
    reason: str = ""
    """Why the metric is not comparable ("" when it is)."""
    note: str = ""
    pairs: tuple[tuple[float, float], ...] = ()
    """Per interleaved pair of runs, (baseline, current) figures: set when both sides have the same N >= 2 runs."""


def timed_figures(metric: str, baseline: Sequence[float] | Runs, current: Sequence[float] | Runs, batch_size=1):
    """Clean both sides (:func:`undisturbed`), then the metric on each and the Mann-Whitney U p-value."""
    sides = {"baseline": undisturbed(_as_runs(baseline)), "current run": undisturbed(_as_runs(current))}
    for name, side in sides.items():
        if side.dropped_share > MAX_DISTURBED_SHARE:
            return TimedFigures(
                None,
                None,
                None,
                reason=f"{name} disturbed: {side.dropped} of {side.blocks} blocks of calls ran more than "
                f"{DISTURBED_RATIO - 1:.0%} slower than its fastest block (a busy machine); re-run, or use --rerun",
            )
        if len(side.samples_ms) < MIN_SAMPLES:
            return TimedFigures(None, None, None, reason=f"fewer than {MIN_SAMPLES} raw samples in the {name}")
    old, new = sides["baseline"], sides["current run"]
    note = "; ".join(
        f"{side.dropped}/{side.blocks} disturbed blocks dropped in the {name}"
        for name, side in sides.items()
        if side.dropped
    )
    old_runs, new_runs = _as_runs(baseline), _as_runs(current)
    pairs: tuple[tuple[float, float], ...] = ()
    if len(old_runs) == len(new_runs) >= 2:
        pairs = tuple(
            (sample_statistic(metric, a, batch_size), sample_statistic(metric, b, batch_size))
            for a, b in zip(old_runs, new_runs, strict=True)
        )
    return TimedFigures(
        sample_statistic(metric, old.samples_ms, batch_size),
        sample_statistic(metric, new.samples_ms, batch_size),
        mann_whitney_p(old.samples_ms, new.samples_ms),
        note=note,
        pairs=pairs,
    )


def compare_samples(
    rule: Rule,
    baseline_ms: Sequence[float] | Runs,
    current_ms: Sequence[float] | Runs,
    alpha: float = DEFAULT_ALPHA,
    batch_size: int = 1,
) -> tuple[str, float | None, float | None]:
    """Verdict, change and p-value of a timed metric from raw samples (one comparison, no correction).

    Each side is a list of samples, or a list of such lists (one per run, pooled after cleaning).
    """
    figures = timed_figures(rule.metric, baseline_ms, current_ms, batch_size)
    if figures.reason:
        return "not comparable", None, None
    change = rule.change(figures.baseline, figures.current)
    return decide(rule, change, figures.p_value < alpha, figures.pairs), change, figures.p_value


# ------------------------------------------------------------------------------------------- comparison


@dataclass
class Verdict:
    """One case and metric: the verdict and the figures behind it."""

    case: str
    metric: str
    verdict: str
    baseline: float | None = None
    current: float | None = None
    change: float | None = None
    rule: str | None = None
    relative: bool = True
    p_value: float | None = None
    p_adjusted: float | None = None
    reason: str = ""
    pairs: tuple[tuple[float, float], ...] = ()
    between_spread: float | None = None  # the larger between-window spread of the two sides (measure.repeats)


@dataclass
class RunSide:
    """One side of a comparison: records by ``suite::case_id``, raw samples, and the runs it pools."""

    label: str
    records: dict[str, dict[str, Any]]
    samples: dict[str, list[list[float]]]
    """Raw samples per case: one list per run (several when runs are pooled)."""
    metas: list[dict[str, Any]]

    @property
    def commit(self) -> str:
        commits = {(m.get("environment") or {}).get("git_commit") or "?" for m in self.metas}
        return ", ".join(sorted(c[:12] for c in commits))


def load_side(runs: Sequence[str | Path], results_dir: str | Path = "results") -> RunSide:
    """Load one or more runs as one side; samples of the same case are pooled (used by ``--rerun``)."""
    from bench import results as store

    if not runs:
        raise GateError("no run given")
    records: dict[str, dict[str, Any]] = {}
    samples: dict[str, list[list[float]]] = {}
    metas = []
    for run in runs:
        path = store.resolve_run(run, results_dir)
        metas.append(store.load_meta(path))
        frame = store.load(path)
        for row in frame.to_dict("records"):
            records.setdefault(f"{row['suite']}::{row['case_id']}", _clean(row))
        for key, values in store.load_samples(path).items():
            samples.setdefault(key, []).append(values)
    label = metas[0]["run_id"] if len(metas) == 1 else f"{len(metas)} runs pooled"
    return RunSide(label, records, samples, metas)


def _clean(row: dict[str, Any]) -> dict[str, Any]:
    """pandas NaN -> None, so "not measured" is one thing."""
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def environment_differences(baseline: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """What makes two records of one case not comparable: CPU model, torch, thread count, and a GPU case's GPU."""
    keys = [k for k in ENV_KEYS if k != "gpu_name" or str(current.get("device") or "").startswith("cuda")]
    found = []
    for key in keys:
        old, new = baseline.get(key), current.get(key)
        if _present(old) and _present(new) and old != new:
            found.append(f"{key} {old!r} -> {new!r}")
    return found


@dataclass
class GateResult:
    """All verdicts of one gate, with what the summary and the JSON file need."""

    baseline: str
    current: str
    baseline_commit: str
    current_commit: str
    alpha: float
    correction: str
    forced: bool
    verdicts: list[Verdict] = field(default_factory=list)
    environment: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    not_run: list[str] = field(default_factory=list)
    """Baseline cases the current run did not measure (deselected, skipped for absent hardware, or removed)."""

    def count(self, verdict: str) -> int:
        return sum(v.verdict == verdict for v in self.verdicts)

    @property
    def compared(self) -> int:
        return sum(v.verdict != "not comparable" for v in self.verdicts)

    @property
    def exit_code(self) -> int:
        """1 when anything regressed; 2 when nothing could be compared because environments differ; else 0."""
        if self.count("regressed"):
            return 1
        if self.environment and not self.forced and self.compared == 0:
            return 2
        return 0

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": 1,
            "baseline": self.baseline,
            "current": self.current,
            "baseline_commit": self.baseline_commit,
            "current_commit": self.current_commit,
            "alpha": self.alpha,
            "correction": self.correction,
            "forced": self.forced,
            "exit_code": self.exit_code,
            "counts": {v: self.count(v) for v in VERDICTS},
            "environment_differences": self.environment,
            "notes": self.notes,
            "not_run": self.not_run,
            "verdicts": [_json_safe(asdict(v)) for v in self.verdicts],
        }

    def to_markdown(self, max_unchanged: int = 200) -> str:
        return render_markdown(self, max_unchanged)


def _json_safe(payload: dict[str, Any]) -> dict[str, Any]:
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in payload.items()}


def compare(
    baseline: RunSide,
    current: RunSide,
    *,
    force: bool = False,
    alpha: float | None = None,
    correction: str = "holm",
    rules: Mapping[str, Mapping[str, Any]] | None = None,
) -> GateResult:
    """Compare two sides case by case. ``rules`` maps suite name to its ``gates:`` section (default: from meta)."""
    if correction not in ("holm", "none"):
        raise GateError(f"--correction must be holm or none, not {correction!r}")
    if rules is None:
        rules = {s["name"]: (s.get("sections") or {}).get("gates") or {} for m in current.metas for s in m["suites"]}
    suites = {key.split("::", 1)[0] for key in current.records} | set(rules)
    effective = {suite: rules_for(rules.get(suite)) for suite in suites}
    levels = {a for _, a in effective.values()}
    result = GateResult(
        baseline=baseline.label,
        current=current.label,
        baseline_commit=baseline.commit,
        current_commit=current.commit,
        alpha=alpha if alpha is not None else (levels.pop() if len(levels) == 1 else DEFAULT_ALPHA),
        correction=correction,
        forced=force,
    )
    timed: list[tuple[Verdict, float]] = []  # verdicts waiting for the corrected test, with their suite's alpha
    for key in sorted(set(baseline.records) | set(current.records)):
        suite = key.split("::", 1)[0]
        suite_rules, suite_alpha = effective.get(suite) or rules_for(None)
        old, new = baseline.records.get(key), current.records.get(key)
        if new is None or new.get("status") == "skipped":  # deselected (-k), absent hardware, or removed
            if old is not None and old.get("status") == "ok":
                result.not_run.append(key)
            continue
        if old is not None and old.get("status") == "ok" and new.get("status") == "failed":
            # A case that measured in the baseline and now crashes is the worst regression there is.
            error = new.get("error") or "no error recorded"
            result.verdicts.append(
                Verdict(key, "status", "regressed", reason=f"ok in the baseline, failed now: {error}")
            )
            continue
        reason = _not_comparable_reason(old, new)
        if reason is None:
            differences = environment_differences(old, new)
            if differences:
                result.environment[key] = differences
                if not force:
                    reason = "environment differs: " + "; ".join(differences) + " (use --force to compare anyway)"
        for name, rule in suite_rules.items():
            if reason is not None:
                if not any(_present(record.get(name)) for record in (old, new) if record is not None):
                    continue
                result.verdicts.append(Verdict(key, name, "not comparable", rule=rule.text, reason=reason))
                continue
            verdict = _compare_metric(key, rule, old, new, baseline.samples.get(key), current.samples.get(key))
            if verdict is None:
                continue
            result.verdicts.append(verdict)
            if verdict.p_value is not None:
                timed.append((verdict, rule, alpha if alpha is not None else suite_alpha))
    raw_p = [v.p_value for v, _, _ in timed]
    adjusted = holm(raw_p) if correction == "holm" else raw_p
    for (verdict, rule, level), p_adjusted in zip(timed, adjusted, strict=True):
        verdict.p_adjusted = p_adjusted
        verdict.verdict = decide(rule, verdict.change, p_adjusted < level, verdict.pairs)
        beyond = rule.worse(verdict.change) or rule.better_by(verdict.change)
        spread = verdict.between_spread
        if beyond and verdict.verdict != "unchanged" and spread is not None and abs(verdict.change) <= spread:
            # independent windows of one run already moved this much: the change is within the run's own noise
            verdict.verdict = "unchanged"
            why = f"within the spread between measure.repeats windows ({spread:.1%})"
            verdict.reason = "; ".join(filter(None, [why, verdict.reason]))
            continue
        if beyond and p_adjusted >= level:
            why = f"beyond the rule but not significant (p={p_adjusted:.2g} >= {level:g})"
            verdict.reason = "; ".join(filter(None, [why, verdict.reason]))
        elif beyond and verdict.verdict == "unchanged":  # significant, but the replicated runs disagree
            changes = ", ".join(f"{rule.change(old, new):+.1%}" for old, new in verdict.pairs)
            why = f"beyond the rule pooled, but not in the median of the {len(verdict.pairs)} run pairs ({changes})"
            verdict.reason = "; ".join(filter(None, [why, verdict.reason]))
    if force and result.environment:
        result.notes.append("--force: cases measured on different environments were compared anyway")
    return result


def _not_comparable_reason(old: dict[str, Any] | None, new: dict[str, Any]) -> str | None:
    if old is None:
        return "new case: not in the baseline"
    for side, record in (("baseline", old), ("current run", new)):
        if record.get("status") != "ok":
            return f"{record.get('status')} in the {side}: {record.get('error') or 'no reason recorded'}"
    return None


def _compare_metric(
    key: str,
    rule: Rule,
    old: dict[str, Any],
    new: dict[str, Any],
    old_samples: list[list[float]] | None,
    new_samples: list[list[float]] | None,
) -> Verdict | None:
    metric = METRICS[rule.metric]
    verdict = Verdict(key, rule.metric, "not comparable", rule=rule.text, relative=rule.relative)
    if metric.kind == SAMPLED:
        if not old_samples and not new_samples:
            return None
        if not old_samples or not new_samples:
            verdict.reason = "no raw samples in the " + ("baseline" if not old_samples else "current run")
            return verdict
        figures = timed_figures(rule.metric, old_samples, new_samples, int(new.get("batch_size") or 1))
        if figures.reason:
            verdict.reason = figures.reason
            return verdict
        verdict.baseline, verdict.current, verdict.p_value = figures.baseline, figures.current, figures.p_value
        verdict.change = rule.change(verdict.baseline, verdict.current)
        verdict.reason = figures.note
        verdict.pairs = figures.pairs
        spreads = [r.get("latency_between_spread") for r in (old, new) if _present(r.get("latency_between_spread"))]
        verdict.between_spread = max(spreads) if spreads else None
        verdict.verdict = "unchanged"  # decided after the correction over all timed comparisons
        return verdict
    old_value, new_value = old.get(rule.metric), new.get(rule.metric)
    if not _present(old_value) and not _present(new_value):
        return None
    if not _present(old_value) or not _present(new_value):
        verdict.reason = "not measured in the " + ("baseline" if not _present(old_value) else "current run")
        return verdict
    verdict.baseline, verdict.current = float(old_value), float(new_value)
    verdict.change = rule.change(verdict.baseline, verdict.current)
    verdict.verdict = decide(rule, verdict.change)
    return verdict


def gate_runs(
    baseline_runs: Sequence[str | Path],
    current_runs: Sequence[str | Path],
    results_dir: str | Path = "results",
    **options: Any,
) -> GateResult:
    """Load both sides and compare them (see :func:`compare` for the options)."""
    return compare(load_side(baseline_runs, results_dir), load_side(current_runs, results_dir), **options)


# ---------------------------------------------------------------------------------------------- outputs

_ICON = {"regressed": "❌", "improved": "✅", "unchanged": "·", "not comparable": "⚠️"}


def _fmt(value: float | None) -> str:
    if value is None:
        return ""
    if abs(value) >= 1e5:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def _fmt_change(verdict: Verdict) -> str:
    if verdict.change is None:
        return ""
    if not math.isfinite(verdict.change):
        return "from 0"
    return f"{verdict.change:+.2%}" if verdict.relative else f"{verdict.change:+.4g}"


def _table(verdicts: Iterable[Verdict]) -> list[str]:
    lines = [
        "| case | metric | baseline | current | change | rule | p (adj.) | verdict |",
        "| --- | --- | ---: | ---: | ---: | :---: | ---: | --- |",
    ]
    for v in verdicts:
        p = "" if v.p_adjusted is None else f"{v.p_adjusted:.2g}"
        note = f" ({v.reason})" if v.reason else ""
        lines.append(
            f"| `{v.case}` | {v.metric} | {_fmt(v.baseline)} | {_fmt(v.current)} | {_fmt_change(v)} | "
            f"{v.rule or ''} | {p} | {_ICON[v.verdict]} {v.verdict}{note} |"
        )
    return lines


def render_markdown(result: GateResult, max_unchanged: int = 200) -> str:
    """The summary for ``$GITHUB_STEP_SUMMARY``: counts, warnings, what moved, then what did not."""
    counts = " · ".join(f"{result.count(v)} {v}" for v in VERDICTS)
    status = {0: "passed", 1: "FAILED: regression", 2: "refused: runs not comparable"}[result.exit_code]
    lines = [
        f"## bench gate: {status}",
        "",
        f"{counts}",
        "",
        f"- baseline: `{result.baseline}` (commit `{result.baseline_commit}`)",
        f"- current: `{result.current}` (commit `{result.current_commit}`)",
        f"- timed metrics: two-sided Mann-Whitney U on raw samples, alpha={result.alpha:g}, "
        f"correction={result.correction}, and an effect beyond the rule",
    ]
    if result.environment:
        kind = "compared anyway (--force)" if result.forced else "not compared"
        lines += ["", f"> **Environment differs** on {len(result.environment)} case(s), {kind}:"]
        shown = dict(list(result.environment.items())[:10])
        lines += [f"> - `{case}`: {'; '.join(diffs)}" for case, diffs in shown.items()]
    for note in result.notes:
        lines += ["", f"> **{note}**"]
    if result.not_run:
        shown = ", ".join(f"`{case}`" for case in result.not_run[:5])
        more = f" and {len(result.not_run) - 5} more" if len(result.not_run) > 5 else ""
        lines += [
            "",
            f"{len(result.not_run)} baseline case(s) not measured in the current run (deselected, skipped or "
            f"removed): {shown}{more}",
        ]
    moved = [v for v in result.verdicts if v.verdict in ("regressed", "improved", "not comparable")]
    order = {name: i for i, name in enumerate(VERDICTS)}
    moved.sort(key=lambda v: (order[v.verdict], v.case, v.metric))
    if moved:
        lines += ["", "### Regressed, improved and not comparable", "", *_table(moved)]
    unchanged = [v for v in result.verdicts if v.verdict == "unchanged"]
    if unchanged:
        lines += ["", f"<details><summary>{len(unchanged)} unchanged</summary>", "", *_table(unchanged[:max_unchanged])]
        if len(unchanged) > max_unchanged:
            lines.append(f"| … {len(unchanged) - max_unchanged} more in the JSON verdict file | | | | | | | |")
        lines += ["", "</details>"]
    return "\n".join(lines) + "\n"


def write_outputs(result: GateResult, summary_path: str | Path, json_path: str | Path, step_summary: str | None):
    """Write the Markdown summary and the JSON verdicts; append the summary to ``$GITHUB_STEP_SUMMARY`` if set."""
    markdown = result.to_markdown()
    for path, text in ((summary_path, markdown), (json_path, json.dumps(result.to_json(), indent=2) + "\n")):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text, encoding="utf-8")
    if step_summary:
        with open(step_summary, "a", encoding="utf-8") as handle:
            handle.write(markdown)
    return markdown

"""Confidence from the measurements: how often the recommendation stays best when the raw samples are resampled.

The weight perturbation of :func:`bench.judge.decide.robustness` asks whether the recommendation depends on the
weights; this asks whether it depends on measurement noise. Each case's raw latency samples are resampled with
replacement (the bootstrap: same size, drawn from the case's own samples), its latency statistic is recomputed, and
with it T (against the group's reference case, resampled too), P and the latency constraints; the best feasible case
of every resample is counted. Size, accuracy, memory, cost and energy are taken as measured.

The resamples are drawn without materialising them, so a case of a million samples (a long run of sub-millisecond
calls) costs a sort and ``resamples`` draws, not ``resamples × samples`` (a thousand million values per case). Every
statistic of one case in one resample (the score's latency statistic and the percentile of each latency constraint,
e.g. p50 and p99) comes from the same resample, so they move together as they do when resamples are drawn:

* a percentile (``p50``, ``p99``, ``per_item``) of a bootstrap resample is read from the sorted samples at the
  resample's order statistics, drawn exactly and jointly in increasing rank: the r-th smallest of n uniform draws
  is Beta(r, n - r + 1), and the r2-th smallest above the r1-th is U(r1) + (1 - U(r1)) × Beta(r2 - r1, n - r2 + 1);
  a uniform u picks the sample of rank ⌈n u⌉. That is the same joint distribution as ``np.percentile`` (linear
  interpolation) of n values drawn with replacement, for any n and any set of percentiles;
* the ``mean`` of a resample is drawn as such (the resamples materialised, with their percentiles read from them:
  exact) up to :data:`MEAN_DRAWN_MAX` samples. Above, alone, from the normal law with the bootstrap's own mean and
  variance (the samples' mean, and their variance / n); with percentiles, the order statistics are drawn exactly as
  above and the values between two of them (m values, each uniform between them) are summed as a normal draw with
  their exact conditional mean and variance (m × those of the samples between): over that many samples the central
  limit theorem leaves a difference far below the resampling noise itself. Only this last sum is approximate.

A resample whose lowest P several cases share exactly is an **exact tie**: it counts as a win for no single case,
but is split equally between the tied cases (a case's share is its wins plus, for each tie it was in, one over the
number tied). A **near tie** is a recommendation whose share is below ``confident_share`` (default 90%) while another
case's is at least ``rival_share`` (default 10%): the data cannot tell them apart,
so among those contenders the cheaper (cost per 1M inferences, in the suite's currency), then the smaller
(model size), then the lower-P configuration is recommended, and the verdicts say so.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd

from bench import metrics
from bench.errors import counted, first_few, percent
from bench.hardware import CPU_WAIT_LIMIT
from bench.judge.decide import (
    CONSTRAINTS,
    NOT_PERTURBED,
    Decision,
    Robustness,
    currency_of,
    robustness,
    violations,
)
from bench.judge.scoring import LATENCY_STATISTICS, ScoringConfig

RESAMPLES = 1000
CONFIDENT_SHARE = 0.9
RIVAL_SHARE = 0.1

_PERCENTILE = {"p50": 50, "p90": 90, "p95": 95, "p99": 99, "per_item": 50}
MEAN_DRAWN_MAX = 10_000
"""Above this many samples the resampled mean is drawn from its normal law rather than from ``resamples × samples``
draws (see the module's docstring)."""


def tie_rule(currency: str | None = None) -> str:
    """The near-tie rule as the verdicts and reasons state it, in the group's currency (``EUR per 1M``)."""
    cheaper = metrics.per_million(currency)
    return f"in a near tie the cheaper ({cheaper}), then the smaller, then the lower-P configuration is recommended"


@dataclass(frozen=True)
class Confidence:
    """How often each case of a group was best over the resamples, and what that means for the recommendation."""

    best_case: str | None
    """The lowest-P feasible case of the measured data."""
    share: float
    """Share of resamples in which ``best_case`` stays best."""
    resamples: int
    shares: dict[str, float] = field(default_factory=dict)
    """Case -> share of resamples it won, an exact tie split equally between the tied cases, largest first."""
    near_tie: bool = False
    recommended: str | None = None
    """The recommendation after the near-tie rule (``best_case`` when there is no near tie)."""
    summary: str = ""
    ties: dict[str, float] = field(default_factory=dict)
    """Case -> share of resamples in which it shared the lowest P exactly with another case, largest first."""
    tied: float = 0.0
    """Share of resamples whose lowest P two or more cases shared exactly."""

    @property
    def contenders(self) -> list[str]:
        """The cases whose share (ties split) is at least :data:`RIVAL_SHARE`, the largest first. A case that only
        ever ties with a case that also wins alone is not one on the strength of its ties: counted whole for each,
        a case never better than the recommendation could take it by the tie rule."""
        return [case for case, share in self.shares.items() if share >= RIVAL_SHARE]


def resampled_statistic(
    samples_ms: np.ndarray, statistic: str, batch_size: int, resamples: int, rng: np.random.Generator
) -> np.ndarray:
    """The latency statistic (``scoring.latency``) of ``resamples`` bootstrap resamples of one case's samples, each
    as large as the samples; time and memory grow with ``resamples`` plus the samples, not with their product."""
    return resampled_statistics(samples_ms, (statistic,), batch_size, resamples, rng)[statistic]


def resampled_statistics(
    samples_ms: np.ndarray, statistics: Sequence[str], batch_size: int, resamples: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Several latency statistics (``p50``, ``p99``, ``mean``, ``per_item``, ...) of the same ``resamples`` bootstrap
    resamples of one case's samples: element i of every array comes from resample i (see the module's docstring
    for what is exact)."""
    values = np.sort(np.asarray(samples_ms, dtype=float))
    wanted = list(dict.fromkeys(statistics))
    percentiles = {name: _PERCENTILE[name] for name in wanted if name != "mean"}
    if "mean" in wanted and values.size <= MEAN_DRAWN_MAX:
        out = _materialised(values, percentiles, resamples, rng)
    else:
        out = _order_statistics(values, percentiles, "mean" in wanted, resamples, rng)
    return {name: out[name] / batch_size if name == "per_item" else out[name] for name in wanted}


def _ranks(n: int, percentile: float) -> tuple[int, float]:
    """``np.percentile``'s linear rule: the 1-based rank of the lower order statistic and the fraction above it."""
    position = (n - 1) * percentile / 100.0
    low = int(np.floor(position))
    return low + 1, position - low


def _interpolated(at: dict[int, np.ndarray], n: int, percentile: float) -> np.ndarray:
    r, fraction = _ranks(n, percentile)
    if fraction == 0 or r >= n:
        return at[r]
    return at[r] + fraction * (at[r + 1] - at[r])


def _needed_ranks(n: int, percentiles: Mapping[str, float]) -> list[int]:
    ranks = set()
    for percentile in percentiles.values():
        r, fraction = _ranks(n, percentile)
        ranks.update((r, r + 1) if fraction and r < n else (r,))
    return sorted(ranks)


def _order_statistics(
    ordered: np.ndarray, percentiles: Mapping[str, float], mean: bool, resamples: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """The percentiles (and the mean) of ``resamples`` resamples drawn with replacement from ``ordered`` (sorted),
    without drawing them: the order statistics they interpolate are drawn jointly from their exact law."""
    n = ordered.size
    ranks = _needed_ranks(n, percentiles)
    uniforms: dict[int, np.ndarray] = {}
    previous, u = 0, np.zeros(resamples)
    for r in ranks:  # the (r - previous)-th smallest of the n - previous uniforms above U(previous)
        u = u + (1.0 - u) * rng.beta(r - previous, n - r + 1, size=resamples)
        uniforms[r], previous = u, r
    at = {r: _quantile_of(ordered, u) for r, u in uniforms.items()}
    out = {name: _interpolated(at, n, percentile) for name, percentile in percentiles.items()}
    if mean:
        out["mean"] = _conditional_mean(ordered, ranks, uniforms, at, resamples, rng)
    return out


def _conditional_mean(
    ordered: np.ndarray,
    ranks: list[int],
    uniforms: Mapping[int, np.ndarray],
    at: Mapping[int, np.ndarray],
    resamples: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """The mean of the resamples whose order statistics ``at`` (ranks ``ranks``, uniforms ``uniforms``) were drawn:
    those values, plus the m values between two of them (uniform between them) as a normal sum with their exact
    conditional mean and variance. Without order statistics, the normal law of the bootstrap's mean."""
    n = ordered.size
    centre = ordered.mean()  # sums of squares about the mean: no cancellation over a million samples
    shifted = ordered - centre
    first = np.concatenate(([0.0], np.cumsum(shifted)))
    second = np.concatenate(([0.0], np.cumsum(shifted**2)))

    def integral(prefix: np.ndarray, power: int, u: np.ndarray) -> np.ndarray:  # ∫_0^u Q(t)^power dt, times n
        k = np.clip(np.floor(u * n).astype(np.int64), 0, n)
        return prefix[k] + (u * n - k) * shifted[np.minimum(k, n - 1)] ** power

    edges = [(0, np.zeros(resamples))] + [(r, uniforms[r]) for r in ranks] + [(n + 1, np.ones(resamples))]
    total = sum((at[r] - centre for r in ranks), np.zeros(resamples))
    for (r1, a), (r2, b) in pairwise(edges):
        m = r2 - r1 - 1
        if m <= 0:
            continue
        width = (b - a) * n
        safe = np.where(width > 0, width, 1.0)
        mean = np.where(width > 0, (integral(first, 1, b) - integral(first, 1, a)) / safe, 0.0)
        square = np.where(width > 0, (integral(second, 2, b) - integral(second, 2, a)) / safe, 0.0)
        variance = np.maximum(square - mean**2, 0.0)
        total = total + rng.normal(m * mean, np.sqrt(m * variance))
    return centre + total / n


def _materialised(
    ordered: np.ndarray, percentiles: Mapping[str, float], resamples: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """The mean and percentiles of ``resamples`` resamples drawn as such (at most a million values at once)."""
    n = ordered.size
    out = {name: np.empty(resamples) for name in (*percentiles, "mean")}
    step = max(1, 1_000_000 // max(n, 1))
    for start in range(0, resamples, step):
        count = min(step, resamples - start)
        drawn = ordered[np.sort(rng.integers(0, n, size=(count, n)), axis=1)]  # each row sorted, as ordered is
        out["mean"][start : start + count] = drawn.mean(axis=1)
        for name, percentile in percentiles.items():
            out[name][start : start + count] = np.percentile(drawn, percentile, axis=1)
    return out


def _quantile_of(ordered: np.ndarray, u: np.ndarray) -> np.ndarray:
    """The sample a uniform draw ``u`` picks (rank ⌈n u⌉ of the sorted samples)."""
    n = ordered.size
    return ordered[np.clip(np.ceil(u * n).astype(np.int64) - 1, 0, n - 1)]


def _latency_limits(constraints: Mapping[str, float]) -> dict[str, tuple[int, float]]:
    """The constraints on a latency percentile: key -> (percentile, limit); they are re-checked per resample."""
    limits = {}
    for key, limit in constraints.items():
        column = CONSTRAINTS[key].column
        name = next((s for s, c in LATENCY_STATISTICS.items() if c == column and s in _PERCENTILE), None)
        if name and CONSTRAINTS[key].kind == "max":
            limits[key] = (_PERCENTILE[name], float(limit))
    return limits


def group_confidence(
    group: pd.DataFrame,
    suite_cases: pd.DataFrame,
    samples: Mapping[str, Sequence[float] | np.ndarray],
    config: ScoringConfig,
    constraints: Mapping[str, float] | None = None,
    *,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> Confidence | None:
    """Bootstrap the decision of one group (decided rows of one suite); ``None`` when a case lacks raw samples."""
    constraints = dict(constraints or {})
    latency_limits = _latency_limits(constraints)
    fixed = {k: v for k, v in constraints.items() if k not in latency_limits}
    rows = group[group["score"].notna()]
    rows = rows[[not violations(row, fixed) for _, row in rows.iterrows()]]
    if rows.empty or not rows["recommended"].astype(bool).any():
        return None
    rng = np.random.default_rng(seed)
    by_case = suite_cases.set_index("case_id")
    needed = [config.latency, *(f"p{percentile}" for percentile, _ in latency_limits.values())]
    drawn: dict[str, dict[str, np.ndarray] | None] = {}

    def statistics(case: str) -> dict[str, np.ndarray] | None:
        """Every statistic the decision needs of one case, all from the same resamples."""
        if case not in drawn:
            values = samples.get(f"{by_case.at[case, 'suite']}::{case}")
            batch = int(by_case.at[case, "batch_size"])
            measured = values is not None and len(values) > 0
            drawn[case] = resampled_statistics(np.asarray(values), needed, batch, resamples, rng) if measured else None
        return drawn[case]

    scores, allowed = [], []
    for _, row in rows.iterrows():
        own, reference = statistics(row["case_id"]), statistics(row["reference_case"])
        if own is None or reference is None:
            return None
        scores.append(
            row["score"] + config.weights.latency * (own[config.latency] / reference[config.latency] - row["T"])
        )
        ok = np.ones(resamples, dtype=bool)
        for percentile, limit in latency_limits.values():
            ok &= own[f"p{percentile}"] <= limit
        allowed.append(ok)
    return _count(rows, np.array(scores), np.array(allowed), resamples)


def _count(rows: pd.DataFrame, scores: np.ndarray, allowed: np.ndarray, resamples: int) -> Confidence:
    """Who is best in each resample, and the tie rule. A resample whose lowest P several cases share exactly (their
    samples constant and equal, or a coarse timer's) is an exact tie, split equally between them (was: a win for the
    first in the decision's order, "best in 100%" of resamples that all tied)."""
    order = np.argsort(rows["rank"].to_numpy(float), kind="stable")
    rows, scores, allowed = rows.iloc[order], scores[order], allowed[order]
    masked = np.where(allowed, scores, np.inf)
    lowest = masked.min(axis=0)
    at_lowest = (masked == lowest) & np.isfinite(lowest)  # cases x resamples: which were best, alone or tied
    tie = at_lowest.sum(axis=0) > 1
    cases = rows["case_id"].tolist()
    alone, shared = (at_lowest & ~tie).sum(axis=1), (at_lowest & tie).sum(axis=1)
    split = (at_lowest & tie) / np.maximum(at_lowest.sum(axis=0), 1)  # each tie's one resample, shared equally
    shares, ties = _shares(cases, alone + split.sum(axis=1), resamples), _shares(cases, shared, resamples)
    best = rows.loc[rows["recommended"].astype(bool), "case_id"].iloc[0]
    found = Confidence(best, shares.get(best, 0.0), resamples, shares, ties=ties, tied=float(tie.mean()))
    rivals = [c for c in found.contenders if c != best]
    near_tie = found.share < CONFIDENT_SHARE and bool(rivals)
    recommended, note = best, ""
    if near_tie:
        contenders = rows[rows["case_id"].isin([best, *rivals])]
        keys = {i: _cheaper(contenders, i) for i in contenders.index}
        pick = min(keys, key=keys.__getitem__)  # the first in the ranking among equals
        recommended = contenders.at[pick, "case_id"]
        if sum(key == keys[pick] for key in keys.values()) > 1:
            note = " (equal on all three: the first in the ranking)"
    only_tied = not any(alone[cases.index(case)] for case in found.contenders)
    summary = _summary(found, near_tie, only_tied, recommended + note, currency_of(rows, rows.index[0]))
    return dataclasses.replace(found, near_tie=near_tie, recommended=recommended, summary=summary)


def _shares(cases: list[str], counts: np.ndarray, resamples: int) -> dict[str, float]:
    """Case -> its count of resamples over ``resamples``, largest first; a case counted in none is left out."""
    return {cases[i]: counts[i] / resamples for i in np.argsort(-counts, kind="stable") if counts[i]}


def _cheaper(frame: pd.DataFrame, i: Any) -> tuple[float, float, float]:
    cost = frame.at[i, "cost_per_1m"] if "cost_per_1m" in frame.columns else np.nan
    size = frame.at[i, "model_size_bytes"]
    return (np.inf if pd.isna(cost) else float(cost), np.inf if pd.isna(size) else float(size), frame.at[i, "score"])


def _percent(share: float) -> str:
    """A resampled share, never shown on the other side of the near-tie thresholds than it is (:func:`percent`)."""
    return percent(share, RIVAL_SHARE, CONFIDENT_SHARE)


def _summary(found: Confidence, near_tie: bool, only_tied: bool, recommended: str, currency: str | None) -> str:
    """The confidence line: the lowest-P case's share, and how often the lowest P was an exact tie (split between
    the tied cases); in a near tie, the contenders' shares and the rule's pick, contenders that never won alone
    (``only_tied``) called an exact tie."""
    resamples, tied = found.resamples, found.tied
    of = f"of {resamples} resamples of the measured latencies"
    if not near_tie:
        tie = f"; in {_percent(tied)} the lowest P was an exact tie, split between the tied cases" if tied else ""
        return f"{found.best_case} is best in {_percent(found.share)} {of}{tie}."
    names = ", ".join(found.contenders)
    rule = f"the data cannot tell them apart; {tie_rule(currency)}: {recommended}."
    if only_tied:
        return f"EXACT TIE: {names} share the lowest P in {_percent(tied)} {of} (a win for none of them): {rule}"
    split = "/".join(_percent(found.shares.get(case, 0.0)).rstrip("%") for case in found.contenders)
    tie = f", an exact tie in {_percent(tied)} of them" if tied else ""
    return f"NEAR TIE: {names} at {split} {of}{tie}: {rule}"


def _not_computed(
    group: pd.DataFrame, suite_cases: pd.DataFrame, samples: Mapping[str, Sequence[float] | np.ndarray] | None
) -> str:
    """Why a group's confidence was not computed: no raw samples at all, or none (usable) of a case it needs, which
    the report names: a samples file that lacks it, or whose samples of it were not its record's (the warning that
    dropped them names the file)."""
    if not samples:
        return "not computed (no raw samples)"
    rows = group[group["score"].notna()]
    suite_of = dict(zip(suite_cases["case_id"], suite_cases["suite"], strict=False))
    needed = dict.fromkeys([*rows["case_id"], *rows.get("reference_case", pd.Series(dtype=object)).dropna()])
    lacking = [case for case in needed if not len(samples.get(f"{suite_of.get(case)}::{case}", ()))]
    if not lacking:
        return "not computed (no feasible case to resample)"
    return f"not computed (no usable raw samples of {first_few(lacking, 1)})"


def apply_confidence(
    decision: Decision,
    samples: Mapping[str, Sequence[float] | np.ndarray] | None,
    config: ScoringConfig,
    constraints: Mapping[str, float] | None = None,
    *,
    resamples: int = RESAMPLES,
) -> dict[tuple[str, ...], Confidence]:
    """Bootstrap every group of a decided suite, in place: the recommendation rows get ``confidence`` (text),
    ``confidence_share`` and ``near_tie``; a near tie moves the recommendation to the cheaper contender, with
    both verdicts saying why. Without raw samples the columns say so."""
    frame, found = decision.cases, {}
    group_columns = config.group_columns
    texts, share_col, tie_col, caution_col = [], [], [], []
    for _, rec in decision.recommendations.iterrows():
        group = _in_group(frame, rec, group_columns)
        result = None
        if samples and rec.get("case_id"):
            result = group_confidence(group, frame, samples, config, constraints, resamples=resamples)
        if result is None:
            texts.append(_not_computed(group, frame, samples) if rec.get("case_id") else "")
            share_col.append(np.nan)
            tie_col.append(False)
            caution_col.append(False)
            continue
        found[tuple(str(rec[c]) for c in group_columns)] = result
        if result.near_tie and result.recommended != result.best_case:
            _move_recommendation(decision, group, rec.name, result)
            follow_recommendation(
                frame, decision.recommendations, rec.name, config, decision.robustness, result.best_case
            )
        caution = _caution(group, [result.recommended, *result.contenders])
        texts.append(f"{result.summary} {caution}" if caution else result.summary)
        share_col.append(result.shares.get(result.recommended, 0.0))  # the row's case's, after a near tie too
        tie_col.append(result.near_tie)
        caution_col.append(bool(caution))
    decision.recommendations["confidence"] = texts
    decision.recommendations["confidence_share"] = share_col
    decision.recommendations["near_tie"] = tie_col
    decision.recommendations["confidence_caution"] = caution_col
    return found


def _in_group(frame: pd.DataFrame, rec: pd.Series, group_columns: Sequence[str]) -> pd.DataFrame:
    """The rows of ``frame`` in ``rec``'s group: the same value (or none) in each of ``group_columns``."""
    return frame[np.logical_and.reduce([_same(frame[c], rec.get(c)) for c in group_columns])]


BUSY = f"measured on a busy machine (threads waiting for a CPU over {CPU_WAIT_LIMIT:.0%} of the timed calls)"
"""The caution for a case whose ``extra.cpu_wait_share`` is above :data:`bench.hardware.CPU_WAIT_LIMIT`: its
latency pass warned (``BusyWarning``) and ``bench gate`` does not judge such timings. Was: a recommendation "best in
100% of 1000 resamples" on them, with no word of it on the page."""


def _caution(group: pd.DataFrame, cases: Sequence[str]) -> str:
    """The caution a confidence goes on with when one of ``cases`` (the recommendation and every case best in at least
    :data:`RIVAL_SHARE` of the resamples) was flagged ``unstable``, stopped short of ``measure.precision`` or of
    ``measure.min_rounds`` (``extra.min_rounds_cut``: a suite's ``max_time_s`` came first), or was measured on a
    busy machine (:data:`BUSY`): the
    resamples hold only this run's samples, so they cannot see the drift between windows or runs behind that flag,
    and a share of 100% would overstate what was measured. The reference case is not named: its latency divides
    every T of the group alike, so its drift moves each P in step, rarely their order. "" when none was."""
    by_case = group.drop_duplicates("case_id").set_index("case_id")
    flags: dict[str, list[str]] = {}
    for case in dict.fromkeys(c for c in cases if isinstance(c, str)):
        if case not in by_case.index:
            continue
        row = by_case.loc[case]
        if row.get("unstable") == 1:  # True, numpy's too; not None or NaN (not recorded)
            flags.setdefault("flagged unstable", []).append(case)
        if row.get("precision_reached") == 0:  # False; None (no precision asked for) is not
            flags.setdefault("short of measure.precision", []).append(case)
        cut = row.get("extra.min_rounds_cut")
        if isinstance(cut, str) and cut:  # fewer calls than the suite asked for: measure.max_time_s stopped them
            flags.setdefault("short of measure.min_rounds", []).append(case)
        wait = pd.to_numeric(pd.Series([row.get("extra.cpu_wait_share")]), errors="coerce").iloc[0]
        if wait > CPU_WAIT_LIMIT:  # a competing process slowed its calls: the timings bench gate will not judge
            flags.setdefault(BUSY, []).append(case)
    if not flags:
        return ""
    said = "; ".join(f"{', '.join(cases)} {why}" for why, cases in flags.items())
    return (
        f"Caution: {said}. The resamples hold only this run's samples, not the drift between windows "
        "or runs behind that flag, so the share may overstate how sure this is: measure again, for longer "
        "(measure.min_time_s, measure.repeats) or on a quieter machine, before relying on it."
    )


def _same(column: pd.Series, value: Any) -> pd.Series:
    return column.isna() if pd.isna(value) else column == value


def _move_recommendation(decision: Decision, group: pd.DataFrame, rec_index: Any, result: Confidence) -> None:
    frame = decision.cases
    old = group.index[group["case_id"] == result.best_case][0]
    new = group.index[group["case_id"] == result.recommended][0]
    rule = tie_rule(currency_of(frame, new))
    split = ", ".join(f"{case} {_percent(result.shares.get(case, 0.0))}" for case in result.contenders)
    split += f", an exact tie {_percent(result.tied)}" if result.tied else ""
    _move(
        frame,
        decision.recommendations,
        (old, new, rec_index),
        (
            f"recommended: near tie with {result.best_case} (P {frame.at[old, 'score']:.3f} vs "
            f"{frame.at[new, 'score']:.3f}, not separable by the measurements); {rule}"
        ),
        f"lowest P ({frame.at[old, 'score']:.3f}) but a near tie with {result.recommended}: {rule}",
        (
            f"near tie ({split} of {result.resamples} resamples): {rule}; P {frame.at[new, 'score']:.3f} against "
            f"the lowest, {frame.at[old, 'score']:.3f} of {result.best_case}"
        ),
    )


def follow_recommendation(
    cases: pd.DataFrame,
    recommendations: pd.DataFrame,
    rec_index: Any,
    config: ScoringConfig,
    robustness_by_group: dict[tuple[str, ...], Robustness],
    passed_over: str,
) -> None:
    """The weight perturbation (:func:`bench.judge.decide.robustness`) of the case a recommendation row names after
    a tie rule moved it from the lowest-P case ``passed_over`` (a near tie, here or across runs), in place on the
    row: ``stays_top_share`` (the share in which it has the lowest P), ``spearman_mean``, ``fragile`` and the
    ``robustness`` text, which names it and the lowest-P case (was: the passed-over case's line, under that case's
    name, beside the recommendation of another); and in ``robustness_by_group``, in place of the entry that
    described ``passed_over`` (found by suite and case: the group's values, rebuilt from rows that several suites'
    recommendations share, may read otherwise, batch size 1 as "1.0"). It is computed over the group's feasible
    non-dominated cases, as :func:`bench.judge.decide.decide` does, and the recommended case. Nothing changes where
    the row has no robustness to redo: not perturbed, or no recommendation."""
    rec = recommendations.loc[rec_index]
    case, said = rec.get("case_id"), rec.get("robustness")
    if not isinstance(case, str) or not isinstance(said, str) or said in ("", NOT_PERTURBED.summary):
        return
    group = _in_group(cases, rec, config.group_columns)
    dominated = group["dominated_by"].fillna("").astype(str) != "" if "dominated_by" in group else False
    candidates = (group["feasible"].astype(bool) & ~dominated) | (group["case_id"] == case)
    found = robustness(
        cases.loc[group.index[candidates]], config.weights, config.perturbation, config.stable_share, followed=case
    )
    values = {
        "stays_top_share": found.stays_top_share,
        "spearman_mean": found.spearman_mean,
        "fragile": found.fragile,
        "robustness": found.summary,
    }
    for column, value in values.items():
        recommendations.at[rec_index, column] = value
    suite = str(rec["suite"])
    for key, known in robustness_by_group.items():
        if key[0] == suite and known.top_case == passed_over:
            robustness_by_group[key] = found
            return


def _move(
    cases: pd.DataFrame, recs: pd.DataFrame, rows: tuple[Any, Any, Any], verdict: str, old_verdict: str, reasons: str
) -> None:
    """Move a group's recommendation, in place, from the case at index ``old`` of ``cases`` to the one at ``new``
    (``rows``: those two and the group's row of ``recs``), with their verdicts and the row's reasons. The case passed
    over becomes the row's runner-up (``margin``: its P minus the recommendation's, negative), and the shares of
    the case they were computed for are left empty (``stays_top_share``, until :func:`follow_recommendation` redoes
    the weight perturbation for the new case; ``confidence_share`` when the runs move it, after the resamples:
    :func:`apply_confidence` sets the recommended case's own after a near tie), so that the row's figures describe
    its case (was: runner-up the recommendation itself, and the passed-over case's shares beside the new
    recommendation)."""
    old, new, rec_index = rows
    cases.at[old, "recommended"], cases.at[new, "recommended"] = False, True
    cases.at[new, "verdict"], cases.at[old, "verdict"] = verdict, old_verdict
    recs.at[rec_index, "reasons"] = reasons
    for column in ("score", "S", "T", "A", "reference_case"):
        if column in recs.columns:
            recs.at[rec_index, column] = cases.at[new, column]
    recs.at[rec_index, "case_id"] = cases.at[new, "case_id"]
    if "runner_up" in recs.columns:
        recs.at[rec_index, "runner_up"] = cases.at[old, "case_id"]
        recs.at[rec_index, "margin"] = cases.at[old, "score"] - cases.at[new, "score"]
    for column in ("stays_top_share", "confidence_share"):  # a move across runs comes after the resamples' share
        if column in recs.columns:
            recs.at[rec_index, column] = float("nan")


EARLIER_RUNS = 20
"""How many earlier runs of a suite, those that started last before the reported one, :func:`add_earlier_runs`' caller
compares (:func:`bench.report.tables.earlier_runs`)."""


def add_earlier_runs(
    recommendations: pd.DataFrame,
    cases: pd.DataFrame,
    earlier: Sequence[pd.DataFrame],
    group_columns: Mapping[str, Sequence[str]],
    best: Mapping[tuple[str, str], str] | None = None,
    *,
    across: bool = False,
) -> None:
    """The decision across runs, in place: what the bootstrap cannot see.

    ``earlier`` holds the decided cases (:attr:`bench.judge.decide.Decision.cases`) of earlier runs of the same
    suite on this machine, scored with this run's weights, constraints and prices; ``group_columns`` gives each
    suite's :attr:`~bench.judge.scoring.ScoringConfig.group_columns`. For each recommendation row, an earlier run
    counts when its group measured and scored the same cases (``ok`` with a P, by case id) as this run's; its
    lowest-P feasible case (its own recommendation) is compared with this run's, ``best`` ((suite, the row's
    ``case_id``) -> case id; default the row's ``case_id``): the lowest-P case before a near tie moved the
    recommendation. (Not by group key: the concatenated rows of several suites need not keep each group's values as
    they were, 1 -> 1.0.)
    Adds ``earlier_runs`` (text, empty when no earlier run counts), ``earlier_runs_compared`` and
    ``earlier_runs_agree`` (how many had the same lowest-P case), ``runs_disagree`` and ``across_runs_tie``.

    With ``across`` (``bench report --across-runs``) the runs decide, this one among them, each a vote for the case
    that had its lowest P, as the resamples do within a run: when the case with the most votes has fewer than
    :data:`CONFIDENT_SHARE` of them while another has at least :data:`RIVAL_SHARE`, the runs cannot tell those cases
    apart, so among them and this run's recommendation the cheaper, then the smaller, then the lower-P one (by this
    run's figures) is recommended (``across_runs_tie``); otherwise the case with the most votes is, unless it is
    this run's lowest-P case: then the runs agree with this run, and its recommendation stands, its own near tie
    included. The move is made in ``recommendations`` and ``cases`` alike, verdicts and reasons saying why."""
    texts, compared_col, agree_col, disagree_col, tie_col = [], [], [], [], []
    for index, rec in recommendations.iterrows():
        columns = group_columns.get(str(rec.get("suite")), ())
        this = (best or {}).get((str(rec.get("suite")), str(rec.get("case_id")))) or rec.get("case_id")
        group = _in_group(cases, rec, columns) if columns else cases.iloc[:0]
        own = _ok_cases(group)
        counts: dict[str, int] = {}
        for frame in earlier if isinstance(this, str) and own else ():
            if not all(c in frame.columns for c in columns):
                continue
            theirs = _in_group(frame, rec, columns)
            if _ok_cases(theirs) != own:
                continue
            picked = theirs.loc[theirs["recommended"].astype(bool), "case_id"]
            name = str(picked.iloc[0]) if len(picked) else NO_FEASIBLE
            counts[name] = counts.get(name, 0) + 1
        compared, agree = sum(counts.values()), counts.get(this, 0) if isinstance(this, str) else 0
        text = _earlier_text(this, counts) if compared else ""
        tie = False
        if across and compared and agree < compared:
            moved, tie = _tie_across_runs(cases, recommendations, group, index, this, counts)
            text = f"{text} {moved}" if moved else text
        texts.append(text)
        compared_col.append(compared)
        agree_col.append(agree)
        disagree_col.append(agree < compared)
        tie_col.append(tie)
    recommendations["earlier_runs"] = texts
    recommendations["earlier_runs_compared"] = compared_col
    recommendations["earlier_runs_agree"] = agree_col
    recommendations["runs_disagree"] = disagree_col
    recommendations["across_runs_tie"] = tie_col


NO_FEASIBLE = "no feasible case"
"""What an earlier run's lowest-P case is counted as when none of its group's cases met the constraints."""


def _tie_across_runs(
    cases: pd.DataFrame, recs: pd.DataFrame, group: pd.DataFrame, rec_index: Any, this: str, counts: dict[str, int]
) -> tuple[str, bool]:
    """The decision across this run and the earlier ones (``counts``: each earlier run's lowest-P case), in place
    (:func:`add_earlier_runs`): what it decided ("" when it leaves this run's recommendation as it is), and whether
    the runs were a near tie."""
    runs = sum(counts.values()) + 1
    tally = {**counts, this: counts.get(this, 0) + 1}
    ordered = sorted(
        ((case, n) for case, n in tally.items() if case != NO_FEASIBLE),
        key=lambda item: (-item[1], item[0] != this, item[0]),
    )
    (top, votes), others = ordered[0], ordered[1:]
    rivals = [case for case, n in others if n / runs >= RIVAL_SHARE]
    tie = votes / runs < CONFIDENT_SHARE and bool(rivals)
    recommended = recs.at[rec_index, "case_id"]
    feasible = group[group["feasible"].astype(bool)]
    rule = tie_rule(currency_of(group, group.index[0]))
    split = ", ".join(f"{case} in {n}" for case, n in ordered if case == top or case in rivals)
    if tie:
        contenders = feasible[feasible["case_id"].isin({top, *rivals, recommended})].drop_duplicates("case_id")
        pick = contenders.at[min(contenders.index, key=lambda i: _cheaper(contenders, i)), "case_id"]
        said = f"Across these {runs} runs, this one among them, a near tie (--across-runs); {rule}: {pick}"
        why = f"near tie across runs (lowest P {split} of {runs} runs on this machine): {rule}"
        verdict = f"recommended: near tie across runs (lowest P {split} of {runs} runs); {rule}"
    elif top != this and top in set(feasible["case_id"]):  # this run was the odd one out
        pick = top
        said = f"Across these {runs} runs, this one among them (--across-runs), {top} had the lowest P in {votes}"
        verdict = f"recommended: the lowest P in {votes} of {runs} runs on this machine (--across-runs)"
        why = verdict.removeprefix("recommended: ")
    else:  # the runs agree with this run: its decision stands, its own near-tie rule included
        return "", False
    if pick == recommended:
        return f"{said}, as recommended.", tie
    old = group.index[group["case_id"] == recommended][0]
    new = group.index[group["case_id"] == pick][0]
    lowest = group.index[group["case_id"] == this][0]
    if lowest not in (old, new):  # its verdict named the recommendation the runs moved away from
        cases.at[lowest, "verdict"] = f"lowest P ({cases.at[lowest, 'score']:.3f}) in this run; across runs: {pick}"
    _move(
        cases,
        recs,
        (old, new, rec_index),
        verdict,
        f"{cases.at[old, 'verdict'].split(':', 1)[0]} by this run alone; across runs: {pick}",
        f"{why}; P {cases.at[new, 'score']:.3f} against {cases.at[old, 'score']:.3f} of {recommended}",
    )
    confidence = recs.at[rec_index, "confidence"] if "confidence" in recs.columns else ""
    if isinstance(confidence, str) and confidence and not confidence.startswith("not computed"):
        # the resamples are this run's alone: said so, where the recommendation they spoke of has moved
        recs.at[rec_index, "confidence"] = f"in this run alone: {confidence}"
    return f"{said}, not {recommended}.", tie


def _ok_cases(rows: pd.DataFrame) -> frozenset[str]:
    """The ``ok`` case ids of ``rows`` (one group) that were scored: an ``ok`` case without a P (its accuracy missing
    while the others have it, no size or latency) takes no part in its run's order, so a run that has one cannot say
    which of the cases had the lowest P."""
    measured = rows["status"] == "ok"
    if "score" in rows.columns:
        measured &= pd.to_numeric(rows["score"], errors="coerce").notna()
    return frozenset(rows.loc[measured, "case_id"].astype(str))


def _earlier_text(this: str, counts: Mapping[str, int]) -> str:
    compared = sum(counts.values())
    runs = {1: "the one earlier run", 2: "both earlier runs"}.get(compared, f"all {compared} earlier runs")
    if counts.get(this, 0) == compared:
        return f"{this} had the lowest P in {runs} of these cases on this machine too."
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0] != this, item[0]))
    split = ", ".join(f"{case} in {n}" for case, n in ordered)
    return (
        f"the order changes between runs: of {counted(compared, 'earlier run')} of these cases on this machine, the "
        f"lowest P was {split} ({this} in this run). One run's resamples cannot show that: measure again, or for "
        "longer, before relying on it."
    )

"""Deciding from scored cases: constraints, the Pareto front, robustness to the weights, and the recommendation.

It reads what :mod:`bench.judge.scoring` produced and never measures. See ``docs/scoring.md``.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from bench import checks, metrics
from bench.errors import SuiteError, percent
from bench.judge.scoring import ScoringConfig, Weights, term_matrix


@dataclass(frozen=True)
class Constraint:
    """One hard limit: ``column`` must stay at or below (``max``) or at or above (``min``) the limit."""

    key: str
    column: str
    kind: str  # "max" | "min"
    unit: str
    help: str


CONSTRAINTS: dict[str, Constraint] = {
    key: Constraint(key, m.name, kind, m.unit, m.label) for key, (m, kind) in metrics.limits().items()
}
"""The ``constraints:`` keys, from the metric table's ``limit`` column."""


def validate_constraints(value: Any, where: str = "constraints") -> dict[str, Any]:
    """Check a suite's ``constraints:`` section: known keys, non-negative numbers."""
    section = checks.mapping(value, where, tuple(CONSTRAINTS))
    for key, limit in section.items():
        checks.number(limit, f"{where}.{key}")
        if key in ("accuracy_min", "accuracy_drop_max") and limit > 1:
            raise SuiteError(None, f"{where}.{key}", f"is a fraction of 1 (0.01 = 1 point), got {limit}")
    return section


# -------------------------------------------------------------------------------------- constraints


def _format(value: float) -> str:
    return f"{value:.4g}"


_TOLERANCE = 1e-9  # 0.90 - 0.89 is 0.010000000000000009: a limit met exactly must count as met


def violations(row: Mapping[str, Any], constraints: Mapping[str, float]) -> list[str]:
    """Why a case breaks the constraints, one string per broken limit (a value not measured breaks it too). A money
    limit names the row's currency (its suite's ``prices.currency``): ``cost_per_1m 0.5 EUR > 0.3 EUR``."""
    reasons = []
    for key, limit in constraints.items():
        spec = CONSTRAINTS[key]
        value = row.get(spec.column)
        value = float("nan") if value is None else float(value)
        unit = metrics.shown_unit(spec.column, row.get("currency"))
        unit = f" {unit}" if unit else ""
        if math.isnan(value):
            reasons.append(f"{key}: {_unknown(spec, row)}, cannot check")
        elif spec.kind == "max" and value > limit + _TOLERANCE * max(1.0, abs(limit)):
            reasons.append(f"{spec.column} {_format(value)}{unit} > {_format(limit)}{unit} ({key})")
        elif spec.kind == "min" and value < limit - _TOLERANCE * max(1.0, abs(limit)):
            reasons.append(f"{spec.column} {_format(value)}{unit} < {_format(limit)}{unit} ({key})")
    return reasons


def _unknown(spec: Constraint, row: Mapping[str, Any]) -> str:
    """Why a limit's value is missing: not measured; or, for a money figure, no price for the case's hardware, which
    its ``price_missing`` says (:func:`bench.judge.cost.add_costs`; was: "cost_per_1m not measured" for a GPU
    missing from the price table, whose latency and throughput were measured: the fix is a price, not a
    measurement)."""
    missing = row.get("price_missing")
    if metrics.METRICS[spec.column].money and isinstance(missing, str) and missing:
        return f"{spec.column} not computed ({missing})"
    return f"{spec.column} not measured"


# ----------------------------------------------------------------------------------------- pareto


def pareto_front(values: np.ndarray) -> tuple[np.ndarray, list[list[int]]]:
    """Non-dominated rows of ``values`` (rows = cases, columns = objectives to minimise).

    Returns the front mask and, per row, the rows dominating it. A row dominates another when it is no worse in
    every objective and better in at least one. NaN counts as the worst value.
    """
    filled = np.where(np.isnan(values), np.inf, values)
    dominators: list[list[int]] = []
    for row in filled:  # one vectorised comparison per row: thousands of cases take seconds, not minutes
        dominates = np.all(filled <= row, axis=1) & np.any(filled < row, axis=1)  # never the row itself
        dominators.append(np.flatnonzero(dominates).tolist())
    return np.array([not d for d in dominators], dtype=bool), dominators


OBJECTIVE_NAMES = metrics.objectives()


def objectives(frame: pd.DataFrame, columns: tuple[str, ...]) -> list[str]:
    """Objective columns present (not all empty) in ``frame``; ``one_minus_accuracy`` stands for 1-A."""
    return [c for c in columns if c in frame.columns and pd.to_numeric(frame[c], errors="coerce").notna().any()]


# ---------------------------------------------------------------------------------------- robustness


@dataclass(frozen=True)
class Robustness:
    """How stable the top configuration is when each weight moves by ±perturbation (a 3-point grid per weight).

    ``top_case`` is the case the figures describe: the lowest-P one, or the recommendation that a tie rule chose
    over it (:func:`robustness`'s ``followed``); ``stays_top_share`` is the share of perturbations in which it has
    the lowest P."""

    top_case: str | None
    candidates: int
    perturbations: int
    stays_top_share: float
    spearman_mean: float
    spearman_min: float
    fragile: bool
    summary: str


ONLY_ONE = "only one feasible non-dominated configuration: nothing to re-rank"
"""The robustness of a group with one candidate (was "only one feasible configuration", beside dominated feasible
cases in the same group)."""
NOT_PERTURBED = Robustness(None, 0, 0, float("nan"), float("nan"), float("nan"), False, "not computed")
"""The robustness of a group that :func:`decide` was asked not to perturb."""


def robustness(
    frame: pd.DataFrame,
    weights: Weights,
    perturbation: float = 0.2,
    stable_share: float = 0.8,
    *,
    followed: str | None = None,
) -> Robustness:
    """Perturb every non-zero weight by -p, 0, +p (all combinations) and re-rank ``frame``'s scored rows.

    The share counted is that of the lowest-P case, or of ``followed`` (one of ``frame``'s cases): the case a tie
    rule recommended instead (:mod:`bench.judge.confidence`), so that the figures beside a recommendation describe
    that case, and say which case has the lowest P (was: the passed-over case's share, under its name, beside the
    recommendation of another)."""
    from scipy.stats import spearmanr

    rows = frame[frame["score"].notna()]
    rows = rows.loc[sorted(rows.index, key=lambda i: _tie_break(rows, i))]  # argmin keeps the first of equals
    base = np.array(list(weights.as_dict().values()))
    if rows.empty:
        return Robustness(None, 0, 0, float("nan"), float("nan"), float("nan"), False, "no scored configuration")
    terms = term_matrix(rows)
    base_scores = terms @ base
    lowest = str(rows["case_id"].iloc[int(np.argmin(base_scores))])
    top_case = lowest if followed is None else followed
    top = rows["case_id"].astype(str).tolist().index(top_case)
    if len(rows) == 1:
        # decide() passes the feasible non-dominated cases: the group may hold more feasible ones, dominated
        return Robustness(top_case, 1, 0, 1.0, float("nan"), float("nan"), False, ONLY_ONE)
    active = [k for k, weight in enumerate(base) if weight > 0]
    stays, correlations, count = 0, [], 0
    for factors in itertools.product((1 - perturbation, 1.0, 1 + perturbation), repeat=len(active)):
        perturbed = base.copy()
        perturbed[active] = base[active] * np.array(factors)
        scores = terms @ perturbed
        count += 1
        stays += int(np.argmin(scores) == top)
        if np.ptp(scores) > 0 and np.ptp(base_scores) > 0:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                correlations.append(float(spearmanr(base_scores, scores).statistic))
    share = stays / count
    rho_mean = float(np.mean(correlations)) if correlations else float("nan")
    rho_min = float(np.min(correlations)) if correlations else float("nan")
    fragile = share < stable_share
    correlation = (
        f"Spearman rank correlation mean {rho_mean:.2f}, min {rho_min:.2f}"
        if correlations  # P ties under every weighting: no order to correlate (ties go to cost per 1M, then latency)
        else f"no rank correlation: the {len(rows)} configurations tie on P under every weighting"
    )
    said = _perturbed_text(top_case, lowest, share, stable_share)
    summary = f"{said[0]} of {count} weight perturbations (±{perturbation:.0%} on each weight); {correlation}. " + (
        said[1] if fragile else "Robust to the weights."
    )
    return Robustness(top_case, len(rows), count, share, rho_mean, rho_min, fragile, summary)


def _perturbed_text(case: str, lowest: str, share: float, stable_share: float) -> tuple[str, str]:
    """How a robustness line begins (who has the lowest P in how many perturbations), and what it says when that is
    below ``stable_share``; a case that a tie rule recommended over the lowest-P ``lowest`` names that case, and the
    rule as what chose it."""
    shown, below = percent(share, stable_share), f"{stable_share:.0%}"
    if case == lowest:
        return (
            f"{case} stays top in {shown}",
            f"FRAGILE: the recommendation changes with small changes of the weights (below {below}).",
        )
    return (
        f"{case}, recommended although {lowest} has the lowest P (see the reasons), has the lowest P in {shown}",
        f"FRAGILE: it has the lowest P in fewer than {below} of them; the rule in the reasons, not P, chose it.",
    )


# ---------------------------------------------------------------------------------------- decisions


@dataclass
class Decision:
    """The verdict of one suite: every case with its verdict, and the recommendation per hardware target."""

    cases: pd.DataFrame
    recommendations: pd.DataFrame
    robustness: dict[tuple[str, ...], Robustness] = field(default_factory=dict)


def _tie_break(frame: pd.DataFrame, i: Any) -> tuple[float, float]:
    """Equal scores (e.g. the fp32 references at 1 and 2 threads) go to the cheaper, then the faster case."""
    cost = frame.at[i, "cost_per_1m"] if "cost_per_1m" in frame.columns else float("nan")
    cost = float("inf") if pd.isna(cost) else float(cost)
    return (cost, float(frame.at[i, "latency_ms"]))


def currency_of(frame: pd.DataFrame, i: Any) -> str | None:
    """The currency row ``i``'s money is in (its suite's ``prices.currency``), or ``None`` where it was not costed."""
    currency = frame.at[i, "currency"] if "currency" in frame.columns else None
    return currency if isinstance(currency, str) and currency else None


def _preference(frame: pd.DataFrame, i: Any) -> tuple[float, float, float]:
    return (frame.at[i, "score"], *_tie_break(frame, i))


def _explain_domination(frame: pd.DataFrame, i: int, j: int, columns: list[str], statistic: str = "") -> str:
    better = [
        _within_noise(frame, i, j, statistic) if c == "latency_ms" else OBJECTIVE_NAMES.get(c, c)
        for c in columns
        if frame.at[j, c] < frame.at[i, c]
    ]
    return f"{frame.at[j, 'case_id']} ({', '.join(better)})"


def _within_noise(frame: pd.DataFrame, i: Any, j: Any, statistic: str) -> str:
    """ "faster" for case ``j``'s lower latency than ``i``'s, or "faster within the p50s' 95% intervals" when those
    intervals overlap (the score uses the p50): a difference the measurement does not separate. Was: "faster"
    alone, for a case whose p50 interval reached into the other's."""
    name = OBJECTIVE_NAMES.get("latency_ms", "faster")
    if statistic != "p50" or not {"latency_p50_ci_low_ms", "latency_p50_ci_high_ms"} <= set(frame.columns):
        return name
    low = pd.to_numeric(pd.Series([frame.at[i, "latency_p50_ci_low_ms"]]), errors="coerce").iloc[0]
    high = pd.to_numeric(pd.Series([frame.at[j, "latency_p50_ci_high_ms"]]), errors="coerce").iloc[0]
    return f"{name} within the p50s' 95% intervals" if high >= low else name


def decide(
    scored: pd.DataFrame,
    constraints: Mapping[str, float] | None = None,
    config: ScoringConfig | None = None,
    *,
    perturb: bool = True,
) -> Decision:
    """Constraints, Pareto fronts, a verdict per case and the best case per group (hardware target, batch size).

    Adds ``violations``, ``feasible``, ``pareto`` (front over latency, size, 1-A among the scored cases of the
    group; in a group whose reference case did not run, among its ok cases, since a front needs no reference),
    ``pareto_cost`` (over cost, energy, 1-A where present), ``dominated_by``, ``verdict`` and
    ``recommended``, and ranks every scored case of a group by P (ties: non-dominated, cheaper, faster first).
    The recommendation is the first feasible case in that order; every case above it breaks a constraint. A group
    whose cases have no reference case (``reference_missing``, see :func:`bench.judge.scoring.score`) gets no
    recommendation, and its row's ``reasons`` and ``reference_missing`` say why. ``perturb=False`` leaves out the
    weight perturbation (:func:`robustness`), for a caller that wants only the decision.
    """
    config = config or ScoringConfig()
    constraints = dict(constraints or {})
    frame = scored.copy()
    frame["one_minus_accuracy"] = 1.0 - pd.to_numeric(frame["A"], errors="coerce")
    scored_ok = frame["score"].notna()
    frame["violations"] = [
        "; ".join(violations(row, constraints)) if scored_ok[i] else "" for i, row in frame.iterrows()
    ]
    frame["feasible"] = scored_ok & (frame["violations"] == "")
    frame["pareto"] = False
    frame["pareto_cost"] = pd.Series([None] * len(frame), dtype=object)
    frame["dominated_by"] = ""
    frame["verdict"] = ""
    frame["recommended"] = False
    recommendations, robust = [], {}
    group_columns = config.group_columns
    for group_key, group in frame.groupby(group_columns, dropna=False, sort=False):
        labels = dict(zip(group_columns, group_key, strict=False))
        members = group.index[scored_ok[group.index]]
        main = _mark_fronts(frame, members if len(members) else _unreferenced(group), config)
        ordered = _rank_group(frame, members, main, config.latency)
        for i in group.index:
            if not scored_ok[i]:
                frame.at[i, "verdict"] = frame.at[i, "score_note"]
            elif not frame.at[i, "feasible"]:
                frame.at[i, "verdict"] = "violates " + frame.at[i, "violations"]
        result = (
            robustness(frame.loc[ordered], config.weights, config.perturbation, config.stable_share)
            if perturb
            else NOT_PERTURBED
        )
        robust[tuple(str(k) for k in group_key)] = result
        recommendations.append(_recommend(frame, group, members, ordered, result, labels, constraints, config))
    frame["rank"] = pd.to_numeric(frame["rank"], errors="coerce").astype("Int64")
    return Decision(frame.drop(columns="one_minus_accuracy"), pd.DataFrame(recommendations), robust)


def reference_missing(frame: pd.DataFrame) -> pd.Series:
    """Which rows' ``reference_missing`` says why their group's reference case did not run (all False without the
    column)."""
    if "reference_missing" not in frame.columns:
        return pd.Series(False, index=frame.index)
    return frame["reference_missing"].fillna("").astype(str) != ""


def _unreferenced(group: pd.DataFrame) -> pd.Index:
    """The ok cases of a group left without a score because its reference case did not run: their front compares
    their measured latency, size and 1-A with each other, which needs no reference."""
    return group.index[((group["status"] == "ok") & reference_missing(group)).to_numpy()]


def _mark_fronts(frame: pd.DataFrame, members: pd.Index, config: ScoringConfig) -> list[str]:
    """Mark the group's Pareto fronts (latency, size, 1-A; and cost, energy, 1-A); returns the main objectives.

    With a training weight, training time (``Ttrain``) is an objective too, so that a case that another dominates
    never has the lower P: P is then monotone in every objective of the front."""
    train = ("Ttrain",) if config.weights.train > 0 else ()
    main = objectives(frame.loc[members], ("latency_ms", "model_size_bytes", "one_minus_accuracy", *train))
    if len(members):
        front, _ = pareto_front(frame.loc[members, main].to_numpy(float))
        frame.loc[members, "pareto"] = front
        cost_cols = objectives(frame.loc[members], ("cost_per_1m", "energy_j_per_item"))
        if cost_cols:
            front, _ = pareto_front(frame.loc[members, [*cost_cols, *main[2:]]].to_numpy(float))
            frame.loc[members, "pareto_cost"] = list(front)
    return main


def _rank_group(frame: pd.DataFrame, members: pd.Index, main: list[str], statistic: str = "") -> list[Any]:
    """Rank the group's scored cases and give the feasible ones their verdicts; returns the feasible
    non-dominated cases, best first."""
    feasible = [i for i in members if frame.at[i, "feasible"]]
    _, dominators = pareto_front(frame.loc[feasible, main].to_numpy(float)) if feasible else (None, [])
    dominated = {i for i, by in zip(feasible, dominators, strict=True) if by}
    # One reference per group makes P monotone in every objective of the front: a dominated case never has a lower
    # P than the case dominating it, so the lowest P among the feasible cases is on the front (on equal P the
    # non-dominated case goes first). The rank is the P order over every scored case of the group.
    ordered = sorted((i for i in feasible if i not in dominated), key=lambda i: _preference(frame, i))
    best = ordered[0] if ordered else None
    by_p = sorted(members, key=lambda i: (frame.at[i, "score"], i in dominated, *_tie_break(frame, i)))
    for rank, i in enumerate(by_p, 1):
        frame.at[i, "rank"] = rank
    preference = {i: _preference(frame, i) for i in feasible}  # once per case, not once per dominated pair
    names = {i: frame.at[i, "case_id"] for i in feasible}
    for position, i in enumerate(feasible):
        by = [feasible[k] for k in dominators[position]]
        if by:
            by.sort(key=preference.__getitem__)
            frame.at[i, "dominated_by"] = ", ".join(names[k] for k in by)
            frame.at[i, "verdict"] = "dominated by " + _explain_domination(frame, i, by[0], main, statistic)
        elif i != best:
            relation = ">" if frame.at[i, "score"] > frame.at[best, "score"] else _tie_text(frame, i, best)
            mine, theirs = _scores_text(frame.at[i, "score"], frame.at[best, "score"])
            frame.at[i, "verdict"] = (
                f"{_front_text(frame, i)}, but P {mine} {relation} {theirs} of {frame.at[best, 'case_id']}"
            )
    return ordered


def digits_apart(values: Iterable[float], write: Callable[[float, int], str], digits: range) -> int:
    """The fewest of ``digits`` at which ``write(value, d)`` tells apart every two neighbours of ``values`` (in their
    order) that differ, or the first of ``digits`` where none does: the texts, charts and tables that show P write
    close scores this way, so that none reads "P 1.010 > 1.010" (scores equal to the last digit then read as tied)."""
    pairs = [(a, b) for a, b in itertools.pairwise(values) if a != b]
    return next((d for d in digits if all(write(a, d) != write(b, d) for a, b in pairs)), digits[0])


def decimals(value: float, digits: int) -> str:
    """``value`` with ``digits`` decimals: how verdicts, reasons and the score chart write P (:func:`digits_apart`)."""
    return f"{value:.{digits}f}"


def _scores_text(p: float, other: float) -> tuple[str, str]:
    """Two scores written with 3 decimals, or with as many more (up to 9) as it takes to tell them apart
    (:func:`digits_apart`; was: 3 decimals always, hiding a difference under 0.0005)."""
    digits = digits_apart((p, other), decimals, range(3, 10))
    return decimals(p, digits), decimals(other, digits)


def _front_text(frame: pd.DataFrame, i: Any) -> str:
    """Which front a feasible case that no feasible case dominates is on: the group's (column ``pareto``), or only
    the feasible cases' when a case that breaks a constraint dominates it (was: "on the Pareto front" on a row whose
    ``pareto`` column said no)."""
    if frame.at[i, "pareto"]:
        return "on the Pareto front"
    return "on the feasible cases' Pareto front (dominated only by cases that break a constraint)"


def _tie_text(frame: pd.DataFrame, i: Any, best: Any) -> str:
    """How case ``i`` lost a tie on P to ``best``: on cost per 1M, then latency (the tie rule); or, equal on those
    too, an exact tie that only the order of the records decided (was: "tie lost on USD per 1M, then latency" for
    two cases of identical figures, a loss on figures that were equal)."""
    per_million = metrics.per_million(currency_of(frame, best))
    if _tie_break(frame, i) == _tie_break(frame, best):
        return f"= (an exact tie: the same {per_million} and latency; the first recorded is recommended)"
    return f"= (tie lost on {per_million}, then latency)"


def _excluded_text(frame: pd.DataFrame, cases: pd.Index, members: pd.Index, ordered: list[Any]) -> str:
    """Why the group's other cases were not candidates, counted by reason: those that break a constraint, those a
    feasible case dominates, those without a score (failed, skipped, a figure missing). Was one count of them all
    called "excluded", which read as if each broke a constraint."""
    scored = set(members)
    infeasible = sum(1 for i in scored if not frame.at[i, "feasible"])
    dominated = len(scored) - infeasible - len(ordered)
    parts = [
        (infeasible, "break a constraint"),
        (dominated, "dominated"),
        (len(cases) - len(scored), "not scored"),
    ]
    said = ", ".join(f"{count} {what}" for count, what in parts if count)
    return f"not candidates: {said} (see verdicts)" if said else ""


def _recommend(frame, group, members, ordered, result, labels, constraints, config) -> dict[str, Any]:
    """The group's recommendation row (and the best case's verdict), or why there is none."""
    missing = next((r for r in group.get("reference_missing", ()) if isinstance(r, str) and r), None)
    if missing and not len(members):  # measured, but nothing to be relative to: say so, never a silent blank
        reason = (
            f"not scored: {missing}; S, T and P are relative to that case, so this group has no score, rank or "
            "recommendation (its measured figures are in the ranking table)"
        )
        return {**labels, "case_id": None, "reasons": reason, "robustness": "", "reference_missing": missing}
    if not ordered:
        if len(members):
            reason = "no case meets the constraints"
        else:
            statuses = group["status"].value_counts().to_dict()
            counts = "(" + ", ".join(f"{n} {s}" for s, n in statuses.items()) + ")"
            measured = group["status"] == "ok"
            if measured.any():  # measured, yet none could be scored: say why, as its rows do
                notes = group.loc[measured, "score_note"] if "score_note" in group else []
                note = next((n.removeprefix("not scored: ") for n in notes if isinstance(n, str) and n), "")
                reason = f"no case could be scored {counts}" + (f": {note}" if note else "")
            else:
                first_error = next((e for e in group["error"] if isinstance(e, str) and e), "")
                reason = f"no case measured {counts}" + (f": {first_error}" if first_error else "")
        return {**labels, "case_id": None, "reasons": reason, "robustness": "", "reference_missing": None}
    best = ordered[0]
    frame.at[best, "recommended"] = True
    runner_up = ordered[1] if len(ordered) > 1 else None
    other = frame.at[runner_up, "score"] if runner_up is not None else frame.at[best, "score"]
    best_p, runner_up_p = _scores_text(frame.at[best, "score"], other)
    reasons = [f"lowest P among {len(ordered)} feasible non-dominated case(s): {best_p}"]
    if runner_up is not None:
        reasons.append(f"runner-up {frame.at[runner_up, 'case_id']} P {runner_up_p}")
    reasons.append(_terms_text(frame, best, config))
    if constraints:
        reasons.append(f"meets {', '.join(constraints)}")
    excluded = _excluded_text(frame, group.index, members, ordered)
    if excluded:
        reasons.append(excluded)
    frame.at[best, "verdict"] = "recommended: " + reasons[0]
    return {
        **labels,
        "case_id": frame.at[best, "case_id"],
        "score": frame.at[best, "score"],
        "S": frame.at[best, "S"],
        "T": frame.at[best, "T"],
        "A": frame.at[best, "A"],
        "reference_case": frame.at[best, "reference_case"],
        "runner_up": frame.at[runner_up, "case_id"] if runner_up is not None else None,
        "margin": (frame.at[runner_up, "score"] - frame.at[best, "score"]) if runner_up is not None else None,
        "stays_top_share": result.stays_top_share,
        "spearman_mean": result.spearman_mean,
        "fragile": result.fragile,
        "robustness": result.summary,
        "reasons": "; ".join(reasons),
        "reference_missing": None,
    }


def _terms_text(frame: pd.DataFrame, i: int, config: ScoringConfig) -> str:
    w = config.weights
    parts = [f"S={frame.at[i, 'S']:.3f}", f"T={frame.at[i, 'T']:.3f} ({config.latency})"]
    if frame.at[i, "accuracy_term"]:
        parts.append(f"A={frame.at[i, 'A']:.4f}")
    elif w.accuracy:
        parts.append("accuracy not measured (term left out)")
    if w.train:
        parts.append(f"Ttrain={frame.at[i, 'Ttrain']:.3f}")
    return f"size and latency vs reference {frame.at[i, 'reference_case']}: " + ", ".join(parts)

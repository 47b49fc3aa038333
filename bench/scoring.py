"""Judging a run: the composite score P, weight profiles, constraints, the Pareto front and the recommendation.

Scoring only reads records (:func:`bench.results.load`); it never measures. The formulas are in ``docs/scoring.md``::

    P = wS*S + wT*T + wA*(1 - A) + wTtrain*Ttrain        (lower is better)

    S = model_size_bytes / reference's     T = latency statistic / reference's     A = accuracy in [0, 1]
    Ttrain = train_time_s / train_budget_s (or / the largest train_time_s in the suite)

The reference of a case is, by default, the ``fp32`` ``eager`` case of the same model on the same device, thread
count and batch size (``scoring.reference`` changes it). A case without a reference is an error, never a NaN.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from bench import metrics
from bench.errors import BenchError, SuiteError, did_you_mean

# ------------------------------------------------------------------------------------------ weights


@dataclass(frozen=True)
class Weights:
    """Weights of the four terms of P. They need not sum to 1: only their ratios change the ranking."""

    size: float
    latency: float
    accuracy: float
    train: float = 0.0

    def as_dict(self) -> dict[str, float]:
        return {"size": self.size, "latency": self.latency, "accuracy": self.accuracy, "train": self.train}


@dataclass(frozen=True)
class Profile:
    """A named set of weights and a latency statistic for one kind of workload, with the reasoning behind it."""

    name: str
    weights: Weights
    latency: str
    reasoning: str


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile(
            "recommendation",
            Weights(size=0.4, latency=0.6, accuracy=0.1, train=0.0),
            "p50",
            "CTR/ranking models score hundreds of candidates per request on CPU fleets with huge embedding tables: "
            "memory (size) decides how many replicas fit a host and latency decides the candidate budget; "
            "small AUC changes are tolerated because ranking is re-tuned online, so accuracy weighs least.",
        ),
        Profile(
            "search",
            Weights(size=0.2, latency=0.4, accuracy=0.4, train=0.0),
            "p95",
            "Query embedding for semantic search: a lost relevant product is lost revenue, so recall weighs as much "
            "as latency; the p95 is used because a query fans out and waits for its slow shards; the model is "
            "small next to the index, so size weighs least.",
        ),
        Profile(
            "chat",
            Weights(size=0.1, latency=0.7, accuracy=0.2, train=0.0),
            "p99",
            "Chat and other real-time paths: a user waits on every call, so tail latency (p99) dominates; quality "
            "must not collapse but small drops are acceptable; memory is provisioned per GPU and weighs little.",
        ),
        Profile(
            "edge",
            Weights(size=0.6, latency=0.2, accuracy=0.2, train=0.0),
            "p50",
            "On-device models (phones, kiosks, cameras): download size and RAM are hard limits, so size dominates; "
            "one user per device makes median latency the relevant figure; accuracy keeps a real weight.",
        ),
    )
}
PROFILE_ALIASES = {"real-time": "chat", "realtime": "chat"}
DEFAULT_PROFILE = "recommendation"

LATENCY_STATISTICS: dict[str, str] = metrics.latency_statistics()
REFERENCE_AXES = ("model", "compression", "engine", "device", "threads", "batch_size")
DEFAULT_REFERENCE: dict[str, Any] = {"compression": "fp32", "engine": "eager"}
SCORING_KEYS = ("profile", "weights", "latency", "reference", "train_budget_s", "robustness", "across_batch_sizes")
WEIGHT_KEYS = ("size", "latency", "accuracy", "train")
ROBUSTNESS_KEYS = ("perturbation", "stable_share")


@dataclass(frozen=True)
class ScoringConfig:
    """How a suite is scored: weights, latency statistic, reference rule, robustness settings."""

    weights: Weights = PROFILES[DEFAULT_PROFILE].weights
    profile: str | None = DEFAULT_PROFILE
    latency: str = "p50"
    reference: tuple[tuple[str, Any], ...] = tuple(DEFAULT_REFERENCE.items())
    train_budget_s: float | None = None
    perturbation: float = 0.2
    stable_share: float = 0.8
    across_batch_sizes: bool = False

    @property
    def group_columns(self) -> list[str]:
        """Cases compete within these columns: one ranking and one recommendation per group (a hardware target;
        and a batch size, which is part of the workload -- candidates per request -- unless across_batch_sizes)."""
        return ["suite", "model", "device"] + ([] if self.across_batch_sizes else ["batch_size"])

    @classmethod
    def from_section(cls, section: Mapping[str, Any] | None) -> ScoringConfig:
        """The config of a suite's ``scoring:`` mapping (validated here too); ``None`` gives the defaults."""
        section = validate_scoring(dict(section or {}), "scoring")
        name = PROFILE_ALIASES.get(section.get("profile", ""), section.get("profile"))
        explicit = section.get("weights")
        if name is None and explicit is None:
            name = DEFAULT_PROFILE
        profile = PROFILES[name] if name else None
        base = profile.weights.as_dict() if profile else {"size": 0.0, "latency": 0.0, "accuracy": 0.0, "train": 0.0}
        weights = Weights(**{**base, **(explicit or {})})
        robustness = section.get("robustness", {})
        return cls(
            weights=weights,
            profile=name if not explicit else (f"{name} (weights overridden)" if name else "custom"),
            latency=section.get("latency", profile.latency if profile else "p50"),
            reference=tuple({**DEFAULT_REFERENCE, **(section.get("reference") or {})}.items()),
            train_budget_s=section.get("train_budget_s"),
            perturbation=robustness.get("perturbation", 0.2),
            stable_share=robustness.get("stable_share", 0.8),
            across_batch_sizes=section.get("across_batch_sizes", False),
        )

    @property
    def reference_rule(self) -> str:
        fixed = dict(self.reference)
        same = [axis for axis in REFERENCE_AXES if axis not in fixed]
        return ", ".join(f"{k}={v}" for k, v in fixed.items()) + (f"; same {', '.join(same)}" if same else "")


# --------------------------------------------------------------------------------------- validation


def _number(value: Any, key: str, *, minimum: float = 0.0, strict: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise SuiteError(None, key, f"must be a number, got {value!r}")
    if value < minimum or (strict and value == minimum):
        raise SuiteError(None, key, f"must be {'>' if strict else '>='} {minimum}, got {value}")
    return float(value)


def _mapping(value: Any, key: str, allowed: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SuiteError(None, key, f"must be a mapping with keys {', '.join(allowed)}; got {value!r}")
    for sub in value:
        if sub not in allowed:
            raise SuiteError(
                None, f"{key}.{sub}", f"unknown key.{did_you_mean(sub, allowed)} Allowed: {', '.join(allowed)}"
            )
    return value


def validate_scoring(value: Any, where: str = "scoring") -> dict[str, Any]:
    """Check a suite's ``scoring:`` section; errors name the key and the allowed values."""
    section = _mapping(value, where, SCORING_KEYS)
    if "profile" in section:
        name = section["profile"]
        known = (*PROFILES, *PROFILE_ALIASES)
        if not isinstance(name, str) or name not in known:
            raise SuiteError(
                None,
                f"{where}.profile",
                f"unknown profile {name!r}.{did_you_mean(str(name), known)} Allowed: {', '.join(known)}",
            )
    if "weights" in section:
        weights = _mapping(section["weights"], f"{where}.weights", WEIGHT_KEYS)
        for key, weight in weights.items():
            _number(weight, f"{where}.weights.{key}")
        if "profile" not in section and not any(weights.values()):
            raise SuiteError(None, f"{where}.weights", "at least one weight must be > 0")
    if "latency" in section and section["latency"] not in LATENCY_STATISTICS:
        raise SuiteError(
            None,
            f"{where}.latency",
            f"unknown statistic {section['latency']!r}. Allowed: {', '.join(LATENCY_STATISTICS)}",
        )
    if "reference" in section:
        reference = _mapping(section["reference"], f"{where}.reference", REFERENCE_AXES)
        for key, axis_value in reference.items():
            if not isinstance(axis_value, (str, int)) or isinstance(axis_value, bool):
                raise SuiteError(None, f"{where}.reference.{key}", f"must be a name or a number, got {axis_value!r}")
    if "across_batch_sizes" in section and not isinstance(section["across_batch_sizes"], bool):
        raise SuiteError(
            None, f"{where}.across_batch_sizes", f"must be true or false, got {section['across_batch_sizes']!r}"
        )
    if "train_budget_s" in section:
        _number(section["train_budget_s"], f"{where}.train_budget_s", strict=True)
    if "robustness" in section:
        robustness = _mapping(section["robustness"], f"{where}.robustness", ROBUSTNESS_KEYS)
        if "perturbation" in robustness:
            share = _number(robustness["perturbation"], f"{where}.robustness.perturbation", strict=True)
            if share >= 1:
                raise SuiteError(None, f"{where}.robustness.perturbation", f"must be < 1 (0.2 = ±20%), got {share}")
        if "stable_share" in robustness:
            share = _number(robustness["stable_share"], f"{where}.robustness.stable_share")
            if share > 1:
                raise SuiteError(None, f"{where}.robustness.stable_share", f"must be in [0, 1], got {share}")
    return section


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
    section = _mapping(value, where, tuple(CONSTRAINTS))
    for key, limit in section.items():
        _number(limit, f"{where}.{key}")
        if key in ("accuracy_min", "accuracy_drop_max") and limit > 1:
            raise SuiteError(None, f"{where}.{key}", f"is a fraction of 1 (0.01 = 1 point), got {limit}")
    return section


# ------------------------------------------------------------------------------------------- scoring


class MissingReference(BenchError):
    """A case has no reference case to be normalised against."""


def _axis_value(value: Any) -> Any:
    """A comparable form of an axis value: None for missing, ints for integral numbers, else str."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return int(value) if float(value).is_integer() else float(value)
    return str(value)


def _reference_key(row: Mapping[str, Any], fixed: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(_axis_value(fixed[a]) if a in fixed else _axis_value(row[a]) for a in REFERENCE_AXES)


def _own_key(row: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(_axis_value(row[a]) for a in REFERENCE_AXES)


def memory_mb(frame: pd.DataFrame) -> pd.Series:
    """Peak memory per case in MiB: CUDA allocator peak on a GPU, process peak RSS on the CPU."""
    cuda = pd.to_numeric(frame.get("cuda_max_allocated_mb"), errors="coerce")
    rss = pd.to_numeric(frame.get("peak_rss_mb"), errors="coerce")
    on_gpu = frame["device"].astype(str).str.startswith("cuda")
    return cuda.where(on_gpu & cuda.notna(), rss)


def latency_ms(frame: pd.DataFrame, statistic: str) -> pd.Series:
    values = pd.to_numeric(frame[LATENCY_STATISTICS[statistic]], errors="coerce")
    if statistic == "per_item":
        values = values / pd.to_numeric(frame["batch_size"], errors="coerce")
    return values


def score(frame: pd.DataFrame, config: ScoringConfig | None = None) -> pd.DataFrame:
    """The records of one suite with the score columns added.

    Adds ``latency_ms`` (the chosen statistic), ``reference_case``, ``S``, ``T``, ``A``, ``Ttrain``,
    ``accuracy_drop``, ``accuracy_term`` (whether 1-A entered P), ``score``, ``score_note`` and ``rank``
    (1 = best within :attr:`ScoringConfig.group_columns`). Rows that are not ``ok`` keep an empty score and say why.
    Raises :class:`MissingReference` when an ok case has no ok reference case.
    """
    config = config or ScoringConfig()
    out = frame.copy().reset_index(drop=True)
    fixed = dict(config.reference)
    ok = out["status"] == "ok"
    out["latency_ms"] = latency_ms(out, config.latency)
    out["memory_mb"] = memory_mb(out)
    out["model_size_mb"] = pd.to_numeric(out["model_size_bytes"], errors="coerce") / 2**20
    by_key = {_own_key(row): i for i, row in out.iterrows()}
    reference_index: dict[int, int] = {}
    for i, row in out[ok].iterrows():
        key = _reference_key(row, fixed)
        j = by_key.get(key)
        if j is None or out.at[j, "status"] != "ok":
            wanted = ", ".join(f"{a}={v}" for a, v in zip(REFERENCE_AXES, key, strict=False))
            found = f"; that case is {out.at[j, 'status']}: {out.at[j, 'error']}" if j is not None else ""
            raise MissingReference(
                f"suite {row['suite']}: case {row['case_id']} has no reference case ({wanted}){found}. "
                f"The reference rule is {config.reference_rule}; add that case to the suite, or set "
                f"scoring.reference (keys: {', '.join(REFERENCE_AXES)}) to a case that was measured"
            )
        reference_index[i] = j

    nan = float("nan")
    cols = {name: [nan] * len(out) for name in ("S", "T", "A", "accuracy_drop", "Ttrain", "score")}
    reference_case = [None] * len(out)
    notes = [""] * len(out)
    accuracy_term = [False] * len(out)
    accuracy = pd.to_numeric(out["accuracy"], errors="coerce")
    recorded_drop = pd.to_numeric(out["accuracy_drop"], errors="coerce") if "accuracy_drop" in out else accuracy * nan
    has_accuracy_by_model = accuracy[ok].notna().groupby(out.loc[ok, "model"]).agg(["any", "all"])
    train = pd.to_numeric(out["train_time_s"], errors="coerce").fillna(0.0)  # no training recorded = none done
    train_scale = config.train_budget_s or (train[ok].max() if ok.any() else 0.0)
    size = pd.to_numeric(out["model_size_bytes"], errors="coerce")
    w = config.weights
    for i in out.index:
        if not ok[i]:
            notes[i] = f"not scored: {out.at[i, 'status']}" + (f" ({out.at[i, 'error']})" if out.at[i, "error"] else "")
            continue
        j = reference_index[i]
        reference_case[i] = out.at[j, "case_id"]
        cols["S"][i] = size[i] / size[j]
        cols["T"][i] = out.at[i, "latency_ms"] / out.at[j, "latency_ms"]
        cols["Ttrain"][i] = train[i] / train_scale if train_scale else 0.0
        cols["A"][i] = accuracy[i]
        # One definition everywhere: the record's own drop (vs fp32 on the same engine and device, as measured);
        # only records that lack it (older schemas) fall back to the scoring reference.
        if not math.isnan(recorded_drop[i]):
            cols["accuracy_drop"][i] = recorded_drop[i]
        elif not math.isnan(accuracy[j]) and not math.isnan(accuracy[i]):
            cols["accuracy_drop"][i] = accuracy[j] - accuracy[i]
        model_has = has_accuracy_by_model.loc[out.at[i, "model"]]
        value = w.size * cols["S"][i] + w.latency * cols["T"][i] + w.train * cols["Ttrain"][i]
        if model_has["all"]:
            accuracy_term[i] = True
            value += w.accuracy * (1.0 - accuracy[i])
        elif model_has["any"]:
            notes[i] = "not scored: accuracy missing while other cases of this model have it"
            continue
        elif w.accuracy:
            notes[i] = "accuracy not measured for this model: the accuracy term is left out of P"
        if math.isnan(value):
            missing = [n for n in ("S", "T") if math.isnan(cols[n][i])]
            notes[i] = f"not scored: {', '.join(missing)} could not be computed (size or latency missing)"
            continue
        cols["score"][i] = value
    for name, values in cols.items():
        out[name] = values
    out["reference_case"] = reference_case
    out["accuracy_term"] = accuracy_term
    out["score_note"] = notes
    out["rank"] = out.groupby(config.group_columns, dropna=False)["score"].rank(method="min")
    return out


def term_matrix(frame: pd.DataFrame) -> np.ndarray:
    """Per row the four terms (S, T, 1-A or 0 when the accuracy term is left out, Ttrain): P = terms @ weights."""
    one_minus_a = np.where(frame["accuracy_term"].astype(bool), 1.0 - frame["A"].astype(float), 0.0)
    return np.column_stack([frame["S"].astype(float), frame["T"].astype(float), one_minus_a, frame["Ttrain"]])


# -------------------------------------------------------------------------------------- constraints


def _format(value: float) -> str:
    return f"{value:.4g}"


_TOLERANCE = 1e-9  # 0.90 - 0.89 is 0.010000000000000009: a limit met exactly must count as met


def violations(row: Mapping[str, Any], constraints: Mapping[str, float]) -> list[str]:
    """Why a case breaks the constraints, one string per broken limit (a value not measured breaks it too)."""
    reasons = []
    for key, limit in constraints.items():
        spec = CONSTRAINTS[key]
        value = row.get(spec.column)
        value = float("nan") if value is None else float(value)
        unit = f" {spec.unit}" if spec.unit and spec.unit != "$" else ""
        if math.isnan(value):
            reasons.append(f"{key}: {spec.column} not measured, cannot check")
        elif spec.kind == "max" and value > limit + _TOLERANCE * max(1.0, abs(limit)):
            reasons.append(f"{spec.column} {_format(value)}{unit} > {_format(limit)}{unit} ({key})")
        elif spec.kind == "min" and value < limit - _TOLERANCE * max(1.0, abs(limit)):
            reasons.append(f"{spec.column} {_format(value)}{unit} < {_format(limit)}{unit} ({key})")
    return reasons


# ----------------------------------------------------------------------------------------- pareto


def pareto_front(values: np.ndarray) -> tuple[np.ndarray, list[list[int]]]:
    """Non-dominated rows of ``values`` (rows = cases, columns = objectives to minimise).

    Returns the front mask and, per row, the rows dominating it. A row dominates another when it is no worse in
    every objective and better in at least one. NaN counts as the worst value.
    """
    filled = np.where(np.isnan(values), np.inf, values)
    n = len(filled)
    dominators: list[list[int]] = [[] for _ in range(n)]
    for i, j in itertools.permutations(range(n), 2):
        if np.all(filled[j] <= filled[i]) and np.any(filled[j] < filled[i]):
            dominators[i].append(j)
    return np.array([not d for d in dominators], dtype=bool), dominators


OBJECTIVE_NAMES = metrics.objectives()


def objectives(frame: pd.DataFrame, columns: tuple[str, ...]) -> list[str]:
    """Objective columns present (not all empty) in ``frame``; ``one_minus_accuracy`` stands for 1-A."""
    return [c for c in columns if c in frame.columns and pd.to_numeric(frame[c], errors="coerce").notna().any()]


# ---------------------------------------------------------------------------------------- robustness


@dataclass(frozen=True)
class Robustness:
    """How stable the top configuration is when each weight moves by ±perturbation (a 3-point grid per weight)."""

    top_case: str | None
    candidates: int
    perturbations: int
    stays_top_share: float
    spearman_mean: float
    spearman_min: float
    fragile: bool
    summary: str


def robustness(
    frame: pd.DataFrame, weights: Weights, perturbation: float = 0.2, stable_share: float = 0.8
) -> Robustness:
    """Perturb every non-zero weight by -p, 0, +p (all combinations) and re-rank ``frame``'s scored rows."""
    from scipy.stats import spearmanr

    rows = frame[frame["score"].notna()]
    rows = rows.loc[sorted(rows.index, key=lambda i: _tie_break(rows, i))]  # argmin keeps the first of equals
    base = np.array(list(weights.as_dict().values()))
    if rows.empty:
        return Robustness(None, 0, 0, float("nan"), float("nan"), float("nan"), False, "no scored configuration")
    terms = term_matrix(rows)
    base_scores = terms @ base
    top = int(np.argmin(base_scores))
    top_case = str(rows["case_id"].iloc[top])
    if len(rows) == 1:
        return Robustness(top_case, 1, 0, 1.0, float("nan"), float("nan"), False, "only one feasible configuration")
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
    pct = f"±{perturbation:.0%}"
    summary = (
        f"{top_case} stays top in {share:.0%} of {count} weight perturbations ({pct} on each weight); "
        f"Spearman rank correlation mean {rho_mean:.2f}, min {rho_min:.2f}. "
        + (
            f"FRAGILE: the recommendation changes with small changes of the weights (below {stable_share:.0%})."
            if fragile
            else "Robust to the weights."
        )
    )
    return Robustness(top_case, len(rows), count, share, rho_mean, rho_min, fragile, summary)


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


def _preference(frame: pd.DataFrame, i: Any) -> tuple[float, float, float]:
    return (frame.at[i, "score"], *_tie_break(frame, i))


def _explain_domination(frame: pd.DataFrame, i: int, j: int, columns: list[str]) -> str:
    better = [OBJECTIVE_NAMES.get(c, c) for c in columns if frame.at[j, c] < frame.at[i, c]]
    return f"{frame.at[j, 'case_id']} ({', '.join(better)})"


def decide(
    scored: pd.DataFrame, constraints: Mapping[str, float] | None = None, config: ScoringConfig | None = None
) -> Decision:
    """Constraints, Pareto fronts, a verdict per case and the best case per group (hardware target, batch size).

    Adds ``violations``, ``feasible``, ``pareto`` (front over latency, size, 1-A among the ok cases of the
    group), ``pareto_cost`` (over cost, energy, 1-A where present), ``dominated_by``, ``verdict`` and
    ``recommended``, and re-ranks: feasible non-dominated cases by P first (rank 1 is the recommendation), then
    dominated ones, then those breaking a constraint.
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
        main = objectives(frame.loc[members], ("latency_ms", "model_size_bytes", "one_minus_accuracy"))
        if len(members):
            front, _ = pareto_front(frame.loc[members, main].to_numpy(float))
            frame.loc[members, "pareto"] = front
            cost_cols = objectives(frame.loc[members], ("cost_per_1m", "energy_j_per_item"))
            if cost_cols:
                front, _ = pareto_front(frame.loc[members, [*cost_cols, *main[2:]]].to_numpy(float))
                frame.loc[members, "pareto_cost"] = list(front)
        feasible = [i for i in members if frame.at[i, "feasible"]]
        _, dominators = pareto_front(frame.loc[feasible, main].to_numpy(float)) if feasible else (None, [])
        dominated = {i for i, by in zip(feasible, dominators, strict=True) if by}
        # A dominated case cannot be the best, even when its own reference makes its P look lower (a slow
        # 2-thread fp32 reference flatters the 2-thread cases): the winner is the lowest P on the feasible front.
        ordered = sorted((i for i in feasible if i not in dominated), key=lambda i: _preference(frame, i))
        best = ordered[0] if ordered else None
        tier = {i: 0 if i in ordered else 1 if i in dominated else 2 for i in members}
        for rank, i in enumerate(sorted(members, key=lambda i: (tier[i], *_preference(frame, i))), 1):
            frame.at[i, "rank"] = rank
        for position, i in enumerate(feasible):
            by = [feasible[k] for k in dominators[position]]
            if by:
                by.sort(key=lambda k: _preference(frame, k))
                frame.at[i, "dominated_by"] = ", ".join(frame.at[k, "case_id"] for k in by)
                frame.at[i, "verdict"] = "dominated by " + _explain_domination(frame, i, by[0], main)
            elif i != best:
                relation = ">" if frame.at[i, "score"] > frame.at[best, "score"] else "= (tie lost on $/1M, latency)"
                frame.at[i, "verdict"] = (
                    f"on the Pareto front, but P {frame.at[i, 'score']:.3f} {relation} {frame.at[best, 'score']:.3f} "
                    f"of {frame.at[best, 'case_id']}"
                )
        for i in group.index:
            if not scored_ok[i]:
                frame.at[i, "verdict"] = frame.at[i, "score_note"]
            elif not frame.at[i, "feasible"]:
                frame.at[i, "verdict"] = "violates " + frame.at[i, "violations"]
        result = robustness(frame.loc[ordered], config.weights, config.perturbation, config.stable_share)
        robust[tuple(str(k) for k in group_key)] = result
        if best is None:
            if len(members):
                reason = "no case meets the constraints"
            else:
                statuses = group["status"].value_counts().to_dict()
                first_error = next((e for e in group["error"] if isinstance(e, str) and e), "")
                reason = "no case measured (" + ", ".join(f"{n} {s}" for s, n in statuses.items()) + ")"
                reason += f": {first_error}" if first_error else ""
            recommendations.append({**labels, "case_id": None, "reasons": reason, "robustness": ""})
            continue
        frame.at[best, "recommended"] = True
        runner_up = ordered[1] if len(ordered) > 1 else None
        reasons = [f"lowest P among {len(ordered)} feasible non-dominated case(s): {frame.at[best, 'score']:.3f}"]
        if runner_up is not None:
            reasons.append(f"runner-up {frame.at[runner_up, 'case_id']} P {frame.at[runner_up, 'score']:.3f}")
        reasons.append(_terms_text(frame, best, config))
        if constraints:
            reasons.append(f"meets {', '.join(constraints)}")
        excluded = len(group) - len(ordered)
        if excluded:
            reasons.append(f"{excluded} case(s) excluded (see verdicts)")
        frame.at[best, "verdict"] = "recommended: " + reasons[0]
        recommendations.append(
            {
                **labels,
                "case_id": frame.at[best, "case_id"],
                "score": frame.at[best, "score"],
                "S": frame.at[best, "S"],
                "T": frame.at[best, "T"],
                "A": frame.at[best, "A"],
                "runner_up": frame.at[runner_up, "case_id"] if runner_up is not None else None,
                "margin": (frame.at[runner_up, "score"] - frame.at[best, "score"]) if runner_up is not None else None,
                "stays_top_share": result.stays_top_share,
                "spearman_mean": result.spearman_mean,
                "fragile": result.fragile,
                "robustness": result.summary,
                "reasons": "; ".join(reasons),
            }
        )
    frame["rank"] = pd.to_numeric(frame["rank"], errors="coerce").astype("Int64")
    return Decision(frame.drop(columns="one_minus_accuracy"), pd.DataFrame(recommendations), robust)


def _terms_text(frame: pd.DataFrame, i: int, config: ScoringConfig) -> str:
    w = config.weights
    parts = [f"S={frame.at[i, 'S']:.3f}", f"T={frame.at[i, 'T']:.3f} ({config.latency})"]
    if frame.at[i, "accuracy_term"]:
        parts.append(f"A={frame.at[i, 'A']:.4f}")
    elif w.accuracy:
        parts.append("accuracy not measured (term left out)")
    if w.train:
        parts.append(f"Ttrain={frame.at[i, 'Ttrain']:.3f}")
    return "size and latency vs reference: " + ", ".join(parts)

"""Judging a run: the composite score P, weight profiles, constraints, the Pareto front and the recommendation.

Scoring only reads records (:func:`bench.results.load`); it never measures. The formulas are in ``docs/scoring.md``::

    P = wS*S + wT*T + wA*(1 - A) + wTtrain*Ttrain        (lower is better)

    S = model_size_bytes / reference's     T = latency statistic / reference's     A = accuracy in [0, 1]
    Ttrain = train_time_s / train_budget_s (or / the largest train_time_s in the suite)

The reference is one case per decision group (the cases one ranking and one Pareto front compare), by default the
``fp32`` ``eager`` case of the group's model and device at the group's first (smallest) thread count and batch size,
so P means the same thing on every row it ranks (``scoring.reference`` changes the rule). A case whose reference
case did not run (failed, skipped, or left out of the run) is not scored, and its ``score_note`` and
``reference_missing`` say why: no silent NaN, and no other reference in its place.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from bench import checks, metrics
from bench.errors import SuiteError

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
FIRST = "first"
"""A ``scoring.reference`` value for ``threads`` and ``batch_size``: the smallest value in the decision group."""
FIRST_AXES = ("threads", "batch_size")
DEFAULT_REFERENCE: dict[str, Any] = {"compression": "fp32", "engine": "eager", "threads": FIRST, "batch_size": FIRST}
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
        named = [f"{k}=the group's first" if v == FIRST else f"{k}={v}" for k, v in fixed.items()]
        return ", ".join(named) + (f"; same {', '.join(same)}" if same else "") + " (one reference per group)"


# --------------------------------------------------------------------------------------- validation


def validate_scoring(value: Any, where: str = "scoring") -> dict[str, Any]:
    """Check a suite's ``scoring:`` section; errors name the key and the allowed values."""
    section = checks.mapping(value, where, SCORING_KEYS)
    if "profile" in section:
        checks.choice(section["profile"], f"{where}.profile", (*PROFILES, *PROFILE_ALIASES), "profile")
    if "weights" in section:
        weights = checks.mapping(section["weights"], f"{where}.weights", WEIGHT_KEYS)
        for key, weight in weights.items():
            checks.number(weight, f"{where}.weights.{key}")
        named = section.get("profile")
        base = PROFILES[PROFILE_ALIASES.get(named, named)].weights.as_dict() if named else {}
        if not any({**base, **weights}.values()):
            # with a profile, weights zeroing each of its non-zero ones left P = 0 for every case, and no ranking
            kept = f" (profile {named}'s other weights are 0)" if named else ""
            raise SuiteError(None, f"{where}.weights", f"at least one weight must be > 0{kept}")
    if "latency" in section:
        checks.choice(section["latency"], f"{where}.latency", LATENCY_STATISTICS, "statistic")
    if "reference" in section:
        reference = checks.mapping(section["reference"], f"{where}.reference", REFERENCE_AXES)
        for key, axis_value in reference.items():
            if not isinstance(axis_value, (str, int)) or isinstance(axis_value, bool):
                raise SuiteError(None, f"{where}.reference.{key}", f"must be a name or a number, got {axis_value!r}")
            if axis_value == FIRST and key not in FIRST_AXES:
                raise SuiteError(
                    None, f"{where}.reference.{key}", f"'{FIRST}' is allowed for {' and '.join(FIRST_AXES)} only"
                )
            if key in FIRST_AXES and isinstance(axis_value, str) and axis_value != FIRST:  # '2' never equals 2
                raise SuiteError(None, f"{where}.reference.{key}", f"must be a number or '{FIRST}', got {axis_value!r}")
            if key not in FIRST_AXES and not isinstance(axis_value, str):  # a label 123 is the string '123'
                raise SuiteError(None, f"{where}.reference.{key}", f"must be a name, got {axis_value!r}")
    if "across_batch_sizes" in section and not isinstance(section["across_batch_sizes"], bool):
        raise SuiteError(
            None, f"{where}.across_batch_sizes", f"must be true or false, got {section['across_batch_sizes']!r}"
        )
    if "train_budget_s" in section:
        checks.number(section["train_budget_s"], f"{where}.train_budget_s", strict=True)
    if "robustness" in section:
        robustness = checks.mapping(section["robustness"], f"{where}.robustness", ROBUSTNESS_KEYS)
        if "perturbation" in robustness:
            share = checks.number(robustness["perturbation"], f"{where}.robustness.perturbation", strict=True)
            if share >= 1:
                raise SuiteError(None, f"{where}.robustness.perturbation", f"must be < 1 (0.2 = ±20%), got {share}")
        if "stable_share" in robustness:
            share = checks.number(robustness["stable_share"], f"{where}.robustness.stable_share")
            if share > 1:
                raise SuiteError(None, f"{where}.robustness.stable_share", f"must be in [0, 1], got {share}")
    return section


# ------------------------------------------------------------------------------------------- scoring


NOT_RUN = "was not run in this run"
"""Why a reference case without a record is missing, when the run's ``meta.json`` cannot tell more (see
:func:`score`'s ``absent``)."""


def _axis_value(value: Any) -> Any:
    """A comparable form of an axis value: None for missing, ints for integral numbers, else str."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return int(value) if float(value).is_integer() else float(value)
    return str(value)


def _reference_key(row: Mapping[str, Any], fixed: Mapping[str, Any], firsts: Mapping[str, Any]) -> tuple[Any, ...]:
    def value(axis: str) -> Any:
        if axis not in fixed:
            return _axis_value(row[axis])
        return _axis_value(firsts[axis] if fixed[axis] == FIRST else fixed[axis])

    return tuple(value(a) for a in REFERENCE_AXES)


def _group_firsts(frame: pd.DataFrame, config: ScoringConfig) -> dict[Any, dict[str, Any]]:
    """Row index -> the smallest ``threads`` and ``batch_size`` of its decision group (all its rows, whatever
    their status: the rule must not depend on which cases failed)."""
    firsts: dict[Any, dict[str, Any]] = {}
    for _, group in frame.groupby(config.group_columns, dropna=False, sort=False):
        smallest = {a: pd.to_numeric(group[a], errors="coerce").min() for a in FIRST_AXES}
        firsts.update({i: smallest for i in group.index})
    return firsts


def _first_line(text: Any) -> str:
    lines = str(text).strip().splitlines() if isinstance(text, str) else []
    return lines[0] if lines else ""


@dataclass(frozen=True)
class References:
    """Each ok row's reference row (``found``), or why it has none (``missing``: "its reference case X failed: ...")."""

    found: dict[Any, Any]
    missing: dict[Any, str]


def find_references(frame: pd.DataFrame, config: ScoringConfig, absent: str = NOT_RUN) -> References:
    """Ok row index -> its reference row index; an ok row whose reference case is not ok, or has no record at all,
    gets the reason instead. ``absent`` completes "its reference case (axes) ..." for a reference without a record."""
    fixed = dict(config.reference)
    firsts = _group_firsts(frame, config)
    by_key = {_own_key(row): i for i, row in frame.iterrows()}
    found: dict[Any, Any] = {}
    missing: dict[Any, str] = {}
    for i, row in frame[frame["status"] == "ok"].iterrows():
        key = _reference_key(row, fixed, firsts[i])
        j = by_key.get(key)
        if j is None:
            wanted = ", ".join(f"{a}={v}" for a, v in zip(REFERENCE_AXES, key, strict=True))
            missing[i] = f"its reference case ({wanted}) {absent}"
        elif frame.at[j, "status"] != "ok":
            status, error = str(frame.at[j, "status"]), _first_line(frame.at[j, "error"])
            verb = {"failed": "failed", "skipped": "was skipped"}.get(status, f"is {status}")
            missing[i] = f"its reference case {frame.at[j, 'case_id']} {verb}" + (f": {error}" if error else "")
        else:
            found[i] = j
    return References(found, missing)


def unreferenced(rows: Sequence[Mapping[str, Any]], config: ScoringConfig) -> list[tuple[int, dict[str, Any]]]:
    """The rows (``suite`` and :data:`REFERENCE_AXES` as records show them) whose reference case under ``config``'s
    rule is not among ``rows``, each with the axes of the case it looked for: what ``bench validate`` refuses before
    anything is measured, since :func:`score` could not score those cases after the run."""
    fixed = dict(config.reference)
    groups: dict[tuple[Any, ...], list[int]] = {}
    for i, row in enumerate(rows):
        groups.setdefault(tuple(_axis_value(row[c]) for c in config.group_columns), []).append(i)
    firsts: dict[int, dict[str, Any]] = {}
    for members in groups.values():
        smallest = {}
        for axis in FIRST_AXES:
            values = [_axis_value(rows[i][axis]) for i in members if _axis_value(rows[i][axis]) is not None]
            smallest[axis] = min(values) if values else None
        firsts.update({i: smallest for i in members})
    present = {_own_key(row) for row in rows}
    missing = []
    for i, row in enumerate(rows):
        key = _reference_key(row, fixed, firsts[i])
        if key not in present:
            missing.append((i, dict(zip(REFERENCE_AXES, key, strict=True))))
    return missing


def _own_key(row: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(_axis_value(row[a]) for a in REFERENCE_AXES)


def memory_mb(frame: pd.DataFrame) -> pd.Series:
    """Peak memory per case in MiB: CUDA allocator peak on a GPU, process peak RSS on the CPU. A GPU case whose
    device memory torch's allocator cannot see (CUDA graphs, ONNX Runtime's arena, TensorRT: its record's
    ``extra.cuda_memory_note``) has none: its process's host RSS is not its GPU's memory."""
    cuda = pd.to_numeric(frame.get("cuda_max_allocated_mb"), errors="coerce")
    rss = pd.to_numeric(frame.get("peak_rss_mb"), errors="coerce")
    on_gpu = frame["device"].astype(str).str.startswith("cuda")
    return cuda.where(on_gpu, rss)


def latency_ms(frame: pd.DataFrame, statistic: str) -> pd.Series:
    values = pd.to_numeric(frame[LATENCY_STATISTICS[statistic]], errors="coerce")
    if statistic == "per_item":
        values = values / pd.to_numeric(frame["batch_size"], errors="coerce")
    return values


def score(frame: pd.DataFrame, config: ScoringConfig | None = None, *, absent: str = NOT_RUN) -> pd.DataFrame:
    """The records of one suite with the score columns added.

    Adds ``latency_ms`` (the chosen statistic), ``latency_statistic`` (its name), ``reference_case``, ``S``, ``T``,
    ``A``, ``Ttrain``, ``accuracy_drop``, ``accuracy_term`` (whether 1-A entered P), ``score``, ``score_note``,
    ``reference_missing`` and ``rank`` (1 = best within :attr:`ScoringConfig.group_columns`). Rows that are not ``ok``
    keep an empty score and say why.
    An ok case whose reference case is not ok (failed, skipped) or has no record keeps its measured figures (and
    ``A``, ``accuracy_drop``) but no ``S``, ``T``, score or rank; ``reference_missing`` and ``score_note`` say why
    ("its reference case m[fp32-cpu-1t-bs1] failed: RuntimeError: ..."; for one without a record, "its reference
    case (model=m, ...) " followed by ``absent``); the groups that have their reference are scored as usual.
    """
    config = config or ScoringConfig()
    out = frame.copy().reset_index(drop=True)
    out["latency_ms"] = latency_ms(out, config.latency)
    out["latency_statistic"] = config.latency  # which one latency_ms is: summary.csv's reader cannot tell otherwise
    out["memory_mb"] = memory_mb(out)
    out["model_size_mb"] = pd.to_numeric(out["model_size_bytes"], errors="coerce") / 2**20
    _add_terms(out, find_references(out, config, absent), config)
    out["rank"] = out.groupby(config.group_columns, dropna=False)["score"].rank(method="min")
    return out


def _add_terms(out: pd.DataFrame, references: References, config: ScoringConfig) -> None:
    """S, T, A, Ttrain, accuracy_drop, the score and its note per row, in place (rows that are not ok, and ok rows
    without a reference, keep NaN)."""
    ok = out["status"] == "ok"
    nan = float("nan")
    cols = {name: [nan] * len(out) for name in ("S", "T", "A", "accuracy_drop", "Ttrain", "score")}
    reference_case = [None] * len(out)
    notes = [""] * len(out)
    unreferenced_why = [""] * len(out)
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
        cols["A"][i] = accuracy[i]
        # One definition everywhere: the record's own drop (vs fp32 on the same engine and device, as measured);
        # only records that lack it (older schemas) fall back to the scoring reference.
        if not math.isnan(recorded_drop[i]):
            cols["accuracy_drop"][i] = recorded_drop[i]
        if i in references.missing:  # measured figures only: S and T have nothing to be relative to
            unreferenced_why[i] = references.missing[i]
            notes[i] = f"not scored: {references.missing[i]}"
            continue
        j = references.found[i]
        reference_case[i] = out.at[j, "case_id"]
        with np.errstate(over="ignore"):  # past a float's range: not scored, below
            cols["S"][i] = size[i] / size[j]
            cols["T"][i] = out.at[i, "latency_ms"] / out.at[j, "latency_ms"]
        cols["Ttrain"][i] = train[i] / train_scale if train_scale else 0.0
        if math.isnan(cols["accuracy_drop"][i]) and not math.isnan(accuracy[j]) and not math.isnan(accuracy[i]):
            cols["accuracy_drop"][i] = accuracy[j] - accuracy[i]
        model_has = has_accuracy_by_model.loc[out.at[i, "model"]]
        with np.errstate(over="ignore", invalid="ignore"):
            value = w.size * cols["S"][i] + w.latency * cols["T"][i] + w.train * cols["Ttrain"][i]
        if model_has["any"] and math.isnan(accuracy[i]):  # its P would lack a term the others' have
            notes[i] = "not scored: accuracy missing while other cases of this model have it"
            continue
        if model_has["any"]:
            accuracy_term[i] = True
            value += w.accuracy * (1.0 - accuracy[i])
        elif w.accuracy:
            notes[i] = "accuracy not measured for this model: the accuracy term is left out of P"
        if not math.isfinite(value):
            notes[i] = _why_no_score(cols, i)
            continue
        cols["score"][i] = value
    for name, values in cols.items():
        out[name] = values
    out["reference_case"] = reference_case
    out["accuracy_term"] = accuracy_term
    out["score_note"] = notes
    out["reference_missing"] = unreferenced_why


def _why_no_score(cols: dict[str, list[float]], i: int) -> str:
    """Why row ``i``'s P is no number: S or T missing (no size or latency), or past a float's range (a size or
    latency next to zero in the reference, or near 1e308: a hand-edited or foreign record). An infinite S or T is
    made NaN too, so that no table, chart or ranking shows or sorts an infinity (matplotlib refuses it as a limit)."""
    missing = [n for n in ("S", "T") if math.isnan(cols[n][i])]
    if missing:
        return f"not scored: {', '.join(missing)} could not be computed (size or latency missing)"
    beyond = [n for n in ("S", "T") if math.isinf(cols[n][i])]
    for name in beyond:
        cols[name][i] = float("nan")
    return f"not scored: {', '.join(beyond) or 'P'} past a float's range (size or latency beside its reference's)"


def term_matrix(frame: pd.DataFrame) -> np.ndarray:
    """Per row the four terms (S, T, 1-A or 0 when the accuracy term is left out, Ttrain): P = terms @ weights."""
    one_minus_a = np.where(frame["accuracy_term"].astype(bool), 1.0 - frame["A"].astype(float), 0.0)
    return np.column_stack([frame["S"].astype(float), frame["T"].astype(float), one_minus_a, frame["Ttrain"]])

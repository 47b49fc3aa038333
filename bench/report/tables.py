"""The tables of a report, as pandas DataFrames: usable from a notebook with :func:`tables`."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from bench import metrics
from bench import results as store
from bench.errors import BenchError, SuiteError, counted
from bench.judge.confidence import (
    EARLIER_RUNS,
    Confidence,
    add_earlier_runs,
    apply_confidence,
    follow_recommendation,
)
from bench.judge.cost import Capacity, Prices, add_costs, capacity_plan, load_prices
from bench.judge.decide import Decision, Robustness, decide, reference_missing, validate_constraints
from bench.judge.scoring import NOT_RUN, PROFILES, ScoringConfig, score

SUMMARY_COLUMNS = [
    *("suite", "case_id", "model", "compression", "engine", "device", "threads", "batch_size", "status"),
    *metrics.summary(),
]
"""``summary.csv``'s columns: what ran, then the metric table's summary columns (:mod:`bench.metrics`)."""


@dataclass
class Tables:
    """Everything a report shows, for one run.

    ``cases``: every record with the score, cost and verdict columns; ``recommendations``: the best case per
    group (suite, model, device and, by default, batch size); ``capacity``: the replica plan per ok case;
    ``robustness``: one row per group.
    """

    run_id: str
    meta: dict[str, Any]
    cases: pd.DataFrame
    recommendations: pd.DataFrame
    capacity: pd.DataFrame
    robustness: pd.DataFrame
    configs: dict[str, ScoringConfig] = field(default_factory=dict)
    constraints: dict[str, dict[str, float]] = field(default_factory=dict)
    prices: dict[str, Prices] = field(default_factory=dict)
    capacity_inputs: dict[str, Capacity] = field(default_factory=dict)
    robustness_by_group: dict[tuple[str, ...], Robustness] = field(default_factory=dict)
    confidence_by_group: dict[tuple[str, ...], Confidence] = field(default_factory=dict)

    @property
    def ranking(self) -> pd.DataFrame:
        """Scored cases, group after group (suite, model, device and, by default, batch size), each in P order."""
        ranked = self.cases[self.cases["score"].notna()]
        parts = []
        for suite, cases in ranked.groupby("suite", sort=True):
            config = self.configs.get(str(suite)) or ScoringConfig()
            parts.append(cases.sort_values([*config.group_columns, "rank"], kind="stable"))
        return pd.concat(parts) if parts else ranked

    def shortlist(self, per_group: int, limit: int) -> tuple[pd.DataFrame, int]:
        """The ranking cut to what a chart or the page can show: of each group its ``per_group`` best cases by P, and
        always its recommendation and its reference case, group after group while the rows fit in ``limit``; and how
        many scored cases were left out (every case stays in ``summary.csv`` and ``capacity.xlsx``). A run of
        thousands of cases gave charts of 100,000 pixels and a page of tens of megabytes."""
        ranked = self.ranking
        if len(ranked) <= limit:
            return ranked, 0
        parts, offset = [], 0
        for suite, cases in ranked.groupby("suite", sort=False):
            config = self.configs.get(str(suite)) or ScoringConfig()
            groups = cases.groupby(config.group_columns, sort=False, dropna=False)
            wanted = (
                (groups.cumcount() < per_group)
                | cases["recommended"].fillna(False).astype(bool)
                | (cases["case_id"] == cases["reference_case"])
            )
            parts.append(pd.DataFrame({"group": groups.ngroup() + offset, "wanted": wanted}, index=cases.index))
            offset += groups.ngroups
        picks = pd.concat(parts).loc[ranked.index]
        per_group_rows = picks[picks["wanted"]].groupby("group", sort=False).size()
        fitting = per_group_rows[per_group_rows.cumsum() <= limit].index
        if not len(fitting):  # one group's picks alone exceed the limit: its first rows
            fitting = per_group_rows.index[:1]
        chosen = ranked[(picks["wanted"] & picks["group"].isin(fitting)).to_numpy()].head(limit)
        return chosen, len(ranked) - len(chosen)

    @property
    def unscored(self) -> pd.DataFrame:
        """The ok cases of groups whose reference case did not run (failed, skipped, not selected): their measured
        figures, no S, T, P or rank; ``verdict`` and ``reference_missing`` say why. Group after group, fastest first."""
        rows = _reference_missing(self.cases)
        parts = []
        for suite, cases in rows.groupby("suite", sort=True):
            config = self.configs.get(str(suite)) or ScoringConfig()
            parts.append(cases.sort_values([*config.group_columns, "latency_ms"], kind="stable"))
        return pd.concat(parts) if parts else rows

    @property
    def unscored_groups(self) -> pd.DataFrame:
        """The recommendation rows of the groups left without a score because their reference case did not run."""
        return _reference_missing(self.recommendations)

    @property
    def nothing_scored(self) -> bool:
        """True when no case of any group could be scored (its reference case failed, was skipped or was not run;
        or no case was measured at all): the report then shows measured figures only and recommends nothing
        (``bench report`` exits 3)."""
        return not self.cases["score"].notna().any()

    def unscored_line(self, reasons: bool = True) -> str:
        """One line naming every group left without a score (its reference case did not run), with why unless
        ``reasons`` is false; "" when every group has its reference."""
        groups = self.unscored_groups.to_dict("records")
        if not groups:
            return ""
        named = [group_label(rec) + (f" ({rec['reference_missing']})" if reasons else "") for rec in groups]
        total = counted(len(self.recommendations), "group")
        return f"not scored, no reference case measured ({len(groups)} of {total}): {'; '.join(named)}"

    @property
    def pareto(self) -> pd.DataFrame:
        """Cases on the Pareto front (latency, size, 1-A) of their hardware target."""
        return self.cases[self.cases["pareto"].astype(bool)]

    @property
    def summary(self) -> pd.DataFrame:
        """The per-case table written to ``summary.csv``."""
        columns = [c for c in SUMMARY_COLUMNS if c in self.cases.columns]
        order = self.cases.assign(_scored=self.cases["score"].isna()).sort_values(
            ["suite", "model", "device", "batch_size", "_scored", "rank"], kind="stable"
        )
        return order[columns].reset_index(drop=True)


def _reference_missing(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``frame`` whose ``reference_missing`` says why their group's reference case did not run."""
    return frame[reference_missing(frame).to_numpy()]


def group_label(rec: dict[str, Any]) -> str:
    """A decision group as the report names it: ``s · m on cpu, batch 1``. The recommendations of a run whose
    suites group differently (one with ``scoring.across_batch_sizes``, one without) share one table, where the
    first suite's rows have no batch size (NaN or None) and the others' read 1.0: such a group is named without a
    batch, and a batch size as the integer it is (was: "s · m on cpu, batch nan", "t · m on cpu, batch 1.0")."""
    where = f"{rec['suite']} · {rec['model']} on {rec['device']}"
    batch = rec.get("batch_size")
    if batch is None or missing_value(batch):
        return where
    if isinstance(batch, float) and batch.is_integer():
        batch = int(batch)
    return f"{where}, batch {batch}"


def missing_value(value: Any) -> bool:
    """Whether a table cell holds no value (NaN, ``pd.NA``); a list or an array in a cell is a value."""
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # lists, arrays
        return False


def _absent(meta: dict[str, Any], frame: pd.DataFrame) -> str:
    """Why a reference case has no record in this run, as far as ``meta.json`` tells: every case the run selected
    has a record, so it was not selected (``-k``, node ids); or the run stopped before some of them."""
    selected = meta.get("cases")
    if not isinstance(selected, list):
        return NOT_RUN
    recorded = set(frame["suite"].astype(str) + "::" + frame["case_id"].astype(str))
    never = [case for case in selected if isinstance(case, str) and case not in recorded]
    if not never:
        return f"{NOT_RUN} (selected out with -k or node ids)"
    return (
        f"{NOT_RUN} (the run is {meta.get('status', '?')} and {counted(len(never), 'selected case')} "
        "never ran: it was not reached, or -k or node ids left it out)"
    )


def _suite_sections(meta: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["name"]: dict(entry.get("sections") or {}) for entry in meta.get("suites", [])}


def tables(
    run: str | os.PathLike[str] | None = None,
    results_dir: str | os.PathLike[str] | None = None,
    *,
    prices_file: str | os.PathLike[str] | None = None,
    profile: str | None = None,
    across_runs: bool = False,
) -> Tables:
    """Score, cost and judge one run (default: the latest) and return its tables.

    ``prices_file`` overrides the price table (after the suite's ``prices:``); ``profile`` overrides the suites'
    scoring profile; ``across_runs`` applies the near-tie rule across this run and its earlier runs on this machine
    (:func:`bench.judge.confidence.add_earlier_runs`), so that a recommendation whose lowest-P case changes between
    runs goes to the cheaper contender. A group whose reference case did not run is shown with its measured figures
    but not scored (:attr:`Tables.unscored`, :attr:`Tables.unscored_groups`); the other groups are scored as usual.
    """
    # once: "latest" must name the same run for every file read, and its meta.json is read (and warned of) once
    found = store.open_run(run, results_dir)
    folder, meta = found.path, found.meta
    damage: list[str] = []
    skipped: list[str] = []
    frame = store.load(found, problems=damage, skipped_lines=skipped)
    source = str(folder / "meta.json")
    if frame.empty:
        records = folder / "records.jsonl"
        if damage:  # a file there, no record readable: the warnings above say which and why
            why = "every line is damaged, see the warning above" if skipped else "see the warning above"
            raise BenchError(f"{records}: none of its records could be read ({why}): nothing to report")
        raise BenchError(
            f"run {meta.get('run_id')} has no records yet (status {meta.get('status')}): nothing to report"
        )
    try:
        ok = frame.loc[frame["status"] == "ok", ["suite", "case_id"]]  # no other case's samples are used
        cases = {f"{suite}::{case_id}" for suite, case_id in ok.itertuples(index=False)}
        samples = store.load_samples(found, arrays=True, cases=cases)  # arrays: 8 bytes a sample, not 32
        samples = store.checked_samples(frame, samples, folder / "samples.jsonl")
    except (OSError, BenchError):  # no or unreadable raw samples: the report says the confidence was not computed
        samples = {}
    result = analyse(frame, meta, prices_file=prices_file, profile=profile, samples=samples, source=source)
    earlier_runs(result, folder, across=across_runs)
    return result


def earlier_runs(result: Tables, folder: Path, look_back: int = EARLIER_RUNS, *, across: bool = False) -> None:
    """Add to ``result.recommendations`` how the decision went in the earlier runs of its suites on this machine
    (:func:`bench.judge.confidence.add_earlier_runs`): the ``look_back`` runs beside ``folder`` that started last
    before it on the same machine and ran one of its suites (found among the runs last written to, and those last
    written to before it: :func:`bench.results.runs_here`), scored and decided with this run's own weights,
    constraints and prices, so that only the measurements differ. A run that cannot be read is passed over."""
    recs = result.recommendations
    if recs.empty or "case_id" not in recs.columns:
        return
    started, environment = result.meta.get("started_at"), result.meta.get("environment")
    decided: list[pd.DataFrame] = []
    if isinstance(started, str) and isinstance(environment, dict):
        before = []
        for path, meta in store.runs_here(environment, folder.parent, exclude=folder, look_back=look_back):
            suites = {entry.get("name") for entry in meta.get("suites") or [] if isinstance(entry, dict)}
            earlier = isinstance(meta.get("started_at"), str) and meta["started_at"] < started
            if earlier and suites & set(result.configs):  # another suite's run is not read at all
                before.append((meta["started_at"], path))
        for _, path in sorted(before, key=lambda item: item[0], reverse=True)[:look_back]:
            decided += _decided(path, result)
    best = {  # by suite and recommended case, which the rows keep as they are (group values may not: 1 -> 1.0)
        (key[0], str(found.recommended)): found.best_case
        for key, found in result.confidence_by_group.items()
        if found.best_case
    }
    columns = {suite: config.group_columns for suite, config in result.configs.items()}
    before = recs["case_id"].copy()
    add_earlier_runs(recs, result.cases, decided, columns, best, across=across)
    moved = [i for i in recs.index if isinstance(recs.at[i, "case_id"], str) and recs.at[i, "case_id"] != before[i]]
    for index in moved:  # the runs moved it: its robustness line must describe the case it now names
        config = result.configs[str(recs.at[index, "suite"])]
        follow_recommendation(result.cases, recs, index, config, result.robustness_by_group, before[index])
    if moved:
        result.robustness = _robustness_frame(result)


def _decided(path: Path, result: Tables) -> list[pd.DataFrame]:
    """The decided cases of each suite of the run in ``path`` that ``result`` scores too, with ``result``'s weights,
    constraints and prices; none when the run cannot be read or judged (a damaged earlier run is not this one's
    business: its own report says what is wrong with it)."""
    decided = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            frame = store.load(path)
            if frame.empty or "suite" not in frame.columns:
                return []
            for suite, records in _by_suite(_typed(frame)):
                config = result.configs.get(suite)
                if config is not None:
                    decision = _judged(records, config, result.constraints[suite], result.prices[suite], perturb=False)
                    decided.append(decision.cases)
    except (OSError, BenchError, KeyError, TypeError, ValueError):
        return []
    return decided


def _by_suite(frame: pd.DataFrame):
    """``(suite, its records)`` of a run's records (:func:`_typed`), in the run's order."""
    return ((str(suite), records) for suite, records in frame.groupby("suite", sort=False))


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of a run's records with their thread counts read as integers (a missing one as none)."""
    return frame.assign(threads=pd.to_numeric(frame["threads"], errors="coerce").astype("Int64"))


def _judged(
    records: pd.DataFrame,
    config: ScoringConfig,
    constraints: dict[str, float],
    prices: Prices,
    *,
    absent: str = NOT_RUN,
    perturb: bool = True,
) -> Decision:
    """One suite's records scored (:func:`score`), costed (:func:`add_costs`) and decided (:func:`decide`)."""
    return decide(add_costs(score(records, config, absent=absent), prices), constraints, config, perturb=perturb)


def analyse(
    frame: pd.DataFrame,
    meta: dict[str, Any],
    *,
    prices_file: str | os.PathLike[str] | None = None,
    profile: str | None = None,
    samples: dict[str, Any] | None = None,
    source: str | None = None,
) -> Tables:
    """:func:`tables` on an already loaded records frame (what tests and notebooks with their own data use).

    ``samples`` (``suite::case_id`` -> raw latencies, :func:`bench.results.load_samples`) gives each recommendation
    its confidence from the measurements (:mod:`bench.judge.confidence`). An invalid section recorded in ``meta``
    (a hand-edited ``meta.json``) is an error naming ``source`` (default: the run) and the suite; an unknown
    ``profile`` one naming ``--profile``."""
    if profile:
        try:
            ScoringConfig.from_section({"profile": profile})
        except SuiteError as err:
            raise SuiteError(None, "--profile", err.message) from None
    source = source or f"run {meta.get('run_id', '?')}"
    sections = _suite_sections(meta)
    frame = _typed(frame)
    parts, recommendations, plans = [], [], []
    result = Tables(meta.get("run_id", ""), meta, pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), pd.DataFrame())
    absent = _absent(meta, frame)
    for suite, records in _by_suite(frame):
        own = sections.get(suite, {})
        scoring_section = dict(own.get("scoring") or {})
        if profile:
            scoring_section = {**scoring_section, "profile": profile}
            scoring_section.pop("weights", None)
            scoring_section.pop("latency", None)
        try:
            config = ScoringConfig.from_section(scoring_section)
            constraints = validate_constraints(dict(own.get("constraints") or {}), "constraints")
            prices = load_prices(own.get("prices"), prices_file)
            capacity = Capacity.from_section(own.get("capacity"))
        except SuiteError as err:
            if err.file is not None:  # the --prices file, which names itself
                raise
            raise SuiteError(f"{source} (suite {suite})", err.key, err.message) from None
        decision = _judged(records, config, constraints, prices, absent=absent)
        result.confidence_by_group.update(apply_confidence(decision, samples, config, constraints))
        parts.append(decision.cases)
        recommendations.append(decision.recommendations)
        plans.append(capacity_plan(decision.cases, capacity, config.group_columns))
        result.configs[suite] = config
        result.constraints[suite] = constraints
        result.prices[suite] = prices
        result.capacity_inputs[suite] = capacity
        result.robustness_by_group.update(decision.robustness)
    result.cases = pd.concat(parts, ignore_index=True) if parts else frame
    result.recommendations = pd.concat(recommendations, ignore_index=True) if recommendations else pd.DataFrame()
    result.capacity = pd.concat(plans, ignore_index=True) if plans else pd.DataFrame()
    result.robustness = _robustness_frame(result)
    return result


def _robustness_frame(result: Tables) -> pd.DataFrame:
    """:attr:`Tables.robustness`: one row per group of :attr:`Tables.robustness_by_group`, its group's values (its
    suite's ``group_columns``; the key's first value is the suite) beside the figures."""
    rows = []
    for key, found in result.robustness_by_group.items():
        config = result.configs.get(key[0]) or ScoringConfig()
        rows.append(dict(zip(config.group_columns, key, strict=False)) | found.__dict__)
    return pd.DataFrame(rows)


__all__ = ["PROFILES", "Tables", "analyse", "group_label", "tables"]

"""The self-contained HTML page of a report: inline CSS, charts embedded as base64 PNG, no scripts, no network."""

from __future__ import annotations

import base64
from typing import Any

import jinja2
import numpy as np
import pandas as pd

from bench.hardware import CPU_WAIT_LIMIT
from bench.judge.decide import CONSTRAINTS, digits_apart
from bench.judge.scoring import PROFILES, ScoringConfig
from bench.metrics import METRICS
from bench.report.charts import PER_ITEM_LABEL, Chart, latency_statistics
from bench.report.tables import Tables, group_label, missing_value

MAX_ROWS = 300
"""The most rows of each table on the page, and ``MAX_CARDS`` the most recommendation cards: a run of thousands of
cases made a page of tens of megabytes that a browser barely opens. Folding long tables (``<details>``) would not
make the file smaller; every case stays in summary.csv and capacity.xlsx, which are made for that many rows."""
ROWS_PER_GROUP = 10
"""The ranking table's cases per group when it is cut: the best by P, plus the recommendation and the reference."""
MAX_CARDS = 100


def _num(value: Any, digits: int = 4) -> str:
    """A number with ``digits`` significant digits; blank for a missing value (never a misleading 0). From 10,000 to
    10¹⁵ it is written out (``14860``, ``1234570``), never in a spreadsheet's exponent form (was: a throughput of
    ``1.486e+04`` items/s, a monthly cost of ``1.23457e+06``)."""
    if missing_value(value):
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)) or hasattr(value, "item"):
        value = float(value)
        if value.is_integer() and abs(value) < 1e6:
            return str(int(value))
        rounded = float(f"{value:.{digits}g}")
        return f"{rounded:.0f}" if 1e4 <= abs(rounded) < 1e15 else f"{value:.{digits}g}"
    return str(value)


def _yes(value: Any) -> str:
    if missing_value(value):
        return ""
    return "yes" if bool(value) else "no"


def _embed(chart: Chart, dpi: int = 110) -> str:
    return base64.b64encode(chart.png(dpi)).decode("ascii")


def _environment(tables: Tables) -> list[tuple[str, str]]:
    env = dict(tables.meta.get("environment") or {})
    rows = [
        (key, str(value))
        for key, value in env.items()
        if value not in (None, "", [], {}) and not isinstance(value, dict)
    ]
    for key in ("started_at", "finished_at", "wall_time_s", "measure_time_s", "argv"):
        if key in tables.meta:
            rows.append((key, _num(tables.meta[key]) if isinstance(tables.meta[key], float) else str(tables.meta[key])))
    return rows


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts with missing values as ``None`` (a NaN is truthy in a template)."""
    if not len(frame):
        return []
    return [{k: (None if missing_value(v) else v) for k, v in row.items()} for row in frame.to_dict("records")]


def _capacity_rows(tables: Tables, ranking: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """The capacity plan's rows on the page (at most :data:`MAX_ROWS`) and, when some are left out, what the page
    says about it. First one row of every group: its cheapest plan (★; the first of a tie) or, for a group that has
    none (an unscored group, whose reference case did not run, is not feasible, so it never has a ★; or no plan of
    the group meets the SLO), its cheapest plan, meeting the SLO first; then the other plans of a tie for the
    cheapest (★, each saying it is a tie); then the cases of the ranking shown; then the others."""
    capacity = tables.capacity
    if len(capacity) <= MAX_ROWS:
        return capacity, ""
    groups = _plan_groups(tables, capacity)
    cheapest = capacity["cheapest"].astype(bool).to_numpy()
    starred = set(groups[cheapest])
    order = capacity.assign(_group=groups, _misses=~capacity["meets_slo"].astype(bool))
    order = order[~order["_group"].isin(starred)].sort_values(["_misses", "monthly_cost"], kind="stable")
    stand_in = capacity.index.isin(order.drop_duplicates("_group").index)
    first_star = cheapest & ~pd.Series(np.where(cheapest, groups, None)).duplicated().to_numpy()
    shown = set(zip(ranking["suite"], ranking["case_id"], strict=True))
    in_ranking = [key in shown for key in zip(capacity["suite"], capacity["case_id"], strict=True)]
    tied = cheapest & ~first_star  # the other plans of a tie for the cheapest: after one row of every group
    tier = np.select([first_star | stand_in, tied, np.array(in_ranking, dtype=bool)], [0, 1, 2], default=3)
    kept = capacity.index[np.argsort(tier, kind="stable")][:MAX_ROWS]
    unscored = set(zip(tables.unscored.get("suite", []), tables.unscored.get("case_id", []), strict=True))
    is_unscored = pd.Series(
        [key in unscored for key in zip(capacity["suite"], capacity["case_id"], strict=True)], index=capacity.index
    )
    missing = set(groups) - set(groups[capacity.index.isin(kept)])
    missing_unscored = missing & set(groups[is_unscored.to_numpy()])
    shows = ["the cheapest plan of each group (★)"]
    if stand_in.any():
        unscored_stand_ins = int(is_unscored[stand_in].sum())
        why = f": {unscored_stand_ins} unscored, their reference case did not run" if unscored_stand_ins else ""
        shows.append(f"one plan of each of the {int(stand_in.sum())} group(s) without one{why}")
    if tied.any():
        shows.append(f"the {int(tied.sum())} other plan(s) tied with a cheapest one (★)")
    note = (
        f"{len(capacity) - len(kept)} more plan row(s) in capacity.xlsx (capacity sheet, every ok case; summary.csv "
        f"has each case's figures, not its plan): the page shows {', '.join(shows)}, then the cases of the ranking "
        f"above ({len(kept)} rows)."
    )
    if missing:
        note += (
            f" {len(missing)} group(s) have no plan row on the page at all ({len(missing_unscored)} of them "
            "unscored): they are in capacity.xlsx."
        )
    return capacity.loc[kept].sort_index(), note


def _plan_groups(tables: Tables, capacity: pd.DataFrame) -> np.ndarray:
    """Each plan row's decision group (its suite's ``group_columns``), as one label per row."""
    labels = pd.Series("", index=capacity.index, dtype=object)
    for suite, rows in capacity.groupby("suite", sort=False):
        config = tables.configs.get(str(suite)) or ScoringConfig()
        columns = [c for c in config.group_columns if c in rows.columns]
        labels.loc[rows.index] = [f"{suite}#{n}" for n in rows.groupby(columns, sort=False, dropna=False).ngroup()]
    return labels.to_numpy()


def _price_bases(cases: pd.DataFrame) -> dict[str, list[tuple[str, int]]]:
    """Per suite, where the price per hour of its measured cases comes from (``price_basis``: the price table entry,
    or why there is none), each with its number of cases, in the order the cases come."""
    if not len(cases) or "price_basis" not in cases.columns:
        return {}
    measured = cases[(cases["status"] == "ok") & (cases["price_basis"].fillna("").astype(str) != "")]
    return {
        str(suite): [(str(basis), int(n)) for basis, n in rows["price_basis"].value_counts(sort=False).items()]
        for suite, rows in measured.groupby("suite", sort=False)
    }


def _currencies(tables: Tables) -> tuple[dict[str, str], str | None]:
    """Each suite's currency (its ``prices.currency``) and, when every suite prices in the same one, that currency:
    the page then names it once in each money header ("USD / 1M"); otherwise each money cell names its own."""
    currencies = {suite: prices.currency for suite, prices in tables.prices.items()}
    used = set(currencies.values()) or {"USD"}
    return currencies, (used.pop() if len(used) == 1 else None)


def _capacity_sections(tables: Tables, shown: pd.DataFrame, currencies: dict[str, str]) -> list[dict[str, Any]]:
    """The capacity plan on the page, one section per suite: its inputs, its currency (every money header of its
    table names it) and its rows shown (of ``shown``), and how many plan rows it has in all. One table of every
    suite's rows mixed their currencies and inputs under headers that named neither."""
    sections = []
    for suite, capacity in tables.capacity_inputs.items():
        rows = shown[shown["suite"] == suite] if len(shown) else shown
        total = tables.capacity[tables.capacity["suite"] == suite] if len(tables.capacity) else tables.capacity
        sections.append(
            {
                "suite": suite,
                "cap": capacity,
                "currency": currencies.get(suite, "USD"),
                "rows": records(rows),
                "total": len(total),
            }
        )
    return sections


def capacity_notes(tables: Tables) -> dict[tuple[str, str], str]:
    """For each recommended case that has no capacity plan (its latency misses the plan's SLO, or its load test
    proved the SLO unreachable), the line its card adds: why, and the group's cheapest plan meeting the SLO and the
    constraints (the capacity table's ★), or that there is none. Was: a card saying "deploy X" over a capacity
    table that gave X no replicas and starred another case, with nothing on the page joining the two."""
    notes: dict[tuple[str, str], str] = {}
    plan = tables.capacity
    for rec in records(tables.recommendations) if len(plan) else []:
        suite, case = str(rec.get("suite")), rec.get("case_id")
        row = plan[(plan["suite"] == suite) & (plan["case_id"] == case)]
        if case and len(row) == 1 and missing_value(row["replicas"].iloc[0]):
            notes[(suite, str(case))] = f"no replicas for it: {_no_plan_why(tables, suite, row.iloc[0])}; " + (
                f"{_cheapest_text(tables, rec, plan)} (capacity plan below)."
            )
    return notes


def _no_plan_why(tables: Tables, suite: str, row: pd.Series) -> str:
    capacity = tables.capacity_inputs[suite]
    example = "" if capacity.from_suite else ", example inputs"
    slo = f"the plan's {capacity.slo_statistic} SLO of {_num(capacity.latency_slo_ms)} ms{example}"
    if not bool(row["meets_slo"]):
        latency = row[f"latency_{capacity.slo_statistic}_ms"]
        return f"its {capacity.slo_statistic} latency {_num(latency)} ms misses {slo}"
    return f"{row['plan_basis']} ({slo})"


def _cheapest_text(tables: Tables, rec: dict[str, Any], plan: pd.DataFrame) -> str:
    """The recommendation's group's ★ in the capacity plan, in words."""
    config = tables.configs.get(str(rec["suite"])) or ScoringConfig()
    starred = plan["cheapest"].astype(bool)
    for column in (c for c in config.group_columns if c in plan.columns):
        starred &= plan[column] == rec.get(column)
    what = "the group's cheapest plan meeting the SLO and the constraints"
    if starred.sum() == 1:
        best = plan[starred].iloc[0]
        currency = tables.prices[str(rec["suite"])].currency
        return f"{what} is {best['case_id']} ({_num(best['monthly_cost'], 6)} {currency} / month)"
    if starred.sum() > 1:
        return f"{what} is a tie of {int(starred.sum())} plans (★)"
    return "no plan of the group meets the SLO and the constraints"


def _score_digits(tables: Tables, ranking: pd.DataFrame) -> pd.DataFrame:
    """``ranking`` with ``score_digits``: 4 significant digits for its P cell, or as many more (up to 10) as tell
    apart two different scores of its group next to each other in P order (was: P 1.0100 ranked 1 and P 1.0102
    ranked 2 both read "1.01")."""
    digits = pd.Series(4, index=ranking.index)
    for suite, rows in ranking.groupby("suite", sort=False):
        config = tables.configs.get(str(suite)) or ScoringConfig()
        columns = [c for c in config.group_columns if c in rows.columns]
        for _, group in rows.groupby(columns, sort=False, dropna=False):
            scores = sorted(float(v) for v in group["score"] if not missing_value(v))
            digits[group.index] = digits_apart(scores, _num, range(4, 11))
    return ranking.assign(score_digits=digits)


def busy_cases(cases: pd.DataFrame) -> int:
    """How many cases were measured on a busy machine (``extra.cpu_wait_share`` above
    :data:`bench.hardware.CPU_WAIT_LIMIT`: their run warned ``BusyWarning`` and ``bench gate`` does not judge them);
    the page says so beside its count of unstable cases (was: nothing, so a report recommended on timings the gate
    would refuse)."""
    waits = pd.to_numeric(cases.get("extra.cpu_wait_share", pd.Series(dtype=float)), errors="coerce")
    return int((waits > CPU_WAIT_LIMIT).sum())


def latency_header(tables: Tables) -> str:
    """The ranking's latency column header, naming the statistic its cells hold (the suites' ``scoring.latency``;
    ``--profile`` changes it): was "latency (ms)" whatever it was, so two reports of one run, with two profiles,
    showed a case's p50 and its p95 under the same header."""
    statistics = latency_statistics(tables)
    if len(statistics) > 1:
        return "latency (ms; each suite's statistic, see Methodology)"
    return PER_ITEM_LABEL if statistics == ["per_item"] else f"latency {statistics[0]} (ms)"


def render_html(tables: Tables, charts: list[Chart]) -> str:
    """The report page as one HTML string."""
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("bench.report", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["num"] = _num
    environment.filters["yes"] = _yes
    environment.filters["group"] = group_label
    template = environment.get_template("report.html.j2")
    cases = tables.cases
    ranking, ranking_left = tables.shortlist(ROWS_PER_GROUP, MAX_ROWS)
    capacity, capacity_note = _capacity_rows(tables, ranking)
    others = cases[cases["score"].isna() & ~cases.index.isin(tables.unscored.index)]
    capacity_stat = {suite: cap.slo_statistic for suite, cap in tables.capacity_inputs.items()}
    currencies, one_currency = _currencies(tables)
    price_bases = _price_bases(cases)
    return template.render(
        run_id=tables.run_id,
        meta=tables.meta,
        suites=list(tables.configs),
        several_suites=len(tables.configs) > 1,  # a suite column: two suites may share a case id
        configs=tables.configs,
        constraints=tables.constraints,
        constraint_specs=CONSTRAINTS,
        money_limits={key for key, spec in CONSTRAINTS.items() if METRICS[spec.column].money},
        prices=tables.prices,
        capacity_stat=capacity_stat,
        price_bases=price_bases,
        profiles=PROFILES,
        recommendations=records(tables.recommendations.head(MAX_CARDS)),
        recommendations_left=max(0, len(tables.recommendations) - MAX_CARDS),
        ranking=records(_score_digits(tables, ranking)) if len(ranking) else [],
        ranking_left=ranking_left,
        rows_per_group=ROWS_PER_GROUP,
        unscored=records(tables.unscored.head(MAX_ROWS)),
        unscored_left=max(0, len(tables.unscored) - MAX_ROWS),
        others=records(others.head(MAX_ROWS)),
        others_left=max(0, len(others) - MAX_ROWS),
        capacity_sections=_capacity_sections(tables, capacity, currencies),
        currencies=currencies,
        one_currency=one_currency,
        cost_header=f"{one_currency} / 1M" if one_currency else "cost / 1M",
        latency_header=latency_header(tables),
        capacity_notes=capacity_notes(tables),
        capacity_note=capacity_note,
        counts=cases["status"].value_counts().to_dict() if len(cases) else {},
        unstable=int(pd.Series(cases.get("unstable")).fillna(False).astype(bool).sum()) if len(cases) else 0,
        busy=busy_cases(cases),
        busy_limit=f"{CPU_WAIT_LIMIT:.0%}",
        accuracy_measured=bool(cases["accuracy"].notna().any()) if len(cases) else False,
        energy_measured=bool(pd.to_numeric(cases.get("energy_j_per_item"), errors="coerce").notna().any()),
        charts=[{"chart": c, "png": _embed(c) if c.figure is not None else None} for c in charts],
        environment=_environment(tables),
    )

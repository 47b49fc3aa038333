"""``capacity.xlsx``: summary, every case, the Pareto front and a capacity plan driven by live Excel formulas.

The capacity sheet's input cells (target QPS, latency SLO, headroom, hours per month, and a price per hour on each
row) are named (``target_qps``, ``latency_slo_ms``, ``headroom``, ``hours_per_month``) and every replica and
monthly-cost cell is a formula over them, so a planner can change an input and see the plan update. Each formula is
written with the value bench computed as its cached result, so readers that do not recalculate show the same numbers.
Columns S-U say which cases are feasible (the suite's ``constraints:``, judged as on the page), and the cheapest plan
of each decision group, below the table, is chosen among those only, as the page's ★ is.

A run of one suite has one sheet, ``capacity``, whose names are the workbook's. A run of several suites has one
capacity sheet per suite (``capacity <suite>``, cut to Excel's 31 characters), each with that suite's own inputs,
currency and plan, and names scoped to its sheet: each sheet's formulas read its own inputs.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import xlsxwriter
from xlsxwriter.utility import quote_sheetname, xl_rowcol_to_cell

from bench.judge.cost import Capacity, replicas_needed
from bench.judge.scoring import ScoringConfig
from bench.report.tables import Tables, group_label

CAPACITY_INPUTS = (
    ("target_qps", "target load (queries/s; one query = one inference)"),
    ("latency_slo_ms", "latency SLO (ms)"),
    ("headroom", "headroom factor (1.5 = 50% spare)"),
    ("hours_per_month", "hours per month"),
)
CAPACITY_HEADER = (
    "case_id",
    "device",
    "latency (ms)",
    "throughput (items/s)",
    "price per hour",
    "meets SLO",
    "replicas",
    "monthly cost",
)
LOAD_HEADER = (
    "batch size",
    "Server peak (queries/s)",
    "its p99 SLO (ms)",
    "items/s under load",
    "replicas under load",
    "monthly cost under load",
    "plan basis",
    "plan replicas",
    "plan monthly cost",
)
"""Columns I-Q: the plan under load (LoadGen Server peak) beside the single-stream plan, and the plan that is used."""
BASIS_HEADER = ("price basis",)
"""Column R: where the row's price per hour comes from (the price table entry, or why there is none)."""
FEASIBLE_HEADER = ("feasible", "feasible plan monthly cost", "not feasible because")
"""Columns S-U: whether the case meets the suite's ``constraints:`` (the page's feasible column), its plan's monthly
cost when it does (what the cheapest plan below the table is chosen from), and why it does not."""
NO_CHEAPEST = (
    "none meets the SLO",
    "none is feasible (column U says why)",
    "none that meets the SLO is feasible (column U says why)",
    "no feasible plan that meets the SLO has a price (column R says why)",
)
"""Why the capacity sheet names no cheapest plan, in the order its formula tests them."""
TIE = "a tie: {count} plans at this cost (the rows whose column T shows it)"
"""What the capacity sheet names as its cheapest plan where several plans share the lowest cost of column T (the
page stars each of them): no case is singled out among equals (was: the first of them, by INDEX/MATCH)."""
NO_PLAN = "no case was measured (every case failed or was skipped): nothing to plan"
"""What the capacity sheet says of its cheapest plan where it has no plan row: no formula over a blank row, and no
"none meets the SLO" about cases that were never compared with it."""
FIRST_PLAN_ROW = 10  # 0-based row of the first case in the capacity sheet (Excel row 11)
MAX_CELL_TEXT = 32767
"""Excel's limit on the characters of a cell: xlsxwriter cut longer strings silently."""
MAX_SHEET_NAME = 31
"""Excel's limit on the characters of a sheet name."""
SHEET_NAME_REFUSED = re.compile(r"[\[\]:*?/\\']")
r"""Characters Excel refuses in a sheet name (``[]:*?/\``), and the apostrophe, which may not start or end one."""
OTHER_SHEETS = ("summary", "cases", "pareto", "history")
"""The workbook's other sheets, and the name Excel reserves: no capacity sheet is named like them."""


def _text(value: str) -> str:
    """``value``, or where it exceeds a cell's limit its beginning with a visible marker saying it was cut and where
    the whole text is (summary.csv keeps every character)."""
    if len(value) <= MAX_CELL_TEXT:
        return value
    marker = f" … [cut: {len(value)} characters in all, the whole text is in summary.csv]"
    return value[: MAX_CELL_TEXT - len(marker)] + marker


def _cell_value(value: Any) -> Any:
    """A value openpyxl/Excel can hold: None for a missing value (NaN, pd.NA) or an infinity (a workbook has no
    infinity: xlsxwriter refuses one in a cell and writes one as a formula's cached result that no reader can load),
    plain Python scalars."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (bool, int, float)):
        return value
    return _text(str(value))


def _finite(value: float) -> float | str:
    """A formula's cached result: the number, or blank ("") where it overflowed (a workbook has no infinity)."""
    return value if math.isfinite(value) else ""


def _replicas(capacity, items_per_s: float) -> int | str:
    """The replicas a formula caches: blank where the count overflows a float (a vanishing throughput)."""
    if not math.isfinite(capacity.target_qps * capacity.headroom / items_per_s):
        return ""
    return replicas_needed(capacity.target_qps, capacity.headroom, items_per_s)


def _write_table(sheet, frame: pd.DataFrame, formats: dict[str, Any], first_row: int = 0) -> None:
    for col, name in enumerate(frame.columns):
        sheet.write(first_row, col, name, formats["header"])
        width = max([len(str(name))] + [len(str(v)) for v in frame[name].head(200)])
        sheet.set_column(col, col, min(max(10, width + 2), 60))
    for row_number, row in enumerate(frame.itertuples(index=False), start=first_row + 1):
        for col, value in enumerate(row):
            value = _cell_value(value)
            if value is None:
                sheet.write_blank(row_number, col, None)
            else:
                sheet.write(row_number, col, value)
    if len(frame.columns):
        sheet.autofilter(first_row, 0, first_row + len(frame), len(frame.columns) - 1)
    sheet.freeze_panes(first_row + 1, 1)


def write_workbook(tables: Tables, path: str | Path) -> Path:
    """Write ``capacity.xlsx`` for a run's tables; returns its path."""
    path = Path(path)
    # a label is text, whatever it starts with: '=cmd|...' is not a formula to run, 'http://...' not a link to follow
    workbook = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_urls": False})
    formats = {
        "header": workbook.add_format({"bold": True, "bg_color": "#DDE4EE", "border": 1}),
        "title": workbook.add_format({"bold": True, "font_size": 14}),
        "input": workbook.add_format({"bg_color": "#FFF2CC", "border": 1}),
        "money": workbook.add_format({"num_format": "#,##0.00"}),
        "input_money": workbook.add_format({"bg_color": "#FFF2CC", "border": 1, "num_format": "0.0000"}),
        "bold": workbook.add_format({"bold": True}),
        "wrap": workbook.add_format({"text_wrap": True, "valign": "top"}),
    }
    _summary_sheet(workbook.add_worksheet("summary"), tables, formats)
    _write_table(workbook.add_worksheet("cases"), tables.summary, formats)
    front = (
        tables.summary[tables.summary["pareto"].fillna(False).astype(bool)] if len(tables.summary) else tables.summary
    )
    _write_table(workbook.add_worksheet("pareto"), front, formats)
    suites = list(tables.capacity_inputs) or [""]
    names = capacity_sheet_names(suites)
    for suite, name in names.items():
        _capacity_sheet(workbook, workbook.add_worksheet(name), tables, suite, formats, scoped=len(names) > 1)
    workbook.close()
    return path


def capacity_sheet_names(suites: Sequence[str]) -> dict[str, str]:
    """The capacity sheet of each suite: ``capacity`` for a run of one suite (as ever: links to it keep working);
    ``capacity <suite>`` for each of several, with any character Excel refuses in a sheet name replaced by ``_`` and
    cut to its 31 characters; a name that another sheet already has (Excel compares them ignoring case) ends in
    ``(n)``, n being the suite's place in the run."""
    if len(suites) <= 1:
        return {suite: "capacity" for suite in suites}
    names: dict[str, str] = {}
    taken = set(OTHER_SHEETS)
    for number, suite in enumerate(suites, start=1):
        whole = "capacity " + SHEET_NAME_REFUSED.sub("_", suite)
        name = whole[:MAX_SHEET_NAME]
        while name.casefold() in taken:
            tail = f" ({number})"
            name = whole[: MAX_SHEET_NAME - len(tail)] + tail
            number += len(suites)  # a suite's own name ending in " (n)": the next free number
        taken.add(name.casefold())
        names[suite] = name
    return names


def _summary_sheet(sheet, tables: Tables, formats: dict[str, Any]) -> None:
    sheet.write(0, 0, f"bench report: run {tables.run_id}", formats["title"])
    rows: list[tuple[str, Any]] = [("run id", tables.run_id), ("run status", tables.meta.get("status"))]
    sheets = capacity_sheet_names(list(tables.capacity_inputs))
    for suite, config in tables.configs.items():
        weights = ", ".join(f"{k}={v:g}" for k, v in config.weights.as_dict().items())
        rows += [
            (f"{suite}: profile", config.profile or "custom"),
            (f"{suite}: weights", weights),
            (f"{suite}: latency statistic", config.latency),
            (f"{suite}: reference", config.reference_rule),
            (f"{suite}: constraints", ", ".join(f"{k}={v:g}" for k, v in tables.constraints[suite].items()) or "none"),
            (f"{suite}: prices", tables.prices[suite].source),
        ]
        if len(sheets) > 1 and suite in sheets:
            rows.append((f"{suite}: capacity plan", f"sheet '{sheets[suite]}' ({tables.prices[suite].currency})"))
    for number, (key, value) in enumerate(rows, start=2):
        sheet.write(number, 0, _cell_value(key), formats["bold"])
        sheet.write(number, 1, _cell_value(value))
    sheet.set_column(0, 0, 32)
    sheet.set_column(1, 1, 60)
    start = len(rows) + 4
    sheet.write(start - 1, 0, "Recommendation per hardware target", formats["bold"])
    columns = [
        c
        for c in (
            "suite",
            "model",
            "device",
            "batch_size",
            "case_id",
            "score",
            "runner_up",
            "margin",
            "stays_top_share",
            "fragile",
            "confidence_share",
            "earlier_runs_compared",
            "earlier_runs_agree",
            "across_runs_tie",
            "reasons",
        )
        if c in tables.recommendations.columns
    ]
    if columns:
        _write_table(sheet, tables.recommendations[columns], formats, first_row=start)


def _capacity_sheet(workbook, sheet, tables: Tables, suite: str, formats: dict[str, Any], scoped: bool = False) -> None:
    """The capacity plan of ``suite``: its inputs, currency and plan rows, and the cheapest plan of each of its
    decision groups; ``scoped``: the input names belong to this sheet (a run of several suites), not the workbook."""
    capacity = tables.capacity_inputs.get(suite) or Capacity()
    currency = tables.prices[suite].currency if suite in tables.prices else "USD"
    title = "Capacity plan (yellow cells are inputs: change them and the plan recalculates)"
    if scoped:
        title = f"Capacity plan of suite {suite}, in {currency} (yellow cells are inputs: change them and the plan "
        title += "recalculates; other suites have their own sheet)"
    sheet.write(0, 0, _text(title), formats["title"])
    sheet.write(
        1,
        0,
        "replicas = ROUNDUP(target_qps * headroom / throughput, 0) for a case whose latency meets the SLO; "
        "monthly cost = replicas * price per hour * hours_per_month",
    )
    values = {
        "target_qps": capacity.target_qps,
        "latency_slo_ms": capacity.latency_slo_ms,
        "headroom": capacity.headroom,
        "hours_per_month": capacity.hours_per_month,
    }
    where = quote_sheetname(sheet.get_name())
    for offset, (name, label) in enumerate(CAPACITY_INPUTS):
        row = 3 + offset
        sheet.write(row, 0, label, formats["bold"])
        sheet.write_number(row, 1, values[name], formats["input"])
        cell = f"={where}!{xl_rowcol_to_cell(row, 1, row_abs=True, col_abs=True)}"
        workbook.define_name(f"{where}!{name}" if scoped else name, cell)
    sheet.write(7, 0, "latency statistic compared with the SLO", formats["bold"])
    sheet.write(7, 1, capacity.slo_statistic)
    for col, name in enumerate(CAPACITY_HEADER + LOAD_HEADER + BASIS_HEADER + FEASIBLE_HEADER):
        label = f"{name} ({currency})" if "cost" in name or name == "price per hour" else name
        label = f"latency {capacity.slo_statistic} (ms)" if name == "latency (ms)" else label
        sheet.write(FIRST_PLAN_ROW - 1, col, label, formats["header"])
    config = tables.configs.get(suite) or ScoringConfig()
    plan, groups = _suite_plan(tables.capacity, suite, config.group_columns)
    latency_column = f"latency_{capacity.slo_statistic}_ms"
    last = FIRST_PLAN_ROW + max(len(plan), 1) - 1
    for offset, row in enumerate(plan.itertuples(index=False)):
        r = FIRST_PLAN_ROW + offset
        record = row._asdict()
        excel_row = r + 1
        latency = _cell_value(getattr(row, latency_column, None))
        throughput = _cell_value(record["throughput_items_per_s"])
        price = _cell_value(record["price_per_hour"])
        sheet.write(r, 0, _cell_value(record["case_id"]))
        sheet.write(r, 1, _cell_value(record["device"]))
        sheet.write(r, 2, latency) if latency is not None else sheet.write_blank(r, 2, None)
        sheet.write(r, 3, throughput) if throughput is not None else sheet.write_blank(r, 3, None)
        if price is None:
            sheet.write_blank(r, 4, None, formats["input_money"])
        else:
            sheet.write_number(r, 4, price, formats["input_money"])
        meets = latency is not None and latency <= capacity.latency_slo_ms
        sheet.write_formula(
            r,
            5,
            f'=IF(AND(ISNUMBER(C{excel_row}),C{excel_row}<=latency_slo_ms),"yes","no")',
            None,
            "yes" if meets else "no",
        )
        replicas = _replicas(capacity, throughput) if meets and throughput else ""
        sheet.write_formula(
            r,
            6,
            f'=IF(AND(F{excel_row}="yes",N(D{excel_row})>0),ROUNDUP(target_qps*headroom/D{excel_row},0),"")',
            None,
            replicas,
        )
        monthly = _finite(replicas * price * capacity.hours_per_month) if replicas != "" and price is not None else ""
        sheet.write_formula(
            r,
            7,
            f'=IF(AND(ISNUMBER(G{excel_row}),ISNUMBER(E{excel_row})),G{excel_row}*E{excel_row}*hours_per_month,"")',
            formats["money"],
            monthly,
        )
        _load_columns(sheet, r, record, formats, capacity)
        basis = _cell_value(record.get("price_basis"))
        sheet.write(r, 17, basis) if basis else sheet.write_blank(r, 17, None)
        _feasible_columns(sheet, r, record, formats)
    summary_row = last + 2
    for number, (label, rows) in enumerate(groups):
        first_row = FIRST_PLAN_ROW + rows.start
        block = (first_row, max(first_row, FIRST_PLAN_ROW + rows.stop - 1))
        _cheapest(sheet, plan.iloc[rows], summary_row + 2 * number, block, formats, currency, label)
    sheet.write(
        summary_row + 2 * len(groups) + 1,
        0,
        "Columns D, G, H: single-stream throughput (batch size / mean latency), queueing not modelled. Columns J-N: "
        "the highest LoadGen Server (Poisson) rate whose p99 met its SLO; the plan (O-Q) uses it where that SLO is no "
        "looser than latency_slo_ms. Column R: where each price per hour comes from (the price table entry and the "
        "layer that set it: default table, suite prices: section or --prices file), or why there is none; a price "
        "typed into column E replaces it. Columns S-U: whether the case meets the suite's constraints (as on the "
        "page; a case that was not scored is not feasible), its plan's monthly cost when it does, and why not. The "
        "cheapest plan above is the cheapest of column T among its group's rows: a feasible plan that meets the "
        "SLO, as the page's ★ (one per decision group: suite, model, device and, unless scoring.across_batch_sizes, "
        "batch size; a group's rows are next to each other).",
    )
    sheet.set_column(0, 0, 44)
    sheet.set_column(1, 1, 22)
    sheet.set_column(2, 16, 16)
    sheet.set_column(17, 17, 40)
    sheet.set_column(18, 19, 16)
    sheet.set_column(20, 20, 40)
    sheet.freeze_panes(FIRST_PLAN_ROW, 1)


def _feasible_columns(sheet, r: int, record: dict[str, Any], formats: dict[str, Any]) -> None:
    """Columns S-U of one plan row: feasible (TRUE/FALSE, from the suite's constraints as the page judges them), the
    plan's monthly cost where the case is feasible (a live formula over Q), and why it is not feasible."""
    n = r + 1
    feasible = bool(record.get("feasible", True))
    sheet.write_boolean(r, 18, feasible)
    cost = _cell_value(record.get("monthly_cost"))
    sheet.write_formula(
        r,
        19,
        f'=IF(AND(S{n}=TRUE,ISNUMBER(Q{n})),Q{n},"")',
        formats["money"],
        cost if feasible and cost is not None else "",
    )
    reason = _cell_value(record.get("infeasible_reason"))
    sheet.write(r, 20, reason) if reason else sheet.write_blank(r, 20, None)


def _suite_plan(
    capacity: pd.DataFrame, suite: str, group_columns: Sequence[str]
) -> tuple[pd.DataFrame, list[tuple[str, range]]]:
    """The plan rows of ``suite``, each decision group's rows next to each other (groups in the order of their first
    row, rows in their order), and each group's label (blank when the suite has one group or no row) and positions."""
    plan = capacity[capacity["suite"] == suite] if "suite" in capacity.columns else capacity.iloc[0:0]
    if plan.empty:
        return plan.reset_index(drop=True), [("", range(0, 0))]
    columns = [c for c in group_columns if c in plan.columns]
    numbers = plan.groupby(columns, sort=False, dropna=False).ngroup()
    plan = plan.iloc[numbers.to_numpy().argsort(kind="stable")].reset_index(drop=True)
    numbers = numbers.sort_values(kind="stable").to_numpy()
    groups, start = [], 0
    for stop in [*(i for i in range(1, len(plan)) if numbers[i] != numbers[i - 1]), len(plan)]:
        record = plan.iloc[start][columns].to_dict()
        groups.append((group_label(record) if numbers[-1] > 0 else "", range(start, stop)))
        start = stop
    return plan, groups


def _cheapest(
    sheet,
    plan: pd.DataFrame,
    row: int,
    rows: tuple[int, int],
    formats: dict[str, Any],
    currency: str,
    group: str = "",
) -> None:
    """Below the plan: the cheapest feasible plan meeting the SLO among the plan rows ``rows`` (first, last: one
    decision group's, the lowest of column T there, the page's ★ of ``group``) and its monthly cost, live formulas;
    where several plans share that cost, :data:`TIE` rather than one of their names; where there is none, the cost
    is blank and the first cell says why: none meets the SLO, none is feasible, none that meets the SLO is feasible,
    or none of those has a price; with no plan row, :data:`NO_PLAN`."""
    label = "cheapest plan meeting the SLO and the constraints" + (f": {group}" if group else "")
    sheet.write(row, 0, _text(label), formats["bold"])
    sheet.write(row + 1, 0, f"its monthly cost ({currency})", formats["bold"])
    if plan.empty:
        sheet.write(row, 1, NO_PLAN)
        sheet.write_blank(row + 1, 1, None, formats["money"])
        return
    first, last = rows[0] + 1, rows[1] + 1
    cases, feasible, replicas, candidates = (f"{c}{first}:{c}{last}" for c in "ASPT")
    no_slo, none_feasible, none_both, no_price = (f'"{text}"' for text in NO_CHEAPEST)
    why = (
        f"IF(COUNT({replicas})=0,{no_slo},IF(COUNTIF({feasible},TRUE)=0,{none_feasible},"
        f'IF(COUNTIFS({feasible},TRUE,{replicas},">0")=0,{none_both},{no_price})))'
    )
    starred = plan[plan["cheapest"].astype(bool)]
    if len(starred) > 1:  # the page's ★ on each plan of an exact tie: none is named above the others
        name, cost = TIE.format(count=len(starred)), _cell_value(starred["monthly_cost"].iloc[0])
    elif len(starred):  # the page's ★ of the group (bench.judge.cost.capacity_plan)
        name, cost = _cell_value(starred["case_id"].iloc[0]), _cell_value(starred["monthly_cost"].iloc[0])
    else:  # the cached value of the formula's reason, by the same tests
        has_plan, feasible_rows = plan["replicas"].notna(), plan["feasible"].astype(bool)
        tests = (not has_plan.any(), not feasible_rows.any(), not (feasible_rows & has_plan).any(), True)
        name = next(text for text, holds in zip(NO_CHEAPEST, tests, strict=True) if holds)
        cost = ""  # no plan has no cost (MIN of no number is 0 in a spreadsheet)
    lowest = f"MIN({candidates})"
    tied = f"COUNTIF({candidates},{lowest})"
    before, after = (f'"{part}"' for part in TIE.split("{count}"))
    named = f"IF({tied}>1,{before}&{tied}&{after},INDEX({cases},MATCH({lowest},{candidates},0)))"
    sheet.write_formula(row, 1, f"=IF(COUNT({candidates})>0,{named},{why})", None, name)
    sheet.write_formula(row + 1, 1, f'=IF(COUNT({candidates})=0,"",MIN({candidates}))', formats["money"], cost)


def _load_columns(sheet, r: int, record: dict[str, Any], formats: dict[str, Any], capacity) -> None:
    """Columns I-Q of one plan row: the plan under load beside the single-stream one (G, H), then the plan used."""
    n = r + 1
    batch, peak, slo = (_cell_value(record.get(k)) for k in ("batch_size", "server_max_qps", "server_slo_ms"))
    for col, value in ((8, batch), (9, peak), (10, slo)):
        sheet.write(r, col, value) if value is not None else sheet.write_blank(r, col, None)
    loaded = _finite(batch * peak) if batch is not None and peak is not None else ""
    sheet.write_formula(r, 11, f'=IF(AND(ISNUMBER(I{n}),ISNUMBER(J{n})),I{n}*J{n},"")', None, loaded)
    usable = loaded != "" and loaded > 0 and slo is not None and slo <= capacity.latency_slo_ms
    replicas = _replicas(capacity, loaded) if usable else ""
    sheet.write_formula(
        r,
        12,
        f"=IF(AND(ISNUMBER(L{n}),N(L{n})>0,ISNUMBER(K{n}),N(K{n})<=latency_slo_ms),"
        f'ROUNDUP(target_qps*headroom/L{n},0),"")',
        None,
        replicas,
    )
    price = _cell_value(record.get("price_per_hour"))
    monthly = _finite(replicas * price * capacity.hours_per_month) if replicas != "" and price is not None else ""
    sheet.write_formula(
        r, 13, f'=IF(AND(ISNUMBER(M{n}),ISNUMBER(E{n})),M{n}*E{n}*hours_per_month,"")', formats["money"], monthly
    )
    # a load test that found no rate at an SLO at least as loose as the plan's proves the plan's SLO unreachable,
    # unless its search was cut short (load.max_time_s, search.max_runs): then it proves nothing, and a peak it
    # found is only a lower bound
    cut = isinstance(record.get("load_search_cut"), str)
    refuted = "FALSE" if cut else f"AND(NOT(ISNUMBER(J{n})),ISNUMBER(K{n}),N(K{n})>=latency_slo_ms)"
    load, single = ("load (lower bound)", "single stream (load search cut short)") if cut else ("load", "single stream")
    basis = load if usable else single
    if not usable and str(record.get("plan_basis", "")).startswith("load: no rate"):
        basis = "load: none meets the SLO"
    sheet.write_formula(
        r, 14, f'=IF(ISNUMBER(M{n}),"{load}",IF({refuted},"load: none meets the SLO","{single}"))', None, basis
    )
    plan_replicas, plan_cost = _cell_value(record.get("replicas")), _cell_value(record.get("monthly_cost"))
    sheet.write_formula(r, 15, f'=IF(ISNUMBER(M{n}),M{n},IF({refuted},"",G{n}))', None, plan_replicas or "")
    sheet.write_formula(
        r,
        16,
        f'=IF(ISNUMBER(M{n}),N{n},IF({refuted},"",H{n}))',
        formats["money"],
        "" if plan_cost is None else plan_cost,
    )

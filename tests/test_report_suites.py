"""A report of a run of several suites: each suite's own capacity inputs, currency and cheapest plans in
capacity.xlsx, and a cost chart that never draws two currencies on one axis."""

from __future__ import annotations

import dataclasses
import html
import re
from pathlib import Path

import openpyxl
import pytest

from bench.judge.cost import replicas_needed
from bench.report import write_report
from bench.report.xlsx import MAX_SHEET_NAME, TIE, capacity_sheet_names
from bench.results import Record, RunWriter
from tests.test_report import SECTIONS, ok_record

LONG = "recsys-quick.eu_west-1.int8-sweep-v2.long-name"
"""A suite name longer than a sheet name may be."""
EURO = {
    **SECTIONS,
    "prices": {"currency": "EUR", "cpu_core_hour": 0.5},
    "capacity": {"target_qps": 100, "latency_slo_ms": 50, "headroom": 2},
}
"""The second suite: its own currency, and a target load, SLO and headroom unlike the first's."""


def make_suites_run(results: Path, run_id: str = "r2", suites=(("s", SECTIONS), (LONG, EURO)), more=()) -> str:
    """Model m (fp32, bf16) in every suite; the first suite also has model n: two decision groups there. ``more``:
    further records, appended last."""
    meta = {"suites": [{"name": name, "path": f"{name}.yaml", "sections": sections} for name, sections in suites]}
    writer = RunWriter(results, run_id, meta)
    figures = {"fp32": (4.0, 4000, 0.9), "bf16": (3.0, 2000, 0.895)}
    for number, (suite, _) in enumerate(suites):
        for model in ("m", "n") if number == 0 else ("m",):
            for compression, (latency, size, accuracy) in figures.items():
                latency = latency * (0.5 if model == "n" else 1)
                record = ok_record(
                    run_id, f"{model}[{compression}-cpu-1t-bs1]", compression, "cpu", 1, latency, size,
                    accuracy=accuracy, accuracy_metric="auc",
                )  # fmt: skip
                writer.append(dataclasses.replace(record, suite=suite, model=model), [latency] * 5)
    for record in more:
        writer.append(record, [])
    writer.close("finished")
    return run_id


@pytest.fixture(scope="module")
def suites_report(tmp_path_factory):
    root = tmp_path_factory.mktemp("suites")
    run_id = make_suites_run(root / "results")
    return write_report(run_id, root / "results", root / "reports")


def _plan_rows(sheet) -> dict[str, int]:
    """The capacity sheet's plan rows: case id -> Excel row."""
    rows = {}
    for row in range(11, sheet.max_row + 1):
        value = sheet.cell(row, 1).value
        if not isinstance(value, str) or not re.fullmatch(r"\w\[.*\]", value):
            break
        rows[value] = row
    return rows


def _cheapest(sheet) -> dict[str, object]:
    """Below the plan: each "cheapest plan ..." label -> the case it names, and its cost (the row below)."""
    named = {}
    for row in range(12, sheet.max_row + 1):
        label = sheet.cell(row, 1).value
        if isinstance(label, str) and label.startswith("cheapest plan"):
            named[label] = (sheet.cell(row, 2).value, sheet.cell(row + 1, 1).value, sheet.cell(row + 1, 2).value)
    return named


def test_each_suite_has_its_own_capacity_sheet_inputs_names_and_currency(suites_report):
    """Was: one capacity sheet planned every suite's rows with the first suite's inputs (2000 QPS, 5 ms, x1.5) and
    labelled them USD: the EUR suite's bf16 row said 9 replicas and 3285 "USD" a month. Now each suite has its sheet,
    its inputs as input cells with names scoped to that sheet, and its currency in the headers."""
    folder, result = suites_report
    book = openpyxl.load_workbook(folder / "capacity.xlsx")
    cached = openpyxl.load_workbook(folder / "capacity.xlsx", data_only=True)
    assert book.sheetnames == ["summary", "cases", "pareto", "capacity s", "capacity recsys-quick.eu_west-1"]
    assert not {"target_qps", "latency_slo_ms", "headroom", "hours_per_month"} & set(book.defined_names)
    inputs = {"s": (2000, 5, 1.5, "USD"), LONG: (100, 50, 2, "EUR")}
    for suite, name in (("s", "capacity s"), (LONG, "capacity recsys-quick.eu_west-1")):
        target, slo, headroom, currency = inputs[suite]
        sheet, values = book[name], cached[name]
        assert suite in sheet["A1"].value and currency in sheet["A1"].value
        assert [sheet[f"B{row}"].value for row in range(4, 8)] == [target, slo, headroom, 730]
        names = sheet.defined_names
        assert {key: names[key].attr_text for key in names} == {
            key: f"'{name}'!${'B'}${row}"
            for key, row in (("target_qps", 4), ("latency_slo_ms", 5), ("headroom", 6), ("hours_per_month", 7))
        }
        header = [c.value for c in sheet[10]]
        assert header[4] == f"price per hour ({currency})" and header[7] == f"monthly cost ({currency})"
        assert header[19] == f"feasible plan monthly cost ({currency})"
        plan = result.capacity[result.capacity["suite"] == suite]
        rows = _plan_rows(sheet)
        assert set(rows) == set(plan["case_id"])
        for case in plan.itertuples():
            r = rows[case.case_id]
            assert sheet[f"G{r}"].value == f'=IF(AND(F{r}="yes",N(D{r})>0),ROUNDUP(target_qps*headroom/D{r},0),"")'
            assert values[f"E{r}"].value == pytest.approx(case.price_per_hour)
            if case.meets_slo:
                expected = replicas_needed(target, headroom, case.throughput_items_per_s)
                assert values[f"G{r}"].value == expected == case.replicas
                assert values[f"H{r}"].value == pytest.approx(expected * case.price_per_hour * 730)
            else:
                assert values[f"G{r}"].value in (None, "")
    summary = {row[0]: row[1] for row in cached["summary"].iter_rows(values_only=True) if row[0]}
    assert summary[f"{LONG}: capacity plan"] == "sheet 'capacity recsys-quick.eu_west-1' (EUR)"


def test_the_workbook_names_the_cheapest_plan_of_each_decision_group_as_the_pages_star(suites_report):
    """Was: one "cheapest plan" for the whole workbook, the lowest of every ★ of every suite (m[bf16-cpu-1t-bs1] at
    295.65, of suite s, "USD"), where the page marks one per decision group. Now each sheet names the cheapest of
    each of its suite's groups, over that group's rows only, with its cost in the suite's currency."""
    folder, result = suites_report
    book = openpyxl.load_workbook(folder / "capacity.xlsx")
    cached = openpyxl.load_workbook(folder / "capacity.xlsx", data_only=True)
    star = result.capacity[result.capacity["cheapest"]]
    assert len(star) == 4  # s: m and n; the EUR suite: m, whose two plans tie (one replica each, one core-hour)
    s_rows = _plan_rows(book["capacity s"])
    assert list(s_rows) == ["m[fp32-cpu-1t-bs1]", "m[bf16-cpu-1t-bs1]", "n[fp32-cpu-1t-bs1]", "n[bf16-cpu-1t-bs1]"]
    expected = {
        "capacity s": {
            f"cheapest plan meeting the SLO and the constraints: s · {model} on cpu, batch 1": (model, "USD")
            for model in ("m", "n")
        },
        "capacity recsys-quick.eu_west-1": {"cheapest plan meeting the SLO and the constraints": ("m", "EUR")},
    }
    for name, groups in expected.items():
        named = _cheapest(cached[name])
        assert set(named) == set(groups)
        suite = "s" if name == "capacity s" else LONG
        for label, (model, currency) in groups.items():
            rows = star[(star["suite"] == suite) & (star["model"] == model)]
            case, cost_label, cost = named[label]
            expected_case = rows["case_id"].iloc[0] if len(rows) == 1 else TIE.format(count=len(rows))
            assert case == expected_case and cost == pytest.approx(rows["monthly_cost"].iloc[0])
            assert cost_label == f"its monthly cost ({currency})"
    formulas = _cheapest(book["capacity s"])
    n_case = formulas["cheapest plan meeting the SLO and the constraints: s · n on cpu, batch 1"][0]
    assert n_case.startswith("=IF(COUNT(T13:T14)>0,IF(COUNTIF(T13:T14,MIN(T13:T14))>1,")  # n's rows only
    assert "INDEX(A13:A14,MATCH(MIN(T13:T14),T13:T14,0))" in n_case


def test_a_single_suite_workbook_keeps_its_capacity_sheet_and_workbook_names(tmp_path):
    run_id = make_suites_run(tmp_path / "results", suites=((LONG, EURO),))
    folder, _ = write_report(run_id, tmp_path / "results", tmp_path / "reports")
    book = openpyxl.load_workbook(folder / "capacity.xlsx")
    assert book.sheetnames == ["summary", "cases", "pareto", "capacity"]
    assert book.defined_names["target_qps"].attr_text == "capacity!$B$4"
    assert book["capacity"]["A1"].value.startswith("Capacity plan (yellow cells")
    assert book["capacity"]["E10"].value == "price per hour (EUR)"


@pytest.mark.parametrize(
    "suites",
    [
        ["s", "S"],  # Excel compares sheet names ignoring case
        [LONG, LONG + "-b", LONG + "-c"],  # the same first 31 characters
        ["a", "b" * 200, "x:y[1]/*?\\'z'"],  # characters Excel refuses (a records frame given to analyse())
    ],
)
def test_capacity_sheet_names_fit_excels_rules_whatever_the_suite_names(tmp_path, suites):
    names = capacity_sheet_names(suites)
    assert list(names) == suites
    assert len({name.casefold() for name in names.values()}) == len(suites)
    for name in names.values():
        assert 0 < len(name) <= MAX_SHEET_NAME and not re.search(r"[\[\]:*?/\\]", name)
        assert not name.startswith("'") and not name.endswith("'")
        assert name.casefold() not in {"summary", "cases", "pareto", "history"}


def _axes_bars(chart) -> list[tuple[str, str, list[str]]]:
    """Each axis of a bar chart: its x label, its title and its bars' labels."""
    return [
        (ax.get_xlabel(), ax.get_title(), [tick.get_text() for tick in ax.get_yticklabels()])
        for ax in chart.figure.axes
    ]


def test_suites_in_different_currencies_get_one_cost_panel_each_never_one_axis(suites_report):
    """Was: one axis labelled "USD per 1M inferences" drew the EUR suite's bars beside the USD suite's, as if
    comparable, and the two suites' m[bf16-cpu-1t-bs1] bars had the same label. Now each currency has its own panel
    and axis, the title says the currencies are not converted, and each bar names its suite."""
    import matplotlib.pyplot as plt

    from bench.report.charts import cost_chart

    folder, result = suites_report
    chart = cost_chart(result)
    try:
        assert chart.title == ("Compute cost per million inferences, one panel per currency (USD, EUR: not converted)")
        assert "no figure is converted" in chart.caption
        (usd_label, usd_title, usd_bars), (eur_label, eur_title, eur_bars) = _axes_bars(chart)
        assert usd_label == "USD per 1M inferences (log scale)" and usd_title == "USD: s"
        assert eur_label == "EUR per 1M inferences (log scale)" and eur_title == f"EUR: {LONG}"
        assert usd_bars and all(label.startswith("s::") for label in usd_bars)
        assert eur_bars and all(label.startswith(f"{LONG}::") for label in eur_bars)
        priced = result.cases[result.cases["cost_per_1m"].notna()]
        assert len(usd_bars) + len(eur_bars) == len(priced)
    finally:
        plt.close(chart.figure)
    page = (folder / "index.html").read_text()
    assert "one panel per currency (USD, EUR: not converted)" in page


@pytest.mark.parametrize("currency", ["EUR", "{x}"])
def test_suites_in_one_currency_share_one_cost_axis_as_before(tmp_path, currency):
    """Two suites pricing in one currency: one axis, named in the title, as with one suite (a currency with braces
    is drawn as written)."""
    import matplotlib.pyplot as plt

    from bench.report.charts import cost_chart
    from bench.report.tables import tables

    same = {**EURO, "prices": {**EURO["prices"], "currency": currency}}
    run_id = make_suites_run(tmp_path / "results", suites=(("s", same), (LONG, same)))
    chart = cost_chart(tables(run_id, tmp_path / "results"))
    try:
        ((label, title, bars),) = _axes_bars(chart)
        assert chart.title == title == f"Compute cost per million inferences ({currency})"
        assert label == f"{currency} per 1M inferences (log scale)" and len(bars) == 6
    finally:
        plt.close(chart.figure)


def test_a_capped_cost_chart_draws_each_currency_in_turn(suites_report, monkeypatch):
    """With more priced cases than bars, each currency's panel gets its turn (its recommendations, then its lowest):
    the cheapest bars of one currency do not crowd out another currency's panel."""
    import matplotlib.pyplot as plt

    from bench.report import charts

    monkeypatch.setattr(charts, "MAX_BARS", 2)
    chart = charts.cost_chart(suites_report[1])
    try:
        assert [len(bars) for _, _, bars in _axes_bars(chart)] == [1, 1]
        assert chart.more.endswith("(drawn: the recommendations, then the lowest of each panel in turn)")
    finally:
        plt.close(chart.figure)


def test_a_suites_plan_rows_are_grouped_so_each_groups_cheapest_reads_its_own_rows():
    """Rows of interleaved groups (batch 1, 8, 1, 8) are put group after group, each group's rows in their order, so
    that each group's formulas read one block of rows; a suite without a plan row has one block, unlabelled."""
    import pandas as pd

    from bench.report.xlsx import _suite_plan

    capacity = pd.DataFrame(
        {
            "suite": ["s", "s", "t", "s", "s"],
            "model": "m",
            "device": "cpu",
            "batch_size": [1, 8, 1, 1, 8],
            "case_id": ["a1", "a8", "t1", "b1", "b8"],
        }
    )
    plan, groups = _suite_plan(capacity, "s", ["suite", "model", "device", "batch_size"])
    assert list(plan["case_id"]) == ["a1", "b1", "a8", "b8"]
    assert groups == [("s · m on cpu, batch 1", range(0, 2)), ("s · m on cpu, batch 8", range(2, 4))]
    plan, groups = _suite_plan(capacity, "s", ["suite", "model", "device"])  # scoring.across_batch_sizes
    assert list(plan["case_id"]) == ["a1", "a8", "b1", "b8"] and groups == [("", range(0, 4))]
    plan, groups = _suite_plan(capacity, "u", ["suite", "model", "device"])
    assert plan.empty and groups == [("", range(0, 0))]
    assert _suite_plan(pd.DataFrame(), "s", ["suite"])[1] == [("", range(0, 0))]


def _table_text(fragment: str) -> list[list[str]]:
    """The rows of the HTML ``fragment``'s tables, each as its cells' text (header cells too)."""
    return [
        [
            html.unescape(re.sub(r"<[^>]+>", "", cell)).strip()
            for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        ]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", fragment, re.S)
    ]


def _section(page: str, start: str, end: str) -> str:
    return page[page.index(start) : page.index(end, page.index(start))]


def test_the_page_names_each_suites_currency_in_its_capacity_table_and_each_cost_cell(suites_report):
    """Was: one capacity table held both suites' rows under "price / hour" and "monthly cost", the EUR suite's
    beside the USD suite's, and the ranking's column read "$ / 1M" over EUR figures. Now each suite has its own
    capacity table under a heading naming its currency, with its inputs and that currency in its money headers, and
    with suites in different currencies each cost / 1M cell names its currency."""
    folder, result = suites_report
    page = (folder / "index.html").read_text()
    assert "$ / 1M" not in page and "<th>price / hour</th>" not in page and "<th>monthly cost</th>" not in page
    capacity = _section(page, "<h2>Capacity plan</h2>", "<h2>Charts</h2>")
    parts = re.split(r"<h3>(.*?)</h3>", capacity)[1:]
    headings, bodies = parts[0::2], parts[1::2]
    assert headings == ["s, in USD", f"{LONG}, in EUR"]
    for suite, currency, target, body in (("s", "USD", "2000", bodies[0]), (LONG, "EUR", "100", bodies[1])):
        header, *rows = _table_text(body)
        assert header[11] == f"price / hour ({currency})" and header[13] == f"monthly cost ({currency})"
        plan = result.capacity[result.capacity["suite"] == suite]
        assert [row[0] for row in rows] == list(plan["case_id"])
        assert f"target <strong>{target} QPS</strong>" in body and f"prices in {currency}:" in body
    ranking = _section(page, "<h2>Ranking</h2>", "</table>")
    header, *rows = _table_text(ranking)
    assert header[10] == "cost / 1M"  # after the suite column of a run of several suites
    costs = [row[10] for row in rows]
    expected = result.ranking["cost_per_1m"].map("{:.4g}".format) + " " + result.ranking["currency"]
    assert costs == list(expected) and {cost.split()[-1] for cost in costs} == {"USD", "EUR"}


def test_summary_csv_says_which_currency_each_rows_money_is_in(suites_report):
    """Was: summary.csv's price_per_hour and cost_per_1m of the EUR suite read like the USD suite's, with no column
    saying which. Now a currency column, just before price_per_hour, names each row's suite's currency."""
    import pandas as pd

    folder, _ = suites_report
    summary = pd.read_csv(folder / "summary.csv")
    columns = list(summary.columns)
    assert columns.index("currency") + 1 == columns.index("price_per_hour")
    assert summary.groupby("suite")["currency"].agg(set).to_dict() == {"s": {"USD"}, LONG: {"EUR"}}
    book = openpyxl.load_workbook(folder / "capacity.xlsx", read_only=True)
    header = next(book["cases"].iter_rows(max_row=1, values_only=True))
    assert "currency" in header


def test_a_single_currency_page_names_its_currency_once_in_each_money_header(tmp_path):
    """One suite priced in USD (the default): one capacity table as before, no heading per suite, its money headers
    naming USD ("USD / 1M", "price / hour (USD)"), and the cost cells plain numbers."""
    run_id = make_suites_run(tmp_path / "results", suites=(("s", SECTIONS),))
    folder, result = write_report(run_id, tmp_path / "results", tmp_path / "reports")
    page = (folder / "index.html").read_text()
    capacity = _section(page, "<h2>Capacity plan</h2>", "<h2>Charts</h2>")
    assert "<h3>" not in capacity and capacity.count("<table>") == 1
    header = _table_text(capacity)[0]
    assert header[11] == "price / hour (USD)" and header[13] == "monthly cost (USD)"
    header, *rows = _table_text(_section(page, "<h2>Ranking</h2>", "</table>"))
    assert header[:2] == ["rank", "case"] and "suite" not in header  # one suite: no suite column, as before
    assert header[9] == "USD / 1M" and "$ / 1M" not in page
    assert [row[9] for row in rows] == list(result.ranking["cost_per_1m"].map("{:.4g}".format))
    assert "Every money figure is in USD" in re.sub(r"\s+", " ", page)


@pytest.mark.parametrize(("first", "second"), [("<b>", "€"), ("&amp;", "<i>x")])
def test_a_currency_with_markup_is_shown_as_text_never_as_html(tmp_path, first, second):
    """A currency is 1 to 8 printable characters, so it may hold markup: the page escapes it wherever it is written
    (headings, headers, cells, the methodology), and summary.csv keeps it as written."""
    import pandas as pd

    suites = tuple(
        (name, {**EURO, "prices": {"currency": currency, "cpu_core_hour": 0.5}})
        for name, currency in (("s", first), (LONG, second))
    )
    run_id = make_suites_run(tmp_path / "results", suites=suites)
    folder, _ = write_report(run_id, tmp_path / "results", tmp_path / "reports")
    page = (folder / "index.html").read_text()
    assert "<b>" not in page and "<i>" not in page  # the template itself writes neither tag
    capacity = _section(page, "<h2>Capacity plan</h2>", "<h2>Charts</h2>")
    headings = [html.unescape(h) for h in re.findall(r"<h3>(.*?)</h3>", capacity)]
    assert headings == [f"s, in {first}", f"{LONG}, in {second}"]  # as written: escaped once, no more
    for currency, body in zip((first, second), re.split(r"<h3>.*?</h3>", capacity)[1:], strict=True):
        assert _table_text(body)[0][13] == f"monthly cost ({currency})"
    costs = [row[10] for row in _table_text(_section(page, "<h2>Ranking</h2>", "</table>"))[1:]]
    assert {cost.split(" ", 1)[1] for cost in costs} == {first, second}
    summary = pd.read_csv(folder / "summary.csv")
    assert set(summary["currency"]) == {first, second}


def test_a_cost_constraint_verdict_names_the_suites_currency_on_the_page_in_summary_csv_and_the_workbook(tmp_path):
    """Was: "violates cost_per_1m 0.5556 > 0.5 (cost_per_1m_max)" for the EUR suite, with nothing saying EUR (and the
    tie texts said "$/1M"). Now each verdict names the figures' currency, and no text of the run says dollars."""
    import pandas as pd

    strict = {**EURO, "constraints": {"cost_per_1m_max": 0.5}}  # fp32: 0.5 EUR/h / 250 items/s = 0.5556 EUR per 1M
    run_id = make_suites_run(tmp_path / "results", suites=(("s", SECTIONS), (LONG, strict)))
    folder, result = write_report(run_id, tmp_path / "results", tmp_path / "reports")
    expected = "violates cost_per_1m 0.5556 EUR > 0.5 EUR (cost_per_1m_max)"
    summary = pd.read_csv(folder / "summary.csv").set_index(["suite", "case_id"])
    assert summary.loc[(LONG, "m[fp32-cpu-1t-bs1]"), "verdict"] == expected
    page = html.unescape((folder / "index.html").read_text())
    assert expected in page and "$" not in page
    assert "<code>cost_per_1m_max = 0.5 EUR</code> (compute cost per million inferences)" in page  # methodology
    book = openpyxl.load_workbook(folder / "capacity.xlsx", read_only=True)
    assert expected in {cell for row in book["cases"].iter_rows(values_only=True) for cell in row}
    assert not summary["verdict"].str.contains("$", regex=False).any()
    assert not result.recommendations["reasons"].str.contains("$", regex=False).any()


def test_a_run_of_several_suites_names_the_suite_of_each_ranking_row(suites_report):
    """Was: the ranking table had no suite column, so suite s's m[fp32-cpu-1t-bs1] and the EUR suite's, with the same
    case id, read alike (two rows "m[fp32-cpu-1t-bs1]"). Now a run of several suites has a suite column first, in the
    ranking and in the table of cases not scored; each (suite, case) row is the ranking's own."""
    folder, result = suites_report
    page = (folder / "index.html").read_text()
    header, *rows = _table_text(_section(page, "<h2>Ranking</h2>", "</table>"))
    assert header[:3] == ["suite", "rank", "case"]
    shown = [(row[0], row[2].removeprefix("★ ")) for row in rows]
    assert shown == list(zip(result.ranking["suite"], result.ranking["case_id"], strict=True))
    assert len(set(shown)) == len(shown) and len({case for _, case in shown}) < len(shown)  # ids shared, rows not
    assert {suite for suite, _ in shown} == {"s", LONG}


def test_the_cases_not_scored_of_a_run_of_several_suites_name_their_suite(tmp_path):
    """The table of cases not scored (skipped, failed) names each row's suite too when the run has several."""
    skipped = Record(
        run_id="r2", suite=LONG, case_id="m[int8-cuda-bs1]", model="m", compression="int8", engine="eager",
        device="cuda", threads=None, batch_size=1, status="skipped", error="no CUDA",
    )  # fmt: skip
    run_id = make_suites_run(tmp_path / "results", more=[skipped])
    folder, _ = write_report(run_id, tmp_path / "results", tmp_path / "reports")
    page = (folder / "index.html").read_text()
    header, *rows = _table_text(_section(page, "<h3>Cases not scored</h3>", "</table>"))
    assert header == ["suite", "case", "status", "reason"]
    assert [row[:3] for row in rows] == [[LONG, "m[int8-cuda-bs1]", "skipped"]]


def test_a_group_is_named_alike_where_one_suite_ranks_across_batch_sizes_and_another_does_not(tmp_path, capsys):
    """Was: the recommendations of suite s (``scoring.across_batch_sizes``: no batch in its groups) and suite t (one
    group per batch size) share one table, so the terminal named s's group "s · m on cpu, batch nan", the page's
    card "batch None", and t's groups "batch 1.0" and "batch 8.0". Now s's group has no batch and t's read 1, 8."""
    from bench.cli import main

    across = {**SECTIONS, "scoring": {"profile": "recommendation", "across_batch_sizes": True}}
    suites = (("s", across), ("t", SECTIONS))
    meta = {"suites": [{"name": name, "path": f"{name}.yaml", "sections": sections} for name, sections in suites]}
    writer = RunWriter(tmp_path / "results", "r3", meta)
    for suite in ("s", "t"):
        for batch in (1, 8):
            for compression, latency, size in (("fp32", 4.0, 4000), ("bf16", 3.0, 2000)):
                record = ok_record("r3", f"m[{compression}-cpu-1t-bs{batch}]", compression, "cpu", 1, latency, size)
                record = dataclasses.replace(record, suite=suite, batch_size=batch, accuracy=0.9)
                writer.append(record, [latency] * 5)
    writer.close("finished")
    assert main(["report", "r3", "--results", str(tmp_path / "results"), "--out", str(tmp_path / "reports")]) == 0
    out = capsys.readouterr().out
    groups = re.findall(r"^  (\S+ · m on cpu[^:]*):", out, flags=re.M)
    assert groups == ["s · m on cpu", "t · m on cpu, batch 1", "t · m on cpu, batch 8"]
    page = html.unescape((tmp_path / "reports" / "r3" / "index.html").read_text())
    assert [f"<strong>{group}:</strong>" in page for group in groups] == [True] * 3
    assert "batch nan" not in page + out and "batch None" not in page and "batch 1.0" not in page + out

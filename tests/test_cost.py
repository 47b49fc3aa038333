"""Price table, cost per 1M inferences, energy columns (empty, never 0, when unmeasured) and the replica formula."""

from __future__ import annotations

import math
import re

import pandas as pd
import pytest

from bench.errors import SuiteError
from bench.judge.cost import (
    Capacity,
    add_costs,
    capacity_plan,
    cost_per_1m,
    default_price_table,
    load_prices,
    replicas_needed,
    validate_capacity,
    validate_prices,
)


def cases(**columns) -> pd.DataFrame:
    base = {
        "suite": ["s", "s", "s"],
        "model": ["m", "m", "m"],
        "case_id": ["cpu1", "cpu4", "gpu"],
        "status": ["ok", "ok", "ok"],
        "device": ["cpu", "cpu", "cuda:0"],
        "threads": [1, 4, None],
        "batch_size": [1, 1, 1],
        "gpu_name": [None, None, "NVIDIA H100 80GB HBM3"],
        "throughput_items_per_s": [100.0, 300.0, 10_000.0],
        "latency_p50_ms": [10.0, 3.3, 0.1],
        "latency_p99_ms": [20.0, 8.0, 0.5],
        "energy_j_per_item": [None, None, 0.36],
    }
    base.update(columns)
    return pd.DataFrame(base)


def test_default_price_table_is_shipped_and_valid():
    table = default_price_table()
    assert table["currency"] == "USD"
    assert table["cpu_core_hour"] > 0 and "H100" in table["gpu_hour"]


def test_cost_per_million_inferences_formula():
    # $0.36 per hour at 100 items/s: 360,000 items per hour -> $1 per 1M
    assert cost_per_1m(0.36, 100.0) == pytest.approx(1.0)
    assert math.isnan(cost_per_1m(None, 100.0)) and math.isnan(cost_per_1m(1.0, 0.0))


def test_costs_per_case_cpu_by_core_hour_gpu_by_model():
    prices = load_prices({"cpu_core_hour": 0.05, "gpu_hour": {"H100": 4.0, "H1": 99.0}})
    out = add_costs(cases(), prices).set_index("case_id")
    assert out.loc["cpu1", "price_per_hour"] == pytest.approx(0.05)
    assert out.loc["cpu4", "price_per_hour"] == pytest.approx(0.20)  # 4 threads = 4 core-hours
    assert out.loc["gpu", "price_per_hour"] == pytest.approx(4.0)  # the longest matching key wins
    assert out.loc["gpu", "price_basis"] == "H100 GPU-hour from the suite's prices: section"
    assert out.loc["cpu4", "price_basis"] == "4 core-hour(s) from the suite's prices: section"
    assert out.loc["cpu1", "cost_per_1m"] == pytest.approx(0.05 / (100 * 3600) * 1e6)
    assert out.loc["gpu", "cost_per_1m"] == pytest.approx(4.0 / (10_000 * 3600) * 1e6)


def test_energy_columns_are_empty_not_zero_when_unmeasured():
    prices = load_prices({"electricity_per_kwh": 0.2, "carbon_g_per_kwh": 500})
    out = add_costs(cases(), prices).set_index("case_id")
    for column in ("energy_kwh_per_1m", "carbon_g_per_1m", "electricity_cost_per_1m"):
        assert pd.isna(out.loc["cpu1", column])
    # 0.36 J per item * 1e6 items = 360,000 J = 0.1 kWh
    assert out.loc["gpu", "energy_kwh_per_1m"] == pytest.approx(0.1)
    assert out.loc["gpu", "carbon_g_per_1m"] == pytest.approx(50.0)
    assert out.loc["gpu", "electricity_cost_per_1m"] == pytest.approx(0.02)


def test_unknown_gpu_has_no_price_and_says_why():
    out = add_costs(cases(gpu_name=[None, None, "Mystery GPU 9000"]), load_prices()).set_index("case_id")
    assert pd.isna(out.loc["gpu", "cost_per_1m"])
    assert "no price for GPU 'Mystery GPU 9000'; add it to prices.gpu_hour" in out.loc["gpu", "price_basis"]


@pytest.mark.parametrize(
    ("gpu_name", "priced_as"),
    [
        ("NVIDIA GH200 480GB", None),  # was H200's price: H200 is in GH200's name
        ("NVIDIA L40", None),  # was L4's
        ("NVIDIA L40S", "L40S"),
        ("NVIDIA L4", "L4"),
        ("NVIDIA H200 NVL", "H200"),
        ("NVIDIA A100-SXM4-80GB", "A100"),
        ("Tesla T4", "T4"),
        ("nvidia h100 80gb hbm3", "H100"),
    ],
)
def test_a_gpu_is_priced_only_by_a_name_found_in_its_own_as_whole_words(gpu_name, priced_as):
    """Another product's price is no price: a GPU the table does not name has none, and says so."""
    prices = load_prices()
    found = prices.price_of("cuda:0", None, gpu_name)
    if priced_as is None:
        assert found.price is None and found.basis == f"no price for GPU '{gpu_name}'; add it to prices.gpu_hour"
    else:
        assert found.price == dict(prices.gpu_hour)[priced_as] and found.basis.startswith(f"{priced_as} GPU-hour")
    specific = load_prices({"gpu_hour": {"GH200": 5.5}}).price_of("cuda:0", None, "NVIDIA GH200 480GB")
    assert (specific.price, specific.basis.split()[0]) == (5.5, "GH200")


def test_a_mig_slice_at_its_whole_gpus_price_says_so_in_its_price_basis():
    """A MIG slice was priced as its whole GPU without a word: a 1g.10gb slice's cost per 1M read as an H100's."""
    names = ["NVIDIA H100 80GB HBM3 MIG 1g.10gb", "NVIDIA H100 80GB HBM3 MIG 3g.40gb", "NVIDIA H100 80GB HBM3"]
    frame = cases(gpu_name=names, device=["cuda:0"] * 3, threads=[None] * 3, case_id=["slice", "slice3", "whole"])
    out = add_costs(frame, load_prices()).set_index("case_id")
    whole = "H100 GPU-hour from the default table (bench/data/prices.yaml)"
    assert set(out["price_per_hour"]) == {dict(load_prices().gpu_hour)["H100"]}  # still the whole GPU's price
    assert out.loc["whole", "price_basis"] == whole
    for case, profile in (("slice", "MIG 1g.10gb"), ("slice3", "MIG 3g.40gb")):
        assert out.loc[case, "price_basis"].startswith(f"{whole}; whole GPU price for a MIG slice ({profile}):")
    # a key naming the slice prices the slice, without the note
    own = load_prices({"gpu_hour": {"H100 80GB HBM3 MIG 1g.10gb": 1.1}}).hourly("cuda:0", None, names[0])
    assert own == (1.1, "H100 80GB HBM3 MIG 1g.10gb GPU-hour from the suite's prices: section")


def test_price_layers_default_then_suite_then_file(tmp_path):
    path = tmp_path / "prices.yaml"
    path.write_text("cpu_core_hour: 0.5\ngpu_hour: {B200: 9.0}\n")
    prices = load_prices({"cpu_core_hour": 0.1, "carbon_g_per_kwh": 50}, path)
    assert prices.cpu_core_hour == 0.5  # the file wins
    assert prices.carbon_g_per_kwh == 50  # the suite's value survives where the file is silent
    assert dict(prices.gpu_hour)["B200"] == 9.0 and "H100" in dict(prices.gpu_hour)
    assert prices.source == f"default + suite prices + {path}"
    assert prices.hourly("cpu", 2, None) == (1.0, f"2 core-hour(s) from --prices {path}")
    assert prices.hourly("cuda:0", None, "NVIDIA B200")[1] == f"B200 GPU-hour from --prices {path}"
    path.write_text("cpu_core_hours: 0.5\n")
    with pytest.raises(
        SuiteError, match=r"prices\.yaml: prices\.cpu_core_hours: unknown key\. Did you mean 'cpu_core_hour'"
    ):
        load_prices(None, path)


def test_validate_prices_and_capacity_errors():
    with pytest.raises(SuiteError, match=re.escape("prices.gpu_hour.H100: must be >= 0")):
        validate_prices({"gpu_hour": {"H100": -1}})
    for name in ("", " ", None):  # '' matched every GPU and priced it; YAML reads ~: as null
        with pytest.raises(
            SuiteError, match=re.escape(f"prices.gpu_hour: {name!r} is not a GPU model name (e.g. H100)")
        ):
            validate_prices({"gpu_hour": {name: 0.0}})
    assert validate_prices({"gpu_hour": {4090: 1.5}})  # YAML reads 4090: as a number: the RTX 4090's price
    with pytest.raises(SuiteError, match=re.escape("capacity.headroom: must be >= 1")):
        validate_capacity({"headroom": 0.5})
    with pytest.raises(SuiteError, match=re.escape("capacity.slo_statistic: unknown 'p98'. Did you mean 'p99'")):
        validate_capacity({"slo_statistic": "p98"})
    with pytest.raises(SuiteError, match=re.escape("capacity.target_qps: must be > 0")):
        validate_capacity({"target_qps": 0})


@pytest.mark.parametrize("currency", ["''", "' USD'", "EURO-DOLLAR", '"U\\tS"', "null"])
def test_a_currency_that_would_mislabel_the_money_columns_is_refused_naming_the_file(tmp_path, currency):
    """Was accepted: '' labelled every money column "()" ("price per hour ()"), a long text made each header that
    long, a tab or a newline broke it. Now the --prices file and its key are named, and what is allowed."""
    path = tmp_path / "prices.yaml"
    path.write_text(f"currency: {currency}\n")
    with pytest.raises(SuiteError) as info:
        load_prices(None, path)
    message = str(info.value)
    assert message.startswith(f"{path}: prices.currency: must be a currency code or symbol of 1 to 8 printable ")
    assert "\n" not in message and "Traceback" not in message
    if currency == "EURO-DOLLAR":
        assert message.endswith("got 'EURO-DOLLAR' (11 characters)")


def test_a_run_recorded_with_a_currency_refused_since_is_reported_with_the_prices_files(tmp_path):
    """A run measured before currency was checked keeps its prices: section (currency: '') in meta.json: its report
    is refused with the key named, and --prices with a currency reports it."""
    with pytest.raises(SuiteError, match=r"^prices\.currency: must be a currency code"):
        load_prices({"currency": "", "cpu_core_hour": 0.1})
    path = tmp_path / "prices.yaml"
    path.write_text("currency: EUR\n")
    prices = load_prices({"currency": "", "cpu_core_hour": 0.1}, path)
    assert prices.currency == "EUR" and prices.cpu_core_hour == 0.1


def test_a_short_currency_code_or_symbol_labels_the_money_columns(tmp_path):
    for currency in ("EUR", "€", "CHF", "US$", "BTC sat"):
        assert load_prices({"currency": currency}).currency == currency


def test_a_gpu_price_overrides_another_layers_whatever_the_case_of_its_name(tmp_path):
    """Was: --prices with gpu_hour {h100: 99} was ignored, silently: the default table's H100 (6.98) matched the
    same GPU and won by its order. And one table naming a GPU twice (H100, h100) kept one price by order."""
    path = tmp_path / "contract.yaml"
    path.write_text("gpu_hour: {h100: 99.0}\n")
    prices = load_prices({"gpu_hour": {"H100": 50.0}}, path)
    assert prices.hourly("cuda:0", None, "NVIDIA H100 80GB HBM3") == (99.0, f"h100 GPU-hour from --prices {path}")
    assert dict(prices.gpu_hour)["A100"] == 3.67  # the other defaults stay
    path.write_text("gpu_hour: {H100: 1.0, h100: 2.0}\n")
    with pytest.raises(SuiteError) as error:
        load_prices(file=path)
    assert str(error.value) == (
        f"{path}: prices.gpu_hour: 'H100' and 'h100' name the same GPU (names are matched ignoring case); give it once"
    )


@pytest.mark.parametrize(
    ("written", "hint"),
    [
        ("1e308", "(YAML reads an exponent without a dot or a sign as text: write 1.0e+308)"),
        ("1.0e-5", None),  # a number: accepted
        ("1.0e5", "(YAML reads an exponent without a dot or a sign as text: write 1.0e+5)"),
        ('"0.05"', "(text, not a number: write it without quotes)"),
        ("cheap", ""),
    ],
)
def test_a_price_yaml_reads_as_text_says_why_it_is_not_a_number(tmp_path, written, hint):
    """Was: "prices.cpu_core_hour: must be a finite number, got '1e308'" for a value the user wrote as a number,
    without saying that YAML 1.1 reads an exponent without a dot and a sign as text."""
    path = tmp_path / "prices.yaml"
    path.write_text(f"cpu_core_hour: {written}\n")
    if hint is None:
        assert load_prices(file=path).cpu_core_hour == pytest.approx(1e-5)
        return
    with pytest.raises(SuiteError) as error:
        load_prices(file=path)
    text = written.strip('"')
    assert str(error.value) == f"{path}: prices.cpu_core_hour: must be a finite number, got '{text}'" + (
        f" {hint}" if hint else ""
    )


@pytest.mark.parametrize(
    ("qps", "headroom", "throughput", "replicas"),
    [(1000, 1.5, 500, 3), (1000, 1.0, 300, 4), (100, 1.2, 1000, 1), (0.3 * 3, 1.0, 0.3, 3)],
)
def test_replicas_formula(qps, headroom, throughput, replicas):
    assert replicas_needed(qps, headroom, throughput) == replicas


def test_capacity_plan_uses_only_cases_meeting_the_slo_and_marks_the_cheapest():
    costed = add_costs(cases(), load_prices({"cpu_core_hour": 0.05, "gpu_hour": {"H100": 4.0}}))
    capacity = Capacity(target_qps=1000, latency_slo_ms=10, slo_statistic="p99", headroom=1.5, hours_per_month=730)
    plan = capacity_plan(costed, capacity).set_index("case_id")
    assert not plan.loc["cpu1", "meets_slo"] and pd.isna(plan.loc["cpu1", "monthly_cost"])  # p99 20 ms > 10 ms
    assert plan.loc["cpu4", "replicas"] == 5  # ceil(1000 * 1.5 / 300)
    assert plan.loc["cpu4", "monthly_cost"] == pytest.approx(5 * 0.20 * 730)
    assert plan.loc["gpu", "replicas"] == 1
    assert plan.loc["gpu", "monthly_cost"] == pytest.approx(4.0 * 730)
    assert plan.loc["cpu4", "cheapest"] and plan.loc["gpu", "cheapest"]  # each the cheapest of its hardware target
    across = capacity_plan(costed, capacity, group_columns=("suite", "model")).set_index("case_id")
    assert across.loc["cpu4", "cheapest"] and not across.loc["gpu", "cheapest"]  # 730 < 2920


def test_plans_of_exactly_the_same_monthly_cost_are_all_cheapest_and_called_a_tie():
    """Was: cpu1 and cpu1-copy, one core each at the same throughput, cost the same per month, and the plan marked
    the first, cpu1, "cheapest" alone. Now every plan at the group's lowest cost is marked and counts the tie; a
    cheaper plan is the cheapest alone, with no tie."""
    frame = cases(case_id=["cpu1", "cpu1-copy", "cpu4"], device=["cpu"] * 3, threads=[1, 1, 4])
    frame["throughput_items_per_s"] = [300.0, 300.0, 300.0]
    frame["latency_p99_ms"] = [8.0, 8.0, 8.0]
    capacity = Capacity(target_qps=1000, latency_slo_ms=10, slo_statistic="p99", headroom=1.5)
    plan = capacity_plan(add_costs(frame, load_prices({"cpu_core_hour": 0.05})), capacity).set_index("case_id")
    assert plan.loc["cpu1", "monthly_cost"] == plan.loc["cpu1-copy", "monthly_cost"] < plan.loc["cpu4", "monthly_cost"]
    assert plan["cheapest"].to_dict() == {"cpu1": True, "cpu1-copy": True, "cpu4": False}
    assert plan["cheapest_tie"].to_dict() == {"cpu1": 2, "cpu1-copy": 2, "cpu4": 0}
    frame.loc[1, "throughput_items_per_s"] = 400.0  # 4 replicas, not 5: cheaper, alone
    plan = capacity_plan(add_costs(frame, load_prices({"cpu_core_hour": 0.05})), capacity).set_index("case_id")
    assert plan["cheapest"].to_dict() == {"cpu1": False, "cpu1-copy": True, "cpu4": False}
    assert not plan["cheapest_tie"].any()


def test_capacity_defaults_and_section():
    assert Capacity.from_section(None) == Capacity()
    capacity = Capacity.from_section({"target_qps": 50, "latency_slo_ms": 20})
    assert capacity.from_suite and capacity.target_qps == 50 and capacity.headroom == 1.5


def test_an_slo_on_per_item_latency_is_refused():
    import pytest

    from bench.errors import SuiteError
    from bench.judge.cost import validate_capacity

    with pytest.raises(SuiteError, match=r"slo_statistic.*unknown 'per_item'.*Allowed: p50"):
        validate_capacity({"target_qps": 10, "latency_slo_ms": 5, "slo_statistic": "per_item"})


@pytest.mark.parametrize("device", ["tpu", "mps", "cudax", "xla:0"])
def test_a_device_the_price_table_does_not_know_has_no_price_not_the_cpus(device):
    """Was: a hand-edited record on a tpu with threads: 8 was priced as 8 CPU core-hours."""
    frame = cases(device=["cpu", device, "cuda:0"], threads=[1, 8, None])
    out = add_costs(frame, load_prices({"cpu_core_hour": 0.05})).set_index("case_id")
    assert pd.isna(out.loc["cpu4", "price_per_hour"]) and pd.isna(out.loc["cpu4", "cost_per_1m"])
    assert out.loc["cpu4", "price_basis"] == (
        f"no price for device '{device}': the price table prices cpu (per core) and cuda (per GPU)"
    )
    assert out.loc["cpu1", "price_per_hour"] == pytest.approx(0.05)  # cpu and cuda keep their prices
    assert out.loc["gpu", "price_basis"] == "H100 GPU-hour from the default table (bench/data/prices.yaml)"


def test_each_rows_price_basis_names_the_price_layer_its_price_came_from(tmp_path):
    """Was: '2 core-hour(s)' and 'H100 GPU-hour' whichever of the default table, the suite's prices: section or the
    --prices file set that price; now the basis names it, per key (a layer that sets only L4 leaves H100 default)."""
    default = "the default table (bench/data/prices.yaml)"
    assert load_prices().hourly("cpu", 2, None)[1] == f"2 core-hour(s) from {default}"
    assert load_prices().hourly("cuda", None, "NVIDIA H100 80GB HBM3")[1] == f"H100 GPU-hour from {default}"
    suite = load_prices({"gpu_hour": {"L4": 0.7}, "carbon_g_per_kwh": 50})
    assert suite.hourly("cpu", 1, None)[1] == f"1 core-hour(s) from {default}"  # the suite did not set it
    assert suite.hourly("cuda", None, "NVIDIA L4")[1] == "L4 GPU-hour from the suite's prices: section"
    assert suite.hourly("cuda", None, "NVIDIA H100")[1] == f"H100 GPU-hour from {default}"
    path = tmp_path / "contract.yaml"
    path.write_text("gpu_hour: {H100: 5.0}\n")
    both = load_prices({"cpu_core_hour": 0.1, "gpu_hour": {"H100": 6.0}}, path)
    assert both.hourly("cpu", 3, None) == (pytest.approx(0.3), "3 core-hour(s) from the suite's prices: section")
    assert both.hourly("cuda", None, "H100") == (5.0, f"H100 GPU-hour from --prices {path}")


def test_no_unit_of_the_metric_table_says_dollars_and_a_money_unit_takes_its_rows_currency():
    """Was: price_per_hour's unit was "$/h" and the cost columns' "$", so wherever a unit was shown an EUR suite's
    figures read as dollars. Now the table says "currency/h" and "currency", and what shows a unit puts the row's
    currency there (``EUR/h``), or no unit where none is known."""
    from bench import metrics

    assert {m.name for m in metrics.TABLE if m.money} == {"price_per_hour", "cost_per_1m", "electricity_cost_per_1m"}
    assert not [m.name for m in metrics.TABLE if "$" in m.unit or "$" in m.label]
    assert metrics.shown_unit("price_per_hour", "EUR") == "EUR/h" and metrics.shown_unit("cost_per_1m", "€") == "€"
    assert metrics.shown_unit("price_per_hour") == metrics.shown_unit("cost_per_1m", float("nan")) == ""
    assert metrics.shown_unit("latency_p50_ms", "EUR") == "ms"
    assert metrics.per_million("EUR") == "EUR per 1M" and metrics.per_million(None) == "cost per 1M"


def test_the_docs_write_the_cost_formulas_in_the_suites_currency_never_in_dollars():
    """Was: README's "Deciding" and docs/scoring.md wrote "$ per 1M inferences = ..." and "the cheaper ($/1M)", as if
    every suite priced in dollars. Now they say "cost per 1M" and that it is in the suite's currency."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    for name in ("README.md", "docs/scoring.md", "docs/energy.md"):
        text = (root / name).read_text(encoding="utf-8")
        assert not re.findall(r"\$ ?/ ?1M|\$ per|electricity \$|, \$ and", text), name
    formula = "Cost: `cost per 1M inferences = price per hour / (throughput × 3600) × 10⁶`, in the suite's currency"
    assert formula in (root / "README.md").read_text(encoding="utf-8")

"""Money, energy and capacity: a price table, cost per 1M inferences (in the table's currency), kWh and gCO2 per 1M,
and a replica plan.

Formulas (also in ``docs/scoring.md``)::

    price_per_hour   = threads * cpu_core_hour            (CPU case)
                     = gpu_hour[GPU model]                (CUDA case: the whole GPU; the longest gpu_hour name found
                                                           in gpu_name as whole words, e.g. H200 not in GH200; a MIG
                                                           slice at its whole GPU's price, which price_basis says,
                                                           unless a key names the slice)
                     = empty, with the reason in price_basis (any other device)
    price_basis      = "2 core-hour(s) from <layer>" / "H100 GPU-hour from <layer>": the default table, the suite's
                       prices: section or the --prices file, whichever set that price last
    price_missing    = why price_per_hour is empty, as price_basis says it without the table's GPU names (a verdict's)
    loaded_items_per_s = server_max_qps * batch_size   (a LoadGen Server peak; else throughput_items_per_s)
    cost_per_1m      = price_per_hour / (loaded_items_per_s * 3600) * 1e6
    energy_kwh_per_1m = energy_j_per_item * 1e6 / 3.6e6   (empty where energy was not measured, never 0)
                      (under load: power_w_avg / loaded_items_per_s in place of energy_j_per_item)
    carbon_g_per_1m  = energy_kwh_per_1m * carbon_g_per_kwh
    replicas         = ceil(target_qps * headroom / (server_max_qps * batch_size))   when the Server peak was found at
                       a p99 SLO no looser than the plan's (an upper bound when the peak is a lower bound: its search
                       was cut short); otherwise (single-stream formula, labelled as such)
                     = ceil(target_qps * headroom / throughput_items_per_s)   for a case whose latency meets the SLO
    monthly_cost     = replicas * price_per_hour * hours_per_month
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, NamedTuple

import pandas as pd
import yaml

from bench import checks, safe_yaml
from bench.errors import SuiteError
from bench.judge.scoring import LATENCY_STATISTICS

PRICE_KEYS = ("currency", "cpu_core_hour", "gpu_hour", "electricity_per_kwh", "carbon_g_per_kwh")
CAPACITY_KEYS = ("target_qps", "latency_slo_ms", "slo_statistic", "headroom", "hours_per_month")
DEFAULT_SOURCE = "the default table (bench/data/prices.yaml)"
SUITE_SOURCE = "the suite's prices: section"
"""How a row's ``price_basis`` names the price layer its price came from; a ``--prices`` file is named by its path."""
MAX_CURRENCY = 8
"""Most characters of ``prices.currency``, which labels every money column ("monthly cost (USD)")."""
HOURS_PER_MONTH = 730.0  # 365 * 24 / 12
CAPACITY_LIMITS = {"target_qps": 10**12, "latency_slo_ms": 3_600_000, "headroom": 100, "hours_per_month": 744}
"""Largest value of each ``capacity:`` number (a month has at most 744 hours, an SLO is at most an hour), so that
a plan's replica count stays a number (``target_qps: 1.0e+308`` overflowed it)."""


# -------------------------------------------------------------------------------------------- prices


def validate_prices(value: Any, where: str = "prices") -> dict[str, Any]:
    """Check a ``prices:`` section (or a price file): known keys, non-negative numbers, GPU names to prices."""
    section = checks.mapping(value, where, PRICE_KEYS)
    for key in ("cpu_core_hour", "electricity_per_kwh", "carbon_g_per_kwh"):
        if key in section:
            checks.number(section[key], f"{where}.{key}")
    if "currency" in section:
        _currency(section["currency"], f"{where}.currency")
    if "gpu_hour" in section:
        gpus = section["gpu_hour"]
        if not isinstance(gpus, dict):
            raise SuiteError(None, f"{where}.gpu_hour", "must map GPU model names (e.g. H100) to a price per hour")
        seen: dict[str, Any] = {}
        for name, price in gpus.items():
            if name is None or not str(name).strip():  # '' is in every GPU's name: it would price them all
                raise SuiteError(None, f"{where}.gpu_hour", f"{checks.short(name)} is not a GPU model name (e.g. H100)")
            checks.number(price, f"{where}.gpu_hour.{name}")
            first = seen.setdefault(_gpu_key(name), name)
            if first is not name:  # both match the same GPUs: one price would be ignored, which one by their order
                raise SuiteError(
                    None,
                    f"{where}.gpu_hour",
                    f"{checks.short(first)} and {checks.short(name)} name the same GPU (names are matched ignoring "
                    "case); give it once",
                )
    return section


def _currency(value: Any, key: str) -> str:
    """``value`` when it is a currency code or symbol that labels a money column: 1 to :data:`MAX_CURRENCY`
    printable characters, none of them a newline, without spaces around them (``''`` gave labels such as
    ``price per hour ()``; a long text, a header of that length)."""
    if isinstance(value, str) and 0 < len(value) <= MAX_CURRENCY and value.isprintable() and value == value.strip():
        return value
    length = f" ({len(value)} characters)" if isinstance(value, str) and len(value) > MAX_CURRENCY else ""
    raise SuiteError(
        None,
        key,
        f"must be a currency code or symbol of 1 to {MAX_CURRENCY} printable characters, no spaces around it "
        f"(e.g. USD, EUR, €), got {checks.short(value)}{length}",
    )


def _gpu_key(name: Any) -> str:
    """A ``gpu_hour`` name as it is matched against a GPU's name: ignoring case (and surrounding spaces)."""
    return str(name).strip().lower()


def names_gpu(key: str, gpu_name: str) -> bool:
    """Whether a ``gpu_hour`` name prices the GPU ``gpu_name``: found in it as whole words, ignoring case. ``H200``
    prices ``NVIDIA H200 NVL`` but not ``NVIDIA GH200 480GB``, ``L4`` prices ``NVIDIA L4`` but not ``NVIDIA L40S``:
    another product's price is no price for this one."""
    word = re.escape(_gpu_key(key))
    return re.search(rf"(?<![a-z0-9]){word}(?![a-z0-9])", gpu_name.lower()) is not None


MIG_NOTE = (
    "whole GPU price for a MIG slice ({profile}): the table's price is the whole GPU's, and the slice's share of it "
    "is not known; a gpu_hour key naming the slice prices it"
)


def mig_slice(gpu_name: str) -> str | None:
    """The MIG profile in a GPU's name (``MIG 1g.10gb`` in ``NVIDIA H100 80GB HBM3 MIG 1g.10gb``, as CUDA names a MIG
    slice), ``MIG`` for a slice without one, or ``None`` for a whole GPU."""
    found = re.search(r"(?<![a-z0-9])mig(?![a-z0-9])(\s+[0-9]+g\.[0-9]+gb)?", gpu_name.lower())
    if found is None:
        return None
    return f"MIG {found.group(1).strip()}" if found.group(1) else "MIG"


def _merge_gpus(table: Mapping[Any, Any], layer: Mapping[Any, Any]) -> dict[Any, Any]:
    """``table``'s GPU prices overridden by ``layer``'s, a name matched ignoring case as prices are (a file's
    ``h100`` replaces the default ``H100``; both kept, the default's won by its order)."""
    overridden = {_gpu_key(name) for name in layer}
    return {**{k: v for k, v in table.items() if _gpu_key(k) not in overridden}, **layer}


class HourlyPrice(NamedTuple):
    """What one case occupies costs per hour (``None`` where the table has no price for it), how that price was found
    or why there is none, and for a GPU missing from the table the GPU names it prices (else empty)."""

    price: float | None
    basis: str
    known: str = ""

    @property
    def sentence(self) -> str:
        """``basis`` as a row's ``price_basis`` says it: a missing GPU's reason followed by the names the table
        prices, for a near miss to be seen (``H100`` for ``NVIDIA H100 PCIe``)."""
        return f"{self.basis} (known: {self.known})" if self.known else self.basis


@dataclass(frozen=True)
class Prices:
    """A validated price table."""

    currency: str
    cpu_core_hour: float
    gpu_hour: tuple[tuple[str, float], ...]
    electricity_per_kwh: float
    carbon_g_per_kwh: float
    source: str = "default"
    cpu_source: str = DEFAULT_SOURCE
    """The price layer ``cpu_core_hour`` came from (see :func:`load_prices`), named in each CPU row's basis."""
    gpu_source: tuple[tuple[str, str], ...] = ()
    """GPU model -> the price layer its ``gpu_hour`` came from; a model not listed came from the default table."""

    def hourly(self, device: str, threads: Any, gpu_name: Any) -> tuple[float | None, str]:
        """Price per hour of what one case occupies, and how it was found (or why there is none), as a row's
        ``price_per_hour`` and ``price_basis`` give them (:meth:`price_of`)."""
        found = self.price_of(device, threads, gpu_name)
        return found.price, found.sentence

    def price_of(self, device: str, threads: Any, gpu_name: Any) -> HourlyPrice:
        """Price per hour of what one case occupies, and how it was found (or why there is none). Only the devices
        the table prices have one: ``cpu`` (``threads`` cores) and ``cuda`` (the GPU model); any other device (a
        hand-edited ``tpu``) has none, rather than the CPU's price per core."""
        kind = str(device).split(":", 1)[0]
        if kind not in ("cpu", "cuda"):
            return HourlyPrice(
                None, f"no price for device '{device}': the price table prices cpu (per core) and cuda (per GPU)"
            )
        if kind == "cuda":
            name = str(gpu_name or "")
            matches = [(key, price) for key, price in self.gpu_hour if names_gpu(key, name)]
            if not name:
                return HourlyPrice(None, "no price: the GPU model was not recorded")
            if not matches:
                known = ", ".join(key for key, _ in self.gpu_hour)
                return HourlyPrice(None, f"no price for GPU '{name}'; add it to prices.gpu_hour", known)
            key, price = max(matches, key=lambda m: len(m[0]))
            basis = f"{key} GPU-hour from {dict(self.gpu_source).get(key, DEFAULT_SOURCE)}"
            profile = mig_slice(name)
            if profile is not None and mig_slice(key) is None:  # a key naming the slice prices the slice
                basis += "; " + MIG_NOTE.format(profile=profile)
            return HourlyPrice(price, basis)
        try:
            cores = int(threads)
        except (TypeError, ValueError):
            return HourlyPrice(None, "no price: the thread count was not recorded")
        price = cores * self.cpu_core_hour
        if not math.isfinite(price):  # was an infinite price per hour: its cost read "not measured", with no reason
            return HourlyPrice(
                None, f"no price: {cores} core(s) x {self.cpu_core_hour:g} per core-hour overflows a float"
            )
        return HourlyPrice(price, f"{cores} core-hour(s) from {self.cpu_source}")


def _read_price_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    data = safe_yaml.load(path, "price file")
    try:
        return validate_prices(data, "prices")
    except SuiteError as err:
        raise SuiteError(str(path), err.key, err.message) from None


def default_price_table() -> dict[str, Any]:
    """The price table shipped with bench (``bench/data/prices.yaml``), an example to override."""
    text = resources.files("bench").joinpath("data/prices.yaml").read_text(encoding="utf-8")
    return validate_prices(yaml.safe_load(text), "prices")


def load_prices(section: Mapping[str, Any] | None = None, file: str | os.PathLike[str] | None = None) -> Prices:
    """Default table, overridden by a suite's ``prices:`` section, overridden by a price file (``--prices``). Each
    row's ``price_basis`` names the layer its price came from: ``2 core-hour(s) from the default table
    (bench/data/prices.yaml)``, ``H100 GPU-hour from the suite's prices: section``, ``... from --prices FILE``.
    A file's ``currency`` replaces the section's unchecked, so that a run recorded with a currency refused since
    (``''``) can be reported with ``--prices`` naming one."""
    table = default_price_table()
    sources = ["default"]
    cpu_source, gpu_source = DEFAULT_SOURCE, dict.fromkeys(table.get("gpu_hour", {}), DEFAULT_SOURCE)
    file_layer = _read_price_file(file) if file else None
    if section and file_layer and "currency" in file_layer:  # a run's recorded currency, refused since, is replaced
        section = {key: value for key, value in section.items() if key != "currency"}
    layers = ((section, "suite prices", SUITE_SOURCE), (file_layer, str(file), f"--prices {file}"))
    for layer, name, basis in layers:
        if layer:
            layer = validate_prices(dict(layer), "prices")
            gpus = _merge_gpus(table.get("gpu_hour", {}), layer.get("gpu_hour", {}))
            table = {**table, **layer, "gpu_hour": gpus}
            sources.append(name)
            cpu_source = basis if "cpu_core_hour" in layer else cpu_source
            gpu_source = {k: v for k, v in gpu_source.items() if k in gpus}
            gpu_source.update(dict.fromkeys(layer.get("gpu_hour", {}), basis))
    return Prices(
        currency=table["currency"],
        cpu_core_hour=float(table["cpu_core_hour"]),
        gpu_hour=tuple((str(k), float(v)) for k, v in table["gpu_hour"].items()),
        electricity_per_kwh=float(table["electricity_per_kwh"]),
        carbon_g_per_kwh=float(table["carbon_g_per_kwh"]),
        source=" + ".join(sources),
        cpu_source=cpu_source,
        gpu_source=tuple((str(k), v) for k, v in gpu_source.items()),
    )


def cost_per_1m(price_per_hour: float | None, throughput_items_per_s: float | None) -> float:
    """Compute cost of one million inferences at the measured throughput (NaN when either is unknown)."""
    if price_per_hour is None or throughput_items_per_s is None or not 0 < throughput_items_per_s < math.inf:
        return float("nan")  # an overflowed throughput (a Server peak of 1e308 x its batch size) is no figure, not 0
    cost = price_per_hour / (throughput_items_per_s * 3600.0) * 1e6
    return cost if math.isfinite(cost) else float("nan")  # a throughput too small for a float's range


def _numbers(frame: pd.DataFrame, column: str) -> pd.Series:
    """A column as floats (NaN where missing); records without it (no load pass) read as all NaN."""
    if column not in frame.columns:
        return pd.Series(float("nan"), index=frame.index)
    return pd.to_numeric(frame[column], errors="coerce").astype(float)


SEARCH_CUT_TEXT = {
    "load.max_time_s": "ran out of time (load.max_time_s)",
    "search.max_runs": "ran out of runs (search.max_runs)",
    "rate cap": "stopped at the highest rate a run may be given (2,000,000 queries / load.min_duration_s)",
}
"""What the plan says of a LoadGen Server search cut short, by ``extra.server_search_cut``."""
LOWER_BOUND = "load (lower bound)"
"""``throughput_basis`` of a row whose Server peak is only a lower bound: its cost per 1M and energy per 1M are upper
bounds."""


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def search_cut(row: Mapping[str, Any]) -> str | None:
    """What cut the row's LoadGen Server search short (``extra.server_search_cut``; for records written before that
    column, read from ``extra.server_peak_note`` / ``extra.server_invalid_reason``), or ``None``."""
    cut = _text(row.get("extra.server_search_cut"))
    if cut:
        return cut
    note, reason = _text(row.get("extra.server_peak_note")) or "", _text(row.get("extra.server_invalid_reason")) or ""
    if note.startswith("load.max_time_s") or "load.max_time_s ran out" in reason:
        return "load.max_time_s"
    if note.startswith("the search stops at"):
        return "rate cap"
    return "cut short" if note else None


def _cut_text(cut: str) -> str:
    return SEARCH_CUT_TEXT.get(cut, f"was cut short ({cut})")


def loaded_throughput(frame: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Items/s under load (``server_max_qps × batch_size``) where a LoadGen Server peak was measured, else the
    single-stream ``throughput_items_per_s``; and which one each row uses (``load``, ``load (lower bound)`` for a
    peak from a search cut short, or ``single-stream``)."""
    served = _numbers(frame, "server_max_qps") * _numbers(frame, "batch_size")
    served = served.where(served < math.inf)  # a peak x batch size past a float's range is no figure (was 0 / 1M)
    loaded = served.where(served > 0, _numbers(frame, "throughput_items_per_s"))
    cuts = [search_cut(row) for row in frame.to_dict("records")]
    kinds = [
        (LOWER_BOUND if cut else "load") if v > 0 else "single-stream" for v, cut in zip(served, cuts, strict=True)
    ]
    basis = pd.Series(kinds, index=frame.index)
    return loaded, basis


def add_costs(frame: pd.DataFrame, prices: Prices) -> pd.DataFrame:
    """Adds ``currency`` (the price table's, on every row: the money columns of a run of several suites are in
    each suite's own currency, never converted), ``price_per_hour``, ``price_basis``, ``price_missing`` (why a
    measured case has no price, as ``price_basis`` says it without the table's GPU names: for a verdict to name
    it in short; empty where there is a price), ``loaded_items_per_s`` and
    ``throughput_basis``, ``cost_per_1m`` and, where energy was measured, ``energy_kwh_per_1m``, ``carbon_g_per_1m``
    and ``electricity_cost_per_1m`` (empty otherwise, never 0). Where a LoadGen Server peak exists, cost per 1M and
    energy per 1M use the loaded throughput (energy: the energy pass's mean power over it)."""
    out = frame.copy()
    out["currency"] = prices.currency
    found = [  # a case not measured: no price, and no reason to give
        prices.price_of(row["device"], row["threads"], row.get("gpu_name"))
        if row["status"] == "ok"
        else HourlyPrice(None, "")
        for _, row in out.iterrows()
    ]
    out["price_per_hour"] = [f.price if f.price is not None else float("nan") for f in found]
    out["price_basis"] = [f.sentence for f in found]
    out["price_missing"] = [f.basis if f.price is None else "" for f in found]
    throughput, out["throughput_basis"] = loaded_throughput(out)
    out["loaded_items_per_s"] = throughput
    out["cost_per_1m"] = [
        cost_per_1m(None if math.isnan(p) else p, None if math.isnan(t) else t)
        for p, t in zip(out["price_per_hour"], throughput, strict=False)
    ]
    energy = _numbers(out, "energy_j_per_item")  # NaN stays NaN: unmeasured is not zero
    under_load = _numbers(out, "power_w_avg") / throughput
    loaded = out["throughput_basis"].isin(["load", LOWER_BOUND])
    energy = energy.where(~(loaded & energy.notna() & under_load.notna()), under_load)
    out["energy_kwh_per_1m"] = energy * 1e6 / 3.6e6
    for column, per_kwh in (
        ("carbon_g_per_1m", prices.carbon_g_per_kwh),
        ("electricity_cost_per_1m", prices.electricity_per_kwh),
    ):
        product = out["energy_kwh_per_1m"] * per_kwh
        out[column] = product.where(product < math.inf)  # past a float's range is no figure (was inf), as a cost
    return out


# ------------------------------------------------------------------------------------------ capacity


def validate_capacity(value: Any, where: str = "capacity") -> dict[str, Any]:
    """Check a ``capacity:`` section: target_qps, latency_slo_ms, slo_statistic, headroom, hours_per_month."""
    section = checks.mapping(value, where, CAPACITY_KEYS)
    for key in ("target_qps", "latency_slo_ms", "hours_per_month"):
        if key in section:
            checks.number(section[key], f"{where}.{key}", strict=True, maximum=CAPACITY_LIMITS[key])
    limit = CAPACITY_LIMITS["headroom"]
    if "headroom" in section and checks.number(section["headroom"], f"{where}.headroom", maximum=limit) < 1:
        raise SuiteError(None, f"{where}.headroom", f"must be >= 1 (1.5 = 50% spare), got {section['headroom']}")
    if "slo_statistic" in section:  # an SLO is on a request's latency, not per item
        allowed = [s for s in LATENCY_STATISTICS if s != "per_item"]
        checks.choice(section["slo_statistic"], f"{where}.slo_statistic", allowed)
    return section


@dataclass(frozen=True)
class Capacity:
    """Inputs of a capacity plan; the defaults are an example to change in the suite or in the workbook."""

    target_qps: float = 1000.0
    latency_slo_ms: float = 100.0
    slo_statistic: str = "p99"
    headroom: float = 1.5
    hours_per_month: float = HOURS_PER_MONTH
    from_suite: bool = False

    @classmethod
    def from_section(cls, section: Mapping[str, Any] | None) -> Capacity:
        if not section:
            return cls()
        return cls(**validate_capacity(dict(section), "capacity"), from_suite=True)


def replicas_needed(target_qps: float, headroom: float, throughput_items_per_s: float) -> int:
    """ceil(target_qps * headroom / throughput), at least 1 (a load is never served by no replica; a throughput so
    large that the quotient rounds to 0 gave 0); one query is one inference (one item)."""
    if not throughput_items_per_s > 0:
        raise ValueError(f"throughput must be > 0, got {throughput_items_per_s}")
    return max(1, math.ceil(round(target_qps * headroom / throughput_items_per_s, 9)))


def _replicas(capacity: Capacity, items_per_s: float, usable: bool) -> int | None:
    """Replicas for ``items_per_s`` each, or ``None`` when unusable or too many to count (a throughput so small
    that the count overflows a float: no plan rather than an overflow)."""
    if not (usable and 0 < items_per_s < math.inf) or not math.isfinite(
        capacity.target_qps * capacity.headroom / items_per_s
    ):
        return None
    return replicas_needed(capacity.target_qps, capacity.headroom, items_per_s)


def _monthly(replicas: int | None, price: float, hours: float) -> float:
    """``replicas * price * hours``; NaN when there is no plan or the product overflows a float."""
    if replicas is None:
        return float("nan")
    cost = replicas * price * hours
    return cost if math.isfinite(cost) else float("nan")


def _load_plan(row: pd.Series, capacity: Capacity) -> tuple[int | None, str, bool]:
    """Replicas under load (or None), the plan's basis, and whether the load test proved the SLO cannot be met.

    A peak from a search cut short is only a lower bound: its replica count is an upper bound, and the basis says
    so. A search cut short before any rate passed proved nothing: the load plan is "not measured" (the single-stream
    formula, labelled), never "unreachable"."""
    peak, slo = float(row.get("server_max_qps") or float("nan")), float(row.get("server_slo_ms") or float("nan"))
    validity = row.get("server_validity")
    cut = search_cut(row)
    under_load = _replicas(capacity, peak * row["batch_size"], slo <= capacity.latency_slo_ms)
    if under_load is not None:
        verdict = (
            f" (LoadGen: {validity}, see server_validity)" if isinstance(validity, str) and validity != "VALID" else ""
        )
        bound = f", only a lower bound (the search {_cut_text(cut)}): at most this many replicas" if cut else ""
        return under_load, f"load: LoadGen Server peak at p99 <= {slo:g} ms{bound}{verdict}", False
    if peak > 0 and not math.isfinite(peak * row["batch_size"]):
        return None, f"single-stream formula (the load peak {peak:g} x batch size overflows a float)", False
    if peak > 0:
        return None, f"single-stream formula (the load peak's p99 SLO {slo:g} ms is looser than the plan's)", False
    if isinstance(validity, str) and cut:
        return (
            None,
            f"single-stream formula (load not measured: the load search {_cut_text(cut)} before any rate met p99 "
            f"<= {slo:g} ms)",
            False,
        )
    if isinstance(validity, str) and slo >= capacity.latency_slo_ms:
        return (
            None,
            f"load: no rate met p99 <= {slo:g} ms, so none meets the plan's {capacity.latency_slo_ms:g} ms",
            True,
        )
    if isinstance(validity, str):
        return None, f"single-stream formula (no rate met the load test's stricter p99 <= {slo:g} ms)", False
    return None, "single-stream formula (no load test)", False


def _plan_row(row: pd.Series, capacity: Capacity, column: str) -> dict[str, Any]:
    """One case's plan: the single-stream formula and, where a Server peak fits the SLO, the plan under load."""
    latency = float(row[column]) if row[column] is not None else float("nan")
    if capacity.slo_statistic == "per_item":
        latency /= row["batch_size"]
    throughput = float(row["throughput_items_per_s"] or float("nan"))
    price = row.get("price_per_hour", float("nan"))
    meets = latency <= capacity.latency_slo_ms
    feasible = bool(row.get("feasible", True))
    single = _replicas(capacity, throughput, meets)
    under_load, basis, refuted = _load_plan(row, capacity)
    replicas = under_load if under_load is not None else (None if refuted else single)
    monthly = _monthly(replicas, price, capacity.hours_per_month)
    return {
        "suite": row["suite"],
        "model": row["model"],
        "device": row["device"],
        "batch_size": row["batch_size"],
        "case_id": row["case_id"],
        f"latency_{capacity.slo_statistic}_ms": latency,
        "meets_slo": bool(under_load is not None or (meets and not refuted)),
        "feasible": feasible,
        "infeasible_reason": "" if feasible else str(row.get("verdict") or row.get("violations") or "not feasible"),
        "throughput_items_per_s": throughput,
        "replicas_single_stream": single,
        "monthly_cost_single_stream": _monthly(single, price, capacity.hours_per_month),
        "server_max_qps": float(row.get("server_max_qps") or float("nan")),
        "server_slo_ms": float(row.get("server_slo_ms") or float("nan")),
        "server_validity": row.get("server_validity"),
        "replicas_load": under_load,
        "load_search_cut": search_cut(row),
        "plan_basis": basis,
        "replicas": replicas,
        "price_per_hour": price,
        "price_basis": row.get("price_basis", ""),
        "monthly_cost": monthly,
    }


def capacity_plan(
    frame: pd.DataFrame, capacity: Capacity, group_columns: Sequence[str] = ("suite", "model", "device", "batch_size")
) -> pd.DataFrame:
    """One row per ok case: whether it meets the SLO, the replicas it needs and their monthly cost.

    The plan uses the LoadGen Server peak (``server_max_qps × batch_size`` items/s) when the case has one found at a
    p99 SLO no looser than ``latency_slo_ms``; otherwise the single-stream formula (``plan_basis`` says which, and
    ``replicas_single_stream`` / ``monthly_cost_single_stream`` keep the single-stream plan beside it). ``cheapest``
    marks, per group (by default suite, model, device, batch size), the lowest monthly cost among cases that meet
    the SLO and, when the frame has a ``feasible`` column, the suite's constraints: every plan at that cost, and
    ``cheapest_tie`` counts them on each where there are several (an exact tie; 0 elsewhere), so that no plan is
    singled out among equals (was: the first of them alone); ``infeasible_reason`` says why a case is not feasible
    (its verdict: ``violates ...`` or ``not scored: ...``), blank for a feasible one.
    """
    ok = frame[frame["status"] == "ok"]
    column = LATENCY_STATISTICS[capacity.slo_statistic]
    plan = pd.DataFrame([_plan_row(row, capacity, column) for _, row in ok.iterrows()])
    if plan.empty:
        return plan
    plan["cheapest"], plan["cheapest_tie"] = False, 0
    eligible = plan[plan["meets_slo"] & plan["feasible"] & plan["monthly_cost"].notna()]
    for _, group in eligible.groupby(list(group_columns), sort=False):
        lowest = group.index[group["monthly_cost"] == group["monthly_cost"].min()]
        plan.loc[lowest, "cheapest"] = True
        plan.loc[lowest, "cheapest_tie"] = len(lowest) if len(lowest) > 1 else 0
    return plan

"""The one metric table: every column a case's record or report carries, and everything the harness knows about it.

One row per column: its unit, which way is better, how it is obtained (sampled per call, deterministic, a single
reading, derived by the judge), the pass that fills it, a label for tables, its default gate rule, and whether
history trends it, the report's summary shows it, a constraint limits it or the Pareto front optimises it.

Everything reads this table: :class:`bench.results.Record` takes its measured fields from it, the gate its metrics
and default rules, ``bench history`` its trends, scoring its constraints, objectives and latency statistics, the
report its summary columns. Adding a metric is one row here plus the pass that measures it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

LOWER, HIGHER = "lower", "higher"
"""Which way is better."""
SAMPLED, DETERMINISTIC, SINGLE, INFO, DERIVED, DECISION = (
    "sampled",
    "deterministic",
    "single reading",
    "info",
    "derived",
    "decision",
)
"""How a column is obtained: from raw per-call samples (timed, judged with a statistical test); deterministic (size,
accuracy); one reading of a meter or a peak; a descriptive field; derived from measured columns by the judge; a
decision of the judge."""
MEASURED_PASSES = ("latency", "memory", "size", "setup", "accuracy", "energy", "load")
"""Passes whose columns are stored in every record (the judge's columns are computed when a run is read)."""
CURRENCY = "currency"
"""What a money column's unit says in place of a currency (``currency/h``): each suite prices in its own
(``prices.currency``: USD, EUR), so the table names none; :func:`shown_unit` puts the row's currency there."""


@dataclass(frozen=True)
class Metric:
    """One column. ``name`` is the record / table column."""

    name: str
    unit: str
    better: str | None
    kind: str
    source: str
    """The pass that fills it (``latency``, ``memory``, ``size``, ``setup``, ``accuracy``, ``energy``, ``load``) or
    ``judge``."""
    label: str
    type: Any = float
    default_rule: str | None = None
    """Default gate rule (``+5%``: 5% worse fails); ``None``: the gate judges it only when a suite's ``gates:`` asks."""
    gated: bool = False
    trend: bool = False
    summary: bool = False
    limit: tuple[str, str] | None = None
    """``(constraints key, "max" | "min")`` when a suite's ``constraints:`` may limit this column."""
    objective: str | None = None
    """What "better" reads as on the Pareto front (``faster``), when the front optimises this column."""
    statistic: str | None = None
    """The name ``scoring.latency`` uses for this latency statistic (``p50``)."""

    @property
    def recorded(self) -> bool:
        return self.source in MEASURED_PASSES

    @property
    def money(self) -> bool:
        """Its figures are in a suite's currency (its unit names :data:`CURRENCY`)."""
        return CURRENCY in self.unit


def _m(name: str, unit: str, better: str | None, kind: str, source: str, label: str, **more: Any) -> Metric:
    return Metric(name, unit, better, kind, source, label, **more)


_LAT = "per-call latency of the latency pass"
TABLE: tuple[Metric, ...] = (
    # latency pass: raw per-call samples
    _m("latency_ms", "ms", LOWER, DERIVED, "judge", "the latency statistic the score uses", summary=True,
       objective="faster"),
    _m("latency_statistic", "", None, INFO, "judge",
       "which statistic latency_ms is (scoring.latency or --profile's: p50, p95, per_item ...)", type=str,
       summary=True),
    _m("latency_p50_ms", "ms", LOWER, SAMPLED, "latency", f"median {_LAT}", default_rule="+5%", gated=True, trend=True,
       summary=True, limit=("latency_p50_ms_max", "max"), statistic="p50"),
    _m("latency_p90_ms", "ms", LOWER, SAMPLED, "latency", f"90th percentile {_LAT}", gated=True, statistic="p90"),
    _m("latency_p95_ms", "ms", LOWER, SAMPLED, "latency", f"95th percentile {_LAT}", gated=True,
       limit=("latency_p95_ms_max", "max"), statistic="p95"),
    _m("latency_p99_ms", "ms", LOWER, SAMPLED, "latency", f"99th percentile {_LAT}", gated=True, trend=True,
       summary=True, limit=("latency_p99_ms_max", "max"), statistic="p99"),
    _m("latency_mean_ms", "ms", LOWER, SAMPLED, "latency", f"mean {_LAT}", gated=True, statistic="mean"),
    _m("latency_std_ms", "ms", LOWER, SAMPLED, "latency", f"sample standard deviation of the {_LAT}"),
    _m("latency_min_ms", "ms", LOWER, SAMPLED, "latency", f"fastest {_LAT}"),
    _m("latency_iqr_ms", "ms", LOWER, SAMPLED, "latency", f"interquartile range of the {_LAT}"),
    _m("latency_p50_ci_low_ms", "ms", LOWER, SAMPLED, "latency",
       "lower bound of the p50's 95% interval (order statistics, distribution-free)", summary=True),
    _m("latency_p50_ci_high_ms", "ms", LOWER, SAMPLED, "latency", "upper bound of the p50's 95% interval",
       summary=True),
    _m("precision_reached", "", None, INFO, "latency",
       "the p50's interval came within measure.precision (empty: none asked for)", type=bool, summary=True),
    _m("rounds", "", None, INFO, "latency", "timed calls (samples)", type=int),
    _m("repeats", "", None, INFO, "latency", "independent latency windows (measure.repeats)", type=int),
    _m("throughput_items_per_s", "items/s", HIGHER, SAMPLED, "latency", "batch_size / mean latency (single stream)",
       default_rule="-5%", gated=True, trend=True, summary=True, limit=("throughput_min", "min")),
    # size and memory
    _m("model_size_mb", "MiB", LOWER, DERIVED, "judge", "serialised model size", summary=True,
       limit=("size_mb_max", "max")),
    _m("model_size_bytes", "bytes", LOWER, DETERMINISTIC, "size", "serialised state_dict size", type=int,
       default_rule="+1%", gated=True, trend=True, objective="smaller"),
    _m("sparse_size_bytes", "bytes", LOWER, DETERMINISTIC, "size", "size stored sparse (unstructured pruning)",
       type=int),
    _m("params", "", None, INFO, "size", "stored elements", type=int),
    _m("nonzero_params", "", None, INFO, "size", "stored elements that are not zero", type=int),
    _m("memory_mb", "MiB", LOWER, DERIVED, "judge", "peak RSS on CPU, the case's peak allocated on CUDA",
       summary=True, limit=("memory_mb_max", "max")),
    _m("peak_rss_mb", "MiB", LOWER, SINGLE, "memory", "process peak RSS during the memory pass", default_rule="+20%",
       gated=True, trend=True),
    _m("cuda_max_allocated_mb", "MiB", LOWER, SINGLE, "memory", "the case's weights + its calls' peak allocation",
       default_rule="+5%", gated=True),
    _m("cuda_weights_mb", "MiB", LOWER, SINGLE, "memory", "the variant's parameters and buffers on the device"),
    # accuracy pass
    _m("accuracy", "", HIGHER, DETERMINISTIC, "accuracy", "the model's own held-out metric in [0, 1]",
       default_rule="-0.005", gated=True, trend=True, summary=True, limit=("accuracy_min", "min")),
    _m("accuracy_metric", "", None, INFO, "accuracy", "which metric accuracy is", type=str, summary=True),
    _m("accuracy_drop", "", LOWER, DETERMINISTIC, "accuracy", "fp32 accuracy (same engine and device) - accuracy",
       summary=True, limit=("accuracy_drop_max", "max")),
    _m("one_minus_accuracy", "", LOWER, DERIVED, "judge", "1 - accuracy", objective="more accurate"),
    # the judge: score and decision
    _m("reference_case", "", None, DECISION, "judge", "the case S and T are relative to", type=str, summary=True),
    _m("S", "", LOWER, DERIVED, "judge", "size relative to the reference", summary=True),
    _m("T", "", LOWER, DERIVED, "judge", "latency relative to the reference", summary=True),
    _m("A", "", HIGHER, DERIVED, "judge", "accuracy", summary=True),
    _m("Ttrain", "", LOWER, DERIVED, "judge", "training time relative to the budget", summary=True),
    _m("score", "", LOWER, DERIVED, "judge", "P = wS*S + wT*T + wA*(1-A) (+ wTrain*Ttrain)", summary=True),
    _m("rank", "", None, DECISION, "judge", "rank by P within its decision group", type=int, summary=True),
    _m("feasible", "", None, DECISION, "judge", "meets every constraint", type=bool, summary=True),
    _m("pareto", "", None, DECISION, "judge", "on the Pareto front (latency, size, 1-A)", type=bool, summary=True),
    _m("pareto_cost", "", None, DECISION, "judge", "on the front with cost per 1M and energy", type=bool, summary=True),
    _m("recommended", "", None, DECISION, "judge", "the recommendation of its group", type=bool, summary=True),
    _m("verdict", "", None, DECISION, "judge", "why it is or is not recommended", type=str, summary=True),
    # cost and energy
    _m("currency", "", None, INFO, "judge",
       "the currency of its suite's price table (prices.currency: USD, EUR), which price_per_hour, cost_per_1m and "
       "electricity_cost_per_1m are in; never converted", type=str, summary=True),
    _m("price_per_hour", f"{CURRENCY}/h", LOWER, DERIVED, "judge", "price of the hardware it ran on", summary=True),
    _m("price_basis", "", None, INFO, "judge",
       "where price_per_hour comes from (the price table entry and the layer that set it: '4 core-hour(s) from the "
       "default table (bench/data/prices.yaml)', 'H100 GPU-hour from --prices FILE') or why it is empty",
       type=str, summary=True),
    _m("cost_per_1m", CURRENCY, LOWER, DERIVED, "judge", "compute cost per million inferences", summary=True,
       limit=("cost_per_1m_max", "max"), objective="cheaper"),
    _m("energy_j_per_item", "J", LOWER, SINGLE, "energy", "measured energy per inference", default_rule="+10%",
       gated=True, trend=True, summary=True, limit=("energy_j_per_item_max", "max"), objective="less energy"),
    _m("energy_kwh_per_1m", "kWh", LOWER, DERIVED, "judge", "energy per million inferences", summary=True),
    _m("carbon_g_per_1m", "g", LOWER, DERIVED, "judge", "CO2 per million inferences", summary=True),
    _m("electricity_cost_per_1m", CURRENCY, LOWER, DERIVED, "judge", "electricity per million inferences",
       summary=True),
    _m("energy_j_per_batch", "J", LOWER, SINGLE, "energy", "measured energy per call"),
    _m("power_w_avg", "W", LOWER, SINGLE, "energy", "mean power during the energy pass"),
    _m("power_w_peak", "W", LOWER, SINGLE, "energy", "peak power during the energy pass"),
    _m("gpu_util_pct", "%", None, SINGLE, "energy", "mean GPU utilisation during the energy pass"),
    _m("gpu_mem_used_mb", "MiB", None, SINGLE, "energy", "highest GPU memory in use (NVML, whole board)"),
    _m("sm_clock_mhz", "MHz", None, SINGLE, "energy", "mean SM clock"),
    _m("gpu_temp_c", "C", None, SINGLE, "energy", "highest GPU temperature during the energy pass"),
    _m("energy_source", "", None, INFO, "energy", "nvml-counter, nvml-power-sampling, rapl, estimate-tdp, or why not",
       type=str),
    _m("energy_window_s", "s", None, INFO, "energy", "length of the energy pass"),
    # load pass (MLPerf LoadGen, suites with a load: section): one request = one call's batch_size items
    _m("server_max_qps", "queries/s", HIGHER, SINGLE, "load", "highest Server (Poisson) rate whose p99 met load.slo",
       gated=True, trend=True, summary=True),
    _m("server_p50_ms", "ms", LOWER, SINGLE, "load", "median latency under load at server_max_qps", gated=True),
    _m("server_p90_ms", "ms", LOWER, SINGLE, "load", "90th percentile latency under load at server_max_qps"),
    _m("server_p99_ms", "ms", LOWER, SINGLE, "load", "99th percentile latency under load at server_max_qps",
       gated=True, summary=True),
    _m("server_slo_ms", "ms", None, INFO, "load", "the p99 target the Server peak was searched at (load.slo.p99_ms)"),
    _m("server_validity", "", None, INFO, "load", "LoadGen's verdict at server_max_qps: VALID or INVALID", type=str,
       summary=True),
    _m("offline_items_per_s", "items/s", HIGHER, SINGLE, "load", "LoadGen Offline throughput (samples/s x batch)",
       gated=True, summary=True),
    _m("offline_validity", "", None, INFO, "load", "LoadGen's Offline verdict", type=str),
    _m("single_stream_p90_ms", "ms", LOWER, SINGLE, "load", "LoadGen SingleStream 90th percentile latency",
       gated=True),
    _m("single_stream_validity", "", None, INFO, "load", "LoadGen's SingleStream verdict", type=str),
    _m("loaded_items_per_s", "items/s", HIGHER, DERIVED, "judge",
       "server_max_qps x batch_size where measured, else throughput_items_per_s: what cost_per_1m uses", summary=True),
    _m("throughput_basis", "", None, INFO, "judge",
       "which throughput cost_per_1m uses: load, load (lower bound) or single-stream", type=str, summary=True),
    # what compressing and preparing cost
    _m("compress_time_s", "s", LOWER, SINGLE, "setup", "time to compress"),
    _m("compile_time_s", "s", LOWER, SINGLE, "setup", "time to compile, on the case that compiled"),
    _m("train_time_s", "s", LOWER, SINGLE, "setup", "training time of distillation or fine-tuning"),
    _m("compress_backend", "", None, INFO, "setup", "the library call that compressed it", type=str),
    _m("setup_time_s", "s", None, INFO, "setup", "wall time outside measurement windows"),
    _m("measure_time_s", "s", None, INFO, "setup", "wall time inside measurement windows"),
    # flags
    _m("unstable", "", None, INFO, "latency", "IQR/median or the between-window spread above its threshold",
       type=bool, summary=True),
    _m("latency_between_spread", "", LOWER, SAMPLED, "latency", "(max - min) / median of the windows' medians",
       summary=True),
    _m("pass_errors", "", None, INFO, "setup", "optional passes that failed: 'pass: Error: message'", type=str,
       summary=True),
    _m("score_note", "", None, DECISION, "judge", "why a case was not scored", type=str, summary=True),
)  # fmt: skip

METRICS: dict[str, Metric] = {m.name: m for m in TABLE}


def shown_unit(name: str, currency: Any = None) -> str:
    """The unit of column ``name`` as a message or a page shows it. A money column's :data:`CURRENCY` is replaced by
    ``currency``, the currency its row is in (its suite's ``prices.currency``: ``EUR/h``); with none known (not a
    currency code), a money column shows no unit rather than one it may not be in."""
    unit = METRICS[name].unit
    if not METRICS[name].money:
        return unit
    return unit.replace(CURRENCY, currency) if isinstance(currency, str) and currency else ""


def per_million(currency: Any = None) -> str:
    """A cost per million inferences as a sentence names it: ``EUR per 1M`` in the row's currency, or ``cost per 1M``
    when none is known; never a ``$`` for a suite that prices in another currency."""
    return f"{currency} per 1M" if isinstance(currency, str) and currency else "cost per 1M"


def recorded() -> list[Metric]:
    """The columns every record stores, in table order."""
    return [m for m in TABLE if m.recorded]


def gated() -> dict[str, Metric]:
    """The metrics the regression gate can judge, by name."""
    return {m.name: m for m in TABLE if m.gated}


def trends() -> tuple[str, ...]:
    return tuple(m.name for m in TABLE if m.trend)


def summary() -> list[str]:
    return [m.name for m in TABLE if m.summary]


def limits() -> dict[str, tuple[Metric, str]]:
    """``constraints:`` key -> (the metric it limits, ``max`` or ``min``)."""
    return {m.limit[0]: (m, m.limit[1]) for m in TABLE if m.limit}


def objectives() -> dict[str, str]:
    """Pareto objective column -> what better reads as."""
    return {m.name: m.objective for m in TABLE if m.objective}


def latency_statistics() -> dict[str, str]:
    """``scoring.latency`` names -> columns; ``per_item`` is the median divided by the batch size."""
    return {**{m.statistic: m.name for m in TABLE if m.statistic}, "per_item": "latency_p50_ms"}

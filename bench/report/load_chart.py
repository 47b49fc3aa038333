"""The load-curve chart: p99 latency against the offered LoadGen Server rate, one line per configuration, with the
SLO drawn. Its points are the Server search's runs (``extra.load_curve`` of each record)."""

from __future__ import annotations

import math
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import FormatStrFormatter

from bench.checks import plain_text
from bench.judge.cost import search_cut
from bench.report.charts import MAX_PANELS, MAX_SERIES, MORE, Chart, _color_map, _finish, _first, _ok, _recommended
from bench.report.tables import Tables


def _curves(frame: pd.DataFrame) -> list[tuple[pd.Series, list[dict[str, Any]]]]:
    """(record, its load-curve points sorted by offered rate) for every ok case that ran the Server search."""
    if "extra.load_curve" not in frame.columns:
        return []
    out = []
    for _, row in frame.iterrows():
        points = row["extra.load_curve"]
        if isinstance(points, list) and points:
            usable = [p for p in points if _drawable(p)]
            if usable:
                out.append((row, sorted(usable, key=lambda p: p["qps"])))
    return out


def _drawable(point: Any) -> bool:
    """Whether a load-curve point can be drawn: a mapping whose ``qps`` and ``p99_ms`` are finite numbers above 0 (a
    hand-edited or foreign record may hold anything there: such a point is left off the chart)."""
    if not isinstance(point, dict):
        return False
    values = [point.get("qps"), point.get("p99_ms")]
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return False
    try:
        return all(math.isfinite(v) and v > 0 for v in values)
    except OverflowError:  # an int beyond a float's range
        return False


def load_curve_chart(tables: Tables) -> Chart:
    chart = Chart(
        "load_curve",
        "Latency under load: p99 against offered QPS (LoadGen Server)",
        "Each line is one configuration: the p99 latency LoadGen measured at each Poisson arrival rate the peak search "
        "tried (filled: the run met the SLO; hollow: it did not; star: server_max_qps; a triangle pointing right "
        "marked ≥: a peak from a search cut short, only a lower bound, the true peak lies at that rate or above). "
        "The dashed line is the p99 SLO; one panel per model and batch size.",
    )
    frame = _ok(tables)
    curves = _curves(frame.assign(wanted=_recommended(frame)))
    if not curves:
        chart.note = "no case ran the LoadGen Server scenario (add a load: section to a suite)"
        return chart
    panels: dict[tuple[str, Any], list] = {}
    for row, points in curves:
        panels.setdefault((row["model"], row["batch_size"]), []).append((row, points))
    # a bounded chart: the panels and lines with a recommendation first (the rest are in the tables)
    chosen, panels_left = _first(list(panels), MAX_PANELS // 2, lambda key: any(r["wanted"] for r, _ in panels[key]))
    lines_left = 0
    for key in list(panels):
        if key not in chosen:
            del panels[key]
            continue
        panels[key], left = _first(panels[key], MAX_SERIES, lambda line: line[0]["wanted"])
        lines_left += left
    curves = [line for lines in panels.values() for line in lines]
    if panels_left or lines_left:
        left = [f"{panels_left} more (model, batch size) panel(s)"] if panels_left else []
        left += [f"{lines_left} more line(s) of the panels drawn"] if lines_left else []
        chart.more = f"{' and '.join(left)} {MORE}"
    columns = min(len(panels), 2)
    rows = int(np.ceil(len(panels) / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(6.5 * columns, 4.4 * rows), squeeze=False)
    colors = _color_map(row["case_id"] for row, _ in curves)
    for ax, ((model, batch), lines) in zip(axes.flat, panels.items(), strict=False):
        for row, points in lines:
            _draw(ax, row, points, colors[row["case_id"]])
        for slo in sorted({float(row["server_slo_ms"]) for row, _ in lines if pd.notna(row.get("server_slo_ms"))}):
            ax.axhline(slo, color="black", linestyle="--", linewidth=1, label=f"SLO p99 ≤ {slo:g} ms")
        ax.set_yscale("log")  # latency explodes near capacity; rates tried span a factor of a few: linear
        ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
        ax.set_xlim(left=0)
        ax.set_xlabel("offered load (queries/s, Poisson)")
        ax.set_ylabel("p99 latency (ms)")
        ax.set_title(plain_text(f"{model}, batch {batch}"))
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    return _finish(chart, fig, suptitle=True)


def peak_label(row: pd.Series) -> str:
    """The line's legend entry: its configuration and its Server peak, ``peak ≥ N QPS (search cut short)`` where the
    peak is only a lower bound (``extra.server_peak_note``: the search ran out of time or runs, or reached the rate
    cap), as the page's tables mark it."""
    label = f"{row['compression']}" + (f"+{row['engine']}" if row["engine"] != "eager" else "")
    label += f" {row['device']}" + (f" {int(row['threads'])}t" if pd.notna(row.get("threads")) else "")
    peak = row.get("server_max_qps")
    if pd.notna(peak):
        label += f": peak ≥ {_qps(peak)} QPS (search cut short)" if _bound(row) else f": peak {_qps(peak)} QPS"
    return plain_text(label)


def _qps(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def _bound(row: pd.Series) -> bool:
    """Whether the row's ``server_max_qps`` is only a lower bound (its search was cut short)."""
    return pd.notna(row.get("server_max_qps")) and search_cut(row) is not None


def _draw(ax, row: pd.Series, points: list[dict[str, Any]], color) -> None:
    qps = [p["qps"] for p in points]
    p99 = [p["p99_ms"] for p in points]
    ax.plot(qps, p99, color=color, linewidth=1.2, label=peak_label(row))
    met = [p for p in points if p.get("meets_slo")]
    missed = [p for p in points if not p.get("meets_slo")]
    ax.scatter([p["qps"] for p in met], [p["p99_ms"] for p in met], color=color, s=22, zorder=3)
    ax.scatter(
        [p["qps"] for p in missed], [p["p99_ms"] for p in missed], facecolors="none", edgecolors=color, s=22, zorder=3
    )
    peak = row.get("server_max_qps")
    if pd.notna(peak):
        at = next((p for p in points if p["qps"] == peak), None)
        if at is not None and _bound(row):  # the true peak lies at this rate or above: a triangle pointing there
            ax.scatter([peak], [at["p99_ms"]], marker=">", s=110, color=color, edgecolors="black", zorder=4)
            ax.annotate(
                f"≥ {_qps(peak)}",
                (peak, at["p99_ms"]),
                xytext=(7, 5),
                textcoords="offset points",
                fontsize=7,
                color="black",
                zorder=5,
            )
        elif at is not None:
            ax.scatter([peak], [at["p99_ms"]], marker="*", s=140, color=color, edgecolors="black", zorder=4)

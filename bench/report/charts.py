"""PNG charts of a report (matplotlib, Agg backend: no display needed). A chart without data is skipped with a note."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, NullLocator

from bench.checks import plain_text
from bench.errors import first_few
from bench.judge.decide import decimals, digits_apart
from bench.judge.scoring import ScoringConfig
from bench.report.tables import Tables

COLORS = plt.get_cmap("tab10").colors
TERM_COLORS = {"size": "#4C72B0", "latency": "#DD8452", "accuracy": "#55A868", "train": "#8172B3"}
RECOMMENDED_COLOR = "#067647"
"""The recommendation's mark, the same green as the report's recommended rows."""
MAX_BARS = 50
"""The most bars a bar chart draws (one per case): a chart stays a few thousand pixels high whatever the case count."""
TOP_PER_GROUP = 5
"""The ranking chart's cases per group: the best by P, plus the group's recommendation and reference case."""
MAX_PANELS = 12
"""The most panels a chart of one panel per model (and batch size) draws."""
MAX_SERIES = 10
"""The most lines, bar colours or legend entries of one panel."""
MAX_LABELS = 40
"""The most point labels of one scatter panel; beyond it only the Pareto front and the recommendations are named."""
MORE = "in summary.csv and capacity.xlsx"
MAX_LABEL = 80
"""Most characters of a case id drawn as a bar's label (cut in the middle beyond: a 5000-character id left no room
for the bars, and matplotlib warned "Tight layout not applied"); summary.csv has it whole."""
LOG_RANGE = (1e-300, 1e300)
"""The values a bar chart's log axis draws: a bar beyond (a price of 1.5e+308 gives costs near 1e308) ends at the
axis' edge, labelled with its figure (matplotlib's log axis overflowed there and the report was not written)."""


@dataclass
class Chart:
    """One chart: its file name, title, what it shows, and the figure (``None`` with a note when skipped)."""

    name: str
    title: str
    caption: str
    figure: Figure | None = None
    note: str = ""
    more: str = ""
    """What a capped chart leaves out (e.g. "2350 more cases in summary.csv and capacity.xlsx"), written
    under the figure and on the page."""
    _png: bytes | None = None

    @property
    def filename(self) -> str:
        return f"{self.name}.png"

    def png(self, dpi: int = 110) -> bytes:
        """The figure as PNG bytes, drawn once: the page embeds the same bytes that ``save_charts`` writes (drawing a
        chart of thousands of cases takes seconds)."""
        if self._png is None:
            buffer = io.BytesIO()
            self.figure.savefig(buffer, format="png", dpi=dpi)
            self._png = buffer.getvalue()
        return self._png


def _finish(chart: Chart, fig, suptitle: bool = False) -> Chart:
    """Lay out ``fig`` (with the chart's title over all panels when asked, and what it leaves out under it) and
    attach it to ``chart``."""
    if suptitle:
        fig.suptitle(chart.title)
    if chart.more:
        fig.text(0.5, 0.005, plain_text(f"Not drawn: {chart.more}."), ha="center", va="bottom", fontsize=8, wrap=True)
        fig.tight_layout(rect=(0, 0.035 if fig.get_figheight() < 8 else 0.02, 1, 1))
    else:
        fig.tight_layout()
    chart.figure = fig
    return chart


def _first(items: list, limit: int, wanted=lambda item: False) -> tuple[list, int]:
    """At most ``limit`` of ``items``: those ``wanted`` first, then the others, each in their order (the order of
    ``items`` is kept); and how many were left out."""
    if len(items) <= limit:
        return items, 0
    chosen = set(sorted(range(len(items)), key=lambda k: not wanted(items[k]))[:limit])  # sorted() is stable
    return [item for k, item in enumerate(items) if k in chosen], len(items) - limit


def _hardware(frame: pd.DataFrame) -> pd.Series:
    threads = frame["threads"].map(lambda t: "" if pd.isna(t) else f" {int(t)}t")
    return frame["device"].astype(str) + threads


def _config(frame: pd.DataFrame) -> pd.Series:
    engine = frame["engine"].map(lambda e: "" if e == "eager" else f"+{e}")
    return frame["compression"].astype(str) + engine


def _ok(tables: Tables) -> pd.DataFrame:
    frame = tables.cases
    return frame[frame["status"] == "ok"].copy()


def _recommended(frame: pd.DataFrame) -> pd.Series:
    """Whether each row is its group's recommendation (False where the column is missing)."""
    if "recommended" not in frame.columns:
        return pd.Series(False, index=frame.index)
    return frame["recommended"].map(lambda v: bool(v) if pd.notna(v) else False).astype(bool)


PER_ITEM_LABEL = "latency per item, p50 / batch size (ms)"
"""How a latency axis and the ranking's column are headed under ``scoring.latency: per_item``."""


def latency_statistics(tables: Tables) -> list[str]:
    """The latency statistics the run's suites score with (``scoring.latency``, or ``--profile``'s), sorted."""
    return sorted({config.latency for config in tables.configs.values()} or {"p50"})


def latency_label(tables: Tables) -> str:
    """A latency axis' label, naming the statistic the score uses: ``latency p50 per call (ms)``, or
    :data:`PER_ITEM_LABEL` under ``scoring.latency: per_item`` (was: ``latency per_item per call (ms)``, a
    per-item figure labelled as a call's)."""
    stats = latency_statistics(tables)
    if stats == ["per_item"]:
        return PER_ITEM_LABEL
    if "per_item" in stats:  # suites of a run that differ: each axis value is its suite's statistic
        return f"latency {'/'.join(s.replace('per_item', 'p50 per item') for s in stats)} (ms)"
    return f"latency {'/'.join(stats)} per call (ms)"


def _color_map(labels) -> dict[str, tuple]:
    return {label: COLORS[i % len(COLORS)] for i, label in enumerate(dict.fromkeys(labels))}


def pareto_chart(tables: Tables) -> Chart:
    frame = _ok(tables)
    chart = Chart(
        "pareto",
        "Pareto front: accuracy vs latency",
        "Each marker is a case; marker area is proportional to model size; black-edged markers are on the Pareto "
        "front (latency, size, 1-A) of their decision group (model, device and, unless scoring.across_batch_sizes, "
        "batch size; every thread count), joined per group by a black line, as the ranking's Pareto column.",
    )
    if frame.empty:
        chart.note = "no measured case"
        return chart
    has_accuracy = frame["accuracy"].notna().any()
    y_column, y_label = ("accuracy", "accuracy") if has_accuracy else ("model_size_mb", "model size (MiB)")
    if not has_accuracy:
        chart.title = "Pareto front: model size vs latency (accuracy not measured)"
    recommended = _recommended(frame)
    wanted = set(frame["model"][recommended]).__contains__  # models with a recommendation first
    models, left_out = _first(list(dict.fromkeys(frame["model"])), MAX_PANELS // 2, wanted)
    if left_out:
        chart.more = f"{left_out} more model(s) {MORE}"
        frame, recommended = frame[frame["model"].isin(models)], recommended[frame["model"].isin(models)]
    columns = min(len(models), 3)
    fig, axes = plt.subplots(
        -(-len(models) // columns), columns, figsize=(6.5 * columns, 5.2 * -(-len(models) // columns)), squeeze=False
    )
    frame["hardware"] = _hardware(frame)
    colors = _color_map(frame["hardware"])
    size_max = frame["model_size_mb"].max()
    size_max = size_max if size_max > 0 else 1.0  # no size measured (NaN) or all zero: every marker the same
    for ax, model in zip(axes.flat, models, strict=False):
        rows = frame[frame["model"] == model]
        named = (
            rows.index
            if len(rows) <= MAX_LABELS
            else rows.index[(rows["pareto"].astype(bool) | recommended[rows.index]).to_numpy()]
        )
        named = set(named[:MAX_LABELS])
        for hardware, group in rows.groupby("hardware", sort=False):
            area = 60 + 600 * group["model_size_mb"].fillna(0) / size_max
            ax.scatter(group["latency_ms"], group[y_column], s=area, color=colors[hardware], alpha=0.6, linewidths=0)
            on_front = group["pareto"].astype(bool).to_numpy()
            ax.scatter(
                group["latency_ms"][on_front],
                group[y_column][on_front],
                s=area[on_front],
                facecolors="none",
                edgecolors="black",
                linewidths=2,
            )
            for k, (_, row) in enumerate(group[group.index.isin(named)].iterrows()):
                ax.annotate(
                    plain_text(f"{_config(row.to_frame().T).iloc[0]} bs{row['batch_size']}"),
                    (row["latency_ms"], row[y_column]),
                    fontsize=7,
                    xytext=(6, 5 if k % 2 == 0 else -11),
                    textcoords="offset points",
                    color=colors[hardware],
                )
        for front in _fronts(tables, rows):
            ax.plot(front["latency_ms"], front[y_column], color="black", linewidth=1, alpha=0.6)
        if rows["latency_ms"].max() > 10 * rows["latency_ms"].min():
            ax.set_xscale("log")
        ax.set_xlabel(latency_label(tables))
        ax.set_ylabel(y_label)
        ax.set_title(plain_text(model) + ("" if len(named) == len(rows) else f" ({len(named)} of {len(rows)} named)"))
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(models) :]:
        ax.set_visible(False)
    shown = list(colors.items())[:MAX_SERIES]
    handles = [Line2D([], [], marker="o", linestyle="", color=c, label=plain_text(h)) for h, c in shown]
    handles.append(
        Line2D(
            [],
            [],
            marker="o",
            color="black",
            linewidth=1,
            markerfacecolor="white",
            markeredgecolor="black",
            label="on the Pareto front (joined per group)",
        )
    )
    axes.flat[len(models) - 1].legend(handles=handles, fontsize=8, loc="best")
    return _finish(chart, fig, suptitle=True)


def _fronts(tables: Tables, rows: pd.DataFrame) -> list[pd.DataFrame]:
    """The Pareto front of each decision group among ``rows`` (its suite's ``group_columns``: model, device and,
    unless ``scoring.across_batch_sizes``, batch size), in latency order, where it has two points or more. Was: one
    line per hardware target and batch size, so a front of 1-thread and 2-thread cases was drawn as two broken lines
    (or none), each joining only its own thread count's points."""
    fronts = []
    for suite, cases in rows[rows["pareto"].astype(bool)].groupby("suite", sort=False):
        config = tables.configs.get(str(suite)) or ScoringConfig()
        columns = [c for c in config.group_columns if c in cases.columns]
        for _, front in cases.groupby(columns, sort=False, dropna=False):
            if len(front) > 1:
                fronts.append(front.sort_values("latency_ms", kind="stable"))
    return fronts


def latency_chart(tables: Tables) -> Chart:
    frame = _ok(tables)
    chart = Chart(
        "latency_by_compression",
        "Latency by compression level per hardware target",
        "Latency of one call (the scoring statistic) per compression level and engine; one bar per hardware target; "
        "one panel per model and batch size.",
    )
    if frame.empty:
        chart.note = "no measured case"
        return chart
    frame["hardware"] = _hardware(frame)
    frame["config"] = _config(frame)
    frame["wanted"] = _recommended(frame) | (frame["case_id"] == frame.get("reference_case"))
    panels, panels_left = _first(
        list(frame.groupby(["model", "batch_size"], sort=False)), MAX_PANELS, lambda panel: panel[1]["wanted"].any()
    )
    bars_left = 0
    columns = min(len(panels), 3)
    rows = int(np.ceil(len(panels) / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(5.5 * columns, 4.2 * rows), squeeze=False)
    colors = _color_map(frame["hardware"])
    for ax, ((model, batch), group) in zip(axes.flat, panels, strict=False):
        # the recommended and reference configurations first, then the fastest ones
        fastest = group.sort_values("latency_ms", kind="stable")
        wanted = set(group["config"][group["wanted"]]).__contains__
        chosen, _ = _first(list(dict.fromkeys(fastest["config"])), MAX_SERIES, wanted)
        configs = [c for c in dict.fromkeys(group["config"]) if c in chosen]
        wanted = set(group["hardware"][group["wanted"]]).__contains__
        hardware, _ = _first(list(dict.fromkeys(group["hardware"])), MAX_SERIES // 2, wanted)
        shown = group["config"].isin(configs) & group["hardware"].isin(hardware)
        bars_left += int((~shown).sum())
        width = 0.8 / len(hardware)
        for k, target in enumerate(hardware):
            values = [
                group[(group["config"] == c) & (group["hardware"] == target)]["latency_ms"].mean() for c in configs
            ]
            ax.bar(
                np.arange(len(configs)) + k * width - 0.4 + width / 2,
                values,
                width,
                label=plain_text(target),
                color=colors[target],
            )
        ax.set_xticks(np.arange(len(configs)), [plain_text(c) for c in configs], rotation=20)
        ax.set_ylabel(latency_label(tables))
        ax.set_title(plain_text(f"{model}, batch {batch}"))
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=8, title="hardware", title_fontsize=8)
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    if panels_left or bars_left:
        left = [f"{panels_left} more (model, batch size) panel(s)"] if panels_left else []
        left += [f"{bars_left} more case(s) of the panels drawn"] if bars_left else []
        chart.more = f"{' and '.join(left)} {MORE} (drawn: the recommended, reference and fastest configurations)"
    return _finish(chart, fig, suptitle=True)


def threads_chart(tables: Tables) -> Chart:
    frame = _ok(tables)
    chart = Chart(
        "throughput_threads",
        "Throughput scaling with CPU threads",
        "Measured throughput (items/s, batch size / mean latency) against CPU thread count; one line per model, "
        "compression and batch size. The dashed line is perfect linear scaling of the 1-thread figure.",
    )
    cpu = frame[frame["device"] == "cpu"] if not frame.empty else frame
    if not cpu.empty:  # a case without a throughput figure (not measured, or read as not measured) has no point here
        throughput = pd.to_numeric(cpu["throughput_items_per_s"], errors="coerce").astype(float)
        cpu = cpu.assign(throughput_items_per_s=throughput)[throughput.notna()]
    if cpu.empty or cpu["threads"].nunique() < 2:
        chart.note = "needs CPU cases at two or more thread counts"
        return chart
    cpu = cpu.assign(config=_config(cpu), wanted=_recommended(cpu))
    lines, left_out = _first(
        list(cpu.groupby(["model", "config", "batch_size"], sort=False)),
        MAX_SERIES,
        lambda line: line[1]["wanted"].any(),
    )
    if left_out:
        chart.more = f"{left_out} more line(s) {MORE} (drawn first: those with a recommendation)"
    fig, ax = plt.subplots(figsize=(7.5, 5))
    for k, ((model, config, batch), group) in enumerate(lines):
        group = group.sort_values("threads")
        color = COLORS[k % len(COLORS)]
        ax.plot(
            group["threads"],
            group["throughput_items_per_s"],
            marker="o",
            color=color,
            label=plain_text(f"{model} {config} bs{batch}"),
        )
        first = group.iloc[0]
        ax.plot(
            group["threads"],
            first["throughput_items_per_s"] * group["threads"] / first["threads"],
            linestyle="--",
            color=color,
            alpha=0.4,
        )
    ax.set_yscale("log")
    counts = sorted(cpu["threads"].dropna().astype(int).unique())
    if len(counts) <= 16:  # more thread counts than that: matplotlib's own ticks
        ax.set_xticks(counts)
    ax.set_xlabel("CPU threads")
    ax.set_ylabel("throughput (items/s, log scale)")
    ax.set_title(chart.title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return _finish(chart, fig)


def size_accuracy_chart(tables: Tables) -> Chart:
    frame = _ok(tables)
    chart = Chart(
        "size_accuracy", "Model size vs accuracy", "Serialised model size against held-out accuracy, per model."
    )
    if frame.empty or frame["accuracy"].isna().all():
        chart.note = "accuracy was not measured in this run (the models have no evaluation)"
        return chart
    rows = frame[frame["accuracy"].notna()]
    rows = rows.assign(wanted=_recommended(rows)).sort_values("wanted", ascending=False, kind="stable")
    rows = rows.drop_duplicates(["model", "compression", "engine", "device"]).sort_index()
    models, left_out = _first(
        list(dict.fromkeys(rows["model"])), MAX_SERIES, set(rows["model"][rows["wanted"]]).__contains__
    )
    if left_out:
        chart.more = f"{left_out} more model(s) {MORE}"
        rows = rows[rows["model"].isin(models)]
    named = rows if len(rows) <= MAX_LABELS else rows[rows["wanted"]].head(MAX_LABELS)  # else the recommendations
    fig, ax = plt.subplots(figsize=(7.5, 5))
    colors = _color_map(rows["model"])
    for model, group in rows.groupby("model", sort=False):
        ax.scatter(group["model_size_mb"], group["accuracy"], color=colors[model], s=60, label=plain_text(model))
        for _, row in group[group.index.isin(named.index)].iterrows():
            ax.annotate(
                plain_text(row["compression"]),
                (row["model_size_mb"], row["accuracy"]),
                fontsize=7,
                xytext=(4, 3),
                textcoords="offset points",
            )
    metrics = first_few([str(m) for m in rows["accuracy_metric"].dropna().unique()], 3)
    ax.set_xlabel("model size (MiB)")
    ax.set_ylabel(plain_text(f"accuracy ({metrics})") if metrics else "accuracy")
    ax.set_title(chart.title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _finish(chart, fig)


def _bar_height(n: int) -> float:
    return max(3.0, 0.32 * n + 1.5)


def score_chart(tables: Tables) -> Chart:
    ranked = tables.ranking
    chart = Chart(
        "score_ranking",
        "Composite score P (lower is better)",
        "P per case, split into its weighted terms, in P order within each group (lines separate groups: P is "
        "relative to the group's one reference case); ★ in green marks the recommendation of each group, as in the "
        "ranking table; grey labels mark cases that break a constraint.",
    )
    if ranked.empty:
        chart.note = "no scored case"
        return chart
    ranked, left_out = tables.shortlist(TOP_PER_GROUP, MAX_BARS)
    if left_out:
        chart.more = (
            f"{left_out} more case(s) {MORE} (drawn: the best {TOP_PER_GROUP} of each group by P, its ★ and its "
            "reference case, group after group)"
        )
    ranked = ranked.iloc[::-1]  # barh draws bottom-up: the lowest P of each group at its top
    fig, ax = plt.subplots(figsize=(9, _bar_height(len(ranked))))
    left = np.zeros(len(ranked))
    for term, column in (("size", "S"), ("latency", "T"), ("accuracy", "A"), ("train", "Ttrain")):
        weights = ranked["suite"].map(lambda s, t=term: getattr(tables.configs[s].weights, t))
        values = ranked[column].astype(float)
        if term == "accuracy":
            values = np.where(ranked["accuracy_term"].astype(bool), 1.0 - values, 0.0)
        contribution = np.nan_to_num(weights.to_numpy(float) * np.asarray(values, float))
        if contribution.any():
            ax.barh(np.arange(len(ranked)), contribution, left=left, color=TERM_COLORS[term], label=f"{term} term")
            left += contribution
    labels = [
        ("★ " if row["recommended"] else "")
        + (f"{row['suite']}::" if tables.cases["suite"].nunique() > 1 else "")
        + row["case_id"]
        for _, row in ranked.iterrows()
    ]
    ax.set_yticks(np.arange(len(ranked)), [plain_text(label, MAX_LABEL) for label in labels], fontsize=8)
    for tick, feasible, recommended in zip(
        ax.get_yticklabels(), ranked["feasible"], ranked["recommended"], strict=False
    ):
        if recommended:  # as in the ranking table: ★ and the recommended row's green
            tick.set_color(RECOMMENDED_COLOR)
            tick.set_fontweight("bold")
        elif not feasible:
            tick.set_color("grey")
    groups = np.array(
        ["|".join(str(row[c]) for c in tables.configs[row["suite"]].group_columns) for _, row in ranked.iterrows()]
    )
    for y in np.flatnonzero(groups[1:] != groups[:-1]):
        ax.axhline(y + 0.5, color="#9ca3af", linewidth=0.8)  # P compares only within a group
    for y, (value, text) in enumerate(zip(ranked["score"], _score_texts(ranked["score"], groups), strict=True)):
        ax.text(value, y, f" {text}", va="center", fontsize=7)
    ax.set_xlabel("P = ωS·S + ωT·T + ωA·(1−A) + ωTtrain·Ttrain")
    ax.set_xlim(0, (ranked["score"].max() or 1.0) * 1.12)  # every P 0 (only a train weight, nothing trained)
    ax.set_title(chart.title)
    if ax.get_legend_handles_labels()[0]:  # a term of no case is not drawn, nor named
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16 if len(ranked) < 12 else -0.06), ncol=4)
    ax.grid(axis="x", alpha=0.3)
    return _finish(chart, fig)


def _score_texts(scores: pd.Series, groups: np.ndarray) -> list[str]:
    """Each bar's P with 3 decimals, or as many more (up to 9) as tell apart two different scores of its group next
    to each other (was: 3 always, so the recommendation and its runner-up could both read 1.010)."""
    values = scores.astype(float).to_numpy()
    digits = np.full(len(values), 3)
    for group in dict.fromkeys(groups):
        rows = np.flatnonzero(groups == group)
        digits[rows] = digits_apart(values[rows], decimals, range(3, 10))
    return [decimals(value, d) for value, d in zip(values, digits, strict=True)]


def log_axis(ax, values: np.ndarray, axis: str = "x") -> None:
    """A log ``axis`` (x or y) fixed to the decades of ``values`` (positive, within :data:`LOG_RANGE`), ticked every
    few decades when they span many: matplotlib's own limits and ticks reach past a float's range near 1e300 (an
    OverflowError, or an "overflow encountered" warning). The trend charts of ``bench history`` use it too."""
    low, high = int(np.floor(np.log10(values.min()))), int(np.ceil(np.log10(values.max())))
    ax.autoscale(False, axis=axis)  # first: a scale set on drawn figures autoscales them, past a float's range
    getattr(ax, f"set_{axis}scale")("log")
    getattr(ax, f"set_{axis}lim")(10.0 ** (low - 0.2), 10.0 ** (high + 0.3))
    if high - low > 20:
        step = -(-(high - low + 1) // 8)
        line = getattr(ax, f"{axis}axis")
        line.set_major_locator(FixedLocator([10.0**k for k in range(low, high + 1, step)]))
        line.set_minor_locator(NullLocator())


def _horizontal_bars(
    tables: Tables, column: str, chart: Chart, xlabel: str, panels: dict[str, str] | None = None
) -> Chart:
    """One bar per ok case with a figure in ``column``, lowest at the top. ``panels`` (suite -> panel name, e.g. its
    currency): one panel per name, each with its own axis, ``xlabel`` formatted with the name (``{}``): figures of
    different panels are never drawn on one axis. A case of several suites is labelled ``suite::case_id``."""
    frame = _ok(tables)
    rows = frame[pd.to_numeric(frame.get(column), errors="coerce").notna()] if not frame.empty else frame
    if rows.empty:
        return chart
    panel = rows["suite"].astype(str).map(panels or {}).fillna("") if panels else pd.Series("", index=rows.index)
    rows = rows.assign(_panel=panel, _wanted=_recommended(rows))
    rows = rows.sort_values(["_wanted", column], ascending=[False, True])
    if len(rows) > MAX_BARS:  # the recommendations, then the lowest, of each panel in turn
        each = " of each panel in turn" if rows["_panel"].nunique() > 1 else ""
        chart.more = f"{len(rows) - MAX_BARS} more case(s) {MORE} (drawn: the recommendations, then the lowest{each})"
        rows = rows.assign(_turn=rows.groupby("_panel", sort=False).cumcount())
        rows = rows.sort_values("_turn", kind="stable").head(MAX_BARS)
    order = list(dict.fromkeys([*(panels or {}).values(), ""]))  # the suites' order
    names = sorted(set(rows["_panel"]), key=order.index)
    parts = [rows[rows["_panel"] == name] for name in names]
    fig, axes = plt.subplots(
        len(parts),
        1,
        figsize=(9, sum(_bar_height(len(part)) for part in parts)),
        height_ratios=[len(part) + 2 for part in parts],
        squeeze=False,
    )
    colors = _color_map(_hardware(rows.sort_values(column, ascending=False)))
    several = tables.cases["suite"].nunique() > 1
    for ax, name, part in zip(axes[:, 0], names, parts, strict=True):
        _bar_panel(ax, part, column, colors, several)
        label = xlabel.format(name) if panels else xlabel  # a currency's own braces are not a template's
        ax.set_xlabel(plain_text(label + (" (log scale)" if ax.get_xscale() == "log" else "")))
        if len(parts) > 1:
            suites = sorted(str(suite) for suite in part["suite"].unique())
            ax.set_title(plain_text(f"{name}: {', '.join(suites)}", 200), fontsize=10)
    if len(parts) == 1:
        axes[0, 0].set_title(plain_text(chart.title))  # the title names the price table's currency
    return _finish(chart, fig, suptitle=len(parts) > 1)


def _bar_panel(ax, rows: pd.DataFrame, column: str, colors: dict[str, tuple], several: bool) -> None:
    """``rows``' figures as horizontal bars on ``ax`` (a log axis when every figure is positive), each labelled with
    its case (``suite::case_id`` when ``several`` suites) and its figure, coloured by hardware."""
    rows = rows.sort_values(column, ascending=False)
    values = rows[column].to_numpy(float)
    log = bool((values > 0).all())  # a 0 (a price of 0) has no place on a log axis: a linear one shows it
    drawn = np.clip(values, *LOG_RANGE) if log else values
    if log:
        log_axis(ax, drawn)
    hardware = _hardware(rows)
    ax.barh(np.arange(len(rows)), drawn, color=[colors[h] for h in hardware])
    labels = (rows["suite"].astype(str) + "::" if several else "") + rows["case_id"].astype(str)
    ax.set_yticks(np.arange(len(rows)), [plain_text(c, MAX_LABEL) for c in labels], fontsize=8)
    for y, (value, x) in enumerate(zip(values, drawn, strict=True)):
        ax.text(x, y, f" {value:.3g}", va="center", fontsize=7)  # the figure as computed, where its bar ends
    shown = [(h, c) for h, c in colors.items() if h in set(hardware)][:MAX_SERIES]
    handles = [Line2D([], [], marker="s", linestyle="", color=c, label=plain_text(h)) for h, c in shown]
    ax.legend(handles=handles, fontsize=8)
    ax.grid(axis="x", alpha=0.3)


COST_FORMULA = (
    "price per hour of the resources a case occupies / (throughput × 3600) × 10⁶, at the measured throughput."
)
"""How the cost chart's figures are made (its caption), whatever the currencies."""


def cost_chart(tables: Tables) -> Chart:
    """Compute cost per 1M inferences per case. Suites that price in one currency share one axis, named in the
    title; suites in different currencies get one panel per currency, each with its own axis: no figure is
    converted, and none is drawn beside one of another currency as if comparable."""
    frame = _ok(tables)
    priced = frame[pd.to_numeric(frame.get("cost_per_1m"), errors="coerce").notna()] if not frame.empty else frame
    currency = {suite: prices.currency for suite, prices in tables.prices.items()}
    suites = set(priced["suite"].astype(str)) if len(priced) else set()
    used = list(dict.fromkeys(money for suite, money in currency.items() if suite in suites))  # the suites' order
    if len(used) > 1:
        title = f"Compute cost per million inferences, one panel per currency ({', '.join(used)}: not converted)"
        caption = (
            f"{COST_FORMULA} The suites price in different currencies ({', '.join(used)}): each currency has its own "
            "panel and axis, and no figure is converted, so bars of different panels are not comparable."
        )
        chart = Chart("cost_per_1m", title, caption)
        chart = _horizontal_bars(tables, "cost_per_1m", chart, "{} per 1M inferences", panels=currency)
    else:
        name = used[0] if used else next(iter(currency.values()), "USD")
        chart = Chart(
            "cost_per_1m",
            f"Compute cost per million inferences ({name})",
            COST_FORMULA,
        )
        chart = _horizontal_bars(tables, "cost_per_1m", chart, f"{name} per 1M inferences")
    if chart.figure is None:
        chart.note = "no case has both a price and a measured throughput"
    return chart


def energy_chart(tables: Tables) -> Chart:
    chart = Chart(
        "energy_per_inference", "Energy per inference", "Measured energy per item (J), where a meter was readable."
    )
    chart = _horizontal_bars(tables, "energy_j_per_item", chart, "energy per inference in J")
    if chart.figure is None:
        sources = tables.cases.get("energy_source", pd.Series(dtype=object)).dropna().unique()
        chart.note = "energy was not measured in this run" + (
            f" ({'; '.join(map(str, sources))})" if len(sources) else ""
        )
    return chart


CHARTS: tuple[Callable[[Tables], Chart], ...] = (
    pareto_chart,
    latency_chart,
    threads_chart,
    size_accuracy_chart,
    score_chart,
    cost_chart,
    energy_chart,
)


def make_charts(tables: Tables) -> list[Chart]:
    """Every chart of the report (skipped ones carry a note instead of a figure)."""
    return [make(tables) for make in CHARTS]


def save_charts(charts: list[Chart], folder: Path, dpi: int = 110) -> list[Path]:
    """Write each drawn chart as ``<name>.png`` in ``folder`` and close its figure."""
    paths = []
    for chart in charts:
        if chart.figure is None:
            continue
        path = folder / chart.filename
        path.write_bytes(chart.png(dpi))
        plt.close(chart.figure)
        paths.append(path)
    return paths

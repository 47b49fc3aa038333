"""Run history: an index of runs (suite, commit, time, machine), trends per metric, change points, baselines.

Baselines are stored as run folders under ``<results>/baseline/<suite>/`` holding that suite's records and raw
samples, copied from the promoted run (``bench baseline set RUN``). ``.gitignore`` keeps ``results/baseline/``
trackable, so a team commits its baseline and the nightly job finds it in the checkout.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import math
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench import metrics
from bench.checks import plain_text, short_commit
from bench.durable import fsync_folder, leftovers, replace_folder, take_lock, write_atomic, write_synced
from bench.errors import BenchError, first_few, os_reason, short_name

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

BASELINE_DIR = "baseline"
TREND_METRICS: tuple[str, ...] = metrics.trends()
"""The metrics ``bench history`` plots by default (the metric table's ``trend`` column)."""
MAX_TREND_WIDTH = 30.0
"""Widest trend chart, in inches (3000 pixels): its width grew with the run count, 66,300 pixels for 1100 runs
(a PNG no viewer shows, and a second of drawing per hundred runs)."""
MAX_TREND_LABELS = 40
"""Most run labels (commit, start time) under a trend chart; with more runs, every few runs is labelled."""
MAX_TREND_LEGEND = 12
"""Most cases a trend chart's legend names, those with a change point first (300 entries covered the chart)."""


# ------------------------------------------------------------------------------------------------ index


@dataclass(frozen=True)
class RunInfo:
    """One run in the index."""

    run_id: str
    path: Path
    started_at: str
    commit: str
    machine: str
    cpu_model: str
    status: str
    suites: tuple[str, ...]


def index_runs(results_dir: str | Path | None = None, suite: str | None = None) -> list[RunInfo]:
    """Runs under ``results_dir`` (baselines excluded), oldest first by start time (the order of
    :func:`bench.results.run_dirs`), optionally of one suite."""
    from bench import results as store

    runs = []
    for path in store.run_dirs(results_dir):
        if path.name == BASELINE_DIR:
            continue
        meta = store.read_meta(path)
        env = meta.get("environment") or {}
        info = RunInfo(
            run_id=meta.get("run_id", path.name),
            path=path,
            started_at=meta.get("started_at") or "",
            commit=short_commit(env.get("git_commit")),
            machine=env.get("hostname") or "",
            cpu_model=env.get("cpu_model") or "",
            status=meta.get("status") or "",
            suites=tuple(s.get("name", "") for s in meta.get("suites", [])),
        )
        if suite is None or suite in info.suites:
            runs.append(info)
    return runs


def history_frame(runs: Sequence[RunInfo], suite: str):
    """One row per (run, case) of ``suite``, in run order, with the run's commit, time and machine."""
    import pandas as pd

    from bench import results as store

    frames = []
    for order, run in enumerate(runs):
        frame = store.load(run.path)
        frame = frame[(frame["suite"] == suite) & (frame["status"] == "ok")].copy()
        frame["run_order"] = order
        frame["run_id"] = run.run_id
        frame["started_at"] = run.started_at
        frame["commit"] = run.commit
        frame["machine"] = run.machine
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=["run_order", "run_id", "case_id"])
    return pd.concat(frames, ignore_index=True)


# ----------------------------------------------------------------------------------------- change points


@dataclass(frozen=True)
class ChangePoint:
    """A step in a series: the first index of the new level, the levels either side and the test behind it."""

    index: int
    before: float
    after: float
    p_value: float

    @property
    def change(self) -> float:
        return self.after / self.before - 1.0 if self.before else math.inf


def change_points(
    values: Sequence[float], min_size: int = 4, window: int = 6, alpha: float = 0.05, min_change: float = 0.05
) -> list[ChangePoint]:
    """Steps in a series of per-run figures: a rank test between the runs just before and just after each point.

    At every index ``i`` with at least ``min_size`` runs on each side, the ``window`` runs before ``i`` are compared
    with the ``window`` runs from ``i`` on (fewer at the ends) by a two-sided Mann-Whitney U test. ``i`` is a
    candidate when ``p < alpha`` **and** the medians of the two windows differ by more than ``min_change``
    (relative). Candidates are then accepted strongest first (smallest p, then largest change), skipping any within
    ``min_size`` runs of one already accepted, so one step gives one mark. Each value is one run's figure (e.g.
    its p50): runs, not raw samples, are the units, because any drift between runs would make samples
    "significant". Rank-based, so one outlier run is not a step; with ``min_size=4`` a step needs at least four
    runs on each side (the smallest p of 4 against 4 is 0.029).
    """
    from scipy.stats import mannwhitneyu

    series = np.asarray(values, dtype=float)
    window = max(window, min_size)
    candidates: list[tuple[float, float, ChangePoint]] = []
    for i in range(min_size, len(series) - min_size + 1):
        left, right = series[max(0, i - window) : i], series[i : i + window]
        if np.all(left == left[0]) and np.all(right == left[0]):
            continue
        p = float(mannwhitneyu(left, right, alternative="two-sided").pvalue)
        step = ChangePoint(i, float(np.median(left)), float(np.median(right)), p)
        if p < alpha and abs(step.change) > min_change:
            # ties in p (perfectly separated windows) go to the point whose windows differ most in mean: the
            # exact step, where neither window holds runs of the other level
            candidates.append((p, -abs(float(right.mean() - left.mean())), step))
    accepted: list[ChangePoint] = []
    for _, _, step in sorted(candidates, key=lambda c: (c[0], c[1], c[2].index)):
        if all(abs(step.index - other.index) >= min_size for other in accepted):
            accepted.append(step)
    refined = _refine(series, sorted(accepted, key=lambda c: c.index), min_size, window)
    return [new if new.p_value < alpha and abs(new.change) > min_change else old for new, old in refined]


def _refine(series: np.ndarray, steps: list[ChangePoint], min_size: int, window: int):
    """Move each step, by less than ``min_size``, to where two flat levels fit the runs around it best (L1).

    A window test can mark a step one run early or late when a window reaches over the next step; the split
    with the least absolute deviation from the two sides' medians, between the neighbouring steps, is the place.
    Returns (refined, original) pairs; the caller keeps the original when the refined one fails the criteria.
    """
    from scipy.stats import mannwhitneyu

    refined: list[tuple[ChangePoint, ChangePoint]] = []
    for n, original in enumerate(steps):
        step = original
        low = max(steps[n - 1].index if n else 0, step.index - window)
        high = min(steps[n + 1].index if n + 1 < len(steps) else len(series), step.index + window)

        def cost(k: int, low: int = low, high: int = high) -> float:
            left, right = series[low:k], series[k:high]
            return float(np.abs(left - np.median(left)).sum() + np.abs(right - np.median(right)).sum())

        options = range(max(low + 1, step.index - min_size + 1), min(high, step.index + min_size))
        best = min(options, key=lambda k: (cost(k), abs(k - step.index)))
        if best != step.index:
            left, right = series[max(0, best - window) : best], series[best : best + window]
            p = float(mannwhitneyu(left, right, alternative="two-sided").pvalue)
            step = ChangePoint(best, float(np.median(left)), float(np.median(right)), p)
        refined.append((step, original))
    return refined


# -------------------------------------------------------------------------------------------------- trends


def plot_trends(frame, suite: str, out_dir: str | Path, metrics: Sequence[str] = TREND_METRICS, **detect: Any):
    """One PNG per metric (a metric named twice is drawn once): a line per case across runs, change points marked.
    Returns (paths, change points)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:  # a read-only or virtual file system: one line, never "[Errno 1] ..."
        raise BenchError(f"cannot make {out_dir} for the trend charts: {os_reason(err)}") from None
    paths: list[Path] = []
    steps: list[dict[str, Any]] = []
    if frame.empty:
        return paths, steps
    runs = frame.drop_duplicates("run_order").sort_values("run_order")
    labels = [plain_text(f"{short_commit(r.commit, 7) or '?'}\n{str(r.started_at)[5:16]}") for r in runs.itertuples()]
    for metric in dict.fromkeys(metrics):  # `--metric x --metric x`: one chart, each change point once
        if metric not in frame.columns or frame[metric].dropna().empty:
            continue
        drawable = _drawable(frame, metric)  # none: no chart, but the change points are still looked for
        fig, ax = (None, None)
        if not drawable.empty:
            fig, ax = plt.subplots(figsize=(min(max(6.0, 0.6 * len(runs) + 3), MAX_TREND_WIDTH), 4.5))
        lines = []  # (line, has a change point), for the legend
        for case_id, group in frame.dropna(subset=[metric]).groupby("case_id", sort=True):
            group = group.sort_values("run_order")
            xs, ys = group["run_order"].to_numpy(), group[metric].astype(float).to_numpy()
            shown = group.index.isin(drawable.index)
            found = change_points(ys, **detect)
            if ax is not None:
                (line,) = ax.plot(xs[shown], ys[shown], marker="o", markersize=3, label=plain_text(case_id, 80))
                lines.append((line, bool(found)))
            for step in found:
                x = xs[step.index]
                if ax is not None:
                    ax.axvline(x - 0.5, color=line.get_color(), linestyle="--", alpha=0.7)
                    if shown[step.index]:
                        ax.annotate(
                            f"{step.change:+.0%}", (x - 0.5, ys[step.index]), color=line.get_color(), fontsize=8
                        )
                row = group.iloc[step.index]
                steps.append(
                    {
                        "metric": metric,
                        "case_id": case_id,
                        "run_id": row["run_id"],
                        "commit": row["commit"],
                        "before": step.before,
                        "after": step.after,
                        "change": step.change,
                        "p_value": step.p_value,
                    }
                )
        if ax is None:
            continue
        decades = np.log10(drawable.max()) - np.log10(drawable.min()) if (drawable > 0).all() else 0.0
        if decades > math.log10(20):  # cases of very different sizes: keep all readable (1e300 / 1e-300 overflows)
            from bench.report.charts import log_axis

            log_axis(ax, drawable.to_numpy(), "y")
        every = -(-len(runs) // MAX_TREND_LABELS)  # thousands of runs: a label every few runs, each still a point
        ax.set_xticks(runs["run_order"].to_numpy()[::every], labels[::every], fontsize=7)
        ax.set_xlabel("run (commit, start time UTC)")
        ax.set_ylabel(plain_text(metric))
        ax.set_title(plain_text(f"{suite}: {metric} across runs (dashed: detected change point)"))
        ax.grid(alpha=0.3)
        named = [line for line, _ in sorted(lines, key=lambda entry: not entry[1])[:MAX_TREND_LEGEND]]
        if len(lines) > len(named):  # the cases with a change point first; the others are drawn, not named
            more = f"{len(lines) - len(named)} more case(s), not named"
            named.append(Line2D([], [], linestyle="", label=more))
        ax.legend(handles=named, fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        fig.tight_layout()
        path = out_dir / f"{suite}-{metric}.png"
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=100)
        plt.close(fig)
        try:  # whole or not at all: an earlier chart of that name stays as it was
            write_atomic(path, buffer.getvalue(), path.with_name(f".{path.name}.tmp{os.getpid()}"))
        except OSError as err:  # a full disk, a read-only folder
            drawn = f"; written before it: {', '.join(str(p) for p in paths)}" if paths else ""
            raise BenchError(f"cannot write {path}: {os_reason(err)}{drawn}") from None
        paths.append(path)
    return paths, steps


def _drawable(frame, metric: str):
    """The figures of ``metric`` a trend chart draws (sizes within the report charts'
    :data:`~bench.report.charts.LOG_RANGE`, or 0), as floats: matplotlib's ticks and limits overflow near a float's
    range (``arange: cannot compute length``, a figure of 1e308 stopped ``bench history``). Those left off are warned
    about in one line, naming the first of them by case and run; the table and the change points still have them."""
    import warnings

    from bench.report.charts import LOG_RANGE
    from bench.results import ResultsWarning

    values = frame[metric].dropna().astype(float)
    size = values.abs()
    inside = (size == 0) | ((size >= LOG_RANGE[0]) & (size <= LOG_RANGE[1]))
    outside = values.index[~inside]
    if len(outside):
        where = [f"{values[i]:g} of {frame.loc[i, 'case_id']} in run {frame.loc[i, 'run_id']}" for i in outside]
        warnings.warn(
            f"{metric}: {first_few(where, 1)} left off its "
            f"trend chart: beyond what a chart can draw (sizes {LOG_RANGE[0]:g} to {LOG_RANGE[1]:g}, and 0)",
            ResultsWarning,
            stacklevel=3,
        )
    return values[inside]


# ------------------------------------------------------------------------------------------------ baselines


def baseline_root(results_dir: str | Path | None = None) -> Path:
    from bench import results as store

    return store.results_folder(results_dir) / BASELINE_DIR


def baseline_path(suite: str, results_dir: str | Path | None = None) -> Path:
    return baseline_root(results_dir) / suite


@contextlib.contextmanager
def _promotion_lock(root: Path):
    """Hold ``.baseline.lock`` beside the baseline folder ``root`` (in the results folder, which git ignores, not in
    the committed baseline) while the block runs; without a results folder there is nothing to hold (reading the
    run will say so)."""
    if not root.parent.is_dir():
        yield
        return
    lock = root.parent / ".baseline.lock"
    handle = _open_lock(lock)
    with handle:
        if fcntl is not None:  # no flock (Windows): promotions are not serialised there
            _take(handle, lock)
        yield


def _open_lock(lock: Path):
    """``lock`` opened to be locked: a regular file, made if absent. It is opened without blocking, so a FIFO (named
    pipe) in its place is refused at once, as any other file that is not a regular one, in one line: opening a FIFO
    waited for a reader for ever (``bench baseline set`` hung)."""
    from bench.safe_yaml import not_regular  # here: yaml stays out of the command line's start-up

    def nonblocking(path: str, flags: int) -> int:
        return os.open(path, flags | getattr(os, "O_NONBLOCK", 0), 0o666)

    kind = None
    try:
        handle = open(lock, "a", opener=nonblocking)  # noqa: SIM115 (the caller closes it, after the block)
    except OSError as err:
        if err.errno in (errno.ENXIO, errno.EISDIR):  # what it is, from the path: a socket refuses as a FIFO does
            with contextlib.suppress(OSError):
                kind = not_regular(os.stat(lock).st_mode)
            kind = kind or {errno.ENXIO: "a FIFO (named pipe)", errno.EISDIR: "a folder"}[err.errno]
        if kind is None:  # a read-only results folder: one line, nothing promoted
            raise BenchError(f"cannot write {lock}: {os_reason(err)}; nothing was promoted") from None
    if kind is None:
        kind = not_regular(os.fstat(handle.fileno()).st_mode)
        if kind is None:
            return handle
        handle.close()
    raise BenchError(
        f"{lock}: it is {kind}, not a regular file; the promotion lock must be a regular file or absent (bench "
        "creates it): remove it, then promote again; nothing was promoted"
    )


PROMOTION_WAIT_S = 300.0
"""How long a promotion waits for the one before it: a promotion takes seconds, so a lock held longer is a process
that hangs (stopped with Ctrl-Z, a network file system that stopped answering)."""


def _take(handle, lock: Path) -> None:
    """Lock ``lock``, open as ``handle``, for this process. Another promotion holding it is waited for, saying so in
    one warning, at most :data:`PROMOTION_WAIT_S`, then refused in one line (:func:`bench.durable.take_lock`): before,
    ``bench baseline set`` waited for ever without a word behind a process that held it."""
    from bench.results import ResultsWarning

    refused = take_lock(
        handle.fileno(),
        lock,
        PROMOTION_WAIT_S,
        waiting="another promotion of a baseline holds it",
        hung="a promotion that hangs or was stopped",
        undone="nothing was promoted",
        again="promote again",
        category=ResultsWarning,
    )
    if refused is not None:  # unserialised, two promotions (or one and a reader's tidying) lose a half
        raise BenchError(
            f"{lock}: this file system refuses locks ({os_reason(refused)}), and a promotion must not run beside "
            "another; nothing was promoted: promote into a results folder on a local disk (--results), or run the "
            "file system's lock service"
        )


def _clear_leftovers(target: Path) -> None:
    """What a promotion killed half-way left beside ``target`` (under the lock no other promotion runs): its staging
    folder is removed, and the previous baseline, moved aside but not yet replaced, is put back."""
    for path, _, kind, _ in leftovers(target.parent, target.name):
        if kind == "old" and not target.exists():
            path.rename(target)
        else:
            shutil.rmtree(path, ignore_errors=True)


def _put_back(root: Path) -> None:
    """Before a baseline is read, what a killed promotion left is tidied, under the promotion lock (a promotion
    still running finishes first). One killed between its two renames (the earlier baseline moved aside as
    ``.<suite>.old<pid>``, the new one not yet in its place) would hide the suite's baseline until the next
    promotion: it is put back. One killed after both renames left the earlier baseline beside the new one: it is
    removed now, or deleting the suite's baseline by hand would later bring that older one back. Where the results
    folder cannot be written the reader finds what is there, as before, and says so."""
    if not root.is_dir():
        return
    suites = {root / found.name for found in leftovers(root)}
    if not suites:
        return
    with contextlib.suppress(BenchError, OSError), _promotion_lock(root):
        for target in sorted(suites):
            _clear_leftovers(target)


def promote(
    run: str | Path,
    results_dir: str | Path | None = None,
    suites: Sequence[str] | None = None,
    replace: bool = False,
) -> list[Path]:
    """Make ``run`` the baseline of each of its suites (or of ``suites``): copy its successful cases and samples.

    Each suite's baseline is a run folder (``meta.json``, ``records.jsonl``, ``samples.jsonl``) of that suite only.
    The run's successful cases replace the baseline's cases of the same id; cases the run did not measure (a GPU
    case skipped on a CPU machine, a case deselected with ``-k``) keep their previous baseline, so a CPU job and a
    GPU job can each promote their half. ``replace=True`` drops the previous baseline of the suite first.
    ``meta.json`` lists every promotion in ``promotions``; the gate checks environments per case, from the records.
    """
    from bench import results as store

    source = store.resolve_run(run, results_dir)
    meta = store.read_meta(source)
    if meta.get("status") in ("running", "killed", "damaged"):
        state = "still running" if meta["status"] == "running" else meta["status"]
        raise BenchError(f"run {meta['run_id']} is {state}: promote a finished run")
    if store.run_id_problem(meta["run_id"]):  # a copied folder ("r1 (copy)"): its id is its name
        raise BenchError(
            f"run {short_name(meta['run_id'])!r}: its folder's name is no run id, which the baseline would name as "
            f"the run it was promoted from: rename {short_name(str(source))} to a run id to promote it: "
            f"{store.RUN_ID_RULE}"
        )
    run_suites = [s["name"] for s in meta.get("suites", [])]
    if not run_suites:  # a damaged list of suites: nothing to promote, and never a silent success
        why = next((p for p in meta.get("damage", []) if "suites" in p), f"{source / 'meta.json'}: no suites")
        raise BenchError(f"run {meta['run_id']} names no suite to promote: {why}")
    wanted = list(dict.fromkeys(suites or run_suites))  # --suite s --suite s promotes s once
    unknown = [s for s in wanted if s not in run_suites]
    if unknown:
        raise BenchError(f"run {meta['run_id']} has no suite {', '.join(unknown)}; it has: {', '.join(run_suites)}")
    with _promotion_lock(baseline_root(results_dir)):
        return _promote_suites(source, meta, wanted, results_dir, replace)


def _promote_suites(
    source: Path, meta: dict[str, Any], wanted: list[str], results_dir: str | Path | None, replace: bool
) -> list[Path]:
    """:func:`promote`'s work, one promotion at a time (:func:`_promotion_lock`): a second ``bench baseline set`` (the
    CPU and the GPU job promoting their halves at once) waits for the first, then merges on top of it. Before, both
    rewrote the baseline from what it was before (one half lost), or one deleted the other's staging folder under
    it (``No such file or directory: .../.SUITE.tmp/samples.jsonl``)."""
    from bench import results as store

    written = []
    for suite in wanted:
        records = [r for r in _rows_of(source / "records.jsonl", suite) if r.get("status") == "ok"]
        if not records:
            raise BenchError(f"run {meta['run_id']} has no successful case of suite {suite}: nothing to promote")
        promoted = {r["case_id"] for r in records}
        samples = [r for r in _rows_of(source / "samples.jsonl", suite) if r["case_id"] in promoted]
        target = baseline_path(suite, results_dir)
        _clear_leftovers(target)
        promotions: list[dict[str, Any]] = []
        if target.is_dir() and not replace:  # its meta.json missing too: its cases are kept (read from its records)
            unread: list[str] = []  # what of the previous baseline cannot be read would be lost by rewriting it
            kept = [r for r in _rows_of(target / "records.jsonl", suite, unread) if r["case_id"] not in promoted]
            old_samples = _rows_of(target / "samples.jsonl", suite, unread)
            if unread:
                raise BenchError(
                    f"{unread[0]}; promoting would drop it from the baseline: repair the file, or pass --replace to "
                    "start the baseline of this suite afresh"
                )
            records = kept + records
            samples = [r for r in old_samples if r["case_id"] not in promoted] + samples
            kept_ids = {r["case_id"] for r in kept}
            promotions = promotions_of(store.read_meta(target))  # a damaged one: its cases' history restarts
            for entry in promotions:
                entry["cases"] = [c for c in entry["cases"] if c in kept_ids]
            promotions = [p for p in promotions if p["cases"]]
        promoted_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        promotions.append(
            {
                "run_id": meta["run_id"],
                "promoted_at": promoted_at,
                "git_commit": (meta.get("environment") or {}).get("git_commit"),
                "hostname": (meta.get("environment") or {}).get("hostname"),
                "cases": sorted(promoted),
            }
        )
        suite_meta = {
            **meta,
            "status": "finished",
            "suites": [s for s in meta["suites"] if s["name"] == suite],
            "promoted_from": meta["run_id"],
            "promoted_at": promoted_at,
            "promotions": promotions,
        }
        try:
            _replace_baseline(target, records, samples, suite_meta)
        except _Refused as refused:
            before = f"; promoted before it: {', '.join(p.name for p in written)}" if written else ""
            raise BenchError(
                f"cannot write {refused.path}: {os_reason(refused.err)}; the baseline of suite {suite} is left as it "
                f"was{before}"
            ) from None
        written.append(target)
    return written


def busy_cases(baseline: Path) -> dict[str, float]:
    """The cases of a suite's baseline, as its last promotion (``promoted_from``) left them, that ran on a busy
    machine: case id -> ``extra.cpu_wait_share`` above :data:`bench.hardware.CPU_WAIT_LIMIT`. ``bench gate`` judges
    none of their timed figures (*not comparable*, exit 3) until a run measured on a quiet machine replaces them."""
    from bench import results as store
    from bench.hardware import CPU_WAIT_LIMIT

    promoted_from = store.read_meta(baseline).get("promoted_from")
    busy = {}
    for row in _rows_of(baseline / "records.jsonl", baseline.name):
        share = (row.get("extra") or {}).get("cpu_wait_share") if isinstance(row.get("extra"), dict) else None
        fresh = row.get("run_id") == promoted_from
        if fresh and isinstance(share, int | float) and not isinstance(share, bool) and CPU_WAIT_LIMIT < share <= 1:
            busy[f"{row.get('suite')}::{row.get('case_id')}"] = float(share)
    return busy


class _Refused(Exception):
    """A write of a promotion that the file system refused: ``path`` (as the baseline names it) and its error."""

    def __init__(self, path: Path, err: OSError):
        super().__init__(path, err)
        self.path, self.err = path, err


def _replace_baseline(target: Path, records: list, samples: list, suite_meta: dict[str, Any]) -> None:
    """Write the new baseline into a staging folder beside ``target``, then swap it in. A write the file system
    refuses (a full disk, a read-only folder) raises :class:`_Refused` and leaves the previous baseline as it was,
    with no staging folder."""
    staging = target.with_name(f".{target.name}.tmp{os.getpid()}")
    meta_bytes = (json.dumps(suite_meta, indent=2, default=str) + "\n").encode("utf-8")
    writing = target
    try:
        staging.mkdir(parents=True)
        for name, write in (
            ("records.jsonl", lambda path: _write_rows(path, records)),
            ("samples.jsonl", lambda path: _write_rows(path, samples)),
            ("meta.json", lambda path: write_synced(path, meta_bytes)),
        ):
            writing = target / name
            write(staging / name)
        fsync_folder(staging)  # the new baseline is on disk before it replaces the old one (a power loss, a reset)
        writing = target
        replace_folder(staging, target)  # a reader never finds the baseline half written nor half deleted
    except OSError as err:
        shutil.rmtree(staging, ignore_errors=True)
        raise _Refused(writing, err) from None


def _rows_of(path: Path, suite: str, problems: list[str] | None = None) -> list[dict[str, Any]]:
    """The JSON lines of ``suite`` in ``path``, read as :func:`bench.results.load` reads them (a damaged line is
    skipped with a warning naming it, never silently, and noted in ``problems``)."""
    from bench.results.reading import _read_jsonl

    return [row for row in _read_jsonl(path, problems) if row.get("suite") == suite]


def _write_rows(path: Path, rows: list[dict[str, Any]]) -> None:
    write_synced(path, "".join(json.dumps(row, default=str) + "\n" for row in rows).encode("utf-8"))


def promotions_of(meta: dict[str, Any]) -> list[dict[str, Any]]:
    """A baseline meta's ``promotions`` as read back: the entries that are mappings, each with a ``cases`` list of
    case ids (its strings: empty where it was damaged); none when the list itself is damaged or missing."""
    promotions = meta.get("promotions")
    if not isinstance(promotions, list):
        return []
    return [
        {
            **entry,
            "cases": [c for c in entry["cases"] if isinstance(c, str)] if isinstance(entry.get("cases"), list) else [],
        }
        for entry in promotions
        if isinstance(entry, dict)
    ]


def baselines(results_dir: str | Path | None = None) -> dict[str, dict[str, Any]]:
    """The promoted baselines: suite -> its meta (``promoted_from``, ``promoted_at``, environment)."""
    from bench import results as store

    root = baseline_root(results_dir)
    _put_back(root)
    if not root.is_dir():
        return {}
    found = {}
    for path in sorted(root.iterdir()):
        if path.is_dir() and not path.name.startswith(".") and (path / "meta.json").is_file():
            found[path.name] = store.read_meta(path)  # a damaged one is read as far as it is intact, with a warning
    return found


def baseline_for(suites: Sequence[str], results_dir: str | Path | None = None) -> tuple[list[Path], list[str]]:
    """The baseline folders of ``suites`` and the suites that have none."""
    _put_back(baseline_root(results_dir))
    paths: list[Path] = []
    missing: list[str] = []
    for suite in suites:
        path = baseline_path(suite, results_dir)
        if (path / "meta.json").is_file():
            paths.append(path)
        else:
            missing.append(suite)
    return paths, missing

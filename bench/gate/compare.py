"""Comparing two runs case by case: one verdict per case and metric, after the tests and corrections."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.checks import short_commit
from bench.errors import SuiteError, first_few
from bench.gate.rules import DEFAULT_ALPHA, ENV_KEYS, METRICS, VERDICTS, GateError, Rule, rules_for, run_noise_for
from bench.gate.stats import PAIRS_ALONE, RUN_NOISE, Precision, RunNoise, SetAside, as_run_noise, holm, timed_figures
from bench.hardware import CPU_WAIT_LIMIT
from bench.metrics import LOWER, SAMPLED
from bench.results import json_safe

NOT_COMPARED = 3
"""``bench gate``'s exit code when it compared nothing, or a case it was asked to guard was not compared."""


def verdict_for(
    rule: Rule,
    change: float,
    significant: bool = True,
    pairs: Sequence[tuple[float, float]] = (),
    precision: float = 0.0,
) -> str:
    """The verdict of one comparison: beyond the rule (and significant, for timed metrics), else unchanged. A
    timed change beyond the rule that is not significant is ``inconclusive``: the data cannot tell it from chance,
    nor rule it out (a 30% slowdown timed in 8 calls a side reads +45% with p = 0.2).

    ``pairs`` are the (baseline, current) figures of each interleaved pair of runs (``--rerun N``, N >= 2). Pooled
    samples treat every call as independent and miss run-to-run variation (a process's memory layout, its cores),
    so with replicated runs a verdict also needs the median pair to go beyond the rule (2 of 3 with ``--rerun 3``).
    ``precision`` is the half-width of the change's 95% interval, in the rule's unit: a change beyond the rule
    whose interval reaches back inside it cannot be decided at the rule and is ``inconclusive``, never
    ``regressed``. For a relative rule the interval is multiplicative (run-to-run noise scales a run's figures):
    the ratio current / baseline times ``exp(±precision)``, so a run twice as slow and one twice as fast are
    equally far from no change.
    """
    typical = float(np.median([rule.change(old, new) for old, new in pairs])) if pairs else change
    nearest = _nearest_end(rule, change, precision)
    if rule.worse(change) and rule.worse(typical):
        return "regressed" if significant and rule.worse(nearest) else "inconclusive"
    if rule.better_by(change) and rule.better_by(typical):
        return "improved" if significant and rule.better_by(nearest) else "inconclusive"
    return "unchanged"


AGREE_Z = 2.5758293035489004
"""The two-sided 99% normal quantile: the runs left on a side after a set-aside agree with the calibration when
their figures lie within ``AGREE_Z * sqrt(2) * run_noise`` of each other (log-ratio)."""


def set_aside_verdict(
    rule: Rule, significant: bool, aside: SetAside, precision: Precision | None, noise: RunNoise
) -> str | None:
    """What an *inconclusive* comparison of N >= 3 run pairs becomes without its most outlying pair
    (:class:`bench.gate.stats.SetAside`), judged on the other pairs at ``precision`` (theirs, at the run ``noise``);
    None where the set-aside may not decide.

    It decides only where a run noise calibrated over R runs (``gates.run_noise_runs``) was pooled with the other
    pairs and their runs agree with it on each side (within the 99% range of two runs' difference): the other pairs
    are then as steady as the machine was calibrated, and one pair alone was off. Dropping the pair farthest from
    the median always keeps the closest ones, whose spread alone reads too small: without a calibration to pool
    with (an assumed run noise), or on a machine noisier than its calibration, that would make changes out of
    noise, so then nothing is decided. It decides only "regressed" or "improved", and only when the pair set aside
    went further that way than the others' change. A comparison never becomes "unchanged" by a set-aside: a run
    that alone moved far (an intermittent regression) stays inconclusive."""
    others = aside.figures
    if others.baseline is None or others.current is None or precision is None:
        return None
    if not noise.dof or noise.sd <= 0 or not precision.prior_dof or precision.note:
        return None
    limit = AGREE_Z * math.sqrt(2.0) * noise.sd
    for side in zip(*others.pairs, strict=True):
        if min(side) <= 0 or math.log(max(side) / min(side)) > limit:
            return None
    change = rule.change(others.baseline, others.current)
    scale = 1.0 if rule.relative else abs(others.baseline)
    verdict = verdict_for(rule, change, significant, others.pairs, precision.half_width * scale)
    further = rule.change(*aside.pair) - change
    worse_way = further > 0 if rule.better == LOWER else further < 0
    if (verdict == "regressed" and worse_way) or (verdict == "improved" and further and not worse_way):
        return verdict
    return None


def _nearest_end(rule: Rule, change: float, precision: float) -> float:
    """The end of the change's 95% interval nearest to no change (multiplicative for a relative rule)."""
    if rule.relative and change > -1.0:
        return math.expm1(math.log1p(change) - math.copysign(precision, change))
    return change - math.copysign(precision, change)


def _distance_to_rule(rule: Rule, change: float) -> float:
    """How far a change lies beyond the rule, in the unit the precision is in (log-ratio for a relative rule)."""
    if rule.relative and change > -1.0 and rule.limit < 1.0:
        return abs(math.log1p(change)) - abs(math.log1p(math.copysign(rule.limit, change)))
    return abs(change) - rule.limit


# ------------------------------------------------------------------------------------------- comparison


@dataclass
class Verdict:
    """One case and metric: the verdict and the figures behind it."""

    case: str
    metric: str
    verdict: str
    baseline: float | None = None
    current: float | None = None
    change: float | None = None
    rule: str | None = None
    relative: bool = True
    p_value: float | None = None
    p_adjusted: float | None = None
    reason: str = ""
    pairs: tuple[tuple[float, float], ...] = ()
    between_spread: float | None = None  # the larger between-window spread of the two sides (measure.repeats)
    precision: float | None = None
    """Timed metrics: the half-width of the change's 95% interval, in the rule's unit (relative or absolute)."""
    rerun_hint: int | None = None
    """An inconclusive verdict: the ``--rerun N`` that would reach the precision needed (None: longer windows)."""
    bound: str = ""
    """A figure that is only a lower bound on either side (:data:`LOWER_BOUNDS`): the change is ``at least`` (the
    current run's), ``at most`` (the baseline's) or ``unknown`` (both) what :attr:`change` says."""
    set_aside: Callable[[], SetAside | None] | None = field(default=None, repr=False, compare=False)
    """Timed metrics of three run pairs or more, until decided: the comparison without its most outlying pair."""


@dataclass
class RunSide:
    """One side of a comparison: records by ``suite::case_id``, raw samples, and the runs it pools."""

    label: str
    records: dict[str, dict[str, Any]]
    samples: dict[str, list[Sequence[float]]]
    """Raw samples per case: one sequence per run (several when runs are pooled), a numpy float64 array each as
    :func:`load_side` reads them (8 bytes a sample, not a list's 32). Tell one apart from none by ``len``, never by
    truth: an array of two or more samples has none (:func:`_has_runs`)."""
    metas: list[dict[str, Any]]
    repeated: dict[str, str] = field(default_factory=dict)
    """Cases a run's ``records.jsonl`` holds more than once -> where (two measurements: neither is judged)."""
    cpu_wait: dict[str, list[float | None]] = field(default_factory=dict)
    """Per case, each run's ``extra.cpu_wait_share`` in the order of :attr:`samples` (None: not recorded)."""
    measurements: dict[str, list[tuple[str, Any]]] = field(default_factory=dict)
    """Per case, every pooled run's record of it as ``(run_id, timestamp)``: which measurements this side holds."""
    paths: list[Path] = field(default_factory=list)
    """Each pooled run's folder, in the order of :attr:`metas` (what an error about its ``meta.json`` names)."""
    damaged: list[str] = field(default_factory=list)
    """The damaged lines of the runs' ``records.jsonl``, skipped (``<path> line <n> (<why>)``): a case it lacks may
    be on one."""
    unusable: set[str] = field(default_factory=set)
    """Cases whose raw samples are not their record's (another count or median: :func:`checked_samples`), so not
    used: a comparison of them says so, not that there were none."""

    @property
    def commit(self) -> str:
        commits = {(m.get("environment") or {}).get("git_commit") or "?" for m in self.metas}
        return ", ".join(sorted(short_commit(c) for c in commits))

    def set_out_to_measure(self, key: str) -> bool:
        """Whether these runs set out to measure case ``key``: it is among the cases they selected (``cases`` in
        meta.json), or, for runs that did not record their selection, one of them did not finish."""
        selections = [m.get("cases") for m in self.metas]
        if all(isinstance(cases, list) for cases in selections):
            return any(key in cases for cases in selections)
        return any(m.get("status") != "finished" for m in self.metas)


def load_side(runs: Sequence[str | Path], results_dir: str | Path | None = None) -> RunSide:
    """Load one or more runs as one side; samples of the same case are pooled (used by ``--rerun``)."""
    from bench import results as store

    if not runs:
        raise GateError("no run given")
    records: dict[str, dict[str, Any]] = {}
    samples: dict[str, list[Sequence[float]]] = {}
    cpu_wait: dict[str, list[float | None]] = {}
    repeated: dict[str, str] = {}
    measurements: dict[str, list[tuple[str, Any]]] = {}
    metas = []
    paths: list[Path] = []
    damaged: list[str] = []
    seen: set[Path] = set()
    unusable: set[str] = set()
    for run in runs:
        opened = store.open_run(run, results_dir)  # its meta.json read once (or as given), for every file of it
        path = opened.path
        if path.resolve() in seen:  # pooled twice, one run would count as two replicates: a precision it lacks
            raise GateError(f"run {path} is given twice on one side of the comparison; give each run once")
        seen.add(path.resolve())
        paths.append(path)
        metas.append(opened.meta)
        lines: dict[str, list[int]] = {}
        frame = store.load(opened, repeated=lines, skipped_lines=damaged)
        waits: dict[str, float | None] = {}
        for row in frame.to_dict("records"):
            key = f"{row['suite']}::{row['case_id']}"
            records.setdefault(key, _clean(row))
            measurements.setdefault(key, []).append(_measurement(row))
            waits[key] = _cpu_wait_share(row)
        read = store.load_samples(opened, arrays=True)  # arrays: 8 bytes a sample, not a list's 32
        kept = store.checked_samples(frame, read, path / "samples.jsonl")
        unusable.update(key for key in read if key not in kept)
        for key, values in kept.items():
            samples.setdefault(key, []).append(values)
            cpu_wait.setdefault(key, []).append(waits.get(key))
        for key, found in lines.items():
            repeated[key] = f"{path / 'records.jsonl'} has it on lines {', '.join(map(str, found))}"
    label = metas[0]["run_id"] if len(metas) == 1 else f"{len(metas)} runs pooled"
    return RunSide(label, records, samples, metas, repeated, cpu_wait, measurements, paths, damaged, unusable)


def _cpu_wait_share(row: Mapping[str, Any]) -> float | None:
    """A record's ``extra.cpu_wait_share`` (see :func:`bench.measure.timing.latency_pass`; a column of the loaded
    frame), or None."""
    value = row.get("extra.cpu_wait_share")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _busy_runs(samples: Sequence[Sequence[float]], waits: list[float | None] | None) -> dict[int, float]:
    """The runs of one side taken on a busy machine: index -> ``cpu_wait_share`` above :data:`CPU_WAIT_LIMIT` (a
    run without the figure counts as quiet)."""
    return {i: w for i, w in enumerate(list(waits or [])[: len(samples)]) if w is not None and w > CPU_WAIT_LIMIT}


def quiet_runs(
    old: Sequence[Sequence[float]],
    new: Sequence[Sequence[float]],
    waits: tuple[list[float | None] | None, list[float | None] | None],
) -> tuple[Sequence[Sequence[float]], Sequence[Sequence[float]], str, str | None]:
    """Both sides' runs left after those taken on a busy machine (``cpu_wait_share`` above :data:`CPU_WAIT_LIMIT`;
    not recorded counts as quiet), a note on those left out, and a reason when a side has none left. Runs paired
    by ``--rerun`` (as many on each side) are left out in pairs, so that the pairs stay those that ran together."""
    sides = {"baseline": (old, _busy_runs(old, waits[0])), "current run": (new, _busy_runs(new, waits[1]))}
    if not any(busy for _, busy in sides.values()):
        return old, new, "", None
    for name, (runs, busy) in sides.items():
        if len(busy) == len(runs):
            again = (  # a busy baseline is measured again by promoting a quiet run, not by re-running the current one
                "measure the baseline again on a quiet machine (bench baseline set RUN, or --rerun)"
                if name == "baseline"
                else "re-run on a quiet machine"
            )
            reason = (
                f"{name} ran on a busy machine: its threads waited for a CPU {max(busy.values()):.0%} of the time of "
                f"its timed calls (other processes held its cores; at most {CPU_WAIT_LIMIT:.0%} is judged); {again}"
            )
            return old, new, "", reason
    paired = len(old) == len(new) >= 2
    notes = [
        f"{len(busy)} of {len(runs)} runs of the {name} left out{' with their pairs' if paired else ''} "
        f"(busy machine: threads waited for a CPU {max(busy.values()):.0%} of the time)"
        for name, (runs, busy) in sides.items()
        if busy
    ]
    drop_old, drop_new = set(sides["baseline"][1]), set(sides["current run"][1])
    if paired:
        drop_old = drop_new = drop_old | drop_new
    if len(drop_old) == len(old) or len(drop_new) == len(new):
        return old, new, "", "every pair of runs has one run on a busy machine; re-run on a quiet machine"
    kept_old = [run for i, run in enumerate(old) if i not in drop_old]
    kept_new = [run for i, run in enumerate(new) if i not in drop_new]
    return kept_old, kept_new, "; ".join(notes), None


def _clean(row: dict[str, Any]) -> dict[str, Any]:
    """pandas NaN -> None, so "not measured" is one thing."""
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def environment_differences(baseline: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """What makes two records of one case not comparable: CPU model, torch, thread count, and a GPU case's GPU."""
    keys = [k for k in ENV_KEYS if k != "gpu_name" or str(current.get("device") or "").startswith("cuda")]
    found = []
    for key in keys:
        old, new = baseline.get(key), current.get(key)
        if _present(old) and _present(new) and old != new:
            found.append(f"{key} {old!r} -> {new!r}")
    return found


@dataclass
class GateResult:
    """All verdicts of one gate, with what the summary and the JSON file need."""

    baseline: str
    current: str
    baseline_commit: str
    current_commit: str
    alpha: float
    correction: str
    forced: bool
    verdicts: list[Verdict] = field(default_factory=list)
    environment: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    not_run: list[str] = field(default_factory=list)
    """Baseline cases the current run did not measure (deselected, skipped for absent hardware, or removed)."""
    settings: dict[str, list[str]] = field(default_factory=dict)
    """Suite -> the ``measure:`` settings that differ between the two sides."""
    uncompared: list[str] = field(default_factory=list)
    """Cases the gate was asked to guard (ok in the baseline, selected now) but could not compare: the current run
    never measured them (killed, interrupted) or measured no figure comparable with the baseline's."""
    damaged: list[str] = field(default_factory=list)
    """The current run's damaged ``records.jsonl`` lines (``<path> line <n> (<why>)``): the case on each cannot be
    told, so it was not compared, whatever the baseline holds. Like :attr:`uncompared`, it makes the gate exit
    :data:`NOT_COMPARED`, never "passed"."""
    unguarded: list[str] = field(default_factory=list)
    """``case: metric (why)`` for each metric of a comparable case (ok on both sides, same environment and settings)
    that the baseline measured but this gate could not compare: raw samples lost, a pass that failed now, a run
    too disturbed to judge. Like :attr:`uncompared`, it makes the gate exit :data:`NOT_COMPARED`, never "passed"."""

    def count(self, verdict: str) -> int:
        return sum(v.verdict == verdict for v in self.verdicts)

    @property
    def compared(self) -> int:
        return sum(v.verdict != "not comparable" for v in self.verdicts)

    @property
    def exit_code(self) -> int:
        """1 when anything regressed; 2 when nothing could be compared because environments or measure settings
        differ; :data:`NOT_COMPARED` (3) when nothing was compared at all or a guarded case was not compared;
        else 0."""
        if self.count("regressed"):
            return 1
        if (self.environment or self.settings) and not self.forced and self.compared == 0:
            return 2
        if self.uncompared or self.unguarded or self.damaged or self.compared == 0:
            return NOT_COMPARED
        return 0

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": 1,
            "baseline": self.baseline,
            "current": self.current,
            "baseline_commit": self.baseline_commit,
            "current_commit": self.current_commit,
            "alpha": self.alpha,
            "correction": self.correction,
            "forced": self.forced,
            "exit_code": self.exit_code,
            "counts": {v: self.count(v) for v in VERDICTS},
            "environment_differences": self.environment,
            "notes": self.notes,
            "not_run": self.not_run,
            "uncompared": self.uncompared,
            "damaged": self.damaged,
            "unguarded": self.unguarded,
            "verdicts": [json_safe({k: x for k, x in asdict(v).items() if k != "set_aside"}) for v in self.verdicts],
        }


def compare(
    baseline: RunSide,
    current: RunSide,
    *,
    force: bool = False,
    alpha: float | None = None,
    correction: str = "holm",
    rules: Mapping[str, Mapping[str, Any]] | None = None,
    run_noise: float | RunNoise | None = None,
) -> GateResult:
    """Compare two sides case by case. ``rules`` maps suite name to its ``gates:`` section (default: from meta).
    ``run_noise`` overrides every suite's ``gates.run_noise`` and ``gates.run_noise_runs`` (default
    :data:`bench.gate.stats.RUN_NOISE`, assumed)."""
    if correction not in ("holm", "none"):
        raise GateError(f"--correction must be holm or none, not {correction!r}")
    sources: dict[str, str] = {}  # suite -> the meta.json its recorded gates: section was read from
    if rules is None:
        rules = {}
        for number, meta in enumerate(current.metas):
            where = current.paths[number] / "meta.json" if number < len(current.paths) else f"run {meta.get('run_id')}"
            for s in meta["suites"]:
                rules[s["name"]], sources[s["name"]] = (s.get("sections") or {}).get("gates") or {}, str(where)
    suites = {key.split("::", 1)[0] for key in current.records} | set(rules)
    effective = {suite: _recorded(suite, sources, lambda suite=suite: rules_for(rules.get(suite))) for suite in suites}
    levels = {a for _, a in effective.values()}
    result = GateResult(
        baseline=baseline.label,
        current=current.label,
        baseline_commit=baseline.commit,
        current_commit=current.commit,
        alpha=alpha if alpha is not None else (levels.pop() if len(levels) == 1 else DEFAULT_ALPHA),
        correction=correction,
        forced=force,
    )
    settings = result.settings = settings_differences(baseline, current)
    for suite, differences in settings.items():
        result.notes.append(
            f"{suite}: measure settings differ ({'; '.join(differences)})"
            + ("; compared anyway (--force)" if force else "; its cases are not comparable (use --force)")
        )
    for meta in baseline.metas:
        if meta.get("status") != "finished":  # its missing cases read as unmeasured there, not as new ones
            state = "is still running" if meta.get("status") == "running" else f"was {meta.get('status')}"
            result.notes.append(
                f"baseline run {meta.get('run_id')} {state}: compared as far as it measured; a case it set out to "
                "measure but has no record of is not comparable, not guarded"
            )
    for meta in current.metas:  # its unmeasured cases are uncompared (exit 3): say why
        result.notes += _unfinished_current(meta)
    result.damaged = list(current.damaged)  # a case on one of them, in the baseline or not, is not compared
    keys = sorted(set(baseline.records) | set(current.records))
    noises: dict[str, RunNoise] = {}  # each compared suite's run noise, its calibration noted once
    for suite in dict.fromkeys(key.split("::", 1)[0] for key in keys):
        recorded = _recorded(suite, sources, lambda suite=suite: run_noise_for(rules.get(suite)))
        noise = noises[suite] = as_run_noise(next(n for n in (run_noise, recorded, RUN_NOISE) if n is not None))
        if noise.dof:
            result.notes.append(
                f"{suite}: run noise {noise.sd:.1%}, measured over {noise.runs} runs (bench calibrate): taken for one "
                "run a side, and pooled with the run pairs of several runs a side"
            )
    timed: list[tuple[Verdict, Rule, float]] = []  # verdicts waiting for the corrected test, with their level
    for key in keys:
        suite = key.split("::", 1)[0]
        suite_rules, suite_alpha = effective.get(suite) or rules_for(None)
        refused = None
        if suite in settings and not force:
            refused = f"measure settings differ: {'; '.join(settings[suite])} (use --force to compare anyway)"
        noise = noises[suite]
        for verdict, rule in _case_verdicts(key, baseline, current, suite_rules, result, force, refused, noise):
            result.verdicts.append(verdict)
            if verdict.p_value is not None:
                timed.append((verdict, rule, alpha if alpha is not None else suite_alpha))
    _decide_timed(timed, correction)
    if force and result.environment:
        result.notes.append("--force: cases measured on different environments were compared anyway")
    return result


def _unfinished_current(meta: Mapping[str, Any]) -> list[str]:
    """The note on a current run that did not finish: still running, or stopped (killed, interrupted) before its
    last case. Before, a stopped run's summary only listed the cases not compared, under every cause there may be
    ("never measured: the run was killed or interrupted; no comparable figure; ..."), never which it was."""
    run_id, status = meta.get("run_id"), meta.get("status")
    if status == "running":
        return [
            f"current run {run_id} is still running: the cases it has not measured yet are not compared; run bench "
            "gate again once it has finished"
        ]
    if status not in ("killed", "interrupted"):
        return []
    stopped_by = meta.get("stopped_by")
    how = f" (stopped by {stopped_by})" if isinstance(stopped_by, str) and stopped_by else ""
    return [
        f"current run {run_id} was {status}{how}: compared as far as it measured; the cases it set out to measure "
        f"but has no record of are not compared; bench run SUITE --resume {run_id} measures them, then gate again"
    ]


def _recorded(suite: str, sources: Mapping[str, str], parse: Callable[[], Any]) -> Any:
    """``parse()`` of suite's recorded ``gates:`` section: an invalid one is an error naming the ``meta.json`` it was
    read from (``sources``) and the suite, as ``bench report``'s is (there is no suite file to look in)."""
    try:
        return parse()
    except SuiteError as err:
        if err.file is not None or suite not in sources:
            raise
        raise SuiteError(f"{sources[suite]} (suite {suite})", err.key, err.message) from None


def _case_verdicts(key, baseline: RunSide, current: RunSide, suite_rules, result, force, refused, run_noise):
    """One case's (verdict, rule) pairs; a case not run now but ok in the baseline is noted in ``result``."""
    old, new = baseline.records.get(key), current.records.get(key)
    if new is None or new.get("status") == "skipped":  # deselected (-k), absent hardware, removed, or never reached
        if old is not None and old.get("status") == "ok":
            unmeasured = new is None and current.set_out_to_measure(key)
            (result.uncompared if unmeasured else result.not_run).append(key)
        return []
    twice = current.repeated.get(key) or baseline.repeated.get(key)
    if twice:  # two measurements of one case: judging either could pass what the other shows; the gate vouches for none
        reason = f"{twice}: two measurements of one case, neither judged (keep one line per case)"
        return _uncompared(key, reason, suite_rules, old, new, result)
    own = _shared_run(key, baseline, current) if old is not None and old.get("status") == "ok" else None
    if own is not None and new.get("status") == "ok":  # a baseline promoted from a current run: compared with itself
        reason = f"the baseline's record is this run's own (promoted from run {own}): compared with itself"
        return _uncompared(key, reason, suite_rules, old, new, result)
    if old is not None and old.get("status") == "ok" and new.get("status") == "failed":
        # A case that measured in the baseline and now crashes is the worst regression there is.
        error = new.get("error") or "no error recorded"
        return [(Verdict(key, "status", "regressed", reason=f"ok in the baseline, failed now: {error}"), None)]
    reason = refused or _not_comparable_reason(old, new)
    # not new: the baseline's run stopped before it (a promoted baseline is always finished: it keeps ok records
    # only, so a case its run failed or skipped is new there, as before)
    statuses = (m.get("status") for m in baseline.metas)
    unfinished = None if old is not None else next((status for status in statuses if status != "finished"), None)
    if unfinished is not None and baseline.set_out_to_measure(key):
        reason = (
            f"not in the baseline: its run ({baseline.label}, {unfinished}) set out to measure it but has no record"
        )
    elif old is None and baseline.damaged and not refused:
        # a case it guarded may be on a line that cannot be read: never a "new case" the gate passes
        reason = f"not among the baseline's readable records, and {_lines(baseline.damaged)}: it may be on one of them"
        result.uncompared.append(key)
    if reason is None:
        differences = environment_differences(old, new)
        if differences:
            result.environment[key] = differences
            if not force:
                reason = "environment differs: " + "; ".join(differences) + " (use --force to compare anyway)"
    verdicts = []
    for name, rule in suite_rules.items():
        if reason is not None:
            if any(_present(record.get(name)) for record in (old, new) if record is not None):
                verdicts.append((Verdict(key, name, "not comparable", rule=rule.text, reason=reason), rule))
            continue
        verdict = _compare_metric(
            key,
            rule,
            old,
            new,
            baseline.samples.get(key),
            current.samples.get(key),
            run_noise,
            (baseline.cpu_wait.get(key), current.cpu_wait.get(key)),
            (key in baseline.unusable, key in current.unusable),
        )
        if verdict is not None:
            verdicts.append((verdict, rule))
    if reason is None and suite_rules and not any(verdict.verdict != "not comparable" for verdict, _ in verdicts):
        result.uncompared.append(key)  # ok on both sides, yet no figure could be compared (e.g. samples lost)
    elif reason is None:
        # some figures compared, but a metric the baseline measured did not: the gate cannot vouch for it
        result.unguarded += [
            f"{key}: {verdict.metric} ({verdict.reason})"
            for verdict, _ in verdicts
            if verdict.verdict == "not comparable" and not verdict.reason.startswith(NEW_IN_CURRENT)
        ]
    return verdicts


def _decide_timed(timed: list[tuple[Verdict, Rule, float]], correction: str) -> None:
    """The timed verdicts, once every test of the gate is known: Holm's correction, then the rule and the noise."""
    raw_p = [v.p_value for v, _, _ in timed]
    adjusted = holm(raw_p) if correction == "holm" else raw_p
    for (verdict, rule, level), p_adjusted in zip(timed, adjusted, strict=True):
        verdict.p_adjusted = p_adjusted
        verdict.verdict = verdict_for(rule, verdict.change, p_adjusted < level, verdict.pairs, verdict.precision or 0)
        spread = verdict.between_spread
        if verdict.verdict == "inconclusive" and verdict.set_aside is not None:
            _decide_without_outlier(
                verdict, rule, level, p_adjusted, spread, family=len(timed) if correction == "holm" else 1
            )
        verdict.set_aside = None
        beyond = rule.worse(verdict.change) or rule.better_by(verdict.change)
        if beyond and verdict.verdict != "unchanged" and _within_spread(rule, verdict.change, verdict.baseline, spread):
            # independent windows of one run already moved this much: the change is within the run's own noise
            verdict.verdict = "unchanged"
            why = f"within the spread between measure.repeats windows ({spread:.1%})"
            verdict.reason = "; ".join(filter(None, [why, verdict.reason]))
            continue
        chance = f"beyond the rule but not significant (p={p_adjusted:.2g} >= {level:g})" if p_adjusted >= level else ""
        if verdict.verdict == "inconclusive":
            nearest = _nearest_end(rule, verdict.change, verdict.precision or 0.0)
            decided = rule.worse(nearest) if rule.worse(verdict.change) else rule.better_by(nearest)
            short = "" if decided else _inconclusive_reason(rule, verdict)  # its interval reaches inside the rule
            verdict.reason = "; ".join(filter(None, [chance, short, verdict.reason]))
        elif beyond and chance:  # the median of the run pairs is within the rule
            verdict.reason = "; ".join(filter(None, [chance, verdict.reason]))
        elif beyond and verdict.verdict == "unchanged":  # significant, but the replicated runs disagree
            changes = ", ".join(f"{rule.change(old, new):+{rule.form}}" for old, new in verdict.pairs)
            why = f"beyond the rule over the {len(verdict.pairs)} run pairs, but not in their median pair ({changes})"
            verdict.reason = "; ".join(filter(None, [why, verdict.reason]))


def _within_spread(rule: Rule, change: float, baseline: float | None, spread: float | None) -> bool:
    """Whether ``change`` lies within the relative ``spread`` between measure.repeats windows: an absolute rule's
    change (milliseconds) is taken relative to the baseline first."""
    if spread is None:
        return False
    if not rule.relative:
        if not baseline:
            return False
        change = change / abs(baseline)
    return abs(change) <= spread


def _decide_without_outlier(
    verdict: Verdict, rule: Rule, level: float, p_adjusted: float, spread: float | None = None, family: int = 1
) -> None:
    """An inconclusive verdict of N >= 3 run pairs, decided on the other pairs where :func:`set_aside_verdict`
    allows: the figures become theirs, and the reason names the pair set aside. Their test takes this test's
    Holm multiplier (the family of tests is unchanged). A change of the other pairs within the ``spread`` between
    measure.repeats windows decides nothing: :func:`_decide_timed` would call it "unchanged", which a set-aside may
    never conclude."""
    aside = verdict.set_aside()
    if aside is None or verdict.p_value is None:
        return
    others = aside.figures
    # this test's Holm multiplier; where its p-value underflowed to 0, the largest Holm may use (Bonferroni's)
    factor = p_adjusted / verdict.p_value if verdict.p_value > 0 else float(family)
    others_adjusted = min(1.0, (others.p_value or 0.0) * factor)
    significant = p_adjusted < level and others_adjusted < level
    decided = set_aside_verdict(rule, significant, aside, others.precision, aside.noise)
    if decided is None:
        return
    change = rule.change(others.baseline, others.current)
    if _within_spread(rule, change, others.baseline, spread):
        return
    verdict.p_value, verdict.p_adjusted = others.p_value, others_adjusted
    form = rule.form
    every = f"{verdict.change:+{form}}"
    outlier = f"{rule.change(*aside.pair):+{form}}"
    verdict.verdict = decided
    verdict.baseline, verdict.current, verdict.pairs = others.baseline, others.current, others.pairs
    verdict.change = change
    _set_precision(verdict, rule, others.precision)
    why = (
        f"run pair {aside.number} ({outlier}) set aside: it went the same way as the other {len(others.pairs)} "
        f"pairs, only further; they decide {verdict.change:+{form}} ± {verdict.precision:{form}} (95%) on their "
        f"own; all {len(others.pairs) + 1} pairs: {every}, inconclusive"
    )
    kept = [part for part in verdict.reason.split("; ") if part and not part.startswith(PAIRS_ALONE)]
    verdict.reason = "; ".join(dict.fromkeys(filter(None, [why, others.note, *kept])))


def _inconclusive_reason(rule: Rule, verdict: Verdict) -> str:
    """What the data would need to decide: the precision (the distance from the change to the rule, in the unit of
    the interval: a log-ratio for a relative rule) and a --rerun."""
    form = rule.form
    needed = _distance_to_rule(rule, verdict.change)
    text = f"cannot decide at the rule {rule.text}: {verdict.change:+{form}} ± {verdict.precision:{form}} (95%)"
    more = f"about --rerun {verdict.rerun_hint}" if verdict.rerun_hint else "longer latency windows, not more runs"
    return f"{text}; deciding needs ± {needed:{form}} or better: {more}"


def measure_settings(side: RunSide) -> dict[str, dict[str, Any]]:
    """Suite name -> the effective ``measure:`` settings its runs recorded (runs from before 0.2 recorded none)."""
    settings: dict[str, dict[str, Any]] = {}
    for meta in side.metas:
        for suite in meta.get("suites") or []:
            if isinstance(suite, dict) and isinstance(suite.get("measure"), dict):
                settings.setdefault(str(suite.get("name")), suite["measure"])
    return settings


def settings_differences(baseline: RunSide, current: RunSide) -> dict[str, list[str]]:
    """Suite name -> ``key: baseline -> current`` for every measure setting that differs between the two sides."""
    old_settings, new_settings = measure_settings(baseline), measure_settings(current)
    found: dict[str, list[str]] = {}
    for suite in sorted(set(old_settings) & set(new_settings)):
        old, new = old_settings[suite], new_settings[suite]
        differences = [
            f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)
        ]
        if differences:
            found[suite] = differences
    return found


def _lines(damaged: list[str]) -> str:
    """The first of ``damaged`` lines, and how many more."""
    return first_few(damaged, 1, rest="more damaged line(s)")


def _uncompared(key: str, reason: str, suite_rules, old, new, result) -> list[tuple[Verdict, Rule]]:
    """A case the gate vouches for in no metric: counted as uncompared (never "passed"), and every rule it has a
    figure for is *not comparable* with ``reason``."""
    result.uncompared.append(key)
    return [
        (Verdict(key, name, "not comparable", rule=rule.text, reason=reason), rule)
        for name, rule in suite_rules.items()
        if any(_present(record.get(name)) for record in (old, new) if record is not None)
    ]


def _measurement(row: Mapping[str, Any]) -> tuple[str, Any]:
    """What identifies one measurement of a case: its run id and its record's timestamp (NaN read as None)."""
    stamp = row.get("timestamp")
    return str(row.get("run_id") or ""), None if isinstance(stamp, float) and math.isnan(stamp) else stamp


def _shared_run(key: str, baseline: RunSide, current: RunSide) -> str | None:
    """The run whose measurement of ``key`` is on both sides (a baseline promoted from a run the current side pools),
    or None. One measurement is one run id *and* one record timestamp, so a ``--run-id`` reused on another machine
    or day is not taken for the same measurement; a record without a timestamp is matched by its run id alone."""
    for run, stamp in (baseline.measurements or {}).get(key, []):
        for other, other_stamp in (current.measurements or {}).get(key, []):
            if run and run == other and (stamp is None or other_stamp is None or stamp == other_stamp):
                return run
    return None


NEW_IN_CURRENT = "not measured in the baseline"
"""A figure only the current run has (a pass the baseline did not run): nothing was guarded, nothing is lost."""


def _not_comparable_reason(old: dict[str, Any] | None, new: dict[str, Any]) -> str | None:
    if old is None:
        return "new case: not in the baseline"
    for side, record in (("baseline", old), ("current run", new)):
        if record.get("status") != "ok":
            return f"{record.get('status')} in the {side}: {record.get('error') or 'no reason recorded'}"
    return None


def _compare_metric(
    key: str,
    rule: Rule,
    old: dict[str, Any],
    new: dict[str, Any],
    old_samples: Sequence[Sequence[float]] | None,
    new_samples: Sequence[Sequence[float]] | None,
    run_noise: float | RunNoise = RUN_NOISE,
    cpu_wait: tuple[list[float | None] | None, list[float | None] | None] = (None, None),
    unusable: tuple[bool, bool] = (False, False),
) -> Verdict | None:
    metric = METRICS[rule.metric]
    verdict = Verdict(key, rule.metric, "not comparable", rule=rule.text, relative=rule.relative)
    if metric.kind == SAMPLED:
        measured = (_present(old.get(rule.metric)), _present(new.get(rule.metric)))
        have = (_has_runs(old_samples), _has_runs(new_samples))
        if not any(have) and not any(measured):
            return None  # neither run timed it (a load-only case)
        if not all(have):
            verdict.reason = _no_samples_reason(have, measured, unusable)
            return verdict
        old_samples, new_samples, busy_note, busy = quiet_runs(old_samples, new_samples, cpu_wait)
        if busy:
            verdict.reason = busy
            return verdict
        figures = timed_figures(rule.metric, old_samples, new_samples, int(new.get("batch_size") or 1), run_noise)
        if figures.reason:
            verdict.reason = figures.reason
            return verdict
        verdict.baseline, verdict.current, verdict.p_value = figures.baseline, figures.current, figures.p_value
        verdict.change = rule.change(verdict.baseline, verdict.current)
        verdict.reason = "; ".join(note for note in (figures.note, busy_note) if note)
        verdict.pairs = figures.pairs
        verdict.set_aside = figures.set_aside if as_run_noise(run_noise).dof else None  # needs a calibration
        _set_precision(verdict, rule, figures.precision)
        spreads = [r.get("latency_between_spread") for r in (old, new) if _present(r.get("latency_between_spread"))]
        verdict.between_spread = max(spreads) if spreads else None
        verdict.verdict = "unchanged"  # decided after the correction over all timed comparisons
        return verdict
    old_value, new_value = old.get(rule.metric), new.get(rule.metric)
    if not _present(old_value) and not _present(new_value):
        return None
    if not _present(old_value) or not _present(new_value):
        verdict.reason = NEW_IN_CURRENT if not _present(old_value) else "not measured in the current run"
        return verdict
    verdict.baseline, verdict.current = float(old_value), float(new_value)
    verdict.change = rule.change(verdict.baseline, verdict.current)
    verdict.verdict = verdict_for(rule, verdict.change)
    bounds = (lower_bound(old, rule.metric), lower_bound(new, rule.metric))
    if any(bounds):
        _judge_bounds(verdict, rule, *bounds)
    elif below_peak := _below_bound_peak(old, new, rule.metric):
        verdict.verdict, verdict.reason = "not comparable", below_peak
    return verdict


def _has_runs(runs: Sequence[Sequence[float]] | None) -> bool:
    """Whether a side has raw samples of a case: one run or more (each a list or an array; by ``len``, never by
    truth, which an array of several samples does not have)."""
    return runs is not None and len(runs) > 0


def _no_samples_reason(samples: tuple[bool, bool], figures: tuple[bool, bool], unusable: tuple[bool, bool]) -> str:
    """Why a timed figure was not compared: a side without its raw samples (each flag: baseline, current run) had no
    such figure (:data:`NEW_IN_CURRENT`: nothing was guarded), had samples that were not its record's, or had none."""
    if not samples[0] and not figures[0]:
        return NEW_IN_CURRENT
    if not samples[1] and not figures[1]:
        return "not measured in the current run"
    if not any(samples) and not any(unusable):
        return "no raw samples in either run"
    said = [
        f"the {side}'s raw samples are not its record's (another count or median, see the warning): not used"
        if bad
        else f"no raw samples in the {side}"
        for side, have, bad in zip(("baseline", "current run"), samples, unusable, strict=True)
        if not have
    ]
    return "; ".join(said)


LOWER_BOUNDS = {"server_max_qps": "extra.server_peak_note"}
"""Metric -> the record key whose presence marks the record's figure as only a lower bound: a LoadGen Server search
cut short by ``load.max_time_s``, ``search.max_runs`` or the highest rate a run may be given (``the peak is at
least this``)."""


def lower_bound(record: Mapping[str, Any], metric: str) -> str | None:
    """Why ``record``'s ``metric`` is only a lower bound (its note), or ``None`` when it is a measured figure."""
    key = LOWER_BOUNDS.get(metric)
    note = record.get(key) if key else None
    return str(note) if _present(note) and str(note).strip() else None


AT_RATE = {"server_p50_ms": "server_max_qps", "server_p90_ms": "server_max_qps", "server_p99_ms": "server_max_qps"}
"""Metric -> the rate it was measured at: the Server latencies are those of the run at the Server peak."""


def _below_bound_peak(old: Mapping[str, Any], new: Mapping[str, Any], metric: str) -> str | None:
    """Why a latency under load cannot be compared, or ``None``: when a side's Server search was cut short, its
    latencies were measured at a rate below its true peak, so unless both sides ran at the same rate the two
    figures describe different loads (a rate cap on both sides is the same rate: compared)."""
    rate = AT_RATE.get(metric)
    notes = [(side, lower_bound(record, rate)) for side, record in (("baseline", old), ("current run", new))]
    if rate is None or not any(note for _, note in notes):
        return None
    old_rate, new_rate = old.get(rate), new.get(rate)
    if _present(old_rate) and _present(new_rate) and math.isclose(float(old_rate), float(new_rate), rel_tol=1e-9):
        return None
    sides = "; ".join(f"the {side}'s {rate} is only a lower bound ({note})" for side, note in notes if note)
    return (
        f"{sides}: its {metric} was measured below the true peak, so the two sides' {metric} are latencies at "
        f"different loads ({_rate(old_rate)} and {_rate(new_rate)} QPS): not compared"
    )


def _rate(value: Any) -> str:
    return f"{float(value):.4g}" if _present(value) else "no"


def _judge_bounds(verdict: Verdict, rule: Rule, old_bound: str | None, new_bound: str | None) -> None:
    """The verdict of a figure that is only a lower bound on one side or both. The true change lies in an interval
    (a higher true current figure can only raise it, a higher true baseline only lower it): when the whole interval
    is beyond the rule the bound is decisive (``regressed``), when none of it is the rule holds whatever the true
    figures (``unchanged``, or ``improved`` when all of it is beyond the rule in the good direction); otherwise the
    gate cannot decide and the metric is ``not comparable``, naming the side and why its figure is a bound."""
    change = verdict.change
    low = change if old_bound is None else (-1.0 if rule.relative else -math.inf)
    high = change if new_bound is None else math.inf
    verdict.bound = "unknown" if old_bound and new_bound else ("at least" if new_bound else "at most")
    sides = [
        f"the {side}'s {rule.metric} is only a lower bound ({note})"
        for side, note in (("baseline", old_bound), ("current run", new_bound))
        if note
    ]
    shown = f"{change:+{rule.form}}"
    extent = "the change could be anything" if verdict.bound == "unknown" else f"the change is {verdict.bound} {shown}"
    if rule.worse(low) and rule.worse(high):
        verdict.verdict = "regressed"
        decided = f"beyond the rule {rule.text} whatever the true figure"
    elif not rule.worse(low) and not rule.worse(high):
        verdict.verdict = "improved" if rule.better_by(low) and rule.better_by(high) else "unchanged"
        decided = f"so the rule {rule.text} holds whatever the true figure"
    else:
        verdict.verdict = "not comparable"
        decided = f"which cannot decide the rule {rule.text}: not compared"
    verdict.reason = f"{'; '.join(sides)}: {extent}, {decided}"


def _set_precision(verdict: Verdict, rule: Rule, precision: Precision | None) -> None:
    """The comparison's precision in the rule's unit, and the --rerun that would decide a change beyond the rule."""
    if precision is None:
        return
    scale = 1.0 if rule.relative else abs(verdict.baseline or 0.0)
    verdict.precision = precision.half_width * scale
    needed = _distance_to_rule(rule, verdict.change) / scale if scale else 0.0
    verdict.rerun_hint = precision.reruns_for(needed) if needed > 0 else None


def gate_runs(
    baseline_runs: Sequence[str | Path],
    current_runs: Sequence[str | Path],
    results_dir: str | Path | None = None,
    **options: Any,
) -> GateResult:
    """Load both sides and compare them (see :func:`compare` for the options). A run on both sides is refused: compared
    with itself, every case would read "unchanged" and the gate would pass having guarded nothing."""
    from bench import results as store

    baseline_paths = {store.resolve_run(run, results_dir).resolve() for run in baseline_runs}
    for run in current_runs:
        path = store.resolve_run(run, results_dir)
        if path.resolve() in baseline_paths:
            raise GateError(
                f"run {path} is both the baseline and the current run: compared with itself it would pass whatever "
                "it measured; give another --baseline or --current"
            )
    return compare(load_side(baseline_runs, results_dir), load_side(current_runs, results_dir), **options)

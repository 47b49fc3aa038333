"""Gate rules: how far each metric may move in its bad direction, parsed from a suite's ``gates:`` section."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bench import checks, metrics
from bench.errors import BenchError, SuiteError, did_you_mean
from bench.gate.stats import RunNoise
from bench.metrics import LOWER, Metric

DEFAULT_ALPHA = 0.01

METRICS: dict[str, Metric] = metrics.gated()
"""The metrics the gate judges, from the one metric table (:mod:`bench.metrics`): direction, kind, default rule."""
OPTIONS = ("alpha", "run_noise", "run_noise_runs")
"""Non-metric keys of ``gates:``: ``alpha`` overrides :data:`DEFAULT_ALPHA` for the suite; ``run_noise`` (e.g.
``"2%"``) is one run's relative standard deviation between runs on the gating machine, and ``run_noise_runs`` how many
runs ``bench calibrate`` measured it over (:func:`run_noise_for`)."""
VERDICTS = ("regressed", "improved", "inconclusive", "unchanged", "not comparable")
ENV_KEYS = ("cpu_model", "gpu_name", "torch_version", "threads")

_RULE = re.compile(r"^\s*([+-])\s*(\d+(?:\.\d*)?|\.\d+)(?:[eE]([+-]?\d+))?\s*(%?)\s*$")


class GateError(BenchError):
    """A usage error of the gate (nothing comparable, no baseline, bad option): exit code 2."""


# ------------------------------------------------------------------------------------------------ rules


@dataclass(frozen=True)
class Rule:
    """How far a metric may move in its bad direction: ``+5%`` (relative) or ``-0.005`` (absolute)."""

    metric: str
    limit: float
    relative: bool

    @property
    def better(self) -> str:
        return METRICS[self.metric].better

    @property
    def text(self) -> str:
        sign = "+" if self.better == LOWER else "-"
        return f"{sign}{self.limit * 100:g}%" if self.relative else f"{sign}{self.limit:g}"

    @property
    def form(self) -> str:
        """The format a change (or a precision) in this rule's unit is shown with: ``.1%`` relative, ``.4g``
        absolute (``f"{change:+{rule.form}}"``)."""
        return ".1%" if self.relative else ".4g"

    def change(self, baseline: float, current: float) -> float:
        """Relative (``current / baseline - 1``) or absolute (``current - baseline``) change."""
        if not self.relative:
            return current - baseline
        if baseline == 0:
            return 0.0 if current == 0 else math.copysign(math.inf, current)
        return current / baseline - 1.0

    def worse(self, change: float) -> bool:
        """The change goes beyond the limit in the bad direction."""
        return change > self.limit if self.better == LOWER else change < -self.limit

    def better_by(self, change: float) -> bool:
        """The change goes beyond the limit in the good direction."""
        return change < -self.limit if self.better == LOWER else change > self.limit


def _allowed_forms(metric: Metric) -> str:
    sign, word = ("+", "grow") if metric.better == LOWER else ("-", "drop")
    unit = metrics.shown_unit(metric.name)  # a money metric's currency is its suite's: no unit rather than a wrong one
    unit = f" {unit}" if unit else ""
    return (
        f"{metric.name} is {metric.better}-is-better, so its rule says how much it may {word}: "
        f"'{sign}N%' (relative, e.g. '{sign}5%'), '{sign}X' (absolute{unit}, e.g. '{sign}0.5'), or 'off'"
    )


def parse_rule(metric_name: str, raw: Any, where: str = "gates") -> Rule | None:
    """Parse one rule; ``None`` means the metric is not gated. Raises :class:`SuiteError` naming the key."""
    key = f"{where}.{metric_name}"
    if metric_name not in METRICS:
        allowed = ", ".join([*METRICS, *OPTIONS])
        raise SuiteError(None, key, f"unknown metric.{did_you_mean(metric_name, METRICS)} Allowed: {allowed}")
    metric = METRICS[metric_name]
    if raw is None or raw is False or (isinstance(raw, str) and raw.strip().lower() == "off"):
        return None
    if isinstance(raw, bool):
        raise SuiteError(None, key, f"got {raw!r}; {_allowed_forms(metric)}")
    if isinstance(raw, (int, float)):
        text = f"{raw:+}"
    elif isinstance(raw, str):
        text = raw
    else:
        raise SuiteError(None, key, f"got a {type(raw).__name__}; {_allowed_forms(metric)}")
    match = _RULE.match(text)
    if not match:
        raise SuiteError(None, key, f"cannot read {raw!r}; {_allowed_forms(metric)}")
    sign, number, exponent, percent = match.groups()
    limit = float(number + (f"e{exponent}" if exponent else ""))
    if not math.isfinite(limit):  # '+1e999%': a limit no change exceeds would switch the gate off unannounced
        raise SuiteError(None, key, f"{checks.short(raw)} is not a finite limit; {_allowed_forms(metric)}")
    wanted = "+" if metric.better == LOWER else "-"
    if sign != wanted and limit != 0:
        raise SuiteError(None, key, f"{raw!r} has the wrong sign; {_allowed_forms(metric)}")
    return Rule(metric_name, limit / 100.0 if percent else limit, relative=bool(percent))


def validate_gates(value: Any, where: str = "gates") -> dict[str, Any]:
    """Validate a suite's ``gates:`` section (called by bench.suite); returns it as given, JSON-ready."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SuiteError(
            None, where, f"must be a mapping of metric to rule, e.g. {{latency_p50_ms: '+5%'}}; got {value!r}"
        )
    for name, raw in value.items():
        if name == "alpha":
            checks.probability(raw, f"{where}.alpha")
        elif name in ("run_noise", "run_noise_runs"):
            run_noise_for(value, where)
        else:
            parse_rule(str(name), raw, where)
    return {str(k): v for k, v in value.items()}


def rules_for(section: Mapping[str, Any] | None) -> tuple[dict[str, Rule], float]:
    """The effective rules of a suite: the defaults of :data:`METRICS`, overridden by its ``gates:`` section."""
    section = dict(section or {})
    section.pop("run_noise", None)  # not metrics: see run_noise_for
    section.pop("run_noise_runs", None)
    alpha = checks.probability(section.pop("alpha"), "gates.alpha") if "alpha" in section else DEFAULT_ALPHA
    raw = {name: metric.default_rule for name, metric in METRICS.items()} | section
    rules = {name: parse_rule(name, value) for name, value in raw.items()}
    return {name: rule for name, rule in rules.items() if rule is not None}, alpha


RUN_NOISE_RANGE = "must be a fraction in [0, 1) or a percentage below 100% (e.g. 0.04 or 4%)"
"""What ``gates.run_noise`` and ``bench gate --run-noise`` accept, said the same way by both."""


def parse_run_noise(raw: Any) -> float:
    """One run's relative standard deviation between runs, ``0.04`` or ``"4%"``, as a fraction in [0, 1).

    1 (100%) is refused with the rest: a run-to-run deviation that large leaves one run a side unable to decide
    anything, and ``run_noise: 1`` is far more likely 1% mistyped. Raises ValueError with :data:`RUN_NOISE_RANGE`."""
    value: Any = math.nan
    if isinstance(raw, str):
        text = raw.strip()
        percent = text.endswith("%")
        try:
            value = float(text[:-1] if percent else text) / (100.0 if percent else 1.0)
        except ValueError:
            value = math.nan
    elif isinstance(raw, (int, float)) and not isinstance(raw, bool):
        value = raw
    if not 0.0 <= value < 1.0:  # NaN and infinities fail too
        shown = raw if isinstance(raw, str) and len(raw) <= 60 and raw.isprintable() else checks.short(raw)
        raise ValueError(f"{RUN_NOISE_RANGE}, got {shown}")
    return float(value)


def run_noise_for(section: Mapping[str, Any] | None, where: str = "gates") -> RunNoise | None:
    """A suite's ``gates.run_noise`` as a fraction (``"2%"`` or ``0.02``, see :func:`parse_run_noise`) with the
    ``gates.run_noise_runs`` it was measured over (see :class:`bench.gate.stats.RunNoise`), or None when it sets no
    run noise."""
    section = section or {}
    raw, runs = section.get("run_noise"), section.get("run_noise_runs")
    if runs is not None:
        runs = parse_run_noise_runs(runs, f"{where}.run_noise_runs")
        if raw is None:
            raise SuiteError(None, f"{where}.run_noise_runs", "needs gates.run_noise: the runs it was measured over")
    if raw is None:
        return None
    try:
        return RunNoise(parse_run_noise(raw), runs)
    except ValueError as err:
        raise SuiteError(None, f"{where}.run_noise", str(err)) from None


RUN_NOISE_RUNS_RANGE = "must be a whole number of runs, at least 2 (what bench calibrate reports)"
"""What ``gates.run_noise_runs`` and ``bench gate --run-noise-runs`` accept."""


def parse_run_noise_runs(raw: Any, key: str = "gates.run_noise_runs") -> int:
    """The number of runs a run noise was measured over: an integer >= 2 (one run has no run-to-run spread)."""
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 2 or raw > 1_000_000:
        raise SuiteError(None, key, f"{RUN_NOISE_RUNS_RANGE}, got {checks.short(raw)}")
    return raw

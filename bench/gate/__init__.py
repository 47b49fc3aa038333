"""Regression gate: compare two runs case by case and decide improved / regressed / unchanged / not comparable.

* Timed metrics (latency percentiles, throughput) need **both** a significant two-sample test on the raw samples
  (Mann-Whitney U, two-sided, level ``alpha`` after a Holm correction over all timed comparisons of one gate)
  **and** an effect beyond the metric's rule. Either alone is not enough: with thousands of samples a 0.5% shift
  is "significant", and a 20% shift on 5 noisy samples may be chance.
* Before that, each side's samples are cut into blocks of consecutive calls and blocks slowed by a burst of
  interference (median > 10% above the side's fastest block) are dropped; a side with more than 70% of its blocks
  disturbed is not comparable. A slowdown of the code slows every block, so it is never dropped.
* Deterministic metrics (size, accuracy) and single-reading metrics (peak memory, energy) use the rule alone.
* Runs on different environments (CPU model, GPU of a GPU case, torch version, the case's thread count) are not
  comparable unless forced; a forced comparison is shown as such in the summary.

Rules live in a suite's ``gates:`` section, e.g. ``gates: {latency_p50_ms: "+5%", accuracy: "-0.005"}``: the sign
is the bad direction, ``%`` makes the limit relative, no ``%`` makes it absolute in the metric's unit.
See docs/gates.md.

Modules: :mod:`~bench.gate.rules` (parse and validate rules), :mod:`~bench.gate.stats` (the sample statistic, the
test, the correction, disturbed blocks), :mod:`~bench.gate.compare` (two runs, case by case),
:mod:`~bench.gate.summary` (Markdown and JSON), :mod:`~bench.gate.history` (baselines and trends),
:mod:`~bench.gate.rerun` (interleaved replicated runs) and :mod:`~bench.gate.calibrate` (false-alarm and
detection rates on this machine).
"""

from bench.gate.compare import (
    NOT_COMPARED,
    GateResult,
    RunSide,
    Verdict,
    compare,
    environment_differences,
    gate_runs,
    load_side,
    verdict_for,
)
from bench.gate.rules import (
    DEFAULT_ALPHA,
    ENV_KEYS,
    METRICS,
    OPTIONS,
    VERDICTS,
    GateError,
    Rule,
    parse_rule,
    rules_for,
    validate_gates,
)
from bench.gate.stats import (
    BLOCKS_PER_RUN,
    DISTURBED_RATIO,
    MAX_DISTURBED_SHARE,
    MIN_SAMPLES,
    RunNoise,
    Runs,
    TimedFigures,
    Undisturbed,
    holm,
    mann_whitney_p,
    sample_statistic,
    timed_figures,
    undisturbed,
)
from bench.gate.summary import render_markdown, write_outputs

__all__ = [
    "BLOCKS_PER_RUN",
    "DEFAULT_ALPHA",
    "DISTURBED_RATIO",
    "ENV_KEYS",
    "MAX_DISTURBED_SHARE",
    "METRICS",
    "MIN_SAMPLES",
    "NOT_COMPARED",
    "OPTIONS",
    "VERDICTS",
    "GateError",
    "GateResult",
    "Rule",
    "RunNoise",
    "RunSide",
    "Runs",
    "TimedFigures",
    "Undisturbed",
    "Verdict",
    "compare",
    "environment_differences",
    "gate_runs",
    "holm",
    "load_side",
    "mann_whitney_p",
    "parse_rule",
    "render_markdown",
    "rules_for",
    "sample_statistic",
    "timed_figures",
    "undisturbed",
    "validate_gates",
    "verdict_for",
    "write_outputs",
]

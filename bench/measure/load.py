"""The load pass: MLPerf LoadGen's SingleStream, Offline and Server scenarios against the case's callable.

A suite opts in with a ``load:`` section (validated by :func:`validate_load`); without one nothing here runs.

**Server peak search.** The peak is the highest Poisson arrival rate whose LoadGen run meets the p99 SLO. It is found
by a bisection over short LoadGen ``PerformanceOnly`` runs, not by LoadGen's ``FindPeakPerformance`` mode, because
every rate tried must be a point of the load curve (p50/p90/p99 and the verdict per offered rate, which
FindPeakPerformance keeps to itself), the search must stop at a relative precision within a bounded number of runs
(FindPeakPerformance bisects to an absolute 10^-d QPS and needs a lower bound known to pass), and every run stays a
plain performance run whose logs read the same whatever the rate. A rate passes on the criterion
FindPeakPerformance uses, LoadGen's performance constraint (the run's p99 ≤ the SLO), and only if the run was not
cut short (min duration and min query count met). ``server_validity`` is LoadGen's full verdict at the peak, which
also asks for early stopping: with a 1% tail and 99% confidence LoadGen wants at least ~460 queries under the SLO,
so short runs at low rates can meet the SLO and still be INVALID (the reason is recorded).

The search: start at half the rate estimated from the warm-up calls (or the Offline throughput), halve until a rate
passes (giving up below 1/16 of the start, where the server is nearly idle and a p99 over the SLO is the model's
own latency tail, or below the rate at which ``min_queries`` take 8 × ``min_duration_s`` to issue), double until one
fails, then bisect (geometric midpoints) until ``upper / lower ≤ 1 + precision`` or
``max_runs`` runs were made. A Server run whose backlog exceeds ``20 × capacity × SLO`` queries (capacity: the
requests/s the warm-up calls suggest; at least 64) is cut short by LoadGen (``server_max_async_queries``): the last
of them would wait about 20 SLOs, so the rate cannot meet the SLO, and the drain after a rate far beyond capacity
stays about 20 SLOs long.

**LoadGen's errors.** A run in which LoadGen logged an error is ``INVALID`` whatever LoadGen's own verdict
(:func:`bench.measure.sut.read_logs`). When a run whose figures are recorded (SingleStream, Offline, the Server peak)
has one, ``extra.loadgen_errors`` names the first error per scenario and a :class:`LoadWarning` says so. The Server
search's failed rates (an overloaded run cut short by ``server_max_async_queries`` is logged as an error) keep theirs
on their point of ``extra.load_curve``. LoadGen's warnings change no verdict and raise no warning of their own (nearly
every run logs ``Logging allocation detected``): ``extra.loadgen_warning_count`` and ``extra.loadgen_warnings``
record them for the recorded runs, and the errors' warning line counts them.

**The time bound.** The whole pass of one case takes at most ``max_time_s`` (default: :meth:`LoadSpec.time_limit_s`).
No run starts with less than ``min_duration_s`` left, and every run is given LoadGen's ``max_duration_ms`` = the time
left, so LoadGen stops issuing queries when it runs out. Only the queries already issued finish after that: the
Server backlog (at most ``server_max_async_queries``, about 20 SLOs), one SingleStream query, or the one Offline
query (LoadGen issues all its samples at once; an Offline run whose query would outlast the time left is not started,
:meth:`Runner.offline_outlasts`). What was measured before is kept, and ``extra.load_time_limit`` and
a :class:`LoadWarning` say where the pass stopped; a Server peak from a search cut short is a lower bound
(``extra.server_peak_note``).

**A search cut short.** ``extra.server_search_cut`` names what ended the Server search before it was done
(:data:`SEARCH_CUTS`: ``load.max_time_s``, ``search.max_runs``, or the ``rate cap``): a peak found then is only a
lower bound (``extra.server_peak_note``, which the gate and the capacity plan read), and no rate passing then proves
nothing about the SLO (the reason says so). A search is done when a failing rate lies at most ``1 + precision`` above
its peak, or when no rate passed down to its floor.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import re
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench import checks
from bench.errors import BenchWarning, NotApplicable, SuiteError, outcome_of
from bench.measure import PassResult, one_line
from bench.measure.sut import SCENARIOS, BatchingSUT, CallFor, LoadgenRun, loadgen

LOAD_KEYS = ("scenarios", "slo", "batching", "min_duration_s", "min_queries", "max_time_s", "search")
SEARCH_KEYS = ("precision", "max_runs", "start_qps")
BACKLOG_SLO_FACTOR = 20
SUT_COST_S = 10e-6
"""What the SUT adds per request, roughly (queue, worker wake-up, completion): only sizes LoadGen's pre-generation."""
RUN_ALLOWANCE = 10
"""The default ``max_time_s`` allows each run the pass may make this many times its length (see
:meth:`LoadSpec.time_limit_s`)."""
MAX_TIME_S = 7 * 24 * 3600
"""Longest load pass of one case (a week), explicit or derived."""


class LoadWarning(BenchWarning):
    """The load pass recorded something LoadGen did not vouch for: LoadGen logged errors in a run whose figures are
    recorded, or the pass stopped at ``load.max_time_s``."""


class TimeLimit(Exception):
    """No time is left in ``load.max_time_s`` for another LoadGen run (raised before it starts)."""


@dataclass(frozen=True)
class LoadSpec:
    """The ``load:`` section with its defaults (every field documented in docs/load.md)."""

    scenarios: tuple[str, ...] = ("single-stream", "server", "offline")
    slo_p99_ms: float = 100.0
    """Server: the p99 latency (ms) the peak rate must meet (LoadGen's default target is 100 ms)."""
    max_batch: int = 1
    """Dynamic batching: the most requests one call serves (1 = off)."""
    max_wait_ms: float = 0.0
    """Dynamic batching: how long the worker waits after a batch's first request for more (Server only)."""
    min_duration_s: float = 2.0
    """LoadGen's min_duration for every run (each Server search step is one run)."""
    min_queries: int = 100
    """LoadGen's min_query_count (Offline: its minimum sample count)."""
    precision: float = 0.05
    max_runs: int = 12
    start_qps: float | None = None
    max_time_s: float | None = None
    """The longest the whole load pass of one case may take; ``None``: :meth:`time_limit_s` derives it."""

    def time_limit_s(self, call_s: float | None = None) -> float:
        """``max_time_s``, or by default :data:`RUN_ALLOWANCE` × a run's length for every run the pass may make
        (two for SingleStream and for Offline, which retry a run too short once; ``max_runs`` for the Server
        search), at most :data:`MAX_TIME_S`. A run lasts ``min_duration_s``, or longer when ``min_queries`` calls
        of ``call_s`` (one request's call, measured in the warm-up) take longer: a model at 0.5 s a call needs
        50 s for a SingleStream run of 100 queries, and its search would otherwise be cut after a run or two."""
        if self.max_time_s is not None:
            return self.max_time_s
        runs = 2 * sum(name != "server" for name in self.scenarios) + self.max_runs * ("server" in self.scenarios)
        run_s = max(self.min_duration_s, self.min_queries * (call_s or 0.0))
        return min(MAX_TIME_S, RUN_ALLOWANCE * run_s * runs)

    @classmethod
    def from_section(cls, section: dict[str, Any]) -> LoadSpec:
        """A spec from a section :func:`validate_load` returned."""
        slo, batching, search = section["slo"], section["batching"], section["search"]
        return cls(
            scenarios=tuple(section["scenarios"]),
            slo_p99_ms=slo["p99_ms"],
            max_batch=batching["max_batch"],
            max_wait_ms=batching["max_wait_ms"],
            min_duration_s=section["min_duration_s"],
            min_queries=section["min_queries"],
            precision=search["precision"],
            max_runs=search["max_runs"],
            start_qps=search.get("start_qps"),
            max_time_s=section.get("max_time_s"),
        )


MAX_DURATION_S = 3600
"""Longest LoadGen run a suite may ask for (``min_duration_s``), as for a ``measure:`` pass."""
MAX_MS = 3_600_000
"""Largest SLO or batching wait in milliseconds (an hour)."""
MIN_SLO_MS = 0.001
"""Smallest Server SLO (``slo.p99_ms``), a microsecond: LoadGen takes the target as whole nanoseconds, so a smaller
one was truncated towards 0 ns (``1e-7`` ms ran every Server run against a target of 0) while the record kept the
value written, and no system under test answers within it (bench's own adds tens of microseconds)."""
MAX_QUERIES = 2_000_000
"""Most queries one LoadGen run may hold: LoadGen generates a run's whole schedule before it starts and keeps every
query (300-550 bytes each) until the end, so ``min_queries`` and every run's rate × ``min_duration_s`` stay below
this (about 1 GiB); ten times more made it abort the whole process (``std::bad_alloc``, then a segmentation fault)."""
MAX_BATCH = 65_536
MAX_RUNS = 1000
MAX_QPS = 1_000_000_000


MAX_SLO_SHARE = 0.1
"""Longest Server SLO (``slo.p99_ms``) as a share of ``min_duration_s``. A run offered more than the system can
serve builds a backlog that it drains after its last query; while that drain fits in the SLO the run passes, so
the peak found reads up to ``1 + SLO / duration`` times too high (10% at this bound; the shipped suites are at
1-5%)."""


def slo_too_long(
    slo_ms: float,
    duration_s: float,
    duration: str = "min_duration_s",
    slo: str = "the SLO",
    peak: str = "server_max_qps",
) -> str | None:
    """Why a Server SLO of ``slo_ms`` cannot be measured with runs of ``duration_s`` (it is more than
    :data:`MAX_SLO_SHARE` of them), or ``None`` when it can: the one rule for a suite's ``load:`` section and for
    ``bench load-overhead``. ``duration``, ``slo`` and ``peak`` name the settings and the figure in the text
    (``min_duration_s``, the SLO and ``server_max_qps`` in a suite; ``--seconds``, ``--slo-ms`` and the peak for
    ``bench load-overhead``), which reads after the SLO's own value: ``more than 10% of min_duration_s 2 s: ...``."""
    slo_s = slo_ms / 1000
    if slo_s <= MAX_SLO_SHARE * duration_s:
        return None
    return (
        f"more than {MAX_SLO_SHARE:.0%} of {duration} {duration_s:g} s: a Server run offered more than the system can "
        f"serve drains its backlog within the SLO and passes, so {peak} would read up to {1 + slo_s / duration_s:.3g}x "
        f"too high; raise {duration} to at least {slo_s / MAX_SLO_SHARE:.4g} s or lower {slo}"
    )


def wait_problem(
    max_batch: int,
    wait_ms: float,
    slo_ms: float | None,
    batch: str = "max_batch",
    wait: str = "max_wait_ms",
    slo: str = "slo.p99_ms",
) -> str | None:
    """Why a batching wait of ``wait_ms`` cannot be measured with ``max_batch`` and a Server SLO of ``slo_ms``
    (``None`` where no Server run is made), or ``None`` when it can: the one rule for a suite's ``load.batching`` and
    for ``bench load-overhead``. A wait with ``max_batch`` 1 is never used (batching off); one not below the SLO makes
    every batch that does not fill miss it. ``batch``, ``wait`` and ``slo`` name the settings in the text (as in a
    suite, or ``--max-batch``, ``--max-wait-ms`` and ``--slo-ms``), which reads after the wait's own value:
    ``2 ms is not used with max_batch 1 ...``, ``--max-wait-ms 2: not used with --max-batch 1 ...``."""
    if max_batch == 1 and wait_ms > 0:
        return f"not used with {batch} 1 (batching off); leave {wait} out or raise {batch}"
    if slo_ms is not None and 0 < wait_ms >= slo_ms:
        return (
            f"not below {slo} {slo_ms:g} ms: a batch that does not fill waits it out, so its every query misses the "
            f"SLO, and so does the p99 at any rate too low to fill batches; lower {wait} or raise {slo}"
        )
    return None


def slowest_rate(min_queries: int, min_duration_s: float) -> float:
    """The lowest Server rate the search tries: below it, issuing ``min_queries`` (which LoadGen waits for however
    long it takes) would take more than 8 x ``min_duration_s``."""
    return min_queries / (8 * min_duration_s)


def fastest_rate(min_duration_s: float) -> float:
    """The highest rate any run is given: LoadGen pre-generates rate × ``min_duration_s`` queries, at most
    :data:`MAX_QUERIES`."""
    return MAX_QUERIES / min_duration_s


def _integer(value: Any, key: str, minimum: int, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise SuiteError(None, key, f"must be an integer >= {minimum}, got {checks.short(value)}")
    if value > maximum:
        raise SuiteError(None, key, f"must be an integer <= {maximum}, got {checks.short(value)}")
    return value


def _whole_milliseconds(seconds: float, key: str) -> None:
    """Refuse a duration LoadGen cannot take as written: it counts whole milliseconds (``min_duration_ms``), so
    0.0015 s ran 2 ms while the record and meta.json kept 0.0015, and every rate bound derived from it (the
    search's floor and cap, the time limit) was reckoned for a run LoadGen never made."""
    milliseconds = seconds * 1000
    if not math.isclose(milliseconds, round(milliseconds), rel_tol=1e-9, abs_tol=1e-9):
        raise SuiteError(
            None,
            key,
            f"must be a whole number of milliseconds (LoadGen counts milliseconds), got {seconds:g} s; "
            f"write {round(milliseconds) / 1000:g} or another multiple of 0.001",
        )


def validate_load(value: Any, where: str = "load") -> dict[str, Any]:
    """Check a ``load:`` section and return it with every default filled in."""
    default = LoadSpec()
    section = checks.mapping(value, where, LOAD_KEYS)
    scenarios = section.get("scenarios", list(default.scenarios))
    if isinstance(scenarios, str):
        scenarios = [scenarios]
    if not isinstance(scenarios, list) or not scenarios:
        raise SuiteError(None, f"{where}.scenarios", f"must be a non-empty list of {', '.join(SCENARIOS)}")
    for i, name in enumerate(scenarios):
        checks.choice(name, f"{where}.scenarios[{i}]", SCENARIOS, "scenario")
        if scenarios.index(name) != i:
            raise SuiteError(None, f"{where}.scenarios[{i}]", f"{name!r} is listed twice")
    slo = checks.mapping(section.get("slo", {}), f"{where}.slo", ("p99_ms",))
    batching = checks.mapping(section.get("batching", {}), f"{where}.batching", ("max_batch", "max_wait_ms"))
    search = checks.mapping(section.get("search", {}), f"{where}.search", SEARCH_KEYS)
    out = {
        "scenarios": list(scenarios),
        "slo": {
            "p99_ms": checks.number(
                slo.get("p99_ms", default.slo_p99_ms), f"{where}.slo.p99_ms", minimum=MIN_SLO_MS, maximum=MAX_MS
            )
        },
        "batching": {
            "max_batch": _integer(
                batching.get("max_batch", default.max_batch), f"{where}.batching.max_batch", 1, MAX_BATCH
            ),
            "max_wait_ms": checks.number(
                batching.get("max_wait_ms", default.max_wait_ms), f"{where}.batching.max_wait_ms", maximum=MAX_MS
            ),
        },
        "min_duration_s": checks.number(
            section.get("min_duration_s", default.min_duration_s),
            f"{where}.min_duration_s",
            minimum=0.001,  # LoadGen counts milliseconds
            maximum=MAX_DURATION_S,
        ),
        "min_queries": _integer(
            section.get("min_queries", default.min_queries), f"{where}.min_queries", 1, MAX_QUERIES
        ),
        "search": {
            "precision": checks.number(
                search.get("precision", default.precision), f"{where}.search.precision", strict=True, maximum=1.0
            ),
            "max_runs": _integer(search.get("max_runs", default.max_runs), f"{where}.search.max_runs", 2, MAX_RUNS),
        },
    }
    _whole_milliseconds(out["min_duration_s"], f"{where}.min_duration_s")
    if "start_qps" in search:
        start = out["search"]["start_qps"] = checks.number(
            search["start_qps"], f"{where}.search.start_qps", strict=True, maximum=MAX_QPS
        )
        if start > fastest_rate(out["min_duration_s"]):
            raise SuiteError(
                None,
                f"{where}.search.start_qps",
                f"{start:g} QPS for min_duration_s {out['min_duration_s']:g} is {start * out['min_duration_s']:.3g} "
                f"queries a run, which LoadGen holds in memory; must be <= {fastest_rate(out['min_duration_s']):.4g} "
                f"({MAX_QUERIES} / min_duration_s)",
            )
        lowest = slowest_rate(out["min_queries"], out["min_duration_s"])
        if start < lowest:  # LoadGen issues min_queries at this rate however long that takes
            raise SuiteError(
                None,
                f"{where}.search.start_qps",
                f"{start:g} QPS would take {out['min_queries'] / start:.3g} s to issue min_queries "
                f"{out['min_queries']}; must be >= {lowest:.4g} (min_queries / (8 x min_duration_s))",
            )
    if "max_time_s" in section:
        limit = out["max_time_s"] = checks.number(
            section["max_time_s"], f"{where}.max_time_s", strict=True, maximum=MAX_TIME_S
        )
        shortest = out["min_duration_s"] * len(out["scenarios"])
        if limit < shortest:
            raise SuiteError(
                None,
                f"{where}.max_time_s",
                f"{limit:g} s leaves less than one run of min_duration_s {out['min_duration_s']:g} s for each of the "
                f"{len(out['scenarios'])} scenarios; must be >= {shortest:g} (or lower min_duration_s)",
            )
    too_long = slo_too_long(out["slo"]["p99_ms"], out["min_duration_s"])
    if "server" in out["scenarios"] and too_long:
        raise SuiteError(None, f"{where}.slo.p99_ms", f"{out['slo']['p99_ms']:g} ms is {too_long}")
    wait_ms = out["batching"]["max_wait_ms"]
    slo_ms = out["slo"]["p99_ms"] if "server" in out["scenarios"] else None
    wrong_wait = wait_problem(out["batching"]["max_batch"], wait_ms, slo_ms, slo=f"{where}.slo.p99_ms")
    if wrong_wait:  # refused, not warned: no Server figure of such a suite would mean what it says
        raise SuiteError(None, f"{where}.batching.max_wait_ms", f"{wait_ms:g} ms is {wrong_wait}")
    return out


# ------------------------------------------------------------------------------------------ one case


class Runner:
    """The LoadGen runs of one case: settings per scenario, one log folder per run.

    With a ``deadline`` (a ``clock()`` value), no run starts with less than ``min_duration_s`` left before it
    (:class:`TimeLimit`; :attr:`stopped` says where) and each run is given LoadGen's ``max_duration_ms`` = the time
    left."""

    def __init__(
        self,
        sut: BatchingSUT,
        spec: LoadSpec,
        log_dir: Path,
        capacity_qps: float,
        deadline: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.sut, self.spec, self.log_dir, self.lg = sut, spec, log_dir, sut.lg
        self.capacity_qps = capacity_qps
        """Requests/s the SUT can serve, estimated from the warm-up calls: bounds a Server run's backlog."""
        self.max_qps = fastest_rate(spec.min_duration_s)
        """The highest rate a run is given (or, in SingleStream and Offline, expects): bounds what LoadGen
        pre-generates."""
        self.deadline, self.clock = deadline, clock
        self.stopped: str | None = None
        """Where the time limit stopped the pass (``before offline``, ...), or ``None``."""

    def time_left_s(self) -> float:
        return math.inf if self.deadline is None else self.deadline - self.clock()

    def ran_out(self) -> str | None:
        """Where the time limit cut the pass: ``before <what>`` when a run was not started, ``during the last run``
        when no time was left after it (LoadGen's ``max_duration_ms`` stopped it); ``None`` when it did not."""
        if self.stopped:
            return f"before {self.stopped}"
        return "during the last run" if self.time_left_s() < 0 else None

    def out_of_time(self, before: str) -> bool:
        """True (and :attr:`stopped` set to ``before``) when less than ``min_duration_s`` is left for a run."""
        if self.time_left_s() >= self.spec.min_duration_s:
            return False
        self.stopped = self.stopped or before
        return True

    def settings(self, scenario: str, before: str | None = None, checked: bool = False):
        """A run's settings; :class:`TimeLimit` when no run fits in the time left (``before``: what would run).
        ``checked``: the caller has just asked :meth:`out_of_time` (and goes on): no second check, which the clock
        could fail in between and so lose what the caller holds."""
        if not checked and self.out_of_time(before or scenario):
            raise TimeLimit(self.stopped)
        lg = self.lg
        settings = lg.TestSettings()
        settings.scenario = getattr(lg.TestScenario, SCENARIOS[scenario])
        settings.mode = lg.TestMode.PerformanceOnly
        settings.min_duration_ms = max(1, round(self.spec.min_duration_s * 1000))
        settings.min_query_count = self.spec.min_queries
        left = self.time_left_s()
        if math.isfinite(left):  # LoadGen stops issuing when the pass's time runs out
            settings.max_duration_ms = max(settings.min_duration_ms, math.floor(left * 1000))
        return settings

    def single_stream(self, expected_qps: float) -> LoadgenRun:
        return self._retried("single-stream", expected_qps)

    def offline(self, expected_qps: float) -> LoadgenRun:
        return self._retried("offline", expected_qps)

    def _retried(self, scenario: str, expected_qps: float) -> LoadgenRun:
        """SingleStream and Offline pre-generate their queries from an expected rate: a guess too high only makes
        more than are issued, one too low makes too short a run, which is retried once at the rate it measured."""
        result = None
        for attempt in (1, 2):
            expected_qps = min(expected_qps, self.max_qps)
            what = scenario if attempt == 1 else f"{scenario}'s second run (its first was too short)"
            if self.out_of_time(what) or (scenario == "offline" and self.offline_outlasts(what, expected_qps)):
                if attempt == 2:
                    break  # the first run is kept, with LoadGen's verdict on it
                raise TimeLimit(self.stopped)
            settings = self.settings(scenario, checked=True)
            if scenario == "offline":
                settings.offline_expected_qps = expected_qps
            else:
                settings.single_stream_expected_latency_ns = max(1, int(1e9 / expected_qps))
            result = self.sut.run(settings, self.log_dir / f"{scenario}-{attempt}", wait_ms=0.0)
            if result.min_duration_met is not False or not result.samples_per_s:
                break
            expected_qps = result.samples_per_s * 1.2
        return result

    def offline_outlasts(self, what: str, expected_qps: float) -> bool:
        """True (and :attr:`stopped` set) when an Offline run's one query would outlast the time left: LoadGen issues
        all its samples at once (``min_queries`` at least, else ``min_duration_s`` at ``expected_qps``) and its
        ``max_duration_ms`` cannot cut a query already issued, so ``min_queries: 2000000`` on a model at 10 ms a call
        ran 5.5 hours past a ``max_time_s`` of a minute. The query is served at ``expected_qps``, the rate the
        warm-up suggests (or, for a second run, the rate the first measured)."""
        samples = max(self.spec.min_queries, math.ceil(expected_qps * self.spec.min_duration_s))
        seconds, left = samples / expected_qps, self.time_left_s()
        if seconds <= left:
            return False
        self.stopped = self.stopped or (
            f"{what}, whose one query of {samples} samples would take about {seconds:.3g} s at the warm-up's rate "
            f"with {max(left, 0.0):.3g} s left (lower load.min_queries or raise load.max_time_s)"
        )
        return True

    def server_settings(self, qps: float, checked: bool = False):
        settings = self.settings("server", checked=checked)
        settings.server_target_qps = qps
        settings.server_target_latency_ns = round(self.spec.slo_p99_ms * 1e6)
        settings.server_target_latency_percentile = 0.99
        backlog = BACKLOG_SLO_FACTOR * self.capacity_qps * self.spec.slo_p99_ms / 1000.0
        settings.server_max_async_queries = max(64, math.ceil(backlog))
        return settings

    def server(self, qps: float, checked: bool = False) -> LoadgenRun:
        """One Server run at ``qps`` (at most :attr:`max_qps`, which :func:`find_peak` is given); ``checked`` as for
        :meth:`settings`."""
        qps = min(qps, self.max_qps)
        folder = name = self.log_dir / "server" / f"qps-{qps:.6g}"
        for again in range(2, 1 + MAX_RUNS + 1):  # rates 1e-6 apart (a fine search.precision) keep their own logs
            if not folder.exists():
                break
            folder = name.with_name(f"{name.name}-{again}")
        run = self.sut.run(self.server_settings(qps, checked), folder)
        if run.target_qps is None:
            run.target_qps = qps
        return run


def find_peak(
    run_at: Callable[[float], LoadgenRun],
    start_qps: float,
    precision: float,
    max_runs: int,
    min_qps: float | None = None,
    max_qps: float = math.inf,
    stop: Callable[[], bool] = lambda: False,
):
    """The highest rate whose run meets the SLO (``LoadgenRun.meets_slo``), by halving, doubling and bisection.

    Halving stops above ``min_qps`` (default: 1/16 of the start, where the server is nearly idle and a failing p99 is
    the service time's own tail); no rate above ``max_qps`` is tried (a peak at ``max_qps`` is a lower bound).
    ``stop()`` is asked before each run the search would make next; when it says true the search ends there (the
    time limit: the peak so far is a lower bound). Returns ``(peak run or None, every run in the order made)``.
    """
    runs: list[LoadgenRun] = []
    start_qps = min(start_qps, max_qps)
    floor = start_qps / 16 if min_qps is None else min(min_qps, start_qps)

    def attempt(qps: float) -> LoadgenRun:
        runs.append(run_at(qps))
        return runs[-1]

    lower: LoadgenRun | None = None
    upper: LoadgenRun | None = None
    qps = start_qps
    while len(runs) < max_runs and lower is None and not stop():  # halve until a rate passes
        result = attempt(qps)
        if result.meets_slo:
            lower = result
        elif qps / 2 < floor:
            break
        else:
            upper, qps = result, qps / 2
    if lower is None:
        return None, runs
    while len(runs) < max_runs and upper is None and lower.target_qps < max_qps and not stop():  # double until fails
        result = attempt(min(lower.target_qps * 2, max_qps))
        if result.meets_slo:
            lower = result
        else:
            upper = result
    while (
        len(runs) < max_runs
        and upper is not None
        and upper.target_qps / lower.target_qps > 1 + precision
        and not stop()
    ):
        result = attempt(math.sqrt(lower.target_qps * upper.target_qps))
        if result.meets_slo:
            lower = result
        else:
            upper = result
    return lower, runs


SAFE_NAME_MAX = 120
"""Longest log folder name made from a case id (file systems stop at 255 bytes)."""
_PLAIN_ID = re.compile(r"([a-z0-9.-]+)::([a-z0-9.-]+)\[([a-z0-9.-]+)\]")
"""A case id whose folder name ``<suite>__<model>_<parts>`` says which id it came from (no ``_`` or capital in it)."""


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "case"


def case_log_dir(results_path: Path, full_id: str) -> Path:
    """``results/<run>/loadgen/<suite>__<case>/``: where one case's LoadGen logs are kept.

    An id ``suite::model[parts]`` of lower-case letters, digits, ``.`` and ``-`` gives ``suite__model_parts``; any
    other id has its other characters made ``_`` and the first 10 hex digits of its SHA-256 appended, so two ids
    that would read alike (``m[a/b]`` and ``m[a:b]``, ``a_b[c]`` and ``a[b_c]``, or ``M[x]`` and ``m[x]`` on a
    case-insensitive file system) never share a folder and overwrite each other's logs."""
    plain = _PLAIN_ID.fullmatch(full_id)
    if plain and len(full_id) <= SAFE_NAME_MAX:
        name = "{}__{}_{}".format(*plain.groups())
    else:
        digest = hashlib.sha256(full_id.encode("utf-8", "surrogatepass")).hexdigest()[:10]
        name = f"{_safe(full_id.replace('::', '__'))[:SAFE_NAME_MAX]}-{digest}"
    return Path(results_path) / "loadgen" / name


def load_pass(
    call_for: CallFor,
    spec: LoadSpec,
    batch_size: int,
    log_dir: Path,
    thread_context: Callable[[], Any] | None = None,
    case_id: str | None = None,
) -> PassResult:
    """Run the suite's load scenarios on one case; without LoadGen installed, the pass says why and records nothing.

    Warns (:class:`LoadWarning`, naming ``case_id``) when a recorded run has LoadGen errors or the pass stopped at its
    time limit; what was measured is kept either way."""
    try:
        lg = loadgen()
    except NotApplicable as reason:
        return PassResult("load", extra={"load_skipped": str(reason)})
    clock = time.monotonic
    started = clock()
    columns: dict[str, Any] = {}
    extra: dict[str, Any] = {"load": asdict(spec), "load_log_dir": str(log_dir), "loadgen_version": _version(lg)}
    recorded: dict[str, LoadgenRun] = {}
    sut = BatchingSUT(call_for, spec.max_batch, spec.max_wait_ms, thread_context or contextlib.nullcontext)
    server_runs: list[LoadgenRun] = []
    runner = None
    with sut:
        call_s = sut.warm()  # on the worker thread that serves LoadGen (CUDA graphs are recorded per thread)
        limit_s = extra["load_max_time_s"] = spec.time_limit_s(call_s[1])
        deadline = started + limit_s  # the warm-up counts too
        # rates the SUT could reach: a call per batch plus the SUT's own cost per request (what LoadGen pre-generates)
        single_qps = 1 / (call_s[1] + SUT_COST_S)
        estimate_qps = spec.max_batch / (call_s[spec.max_batch] + spec.max_batch * SUT_COST_S)
        error = None
        try:
            runner = Runner(sut, spec, log_dir, estimate_qps, deadline=deadline, clock=clock)
            if "single-stream" in spec.scenarios:
                single = recorded["single-stream"] = runner.single_stream(single_qps)
                columns |= {"single_stream_p90_ms": single.p90_ms, "single_stream_validity": single.validity}
                extra["single_stream_invalid_reason"] = single.invalid_reason
            if "offline" in spec.scenarios:
                offline = recorded["offline"] = runner.offline(estimate_qps)
                if offline.samples_per_s:  # the Offline rate is the best capacity estimate the search can start from
                    columns["offline_items_per_s"] = offline.samples_per_s * batch_size
                    estimate_qps = runner.capacity_qps = offline.samples_per_s
                columns["offline_validity"] = offline.validity
                extra |= {"offline_invalid_reason": offline.invalid_reason, "offline_mean_batch": offline.mean_batch}
            if "server" in spec.scenarios:
                columns |= _server(runner, spec, spec.start_qps or estimate_qps / 2, extra, server_runs, recorded)
        except TimeLimit:  # no run fitted in the time left: what ran before is kept, flagged below
            pass
        except BaseException as err:  # keep the scenarios (and Server runs) already measured; the error says what
            if outcome_of(err) is None:  # Ctrl-C, SIGTERM, a pytest.exit() from the model: the run stops
                raise
            error = one_line(err)  # an exception, a sys.exit() or a pytest.skip()/fail() from the model
    if server_runs:  # every Server run made, also when a later one raised (the search's own curve is the same runs)
        extra |= {"load_curve": _curve(server_runs), "server_runs": len(server_runs)}
    name = case_id or log_dir.name
    _flag_errors(recorded, extra, name, log_dir)
    where = runner.ran_out() if runner is not None else None
    if where:
        not_run = [s for s in spec.scenarios if s not in recorded and not (s == "server" and server_runs)]
        extra["load_time_limit"] = f"load.max_time_s {limit_s:g} s ran out {where}" + (
            f"; not run: {', '.join(not_run)}" if not_run else ""
        )
        warnings.warn(
            f"{name}: {extra['load_time_limit']}; the record keeps what was measured before (extra.load_time_limit)",
            LoadWarning,
            stacklevel=2,
        )
    return PassResult("load", columns=columns, extra={k: v for k, v in extra.items() if v is not None}, error=error)


def _flag_errors(recorded: dict[str, LoadgenRun], extra: dict[str, Any], name: str, log_dir: Path) -> None:
    """``extra.loadgen_errors`` and a warning for the recorded runs in which LoadGen logged errors;
    ``extra.loadgen_warnings`` (the first per scenario) and ``extra.loadgen_warning_count`` for those in which it
    logged warnings. Warnings alone raise no :class:`LoadWarning` (nearly every run has LoadGen's ``Logging allocation
    detected``); with errors the warning line also counts them."""
    found = {scenario: run.first_warning for scenario, run in recorded.items() if run.first_warning}
    if found:
        extra["loadgen_warnings"] = found
        extra["loadgen_warning_count"] = sum(run.warning_count for run in recorded.values())
    errors = {scenario: run.first_error for scenario, run in recorded.items() if run.first_error}
    if not errors:
        return
    extra["loadgen_errors"] = errors
    listed = "; ".join(f"{scenario}: {_cut(error, 200)}" for scenario, error in errors.items())
    also = ""
    if found:
        count = extra["loadgen_warning_count"]
        also = f"; also {count} warning{'s' if count > 1 else ''} (extra.loadgen_warnings)"
    warnings.warn(
        f"{name}: LoadGen logged errors in the load pass ({listed}){also}; those runs are recorded INVALID "
        f"(logs: {log_dir})",
        LoadWarning,
        stacklevel=3,
    )


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _curve(runs: list[LoadgenRun]) -> list[dict[str, Any]]:
    return sorted((r.point() for r in runs), key=lambda p: p["qps"])


def _server(
    runner: Runner,
    spec: LoadSpec,
    start_qps: float,
    extra: dict[str, Any],
    made: list[LoadgenRun],
    recorded: dict[str, LoadgenRun],
) -> dict[str, Any]:
    """The Server columns of the peak search; ``made`` gets each run as it ends (kept if a later one raises: the
    caller records them as ``extra.load_curve``), and ``recorded["server"]`` the peak."""

    def run_at(qps: float) -> LoadgenRun:  # find_peak has just asked stop(): the time is checked
        made.append(runner.server(qps, checked=True))
        return made[-1]

    def stop() -> bool:
        return runner.out_of_time(f"Server run {len(made) + 1} of at most {spec.max_runs}")

    # no rate below 1/16 of the start, nor one whose min_queries would take more than 8 x min_duration_s to issue
    floor = max(start_qps / 16, slowest_rate(spec.min_queries, spec.min_duration_s))
    peak, runs = find_peak(
        run_at, start_qps, spec.precision, spec.max_runs, min(floor, start_qps), runner.max_qps, stop=stop
    )
    if not runs:  # the time ran out before the first rate
        return {}
    columns: dict[str, Any] = {"server_slo_ms": spec.slo_p99_ms}
    cut = extra["server_search_cut"] = search_cut(runner, spec, peak, runs, min(floor, start_qps))
    if peak is None:
        lowest = min(runs, key=lambda r: r.target_qps)
        extra["server_invalid_reason"] = (
            f"no rate met p99 <= {spec.slo_p99_ms:g} ms; the lowest tried, {lowest.target_qps:.4g} QPS, had p99 "
            f"{_fmt(lowest.p99_ms)} ms ({lowest.invalid_reason or lowest.validity})"
        )
        if cut == "load.max_time_s":
            extra["server_invalid_reason"] += (
                f"; load.max_time_s ran out after {len(runs)} runs, before the search's floor"
            )
        elif cut == "search.max_runs":
            extra["server_invalid_reason"] += f"; search.max_runs {spec.max_runs} ran out before the search's floor"
        return columns | {"server_validity": "INVALID"}
    recorded["server"] = peak
    extra |= {"server_invalid_reason": peak.invalid_reason, "server_mean_batch": peak.mean_batch}
    if cut == "rate cap":
        extra["server_peak_note"] = (
            f"the search stops at {runner.max_qps:.4g} QPS ({MAX_QUERIES} queries a run / min_duration_s), which "
            "met the SLO: the peak is at least this"
        )
    elif cut == "load.max_time_s":
        extra["server_peak_note"] = (
            f"load.max_time_s ran out after {len(runs)} Server runs, before the search narrowed the peak to "
            f"search.precision {spec.precision:g}: the peak is at least this"
        )
    elif cut == "search.max_runs":
        extra["server_peak_note"] = (
            f"search.max_runs {spec.max_runs} ran out before the search narrowed the peak to search.precision "
            f"{spec.precision:g}: the peak is at least this"
        )
    return columns | {
        "server_max_qps": peak.target_qps,
        "server_p50_ms": peak.p50_ms,
        "server_p90_ms": peak.p90_ms,
        "server_p99_ms": peak.p99_ms,
        "server_validity": peak.validity,
    }


SEARCH_CUTS = ("load.max_time_s", "search.max_runs", "rate cap")
"""What can end the Server search before it is done (``extra.server_search_cut``): the pass's time, its run budget,
or the highest rate a run may be given (:func:`fastest_rate`)."""


def search_cut(runner: Runner, spec: LoadSpec, peak: LoadgenRun | None, runs: list[LoadgenRun], floor: float):
    """Which of :data:`SEARCH_CUTS` ended the search before it was done, or ``None`` when it was done: a peak
    narrowed to ``search.precision`` (a failing rate at most ``1 + precision`` above it), or no rate passing down to
    the search's ``floor``. With a cut, a peak is only a lower bound, and no peak proves nothing."""
    if runner.stopped and runner.stopped.startswith("Server run"):
        return "load.max_time_s"
    if peak is None:
        lowest = min(r.target_qps for r in runs)
        return "search.max_runs" if len(runs) >= spec.max_runs and lowest / 2 >= floor else None
    if peak.target_qps >= runner.max_qps:
        return "rate cap"
    failed = [r.target_qps for r in runs if not r.meets_slo and r.target_qps > peak.target_qps]
    narrowed = bool(failed) and min(failed) / peak.target_qps <= 1 + spec.precision
    return "search.max_runs" if not narrowed else None


def _fmt(value: float | None) -> str:
    return "?" if value is None else f"{value:.3g}"


def _version(lg) -> str | None:
    try:
        from importlib.metadata import version

        return version("mlcommons-loadgen")
    except Exception:
        return getattr(lg, "__version__", None)

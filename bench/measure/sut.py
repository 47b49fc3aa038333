"""The system under test that MLPerf LoadGen drives: an in-process queue feeding a case's callable.

LoadGen (``mlcommons-loadgen``, imported as ``mlperf_loadgen``) owns the arrivals: Poisson in Server, one after the
other in SingleStream, everything at once in Offline. Its issue callback here only enqueues the sample ids. One
worker thread takes the queued samples in arrival order, up to ``max_batch`` at a time (waiting at most
``max_wait_ms`` after the first for more to arrive: dynamic batching; LoadGen's flush after its last query ends the
wait), makes one call for the batch and completes its samples with ``QuerySamplesComplete``. One LoadGen sample is
one request of the case's ``batch_size`` items; a batch of ``k`` requests is one call on ``k × batch_size`` items,
padded up to the next prepared bucket (powers of two up to ``max_batch``, and ``max_batch`` itself), so the model
only ever sees shapes it was warmed up on, and was warmed up on the worker thread itself (:meth:`BatchingSUT.warm`).

Every LoadGen run writes its summary and detail logs into its own folder; :func:`read_logs` reads the verdict
(the summary's ``Result is : VALID`` / ``INVALID``), the figures (the detail log's ``result_*`` entries) and the
errors LoadGen logged. LoadGen's own verdict does not look at those errors (a run whose settings it had to correct,
or whose clocks disagree, still reads ``VALID``); MLPerf's submission checker rejects such a run, and so does
:func:`read_logs`: a run with errors is ``INVALID``, its reason names the first error. LoadGen's warnings are read
too (how many, and each ``key: message``) but change no verdict: nearly every run has one (``Logging allocation
detected``: LoadGen's own log buffer grew).
"""

from __future__ import annotations

import contextlib
import json
import math
import queue
import re
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.errors import NotApplicable, outcome_of

CallFor = Callable[[int], Callable[[], object]]
"""``call_for(n)`` -> a zero-argument callable that serves ``n`` requests in one call (its inputs built once)."""

_STOP = object()
_FLUSH = object()


class _Job:
    """Work for the worker thread between LoadGen runs (the warm-up); :meth:`run` keeps its result or error."""

    def __init__(self, work: Callable[[], Any]):
        self.work = work
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self.work()
        except BaseException as err:  # handed to the thread that asked
            self.error = err
        finally:
            self.done.set()


SCENARIOS = {"single-stream": "SingleStream", "server": "Server", "offline": "Offline"}


def loadgen():
    """The ``mlperf_loadgen`` module, or :class:`NotApplicable` naming the package to install."""
    try:
        import mlperf_loadgen
    except ImportError as err:
        raise NotApplicable(
            f"MLPerf LoadGen is not installed ({err}); pip install 'bench[load]' (mlcommons-loadgen) to run load "
            "scenarios"
        ) from None
    return mlperf_loadgen


def buckets(max_batch: int) -> tuple[int, ...]:
    """The batch sizes (in requests) the worker calls with: powers of two below ``max_batch``, and ``max_batch``."""
    sizes = {2**i for i in range(int(math.log2(max_batch)) + 1) if 2**i < max_batch}
    return tuple(sorted(sizes | {max_batch}))


def load_input_items(max_batch: int, batch_size: int) -> int:
    """The batch items of inputs the load pass builds before LoadGen starts and holds while it runs: one input of
    ``n x batch_size`` items for each padded batch size ``n`` (:func:`buckets`). The one count of them that both
    memory checks use. ``bench validate`` bounds the case's whole peak and adds the latency pass's ``batch_size``
    items, which are held meanwhile; the run-time check adds nothing, as those inputs were built before it reads the
    free memory, which no longer counts them."""
    return sum(buckets(max_batch)) * batch_size


@dataclass
class LoadgenRun:
    """One LoadGen run, as its logs report it."""

    scenario: str
    target_qps: float | None
    validity: str
    """``VALID`` or ``INVALID``: LoadGen's verdict (its summary's ``Result is :`` line), ``INVALID`` as well when
    LoadGen logged an error in the run."""
    perf_constraints_met: bool | None = None
    min_duration_met: bool | None = None
    min_queries_met: bool | None = None
    early_stopping_met: bool | None = None
    invalid_reason: str | None = None
    p50_ms: float | None = None
    p90_ms: float | None = None
    p99_ms: float | None = None
    mean_ms: float | None = None
    samples_per_s: float | None = None
    """Server: completed samples/s; Offline: samples/s; SingleStream: 1 / mean latency."""
    queries: int | None = None
    overlatency: int | None = None
    errors: list[str] = field(default_factory=list)
    """The errors LoadGen logged in the detail log (``key: message``)."""
    error_count: int = 0
    """How many errors LoadGen counted (its ``num_errors`` entry and the summary's ``N ERRORS encountered``)."""
    warnings: list[str] = field(default_factory=list)
    """The warnings LoadGen logged in the detail log (``key: message``); they change no verdict."""
    warning_count: int = 0
    """How many warnings LoadGen counted (the detail log's entries, or the summary's ``N warnings encountered``)."""
    log_dir: str = ""
    mean_batch: float | None = None
    """Mean number of requests per model call in this run (1 without batching)."""

    @property
    def valid(self) -> bool:
        return self.validity == "VALID"

    @property
    def meets_slo(self) -> bool:
        """The p99 met the target and the run was not cut short: what the Server peak search asks of a rate (the
        criterion of LoadGen's own FindPeakPerformance mode, plus a complete run)."""
        return bool(self.perf_constraints_met and self.min_duration_met and self.min_queries_met)

    def point(self) -> dict[str, Any]:
        """The run as one point of a load curve (stored in ``Record.extra``)."""
        return {
            "qps": self.target_qps,
            "p50_ms": self.p50_ms,
            "p90_ms": self.p90_ms,
            "p99_ms": self.p99_ms,
            "completed_qps": self.samples_per_s,
            "validity": self.validity,
            "meets_slo": self.meets_slo,
            "mean_batch": self.mean_batch,
            "loadgen_error": self.first_error,
        }

    @property
    def first_warning(self) -> str | None:
        """``N LoadGen warning(s), the first: key: message`` when LoadGen logged any, else ``None``."""
        return _first("warning", self.warning_count, self.warnings)

    @property
    def first_error(self) -> str | None:
        """``N LoadGen error(s), the first: key: message`` when LoadGen logged any, else ``None``."""
        return _first("error", self.error_count, self.errors)


def _first(kind: str, count: int, entries: list[str]) -> str | None:
    """``N LoadGen <kind>(s), the first: ...`` (the detail log's first entry, or where to look), or ``None``."""
    if not count:
        return None
    first = entries[0] if entries else "see mlperf_log_detail.txt"
    return f"{count} LoadGen {kind}{'s' if count > 1 else ''}, the first: {' '.join(first.split())}"


ABANDONED: list[threading.Thread] = []
"""LoadGen threads a second Ctrl-C or SIGTERM left running: the first one drains a run at its next query, but a model
call that never returns (a deadlock, a hung device) holds LoadGen, as does a Server drain waiting for the arrivals
that end it, and the user must still be able to stop. Python's shutdown would crash in such a thread, so ``bench``
ends its process at once after the run is closed, saying which held it (:func:`abandoned`, :func:`left_running`,
:func:`bench.cli.main`)."""


HUNG: list[threading.Thread] = []
"""LoadGen threads given up on because their run had not returned long after its own limits (:func:`start_test`'s
``limit_s``): LoadGen waited for completions that never came. As for :data:`ABANDONED`, the process ends at once."""


UNJOINED: list[threading.Thread] = []
"""Workers :meth:`BatchingSUT.__exit__` could not wait for, because an abandoned LoadGen run still held them."""
SETTLE_S = 2.0
"""How long an abandoned run is given to end after all (its drain may still go through) before the process leaves
it running."""


def abandoned() -> bool:
    """Whether a LoadGen run was left running (by a second interrupt, :data:`ABANDONED`, or as hung, :data:`HUNG`)."""
    return any(thread.is_alive() for thread in [*ABANDONED, *HUNG])


def left_running() -> str:
    """What :func:`unsettled` found still running, as ``bench`` says it when it ends without waiting: a LoadGen run
    given up on as hung (:data:`HUNG`); a model call that never returned (a worker :meth:`BatchingSUT.__exit__` had
    to leave, :data:`UNJOINED`: it was still inside its call); or else a LoadGen run that a second interrupt left
    draining with no model call in progress (:data:`ABANDONED`: a Server run waiting for the arrivals that end it).
    The last two end a suite's run, which is closed by then; a hung run is ``bench load-overhead``'s, which has none."""
    closed = "; ended without waiting for it (the run is closed)"
    if any(thread.is_alive() for thread in HUNG):
        return "a LoadGen run never returned; ended without waiting for it"
    if any(thread.is_alive() for thread in UNJOINED):
        return f"a model call never returned{closed}"
    return f"a LoadGen run was still draining (no model call was in progress){closed}"


def unsettled(timeout: float = SETTLE_S) -> bool:
    """Wait up to ``timeout`` for what was left running (LoadGen runs a second interrupt abandoned or that hung,
    their workers); whether any of it still runs. Then the process must end without its exit-time clean-up
    (``os._exit``): Python's shutdown would crash in LoadGen's threads. Nothing left: a normal exit, every thread
    already ended."""
    deadline = time.monotonic() + timeout
    left = [*ABANDONED, *HUNG, *UNJOINED]
    for thread in left:
        while thread.is_alive() and time.monotonic() < deadline:
            thread.join(0.1)
    return any(thread.is_alive() for thread in left)


class BatchingSUT:
    """The in-process system under test: LoadGen's issue callback enqueues, one worker batches, calls, completes.

    ``thread_context`` is entered by the worker thread around its whole life (e.g. ``torch.inference_mode``, which
    is per thread).

    **Stopping a run.** LoadGen cannot be aborted: its issue loop ends only when its schedule or its limits say so,
    and an exception thrown through it leaves its logger running (the process then crashes, at the latest as it
    exits). So LoadGen runs on a thread of its own (``bench-loadgen``: Python raises Ctrl-C and SIGTERM on the main
    thread only, never inside LoadGen's callbacks), and a run that must stop (the model raised anything, even
    ``pytest.exit()`` or ``sys.exit()``; a Ctrl-C or SIGTERM reached :meth:`run`) is drained instead: the model is not
    called again, every query is completed at once (SingleStream: in the issue callback, so LoadGen runs through its
    remaining queries without waiting for a model; Offline: the whole queue in one completion), and Server queries are
    held until LoadGen's flush, so that its ``server_max_async_queries`` check ends the run after that many more
    arrivals, unless its schedule ends first. :meth:`run` then raises what stopped it.
    """

    def __init__(
        self,
        call_for: CallFor,
        max_batch: int = 1,
        max_wait_ms: float = 0.0,
        thread_context: Callable[[], Any] = contextlib.nullcontext,
    ):
        self.lg = loadgen()
        self.max_batch = max_batch
        self.max_wait_s = max_wait_ms / 1000.0
        self.thread_context = thread_context
        self.calls = {size: call_for(size) for size in buckets(max_batch)}
        self._bucket_of = [min(b for b in self.calls if b >= k) if k else 0 for k in range(max_batch + 1)]
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._worker: threading.Thread | None = None
        self._wait_s = self.max_wait_s
        self.error: BaseException | None = None
        self._stopping = threading.Event()
        """Set when the run must end: the worker calls no model, queries are completed at once (see the class)."""
        self._hold = False
        """In a stopping Server run, issued queries wait for LoadGen's flush (:meth:`issue`)."""
        self._held: list[int] = []
        self.batches = 0
        self.served = 0
        self.busy_s = 0.0
        """Seconds the worker spent serving (call and completion), summed over batches: the in-situ service time."""

    # -- timing the calls before LoadGen starts -----------------------------------------------------

    def warm(self, rounds: int = 5) -> dict[int, float]:
        """Call every bucket ``rounds`` times (first calls compile, allocate, ...); the median seconds per call.

        The calls run on the worker thread, the one that serves LoadGen (so ``warm`` is called inside ``with
        sut:``): what a model keeps per thread is then warm where the calls are timed. CUDA graphs are per thread
        (torch.compile's ``reduce-overhead`` records one tree of graphs for each calling thread): warmed on another
        thread, the worker would warm up and record its own graphs inside LoadGen's first queries."""
        if self._worker is None:
            raise RuntimeError("BatchingSUT.warm() runs on the worker thread: call it inside `with sut:`")
        job = _Job(lambda: self._warm(rounds))
        self._queue.put(job)
        job.done.wait()
        if job.error is not None:
            raise job.error
        return job.result

    def _warm(self, rounds: int) -> dict[int, float]:
        seconds: dict[int, float] = {}
        for size, call in self.calls.items():
            times = []
            for _ in range(rounds):
                start = time.perf_counter()
                call()
                times.append(time.perf_counter() - start)
            seconds[size] = statistics.median(times[1:] if rounds > 1 else times)
        return seconds

    # -- the worker -------------------------------------------------------------------------------

    def __enter__(self) -> BatchingSUT:
        self._worker = threading.Thread(target=self._serve, name="bench-sut", daemon=True)
        self._worker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop the worker and wait for it: a worker still ending while the process exits races LoadGen's logger,
        which detaches every thread's log at exit (a segmentation fault). While a LoadGen run that a second interrupt
        left behind still runs (:data:`ABANDONED`), the call that never returned may hold the worker: it is waited
        for :data:`SETTLE_S` at most, then left to :func:`unsettled`."""
        self._queue.put(_STOP)
        worker, deadline = self._worker, time.monotonic() + SETTLE_S
        try:
            while worker is not None and worker.is_alive():
                if abandoned() and time.monotonic() > deadline:
                    break
                worker.join(0.1)
        finally:  # given up on, or a Ctrl-C while waiting: a worker still running is left to unsettled()
            if worker is not None and worker.is_alive():
                UNJOINED.append(worker)

    def stop(self, err: BaseException) -> None:
        """End the current run as soon as LoadGen lets it (see the class); :meth:`run` raises ``err`` after it. The
        first error is the run's, but what stops the session (Ctrl-C, ``pytest.exit()``) replaces an error."""
        self._stopping.set()  # first: whatever comes next, no model is called again
        if self.error is None or (outcome_of(err) is None and outcome_of(self.error) is not None):
            self.error = err

    def issue(self, samples) -> None:
        """LoadGen's issue callback: enqueue only; in a stopping run, complete at once (a Server run: at the flush).
        Nothing raised here may reach LoadGen (see the class)."""
        try:
            if not self._stopping.is_set():
                put = self._queue.put
                for sample in samples:
                    put(sample.id)
            elif self._hold:
                self._held.extend(sample.id for sample in samples)
            else:
                self._complete([sample.id for sample in samples])
        except BaseException as err:  # (no signal is raised on this thread; this is a last resort)
            self.stop(err)
            self._complete([sample.id for sample in samples])

    def flush(self) -> None:
        """LoadGen's flush callback, made once every query of the run is issued: a batch waiting for more requests
        leaves now (none will come), so a run never ends waiting out ``max_wait_ms``; held queries complete."""
        try:
            held, self._held = self._held, []
            self._complete(held)
            self._queue.put(_FLUSH)
        except BaseException as err:  # (as in issue)
            self.stop(err)

    def _complete(self, ids: list[int]) -> None:
        """Complete these samples with an empty response (performance mode reads no output)."""
        if ids:
            lg = self.lg
            lg.QuerySamplesComplete([lg.QuerySampleResponse(i, 0, 0) for i in ids])

    def _take(self, first: int) -> tuple[list[int], bool]:
        """The batch that starts with ``first``: what is queued, then what arrives within the wait, up to the max."""
        batch, get = [first], self._queue.get
        deadline = time.perf_counter() + self._wait_s
        while len(batch) < self.max_batch:
            try:
                item = get(block=False)
            except queue.Empty:
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    break
                try:
                    item = get(timeout=remaining)
                except queue.Empty:
                    break
            if item is _STOP:
                return batch, True
            if item is _FLUSH:
                break
            batch.append(item)
        return batch, False

    def _serve(self) -> None:
        get, calls, bucket_of, clock = self._queue.get, self.calls, self._bucket_of, time.perf_counter
        with self.thread_context():
            stop = False
            while not stop:
                first = get()
                if first is _STOP:
                    return
                if isinstance(first, _Job):
                    first.run()
                    continue
                if first is _FLUSH:
                    continue
                if self._stopping.is_set():  # no model call: everything queued completes at once
                    stop = self._drain([first])
                    continue
                batch, stop = self._take(first) if self.max_batch > 1 else ([first], False)
                start = clock()
                try:
                    calls[bucket_of[len(batch)]]()
                except BaseException as err:  # complete anyway: LoadGen must not wait forever; the run stops
                    self.stop(err)
                self._complete(batch)
                self.busy_s += clock() - start
                self.batches += 1
                self.served += len(batch)

    def _drain(self, ids: list[int]) -> bool:
        """Complete ``ids`` and every sample queued now, in one call; whether the worker was told to stop."""
        stop, get = False, self._queue.get
        while True:
            try:
                item = get(block=False)
            except queue.Empty:
                break
            if item is _STOP:
                stop = True
                break
            if not isinstance(item, _Job) and item is not _FLUSH:
                ids.append(item)
        self._complete(ids)
        return stop

    # -- one LoadGen run --------------------------------------------------------------------------

    def run(self, settings, log_dir: Path, wait_ms: float | None = None) -> LoadgenRun:
        """One LoadGen test with these ``TestSettings``; logs go to ``log_dir``. ``wait_ms`` overrides the batching
        wait for this run (SingleStream never has a second request to wait for)."""
        lg = self.lg
        log_settings = run_log_settings(log_dir)
        self._wait_s = self.max_wait_s if wait_ms is None else wait_ms / 1000.0
        batches, served = self.batches, self.served
        self.error, self._held = None, []
        self._stopping.clear()
        self._hold = settings.scenario == lg.TestScenario.Server
        sut = lg.ConstructSUT(self.issue, self.flush)
        qsl = lg.ConstructQSL(1024, 1024, _no_samples, _no_samples)
        start_test(lg, sut, qsl, settings, log_settings, log_dir, self.stop)
        if self.error is not None:
            error, self.error = self.error, None
            raise error
        for name in ("mlperf_log_trace.json", "mlperf_log_accuracy.json"):  # empty in performance mode
            (log_dir / name).unlink(missing_ok=True)
        result = read_logs(log_dir)
        calls = self.batches - batches
        result.mean_batch = (self.served - served) / calls if calls else None
        return result


class LoadgenHung(RuntimeError):
    """A LoadGen run that has not returned long after its own limits: see :func:`start_test`."""


def start_test(lg, sut, qsl, settings, log_settings, log_dir: Path, stop, limit_s: float | None = None) -> None:
    """One LoadGen test (``StartTestWithLogSettings``) on a thread of its own, ``bench-loadgen``; then ``sut`` and
    ``qsl`` are destroyed. Raises what LoadGen raised.

    Python raises Ctrl-C and SIGTERM on the main thread only, so they arrive here, never inside LoadGen's callbacks
    (an exception thrown through LoadGen leaves its logger running, and the process crashes). Such an interrupt is
    handed to ``stop(err)``, which must make the run end soon (and see that ``err`` is raised after it); LoadGen is
    then waited for. A second interrupt leaves it running (:data:`ABANDONED`). ``limit_s``: the longest the run may
    take before it is given up on as hung (:class:`LoadgenHung`, the thread left in :data:`HUNG`); ``None``: no
    bound. Either way the process must then end without its exit-time clean-up (:func:`unsettled`)."""
    failed: list[BaseException] = []
    ended = threading.Event()  # (not Thread.join: one that Ctrl-C interrupted may then say the thread ended)

    def start() -> None:
        try:
            # an absent audit file: LoadGen would otherwise read ./audit.config if one happened to exist
            lg.StartTestWithLogSettings(sut, qsl, settings, log_settings, str(log_dir / "no-audit.config"))
        except BaseException as err:  # handed to the caller's thread
            failed.append(err)
        finally:
            ended.set()

    loadgen_thread = threading.Thread(target=start, name="bench-loadgen", daemon=True)
    hung = False
    try:
        try:
            loadgen_thread.start()
            hung = not ended.wait(limit_s)  # a Ctrl-C or SIGTERM is raised here, while LoadGen runs
        except BaseException as err:
            stop(err)
            try:  # LoadGen must end first (left running, it crashes the process): the drain takes a query
                while not ended.wait(0.5) and loadgen_thread.is_alive():
                    pass
            except BaseException:  # a second Ctrl-C or SIGTERM: a model call that never returns holds LoadGen
                ABANDONED.append(loadgen_thread)  # the process ends without waiting for it (bench.cli.main)
                raise
    finally:
        if ended.is_set() or not loadgen_thread.is_alive():
            lg.DestroyQSL(qsl)
            lg.DestroySUT(sut)
    if hung:
        HUNG.append(loadgen_thread)  # the process ends without waiting for it (bench.cli.main)
        raise LoadgenHung(
            f"LoadGen's run did not return within {limit_s:g} s, long after its own limits (its logs: {log_dir}); it "
            "is left running, and the process ends without waiting for it"
        )
    if failed:
        raise failed[0]


def run_log_settings(log_dir: Path):
    """LoadGen's log settings for one run into ``log_dir`` (made): its summary not copied to stdout, no trace. Every
    SUT measured against another (``bench load-overhead``'s inline SUT against bench's) logs alike, or the one that
    traced each query would pay for it in its latencies."""
    lg = loadgen()
    log_dir.mkdir(parents=True, exist_ok=True)
    log_settings = lg.LogSettings()
    log_settings.log_output.outdir = str(log_dir)
    log_settings.log_output.copy_summary_to_stdout = False
    log_settings.enable_trace = False
    return log_settings


def _no_samples(indices) -> None:
    """QSL load/unload callbacks: the inputs are prepared once per bucket, not per sample."""


# ------------------------------------------------------------------------------------------- the logs


def _detail(path: Path) -> dict[str, Any]:
    """The detail log's ``:::MLLOG {json}`` entries by key (errors collected under ``error_runtime`` etc.)."""
    entries: dict[str, Any] = {"_errors": [], "_warnings": []}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if not line.startswith(":::MLLOG "):
            continue
        try:
            entry = json.loads(line[len(":::MLLOG ") :])
        except json.JSONDecodeError:
            continue
        key, value = entry.get("key"), entry.get("value")
        metadata = entry.get("metadata") if isinstance(entry.get("metadata"), dict) else {}
        if metadata.get("is_error"):
            entries["_errors"].append(f"{key}: {value}")
        elif metadata.get("is_warning"):
            entries["_warnings"].append(f"{key}: {value}")
        entries[key] = value
    return entries


def _ms(value: Any) -> float | None:
    return float(value) / 1e6 if isinstance(value, (int, float)) else None


def read_logs(log_dir: Path) -> LoadgenRun:
    """The verdict and figures of the run whose logs are in ``log_dir``."""
    summary = (log_dir / "mlperf_log_summary.txt").read_text(encoding="utf-8", errors="replace")
    detail = _detail(log_dir / "mlperf_log_detail.txt")
    verdict = next(
        (line.split(":", 1)[1].strip() for line in summary.splitlines() if line.startswith("Result is")), None
    )
    scenario = str(detail.get("requested_scenario") or "")
    rate = detail.get("requested_server_target_qps") if scenario == "Server" else None
    per_s = next(
        (
            detail[key]
            for key in (
                "result_completed_samples_per_sec",
                "result_samples_per_second",
                "result_qps_without_loadgen_overhead",
            )
            if isinstance(detail.get(key), (int, float))
        ),
        None,
    )
    reason = detail.get("result_invalid_reason")
    if detail.get("early_stopping_met") is False:
        early = str(detail.get("early_stopping_result", "")).replace("* Run unsuccessful.", "").split("*")
        early_text = "; ".join(" ".join(part.split()).rstrip(".") for part in early if part.strip())
        reason = f"{reason or ''} early stopping not met: {early_text}".strip()
    counted = detail.get("num_errors")
    error_count = max(
        len(detail["_errors"]),
        counted if isinstance(counted, int) and not isinstance(counted, bool) else 0,
        _summary_count(summary, "ERRORS?"),  # "1 ERROR encountered", "2 ERRORS encountered"
    )
    validity = verdict or str(detail.get("result_validity") or "INVALID")
    run = LoadgenRun(
        scenario=scenario,
        target_qps=float(rate) if isinstance(rate, (int, float)) else None,
        validity=validity,
        perf_constraints_met=detail.get("result_perf_constraints_met"),
        min_duration_met=detail.get("result_min_duration_met"),
        min_queries_met=detail.get("result_min_queries_met"),
        early_stopping_met=detail.get("early_stopping_met"),
        invalid_reason=" ".join(str(reason).split()) if reason else None,
        p50_ms=_ms(detail.get("result_50.00_percentile_latency_ns")),
        p90_ms=_ms(detail.get("result_90.00_percentile_latency_ns")),
        p99_ms=_ms(detail.get("result_99.00_percentile_latency_ns")),
        mean_ms=_ms(detail.get("result_mean_latency_ns")),
        samples_per_s=float(per_s) if per_s is not None else None,
        queries=detail.get("result_query_count"),
        overlatency=detail.get("result_overlatency_query_count"),
        errors=detail["_errors"],
        error_count=error_count,
        warnings=detail["_warnings"],
        warning_count=max(len(detail["_warnings"]), _summary_count(summary, "warnings?")),
        log_dir=str(log_dir),
    )
    if error_count:  # LoadGen's verdict ignores its own errors; MLPerf's submission checker does not
        run.validity = "INVALID"
        run.invalid_reason = f"{run.invalid_reason} {run.first_error}" if run.invalid_reason else run.first_error
    return run


def _summary_count(summary: str, what: str) -> int:
    """The ``N <what> encountered`` count of LoadGen's summary (``2 warnings encountered. See detailed log.``)."""
    found = re.search(rf"^(\d+) {what} encountered", summary, re.MULTILINE)
    return int(found.group(1)) if found else 0

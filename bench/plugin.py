"""The pytest plugin: every case of every suite under ``suites/`` becomes a pytest item timed by pytest-benchmark.

Loaded through the ``pytest11`` entry point. It stays light: nothing heavy (torch) is imported unless a suite is
collected, and YAML files are collected only inside a ``suites/`` folder or when named on the command line.
"""

from __future__ import annotations

import contextlib
import errno
import gc
import hashlib
import os
import re
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from bench.errors import (
    BenchError,
    BenchWarning,
    NotApplicable,
    SuiteError,
    one_line_text,
    os_reason,
    outcome_of,
    short_name,
    sigterm_as_interrupt,
    stops_the_session,
    unexpanded_home,
)
from bench.progress import PROGRESS_CHOICES, ProgressDisplay, estimate_keys, progress_problem, wanted
from bench.results import DEFAULT_RESULTS_DIR, ResultsWriteError, run_holding, run_id_problem
from bench.spec import Case, Suite
from bench.suite import is_suite_file, load_suite
from bench.suite.files import in_suites_folder

SESSION_KEY = pytest.StashKey["Any"]()
SMOKE_KEY = pytest.StashKey["Any"]()
"""Set in place of a run under ``--benchmark-disable``: each case is only built and called once (see
:func:`_start_smoke`)."""
REPORT_KEY = pytest.StashKey[str]()
START_KEY = pytest.StashKey[float]()
STOPPED_KEY = pytest.StashKey[str]()
"""What stopped the session, where a signal did: ``Ctrl-C`` (SIGINT) or ``SIGTERM`` (see :func:`stopped_by`)."""
EXIT_KEY = pytest.StashKey[str]()
"""The reason a ``pytest.exit()`` (a conftest's, a plugin's, or one from inside a case: its model, engine or a pass)
gave when it stopped the session."""
STOP_KEY = pytest.StashKey["dict[str, str]"]()
"""What stopped the session before its last case, as the run's ``meta.json`` says it (see :func:`stop_of`)."""
COLLECTED_KEY = pytest.StashKey[bool]()
ALL_RAN_KEY = pytest.StashKey[bool]()
RESUME_KEY = pytest.StashKey["Any"]()
SELECTED_KEY = pytest.StashKey["Any"]()
SUMMARY_KEY = pytest.StashKey[bool]()
REGRESSED_KEY = pytest.StashKey[bool]()
"""Set when ``--benchmark-compare-fail`` found a regression (see :func:`pytest_terminal_summary`)."""
PROGRESS_PLUGIN = "bench-progress"
"""The name the run's progress line (:class:`bench.progress.ProgressDisplay`) is registered under, where drawn."""
TERMINAL_KEY = pytest.StashKey["Any"]()
"""The stream pytest's terminal reporter writes to (the process's stdout as pytest was configured)."""
NOTICE_KEY = pytest.StashKey["Any"]()
""":data:`bench.artefacts.notice` as it was before the session put :func:`say_now` there (put back at its end)."""
JSON_PIPE_KEY = pytest.StashKey[int]()
"""A descriptor held open on a ``--benchmark-json`` FIFO for the whole session (see :func:`_hold_pipe`)."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("bench", "bench: compressed-model benchmark suites")
    group.addoption(
        "--bench-results",
        metavar="DIR",
        default=None,
        help=f"folder for results (default: $BENCH_RESULTS_DIR or <rootdir>/{DEFAULT_RESULTS_DIR})",
    )
    group.addoption("--bench-run-id", metavar="ID", default=None, help="run id (default: UTC time + random suffix)")
    group.addoption(
        "--bench-resume",
        metavar="ID",
        default=None,
        help="resume a stopped run: run only its cases without a record, appending to it",
    )
    group.addoption(
        "--bench-report",
        action="store_true",
        default=False,
        help="at the end, score the run and write reports/<run_id>/ (as `bench report`)",
    )
    group.addoption(
        "--bench-reports-dir",
        metavar="DIR",
        default=None,
        help="folder for --bench-report (default: $BENCH_REPORTS_DIR or <rootdir>/reports)",
    )
    group.addoption(
        "--bench-progress",
        choices=PROGRESS_CHOICES,
        default="auto",
        help="a suite run's progress: 'bar', one line with the case that runs, the count and the time left (drawn "
        "between cases); 'dots', pytest's own; 'auto' (default): the line on a terminal at the default verbosity "
        "with output captured, else pytest's dots",
    )


def pytest_configure(config: pytest.Config) -> None:
    from bench import artefacts

    config.stash[START_KEY] = time.perf_counter()
    config.stash[TERMINAL_KEY] = sys.stdout  # what pytest's terminal reporter was given a moment ago
    config.stash[NOTICE_KEY] = artefacts.notice
    artefacts.notice = lambda line: say_now(config, line)
    config.pluginmanager.register(_InterruptWatch(config), "bench-interrupt-watch")
    for option in ("--bench-results", "--bench-reports-dir"):
        if config.getoption(option, None) == "":  # an unset shell variable: it would fall back to the default
            raise pytest.UsageError(f"{option}: must be a folder, got an empty path")
    problem = progress_problem(config, _option_as_given(config, "--bench-progress"))
    if problem:
        raise pytest.UsageError(problem)
    results_dir = _results_dir(config)
    run_id = config.getoption("--bench-run-id", None)
    if run_id is not None:
        problem = run_id_problem(run_id)
        if problem:
            raise pytest.UsageError(f"{_option_as_given(config, '--bench-run-id')} {problem}")
    _check_folder(results_dir, _results_name(config))
    _check_benchmark_outputs(config)
    if config.getoption("--bench-report", False):
        reports_dir, reports_name = _reports_dir(config), _source(config, "--bench-reports-dir", "BENCH_REPORTS_DIR")
        _check_folder(reports_dir, reports_name)
        _check_creatable(reports_dir, reports_name)  # below a file: the report would fail after the last case
        if os.path.realpath(reports_dir) == os.path.realpath(results_dir):  # reports/<run>: the run itself
            raise pytest.UsageError(
                f"{reports_name} {_shown(reports_dir)}: is the results folder too ({_results_name(config)}); "
                "the report would replace the run it reports on: give the reports another folder"
            )
    if run_id is not None and (results_dir / run_id).exists():
        raise pytest.UsageError(
            f"{_option_as_given(config, '--bench-run-id')} {run_id!r}: {_shown(results_dir / run_id)} already exists; "
            "runs are never overwritten"
        )
    resume = config.getoption("--bench-resume", None)
    if resume is not None and not _runs_no_case(config):
        from bench.resume import resumable

        if run_id is not None:
            raise pytest.UsageError(
                f"{_resume_option(config)} keeps the run's id: drop {_option_as_given(config, '--bench-run-id')}"
            )
        try:
            config.stash[RESUME_KEY] = resumable(results_dir, resume)
        except BenchError as err:
            raise pytest.UsageError(_as_given(config, err)) from None
        except OSError as err:  # the run's folder cannot be looked at (no permission): the id itself was checked
            why = os_reason(err)
            option = _resume_option(config)
            raise pytest.UsageError(f"{option} {short_name(resume)!r}: cannot read the run ({why})") from None


def _resume_option(config: pytest.Config) -> str:
    """The option the user resumed with: ``--bench-resume``, or ``bench run``'s ``--resume`` (its plugin says so)."""
    return _option_as_given(config, "--bench-resume")


OPTIONS_OF_BENCH_RUN = {
    "--bench-resume": "resume_option",
    "--bench-results": "results_option",
    "--bench-progress": "progress_option",
    "--bench-run-id": "run_id_option",
}
"""The plugin's options that ``bench run`` spells otherwise, and the attribute of its plugin that says how."""


def _option_as_given(config: pytest.Config, option: str) -> str:
    """``option`` as the user typed it: the plugin's own name, or ``bench run``'s (``--resume``, ``--run-id``)."""
    attribute = OPTIONS_OF_BENCH_RUN.get(option)
    given = (getattr(plugin, attribute, None) for plugin in config.pluginmanager.get_plugins()) if attribute else ()
    return next((name for name in given if isinstance(name, str)), option)


def _as_given(config: pytest.Config, err: BenchError) -> str:
    """An error of :mod:`bench.resume` (which says ``--resume``), naming the option the user gave."""
    message = str(err)
    return _resume_option(config) + message[len("--resume") :] if message.startswith("--resume ") else message


@pytest.hookimpl(trylast=True)  # after -k and -m have deselected what they do
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under --bench-resume: deselect the cases the run already has a record of. Then order the cases to run so
    that each accuracy group starts with the case that evaluates cheapest (:func:`bench.measure.accuracy.host_first`).
    """
    run = config.stash.get(RESUME_KEY, None)
    if run is not None:
        cases = [item for item in items if isinstance(item, CaseItem)]
        config.stash[SELECTED_KEY] = cases
        done = [item for item in cases if item.case.full_id in run.done]
        if done:
            config.hook.pytest_deselected(items=done)
            items[:] = [item for item in items if not (isinstance(item, CaseItem) and item.case.full_id in run.done)]
    _host_first(items)
    config.stash[COLLECTED_KEY] = True  # pytest opens the run (pytest_collection_finish) after a Ctrl-C here too


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    result = yield
    if nextitem is None:  # the last item has run: a stop pytest asks for now (-x, --stepwise) left nothing unrun
        item.config.stash[ALL_RAN_KEY] = True
    return result


def _check_references(selected: list[CaseItem], done: Any) -> None:
    """Under --bench-report, refuse before anything is measured a selection (``-k``, node ids) that leaves out the
    reference case the report scores a selected case against: the report would fail after the whole run. With
    --bench-resume, the run's cases that already have a record count as selected."""
    from bench.judge.scoring import ScoringConfig, unreferenced
    from bench.suite.schema import reference_rows

    by_suite: dict[int, tuple[Suite, list[Case]]] = {}
    for item in selected:
        by_suite.setdefault(id(item.parent), (item.parent.suite, []))[1].append(item.case)
    for suite, cases in by_suite.values():
        cases = cases + [case for case in suite.cases if case.full_id in done and case not in cases]
        missing = unreferenced(reference_rows(cases), ScoringConfig.from_section(dict(suite.sections).get("scoring")))
        if missing:
            i, wanted = missing[0]
            every = zip(reference_rows(suite.cases), suite.cases, strict=True)
            reference = {tuple(row.values())[1:]: case for row, case in every}.get(tuple(wanted.values()))
            needed = reference.full_id if reference else ", ".join(f"{k}={v}" for k, v in wanted.items())
            raise pytest.UsageError(
                f"--bench-report: the selected cases leave out {needed}, the reference case the report scores "
                f"{cases[i].full_id} against; select it too (e.g. widen -k), or run without the report"
            )


def _host_first(items: list[pytest.Item]) -> None:
    """Reorder the case items in place, within the slots they hold (other tests keep their places)."""
    from bench.measure.accuracy import host_first

    slots = [i for i, item in enumerate(items) if isinstance(item, CaseItem)]
    by_case = {id(items[i].case): items[i] for i in slots}
    ordered = host_first([items[i].case for i in slots])
    for slot, case in zip(slots, ordered, strict=True):
        items[slot] = by_case[id(case)]


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if not is_suite_file(file_path):
        return None
    if in_suites_folder(file_path) or parent.session.isinitpath(file_path):
        return SuiteFile.from_parent(parent, path=file_path)
    return None


class SuiteFile(pytest.File):
    """A suite YAML file; a bad one is a collection error with a one-line message, not a traceback."""

    def collect(self):
        try:
            suite = load_suite(self.path)
        except SuiteError as err:
            raise self.CollectError(str(err)) from None
        yield SuiteCollector.from_parent(self, name=suite.name, suite=suite)


class SuiteCollector(pytest.Collector):
    def __init__(self, *, suite: Suite, **kwargs: Any):
        super().__init__(**kwargs)
        self.suite = suite

    def collect(self):
        for case in self.suite.cases:
            item = CaseItem.from_parent(self, name=case.case_id, callobj=_case_test(case))
            item.case = case
            # rounds come from the suite's measure: section (see bench.measure.timing.rounds_for)
            item.add_marker(pytest.mark.benchmark(group=f"{case.suite}::{case.model.label}"))
            yield item


class CaseItem(pytest.Function):
    case: Case

    def __init__(self, *args: Any, **kwargs: Any):
        """pytest 9 compares an item's structured id (``item.id``) with the ids it reads back from its cache, parsed:
        a ``Function`` made without a parametrization keeps its whole name, bracket and all, as its last part, so a
        case's never matched its cached one (--lf and --ff measured every case again, --sw started from the first,
        --nf took every case for new). The id is made what its node id parses to (pytest 8 has only the string)."""
        super().__init__(*args, **kwargs)
        parse = getattr(type(getattr(self, "_id", None)), "parse", None)
        if parse is not None:
            self._id = parse(self.nodeid)

    def reportinfo(self):
        return self.path, 0, f"{self.case.full_id}"

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException]):  # type: ignore[override]
        """A failed case's report: under ``bench run`` at pytest's default ``--tb``, the one line its record holds
        (``factory 'my_models:build': make_inputs(8) raised KeyError: 'tokenizer'``); pytest's traceback where one
        was asked for (``--tb=short``, ``--tb=long``, ``--full-trace``) and under plain pytest."""
        if one_line_failures(self.config):
            from bench.measure import one_line

            return one_line(excinfo.value)
        return super().repr_failure(excinfo)


def one_line_failures(config: pytest.Config) -> bool:
    """Whether a failed case is reported in its one line rather than a traceback: ``bench run`` asks for it (its
    plugin says so), and neither ``--tb`` (from the command line, ``addopts`` or ``PYTEST_ADDOPTS``) nor
    ``--full-trace`` chose otherwise."""
    if config.getoption("tbstyle", "auto") != "auto" or config.getoption("fulltrace", False):
        return False
    return any(getattr(plugin, "one_line_failures", False) is True for plugin in config.pluginmanager.get_plugins())


def _more_rounds(benchmark, call, rounds: int, before_round=None, untimed_s: float = 0.0) -> list[float]:
    """Rounds after the first (the fixture's one ``pedantic``, which cannot stop early): timed as pytest-benchmark's
    pedantic times them (its timer around one call, the garbage collector off under ``--benchmark-disable-gc``) and
    added to the fixture's own statistics, so its table, JSON and compare still see every sample of the case. A
    ``before_round`` that returns ``False`` ends them there (the latency pass's time limit). ``untimed_s``, the
    seconds of the round before these that were not its timed call, goes to the first ``before_round``."""
    timer = getattr(benchmark, "_timer", time.perf_counter)
    disable_gc = getattr(benchmark, "_disable_gc", False)
    data = benchmark.stats.stats
    samples = []
    for _ in range(rounds):
        asked = None
        if before_round is not None:
            asked = before_round(untimed_s=untimed_s) if untimed_s > 0 else before_round()
        untimed_s = 0.0
        if asked is False:
            break
        collecting = gc.isenabled()
        if disable_gc:
            gc.disable()
        try:
            start = timer()
            call()
            seconds = timer() - start
        finally:
            if disable_gc and collecting:
                gc.enable()
        data.update(seconds)
        samples.append(seconds * 1000.0)
    return samples


def _time_calls(benchmark, call, rounds: int, before_round=None) -> list[float]:
    """The latency pass's ``time_calls`` (:data:`bench.runner.TimeCalls`) through pytest-benchmark's fixture:
    ``before_round`` runs untimed before each round (the re-warm between ``measure.repeats`` windows); ``False`` from
    it ends the rounds (the time limit). The fixture's ``pedantic`` makes the first round, which cannot stop; what it
    spends besides that round's timed call (under ``--benchmark-cprofile``, one more call, profiled, and often
    several times slower) is told to the next ``before_round`` as ``untimed_s``, so that the pass does not take it
    for the length of a call and stop short of its calls (its samples never held it)."""
    if benchmark.stats is not None:
        return _more_rounds(benchmark, call, rounds, before_round)
    if before_round is not None and before_round() is False:
        return []
    timer = getattr(benchmark, "_timer", time.perf_counter)
    start = timer()
    benchmark.pedantic(call, rounds=1, iterations=1, warmup_rounds=0)
    spent_s = timer() - start
    if benchmark.stats is None:
        raise NotApplicable("benchmarking is disabled (--benchmark-disable): nothing was timed")
    first = list(benchmark.stats.stats.data)
    untimed_s = max(0.0, spent_s - sum(first))
    return [seconds * 1000.0 for seconds in first] + _more_rounds(benchmark, call, rounds - 1, before_round, untimed_s)


def _case_test(case: Case):
    def run_case(benchmark, request):
        smoke = request.config.stash.get(SMOKE_KEY, None)
        if smoke is not None:
            _smoke_case(smoke, case, benchmark)
            return
        session = request.config.stash[SESSION_KEY]

        def time_calls(call, rounds: int, before_round=None) -> list[float]:
            return _time_calls(benchmark, call, rounds, before_round)

        try:
            with reported_not_raised():
                record = session.run_case(case, time_calls)
        except NotApplicable as reason:
            pytest.skip(str(reason))
        except BaseException as error:
            # A case that fails before its latency pass never used the fixture; pytest-benchmark would then add a
            # misleading "fixture was not used" teardown error on top of the real failure. Its only switch is this.
            benchmark._mode = benchmark._mode or "bench: case failed before timing"
            # Ctrl-C, SIGTERM, a pytest.exit() from the model: the case has no record (--resume measures it again),
            # so pytest-benchmark's JSON and storage must not keep its timing
            if isinstance(error, (KeyboardInterrupt, ResultsWriteError)) or stops_the_session(error):
                benchmark.has_error = True
            if isinstance(error, ResultsWriteError):  # the run cannot keep what it measures: measuring on is waste
                pytest.exit(str(error), returncode=pytest.ExitCode.INTERRUPTED)
            raise
        benchmark.extra_info.update(
            suite=case.suite,
            case_id=case.case_id,
            model=record.model,
            compression=record.compression,
            engine=record.engine,
            device=record.device,
            threads=record.threads,
            batch_size=record.batch_size,
            model_size_bytes=record.model_size_bytes,
            peak_rss_mb=record.peak_rss_mb,
            accuracy=record.accuracy,
            unstable=record.unstable,
        )

    return run_case


class _Smoke:
    """A ``--benchmark-disable`` session: the cases' shared model caches (a runner session without a writer), and
    how many cases ran, failed or were skipped."""

    def __init__(self, session: Any, cases: int):
        self.session = session
        self.cases = cases
        self.counts = {"ran": 0, "failed": 0, "skipped": 0}


def _smoke_case(smoke: _Smoke, case: Case, benchmark) -> None:
    """One case under ``--benchmark-disable``: built, compressed and prepared, then called once through the disabled
    fixture (pytest-benchmark's own "run once, time nothing"); nothing is recorded."""
    try:
        with reported_not_raised():
            smoke.session.smoke_case(case, lambda call: benchmark.pedantic(call, rounds=1, iterations=1))
    except BaseException as error:
        outcome = outcome_of(error)
        if outcome is not None:
            smoke.counts[outcome] += 1
        benchmark._mode = benchmark._mode or "bench: case failed before its call"  # no "fixture was not used" on top
        if isinstance(error, NotApplicable):
            pytest.skip(str(error))
        raise
    smoke.counts["ran"] += 1


@contextlib.contextmanager
def reported_not_raised() -> Iterator[None]:
    """Inside a case, each warnings filter that would raise a :class:`BenchWarning` (pytest's ``-W error``, a
    project's ``filterwarnings = error``) is preceded by the same filter showing it: raised there, a report about the
    case (a busy machine, a failed accuracy pass) failed it after its timed calls, and what it had measured was lost.
    A filter before it (``-W ignore::bench.measure.timing.BusyWarning``) still wins; other warnings keep theirs."""
    with warnings.catch_warnings():
        filters = list(warnings.filters)
        warnings.resetwarnings()
        for action, message, category, module, lineno in reversed(filters):  # each one goes in front of the others
            warnings.filterwarnings(action, _pattern(message), category, _pattern(module), lineno)
            if action == "error" and issubclass(BenchWarning, category):
                warnings.filterwarnings("default", _pattern(message), BenchWarning, _pattern(module), lineno)
        yield


def _pattern(match: re.Pattern[str] | str | None) -> str:
    """A filter's message or module as :func:`warnings.filterwarnings` takes it: ``""`` for any, a regular expression
    as it is, an exact name (Python's own ``default::DeprecationWarning:__main__``) as a regular expression."""
    if match is None:
        return ""
    return re.escape(match) + r"\Z" if isinstance(match, str) else match.pattern


def _suite_meta(suite: Suite) -> dict[str, Any]:
    """A suite as ``meta.json`` records it: every file that went into it hashed once (its own first), its effective
    measure settings and its judging sections."""
    files = {f: hashlib.sha256(Path(f).read_bytes()).hexdigest() for f in suite.files or (suite.path,)}
    return {
        "name": suite.name,
        "path": suite.path,
        "sha256": files.get(suite.path) or hashlib.sha256(Path(suite.path).read_bytes()).hexdigest(),
        "files": files,
        "measure": suite.measure_settings(),
        "sections": dict(suite.sections),
    }


def _results_dir(config: pytest.Config) -> Path:
    chosen = config.getoption("--bench-results") or os.environ.get("BENCH_RESULTS_DIR")
    return Path(chosen) if chosen else config.rootpath / DEFAULT_RESULTS_DIR


def _results_name(config: pytest.Config) -> str:
    """What chose the results folder, for an error about it: the option, or the variable it was taken from."""
    return _source(config, "--bench-results", "BENCH_RESULTS_DIR")


def _check_folder(folder: Path, name: str) -> None:
    """Refuse, before any case is measured, a folder to write into that starts with an unexpanded ``~`` (a folder
    named ``~`` in the working folder), is a file or cannot even be looked at (a name too long for the file
    system)."""
    problem = unexpanded_home(str(folder))
    if problem:
        raise pytest.UsageError(f"{name} {_shown(folder)}: {problem}")
    try:
        if folder.exists() and not folder.is_dir():
            raise pytest.UsageError(f"{name} {_shown(folder)}: is a file, not a folder")
    except OSError as err:
        raise pytest.UsageError(f"{name} {_shown(folder)}: unusable ({os_reason(err)})") from None


def _check_cache() -> None:
    """Refuse, before any case is measured, a ``$BENCH_ARTEFACT_CACHE`` that is neither on nor off, and a cache folder
    that is a file (or below one), that cannot even be looked at, or that one may not read: nothing could be cached
    or found there, so every case would train its model and build its variant again. A folder that cannot be
    written (a shared, read-only cache) is used as it is: what it holds is loaded, what cannot be stored is reported
    case by case (``CacheWarning``)."""
    from bench import artefacts

    problem = artefacts.switch_problem()
    if problem:
        raise pytest.UsageError(problem)
    try:
        folder, name = artefacts.cache_dir(), f"${artefacts.CACHE_ENV}"
    except BenchError as err:
        raise pytest.UsageError(str(err)) from None
    _check_folder(folder, name)
    _check_creatable(folder, name)
    try:
        if folder.is_dir() and not os.access(folder, os.R_OK | os.X_OK):
            raise pytest.UsageError(
                f"{name} {_shown(folder)}: no permission to read it, so nothing could be found or cached there"
            )
    except OSError as err:
        raise pytest.UsageError(f"{name} {_shown(folder)}: unusable ({os_reason(err)})") from None


def _check_creatable(path: Path, name: str) -> None:
    """Refuse a path whose nearest existing folder above it is a file: its folders could never be made."""
    try:
        above = next((parent for parent in path.parents if parent.exists()), None)
        if above is not None and not above.is_dir():
            raise pytest.UsageError(f"{name} {_shown(path)}: {_shown(above)} is a file, not a folder")
    except OSError as err:
        raise pytest.UsageError(f"{name} {_shown(path)}: unusable ({os_reason(err)})") from None


def _check_benchmark_outputs(config: pytest.Config) -> None:
    """pytest-benchmark writes --benchmark-json, and --benchmark-save's or --benchmark-autosave's storage, only after
    the last case: a path it cannot write then is refused now, before anything is measured."""
    json_file = config.getoption("benchmark_json", None)
    if json_file is not None:
        json_file = Path(json_file)
        try:
            if json_file.is_dir():
                raise pytest.UsageError(f"--benchmark-json {_shown(json_file)}: is a folder; give a file name")
            run = run_holding(json_file)
            if run is not None:  # written over after the last case: that run's records (or samples) were lost
                raise pytest.UsageError(
                    f"--benchmark-json {_shown(json_file)}: it is {Path(os.path.realpath(json_file)).name} of the run "
                    f"in {_shown(run)}, what the run measured; pytest-benchmark would replace it after the last "
                    "case: give another file"
                )
            if not json_file.parent.is_dir():
                raise pytest.UsageError(
                    f"--benchmark-json {_shown(json_file)}: {_shown(json_file.parent)} is not an existing folder"
                )
            if json_file.is_fifo():
                _hold_pipe(config, json_file)
        except OSError as err:
            raise pytest.UsageError(f"--benchmark-json {_shown(json_file)}: unusable ({os_reason(err)})") from None
    storage = config.getoption("benchmark_storage", None)
    saving = config.getoption("benchmark_save", None) or config.getoption("benchmark_autosave", False)
    if saving and isinstance(storage, str) and (storage.startswith("file://") or "://" not in storage):
        _check_folder(Path(storage.removeprefix("file://")), "--benchmark-storage")


def _hold_pipe(config: pytest.Config, path: Path) -> None:
    """pytest-benchmark writes ``--benchmark-json`` after the last case: to a FIFO (named pipe) that no process reads,
    it then waited for a reader for ever (the run measured, the session hung). The FIFO is opened now without
    blocking: refused when no process reads it; else held open until the session ends, so that its reader
    (``--benchmark-json >(jq .)``) is not told the data ended before pytest-benchmark writes it."""
    try:
        fd = os.open(path, os.O_WRONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as err:
        if err.errno == errno.ENXIO:
            raise pytest.UsageError(
                f"--benchmark-json {_shown(path)}: a FIFO (named pipe) that no process reads; pytest-benchmark would "
                "wait for a reader for ever after the last case"
            ) from None
        raise
    config.stash[JSON_PIPE_KEY] = fd


def pytest_unconfigure(config: pytest.Config) -> None:
    from bench import artefacts

    artefacts.notice = config.stash.get(NOTICE_KEY, artefacts.notice)
    fd = config.stash.get(JSON_PIPE_KEY, None)
    if fd is not None:  # after pytest-benchmark wrote the JSON (at the session's end): its reader may now see its end
        with contextlib.suppress(OSError):
            os.close(fd)


def say_now(config: pytest.Config, line: str) -> None:
    """Write ``line`` on stderr now, from inside a case (a wait for another process's cache lock,
    :func:`bench.artefacts.building`): past pytest's output capture, which would show it only once the case failed,
    and below the progress line, drawn again after it. Never while a case is timed: only its set-up waits so."""
    capture = config.pluginmanager.get_plugin("capturemanager")
    disabled = getattr(capture, "global_and_fixture_disabled", None)
    display = config.pluginmanager.get_plugin(PROGRESS_PLUGIN)
    with disabled() if disabled is not None else contextlib.nullcontext():
        if display is not None:
            display.clear()
        with contextlib.suppress(OSError, ValueError):  # a closed or broken stderr: the case goes on all the same
            print(one_line_text(f"bench: {line}"), file=sys.stderr, flush=True)
        if display is not None:
            display.draw()


def _check_benchmark_options(config: pytest.Config) -> None:
    """pytest-benchmark options that fail a suite run only after its cases (a grouping a case cannot have, an output
    below a file, a histogram without its packages): checked once suites are collected, so that other projects'
    pytest sessions in the same environment, for which ``param:NAME`` is a fine grouping, are left alone."""
    group_by = config.getoption("benchmark_group_by", None)
    if isinstance(group_by, str):
        unknown = [grouping for grouping in group_by.split(",") if grouping not in BENCHMARK_GROUPINGS]
        if unknown:
            raise pytest.UsageError(
                f"--benchmark-group-by {short_name(group_by)!r}: {short_name(unknown[0])!r} is none of "
                f"{', '.join(BENCHMARK_GROUPINGS)} (comma-separated; a suite's cases have no param:NAME)"
            )
    # each case writes its profile as it ends, the histogram after the last: a prefix below a file failed them
    for option, dest in (
        ("--benchmark-cprofile-dump", "benchmark_cprofile_dump"),
        ("--benchmark-histogram", "benchmark_histogram"),
    ):
        for prefix in config.getoption(dest, None) or ():
            if isinstance(prefix, str):
                _check_creatable(Path(prefix), option)
    if config.getoption("benchmark_histogram", None):
        import importlib.util

        missing = [name for name in ("pygal", "pygaljs") if importlib.util.find_spec(name) is None]
        if missing:
            raise pytest.UsageError(
                f"--benchmark-histogram needs {' and '.join(missing)}, not installed: "
                "pip install 'pytest-benchmark[histogram]', or leave the option out"
            )


BENCHMARK_GROUPINGS = ("group", "name", "func", "fullname", "fullfunc", "param")
"""What ``--benchmark-group-by`` may list for a suite's cases (pytest-benchmark's ``param:NAME`` needs parametrized
tests, which cases are not)."""


def _check_compare(config: pytest.Config) -> None:
    """Refuse ``--benchmark-compare-fail`` when ``--benchmark-compare`` found no saved run to compare with: pytest-
    benchmark says so only after the last case, with a traceback in place of the run's summary."""
    benchmarks = getattr(config, "_benchmarksession", None)  # pytest-benchmark's session (it has no public handle)
    if getattr(benchmarks, "compare_fail", None) and not getattr(benchmarks, "compared_mapping", True):
        if not getattr(benchmarks, "compare", True):
            raise pytest.UsageError("--benchmark-compare-fail needs --benchmark-compare; nothing was measured")
        raise pytest.UsageError(
            "--benchmark-compare-fail: --benchmark-compare found no saved run to compare with "
            f"(in {short_name(str(getattr(benchmarks, 'storage', '?')), 100)}); nothing was measured"
        )


def _source(config: pytest.Config, option: str, variable: str) -> str:
    """What chose a folder: the variable it came from, else the option as the user typed it."""
    if not config.getoption(option) and os.environ.get(variable):
        return f"${variable}"
    return _option_as_given(config, option)


def _shown(path: Path) -> str:
    return short_name(str(path), 120)


def pytest_collection_finish(session: pytest.Session) -> None:
    items = [item for item in session.items if isinstance(item, CaseItem)]
    config = session.config
    resume = config.stash.get(RESUME_KEY, None)
    if _runs_no_case(config) or not (items or resume) or _nothing_will_run(session):
        return
    if not config.stash.get(COLLECTED_KEY, False):  # collection was stopped (Ctrl-C, pytest.exit): nothing runs
        return
    # -p no:benchmark: each case would error, none measured (loaded by its module name, it has another plugin name)
    if not (config.pluginmanager.hasplugin("benchmark") or getattr(config, "_benchmarksession", None) is not None):
        raise pytest.UsageError("-p no:benchmark: a suite run needs pytest-benchmark, which times them; drop it")
    # only where suites run: the plugin is loaded in every pytest session of the environment
    _check_cache()
    _check_benchmark_options(config)
    _check_compare(config)
    if _benchmarks_disabled(config):
        _start_smoke(config, len(items))
        return
    if config.getoption("--bench-report", False):
        _check_references(items, resume.done if resume else ())
    from bench.hardware import environment
    from bench.runner import Session

    meta = _run_meta(config, config.stash.get(SELECTED_KEY, items), environment(str(config.rootpath)))
    meta["cases_selected"] = len(items)
    writer = _open_writer(config, meta, resume, items)
    config.stash[SESSION_KEY] = Session(writer, meta["environment"])
    _stop_on_sigterm(config)
    _show_progress(session, items)


def _benchmarks_disabled(config: pytest.Config) -> bool:
    """Whether pytest-benchmark times nothing in this session: ``--benchmark-disable`` (unless ``--benchmark-enable``
    overrides it), or its own switch-off (under xdist)."""
    benchmarks = getattr(config, "_benchmarksession", None)  # pytest-benchmark's session (it has no public handle)
    return bool(getattr(benchmarks, "disabled", False))


class TimingOff(NamedTuple):
    """Why pytest-benchmark times nothing in a session, as the bench summary and its refusals say it."""

    who: str
    """What switched timing off, as the summary's line starts: ``--benchmark-disable``, or pytest-benchmark itself."""
    said: str
    """The same as a clause: ``--benchmark-disable times nothing``."""
    remedy: str
    """What measures the cases: ``drop --benchmark-disable``."""


BY_OPTION = TimingOff("--benchmark-disable", "--benchmark-disable times nothing", "drop --benchmark-disable")


def _timing_off(config: pytest.Config) -> TimingOff:
    """Why pytest-benchmark times nothing in this session (:func:`_benchmarks_disabled`): the option, where it was
    given (and not overridden by ``--benchmark-enable``), else pytest-benchmark's own switch-off, which it keeps only
    as the warning it gives: under pytest-xdist (its session's ``xdist_warning``; an xdist worker's config), or
    without Python's ``statistics`` module. Before, the summary named ``--benchmark-disable`` for all of them."""
    if config.getoption("benchmark_disable", False) and not config.getoption("benchmark_enable", False):
        return BY_OPTION
    benchmarks = getattr(config, "_benchmarksession", None)
    if getattr(benchmarks, "xdist_warning", False) or hasattr(config, "workerinput") or hasattr(config, "slaveinput"):
        return TimingOff(
            "pytest-xdist (pytest-benchmark times nothing under it)",
            "pytest-benchmark times nothing under pytest-xdist",
            "run without pytest-xdist's -n and --dist",
        )
    if getattr(sys.modules.get("pytest_benchmark.session"), "statistics", True) is None:  # what its session checks
        return TimingOff(
            "pytest-benchmark (it could not import Python's statistics module, and times nothing without it)",
            "pytest-benchmark times nothing without Python's statistics module",
            "use a Python whose statistics module imports",
        )
    return TimingOff(
        "pytest-benchmark (it switched its timing off)",
        "pytest-benchmark switched its timing off",
        "see pytest-benchmark's warning",
    )


RUN_OPTIONS = ("--bench-report", "--bench-resume", "--bench-run-id")
"""The plugin's options about the run a session writes: refused where it writes none (``--benchmark-disable``)."""


def _start_smoke(config: pytest.Config, cases: int) -> None:
    """``--benchmark-disable`` (pytest-benchmark: "benchmarked functions are only ran once and no stats are
    reported"), or pytest-benchmark's own switch-off (:func:`_timing_off`): each case is built, compressed, prepared
    and called once, as a check that it runs, with no warm-up and no pass (it warmed, then was recorded skipped: a
    run of cases that read as not measured). No run is written; the options about one are refused."""
    off = _timing_off(config)
    for option in RUN_OPTIONS:
        if config.getoption(option, None):
            given = _option_as_given(config, option)
            if off is BY_OPTION:
                raise pytest.UsageError(f"{given}: {off.said} and writes no run; drop one of them")
            raise pytest.UsageError(
                f"{given}: {off.said}, so this session writes no run; drop {given}, or {off.remedy}"
            )
    from bench.runner import Session

    config.stash[SMOKE_KEY] = _Smoke(Session(None, {}), cases)


def _show_progress(session: pytest.Session, items: list[CaseItem]) -> None:
    """Draw the run's progress line (:mod:`bench.progress`) in place of pytest's dots, where it is wanted and the
    session runs suite cases only (an ordinary test's dot would land in the line)."""
    config = session.config
    stream = config.stash.get(TERMINAL_KEY, None)
    mode = wanted(config, stream)
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if mode is None or reporter is None or len(items) != len(session.items):
        return
    cases = [
        (
            item.nodeid,
            item.case.full_id,
            estimate_keys(item.case.model.label, item.case.engine.label, item.case.compression.label),
        )
        for item in items
    ]
    from bench.results import past_case_seconds

    bench_session = config.stash[SESSION_KEY]
    nodeids = {item.case.full_id: item.nodeid for item in items}
    try:
        past = past_case_seconds(
            nodeids, bench_session.environment, _results_dir(config), exclude=bench_session.writer.path
        )
    except (OSError, ValueError):  # a guess to plan by never stops a run
        past = {}
    color = config.get_terminal_writer().hasmarkup
    prior = {nodeids[case]: seconds for case, seconds in past.items()}
    display = ProgressDisplay(stream, cases, color=color, force=mode == "force", prior=prior)
    reporter.showfspath = False  # pytest's "suites/x.yaml " before the dots: the line names the case instead
    config.pluginmanager.register(display, PROGRESS_PLUGIN)


def _nothing_will_run(session: pytest.Session) -> bool:
    """True when pytest will stop before the first case (a collection error, unless --continue-on-collection-errors)
    or skip every case (--benchmark-skip): no run is opened, so no empty run is left in the results folder. With
    --benchmark-only too (``bench run -- --benchmark-skip``), pytest-benchmark runs them: its own ``skip`` says so
    (read as the option, every case failed with a KeyError, no run having been opened)."""
    config = session.config
    collection_failed = session.testsfailed and not config.option.continue_on_collection_errors
    benchmarks = getattr(config, "_benchmarksession", None)  # pytest-benchmark's session (it has no public handle)
    skip = getattr(benchmarks, "skip", config.getoption("benchmark_skip", False))
    return bool(collection_failed or skip)


NO_CASE_RUNS = ("collectonly", "setuponly", "setupplan", "showfixtures", "show_fixtures_per_test")
"""pytest's options (their ``dest``) under which it collects the cases but calls none: ``--collect-only``,
``--setup-only`` and ``--setup-plan`` (fixtures set up, or only listed), ``--fixtures``, ``--fixtures-per-test``."""


def _runs_no_case(config: pytest.Config) -> bool:
    """True for a session that calls no case: it opens no run, nor resumes one. An empty run, ``finished`` with no
    record, was left behind (the newest, which ``latest`` then named), or a resumed run gained a resumption that
    measured nothing."""
    return any(getattr(config.option, dest, False) for dest in NO_CASE_RUNS)


def _run_meta(config: pytest.Config, items: list[CaseItem], env: dict[str, Any]) -> dict[str, Any]:
    """A new run's meta.json: start time, argv, every suite (files and their hashes, settings), cases, environment.
    A case selected twice (a suite named twice, with ``--keep-duplicates``) is refused: a run keeps one record per
    case, and its readers take a case on two lines for damage."""
    suites: dict[str, Suite] = {}
    seen: set[str] = set()
    for item in items:
        suite = item.parent.suite
        if suites.setdefault(suite.name, suite).path != suite.path:  # first: its cases would read as selected twice
            raise pytest.UsageError(
                f"{suite.path}: suite: name '{suite.name}' is also used by {suites[suite.name].path}; "
                "records are keyed by suite name, so names must be unique"
            )
        if item.case.full_id in seen:
            raise pytest.UsageError(
                f"{item.nodeid}: selected twice (a suite named twice, with --keep-duplicates); a run keeps one record "
                "per case: name each suite once"
            )
        seen.add(item.case.full_id)
    return {
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "argv": list(config.invocation_params.args),
        "suites": [_suite_meta(s) for s in suites.values()],
        "cases": [item.case.full_id for item in items],  # what the gate may expect this run to have measured
        "environment": env,
    }


def _open_writer(config: pytest.Config, meta: dict[str, Any], resume, items: list[CaseItem]):
    """A new run's writer, or under --bench-resume the stopped run's, reopened after checking it may continue."""
    from bench.results import RunWriter, new_run_id

    if resume is not None:
        from bench.resume import check_same, reopen, resumed_meta

        try:
            check_same(resume, meta["suites"], meta["environment"])
        except BenchError as err:
            raise pytest.UsageError(_as_given(config, err)) from None
        update = resumed_meta(resume, meta["cases"], len(items), meta["argv"])
        try:
            return reopen(resume, update)
        except BenchError as err:  # another resumption of the run started at the same time and holds it
            raise pytest.UsageError(_as_given(config, err)) from None
        except OSError as err:  # a full disk, a read-only results folder: nothing was measured, the run is unchanged
            where = _shown(Path(err.filename)) if isinstance(err.filename, str) else _shown(resume.path)
            raise pytest.UsageError(
                f"{_resume_option(config)} {resume.path.name!r}: cannot write {where} ({os_reason(err)}); the run is "
                "left as it was"
            ) from None
    chosen = config.getoption("--bench-run-id")
    tries = 8
    for _ in range(tries):
        run_id = chosen or new_run_id()
        try:
            return RunWriter(_results_dir(config), run_id, meta)
        except FileExistsError:  # another run took the id since pytest_configure checked it
            if chosen:
                option = _option_as_given(config, "--bench-run-id")
                raise pytest.UsageError(f"{option} {run_id!r}: already taken; runs are never overwritten") from None
            # two runs started in the same second drew the same random suffix: draw again
        except OSError as err:
            raise pytest.UsageError(
                f"{_results_name(config)} {_shown(_results_dir(config))}: cannot write a run there ({os_reason(err)})"
            ) from None
    raise pytest.UsageError(
        f"{_results_name(config)} {_shown(_results_dir(config))}: no free run id after {tries} tries"
    )


class _InterruptWatch:
    """Notes a Ctrl-C, or a ``pytest.exit()``, that stopped the session. pytest reports a suite it could not collect
    as interrupted too (exit status 2, through a KeyboardInterrupt of its own, ``Session.Interrupted``), and a stop
    that ``--stepwise`` asked for: neither is a Ctrl-C."""

    def __init__(self, config: pytest.Config):
        self.config = config

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        if isinstance(excinfo.value, pytest.exit.Exception):
            self.config.stash.setdefault(EXIT_KEY, " ".join(str(excinfo.value.msg).split())[:200])
        elif isinstance(excinfo.value, KeyboardInterrupt) and not isinstance(excinfo.value, pytest.Session.Interrupted):
            self.config.stash.setdefault(STOPPED_KEY, "Ctrl-C")


def stopped_by(config: pytest.Config) -> str | None:
    """``Ctrl-C`` or ``SIGTERM`` when one stopped the session (before, during or after the cases), else ``None``:
    pytest's exit status 2 alone does not tell an interrupt from a suite it could not collect."""
    return config.stash.get(STOPPED_KEY, None)


def stop_of(session: pytest.Session) -> dict[str, str]:
    """What stopped the session, as the run's ``meta.json`` records it: ``stopped_by`` (``Ctrl-C``, ``SIGTERM``,
    ``pytest.exit()``, ``-x/--maxfail``, ``pytest`` for a stop a plugin such as ``--stepwise`` asked for, ``internal
    error`` for a hook that raised, or ``write error`` for a results folder that refused the run's writes) and,
    but for a signal, ``stop_reason`` (the reason pytest gave, or the file refused and why); empty when nothing did.
    A stop pytest asks for after the last case (``-x`` on the last case, a ``pytest.exit()`` once it ran) stopped
    nothing: the run finished."""
    config = session.config
    bench_session = config.stash.get(SESSION_KEY, None)
    if bench_session is not None and bench_session.writer.write_error is not None:
        return {"stopped_by": "write error", "stop_reason": bench_session.writer.write_error}
    if STOPPED_KEY in config.stash:
        return {"stopped_by": config.stash[STOPPED_KEY]}
    if config.stash.get(ALL_RAN_KEY, False):
        return {}
    if EXIT_KEY in config.stash:
        return {"stopped_by": "pytest.exit()", "stop_reason": config.stash[EXIT_KEY]}
    if session.exitstatus == pytest.ExitCode.INTERNAL_ERROR:
        return {"stopped_by": "internal error", "stop_reason": "pytest's INTERNALERROR: a plugin's hook raised"}
    if session.shouldfail:
        return {"stopped_by": "-x/--maxfail", "stop_reason": str(session.shouldfail)}
    if session.shouldstop:
        return {"stopped_by": "pytest", "stop_reason": str(session.shouldstop)}
    return {}


def _stop_on_sigterm(config: pytest.Config) -> None:
    """SIGTERM (a CI timeout, ``kill``) stops the run like Ctrl-C: finished cases are kept and meta.json says
    ``interrupted`` (``stopped_by: SIGTERM``) instead of ``running`` forever."""
    held = contextlib.ExitStack()  # the handler before is put back when the session's config is cleaned up
    held.enter_context(sigterm_as_interrupt(lambda name: config.stash.setdefault(STOPPED_KEY, name)))
    config.add_cleanup(held.close)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int):
    """Close the run before any other plugin's session end: pytest-benchmark's own (its JSON, its storage) may raise,
    and the run must not then stay ``running`` for ever. A Ctrl-C or SIGTERM during the end of the session (the
    report, pytest-benchmark's table) stops it with the bench summary and exit status 2 (interrupted), not a
    traceback: the run's records and meta.json are already written."""
    session.config.stash[STOP_KEY] = stop_of(session)
    _close_run(session, exitstatus)
    try:
        result = yield
        if session.config.stash.get(REGRESSED_KEY, False) and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        return result
    except KeyboardInterrupt:
        session.config.stash.setdefault(STOPPED_KEY, "Ctrl-C")
        session.exitstatus = pytest.ExitCode.INTERRUPTED
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None and SUMMARY_KEY not in session.config.stash:
            reporter.write_line("")
            _summary(reporter, session.config)
        return None


def _close_run(session: pytest.Session, exitstatus: int) -> None:
    """Write the run's final meta.json (``interrupted``, with ``stopped_by``, when something stopped it), then the
    report under --bench-report. A Ctrl-C or SIGTERM meanwhile (a second one) waits until meta.json is written (see
    :meth:`RunWriter.close`), then skips the report, which says how to get it."""
    config = session.config
    bench_session = config.stash.get(SESSION_KEY, None)
    if bench_session is None:
        return
    try:
        # pytest says interrupted for a --stepwise stop too, also after the last case (nothing was left to run); an
        # internal error (a plugin's hook raised) ends the session wherever it came
        stopped = exitstatus in (pytest.ExitCode.INTERRUPTED, pytest.ExitCode.INTERNAL_ERROR)
        stopped_early = stopped and not config.stash.get(ALL_RAN_KEY, False)
        _close_writer(session, bench_session, stopped_early)
        if config.getoption("--bench-report"):
            display = config.pluginmanager.get_plugin(PROGRESS_PLUGIN)
            if display is not None:  # cleared at the session's end, once the report is written
                display.after_the_cases(f"writing the report of {bench_session.writer.run_id}")
            config.stash[REPORT_KEY] = _write_report(config, bench_session.writer)
    except KeyboardInterrupt:
        stopped = config.stash.setdefault(STOPPED_KEY, "Ctrl-C")
        if not bench_session.writer.closed:  # it came before the close could hold it
            _close_writer(session, bench_session, True)
        if config.getoption("--bench-report") and REPORT_KEY not in config.stash:
            how = f"write it with: bench report {bench_session.writer.run_id}"
            config.stash[REPORT_KEY] = f"report: not written: interrupted ({stopped}); {how}"
        session.exitstatus = pytest.ExitCode.INTERRUPTED


def _close_writer(session: pytest.Session, bench_session, interrupted: bool) -> None:
    """Close the run: ``interrupted`` when pytest says so or something stopped it before its last case (a signal,
    also one during the close itself, ``pytest.exit()``, ``-x``; :func:`stop_of` says which, in ``stopped_by`` and
    ``stop_reason``), else ``finished``."""
    config = session.config
    by = stop_of(session)
    bench_session.writer.close(
        "interrupted" if interrupted or by else "finished",
        **by,
        finished_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        wall_time_s=time.perf_counter() - config.stash[START_KEY],
        measure_time_s=bench_session.timer.measuring_s,
        phase_time_s={k: round(v, 3) for k, v in bench_session.timer.seconds.items()},
    )


def _write_report(config: pytest.Config, writer) -> str:
    """Write the run's report; returns the lines the terminal summary shows (the path, or why it failed, and the
    groups it could not score)."""
    from bench.errors import BenchError, printable
    from bench.report import write_report

    reports_dir = _reports_dir(config)
    try:
        folder, result = write_report(writer.path, reports_dir=reports_dir)
    except BenchError as err:  # e.g. a damaged section in meta.json: the results are safe, only the report is not
        return f"report: not written: {err}"
    except OSError as err:  # a folder on the way that is a file, a full disk: the results are safe too
        name = _source(config, "--bench-reports-dir", "BENCH_REPORTS_DIR")
        return f"report: not written: {name} {_shown(reports_dir)}: cannot write there ({os_reason(err)})"
    unscored = result.unscored_line()  # a failed or skipped reference case: the other groups are scored
    return f"report: {folder / 'index.html'}" + (f"\nreport: {printable(unscored)}" if unscored else "")


def _reports_dir(config: pytest.Config) -> Path:
    chosen = config.getoption("--bench-reports-dir") or os.environ.get("BENCH_REPORTS_DIR")
    return Path(chosen) if chosen else config.rootpath / "reports"


def time_breakdown(phases: dict[str, float], wall: float) -> str:
    """Where a run's wall time went, as shares: the timed calls first, then each other measuring phase that took
    time, then set-up (everything else: model builds, compression, engine preparation, pytest itself)."""
    if wall <= 0:
        return "no time measured"
    parts = [f"{phases.get('timed calls', 0.0) / wall:.0%} in timed calls"]
    parts += [f"{s / wall:.0%} {phase}" for phase, s in phases.items() if phase != "timed calls" and s]
    parts.append(f"{max(0.0, wall - sum(phases.values())) / wall:.0%} set-up")
    return ", ".join(parts)


@pytest.hookimpl(wrapper=True, trylast=True)  # the innermost: after pytest-benchmark's table, whatever the order
def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config):
    """The bench summary, after every plugin's. pytest-benchmark raises ``PerformanceRegression`` once it has listed
    what ``--benchmark-compare-fail`` found: that traceback took the place of the summary and of pytest's last lines.
    The regressions fail the session instead (exit status 1, see :func:`pytest_sessionfinish`)."""
    from pytest_benchmark.session import PerformanceRegression

    try:
        yield
    except PerformanceRegression:
        config.stash[REGRESSED_KEY] = True
        terminalreporter.write_line(
            "--benchmark-compare-fail: performance regressed against the saved run (above): exit status 1",
            red=True,
        )
    _summary(terminalreporter, config)


def not_run_count(writer) -> int:
    """How many of the run's cases (``meta.json``'s ``cases``: those selected, and under --bench-resume those of its
    earlier parts too) have no record: what a stop before them (``-x``, ``--maxfail``, Ctrl-C) left unmeasured."""
    return max(0, len(writer.meta.get("cases") or ()) - writer.saved)


def _summary(terminalreporter, config: pytest.Config) -> None:
    """The bench summary: the run's id, counts and time, where its results are, and the report's lines; under
    ``--benchmark-disable``, what its cases' single calls did."""
    smoke = config.stash.get(SMOKE_KEY, None)
    if smoke is not None:
        config.stash[SUMMARY_KEY] = True
        counts = smoke.counts
        not_run = max(0, smoke.cases - sum(counts.values()))
        terminalreporter.write_sep("-", "bench")
        off = _timing_off(config)
        terminalreporter.write_line(
            f"{off.who}: each case built and called once, nothing timed: {counts['ran']} ran, "
            f"{counts['failed']} failed, {counts['skipped']} skipped{f', {not_run} not run' if not_run else ''}; "
            f"no run written ({off.remedy} to measure them)"
        )
        return
    bench_session = config.stash.get(SESSION_KEY, None)
    if bench_session is None:
        return
    config.stash[SUMMARY_KEY] = True
    writer = bench_session.writer
    meta = writer.meta
    wall = meta.get("wall_time_s") or (time.perf_counter() - config.stash[START_KEY])
    counts = writer.counts
    not_run = not_run_count(writer)
    unrun = f", {not_run} not run ({_resume_option(config)} {writer.run_id} runs them)" if not_run else ""
    terminalreporter.write_sep("-", "bench")
    terminalreporter.write_line(
        f"run {writer.run_id}: {counts['ok']} ok, {counts['failed']} failed, {counts['skipped']} skipped{unrun}; "
        f"{wall:.1f} s wall time: {time_breakdown(meta.get('phase_time_s') or bench_session.timer.seconds, wall)}"
    )
    terminalreporter.write_line(f"results: {writer.path}")
    if terminalreporter.stats.get("failed") and one_line_failures(config):
        terminalreporter.write_line(
            "failed cases: one line each above; --tb=short (or --tb=long) shows their tracebacks"
        )
    if REPORT_KEY in config.stash:
        for line in config.stash[REPORT_KEY].splitlines():
            terminalreporter.write_line(line)

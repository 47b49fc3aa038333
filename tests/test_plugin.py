"""End to end: `pytest --benchmark-only suites/` with the plugin, as a user runs it (pytester)."""

from __future__ import annotations

import importlib
import json
import os
import signal
from pathlib import Path

import pytest

from bench.results import list_runs, load, load_meta, load_samples
from tests.helpers import TINY_MEASURE

ROOT = Path(__file__).resolve().parents[1]
TINY_SUITE = (
    "suite: tiny\nmodels: [dlrm-tiny]\ncompression: [fp32, bf16]\nhardware: {cpu: {threads: [1]}}\n"
    "batch_sizes: [1, 8]\n" + TINY_MEASURE
)


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makefile(".yaml", **{"suites/tiny": TINY_SUITE})
    return pytester


def test_every_case_is_a_benchmarked_item_with_a_readable_id(project):
    result = project.runpytest("--benchmark-only", "suites/", "--bench-results", "out", "-v", "-p", "no:randomly")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(
        [
            "*suites/tiny.yaml::tiny::dlrm-tiny[[]fp32-cpu-1t-bs1[]] PASSED*",
            "*suites/tiny.yaml::tiny::dlrm-tiny[[]bf16-cpu-1t-bs8[]] PASSED*",
            "*benchmark 'tiny::dlrm-tiny': 4 tests*",  # pytest-benchmark's own table
            "run *: 4 ok, 0 failed, 0 skipped; * s wall time: *% in timed calls, *% warm-up, *% memory, *% set-up",
        ]
    )
    frame = load(results_dir=project.path / "out")
    # run order: the suite's, each accuracy group led by its largest batch (it evaluates cheapest)
    assert frame["case_id"].tolist() == [f"dlrm-tiny[{c}-cpu-1t-bs{b}]" for c in ("fp32", "bf16") for b in (8, 1)]
    assert (frame["status"] == "ok").all() and (frame["rounds"] >= 5).all()
    assert frame["torch_version"].notna().all() and frame["cpu_model"].notna().all()
    samples = load_samples(results_dir=project.path / "out")
    assert {len(v) for v in samples.values()} == set(frame["rounds"])
    meta = load_meta(results_dir=project.path / "out")
    assert meta["status"] == "finished" and meta["suites"][0]["name"] == "tiny"
    assert 0 < meta["measure_time_s"] < meta["wall_time_s"]
    assert 0 < meta["phase_time_s"]["timed calls"] < meta["measure_time_s"]
    assert sum(meta["phase_time_s"].values()) == pytest.approx(meta["measure_time_s"], abs=0.01)


def test_k_selects_cases_and_benchmark_json_carries_extra_info(project):
    result = project.runpytest(
        "--benchmark-only", "suites/", "--bench-results", "out", "-k", "bf16 and bs8", "--benchmark-json", "b.json"
    )
    result.assert_outcomes(passed=1, deselected=3)
    data = json.loads((project.path / "b.json").read_text())
    (bench,) = data["benchmarks"]
    assert bench["extra_info"]["case_id"] == "dlrm-tiny[bf16-cpu-1t-bs8]"
    assert bench["extra_info"]["model_size_bytes"] > 0
    assert load(results_dir=project.path / "out")["case_id"].tolist() == ["dlrm-tiny[bf16-cpu-1t-bs8]"]


def test_a_selection_without_the_reference_cases_is_refused_before_the_run_when_a_report_is_asked_for(project):
    """-k bf16 with --bench-report measured every bf16 case, then the report failed: no fp32 case to score against."""
    result = project.runpytest("--benchmark-only", "suites/", "--bench-results", "out", "-k", "bf16", "--bench-report")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: --bench-report: the selected cases leave out tiny::dlrm-tiny[[]fp32-cpu-1t-bs*[]], the reference "
            "case the report scores tiny::dlrm-tiny[[]bf16-cpu-1t-bs*[]] against; select it too (e.g. widen -k), or "
            "run without the report"
        ]
    )
    assert not (project.path / "out").exists(), "nothing was measured, no run was opened"


def test_absent_hardware_is_skipped_with_reason(project):
    pytest.importorskip("torch")
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA; the skip path needs one without")
    project.makefile(".yaml", **{"suites/gpu": "suite: gpu\nmodels: [noop]\nhardware: {cuda: {devices: [0]}}\n"})
    result = project.runpytest("--benchmark-only", "suites/gpu.yaml", "--bench-results", "out", "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*SKIPPED*cuda:0 not available*"])
    assert load(results_dir=project.path / "out").loc[0, "status"] == "skipped"


def test_bad_suite_is_a_one_line_collection_error(project):
    project.makefile(".yaml", **{"suites/broken": "suite: broken\nmodels: [dlrm-tiniy]\n"})
    result = project.runpytest("--benchmark-only", "suites/broken.yaml", "--bench-results", "out")
    assert result.ret == pytest.ExitCode.INTERRUPTED  # collection errors stop the session
    result.stdout.fnmatch_lines(["*suites/broken.yaml: models[[]0[]]: unknown model 'dlrm-tiniy'. Did you mean*"])
    assert "Traceback" not in result.stdout.str()
    assert not (project.path / "out").exists(), "nothing ran, so no run folder"


def test_yaml_outside_suites_is_not_collected(pytester):
    pytester.makefile(".yaml", config="suite: x\nmodels: [noop]\n")
    result = pytester.runpytest("--benchmark-only")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED


def test_benchmark_disable_calls_each_case_once_and_writes_no_run(project):
    """pytest-benchmark's --benchmark-disable runs each benchmarked test once, untimed: every case was built and warmed
    up (its memory pass too), then recorded skipped, in a run that read as finished."""
    calls = project.path / "calls.txt"
    model = f"{{factory: 'tests.fakes.models:build', name: lin, params: {{fail_at_batch: 2, calls_file: '{calls}'}}}}"
    project.makefile(".yaml", **{"suites/once": f"suite: once\nmodels: [{model}]\nbatch_sizes: [1, 2, 3]\n"})
    result = project.runpytest("suites/once.yaml", "--benchmark-disable", "--bench-results", "out")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*model cannot take batch 2*",
            "--benchmark-disable: each case built and called once, nothing timed: 2 ran, 1 failed, 0 skipped; no run "
            "written (drop --benchmark-disable to measure them)",
        ]
    )
    assert sorted(calls.read_text().split()) == ["1", "2", "3"]  # one call each, no warm-up
    assert not (project.path / "out").exists(), "nothing was measured, so no run folder"


@pytest.mark.filterwarnings("ignore::pytest_benchmark.logger.PytestBenchmarkWarning")  # its own word on xdist
def test_a_session_pytest_benchmark_times_nothing_in_under_xdist_is_said_to_be_so_not_benchmark_disable(
    project, monkeypatch
):
    """pytest-benchmark switches its timing off by itself under pytest-xdist (a worker has PYTEST_XDIST_WORKER set):
    the summary said "--benchmark-disable: ... (drop --benchmark-disable to measure them)", an option never given."""
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw0")  # what pytest-benchmark reads to tell it runs under xdist
    result = project.runpytest("suites/", "-k", "fp32 and bs1", "--bench-results", "out")
    result.assert_outcomes(passed=1, deselected=3)
    result.stdout.fnmatch_lines(
        [
            "pytest-xdist (pytest-benchmark times nothing under it): each case built and called once, nothing timed: "
            "1 ran, 0 failed, 0 skipped; no run written (run without pytest-xdist's -n and --dist to measure them)"
        ]
    )
    assert "--benchmark-disable" not in result.stdout.str()
    result = project.runpytest("suites/", "--bench-results", "out", "--bench-run-id", "r1")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: --bench-run-id: pytest-benchmark times nothing under pytest-xdist, so this session writes no run; "
            "drop --bench-run-id, or run without pytest-xdist's -n and --dist"
        ]
    )


def test_why_timing_is_off_is_read_from_what_pytest_benchmark_looked_at(monkeypatch):
    from types import SimpleNamespace

    import pytest_benchmark.session

    from bench.plugin import BY_OPTION, _timing_off

    def config(disable=False, enable=False, xdist=False, **more):
        options = {"benchmark_disable": disable, "benchmark_enable": enable}
        session = SimpleNamespace(disabled=True, xdist_warning=xdist)
        return SimpleNamespace(
            getoption=lambda name, default=None: options.get(name, default), _benchmarksession=session, **more
        )

    assert _timing_off(config(disable=True)) is BY_OPTION
    assert _timing_off(config(disable=True, xdist=True)) is BY_OPTION  # given, the option is why: xdist warns not
    assert _timing_off(config(disable=True, enable=True, xdist=True)).who.startswith("pytest-xdist")  # overridden
    assert _timing_off(config(workerinput={})).who.startswith("pytest-xdist")  # an xdist worker's own config
    assert "switched its timing off" in _timing_off(config()).who  # a reason of a later pytest-benchmark
    monkeypatch.setattr(pytest_benchmark.session, "statistics", None)
    assert "statistics module" in _timing_off(config()).who


STOPPING_SUITE = (  # batch 3 runs first (the largest batch of an accuracy group), fails, and -x stops there
    "suite: stop\nmodels: [{factory: 'tests.fakes.models:build', name: lin, params: {fail_at_batch: 3}}]\n"
    "batch_sizes: [1, 2, 3]\n" + TINY_MEASURE
)


@pytest.mark.parametrize("stop", [["-x"], ["--maxfail", "1"]])
def test_the_summary_counts_the_cases_a_stop_left_unrun(project, stop):
    """After -x or --maxfail stopped the session, the bench summary said "0 ok, 1 failed, 0 skipped": the two cases
    never run went uncounted, though meta.json lists them."""
    project.makefile(".yaml", **{"suites/stop": STOPPING_SUITE})
    args = ("--benchmark-only", "suites/stop.yaml", "--bench-results", "out", "--bench-run-id", "r1", *stop)
    result = project.runpytest(*args)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["run r1: 0 ok, 1 failed, 0 skipped, 2 not run (--bench-resume r1 runs them); *"])
    assert len(load_meta("r1", results_dir=project.path / "out")["cases"]) == 3


def test_the_benchmark_disable_summary_counts_the_cases_a_stop_left_unrun(project):
    project.makefile(".yaml", **{"suites/stop": STOPPING_SUITE})
    result = project.runpytest("suites/stop.yaml", "--benchmark-disable", "-x")
    result.assert_outcomes(failed=1)
    said = "--benchmark-disable: each case built and called once, nothing timed: 0 ran, 1 failed, 0 skipped, 2 not run"
    result.stdout.fnmatch_lines([f"{said}; *"])


@pytest.mark.parametrize("option", [["--bench-report"], ["--bench-run-id", "r1"]])
def test_benchmark_disable_refuses_the_options_about_a_run_it_does_not_write(project, option):
    result = project.runpytest("suites/", "--benchmark-disable", "--bench-results", "out", *option)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {option[0]}: --benchmark-disable times nothing and writes no run; drop one*"])
    assert not (project.path / "out").exists()


def test_failing_case_is_recorded_and_others_still_run(project):
    project.makefile(
        ".yaml",
        **{
            "suites/flaky": "suite: flaky\nmodels: [{factory: 'tests.fakes.models:build', name: lin, "
            "params: {fail_at_batch: 2}}]\nbatch_sizes: [1, 2, 3]\n" + TINY_MEASURE
        },
    )
    result = project.runpytest("--benchmark-only", "suites/flaky.yaml", "--bench-results", "out")
    result.assert_outcomes(passed=2, failed=1)
    frame = load(results_dir=project.path / "out").set_index("case_id")
    assert frame.loc["lin[fp32-cpu-1t-bs2]", "error"] == "RuntimeError: model cannot take batch 2"
    assert frame.loc["lin[fp32-cpu-1t-bs3]", "status"] == "ok"


def test_killed_run_keeps_every_finished_case(project, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    project.makefile(
        ".yaml",
        **{
            "suites/crash": "suite: crash\nmodels: [{factory: 'tests.fakes.models:build', name: lin, "
            "params: {kill_at_batch: 3}}]\nbatch_sizes: [1, 2, 3, 4]\n" + TINY_MEASURE
        },
    )
    result = project.runpytest_subprocess("--benchmark-only", "suites/crash.yaml", "--bench-results", "out")
    assert result.ret == -signal.SIGKILL
    frame = load(results_dir=project.path / "out")
    # the largest batch runs first (it hosts the accuracy pass), then the suite's order up to the kill
    assert frame["case_id"].tolist() == ["lin[fp32-cpu-1t-bs4]", "lin[fp32-cpu-1t-bs1]", "lin[fp32-cpu-1t-bs2]"]
    assert (frame["status"] == "ok").all()
    # never finalised, still readable; its process is gone, so it reads as killed rather than running forever
    assert list_runs(project.path / "out").loc[0, "status"] == "killed"
    assert load_meta(results_dir=project.path / "out")["process"]["pid"] > 0


@pytest.mark.parametrize("run_id", ["latest", "../escape", "has space"])
def test_bad_run_ids_are_usage_errors(project, run_id):
    result = project.runpytest("--benchmark-only", "suites/", "--bench-results", "out", "--bench-run-id", run_id)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--bench-run-id*use letters, digits*"])


def test_an_existing_run_id_is_never_overwritten(project):
    (project.path / "out" / "r1").mkdir(parents=True)
    result = project.runpytest("--benchmark-only", "suites/", "--bench-results", "out", "--bench-run-id", "r1")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*already exists; runs are never overwritten*"])


def test_two_suites_with_one_name_are_refused(project):
    project.makefile(".yaml", **{"suites/copy": TINY_SUITE})
    result = project.runpytest("--benchmark-only", "suites/", "--bench-results", "out")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*suite: name 'tiny' is also used by*"])
    assert not (project.path / "out").exists()


def test_meta_stores_the_measure_settings_and_every_suite_file_hash(pytester: pytest.Pytester):
    """What the gate needs to refuse two runs measured differently: the effective settings, and the hash of every
    file that went into the suite (its extends parents too)."""
    pytester.makefile(".yaml", **{"suites/_base": TINY_MEASURE.replace("min_rounds: 5", "min_rounds: 6")})
    pytester.makefile(
        ".yaml", **{"suites/tiny": "suite: tiny\nextends: _base.yaml\nmodels: [noop]\nbatch_sizes: [1]\n"}
    )
    result = pytester.runpytest("--benchmark-only", "suites/tiny.yaml", "--bench-results", "out")
    result.assert_outcomes(passed=1)
    (suite,) = load_meta(results_dir=pytester.path / "out")["suites"]
    assert suite["measure"]["min_rounds"] == 6 and suite["measure"]["warmup_s"] >= 0
    assert {Path(f).name for f in suite["files"]} == {"tiny.yaml", "_base.yaml"}
    assert all(len(digest) == 64 for digest in suite["files"].values())


def test_rounds_timed_after_the_first_for_precision_reach_pytest_benchmark_too(pytester: pytest.Pytester):
    """The fixture can be used once; the rounds the precision rule adds later still land in its statistics."""
    measure = "measure: {warmup_s: 0.0, min_time_s: 0.001, min_rounds: 5, max_time_s: 0.3, precision: 0.0001"
    pytester.makefile(
        ".yaml",
        **{
            "suites/tiny": TINY_SUITE.split("measure:")[0] + measure + ", memory_s: 0.01, "
            "energy: false, accuracy: false}\n"
        },
    )
    result = pytester.runpytest(
        "--benchmark-only", "suites/", "--bench-results", "out", "--benchmark-json", "b.json", "-k", "fp32 and bs1"
    )
    result.assert_outcomes(passed=1, deselected=3)
    record = load(results_dir=pytester.path / "out").iloc[0]
    assert record["precision_reached"] in (False, True) and record["rounds"] > 5  # topped up beyond min_rounds
    (bench,) = json.loads((pytester.path / "b.json").read_text())["benchmarks"]
    assert bench["stats"]["rounds"] == record["rounds"]
    assert bench["stats"]["median"] * 1000 == pytest.approx(record["latency_p50_ms"])


def test_the_rounds_after_the_first_end_where_the_latency_pass_says_and_keep_the_collector_off_as_asked():
    """The rounds after the fixture's one pedantic round stop when before_round returns False (the pass's time
    limit: a whole batch ran past max_time_s before), and keep --benchmark-disable-gc as pedantic's do."""
    import gc
    from types import SimpleNamespace

    from bench.plugin import _more_rounds

    now, collecting, rounds_asked = [0.0], [], iter([None, None, False])

    def call():
        collecting.append(gc.isenabled())
        now[0] += 0.002

    data = SimpleNamespace(seen=[], update=lambda seconds: data.seen.append(seconds))
    benchmark = SimpleNamespace(_timer=lambda: now[0], _disable_gc=True, stats=SimpleNamespace(stats=data))
    samples = _more_rounds(benchmark, call, 10, before_round=lambda: next(rounds_asked))
    assert samples == pytest.approx([2.0, 2.0]) and data.seen == pytest.approx([0.002, 0.002])
    assert collecting == [False, False] and gc.isenabled()


@pytest.mark.parametrize(("repeats", "calls"), [(1, [19]), (3, [15, 20, 20])])
def test_the_profiled_call_of_benchmark_cprofile_is_no_call_the_time_limit_predicts_from(repeats, calls):
    """--benchmark-cprofile: the fixture's pedantic makes one more call after its timed round, profiled (here 60 ms,
    30 calls' worth). Was: the pass took the round for a 62 ms call and stopped window 0 after its first call (the
    next was predicted to end past its slot), the p50's interval resting on one call fewer a window than it could."""
    from types import SimpleNamespace

    from bench.measure.timing import time_until_precise
    from bench.plugin import _time_calls
    from bench.spec import MeasureSpec

    now = [0.0]

    def clock():
        return now[0]

    def call():
        now[0] += 0.002

    class Fixture:  # pytest-benchmark's, as far as the plugin uses it
        stats = None
        _timer = staticmethod(clock)
        _disable_gc = False

        def pedantic(self, target, rounds, iterations, warmup_rounds):
            data = SimpleNamespace(data=[], update=lambda seconds: data.data.append(seconds))
            start = clock()
            target()
            data.update(clock() - start)
            self.stats = SimpleNamespace(stats=data)
            now[0] += 0.060  # the profiled call: in no sample

    fixture = Fixture()
    spec = MeasureSpec(warmup_s=0.01, min_time_s=0.05, min_rounds=20, max_time_s=0.1 * repeats, repeats=repeats)
    timed = time_until_precise(
        call, lambda *args, **kwargs: _time_calls(fixture, *args, **kwargs), spec, repeats, 20, clock, 0.002
    )
    assert [len(window) for window in timed.windows] == calls
    assert timed.samples_ms == pytest.approx([2.0] * sum(calls))  # the profiled call is in no sample
    assert len(fixture.stats.stats.data) == sum(calls)


NOOP_SUITE = "suite: nop\nmodels: [noop]\nhardware: {cpu: {threads: [1]}}\n" + TINY_MEASURE


@pytest.mark.parametrize("how", ["option", "variable"])
def test_a_results_or_reports_folder_that_cannot_be_used_is_one_line_naming_where_it_came_from(
    pytester: pytest.Pytester, monkeypatch, how
):
    """A name too long for the file system was an INTERNALERROR traceback (OSError from Path.exists); a file given
    as $BENCH_RESULTS_DIR was reported as '--bench-results', which the user never passed."""
    pytester.makefile(".yaml", **{"suites/nop": NOOP_SUITE})
    (pytester.path / "afile").write_text("")
    long_name = str(pytester.path / ("x" * 300))
    for folder, option, variable, why in [
        (long_name, "--bench-results", "BENCH_RESULTS_DIR", "unusable (file name too long)"),
        ("afile", "--bench-results", "BENCH_RESULTS_DIR", "is a file, not a folder"),
        (long_name, "--bench-reports-dir", "BENCH_REPORTS_DIR", "unusable (file name too long)"),
        ("afile", "--bench-reports-dir", "BENCH_REPORTS_DIR", "is a file, not a folder"),
        # was refused only once every case was measured: "report: not written: ... (not a directory)"
        ("afile/sub", "--bench-reports-dir", "BENCH_REPORTS_DIR", "afile is a file, not a folder"),
    ]:
        args = ["--benchmark-only", "suites/", "--bench-report", "-p", "no:cacheprovider"]
        if option == "--bench-reports-dir":
            args += ["--bench-results", "out"]
        if how == "option":
            args += [option, folder]
        else:
            monkeypatch.setenv(variable, folder)
        result = pytester.runpytest(*args)
        monkeypatch.delenv(variable, raising=False)
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        name = option if how == "option" else f"${variable}"
        result.stderr.fnmatch_lines([f"ERROR: {name} *: {why}"])
        assert "Traceback" not in result.stderr.str() + result.stdout.str() and not (pytester.path / "out").exists()


@pytest.mark.parametrize(
    "variable, value, why",
    [
        ("BENCH_ARTEFACT_CACHE", "maybe", "$BENCH_ARTEFACT_CACHE 'maybe': use 1, true, yes, on to cache *"),
        ("BENCH_CACHE_DIR", "/afile", "$BENCH_CACHE_DIR */afile: is a file, not a folder"),
        ("BENCH_CACHE_DIR", "/afile/sub", "$BENCH_CACHE_DIR */afile/sub: */afile is a file, not a folder"),
        ("BENCH_CACHE_DIR", "/" + "x" * 300, "$BENCH_CACHE_DIR *xxx: unusable (file name too long)"),
        ("BENCH_CACHE_DIR", "cache", "$BENCH_CACHE_DIR 'cache' is not an absolute path, so the cache would move *"),
    ],
)
def test_a_cache_that_cannot_be_used_is_refused_before_the_run_naming_the_variable(
    pytester: pytest.Pytester, monkeypatch, variable, value, why
):
    """Before, BENCH_ARTEFACT_CACHE=maybe cached as if it said 'on', and a cache folder that is a file (or below
    one) ran the whole suite uncached, every case training its model again, with one warning per case."""
    pytester.makefile(".yaml", **{"suites/nop": NOOP_SUITE})
    (pytester.path / "afile").write_text("")
    monkeypatch.setenv(variable, str(pytester.path) + value if value.startswith("/") else value)  # below the test's
    result = pytester.runpytest("--benchmark-only", "suites/", "--bench-results", "out", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {why}"])
    assert "Traceback" not in result.stderr.str() + result.stdout.str() and not (pytester.path / "out").exists()


def test_a_pytest_session_without_suites_is_not_refused_for_what_only_suite_runs_need(
    pytester: pytest.Pytester, monkeypatch
):
    """The plugin is loaded in every pytest session of the environment: the cache and pytest-benchmark option checks
    refused other projects' test runs (an unusable cache, a ``param:NAME`` grouping that parametrized tests have)."""
    pytester.makepyfile(test_other="import pytest\n@pytest.mark.parametrize('n', [1])\ndef test_x(n): pass\n")
    monkeypatch.setenv("BENCH_ARTEFACT_CACHE", "maybe")
    result = pytester.runpytest("--benchmark-group-by", "param:n", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.OK, result.stderr.str()


def test_pytest_benchmark_loaded_by_its_module_name_runs_a_suite(pytester: pytest.Pytester):
    """Under PYTEST_DISABLE_PLUGIN_AUTOLOAD one loads it as ``-p pytest_benchmark.plugin``: its plugin name is then
    the module's, and the suite run was refused as if it had been turned off."""
    pytester.makefile(".yaml", **{"suites/nop": NOOP_SUITE})
    result = pytester.runpytest_subprocess(
        "--benchmark-only", "suites/", "--bench-results", "out", "-p", "no:benchmark", "-p", "pytest_benchmark.plugin"
    )
    assert result.ret == pytest.ExitCode.OK, result.stderr.str()[-2000:]


@pytest.mark.parametrize("option", ["--bench-results", "--bench-reports-dir"])
def test_an_empty_folder_option_is_refused_not_taken_for_the_default(pytester: pytest.Pytester, option):
    """``--bench-results "$OUT"`` with OUT unset: before, the run went to $BENCH_RESULTS_DIR or <rootdir>/results
    without a word (and the report to <rootdir>/reports), where the user was not going to look for it."""
    pytester.makefile(".yaml", **{"suites/nop": NOOP_SUITE})
    result = pytester.runpytest("--benchmark-only", "suites/", "--bench-report", option, "", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {option}: must be a folder, got an empty path"])
    assert not (pytester.path / "results").exists() and not (pytester.path / "reports").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads folders whatever their mode")
def test_a_cache_folder_one_may_not_read_is_refused_before_the_run(pytester: pytest.Pytester, monkeypatch):
    """Before, the run went on uncached, every case training its model again, one 'not stored ... (PermissionError'
    warning per case; a read-only folder one may read is still used as it is."""
    pytester.makefile(".yaml", **{"suites/nop": NOOP_SUITE})
    cache = pytester.path / "cache"
    cache.mkdir()
    monkeypatch.setenv("BENCH_CACHE_DIR", str(cache))
    args = ["--benchmark-only", "suites/", "--bench-results", "out", "-p", "no:cacheprovider"]
    try:
        cache.chmod(0o555)
        pytester.runpytest(*args).assert_outcomes(passed=1)
        cache.chmod(0)
        result = pytester.runpytest(*args)
    finally:
        cache.chmod(0o755)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: $BENCH_CACHE_DIR {cache}: no permission to read it, so nothing could *"])


def test_no_home_folder_for_the_default_cache_is_one_line_saying_to_set_the_variable(
    pytester: pytest.Pytester, monkeypatch
):
    """A user id the password database does not know, without $HOME (some containers): before, the run started and
    each case that loads trained weights or a cached artefact failed on 'RuntimeError: Could not determine home
    directory.'."""
    pytester.makefile(".yaml", **{"suites/nop": NOOP_SUITE})
    monkeypatch.delenv("BENCH_CACHE_DIR", raising=False)

    def no_home():
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.setattr(Path, "home", no_home)
    result = pytester.runpytest("--benchmark-only", "suites/", "--bench-results", "out", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: $BENCH_CACHE_DIR is unset and there is no home folder for ~/.cache/bench: set $BENCH_CACHE_DIR"]
    )
    assert "Traceback" not in result.stderr.str() + result.stdout.str()


def test_an_empty_home_for_the_default_cache_is_one_line_saying_to_set_the_variable(
    pytester: pytest.Pytester, monkeypatch
):
    """HOME='' (some containers and service managers): before, the run cached into /.cache/bench, as Python reads an
    empty $HOME as '/'."""
    pytester.makefile(".yaml", **{"suites/nop": NOOP_SUITE})
    monkeypatch.delenv("BENCH_CACHE_DIR", raising=False)
    monkeypatch.setenv("HOME", "")
    result = pytester.runpytest("--benchmark-only", "suites/", "--bench-results", "out", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: $BENCH_CACHE_DIR is unset and there is no home folder for ~/.cache/bench ($HOME is empty): "
            "set $BENCH_CACHE_DIR"
        ]
    )
    assert "Traceback" not in result.stderr.str() + result.stdout.str()
    assert not list((pytester.path / "out").rglob("records.jsonl"))  # nothing measured


def test_a_report_that_cannot_be_written_keeps_the_run_and_says_why(pytester: pytest.Pytester, monkeypatch):
    """A report the file system refuses after the run (here a file in the place of the run's report folder; a
    reports folder below a file is refused before the run): before, the OSError's traceback ended the session after
    the run, and pytest-benchmark's table and the bench summary were never shown."""
    pytester.makefile(".yaml", **{"suites/nop": NOOP_SUITE})
    (pytester.path / "reports").mkdir()
    (pytester.path / "reports" / "r1").write_text("")
    monkeypatch.setenv("BENCH_REPORTS_DIR", "reports")
    args = ["--benchmark-only", "suites/", "--bench-results", "out", "--bench-run-id", "r1", "--bench-report"]
    result = pytester.runpytest(*args)
    result.assert_outcomes(passed=1)
    why = "report: not written: $BENCH_REPORTS_DIR reports: cannot write there (file exists)"
    result.stdout.fnmatch_lines(["run *: 1 ok, *", why])
    assert load_meta(results_dir=pytester.path / "out")["status"] == "finished"


def test_benchmark_only_overrides_benchmark_skip_and_the_cases_run(pytester: pytest.Pytester):
    """pytest-benchmark runs the cases when --benchmark-only is given beside --benchmark-skip (`bench run suite --
    --benchmark-skip`); the plugin read --benchmark-skip alone, opened no run, and every case failed with a KeyError."""
    pytester.makefile(".yaml", **{"suites/nop": NOOP_SUITE})
    result = pytester.runpytest("--benchmark-only", "--benchmark-skip", "suites/", "--bench-results", "out")
    result.assert_outcomes(passed=1)
    assert "KeyError" not in result.stdout.str()
    assert load_meta(results_dir=pytester.path / "out")["status"] == "finished"


def test_benchmark_skip_and_skip_marks_skip_the_cases_without_an_internal_error(pytester: pytest.Pytester):
    """--benchmark-skip, or a skip mark a conftest puts on the cases, was an INTERNALERROR traceback ('assert line is
    not None': a case reported no line number) after an empty run had been opened."""
    pytester.makefile(".yaml", **{"suites/nop": NOOP_SUITE})
    result = pytester.runpytest("suites/", "--bench-results", "out", "--benchmark-skip", "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["SKIPPED [[]1[]] suites/nop.yaml*: Skipping benchmark (--benchmark-skip active)."])
    assert "INTERNALERROR" not in result.stdout.str() and not (pytester.path / "out").exists()
    pytester.makeconftest(
        "import pytest\n\ndef pytest_collection_modifyitems(items):\n"
        "    for item in items:\n        item.add_marker(pytest.mark.skip(reason='not today'))\n"
    )
    result = pytester.runpytest("--benchmark-only", "suites/", "--bench-results", "out", "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["SKIPPED [[]1[]] suites/nop.yaml*: not today"])


def test_a_broken_suite_beside_good_ones_opens_no_run(pytester: pytest.Pytester):
    """pytest stops at a collection error before any case runs: an empty 'interrupted' run was left behind each time.
    With --continue-on-collection-errors the good suite runs, into a run of its own."""
    pytester.makefile(".yaml", **{"suites/nop": NOOP_SUITE, "suites/broken": "suite: b\nmodels: [nope]\n"})
    result = pytester.runpytest("--benchmark-only", "suites/", "--bench-results", "out")
    assert result.ret == pytest.ExitCode.INTERRUPTED and not (pytester.path / "out").exists()
    result.stdout.fnmatch_lines(["*suites/broken.yaml: models[[]0[]]: unknown model 'nope'. Did you mean 'noop'?*"])
    result = pytester.runpytest(
        "--benchmark-only", "suites/", "--bench-results", "out", "--continue-on-collection-errors"
    )
    result.assert_outcomes(passed=1, errors=1)
    assert len(list_runs(pytester.path / "out")) == 1


def test_a_resume_id_too_long_for_the_file_system_is_one_line(project):
    """It was an INTERNALERROR traceback (OSError: File name too long, looking for its meta.json); an id is checked
    as ``--run-id`` is before any path is looked up."""
    (project.path / "out").mkdir()
    result = project.runpytest("--benchmark-only", "suites/", "--bench-results", "out", "--bench-resume", "r" * 300)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --bench-resume 'rrr*…rrr*': use letters, digits*(at most 128*"])


@pytest.mark.parametrize(
    "option, message",
    [
        (["--benchmark-json", "."], "--benchmark-json .: is a folder; give a file name"),
        (["--benchmark-json", "nodir/b.json"], "--benchmark-json nodir/b.json: nodir is not an existing folder"),
        (
            ["--benchmark-autosave", "--benchmark-storage", "afile"],
            "--benchmark-storage afile: is a file, not a folder",
        ),
        (
            ["--benchmark-group-by", "garbage"],
            "--benchmark-group-by 'garbage': 'garbage' is none of group, name, func, fullname, fullfunc, param "
            "(comma-separated; a suite's cases have no param:NAME)",
        ),
        (
            ["--benchmark-compare-fail", "min:5%"],
            "--benchmark-compare-fail needs --benchmark-compare; nothing was measured",
        ),
        (["--benchmark-group-by", "group,param:x"], "--benchmark-group-by 'group,param:x': 'param:x' is none of *"),
        (["--benchmark-histogram", "afile/h"], "--benchmark-histogram afile/h: afile is a file, not a folder"),
        (
            ["--benchmark-cprofile", "tottime", "--benchmark-cprofile-dump", "afile/p"],
            "--benchmark-cprofile-dump afile/p: afile is a file, not a folder",
        ),
        (
            [
                "--benchmark-compare",
                "0001",
                "--benchmark-compare-fail",
                "min:5%",
                "-W",
                "ignore::pytest_benchmark.logger.PytestBenchmarkWarning",
            ],
            "--benchmark-compare-fail: --benchmark-compare found no saved run to compare with (in *); nothing was "
            "measured",
        ),
    ],
)
def test_pytest_benchmark_outputs_it_cannot_write_are_refused_before_the_run(
    pytester: pytest.Pytester, option, message
):
    """pytest-benchmark writes them after the last case: before, its traceback (IsADirectoryError, FileNotFoundError,
    NotADirectoryError) ended the session there, with the run left 'running' and no bench summary. Likewise, after
    the last case, a --benchmark-group-by it does not know ended the session on 'NotImplementedError: Unsupported
    grouping' (or a TypeError for param:NAME) in place of the summary, and --benchmark-compare-fail without a run to
    compare with on a traceback; a --benchmark-cprofile-dump below a file failed every case after its timed calls
    (FileExistsError), its measurement lost."""
    pytester.makefile(".yaml", **{"suites/nop": NOOP_SUITE})
    (pytester.path / "afile").write_text("")
    result = pytester.runpytest("--benchmark-only", "suites/", "--bench-results", "out", *option)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {message}"])
    assert not (pytester.path / "out").exists()


def test_a_benchmark_json_naming_an_earlier_runs_own_file_is_refused_before_the_run(pytester: pytest.Pytester):
    """Before: pytest-benchmark wrote its JSON over the earlier run's records.jsonl after the last case, every case
    that run measured lost (it then read as a run of 0 records and 546 damaged lines)."""
    from bench.results import RunWriter

    pytester.makefile(".yaml", **{"suites/nop": NOOP_SUITE})
    earlier = RunWriter(pytester.path / "out", "r1", {"suites": [{"name": "s"}]})
    earlier.close("finished")
    records = pytester.path / "out" / "r1" / "records.jsonl"
    records.write_text('{"kept": true}\n')
    json_file = "out/r1/records.jsonl"
    result = pytester.runpytest("--benchmark-only", "suites/", "--bench-results", "out", "--benchmark-json", json_file)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [f"ERROR: --benchmark-json {json_file}: it is records.jsonl of the run in *out/r1, what the run measured; *"]
    )
    assert records.read_text() == '{"kept": true}\n' and [p.name for p in (pytester.path / "out").iterdir()] == ["r1"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs (POSIX)")
def test_a_benchmark_json_fifo_is_refused_without_a_reader_and_written_whole_to_one(pytester: pytest.Pytester):
    """pytest-benchmark writes --benchmark-json after the last case: to a FIFO that no process read, the session hung
    there for ever, its run measured. With a reader, the JSON reaches it whole (the plugin's check keeps the FIFO
    open, so the reader is not told the data ended before it is written)."""
    import select
    import threading

    pytester.makefile(".yaml", **{"suites/nop": NOOP_SUITE})
    fifo = pytester.path / "b.json"
    os.mkfifo(fifo)
    result = pytester.runpytest_subprocess(
        "--benchmark-only", "suites/", "--bench-results", "out", "--benchmark-json", "b.json", timeout=120
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: --benchmark-json b.json: a FIFO (named pipe) that no process reads; pytest-benchmark would wait *"]
    )
    assert not (pytester.path / "out").exists()
    received = []
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)

    def read() -> None:  # open, it counts as a reader; it waits for the JSON's first bytes, then reads to the end
        select.select([reader], [], [], 100)
        os.set_blocking(reader, True)
        with os.fdopen(reader, "rb") as handle:
            received.append(handle.read())

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    result = pytester.runpytest_subprocess(
        "--benchmark-only", "suites/", "--bench-results", "out", "--benchmark-json", "b.json", timeout=120
    )
    thread.join(30)
    result.assert_outcomes(passed=1)
    assert [b["name"] for b in json.loads(received[0])["benchmarks"]] == ["noop[fp32-cpu-1t-bs1]"]


def test_pytest_benchmark_turned_off_is_refused_before_the_run(pytester: pytest.Pytester):
    """Before, 'pytest suites/ -p no:benchmark' opened a run and then errored every case ("fixture 'benchmark' not
    found"), measuring none."""
    pytester.makefile(".yaml", **{"suites/nop": NOOP_SUITE})
    result = pytester.runpytest("suites/", "--bench-results", "out", "-p", "no:benchmark")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: -p no:benchmark: a suite run needs pytest-benchmark, which times them; drop it"]
    )
    assert not (pytester.path / "out").exists()


def test_a_histogram_without_pygal_is_refused_before_the_run(pytester: pytest.Pytester, monkeypatch):
    """Before, pytest-benchmark's ImportError traceback after the last case took the place of the run's summary."""
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name.startswith("pygal") else real(name, *a)
    )
    pytester.makefile(".yaml", **{"suites/nop": NOOP_SUITE})
    result = pytester.runpytest("--benchmark-only", "suites/", "--bench-results", "out", "--benchmark-histogram")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: --benchmark-histogram needs pygal and pygaljs, not installed: pip install "
            "'pytest-benchmark[histogram]', or leave the option out"
        ]
    )
    assert not (pytester.path / "out").exists()


def test_the_run_is_closed_even_when_another_plugin_fails_at_session_end(pytester: pytest.Pytester):
    """As pytest-benchmark does when it cannot write what it was asked to (or --benchmark-histogram without pygal):
    the run used to stay 'running' because its close came after."""
    pytester.makefile(".yaml", **{"suites/nop": NOOP_SUITE})
    pytester.makeconftest(
        "import pytest\n\n@pytest.hookimpl(hookwrapper=True)\n"
        "def pytest_sessionfinish():\n    raise OSError('disk full')\n    yield\n"
    )
    pytester.runpytest_subprocess("--benchmark-only", "suites/", "--bench-results", "out")
    meta = load_meta(results_dir=pytester.path / "out")
    assert meta["status"] == "finished" and meta["counts"]["ok"] == 1


@pytest.mark.parametrize("where", ["report", "table"])
def test_an_interrupt_at_the_end_of_the_session_keeps_the_summary_and_says_so(pytester, monkeypatch, where):
    """Ctrl-C (or SIGTERM, which raises the same) while --bench-report wrote the report or pytest-benchmark printed
    its table: before, a KeyboardInterrupt traceback ended the session without the bench summary (where the run is,
    how to get its report); now the summary is shown, the run stays finished and the exit status is 2."""

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    if where == "report":
        # the module the plugin imports from (an earlier in-process run may have left another one on the package)
        monkeypatch.setattr(importlib.import_module("bench.report"), "write_report", interrupted)
    else:
        monkeypatch.setattr("pytest_benchmark.session.BenchmarkSession.display", interrupted)
    pytester.makefile(".yaml", **{"suites/nop": NOOP_SUITE})
    args = ["--benchmark-only", "suites/", "--bench-results", "out", "--bench-run-id", "r1", "--bench-report"]
    result = pytester.runpytest(*args, no_reraise_ctrlc=True)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    lines = ["run r1: 1 ok, 0 failed, 0 skipped; *", "results: *r1"]
    if where == "report":
        lines.append("report: not written: interrupted (Ctrl-C); write it with: bench report r1")
    result.stdout.fnmatch_lines(lines)
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    assert load_meta("r1", pytester.path / "out")["status"] == "finished"


def test_a_case_interrupted_during_its_timed_calls_is_not_saved_by_pytest_benchmark(pytester, monkeypatch):
    """Ctrl-C or SIGTERM half-way through a case's timed calls: bench keeps no record of the case (it is measured
    again on --resume), but pytest-benchmark saved its cut-short timing in --benchmark-json (and --benchmark-autosave,
    which --benchmark-compare reads) as a complete benchmark. Now it is marked as an error there, as a failed test."""
    plugin = importlib.import_module("bench.plugin")
    original = plugin._more_rounds  # the rounds after the fixture's first

    def cut_short(benchmark, target, *args, **kwargs):
        calls = iter(range(1000))

        def call():
            if next(calls) == 3:
                raise KeyboardInterrupt
            return target()

        return original(benchmark, call, *args, **kwargs)

    monkeypatch.setattr(plugin, "_more_rounds", cut_short)
    pytester.makefile(".yaml", **{"suites/nop": NOOP_SUITE})
    args = ["--benchmark-only", "suites/", "--bench-results", "out", "--bench-run-id", "r1"]
    args += ["--benchmark-json", "b.json"]
    result = pytester.runpytest(*args, no_reraise_ctrlc=True)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert load_meta("r1", pytester.path / "out")["status"] == "interrupted" and load("r1", pytester.path / "out").empty
    assert json.loads((pytester.path / "b.json").read_text())["benchmarks"] == []


def test_a_drawn_run_id_another_run_took_is_drawn_again(pytester, monkeypatch):
    """Two runs started in the same second may draw the same id (time + 4 hex digits): the second was refused after
    collecting with '--bench-run-id ...: already taken', an option its user never gave. Now it draws another id."""
    ids = iter(["20260101T000000Z-0000", "20260101T000000Z-0001"])
    monkeypatch.setattr(importlib.import_module("bench.results"), "new_run_id", lambda: next(ids))
    (pytester.path / "out" / "20260101T000000Z-0000").mkdir(parents=True)  # the other run's
    pytester.makefile(".yaml", **{"suites/nop": NOOP_SUITE})
    result = pytester.runpytest("--benchmark-only", "suites/", "--bench-results", "out")
    result.assert_outcomes(passed=1)
    assert load_meta("20260101T000000Z-0001", pytester.path / "out")["status"] == "finished"
    assert not any((pytester.path / "out" / "20260101T000000Z-0000").iterdir())  # the other run is left alone


def test_an_internal_error_before_the_last_case_leaves_the_run_interrupted_not_finished(pytester: pytest.Pytester):
    """A hook that raised (a progress line on a terminal it could not write to did) ended the session with pytest's
    INTERNALERROR after the first case, and meta.json said "finished": the gate and --resume took the run as whole."""
    pytester.makeconftest(
        "def pytest_runtest_logfinish(nodeid, location):\n    raise RuntimeError('a broken plugin')\n"
    )
    pytester.makefile(".yaml", **{"suites/tiny": TINY_SUITE})
    result = pytester.runpytest("--benchmark-only", "suites/", "--bench-results", "out", "--bench-run-id", "r1")
    assert result.ret == pytest.ExitCode.INTERNAL_ERROR
    meta = load_meta("r1", pytester.path / "out")
    assert meta["status"] == "interrupted" and meta["stopped_by"] == "internal error"
    assert meta["counts"]["ok"] == 1 and len(meta["cases"]) == 4


FAILING_SUITE = (
    "suite: lin\nmodels: [{factory: 'tests.fakes.models:build', name: lin, params: {fail_at_batch: 2}}]\n"
    "batch_sizes: [1, 2, 4]\n" + TINY_MEASURE
)


def test_last_failed_and_stepwise_find_the_case_that_failed(pytester: pytest.Pytester):
    """pytest 9 compares an item's structured id with the ids it reads back from its cache, parsed (the bracket as
    params); a case kept its whole name, brackets and all, so the two never matched: --lf and --ff measured every
    case again ("1 known failures not in selected tests"), --sw started from the first case each time."""
    pytester.makefile(".yaml", **{"suites/lin": FAILING_SUITE})
    args = ["--benchmark-only", "suites/", "--bench-results", "out", "-p", "no:randomly"]
    pytester.runpytest(*args).assert_outcomes(passed=2, failed=1)
    result = pytester.runpytest(*args, "--lf", "--bench-run-id", "lf")  # named: two runs in one second sort by chance
    result.assert_outcomes(failed=1, deselected=2)
    result.stdout.fnmatch_lines(["run-last-failure: rerun previous 1 failure*"])
    assert load("lf", pytester.path / "out")["case_id"].tolist() == ["lin[fp32-cpu-1t-bs2]"]
    pytester.runpytest(*args, "--sw").assert_outcomes(passed=2, failed=1)
    pytester.runpytest(*args, "--sw").assert_outcomes(passed=1, failed=1, deselected=1)  # bs1 came before bs2


@pytest.mark.parametrize(
    "option", ["--collect-only", "--setup-only", "--setup-plan", "--fixtures", "--fixtures-per-test"]
)
def test_a_session_that_calls_no_case_opens_no_run_and_resumes_none(pytester: pytest.Pytester, option):
    """--setup-only, --setup-plan, --fixtures and --fixtures-per-test collect the cases and call none of them: each
    left an empty run, 'finished' with no record, in the results folder (the newest, so `latest`), and under
    --bench-resume added a resumption that measured nothing to the run's meta.json."""
    pytester.makefile(".yaml", **{"suites/nop": NOOP_SUITE})
    args = ["--benchmark-only", "suites/", "--bench-results", "out"]
    args += ["-W", "ignore::pytest_benchmark.logger.PytestBenchmarkWarning"]  # --setup-only: "fixture was not used"
    assert pytester.runpytest(*args, option).ret == pytest.ExitCode.OK
    assert not (pytester.path / "out").exists()
    pytester.runpytest(*args, "--bench-run-id", "r1").assert_outcomes(passed=1)
    before = (pytester.path / "out" / "r1" / "meta.json").read_bytes()
    assert pytester.runpytest(*args, "--bench-resume", "r1", option).ret in (pytest.ExitCode.OK, 5)
    assert (pytester.path / "out" / "r1" / "meta.json").read_bytes() == before
    assert [run.name for run in (pytester.path / "out").iterdir()] == ["r1"]


def test_a_regression_that_benchmark_compare_fail_finds_fails_the_session_with_the_summary(pytester: pytest.Pytester):
    """pytest-benchmark raises PerformanceRegression from its table when --benchmark-compare-fail finds one: the
    session ended on that traceback, in place of the bench summary (run id, counts, where the results are) and of
    pytest's own last lines. Now its list of regressions stays, then the summary, and the exit status is 1."""
    pytester.makefile(".yaml", **{"suites/nop": NOOP_SUITE})
    args = ["--benchmark-only", "suites/", "--bench-results", "out", "--benchmark-storage", "saved"]
    pytester.runpytest(*args, "--benchmark-autosave").assert_outcomes(passed=1)
    (saved,) = (pytester.path / "saved").rglob("0001_*.json")
    data = json.loads(saved.read_text())
    for stats in (b["stats"] for b in data["benchmarks"]):  # a saved run a thousand times faster than any now
        stats.update({k: v / 1000 for k, v in stats.items() if isinstance(v, float) and k != "ops"})
    saved.write_text(json.dumps(data))
    result = pytester.runpytest(
        *args, "--bench-run-id", "r1", "--benchmark-compare", "--benchmark-compare-fail", "mean:5%"
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    result.stderr.fnmatch_lines(  # pytest-benchmark's logger writes to stderr
        [
            "*Performance has regressed:*",
            "*noop[[]fp32-cpu-1t-bs1[]] (0001_*) - Field 'mean' has failed PercentageRegressionCheck*",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "--benchmark-compare-fail: performance regressed against the saved run (above)*",
            "run r1: 1 ok, 0 failed, 0 skipped; *",
            "results: out/r1",
            "*1 passed*",
        ]
    )
    assert load_meta("r1", pytester.path / "out")["status"] == "finished"


def test_warnings_made_errors_leave_a_case_what_it_measured(pytester: pytest.Pytester):
    """-W error (or ``filterwarnings = error`` in a project's pytest configuration) raised bench's own reports about a
    case inside it: a failed accuracy pass (PassFailedWarning, which says the record keeps the other passes'
    figures), a busy machine (BusyWarning) failed the case after its timed calls and its latency was lost. They stay
    reports, shown in pytest's warnings summary; a filter that hides one still does."""
    suite = "suite: acc\nmodels: [{factory: 'tests.fakes.models:build_failing_evaluate', name: lin}]\n"
    pytester.makefile(".yaml", **{"suites/acc": suite + TINY_MEASURE})
    # pytest's own notice that bench was imported before it could rewrite it (by an earlier test) is not the point
    args = ["--benchmark-only", "suites/", "--bench-results", "out", "-W", "error"]
    args += ["-W", "ignore::pytest.PytestAssertRewriteWarning"]
    result = pytester.runpytest(*args, "--bench-run-id", "r1")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*PassFailedWarning: acc::lin[[]fp32-cpu-1t-bs1[]]: the accuracy pass failed*"])
    (record,) = load("r1", pytester.path / "out").to_dict("records")
    assert record["status"] == "ok" and record["latency_p50_ms"] > 0 and record["accuracy"] is None
    result = pytester.runpytest(*args, "-W", "ignore::bench.runner.PassFailedWarning")
    result.assert_outcomes(passed=1)
    assert "PassFailedWarning" not in result.stdout.str()


def test_a_suite_named_twice_with_keep_duplicates_is_refused_before_the_run(pytester: pytest.Pytester):
    """With --keep-duplicates, a suite named twice measured each case twice into one run: every reader then found the
    run damaged ('2 case(s) on more than one line, only the last of each read') and its meta.json listed each case
    twice."""
    pytester.makefile(".yaml", **{"suites/nop": NOOP_SUITE})
    result = pytester.runpytest(
        "--benchmark-only", "suites/nop.yaml", "suites/", "--keep-duplicates", "--bench-results", "out"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: suites/nop.yaml::nop::noop[[]fp32-cpu-1t-bs1[]]: selected twice (a suite named twice, with "
            "--keep-duplicates); a run keeps one record per case: name each suite once"
        ]
    )
    assert not (pytester.path / "out").exists()

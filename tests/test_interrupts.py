"""``bench run`` stopped by Ctrl-C (SIGINT) or SIGTERM, once or twice: its exit status tells a script what happened
(130, 143; 2 stays a bad suite or option), the finished cases are kept and ``meta.json`` never stays ``running``.

Each test runs ``bench run`` in a subprocess on a tiny suite whose fake model sends the signal to its own process."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.cli import main
from bench.results import load, read_meta
from tests import forked
from tests.helpers import TINY_MEASURE, said, write_suite

ROOT = Path(__file__).resolve().parents[1]
LAUNCH = (  # SIGINT raises KeyboardInterrupt even where the test itself runs with SIGINT ignored (a background job)
    "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "from bench.cli import main; sys.exit(main())"
)


def suite(folder: Path, params: str) -> None:
    """Batch sizes 3, 1, 2 in that order (the largest batch hosts the accuracy pass, so it runs first)."""
    model = f"{{factory: 'tests.fakes.models:build', name: lin, params: {{{params}}}}}"
    write_suite(folder, "suites/s.yaml", f"suite: s\nmodels: [{model}]\nbatch_sizes: [1, 2, 3]\n{TINY_MEASURE}")


def bench_run(folder: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """``bench run`` of the suite in ``folder``, in a process of its own (:func:`tests.forked.bench`)."""
    argv = ["run", "suites/s.yaml", "--results", "out", "--run-id", "r1", *args]
    return forked.bench(argv, folder, {**os.environ, "PYTHONPATH": str(ROOT), **env})


def meta(folder: Path) -> dict:
    return json.loads((folder / "out" / "r1" / "meta.json").read_text())


@pytest.mark.parametrize(("signal", "code", "by"), [("SIGINT", 130, "Ctrl-C"), ("SIGTERM", 143, "SIGTERM")])
def test_a_stopped_run_exits_128_plus_the_signal_and_keeps_its_finished_cases(tmp_path, signal, code, by):
    """Before, both exited 2, pytest's *interrupted*, the code of a bad suite or option: a script could not tell
    "stopped" from "my suite is wrong"."""
    suite(tmp_path, f"{'int' if signal == 'SIGINT' else 'term'}_at_batch: 2")
    done = bench_run(tmp_path, "-q")
    assert done.returncode == code, said(done.stdout, done.stderr)
    shown = "" if by == "Ctrl-C" else f" ({by})"
    assert done.stderr.splitlines()[-1] == f"bench run: interrupted{shown}; 2 finished cases are saved in out/r1"
    assert "Traceback" not in done.stdout + done.stderr
    assert meta(tmp_path)["status"] == "interrupted" and meta(tmp_path)["stopped_by"] == by
    assert load(tmp_path / "out" / "r1")["batch_size"].tolist() == [3, 1]  # batch 2 was stopped: no record of it


def test_a_collection_error_still_exits_2_and_a_finished_run_0(tmp_path):
    """pytest answers a suite it cannot collect with the same code as an interrupt (2): it stays 2, with no line
    saying the run was interrupted."""
    write_suite(tmp_path, "suites/s.yaml", "suite: s\nmodels: [no-such-model]\n")
    done = bench_run(tmp_path, "-q")
    assert done.returncode == 2
    assert "interrupted;" not in done.stderr and not (tmp_path / "out" / "r1").exists()
    suite(tmp_path, "width: 8")
    done = bench_run(tmp_path, "-q")
    assert done.returncode == 0 and meta(tmp_path)["status"] == "finished" and "interrupted" not in done.stderr


@pytest.mark.parametrize("second", ["SIGINT", "SIGTERM"])
def test_a_second_signal_while_the_run_is_closed_still_closes_it(tmp_path, second):
    """A second Ctrl-C (or a SIGTERM after it) while the run's writer wrote its final meta.json: before, it stopped
    that write, and the run said ``running`` until its process was gone (then ``killed``; on another host reading
    a shared results folder, ``running`` for ever). Now the write finishes first."""
    suite(tmp_path, "int_at_batch: 2")
    done = bench_run(tmp_path, "-q", "-p", "tests.fakes.signal_on_close", SIGNAL_ON_CLOSE=second)
    assert done.returncode == 130, said(done.stdout, done.stderr)
    assert done.stderr.splitlines()[-1] == "bench run: interrupted; 2 finished cases are saved in out/r1"
    assert "Traceback" not in done.stdout + done.stderr
    assert meta(tmp_path)["status"] == "interrupted" and meta(tmp_path)["counts"]["ok"] == 2
    assert read_meta(tmp_path / "out" / "r1")["status"] == "interrupted"
    assert not list((tmp_path / "out" / "r1").glob("*.tmp"))


@pytest.mark.parametrize(("signal", "code", "by"), [("SIGINT", 130, "Ctrl-C"), ("SIGTERM", 143, "SIGTERM")])
def test_a_signal_while_a_complete_run_is_closed_keeps_it_finished_and_skips_the_report(tmp_path, signal, code, by):
    """Every case was measured: the run is ``finished`` (meta.json written whole), the report is skipped with the
    command that writes it, and bench run still says it was stopped."""
    suite(tmp_path, "width: 8")
    done = bench_run(tmp_path, "-q", "--report", "-p", "tests.fakes.signal_on_close", SIGNAL_ON_CLOSE=signal)
    assert done.returncode == code, said(done.stdout, done.stderr)
    assert f"report: not written: interrupted ({by}); write it with: bench report r1" in done.stdout.splitlines()
    assert "Traceback" not in done.stdout + done.stderr
    assert meta(tmp_path)["status"] == "finished" and meta(tmp_path)["counts"]["ok"] == 3


@pytest.mark.parametrize(
    ("stop", "code", "line"), [((), 130, "interrupted"), (("SIGTERM",), 143, "interrupted (SIGTERM)")]
)
def test_an_interrupt_that_reaches_the_command_line_exits_128_plus_its_signal(
    tmp_path, monkeypatch, capsys, stop, code, line
):
    """A SIGTERM the plugin's handler turned into KeyboardInterrupt where pytest does not catch it (as pytest ends)
    exited 130, as a Ctrl-C. No run was opened: nothing was measured (before, "finished cases are saved")."""

    def stopped(*args, **kwargs):
        raise KeyboardInterrupt(*stop)

    monkeypatch.chdir(tmp_path)
    suite(tmp_path, "width: 8")
    monkeypatch.setattr(pytest, "main", stopped)
    assert main(["run", "suites/s.yaml"]) == code
    assert capsys.readouterr().err == f"bench run: {line} before any case ran; nothing was measured\n"


def test_a_ctrl_c_during_collection_says_nothing_was_measured_and_opens_no_run(tmp_path):
    """Before: ``bench run: interrupted; finished cases are saved``, and an empty ``interrupted`` run was left in the
    results folder (pytest ends collection with the plugin's hook even when it was interrupted)."""
    suite(tmp_path, "width: 8")
    stop = "import os, signal\ndef pytest_collection_modifyitems(items):\n    os.kill(os.getpid(), signal.SIGINT)\n"
    (tmp_path / "conftest.py").write_text(stop)
    done = bench_run(tmp_path, "-q")
    assert done.returncode == 130, said(done.stdout, done.stderr)
    assert done.stderr.splitlines()[-1] == "bench run: interrupted before any case ran; nothing was measured"
    assert not (tmp_path / "out" / "r1").exists()


def test_a_ctrl_c_during_the_first_case_says_nothing_was_measured(tmp_path):
    suite(tmp_path, "int_at_batch: 3")  # batch 3 runs first
    done = bench_run(tmp_path, "-q")
    assert done.returncode == 130, said(done.stdout, done.stderr)
    assert done.stderr.splitlines()[-1] == "bench run: interrupted before any case finished; nothing was measured"
    assert meta(tmp_path)["status"] == "interrupted" and meta(tmp_path)["counts"]["ok"] == 0


EXIT_AT_SECOND_CASE = """import pytest
SEEN = []
def pytest_runtest_setup(item):
    SEEN.append(item)
    if len(SEEN) == 2:
        pytest.exit("quota reached"{returncode})
"""


@pytest.mark.parametrize(("returncode", "code"), [("", 2), (", returncode=0", 0)])
def test_a_run_stopped_by_pytest_exit_is_interrupted_and_says_by_what(tmp_path, returncode, code):
    """A conftest's ``pytest.exit()`` after the first case: before, the run was ``finished`` (with a returncode of 0)
    or ``interrupted`` without a word of why, and bench run said nothing. Its exit status stays the one pytest.exit
    asked for (pytest's 2 when none)."""
    suite(tmp_path, "width: 8")
    (tmp_path / "conftest.py").write_text(EXIT_AT_SECOND_CASE.format(returncode=returncode))
    done = bench_run(tmp_path, "-q")
    assert done.returncode == code, said(done.stdout, done.stderr)
    line = "bench run: stopped by pytest.exit() (quota reached); 1 finished case is saved in out/r1"
    assert done.stderr.splitlines()[-1] == line
    stopped = meta(tmp_path)
    assert [stopped[k] for k in ("status", "stopped_by", "stop_reason")] == [
        "interrupted",
        "pytest.exit()",
        "quota reached",
    ]
    assert stopped["counts"]["ok"] == 1


@pytest.mark.parametrize("option", ["-x", "--stepwise"])
def test_a_run_stopped_after_a_failed_case_exits_1_and_is_interrupted(tmp_path, option):
    """``-x`` (or ``--maxfail``) after a failed case exits 1, some case failed, as before; the run said ``finished``
    although a case was never run, and now says ``interrupted`` and why. ``--stepwise`` exited 2, the status of a
    suite pytest cannot collect; now 1 as well."""
    suite(tmp_path, "fail_at_batch: 1")  # batches run 3, 1, 2: the second fails, the third never runs
    done = bench_run(tmp_path, "-q", option)
    assert done.returncode == 1, said(done.stdout, done.stderr)
    stopped = meta(tmp_path)
    by = "-x/--maxfail" if option == "-x" else "pytest"
    assert (stopped["status"], stopped["stopped_by"]) == ("interrupted", by)
    assert stopped["counts"] == {"ok": 1, "failed": 1, "skipped": 0}
    line = f"bench run: stopped by {by} ({stopped['stop_reason']}); 2 finished cases are saved in out/r1"
    assert done.stderr.splitlines()[-1] == line


def test_x_after_a_failure_of_the_last_case_is_a_finished_run(tmp_path):
    suite(tmp_path, "fail_at_batch: 2")  # the last case fails: -x stopped nothing
    done = bench_run(tmp_path, "-q", "-x")
    assert done.returncode == 1 and "stopped by" not in done.stderr
    assert meta(tmp_path)["status"] == "finished" and "stopped_by" not in meta(tmp_path)


@pytest.mark.parametrize(("exit_code", "code"), [("", 2), (", exit_code: 0", 0)])
def test_a_pytest_exit_from_inside_a_model_stops_the_run_and_records_no_failure(tmp_path, exit_code, code):
    """The model calls ``pytest.exit()`` while the second case (batch 1) is measured. Before, the case was recorded
    ``failed`` with the exit's message as its error (the run counted "1 ok, 1 failed"), and from inside an optional
    pass the exit was kept as that pass's error and the run went on. Now it stops the run as a conftest's does: the
    case has no record (``--resume`` measures it again), the first case's record stays, meta.json says what stopped
    it and why, and the exit status is the one the exit asked for (pytest's 2 when none)."""
    suite(tmp_path, f"exit_at_batch: 1{exit_code}")
    done = bench_run(tmp_path, "-q")
    assert done.returncode == code, said(done.stdout, done.stderr)
    line = "bench run: stopped by pytest.exit() (stop at batch 1); 1 finished case is saved in out/r1"
    assert done.stderr.splitlines()[-1] == line
    assert "Traceback" not in done.stdout + done.stderr
    stopped = meta(tmp_path)
    assert [stopped[k] for k in ("status", "stopped_by", "stop_reason")] == [
        "interrupted",
        "pytest.exit()",
        "stop at batch 1",
    ]
    assert stopped["counts"] == {"ok": 1, "failed": 0, "skipped": 0}
    records = load(tmp_path / "out" / "r1")
    assert records["batch_size"].tolist() == [3] and records["status"].tolist() == ["ok"]


@pytest.mark.parametrize(("outcome", "status", "code"), [("skip", "skipped", 0), ("fail", "failed", 1)])
def test_a_pytest_skip_or_fail_from_inside_a_model_is_the_case_s_record(tmp_path, outcome, status, code):
    """pytest's outcomes are not ``Exception``s: before, a ``pytest.skip()`` or ``pytest.fail()`` from the model left
    the case with no record at all (neither skipped nor failed) while pytest reported it, so ``bench report`` and
    ``--resume`` never heard of it. Now the case is recorded as pytest reports it, with the reason, and the run
    goes on to the next case."""
    suite(tmp_path, f"outcome_at_batch: 1, outcome: {outcome}")
    done = bench_run(tmp_path, "-q")
    assert done.returncode == code, said(done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    records = load(tmp_path / "out" / "r1")
    assert records["batch_size"].tolist() == [3, 1, 2]
    assert records["status"].tolist() == ["ok", status, "ok"]
    assert f"{outcome} at batch 1" in records["error"].iloc[1]
    assert meta(tmp_path)["counts"] == {"ok": 2, "failed": int(status == "failed"), "skipped": int(status == "skipped")}


def test_a_pytest_skip_from_an_optional_pass_is_that_pass_s_error_and_keeps_the_case(tmp_path, recwarn):
    """pytest's outcomes are not ``Exception``s: a ``pytest.skip()`` in an accuracy evaluation went past the pass's
    guard and voided the whole case, latency and memory already measured included."""
    from bench.results import RunWriter
    from bench.runner import Session
    from tests.test_runner import case, time_calls

    writer = RunWriter(tmp_path, "run", {})
    try:
        record = Session(writer, {}).run_case(
            case("m", factory="tests.fakes.models:build_skipping_evaluate"), time_calls
        )
    except pytest.skip.Exception:
        pytest.fail("a pytest.skip() in the accuracy pass voided the whole case")
    writer.close("finished")
    assert record.status == "ok" and record.latency_p50_ms > 0 and record.accuracy is None
    assert "accuracy: Skipped: no evaluation set here" in record.pass_errors


def test_a_pytest_exit_from_an_optional_pass_stops_the_case_instead_of_failing_the_pass(tmp_path, recwarn):
    """The accuracy pass is one of the passes whose error is kept in the record while the case goes on: before, a
    ``pytest.exit()`` there became ``pass_errors: accuracy: Exit: ...``, an ``ok`` record, and the run went on."""
    from bench.results import RunWriter
    from bench.runner import Session
    from tests.test_runner import case, time_calls

    writer = RunWriter(tmp_path, "run", {})
    with pytest.raises(pytest.exit.Exception, match="the evaluation set is gone"):
        Session(writer, {}).run_case(case("m", factory="tests.fakes.models:build_exiting_evaluate"), time_calls)
    assert writer.counts == {"ok": 0, "failed": 0, "skipped": 0}  # no record: --resume measures the case again
    assert not [w for w in recwarn if "pass failed" in str(w.message)]
    writer.close("interrupted")


@pytest.mark.skipif(importlib.util.find_spec("mlperf_loadgen") is None, reason="mlcommons-loadgen is not installed")
def test_a_pytest_exit_from_the_model_during_a_loadgen_run_stops_the_load_pass(tmp_path):
    """The SUT's worker thread serves LoadGen and hands the model's exception to the pass; before, the load pass
    kept a ``pytest.exit()`` as its error (``Exit: ...``) and the case went on as ``ok``. (An error of an earlier query
    of the same run now stops the run: the model is not called again.)"""
    from bench.measure.load import LoadSpec, load_pass

    calls = []

    def call_for(requests: int):
        def call():
            calls.append(requests)
            if len(calls) == 6:  # the warm-up's 5 calls pass; the run's first query stops the session
                pytest.exit("quota reached")

        return call

    spec = LoadSpec(scenarios=("single-stream",), min_duration_s=0.05, min_queries=10)
    with pytest.raises(pytest.exit.Exception, match="quota reached"):
        load_pass(call_for, spec, 1, tmp_path)


@pytest.mark.skipif(importlib.util.find_spec("mlperf_loadgen") is None, reason="mlcommons-loadgen is not installed")
@pytest.mark.parametrize(
    ("signal", "code", "by", "scenario"),
    [("SIGINT", 130, "", "single-stream"), ("SIGTERM", 143, " (SIGTERM)", "server"), ("SIGINT", 130, "", "offline")],
)
def test_a_signal_during_a_loadgen_run_stops_it_at_once_and_closes_the_run(tmp_path, signal, code, by, scenario):
    """Before, Ctrl-C (or SIGTERM) during a SingleStream or Server run was raised inside LoadGen's issue callback and
    thrown through LoadGen, which left its logger running: the process died of a segmentation fault (exit 139); in
    Offline it was seen only once LoadGen's run (a minute here) had ended. Now the run is drained at once and
    ``bench run`` ends as for any interrupt."""
    action = "int_at_batch" if signal == "SIGINT" else "term_at_batch"
    params = f"{action}: 1, in_load: true, load_sleep_s: 0.005"
    model = f"{{factory: 'tests.fakes.models:build', name: lin, params: {{{params}}}}}"
    load = f"load: {{scenarios: [{scenario}], min_duration_s: 60, min_queries: 10, slo: {{p99_ms: 10}}}}\n"
    write_suite(tmp_path, "suites/s.yaml", f"suite: s\nmodels: [{model}]\nbatch_sizes: [1]\n{TINY_MEASURE}{load}")
    started = time.monotonic()
    done = bench_run(tmp_path, "-q")
    assert time.monotonic() - started < 50  # a generous bound: the LoadGen run alone is 60 s long
    assert done.returncode == code, said(done.stdout, done.stderr)
    assert done.stderr.splitlines()[-1] == f"bench run: interrupted{by} before any case finished; nothing was measured"
    assert "Traceback" not in done.stdout + done.stderr
    assert meta(tmp_path)["status"] == "interrupted" and meta(tmp_path)["counts"]["ok"] == 0


def _second_ctrl_c(tmp_path, model: str, load: str, marker):
    """``bench run`` of a one-case suite of ``model`` with ``load``, whose model sends itself a first Ctrl-C in its
    load pass (and touches ``marker``); a second Ctrl-C a second later, while the first one's drain still waits.
    The process, its stdout and stderr, and the seconds from the second Ctrl-C to its end."""
    write_suite(tmp_path, "suites/s.yaml", f"suite: s\nmodels: [{model}]\nbatch_sizes: [1]\n{TINY_MEASURE}{load}")
    command = [sys.executable, "-c", LAUNCH, "run", "suites/s.yaml", "--results", "out", "--run-id", "r1", "-q"]
    environ = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(command, cwd=tmp_path, env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 90
        while not marker.exists() and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.1)
        assert marker.exists(), "the model never sent its Ctrl-C"
        time.sleep(1.0)
        assert process.poll() is None  # the first Ctrl-C waits for the drain (a hung call, or LoadGen's arrivals)
        started = time.monotonic()
        process.send_signal(__import__("signal").SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    return process, out, err, time.monotonic() - started


@pytest.mark.skipif(importlib.util.find_spec("mlperf_loadgen") is None, reason="mlcommons-loadgen is not installed")
def test_a_second_ctrl_c_ends_a_loadgen_run_whose_model_call_never_returns(tmp_path):
    """Review: after the first Ctrl-C the load pass waited for LoadGen's drain, and every later Ctrl-C or SIGTERM was
    swallowed; a model call that never returned (here: 300 s) then held the process until kill -9. Now the second
    one ends it: the run is closed (interrupted), and bench exits 130 without waiting for the hung call."""
    marker = tmp_path / "first-ctrl-c"
    params = f"int_at_batch: 1, in_load: true, hang_s: 300, marker: '{marker}'"
    model = f"{{factory: 'tests.fakes.models:build', name: lin, params: {{{params}}}}}"
    load = "load: {scenarios: [single-stream], min_duration_s: 60, min_queries: 10, slo: {p99_ms: 10}}\n"
    process, out, err, seconds = _second_ctrl_c(tmp_path, model, load, marker)
    assert seconds < 30  # a generous bound: the hung call alone is 300 s
    assert process.returncode == 130, said(out.decode(), err.decode())
    assert "a model call never returned; ended without waiting for it" in err.decode()
    assert meta(tmp_path)["status"] == "interrupted"


@pytest.mark.skipif(importlib.util.find_spec("mlperf_loadgen") is None, reason="mlcommons-loadgen is not installed")
def test_a_second_ctrl_c_ends_a_server_drain_waiting_for_arrivals_and_says_so(tmp_path):
    """A Server run stopped by Ctrl-C holds its queries until LoadGen's flush, which comes after
    ``server_max_async_queries`` more arrivals (at 5 QPS, at least 64 of them: 13 s) or its schedule's end. A second
    Ctrl-C then ends bench without waiting, as for a hung call: before, it said 'a model call never returned', though
    no call was in progress (the worker was idle, waiting for arrivals)."""
    marker = tmp_path / "first-ctrl-c"
    params = f"int_at_batch: 1, in_load: true, marker: '{marker}'"
    model = f"{{factory: 'tests.fakes.models:build', name: lin, params: {{{params}}}}}"
    load = (
        "load: {scenarios: [server], min_duration_s: 60, min_queries: 10, slo: {p99_ms: 10}, search: {start_qps: 5}}\n"
    )
    process, out, err, _ = _second_ctrl_c(tmp_path, model, load, marker)
    assert process.returncode == 130, said(out.decode(), err.decode())
    last = err.decode().splitlines()[-1]
    assert last == (
        "bench: a LoadGen run was still draining (no model call was in progress); ended without waiting for it "
        "(the run is closed)"
    )
    assert meta(tmp_path)["status"] == "interrupted"


def test_a_sys_exit_from_inside_a_model_is_a_failed_case_and_the_run_goes_on(tmp_path):
    """Before, a model's ``sys.exit(1)`` left the case with no record while pytest counted it failed (and went on):
    ``bench report`` and ``--resume`` never heard of it. Now it is a ``failed`` record saying so."""
    suite(tmp_path, "sysexit_at_batch: 1")
    done = bench_run(tmp_path, "-q")
    assert done.returncode == 1, said(done.stdout, done.stderr)
    records = load(tmp_path / "out" / "r1")
    assert records["status"].tolist() == ["ok", "failed", "ok"]
    assert records["error"].iloc[1] == "SystemExit: the model called sys.exit(1)"
    assert meta(tmp_path)["status"] == "finished"

"""`bench run --resume RUN_ID` / `pytest --bench-resume RUN_ID`: a killed run finishes with every case recorded
exactly once, whatever point the kills hit."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.cli import main
from bench.results import load, load_meta, load_samples, run_damage
from tests.helpers import TINY_MEASURE, said

ROOT = Path(__file__).resolve().parents[1]
CASES = 10
SUITE = (
    "suite: rs\nmodels: [noop]\nbatch_sizes: [" + ", ".join(str(b) for b in range(1, CASES + 1)) + "]\n"
    "measure: {warmup_s: 0.0, min_time_s: 0.08, min_rounds: 5, memory_s: 0.01, energy: false}\n"
)


def records(run: Path) -> int:
    path = run / "records.jsonl"
    return path.read_bytes().count(b"\n") if path.exists() else 0


@pytest.mark.slow
def test_resume_after_sigkill_at_five_points_records_every_case_once(tmp_path):
    (tmp_path / "suites").mkdir()
    (tmp_path / "suites" / "rs.yaml").write_text(SUITE)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    base = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--benchmark-only", "suites/rs.yaml"]
    base += ["--bench-results", "out"]
    run = tmp_path / "out" / "r"
    command, jitter, before_kill = [*base, "--bench-run-id", "r"], random.Random(11), []
    for _ in range(5):  # five SIGKILLs, each at a random moment after the process appended its first record
        target = records(run) + 1
        process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while records(run) < target and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert process.poll() is None, process.stderr.read().decode()[-2000:]
        time.sleep(jitter.uniform(0.0, 0.1))  # mid-case, mid-write or between cases
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        process.stderr.close()
        before_kill.append(records(run))
        assert load_meta(run)["status"] == "killed"
        command = [*base, "--bench-resume", "r"]
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, said(done.stdout, done.stderr)
    frame = load(run)
    assert sorted(frame["batch_size"]) == list(range(1, CASES + 1))  # every case, each exactly once
    assert frame["case_id"].is_unique and (frame["status"] == "ok").all()
    assert set(load_samples(run)) == {f"rs::{c}" for c in frame["case_id"]}
    meta = load_meta(run)
    assert meta["status"] == "finished" and meta["counts"]["ok"] == CASES
    resumed = meta["resumed"]
    assert len(resumed) == 5 and [r["status_before"] for r in resumed] == ["killed"] * 5
    assert [r["records_before"] for r in resumed] == before_kill  # a line cut short by a kill is not a record
    assert all(r["records_before"] + r["cases_remaining"] == CASES for r in resumed)
    print(f"\nresume demo: records at each kill {before_kill}; after the last resume {len(frame)}; measured twice: 0")


@pytest.fixture(scope="module")
def stopped_run(tmp_path_factory) -> Path:
    """A folder with suites/t.yaml (4 cases) and a run 'r' of it: 2 cases recorded, then stopped (interrupted)."""
    root = tmp_path_factory.mktemp("stopped")
    (root / "suites").mkdir()
    (root / "suites" / "t.yaml").write_text("suite: t\nmodels: [noop]\nbatch_sizes: [1, 2, 3, 4]\n" + TINY_MEASURE)
    cwd = os.getcwd()
    os.chdir(root)
    try:
        assert main(["run", "suites/t.yaml", "--results", "out", "--run-id", "r", "-k", "bs1 or bs2", "-q"]) == 0
    finally:
        os.chdir(cwd)
    meta = json.loads((root / "out" / "r" / "meta.json").read_text())
    (root / "out" / "r" / "meta.json").write_text(json.dumps({**meta, "status": "interrupted"}))
    return root


@pytest.fixture
def stopped(stopped_run: Path, pytester: pytest.Pytester) -> pytest.Pytester:
    for name in ("suites", "out"):
        shutil.copytree(stopped_run / name, pytester.path / name)
    return pytester


def test_resume_runs_only_the_cases_without_a_record(stopped):
    with open(stopped.path / "out" / "r" / "records.jsonl", "ab") as handle:
        handle.write(b'{"run_id": "r", "suite": "t", "case_id": "noop[fp32-cp')  # the kill cut this record short
    result = stopped.runpytest("--benchmark-only", "suites/", "--bench-results", "out", "--bench-resume", "r")
    result.assert_outcomes(passed=2, deselected=2)
    frame = load(stopped.path / "out" / "r")
    assert sorted(frame["batch_size"]) == [1, 2, 3, 4]
    meta = load_meta(stopped.path / "out" / "r")
    assert meta["status"] == "finished" and meta["counts"]["ok"] == 4 and len(meta["cases"]) == 4
    assert run_damage(stopped.path / "out" / "r") == []  # the cut line was dropped, not glued to a new record
    again = stopped.runpytest("--benchmark-only", "suites/", "--bench-results", "out", "--bench-resume", "r")
    again.assert_outcomes(deselected=4)  # nothing left: nothing measured twice
    assert len(load(stopped.path / "out" / "r")) == 4
    assert len(load_meta(stopped.path / "out" / "r")["resumed"]) == 2


def test_a_finished_resumption_does_not_keep_what_stopped_the_earlier_part(stopped):
    """Was: a run interrupted by SIGTERM (or a full disk), then resumed to the end, read "finished" with
    "stopped_by: SIGTERM" still in its meta.json. The earlier stop now stays in its resumed entry only."""
    path = stopped.path / "out" / "r" / "meta.json"
    meta = json.loads(path.read_text())
    path.write_text(json.dumps({**meta, "stopped_by": "write error", "stop_reason": "cannot write x: disk full"}))
    stopped.runpytest("--benchmark-only", "suites/", "--bench-results", "out", "--bench-resume", "r")
    meta = load_meta(stopped.path / "out" / "r")
    assert meta["status"] == "finished" and "stopped_by" not in meta and "stop_reason" not in meta
    assert meta["resumed"][-1]["stopped_by_before"] == "write error"
    assert meta["resumed"][-1]["stop_reason_before"] == "cannot write x: disk full"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("missing", "ERROR: --bench-resume 'nope': no run*"),
        ("running", "*the run is still running (pid*stop it first*"),
        ("edited", "*suites/t.yaml (or a file it extends) changed since the run started*"),
        ("other-suite", "*suite 'u' is not part of it (it has: t)*"),
        ("run-id", "*--bench-resume keeps the run's id*"),
        ("samples-folder", "ERROR: --bench-resume 'r': */samples.jsonl is not a file; start a new run*"),
        ("cases-not-a-list", "ERROR: --bench-resume 'r': */meta.json: cases: 5 is not a list of case ids*new run*"),
    ],
)
def test_resume_refusals_are_one_line_usage_errors(stopped, change, message):
    run, args = stopped.path / "out" / "r", ["--benchmark-only", "--bench-results", "out", "--bench-resume", "r"]
    suites = ["suites/t.yaml"]
    if change == "missing":
        args[-1] = "nope"
    elif change == "running":
        meta = json.loads((run / "meta.json").read_text())
        (run / "meta.json").write_text(json.dumps({**meta, "status": "running"}))  # its process: this one, alive
    elif change == "edited":
        (stopped.path / "suites" / "t.yaml").write_text(
            "suite: t\nmodels: [noop]\nbatch_sizes: [1, 2, 3, 4, 5]\n" + TINY_MEASURE
        )
    elif change == "other-suite":
        stopped.makefile(".yaml", **{"suites/u": "suite: u\nmodels: [noop]\n" + TINY_MEASURE})
        suites = ["suites/u.yaml"]
    elif change == "cases-not-a-list":  # was: TypeError in pytest's INTERNALERROR
        meta = json.loads((run / "meta.json").read_text())
        (run / "meta.json").write_text(json.dumps({**meta, "cases": 5}))
    elif change == "samples-folder":
        (run / "samples.jsonl").unlink()
        (run / "samples.jsonl").mkdir()
    else:
        args += ["--bench-run-id", "r2"]
    result = stopped.runpytest(*suites, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
    assert len(load(run)) == 2


def test_a_refused_resumption_names_the_option_the_user_gave(stopped, monkeypatch, capsys):
    """pytest's errors said '--resume', bench run's option, to a pytest user who gave --bench-resume (above); bench
    run's still say '--resume'."""
    monkeypatch.chdir(stopped.path)
    assert main(["run", "suites/t.yaml", "--results", "out", "--resume", "nope"]) == 4
    assert "ERROR: --resume 'nope': no run " in capsys.readouterr().err


def test_bench_run_resume_and_run_id_exclude_each_other(capsys):
    with pytest.raises(SystemExit) as info:
        main(["run", "suites/quick.yaml", "--run-id", "a", "--resume", "b"])
    assert info.value.code == 2 and "not allowed with argument" in capsys.readouterr().err


def test_two_resumptions_started_at_once_cannot_both_write_the_run(tmp_path):
    """Two `bench run --resume R` started together both found R stopped (each looks before it collects the
    suites), then both appended to it: every remaining case measured twice, one meta.json overwriting the other.
    Now the first to reopen the run holds it, and the second is refused with one line before it writes anything."""
    from bench.results import RunBusyError, RunWriter
    from bench.resume import reopen, resumable

    writer = RunWriter(tmp_path, "r1", {"cases": ["s::a", "s::b"]})
    writer.close("interrupted")
    first, second = resumable(tmp_path, "r1"), resumable(tmp_path, "r1")  # both see a stopped run
    holder = reopen(first, {})
    meta = (tmp_path / "r1" / "meta.json").read_text()
    with pytest.raises(RunBusyError, match=rf"^--resume 'r1': another process is writing the run \(pid {os.getpid()} "):
        reopen(second, {})
    assert (tmp_path / "r1" / "meta.json").read_text() == meta  # the holder's meta.json is untouched
    holder.close("finished")
    reopen(resumable(tmp_path, "r1"), {}).close("finished")  # a closed writer lets go of the run


def test_a_resumption_refuses_a_run_another_resumption_added_to_since_it_looked(tmp_path):
    """Two `bench run --resume R` started a little apart: the second looked at R (before collecting its suites), the
    first then reopened R, measured the cases left and closed it, and only then did the second reopen it. The lock
    was free by then, so the second measured those cases again: each on two lines, R read as damaged, the gate
    judging neither, and the first's `resumed` entry overwritten. Now the second is refused before it writes."""
    from bench.results import RunBusyError, RunWriter
    from bench.resume import reopen, resumable, resumed_meta

    meta = {"suites": [{"name": "s"}], "cases": ["s::a", "s::b"]}
    writer = RunWriter(tmp_path, "r1", meta)
    writer.append(record("a"))
    writer.close("interrupted")
    late = resumable(tmp_path, "r1")  # looks, then collects its suites for a while
    first = resumable(tmp_path, "r1")
    holder = reopen(first, resumed_meta(first, [], 1, ["first"]))
    holder.append(record("b"))
    holder.close("finished")
    before = {name: (tmp_path / "r1" / name).read_bytes() for name in ("meta.json", "records.jsonl")}
    with pytest.raises(RunBusyError, match=r"^--resume 'r1': another process resumed the run since this one looked "):
        reopen(late, resumed_meta(late, [], 1, ["late"]))
    assert {name: (tmp_path / "r1" / name).read_bytes() for name in before} == before  # nothing written
    assert sorted(load(tmp_path / "r1")["case_id"]) == ["a", "b"]
    reopen(resumable(tmp_path, "r1"), {}).close("finished")  # looked at afresh, the run may be resumed


def record(case_id: str):
    from bench.results import Record

    fields = {"model": "m", "compression": "fp32", "engine": "eager", "device": "cpu", "threads": 1, "batch_size": 1}
    return Record(run_id="r1", suite="s", case_id=case_id, status="skipped", **fields)


@pytest.mark.parametrize("run_id", ["history", "gate", "calibration", "latest", "baseline"])
def test_run_ids_that_name_the_reports_folders_of_other_commands_are_refused(run_id):
    """Was: `bench run --run-id history` then `bench report history` rebuilt reports/history, deleting bench
    history's trend charts there."""
    from bench.results import run_id_problem

    assert "not latest, baseline, history, gate, calibration)" in (run_id_problem(run_id) or "")


@pytest.mark.parametrize(
    ("name", "links", "said"),
    [
        ("records.jsonl", {"records.jsonl": "moved.jsonl"}, "a broken link (to 'moved.jsonl', which does not exist)"),
        ("samples.jsonl", {"samples.jsonl": "moved.jsonl"}, "a broken link (to 'moved.jsonl', which does not exist)"),
        ("records.jsonl", {"records.jsonl": "loop", "loop": "records.jsonl"}, "a broken link (to 'loop', a loop of"),
    ],
)
def test_a_run_file_that_is_a_broken_link_is_refused_in_one_line_before_any_case(
    stopped, monkeypatch, capsys, name, links, said
):
    """Was: a records.jsonl (or samples.jsonl) left a link to a file that no longer exists read as a run of no
    records, and the resumption appended through the link, creating its target: every case measured again, in a
    file outside the run. It is refused, naming the file as a broken link, as reading it does."""
    run = stopped.path / "out" / "r"
    for link, target in links.items():
        (run / link).unlink(missing_ok=True)
        (run / link).symlink_to(target)
    monkeypatch.chdir(stopped.path)
    assert main(["run", "suites/t.yaml", "--results", "out", "--resume", "r", "-q"]) == 4
    out, err = capsys.readouterr()
    assert f"ERROR: --resume 'r': out/r/{name} is {said}" in err and "; restore it or start a new run" in err
    assert "passed" not in out  # before any case
    assert not (run / "moved.jsonl").exists() and all((run / link).is_symlink() for link in links)
    assert json.loads((run / "meta.json").read_text())["status"] == "interrupted"

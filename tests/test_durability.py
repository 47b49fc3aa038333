"""What is written survives a power loss or a VM reset, not only a kill: a file's bytes are ``fsync``'ed before it
is renamed into place, and its folder after (``meta.json``, a promoted baseline). And a run killed where this host
cannot check its process says how long it has been quiet.

The order is checked by recording every ``fsync`` and rename the code makes: no test can cut the power."""

from __future__ import annotations

import json
import os
import socket
import stat
import time
from pathlib import Path

import pytest

from bench.cli import main
from bench.errors import BenchError
from bench.gate import history
from bench.hardware import this_process
from bench.results import RunWriter, read_meta, running_who
from bench.resume import resumable
from tests.gate_helpers import latencies, make_run


@pytest.fixture
def calls(monkeypatch) -> list[tuple[str, ...]]:
    """Every fsync (of a file: its name and size then; of a folder: its name) and rename, in order."""
    if not Path("/proc/self/fd").is_dir():
        pytest.skip("names open files through /proc")
    found: list[tuple[str, ...]] = []
    fsync, replace, rename = os.fsync, os.replace, os.rename

    def record_fsync(fd):
        name = Path(os.readlink(f"/proc/self/fd/{fd}")).name
        info = os.fstat(fd)
        found.append(("fsync folder", name) if stat.S_ISDIR(info.st_mode) else ("fsync", name, info.st_size > 0))
        return fsync(fd)

    def recording(kind, real):
        def move(src, dst, *args, **kwargs):
            found.append((kind, Path(src).name, Path(dst).name))
            return real(src, dst, *args, **kwargs)

        return move

    monkeypatch.setattr(os, "fsync", record_fsync)
    monkeypatch.setattr(os, "replace", recording("replace", replace))
    monkeypatch.setattr(os, "rename", recording("rename", rename))
    return found


def test_meta_json_is_written_fsynced_renamed_then_its_folder_fsynced(tmp_path, calls):
    """Before, ``meta.json`` was renamed into place unsynced: after a power loss it could be empty or missing although
    the run had finished (its records, fsync'ed one by one, survived)."""
    writer = RunWriter(tmp_path, "r1", {"started_at": "2026-11-22T10:00:00Z"})
    each_write = [("fsync", "meta.tmp", True), ("replace", "meta.tmp", "meta.json"), ("fsync folder", "r1")]
    assert calls == each_write
    calls.clear()
    writer.close("finished")
    assert calls == each_write
    assert not list((tmp_path / "r1").glob("*.tmp"))


def test_a_promoted_baseline_is_on_disk_before_it_replaces_the_old_one(tmp_path, calls):
    """Before, the new baseline's files were renamed into place unsynced and the old baseline deleted: a power loss
    could leave an empty baseline and no old one."""
    results = tmp_path / "results"
    make_run(results, "r1", {"m[a]": {"samples": latencies(1)}})
    history.promote("r1", results)
    make_run(results, "r2", {"m[a]": {"samples": latencies(2)}})
    calls.clear()
    history.promote("r2", results)
    moves = [c for c in calls if c[0] == "rename"]
    staging, old = moves[1][1], moves[0][2]
    assert moves == [("rename", "demo", old), ("rename", staging, "demo")]
    synced = calls[: calls.index(moves[0])]
    assert {c[1] for c in synced if c[0] == "fsync" and c[2]} == {"records.jsonl", "samples.jsonl", "meta.json"}
    assert synced[-1] == ("fsync folder", staging)
    assert calls[calls.index(moves[1]) + 1] == ("fsync folder", "baseline")
    assert not (results / "baseline" / old).exists()


# ----------------------------------------------------------------------------------- a run killed on another host


def left_running(tmp_path: Path, process: dict, quiet_s: float) -> Path:
    """A run its process left ``running`` (a ``kill -9``), written last ``quiet_s`` seconds ago."""
    writer = RunWriter(tmp_path, "r1", {"started_at": "2026-11-22T10:00:00Z"})
    writer.close("finished")
    meta = json.loads((writer.path / "meta.json").read_text())
    (writer.path / "meta.json").write_text(json.dumps({**meta, "status": "running", "process": process}))
    then = time.time() - quiet_s
    for name in ("meta.json", "records.jsonl", "samples.jsonl"):
        os.utime(writer.path / name, (then, then))
    return writer.path


def test_a_run_running_on_another_host_says_how_long_it_has_written_nothing(tmp_path, capsys):
    """Before, a run killed with ``kill -9`` (or out of memory) on another host read as ``running`` for ever, with
    nothing to tell it from a live one; ``--resume`` said only ``still running (pid 4242 on gpu-node-7)``."""
    elsewhere = {"pid": 4242, "host": "gpu-node-7", "started": "123"}  # a results folder shared over NFS
    run = left_running(tmp_path, elsewhere, 42 * 60 + 10)
    meta = read_meta(run)
    assert meta["status"] == "running"  # not known to be gone: never guessed dead
    who = " (pid 4242 on gpu-node-7; another host: nothing written for 42 min)"
    assert running_who(meta) == who
    with pytest.raises(BenchError) as refused:
        resumable(tmp_path, "r1")
    assert str(refused.value) == f"--resume 'r1': the run is still running{who}; stop it first"
    assert main(["results", "r1", "--results", str(tmp_path)]) == 0
    assert f"still running{who}" in capsys.readouterr().out.splitlines()


def test_a_run_running_on_this_host_is_checked_by_its_process_not_by_its_quiet(tmp_path):
    meta = read_meta(left_running(tmp_path, this_process(), 3 * 3600))  # this process: alive
    assert meta["status"] == "running" and "quiet_s" not in meta
    assert running_who(meta) == f" (pid {os.getpid()} on {socket.gethostname()})"


def test_a_ctrl_c_while_the_held_signals_are_given_back_leaves_no_handler_holding(monkeypatch):
    """A Ctrl-C that reaches SIGINT's handler as soon as it is put back, before SIGTERM's is: before, the
    KeyboardInterrupt left the loop, and SIGTERM kept the holding handler (a CI timeout swallowed for the rest of the
    run, report included)."""
    import signal

    from bench import results

    def on_term(number, frame):
        raise SystemExit(143)

    monkeypatch.setattr(signal, "signal", signal.signal)  # restored after the test, whatever it leaves
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, on_term)
    real = signal.signal

    def ctrl_c_after_the_first_restore(signum, handler):
        previous = real(signum, handler)
        if handler is signal.default_int_handler:
            raise KeyboardInterrupt
        return previous

    with pytest.raises(KeyboardInterrupt), results.signals_held():
        monkeypatch.setattr(signal, "signal", ctrl_c_after_the_first_restore)
    monkeypatch.setattr(signal, "signal", real)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert signal.getsignal(signal.SIGTERM) is on_term
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


@pytest.mark.parametrize("signum", ["SIGINT", "SIGTERM"])
def test_a_signal_while_a_finished_case_is_written_waits_until_its_record_is_saved(tmp_path, monkeypatch, signum):
    """A Ctrl-C, or a CI's SIGTERM (bench's handler raises KeyboardInterrupt as Ctrl-C's does), that came while a
    measured case was appended (its samples serialised and written, then its record): before, it was raised between
    the two lines, so the case kept its samples and no record, and what it had measured was lost (--resume measured
    it again). Now the case is written whole, counted, and then the signal stops the run."""
    import signal

    from bench.results import Record, load, load_samples

    def stop(number, frame):
        raise KeyboardInterrupt(signal.Signals(number).name)

    number = getattr(signal, signum)
    previous = signal.signal(number, stop)
    writer = RunWriter(tmp_path, "r1", {"suites": [{"name": "s"}]})
    real = RunWriter._write_line

    def signal_after_the_samples(handle, payload):
        real(handle, payload)
        if handle.name.endswith("samples.jsonl"):
            signal.raise_signal(number)  # the record's line is still to be written

    monkeypatch.setattr(RunWriter, "_write_line", staticmethod(signal_after_the_samples))
    fields = {"model": "m", "compression": "fp32", "engine": "eager", "device": "cpu", "threads": 1, "batch_size": 1}
    record = Record(run_id="r1", suite="s", case_id="a", status="ok", latency_p50_ms=2.0, rounds=3, **fields)
    try:
        with pytest.raises(KeyboardInterrupt, match=signum):  # the stop still comes, once the case is saved
            writer.append(record, [1.0, 2.0, 3.0])
    finally:
        signal.signal(number, previous)
    assert signal.getsignal(number) is previous
    monkeypatch.setattr(RunWriter, "_write_line", staticmethod(real))
    writer.close("interrupted")
    assert load(writer.path)["case_id"].tolist() == ["a"] and writer.counts["ok"] == 1
    assert list(load_samples(writer.path)) == ["s::a"]


def test_a_running_run_whose_meta_names_no_process_is_read_not_a_traceback(tmp_path):
    """A running run's meta.json without ``process`` (written before bench recorded it, or edited): before, reading
    it raised KeyError: 'process' (bench results, report and --resume showed a traceback)."""
    from bench.results import read_meta

    run = tmp_path / "r1"
    run.mkdir()
    (run / "meta.json").write_text(json.dumps({"run_id": "r1", "status": "running", "suites": []}))
    (run / "records.jsonl").write_text("")
    meta = read_meta(run)
    assert meta["status"] == "running" and "quiet_s" not in meta


def test_a_report_killed_midway_is_put_right_by_the_next_report_of_its_run(tmp_path, capsys, monkeypatch):
    """What ``kill -9`` leaves when it stops ``bench report`` (deterministically: the folders it leaves, of a pid no
    process has, quiet for long enough): a staging folder, and, killed between the two renames, the earlier report
    moved aside. Before, both stayed for ever (hidden), the run had no report in its place, and a later report
    that could not be written left it so. Now the next report of the run removes the staging folder and puts the
    earlier report back before it writes: refused (a full disk), it leaves that earlier report as it was."""
    import errno

    from bench.report import build, charts
    from tests.test_report_hostile import ok_case, write_run

    monkeypatch.chdir(tmp_path)
    write_run(tmp_path / "res", [ok_case("a")], run_id="r1")
    gone = 999999999  # no process has that pid
    staging, earlier = tmp_path / "rep" / f".r1.tmp{gone}", tmp_path / "rep" / f".r1.old{gone}"
    for folder, text in ((staging, "half a report"), (earlier, "the earlier report")):
        folder.mkdir(parents=True)
        (folder / "index.html").write_text(text)
        os.utime(folder, (time.time() - 3600, time.time() - 3600))
    live = tmp_path / "rep" / f".r1.tmp{os.getppid()}"  # its process runs: left alone
    live.mkdir()

    def full(frame):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(charts, "make_charts", lambda result: [])  # no chart to draw: a faster report
    monkeypatch.setattr(build, "csv_safe", full)  # summary.csv refused, as on a full disk
    assert main(["report", "r1", "--results", "res", "--out", "rep"]) == 2
    assert "no space left on device" in capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "rep").iterdir()) == sorted(["r1", live.name])
    assert (tmp_path / "rep" / "r1" / "index.html").read_text() == "the earlier report"


def test_a_results_folder_that_refuses_locks_takes_runs_and_resumptions_and_refuses_promotions(tmp_path, monkeypatch):
    """A results folder on NFS without its lock daemon answers flock with ENOLCK: before, every run there was refused
    ('--results out: cannot write a run there (no locks available)'), and so were --resume and bench baseline set
    ('bench baseline: error: [Errno 37] No locks available'). Runs and resumptions now go on without the lock, as
    where there is no flock (Windows): the meta.json status check and what the run holds guard a resumption. A
    promotion is refused in one line, and a reader's tidying leaves a promotion's staging folder alone: unserialised,
    two promotions (or one and a gate tidying beside it) would lose a half of the baseline."""
    import errno
    import fcntl

    from bench.results import Record, load
    from bench.resume import reopen

    def no_locks(fd, operation):
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(fcntl, "flock", no_locks)
    fields = {"model": "m", "compression": "fp32", "engine": "eager", "device": "cpu", "threads": 1, "batch_size": 1}

    def ok(case_id: str):
        return Record(run_id="r1", suite="s", case_id=case_id, status="ok", latency_p50_ms=2.0, rounds=3, **fields)

    writer = RunWriter(tmp_path, "r1", {"suites": [{"name": "s"}], "cases": ["s::a", "s::b"]})
    writer.append(ok("a"), [1.0, 2.0, 3.0])
    writer.close("interrupted")
    resumed = reopen(resumable(tmp_path, "r1"), {})
    resumed.append(ok("b"), [1.0, 2.0, 3.0])
    resumed.close("finished")
    assert load(tmp_path / "r1")["case_id"].tolist() == ["a", "b"]
    with pytest.raises(BenchError, match=r"\.baseline\.lock: this file system refuses locks \(no locks available\)"):
        history.promote("r1", tmp_path)
    staging = tmp_path / "baseline" / f".s.tmp{os.getpid()}"  # a promotion's, beside a reader
    staging.mkdir(parents=True)
    history.baseline_for(["s"], tmp_path)
    assert staging.is_dir()


def test_two_reports_of_one_run_at_once_both_succeed_and_the_last_one_stands_whole(tmp_path, capsys, monkeypatch):
    """Was: of two `bench report` of one run at the same time, the one whose final rename came second failed with
    "[Errno 39] Directory not empty" (the other's report had taken the place it had just emptied), leaving its
    earlier report hidden beside it. Deterministically: the second report is written, whole, in the instant between
    the first one's two renames (as another process, with another pid). Now both succeed: the last one to finish
    stands in the run's place, whole, and nothing is left beside it."""
    from bench import durable
    from bench.report import charts
    from tests.test_report_hostile import ok_case, write_run

    monkeypatch.chdir(tmp_path)
    write_run(tmp_path / "res", [ok_case("a")], run_id="r1")
    monkeypatch.setattr(charts, "make_charts", lambda result: [])  # no chart to draw: a faster report
    report = ["report", "r1", "--results", "res", "--out", "rep"]
    assert main(report) == 0  # the earlier report, which the first of the two moves aside
    rename, pid, last = os.rename, os.getpid(), {}

    def in_between(source, target):
        if Path(source).name == f".r1.tmp{pid}" and not last:  # the first report's staging, about to take the place
            last["inode"] = os.stat(source).st_ino
            with monkeypatch.context() as other:
                other.setattr(os, "getpid", lambda: pid + 1)  # another process: its own staging and aside folders
                assert main(report) == 0
        rename(source, target)

    monkeypatch.setattr(durable.os, "rename", in_between)
    assert main(report) == 0
    assert "Directory not empty" not in capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "rep").iterdir()) == ["r1"]
    assert os.stat(tmp_path / "rep" / "r1").st_ino == last["inode"]  # the one that finished last
    assert {"index.html", "summary.csv", "capacity.xlsx"} <= {p.name for p in (tmp_path / "rep" / "r1").iterdir()}


def test_a_leftover_report_folder_of_this_process_s_own_pid_is_an_earlier_process_s_and_is_tidied(
    tmp_path, monkeypatch
):
    """Review: a container's pids repeat from job to job, so what a killed report left could carry the pid of the
    report now running, which counted it alive and left it: its '.r1.old<pid>' then stood where this report moves
    the earlier one aside, and every later report of the run from that pid failed ('Directory not empty')."""
    from bench.report import charts

    monkeypatch.chdir(tmp_path)
    from tests.test_report_hostile import ok_case, write_run

    write_run(tmp_path / "res", [ok_case("a")], run_id="r1")
    monkeypatch.setattr(charts, "make_charts", lambda result: [])
    (tmp_path / "rep" / "r1").mkdir(parents=True)  # an earlier report, which this one moves aside
    earlier = tmp_path / "rep" / f".r1.old{os.getpid()}"  # a killed report's, of a process that had this pid
    earlier.mkdir()
    (earlier / "index.html").write_text("older still")
    os.utime(earlier, (time.time() - 3600, time.time() - 3600))
    assert main(["report", "r1", "--results", "res", "--out", "rep"]) == 0
    assert sorted(p.name for p in (tmp_path / "rep").iterdir()) == ["r1"]
    assert (tmp_path / "rep" / "r1" / "index.html").is_file()

"""A results, reports or cache folder that refuses writes (a full disk, a read-only or removed folder): one line
naming the file, every case measured before it kept, and no half-written file left to be read as whole.

Run as root, a read-only folder is still writable, so the refusals here are made with ``RLIMIT_FSIZE`` (a write past
the limit fails with EFBIG, as one fails with ENOSPC on a full disk: ``tests.fakes.full_disk``) or an ``OSError``
put in place of a write."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import durable
from bench import results as store
from bench.results import Record, ResultsWriteError, RunWriter, load
from tests import forked
from tests.helpers import TINY_MEASURE, said, write_suite

ROOT = Path(__file__).resolve().parents[1]


def suite(folder: Path) -> None:
    """Batch sizes 3, 1, 2 in that order (the largest batch hosts the accuracy pass, so it runs first)."""
    model = "{factory: 'tests.fakes.models:build', name: lin, params: {width: 8}}"
    write_suite(folder, "suites/s.yaml", f"suite: s\nmodels: [{model}]\nbatch_sizes: [1, 2, 3]\n{TINY_MEASURE}")


def bench_run(folder: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    argv = ["run", "suites/s.yaml", "--results", "out", "--run-id", "r1", "-q", "-p", "tests.fakes.full_disk", *args]
    environ = {**os.environ, "PYTHONPATH": str(ROOT), "BENCH_CACHE_DIR": str(folder / "cache"), **env}
    if "FULL_DISK_AT" not in env:  # a process of its own, without a start-up of its own (tests.forked)
        return forked.bench(argv, folder, environ)
    # output through pipes: a file would be refused too, past the size limit
    command = [sys.executable, "-m", "bench.cli", *argv]
    return subprocess.run(command, cwd=folder, env=environ, capture_output=True, text=True, timeout=120)


def lines_of(path: Path) -> list[dict]:
    data = path.read_text()
    assert data == "" or data.endswith("\n"), f"{path.name} ends in a cut-short line"
    return [json.loads(line) for line in data.splitlines()]


def test_a_disk_that_fills_up_during_a_run_stops_it_with_one_line_and_keeps_what_was_measured(tmp_path):
    """Before: ``bench run: error: [Errno 27] File too large`` (no file named, nothing said of what was kept), after
    each case left measured a traceback, and a ``meta.tmp`` of 1000 bytes beside the run."""
    suite(tmp_path)
    done = bench_run(tmp_path, FULL_DISK_AT="3")
    assert done.returncode == 2, said(done.stdout, done.stderr)
    assert done.stderr.splitlines()[-1] == (
        "bench run: error: cannot write out/r1/samples.jsonl: file too large; the 2 cases measured before it are "
        "saved in out/r1 (cannot write out/r1/meta.json: file too large, so the run reads as killed); once it can "
        "be written, bench run suites/s.yaml --results out -q -p tests.fakes.full_disk --resume r1 measures the rest"
    )
    assert "Traceback" not in done.stdout + done.stderr
    run = tmp_path / "out" / "r1"
    assert sorted(p.name for p in run.iterdir()) == ["meta.json", "records.jsonl", "samples.jsonl"]  # no meta.tmp
    assert json.loads((run / "meta.json").read_text())["status"] == "running"  # the start's, whole
    assert [r["batch_size"] for r in lines_of(run / "records.jsonl")] == [3, 1]
    assert [r["case_id"] for r in lines_of(run / "samples.jsonl")] == ["lin[fp32-cpu-1t-bs3]", "lin[fp32-cpu-1t-bs1]"]
    assert store.load_meta(run)["status"] == "killed"


def test_a_file_refused_mid_case_takes_the_case_back_and_the_run_says_it_stopped_there(tmp_path):
    """Only samples.jsonl grows past the limit: its half-written line is taken back (before, the file ended in the
    middle of a line), and meta.json says why the run stopped (before: ``finished``, with the third case reported
    failed by a traceback and missing)."""
    suite(tmp_path)
    done = bench_run(tmp_path, FULL_DISK_AT="3", FULL_DISK_BYTES="samples")
    assert done.returncode == 2, said(done.stdout, done.stderr)
    assert done.stderr.splitlines()[-1] == (
        "bench run: error: cannot write out/r1/samples.jsonl: file too large; the 2 cases measured before it are "
        "saved in out/r1; once it can be written, bench run suites/s.yaml --results out -q -p tests.fakes.full_disk "
        "--resume r1 measures the rest"
    )
    run = tmp_path / "out" / "r1"
    meta = json.loads((run / "meta.json").read_text())
    assert meta["status"] == "interrupted" and meta["counts"]["ok"] == 2
    assert meta["stopped_by"] == "write error"
    assert meta["stop_reason"] == "cannot write out/r1/samples.jsonl: file too large"
    assert len(lines_of(run / "samples.jsonl")) == 2 and len(lines_of(run / "records.jsonl")) == 2
    assert "Traceback" not in done.stdout + done.stderr


def test_a_run_folder_removed_during_the_run_is_written_back_with_every_case_it_measured(tmp_path):
    """``rm -rf out/r1`` as the second case starts: before, every case went on into the removed files and the run
    ended with ``bench run: error: [Errno 2] No such file or directory: 'out/r1/meta.tmp'``, nothing kept."""
    suite(tmp_path)
    done = bench_run(tmp_path, FOLDER_GONE_AT="2")
    assert done.returncode == 2, said(done.stdout, done.stderr)
    assert done.stderr.splitlines()[-1] == (
        "bench run: error: out/r1 was removed during the run; the 2 cases it measured are written back there; "
        "bench run suites/s.yaml --results out -q -p tests.fakes.full_disk --resume r1 measures the rest"
    )
    run = tmp_path / "out" / "r1"
    assert json.loads((run / "meta.json").read_text())["status"] == "interrupted"
    assert load(run)["batch_size"].tolist() == [3, 1]
    assert len(lines_of(run / "samples.jsonl")) == 2


def record(case_id: str) -> Record:
    fields = {"model": "m", "compression": "fp32", "engine": "eager", "device": "cpu", "threads": 1, "batch_size": 1}
    return Record(run_id="r1", suite="s", case_id=case_id, status="skipped", **fields)


def test_a_refused_record_takes_back_its_samples_line_and_refuses_every_later_case(tmp_path, monkeypatch):
    writer = RunWriter(tmp_path, "r1", {})
    writer.append(record("a"), [1.0, 2.0])
    real = RunWriter._write_line

    def full(handle, payload):
        if handle.name.endswith("records.jsonl"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(handle, payload)

    monkeypatch.setattr(RunWriter, "_write_line", staticmethod(full))
    with pytest.raises(ResultsWriteError, match=r"cannot write .*records.jsonl: no space left on device"):
        writer.append(record("b"), [3.0])
    monkeypatch.setattr(RunWriter, "_write_line", staticmethod(real))  # space again: the run has stopped all the same
    with pytest.raises(ResultsWriteError):
        writer.append(record("c"), [4.0])
    writer.close("interrupted")
    assert [r["case_id"] for r in lines_of(tmp_path / "r1" / "samples.jsonl")] == ["a"]
    assert [r["case_id"] for r in lines_of(tmp_path / "r1" / "records.jsonl")] == ["a"]
    assert writer.saved == 1


def test_a_run_that_cannot_write_its_first_meta_json_leaves_no_folder_behind(tmp_path, monkeypatch):
    """Before, an empty run folder stayed, listed as ``damaged`` and holding its id (``--run-id r1: already
    taken``)."""

    def full(path, payload):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(store.writer, "_write_json_atomic", full)
    with pytest.raises(OSError):
        RunWriter(tmp_path, "r1", {})
    assert list(tmp_path.iterdir()) == []


def test_a_refused_atomic_write_leaves_the_old_file_and_no_temporary_one(tmp_path, monkeypatch):
    """Before, the temporary file (``meta.tmp``) stayed beside the run, as much of it as was written."""
    target = tmp_path / "meta.json"
    target.write_text('{"status": "running"}')

    def full(path, data):
        Path(path).write_bytes(data[:5])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(durable, "write_synced", full)
    with pytest.raises(OSError):
        durable.write_atomic(target, b'{"status": "finished"}')
    assert sorted(p.name for p in tmp_path.iterdir()) == ["meta.json"]
    assert target.read_text() == '{"status": "running"}'


def test_a_report_refused_midway_leaves_the_earlier_report_whole_and_names_the_file(tmp_path, capsys, monkeypatch):
    """A full reports folder as the workbook is written: before, ``bench report`` crashed with xlsxwriter's
    FileCreateError traceback (a refused HTML gave ``bench report: error: [Errno 27] File too large``), and the
    folder held the new charts and HTML beside a cut-short workbook (or the earlier run's one). Now the line names the
    file, and the earlier report stays as it was."""
    import xlsxwriter.exceptions

    from bench.cli import main
    from bench.report import xlsx
    from tests.test_report_hostile import ok_case, write_run

    monkeypatch.chdir(tmp_path)  # short names: an error cuts a long one in the middle
    write_run(tmp_path / "res", [ok_case("a")], run_id="r1")
    assert main(["report", "r1", "--results", "res", "--out", "rep"]) == 0
    before = {p.name: p.read_bytes() for p in (tmp_path / "rep" / "r1").iterdir()}
    capsys.readouterr()
    write_workbook = xlsx.write_workbook

    def full(result, path):
        write_workbook(result, path)
        Path(path).write_bytes(Path(path).read_bytes()[:100])  # as far as the disk took it
        raise xlsxwriter.exceptions.FileCreateError(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))

    monkeypatch.setattr(xlsx, "write_workbook", full)
    assert main(["report", "r1", "--results", "res", "--out", "rep"]) == 2
    assert capsys.readouterr().err == (
        "bench report: error: --out 'rep': cannot write the report: no space left on device ('rep/r1/capacity.xlsx')\n"
    )
    assert sorted(p.name for p in (tmp_path / "rep").iterdir()) == ["r1"]  # no staging folder left
    assert {p.name: p.read_bytes() for p in (tmp_path / "rep" / "r1").iterdir()} == before
    # a first report refused: no folder claims to be it
    assert main(["report", "r1", "--results", "res", "--out", "rep2"]) == 2
    assert list((tmp_path / "rep2").iterdir()) == []


def refuse_once_named(monkeypatch, module, name: str) -> None:
    """``module.write_synced`` writes part of ``name``'s bytes, then fails as on a full disk."""
    real = module.write_synced

    def full(path, data):
        if name in Path(path).name:  # the file, or the temporary one beside it
            Path(path).write_bytes(data[:10])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(path, data)

    monkeypatch.setattr(module, "write_synced", full)


def test_a_refused_baseline_promotion_names_the_file_and_leaves_the_baseline_as_it_was(tmp_path, capsys, monkeypatch):
    """Before: ``bench baseline: error: [Errno 27] File too large`` and a ``.SUITE.tmp<pid>`` folder left in
    results/baseline/."""
    from bench.cli import main
    from bench.gate import history
    from tests.gate_helpers import latencies, make_run

    monkeypatch.chdir(tmp_path)
    make_run(tmp_path / "res", "old", {"m[a]": {"samples": latencies(1)}}, started_at="2026-11-21T00:00:00Z")
    make_run(tmp_path / "res", "new", {"m[a]": {"samples": latencies(2)}})
    assert main(["baseline", "set", "old", "--results", "res"]) == 0
    before = {p.name: p.read_bytes() for p in (tmp_path / "res" / "baseline" / "demo").iterdir()}
    capsys.readouterr()
    refuse_once_named(monkeypatch, history, "samples.jsonl")
    assert main(["baseline", "set", "new", "--results", "res"]) == 2
    assert capsys.readouterr().err == (
        "bench baseline: error: cannot write res/baseline/demo/samples.jsonl: no space left on device; the baseline "
        "of suite demo is left as it was\n"
    )
    assert sorted(p.name for p in (tmp_path / "res" / "baseline").iterdir()) == ["demo"]
    assert {p.name: p.read_bytes() for p in (tmp_path / "res" / "baseline" / "demo").iterdir()} == before


@pytest.mark.parametrize("refused", ["summary.md", "verdicts.json"])
def test_a_refused_gate_output_names_the_option_and_leaves_both_files_as_they_were(
    tmp_path, capsys, monkeypatch, refused
):
    """Before: ``bench gate: error: [Errno 27] File too large``, a summary.md cut short, or a new summary beside the
    verdicts.json of the comparison before."""
    from bench.cli import main
    from bench.gate import summary
    from tests.gate_helpers import latencies, make_run

    monkeypatch.chdir(tmp_path)
    make_run(tmp_path / "res", "base", {"m[a]": {"samples": latencies(1)}}, started_at="2026-11-21T00:00:00Z")
    make_run(tmp_path / "res", "cur", {"m[a]": {"samples": latencies(2)}})
    gate = ["gate", "--results", "res", "--baseline", "base", "--current", "cur"]
    outputs = ["--summary", "g/summary.md", "--json", "g/verdicts.json"]
    (tmp_path / "g").mkdir()
    (tmp_path / "g" / "summary.md").write_text("old summary")
    (tmp_path / "g" / "verdicts.json").write_text("old verdicts")
    refuse_once_named(monkeypatch, summary, refused)
    assert main([*gate, *outputs]) == 2
    option, path = ("--summary", "g/summary.md") if refused == "summary.md" else ("--json", "g/verdicts.json")
    assert capsys.readouterr().err == (
        f"bench gate: error: {option} {path}: cannot write it (no space left on device); the summary and the verdicts "
        "are left as they were\n"
    )
    assert sorted(p.name for p in (tmp_path / "g").iterdir()) == ["summary.md", "verdicts.json"]
    assert (tmp_path / "g" / "summary.md").read_text() == "old summary"
    assert (tmp_path / "g" / "verdicts.json").read_text() == "old verdicts"


def test_a_refused_append_to_the_step_summary_leaves_it_as_it_was(tmp_path):
    """Before, the file kept as much of the new summary as the disk took."""
    step = tmp_path / "step.md"
    step.write_text("earlier step\n")
    code = (
        "import resource, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
        "resource.setrlimit(resource.RLIMIT_FSIZE, (1000, resource.getrlimit(resource.RLIMIT_FSIZE)[1])); "
        "from bench.gate.summary import append_step_summary; append_step_summary('x' * 5000, sys.argv[1])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(step)],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1 and "GITHUB_STEP_SUMMARY=" in done.stderr and "file too large" in done.stderr
    assert step.read_text() == "earlier step\n"


def test_a_refused_trend_chart_names_the_file_and_leaves_no_cut_short_png(tmp_path, capsys, monkeypatch):
    """Before: ``bench history: error: [Errno 27] File too large``, naming no file."""
    from bench.cli import main
    from tests.gate_helpers import latencies, make_run

    monkeypatch.chdir(tmp_path)
    make_run(tmp_path / "res", "r1", {"m[a]": {"samples": latencies(1)}})
    refuse_once_named(monkeypatch, durable, ".png")
    assert main(["history", "demo", "--results", "res", "--out", "h"]) == 2
    assert (
        capsys.readouterr().err
        == "bench history: error: cannot write h/demo-latency_p50_ms.png: no space left on device\n"
    )
    assert list((tmp_path / "h").iterdir()) == []


def test_a_resumption_that_cannot_write_the_runs_meta_json_says_so_in_one_line_and_leaves_the_run(tmp_path):
    """Before: an INTERNALERROR traceback ending in ``OSError: [Errno 27] File too large``."""
    suite(tmp_path)
    assert bench_run(tmp_path, FULL_DISK_AT="3", FULL_DISK_BYTES="samples").returncode == 2
    run = tmp_path / "out" / "r1"
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    launch = (
        "import resource, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
        "resource.setrlimit(resource.RLIMIT_FSIZE, (1000, resource.getrlimit(resource.RLIMIT_FSIZE)[1])); "
        "from bench.cli import main; sys.exit(main())"
    )
    command = [sys.executable, "-c", launch, "run", "suites/s.yaml", "--results", "out", "--resume", "r1", "-q"]
    environ = {**os.environ, "PYTHONPATH": str(ROOT), "BENCH_CACHE_DIR": str(tmp_path / "cache")}
    done = subprocess.run(command, cwd=tmp_path, env=environ, capture_output=True, text=True, timeout=120)
    assert done.returncode == 4, said(done.stdout, done.stderr)  # pytest's usage error, as for --resume
    assert "Traceback" not in done.stdout + done.stderr and "INTERNALERROR" not in done.stdout + done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        "ERROR: --resume 'r1': cannot write out/r1/meta.json (file too large); the run is left as it was"
    )
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before


def test_a_trend_folder_that_cannot_be_made_is_one_line(tmp_path, capsys, monkeypatch):
    """Before: ``bench history: error: [Errno 1] Operation not permitted: '/sys/kernel/x'`` (as on a read-only or
    virtual file system, where no folder can be made)."""
    import pathlib

    from bench.cli import main
    from tests.gate_helpers import latencies, make_run

    monkeypatch.chdir(tmp_path)
    make_run(tmp_path / "res", "r1", {"m[a]": {"samples": latencies(1)}})

    def refuse(self, *args, **kwargs):
        raise PermissionError(errno.EPERM, os.strerror(errno.EPERM), str(self))

    monkeypatch.setattr(pathlib.Path, "mkdir", refuse)
    assert main(["history", "demo", "--results", "res", "--out", "h"]) == 2
    assert capsys.readouterr().err == (
        "bench history: error: cannot make h for the trend charts: operation not permitted\n"
    )


def test_a_refused_calibration_file_loses_no_rate_and_names_the_file(tmp_path, capsys, monkeypatch):
    """Before, the rates were printed only after both files were written: a full disk at the end of an hour of runs
    lost them behind ``[Errno 28] No space left on device``, with calibration.md cut short."""
    import numpy as np

    from bench.errors import BenchError
    from bench.gate import calibrate
    from tests.gate_helpers import latencies

    case = calibrate.CaseRuns(
        "m[cpu-1t-bs1]",
        1,
        eager=[np.asarray(latencies(i, n=100)) for i in range(3)],
        slowed=[np.asarray(latencies(100 + i, n=100, scale=1.1)) for i in range(3)],
    )
    monkeypatch.setattr(calibrate, "collect", lambda results: [case])
    (tmp_path / "calibration.md").write_text("earlier calibration")
    refuse_once_named(monkeypatch, durable, "calibration.md")
    with pytest.raises(BenchError) as refused:
        calibrate.calibrate(tmp_path, reuse=True, pool=10, alphas=(0.01,), thresholds=(0.05,))
    assert str(refused.value) == (
        f"cannot write {tmp_path / 'calibration.md'}: no space left on device; the calibration is printed above, and "
        f"its runs are kept in {tmp_path / 'runs'} (bench calibrate --reuse writes it again)"
    )
    assert "## Per case at the defaults" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["calibration.md"]
    assert (tmp_path / "calibration.md").read_text() == "earlier calibration"


def test_a_results_folder_made_read_only_during_the_run_keeps_every_case_and_says_its_meta_json_is_stale(tmp_path):
    """The appends go on (the files are open), the final meta.json cannot be made. Before: ``bench run: error:
    [Errno 13] Permission denied: 'out/r1/meta.tmp'``, naming a file the user never sees."""
    suite(tmp_path)
    done = bench_run(tmp_path, READ_ONLY_AT="3")
    assert done.returncode == 2, said(done.stdout, done.stderr)
    assert done.stderr.splitlines()[-1] == (
        "bench run: error: cannot write out/r1/meta.json: permission denied; the 3 cases measured are saved in out/r1"
    )
    assert "Traceback" not in done.stdout + done.stderr
    assert load(tmp_path / "out" / "r1")["batch_size"].tolist() == [3, 1, 2]


def test_a_full_cache_disk_warns_once_and_the_run_goes_on_uncached(tmp_path, monkeypatch):
    """Before, every entry of the run was serialised, refused and warned about on its own (one warning per set-up
    artefact, each torch.save of a whole model for nothing)."""
    import warnings

    from bench import artefacts

    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("BENCH_ARTEFACT_CACHE", "1")
    monkeypatch.setattr(artefacts, "_cache_refused", [], raising=False)  # this process's state, not the test session's
    tries = []

    def full(value, path):
        tries.append(path)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(artefacts, "save_atomic", full)
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        results = [artefacts.load_or_make("kind", {"n": n}, lambda n=n: n) for n in range(3)]
    assert [value for value, _ in results] == [0, 1, 2]
    assert {info["artefact_file"] for _, info in results} == {"not stored: no space left on device"}
    assert len(tries) == 1
    (warning,) = [w for w in said if issubclass(w.category, artefacts.CacheWarning)]
    assert str(warning.message).endswith(
        ": not stored (no space left on device); nothing more is stored in the cache by this process, which goes on "
        "uncached"
    )
    files = list((tmp_path / "cache").rglob("*.pt*"))
    assert [p.name.endswith(".lock") for p in files] == [True]  # only the first entry's (empty) lock: no entry


def test_a_read_only_results_folder_refuses_a_promotion_in_one_line(tmp_path, capsys, monkeypatch):
    """Before: ``bench baseline: error: [Errno 13] Permission denied: 'res/.baseline.lock'``. (Refused by a stand-in
    for ``open``: run as root, a chmod'ed folder would still be writable.)"""
    from bench.cli import main
    from bench.gate import history
    from tests.gate_helpers import latencies, make_run

    monkeypatch.chdir(tmp_path)
    make_run(tmp_path / "res", "r1", {"m[a]": {"samples": latencies(1)}})

    def read_only(path, *args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))

    monkeypatch.setattr(history, "open", read_only, raising=False)
    assert main(["baseline", "set", "r1", "--results", "res"]) == 2
    assert capsys.readouterr().err == (
        "bench baseline: error: cannot write res/.baseline.lock: permission denied; nothing was promoted\n"
    )
    assert not (tmp_path / "res" / "baseline").exists()


def test_a_run_folder_removed_after_the_last_case_is_written_back_and_bench_run_says_so(tmp_path):
    """At first: ``bench run: error: [Errno 2] No such file or directory: 'out/r1/meta.tmp'``, every case lost; then
    the folder came back without a word."""
    suite(tmp_path)
    done = bench_run(tmp_path, FOLDER_GONE_AFTER="3")
    assert done.returncode == 0, said(done.stdout, done.stderr)
    assert done.stderr.splitlines()[-1] == (
        "bench run: warning: out/r1 was removed during the run; the 3 cases it measured are written back there"
    )
    assert json.loads((tmp_path / "out" / "r1" / "meta.json").read_text())["status"] == "finished"
    assert load(tmp_path / "out" / "r1")["batch_size"].tolist() == [3, 1, 2]


def test_a_removed_run_that_cannot_be_written_back_there_goes_to_a_temporary_folder_named_in_the_message(tmp_path):
    """Was (review): the write-back failed, the files held open (the only copy) were closed, and bench run still
    said "the 3 cases it measured are written back there": every case lost behind a message saying they were kept."""
    suite(tmp_path)
    done = bench_run(tmp_path, FOLDER_GONE_AFTER="3", FOLDER_BLOCKED="1")
    last = done.stderr.splitlines()[-1]
    assert last.startswith(
        "bench run: error: out/r1 was removed during the run; the 3 cases it measured could not be written back "
        "there (cannot write out/r1 back: "
    ), said(done.stdout, done.stderr)
    assert done.returncode == 2
    rescue = Path(last.rsplit(" and are in ", 1)[1])
    assert rescue.name.startswith("bench-r1-") and rescue.parent == Path(__import__("tempfile").gettempdir())
    assert load(rescue)["batch_size"].tolist() == [3, 1, 2]
    assert json.loads((rescue / "meta.json").read_text())["status"] == "finished"
    __import__("shutil").rmtree(rescue)


def test_bench_run_names_its_own_results_option_when_the_folder_refuses_the_run(tmp_path):
    """Was: ``ERROR: --bench-results out: cannot write a run there`` from ``bench run --results out``: the plugin's
    name of the option, which the user never typed."""
    import resource
    import signal

    def small_files() -> None:  # the run's first meta.json is refused, as on a full disk
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (256, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))

    suite(tmp_path)
    command = [sys.executable, "-m", "bench.cli", "run", "suites/s.yaml", "--results", "out", "-p", "no:cacheprovider"]
    environ = {**os.environ, "PYTHONPATH": str(ROOT), "BENCH_CACHE_DIR": str(tmp_path / "cache")}
    done = subprocess.run(
        command, cwd=tmp_path, env=environ, capture_output=True, text=True, timeout=120, preexec_fn=small_files
    )
    assert done.returncode == 4, said(done.stdout, done.stderr)
    assert "ERROR: --results out: cannot write a run there (file too large)" in done.stdout + done.stderr

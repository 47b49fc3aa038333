"""A damaged run is read as far as it is intact; a damaged neighbour only warns; a killed run does not claim to be
running; `bench results` says what could not be read."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from bench.cli import main
from bench.errors import BenchError, short_name
from bench.results import (
    ResultsWarning,
    RunWriter,
    list_runs,
    load,
    load_meta,
    load_samples,
    read_meta,
    run_damage,
)
from bench.resume import resumable
from tests.helpers import TINY_MEASURE, write_suite
from tests.test_results import record


def three_cases(root: Path, run_id: str = "r1", started: str = "2026-01-01T00:00:00Z", **values) -> Path:
    writer = RunWriter(root, run_id, {"started_at": started, "suites": [{"name": "s"}]})
    for name in ("a", "b", "c"):
        writer.append(record(name, run_id=run_id, rounds=2, **values), [0.9, 1.1])  # p50 1.0, as record() says
    writer.close("finished")
    return root / run_id


@pytest.mark.parametrize(
    "meta",
    [None, b"[1, 2]", b'{"status": "finished"}', b"{not json", b'{"run_id": "r1", "suites": 5}', b"\xff\xfe"],
    ids=["missing", "a-list", "no-run-id", "garbage", "suites-not-a-list", "not-utf8"],
)
def test_a_damaged_meta_leaves_the_records_readable_and_the_neighbour_only_warns(tmp_path, meta):
    damaged = three_cases(tmp_path, "r1")
    three_cases(tmp_path, "r2", started="2026-01-02T00:00:00Z")
    if meta is None:
        (damaged / "meta.json").unlink()
    else:
        (damaged / "meta.json").write_bytes(meta)
    runs = list_runs(tmp_path).set_index("run_id")
    assert runs.loc["r2", "ok"] == 3 and runs.loc["r2", "damage"] == ""
    assert runs.loc["r1", "ok"] == 3 and "meta.json" in runs.loc["r1", "damage"]
    with pytest.warns(ResultsWarning, match="meta.json"):
        assert load("r1", tmp_path)["case_id"].tolist() == ["a", "b", "c"]
        assert read_meta(damaged)["run_id"] == "r1"
    assert load_meta("latest", tmp_path)["run_id"] == "r2"  # the neighbour is unaffected


@pytest.mark.filterwarnings("default")  # as a shell runs `bench`: a warning is shown
def test_text_holding_an_escaped_lone_surrogate_reads_as_the_replacement_character(tmp_path, capsys):
    """Before: a name written as ``"\\ud800"`` (valid JSON, but no Unicode text: a hand edit, another tool's
    writer) stopped every file it went into and every chart: ``bench gate: error: 'utf-8' codec can't encode
    character '\\ud800' ...: surrogates not allowed`` (no verdict written), ``bench report``'s and ``bench
    history``'s matplotlib traceback (TypeError: set_text(): incompatible function arguments)."""
    three_cases(tmp_path, "r1")
    run = three_cases(tmp_path, "r2", started="2026-01-02T00:00:00Z")
    records = (run / "records.jsonl").read_text().replace('"model": "m"', '"model": "m\\ud800x"', 1)
    (run / "records.jsonl").write_text(records)
    _edit_meta(run, environment={"git_commit": "c\udfff"})  # json.dumps writes it as the escape
    with pytest.warns(ResultsWarning, match=r"1 line\(s\) holding text that is not Unicode .*: 1$"):
        assert load("r2", tmp_path)["model"].tolist() == ["m\ufffdx", "m", "m"]
    with pytest.warns(ResultsWarning, match=r"meta.json: it holds text that is not Unicode"):
        assert read_meta(run)["environment"]["git_commit"] == "c\ufffd"
    outputs = ["--summary", str(tmp_path / "s.md"), "--json", str(tmp_path / "v.json")]
    assert main(["gate", "--baseline", "r1", "--current", "r2", "--results", str(tmp_path), *outputs]) == 3
    assert "\ufffd" in (tmp_path / "s.md").read_text(encoding="utf-8")
    assert "Traceback" not in capsys.readouterr().err


def test_a_meta_json_larger_than_any_run_writes_is_damage_and_never_read_into_memory(tmp_path, capsys, monkeypatch):
    """Before: a neighbour's meta.json of gigabytes (a sparse file, a file system's damage) was read whole by every
    command listing the runs: ``MemoryError``'s traceback, or minutes of swapping. (The cap is lowered here: the
    test's files stay small.)"""
    from bench import results

    monkeypatch.setattr(results.reading, "MAX_META_BYTES", 1 << 20)
    huge = three_cases(tmp_path, "r1")
    three_cases(tmp_path, "r2", started="2026-01-02T00:00:00Z")
    with open(huge / "meta.json", "r+b") as handle:  # sparse: no block of it is written
        handle.truncate(64 << 20)
    assert main(["results", "--results", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    why = "unreadable (larger than 1 MiB, which no run writes)"
    assert f"damaged: r1: 3 records read; not read: {huge / 'meta.json'}: {why}" in out
    assert load_meta("latest", tmp_path)["run_id"] == "r2"  # the neighbour is unaffected


def _closed_to_this_user(monkeypatch, folder: Path) -> None:
    """Looking into ``folder`` raises PermissionError, as another user's mode-700 folder does for anyone but root
    (these tests run as root too, who may look into any folder)."""
    real_stat = os.stat

    def stat(path, *args, **kwargs):
        if folder in Path(os.fspath(path)).parents:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fspath(path))
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", stat)


def test_a_run_folder_this_user_may_not_look_into_is_passed_over_and_named_when_asked_for(
    tmp_path, capsys, monkeypatch
):
    """Before: another user's mode-700 run folder (or a file system's lost+found) among the runs stopped every command
    in one line, ``bench results: error: [Errno 13] Permission denied: '.../r1/meta.json'``: no other run could be
    listed, reported, gated or charted."""
    three_cases(tmp_path, "r1")
    three_cases(tmp_path, "r2", started="2026-01-02T00:00:00Z")
    three_cases(tmp_path, "r3", started="2026-01-03T00:00:00Z")
    _closed_to_this_user(monkeypatch, tmp_path / "r1")
    results = ["--results", str(tmp_path)]
    assert main(["results", *results]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()[1:]]
    assert listed == ["r2", "r3"]
    outputs = ["--summary", str(tmp_path / "s.md"), "--json", str(tmp_path / "v.json")]
    assert main(["gate", "--baseline", "r2", "--current", "r3", *results, *outputs]) == 3  # 2 samples: uncompared
    assert main(["report", "r1", *results, "--out", str(tmp_path / "reports")]) == 2
    assert capsys.readouterr().err == (
        f"bench report: error: run 'r1': cannot read its folder {tmp_path / 'r1'} (permission denied)\n"
    )


def _unlistable_for_this_user(monkeypatch, folder: Path) -> None:
    """Listing ``folder`` raises PermissionError, as a mode-000 folder does for anyone but root (these tests run as
    root too, who may list any folder)."""
    real_scandir, real_listdir = os.scandir, os.listdir

    def refused(real):
        def listing(path=".", *args, **kwargs):
            if Path(os.fspath(path)).absolute() == folder.absolute():
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fspath(path))
            return real(path, *args, **kwargs)

        return listing

    monkeypatch.setattr(os, "scandir", refused(real_scandir))
    monkeypatch.setattr(os, "listdir", refused(real_listdir))


@pytest.mark.parametrize("how", ["variable", "option", "default"])
def test_a_results_folder_that_cannot_be_listed_is_one_line_naming_how_it_was_set(tmp_path, capsys, monkeypatch, how):
    """Was: ``chmod 000 R; BENCH_RESULTS_DIR=R bench results`` ended on ``bench results: error: [Errno 13] Permission
    denied: 'R'``, naming neither the variable nor what it is for."""
    three_cases(tmp_path / "R")
    (tmp_path / "pyproject.toml").write_text("[tool.pytest.ini_options]\n")  # the project: its default is results/
    three_cases(tmp_path / "results")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BENCH_RESULTS_DIR", raising=False)
    args = []
    if how == "variable":
        monkeypatch.setenv("BENCH_RESULTS_DIR", "R")
    elif how == "option":
        args = ["--results", "R"]
    _unlistable_for_this_user(monkeypatch, tmp_path / ("results" if how == "default" else "R"))
    named = {
        "variable": "$BENCH_RESULTS_DIR 'R'",
        "option": "argument --results: 'R'",
        "default": "'results' (the default of --results)",
    }[how]
    for command in (["results"], ["report", "--out", "out"], ["gate", "--baseline", "r1", "--current", "r1"]):
        with pytest.raises(SystemExit) if how == "option" else contextlib.nullcontext():
            assert main([*command, *args]) == 2
        err = capsys.readouterr().err
        assert err.splitlines()[-1] == (
            f"bench {command[0]}: error: {named}: cannot list the runs in it (permission denied)"
        )
        assert "Errno" not in err and "Traceback" not in err
    folder = "results" if how == "default" else "R"
    with pytest.raises(BenchError, match=rf"^results folder '{folder}': cannot list the runs in it \(permission"):
        list_runs(folder)  # the library names the folder too


@pytest.mark.parametrize(
    ("line", "why"),
    [
        (b"{oops", "not JSON"),
        (b"[1, 2]", "not an object"),
        (b'{"case_id": 1}', "keys missing"),
        (b"\xff\xff", "not JSON"),
        (b'{"suite": "s", "case_id": ["a"], "status": "ok"}', "keys missing"),
        (b'{"suite": "s", "case_id": "d", "status": [1]}', "keys missing"),
        (b'{"suite": "s", "case_id": "d", "status": "ok", "model": "m", "latency_p50_ms": 1.0}', "keys missing"),
    ],
)
def test_a_damaged_line_mid_file_is_skipped_and_named(tmp_path, line, why):
    path = three_cases(tmp_path) / "records.jsonl"
    lines = path.read_bytes().splitlines()
    path.write_bytes(b"\n".join([lines[0], line, *lines[1:]]) + b"\n")
    with pytest.warns(ResultsWarning, match=rf"records.jsonl: 1 damaged line\(s\) skipped: 2 \({why}\)"):
        assert load("r1", tmp_path)["case_id"].tolist() == ["a", "b", "c"]


def test_a_record_with_a_samples_ms_key_is_a_record_like_any_other(tmp_path):
    path = three_cases(tmp_path) / "records.jsonl"  # samples_ms is no key of a record: nothing checks it there
    identity = b'"model": "m", "compression": "fp32", "engine": "eager", "device": "cpu", "batch_size": 1'
    path.write_bytes(
        path.read_bytes() + b'{"suite": "s", "case_id": "d", "status": "ok", "samples_ms": "x", ' + identity + b"}\n"
    )
    assert load("r1", tmp_path)["case_id"].tolist() == ["a", "b", "c", "d"]


def test_samples_that_are_a_folder_cost_only_the_samples(tmp_path):
    run = three_cases(tmp_path)
    (run / "samples.jsonl").unlink()
    (run / "samples.jsonl").mkdir()
    with pytest.warns(ResultsWarning, match="samples.jsonl: unreadable"):
        assert load_samples("r1", tmp_path) == {}
    assert len(load("r1", tmp_path)) == 3


def test_bench_results_shows_what_was_read_and_why_not_the_rest(tmp_path, capsys):
    run = three_cases(tmp_path)
    three_cases(tmp_path, "r2", started="2026-01-02T00:00:00Z")
    (run / "meta.json").unlink()
    with open(run / "records.jsonl", "ab") as handle:
        handle.write(
            b"garbage\n"
            + json.dumps({**json.loads((run / "records.jsonl").read_text().splitlines()[0]), "case_id": "d"}).encode()
        )  # a fourth case after the damaged line (a copy of a case's line would be that case twice, read once)
    assert main(["results", "--results", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "r2" in out and "damaged: r1: 4 records read; not read:" in out and "meta.json: missing" in out
    assert main(["results", "r1", "--results", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "run r1 (damaged), 4 cases" in out
    assert "not read: " in out and "records.jsonl: 1 damaged line(s) skipped: 4 (not JSON)" in out


def test_a_running_run_whose_process_is_gone_reads_as_killed(tmp_path):
    writer = RunWriter(tmp_path, "r1", {})
    writer._records.close()  # only meta.json matters here
    writer._samples.close()
    assert read_meta(writer.path)["status"] == "running"  # this process is alive
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    meta = json.loads((writer.path / "meta.json").read_text())
    meta["process"]["pid"] = gone.pid
    (writer.path / "meta.json").write_text(json.dumps(meta))
    assert read_meta(writer.path)["status"] == "killed"
    meta["process"]["host"] = "another-machine"  # cannot be checked from here: keeps its status
    (writer.path / "meta.json").write_text(json.dumps(meta))
    assert read_meta(writer.path)["status"] == "running"


def test_sigterm_marks_the_run_interrupted(pytester):
    lin = "{factory: 'tests.fakes.models:build', name: lin, params: {term_at_batch: 2}}"  # sends SIGTERM at batch 2
    write_suite(
        pytester.path, "suites/term.yaml", f"suite: term\nmodels: [{lin}]\nbatch_sizes: [1, 2, 3]\n{TINY_MEASURE}"
    )
    args = ["--benchmark-only", "suites/term.yaml", "--bench-results", "out", "--bench-run-id", "t1"]
    result = pytester.runpytest(*args, no_reraise_ctrlc=True)  # the inner run's Ctrl-C stays there
    assert result.ret == pytest.ExitCode.INTERRUPTED
    meta = load_meta("t1", pytester.path / "out")
    assert meta["status"] == "interrupted" and meta["stopped_by"] == "SIGTERM"
    # the finished cases are kept (the largest batch runs first: it hosts the accuracy pass)
    assert load("t1", pytester.path / "out")["batch_size"].tolist() == [3, 1]
    assert getattr(signal.getsignal(signal.SIGTERM), "__name__", "") != "stop"  # the run's handler is gone again


def test_non_finite_figures_are_written_as_strict_json(tmp_path):
    """NaN and infinities are not JSON: a record never carries them (they read back as not measured)."""
    writer = RunWriter(tmp_path, "r1", {})
    writer.append(record("a", energy_j_per_item=float("inf"), extra={"ratio": float("nan")}), [1.0, float("inf")])
    writer.close("finished")

    def strict(name):
        raise ValueError(f"{name} is not JSON")

    for name in ("records.jsonl", "samples.jsonl"):
        for line in (tmp_path / "r1" / name).read_text().splitlines():
            json.loads(line, parse_constant=strict)
    frame = load("r1", tmp_path)
    assert frame.loc[0, "energy_j_per_item"] is None or frame["energy_j_per_item"].isna().all()


def test_json_nested_too_deep_is_damage_not_a_traceback(tmp_path, capsys):
    damaged = three_cases(tmp_path, "r1")
    three_cases(tmp_path, "r2", started="2026-01-02T00:00:00Z")
    deep = b"[" * 100_000 + b"]" * 100_000
    (damaged / "meta.json").write_bytes(deep)
    lines = (damaged / "records.jsonl").read_bytes().splitlines()
    (damaged / "records.jsonl").write_bytes(b"\n".join([lines[0], deep, *lines[1:]]) + b"\n")
    with pytest.warns(ResultsWarning, match=r"records.jsonl: 1 damaged line\(s\) skipped: 2 \(nested too deep\)"):
        assert load("r1", tmp_path)["case_id"].tolist() == ["a", "b", "c"]
    with pytest.warns(ResultsWarning, match="meta.json: unreadable"):
        assert "unreadable" in read_meta(damaged)["damage"][0]
    assert main(["results", "--results", str(tmp_path)]) == 0
    assert "damaged: r1" in capsys.readouterr().out


def test_an_integer_of_thousands_of_digits_is_damage_not_a_traceback(tmp_path, capsys):
    """Was: ``ValueError: Exceeds the limit (4300 digits) for integer string conversion`` from every command that
    read the run (results, report, gate, history, baseline), and INTERNALERROR from ``bench run --resume``."""
    damaged = three_cases(tmp_path, "r1")
    huge = "9" * 5000
    for name in ("records.jsonl", "samples.jsonl"):
        lines = (damaged / name).read_text().splitlines()
        lines.insert(1, lines[1].replace('"b"', '"x"').replace(", ", f", {json.dumps('k')}: {huge}, ", 1))
        (damaged / name).write_text("\n".join(lines) + "\n")
    with pytest.warns(ResultsWarning, match=r"records.jsonl: 1 damaged line\(s\) skipped: 2 \(a number too long"):
        assert load("r1", tmp_path)["case_id"].tolist() == ["a", "b", "c"]
    with pytest.warns(ResultsWarning, match=r"samples.jsonl: 1 damaged line\(s\) skipped: 2 \(a number too long"):
        assert sorted(load_samples("r1", tmp_path)) == ["s::a", "s::b", "s::c"]
    (damaged / "meta.json").write_text(f'{{"run_id": "r1", "started_at": {huge}}}')
    with pytest.warns(ResultsWarning, match="meta.json: unreadable \\(a number too long to read\\)"):
        assert read_meta(damaged)["status"] == "damaged"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResultsWarning)
        assert main(["results", "--results", str(tmp_path)]) == 0
    assert "damaged: r1" in capsys.readouterr().out


@pytest.mark.filterwarnings("default")  # as a shell runs `bench`: a warning is shown
def test_a_run_id_in_meta_that_is_not_its_folder_s_name_never_speaks_for_another_run(tmp_path, capsys):
    """Was: a folder whose meta.json named another run (a copy, a hand edit) was listed under that run's id, gated
    as that run, and its report replaced that run's report."""
    results = tmp_path / "results"
    three_cases(results, "base", model_size_bytes=1000)  # scored: exit 0, not 3
    three_cases(results, "cur", started="2026-01-02T00:00:00Z", model_size_bytes=1000)
    meta = json.loads((results / "base" / "meta.json").read_text())
    (results / "base" / "meta.json").write_text(json.dumps({**meta, "run_id": "cur"}))
    with pytest.warns(ResultsWarning, match="run_id: 'cur' is not its folder's name; read as 'base'"):
        assert read_meta(results / "base")["run_id"] == "base"
    out = tmp_path / "reports"
    assert main(["report", "cur", "--results", str(results), "--out", str(out)]) == 0
    written = (out / "cur" / "index.html").read_bytes()
    assert main(["report", "base", "--results", str(results), "--out", str(out)]) == 0
    assert (out / "base" / "index.html").is_file() and (out / "cur" / "index.html").read_bytes() == written


@pytest.mark.filterwarnings("default")  # as a shell runs `bench`: a warning is shown
def test_a_copied_run_folder_whose_name_is_no_run_id_is_listed_by_its_name_and_writes_no_report(tmp_path, capsys):
    """Was: ``cp -r results/cur1 "results/cur1 (copy)"`` listed two runs ``cur1``, and ``bench report "cur1 (copy)"``
    wrote the copy's report over ``reports/cur1``, the original's (a folder's name that is no run id left the run id
    its meta.json says)."""
    results, reports = tmp_path / "results", tmp_path / "reports"
    original = three_cases(results, "cur1", model_size_bytes=1000)
    shutil.copytree(original, results / "cur1 (copy)")
    assert main(["results", "--results", str(results)]) == 0
    out = capsys.readouterr().out
    assert [line.split()[0] for line in out.splitlines()[1:3]] == ["cur1", "cur1"]  # 'cur1' and 'cur1 (copy)'
    assert out.splitlines()[2].startswith("cur1 (copy) ")
    folder = results / "cur1 (copy)"
    assert f"damaged: cur1 (copy): 3 records read; not read: {folder / 'meta.json'}: run_id: 'cur1' is not" in out
    assert main(["report", "cur1", "--results", str(results), "--out", str(reports)]) == 0
    written = (reports / "cur1" / "index.html").read_bytes()
    capsys.readouterr()
    assert main(["report", "cur1 (copy)", "--results", str(results), "--out", str(reports)]) == 2
    err = capsys.readouterr().err
    assert err.endswith(
        f"bench report: error: run 'cur1 (copy)': its folder's name is no run id, and it would name the report's "
        f"folder: rename {short_name(str(folder))} to a run id to report it: letters, digits, '.', '_' or '-' (at "
        "most 128, first a letter or digit; not latest, baseline, history, gate, calibration)\n"
    )
    assert "Traceback" not in err and sorted(os.listdir(reports)) == ["cur1"]
    assert (reports / "cur1" / "index.html").read_bytes() == written


def test_a_copied_run_folder_whose_name_is_no_run_id_is_not_promoted(tmp_path, capsys):
    """Review: read as its folder's run, a copy named "cur1 (copy)" was promoted as that, and the baseline then
    warned on every read that its run id 'cur1 (copy)' is no run id."""
    shutil.copytree(three_cases(tmp_path, "cur1"), tmp_path / "cur1 (copy)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResultsWarning)  # the copy's meta.json names cur1: warned, and not the point
        assert main(["baseline", "set", "cur1 (copy)", "--results", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"bench baseline: error: run 'cur1 (copy)': its folder's name is no run id, which the baseline would name as "
        f"the run it was promoted from: rename {short_name(str(tmp_path / 'cur1 (copy)'))} to a run id to promote "
        "it: letters, digits, '.', '_' or '-' (at most 128, first a letter or digit; not latest, baseline, history, "
        "gate, calibration)\n"
    )
    assert not (tmp_path / "baseline").exists()


@pytest.mark.parametrize("name", ["a" * 250, "gate"])
def test_a_run_folder_named_too_long_or_as_a_reports_own_folder_writes_no_report(tmp_path, capsys, monkeypatch, name):
    """Was: a 250-character folder name was taken as the run id, and its report, scored first, then failed in one
    line, ``cannot write the report: file name too long``: the report's staging folder beside it has a longer name; a
    run folder named ``gate`` wrote its report over ``reports/gate``, bench gate's."""
    results, reports = tmp_path / "results", tmp_path / "reports"
    three_cases(results, name, model_size_bytes=1000)
    (reports / "gate").mkdir(parents=True)
    (reports / "gate" / "summary.md").write_text("the gate's")
    assert main(["results", "--results", str(results)]) == 0
    assert capsys.readouterr().out.splitlines()[1].split()[0] == name  # listed, and read, by its name
    monkeypatch.setattr("bench.report.build.tables", lambda *args, **kwargs: pytest.fail("scored: refused too late"))
    assert main(["report", name[:4], "--results", str(results), "--out", str(reports)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"bench report: error: run {short_name(name)!r}: its folder's name is no run id, and ")
    assert err.endswith("(at most 128, first a letter or digit; not latest, baseline, history, gate, calibration)\n")
    assert err.count("\n") == 1 and os.listdir(reports) == ["gate"] and os.listdir(reports / "gate") == ["summary.md"]


@pytest.mark.parametrize("given", [".", "sub/.."])
def test_a_run_given_as_dot_is_its_folder_s_run(tmp_path, capsys, monkeypatch, given):
    """Review: with the folder-name rule, `bench report .` from inside a run read its id as '' (the report went into
    the reports folder itself) and `bench report ..` as '..'."""
    run = three_cases(tmp_path / "results", "r1", model_size_bytes=1000)  # scored: exit 0, not 3
    (run / "sub").mkdir()
    monkeypatch.chdir(run)
    assert read_meta(Path(given))["run_id"] == "r1"
    assert main(["report", given, "--out", str(tmp_path / "rep")]) == 0
    assert (tmp_path / "rep" / "r1" / "index.html").is_file() and "warning" not in capsys.readouterr().err


@pytest.mark.parametrize(
    "samples",
    [
        '["a", "b"]',
        "[NaN, 1.0]",
        "[null, 1.0]",
        "[[1.0], [2.0]]",
        "[true, 1.0]",
        "[1e999]",
        "[" + "9" * 400 + "]",
        "[-0.3, 1.0]",  # no call takes less than no time: bench gate stopped on ValueError (concatenate)
        "[0.0, 1.0]",  # bench gate stopped on ZeroDivisionError (the throughput of a median of 0 ms)
    ],
)
@pytest.mark.parametrize("arrays", [False, True])
def test_samples_that_are_not_finite_numbers_are_a_damaged_line(tmp_path, capsys, samples, arrays):
    run = three_cases(tmp_path)
    path = run / "samples.jsonl"
    lines = path.read_bytes().splitlines()
    bad = json.loads(lines[0])
    path.write_bytes(b"\n".join([*lines[:2], f'{{"suite": "s", "case_id": "c", "samples_ms": {samples}}}'.encode()]))
    path.write_bytes(path.read_bytes() + b"\n")
    damaged = r"samples.jsonl: 1 damaged line\(s\) skipped: 3 \(samples not finite numbers above 0\)"
    with pytest.warns(ResultsWarning, match=damaged):
        assert sorted(load_samples("r1", tmp_path, arrays=arrays)) == [f"s::{bad['case_id']}", "s::b"]


@pytest.mark.filterwarnings("default")  # as a shell runs `bench`: a warning is shown
@pytest.mark.parametrize("sample", [-0.3, 0.0])
def test_samples_of_no_time_or_less_are_not_judged_and_the_gate_does_not_pass(tmp_path, capsys, sample):
    """Was: a ValueError or ZeroDivisionError traceback from bench gate."""
    for run_id in ("r1", "r2"):
        writer = RunWriter(tmp_path, run_id, {"suites": [{"name": "s"}], "cases": ["s::a"]})
        samples = [1.0 + i % 7 / 100 for i in range(60)] if run_id == "r1" else [sample] * 60
        writer.append(record("a", run_id=run_id, model_size_bytes=1000, rounds=60, latency_p50_ms=1.03), samples)
        writer.close("finished")
    out = ["--summary", str(tmp_path / "s.md"), "--json", str(tmp_path / "v.json")]
    assert main(["gate", "--baseline", "r1", "--current", "r2", "--results", str(tmp_path), *out]) == 3
    assert "samples not finite numbers above 0" in capsys.readouterr().err
    assert "no raw samples in the current run" in json.dumps(json.loads((tmp_path / "v.json").read_text()))


def test_samples_of_a_median_next_to_zero_leave_the_throughput_uncompared_and_the_gate_does_not_pass(tmp_path, capsys):
    """Was: samples of 5e-324 ms (above 0, so no damage) stopped bench gate on ZeroDivisionError: their median in
    seconds is 0, and the throughput was divided by it. Now the throughput is not comparable, saying why (exit 3)."""
    for run_id in ("r1", "r2"):
        writer = RunWriter(tmp_path, run_id, {"suites": [{"name": "s"}], "cases": ["s::a"]})
        samples = [1.0 + i % 7 / 100 for i in range(60)] if run_id == "r1" else [5e-324] * 60
        p50 = 1.03 if run_id == "r1" else 5e-324
        writer.append(record("a", run_id=run_id, model_size_bytes=1000, rounds=60, latency_p50_ms=p50), samples)
        writer.close("finished")
    out = ["--summary", str(tmp_path / "s.md"), "--json", str(tmp_path / "v.json")]
    assert main(["gate", "--baseline", "r1", "--current", "r2", "--results", str(tmp_path), *out]) == 3
    verdicts = {v["metric"]: v for v in json.loads((tmp_path / "v.json").read_text())["verdicts"]}
    throughput = verdicts["throughput_items_per_s"]
    assert throughput["verdict"] == "not comparable"
    assert "the current run's samples give a throughput_items_per_s of inf" in throughput["reason"]
    assert "Traceback" not in capsys.readouterr().err


def test_a_figure_not_of_its_type_reads_as_not_measured_and_the_rest_of_the_case_stays(tmp_path):
    path = three_cases(tmp_path) / "records.jsonl"
    lines = path.read_bytes().splitlines()
    b = json.loads(lines[1]) | {"latency_p99_ms": "fast", "model_size_bytes": [1], "unstable": "yes", "error": 5}
    c = json.loads(lines[2]) | {"rounds": float("nan"), "params": 10**400}  # json writes NaN; 10**400 overflows
    path.write_bytes(b"\n".join([lines[0], json.dumps(b).encode(), json.dumps(c).encode()]) + b"\n")
    with pytest.warns(ResultsWarning, match=r"6 value\(s\) not of their column's type, read as not measured: 2 \("):
        frame = load("r1", tmp_path).set_index("case_id")
    assert frame.loc["b", ["latency_p99_ms", "model_size_bytes", "unstable", "error"]].isna().all()
    assert frame.loc[["b", "c"], "latency_p50_ms"].tolist() == [1.0, 1.0]  # the rest of each case is kept
    assert frame.loc["c", ["rounds", "params"]].isna().all()


@pytest.mark.filterwarnings("default")  # as a shell runs `bench`: a warning is shown
def test_a_record_of_a_suite_its_meta_json_does_not_name_is_a_damaged_line(tmp_path, capsys):
    """Was: read as a case of the run (a line pasted from another run): `bench results` counted it without a word,
    `bench report` scored it with no suite's sections (default weights, prices and constraints), and a gate with the
    run as its baseline passed (exit 0) over the case of the run's own suite that the line had replaced."""
    three_cases(tmp_path, "r1")
    run = three_cases(tmp_path, "r2", started="2026-01-02T00:00:00Z")
    for name in ("records.jsonl", "samples.jsonl"):
        lines = (run / name).read_text().splitlines(keepends=True)
        (run / name).write_text(lines[0] + lines[1].replace('"suite": "s"', '"suite": "pasted"') + lines[2])
    damaged = r"records.jsonl: 1 damaged line\(s\) skipped: 2 \(suite 'pasted' is not one its meta.json names\)"
    with pytest.warns(ResultsWarning, match=damaged):
        assert load("r2", tmp_path)["case_id"].tolist() == ["a", "c"]
    with pytest.warns(ResultsWarning, match=r"samples.jsonl: 1 damaged line\(s\) skipped: 2 \(suite 'pasted'"):
        assert sorted(load_samples("r2", tmp_path)) == ["s::a", "s::c"]
    assert "suite 'pasted'" in list_runs(tmp_path).set_index("run_id").loc["r2", "damage"]
    out = ["--summary", str(tmp_path / "s.md"), "--json", str(tmp_path / "v.json")]
    assert main(["gate", "--baseline", "r2", "--current", "r1", "--results", str(tmp_path), *out]) == 3
    _edit_meta(run, suites=5)  # a list it cannot go by: the run is read from its records, every suite of them
    assert load("r2", tmp_path)["suite"].tolist() == ["s", "pasted", "s"]


def test_latencies_out_of_order_read_as_not_measured_and_no_constraint_passes_on_them(tmp_path, capsys):
    """Was: a record whose p99 was below its p50 (or its least latency above its p50: a hand edit) was read as it
    stood: its report showed the p99, and a latency_p99_ms_max constraint passed on a figure the samples never gave.
    Now its latency statistics read as not measured (which of them is wrong cannot be told), with a warning."""
    path = three_cases(tmp_path) / "records.jsonl"
    lines = path.read_bytes().splitlines()
    b = json.loads(lines[1]) | {"latency_p90_ms": 3.0, "latency_p99_ms": 0.5}
    c = json.loads(lines[2]) | {"latency_min_ms": 1.0, "latency_p99_ms": 1.0}  # equal: in order
    path.write_bytes(b"\n".join([lines[0], json.dumps(b).encode(), json.dumps(c).encode()]) + b"\n")
    warned = r"1 record\(s\) whose latencies are out of order \(latency_min_ms <= latency_p50_ms <= .*: 2 \(latency_p90"
    with pytest.warns(ResultsWarning, match=warned):
        frame = load("r1", tmp_path).set_index("case_id")
    assert frame.loc["b", ["latency_p50_ms", "latency_p90_ms", "latency_p99_ms"]].isna().all()
    assert frame.loc["c", ["latency_min_ms", "latency_p50_ms", "latency_p99_ms"]].tolist() == [1.0, 1.0, 1.0]
    assert frame.loc["b", "rounds"] == 2 and frame.loc["b", "status"] == "ok"  # the rest of the case stays


@pytest.mark.filterwarnings("default")  # as a shell runs `bench`: a warning is shown
def test_a_key_of_a_record_named_as_a_key_of_its_extra_is_read_once_and_history_draws(tmp_path, capsys):
    """Was: a record's own key "extra.cpu_wait_share" and its extra's cpu_wait_share made two columns of one name:
    bench history stopped in pandas (InvalidIndexError: Reindexing only valid with uniquely valued Index objects)."""
    path = three_cases(tmp_path) / "records.jsonl"
    lines = path.read_bytes().splitlines()
    b = json.loads(lines[1])
    b = b | {"extra.cpu_wait_share": "x", "extra": {**b["extra"], "cpu_wait_share": 0.5}}
    path.write_bytes(b"\n".join([lines[0], json.dumps(b).encode(), lines[2]]) + b"\n")
    with pytest.warns(ResultsWarning, match=r"records.jsonl: extra.cpu_wait_share: a key of a record and of its extra"):
        frame = load("r1", tmp_path)
    assert frame.columns.is_unique and frame.set_index("case_id").loc["b", "extra.cpu_wait_share"] == 0.5
    assert main(["history", "s", "--results", str(tmp_path), "--out", str(tmp_path / "h")]) == 0
    assert "Traceback" not in capsys.readouterr().err


ABSENT = object()
"""A key left out of a record."""


@pytest.mark.parametrize(
    "change",
    [
        {"batch_size": "x"},
        {"batch_size": None},
        {"threads": [1]},
        {"batch_size": True},
        {"threads": 0},  # priced the case at 0 core-hours: $0 per 1M inferences
        {"batch_size": 0},
        {"batch_size": -4},
        {"threads": 2**63},  # stopped the report: cannot safely cast non-equivalent uint64 to int64
        {"batch_size": 10**30},  # read as a float: no reference case of that batch size
        # no key at all: read as NaN, bench report's and bench calibrate --reuse's traceback (ValueError: cannot
        # convert float NaN to integer)
        {"batch_size": ABSENT},
    ],
)
def test_a_record_whose_batch_size_or_threads_is_damaged_is_a_damaged_line(tmp_path, change):
    path = three_cases(tmp_path) / "records.jsonl"
    lines = path.read_bytes().splitlines()
    bad = json.dumps({k: v for k, v in (json.loads(lines[1]) | change).items() if v is not ABSENT}).encode()
    path.write_bytes(b"\n".join([lines[0], bad, lines[2]]) + b"\n")
    with pytest.warns(ResultsWarning, match=r"1 damaged line\(s\) skipped: 2 \(batch_size"):
        assert load("r1", tmp_path)["case_id"].tolist() == ["a", "c"]


def _edit_meta(run: Path, **changes) -> None:
    meta = json.loads((run / "meta.json").read_text())
    (run / "meta.json").write_text(json.dumps({**meta, **changes}))


@pytest.mark.filterwarnings("default")  # as a shell runs `bench`: a warning is shown
@pytest.mark.parametrize("given", ["id", "path"])
def test_bench_gate_warns_once_of_each_damaged_meta_json(tmp_path, capsys, given):
    """Was: ``bench gate`` printed a damaged meta.json's warning twice (the current run's meta.json was read for its
    suites, then again to compare it)."""
    base = three_cases(tmp_path, "r1")
    current = three_cases(tmp_path, "r2", started="2026-01-02T00:00:00Z")
    for run in (base, current):
        _edit_meta(run, finished_at=[1])
    runs = ["r1", "r2"] if given == "id" else [str(base), str(current)]
    outputs = ["--summary", str(tmp_path / "s.md"), "--json", str(tmp_path / "v.json")]
    main(["gate", "--baseline", runs[0], "--current", runs[1], "--results", str(tmp_path), *outputs])
    err = capsys.readouterr().err.splitlines()
    for run in (base, current):
        warning = f"bench gate: warning: {run / 'meta.json'}: finished_at: [1] is not a time"
        assert [line.startswith(warning) for line in err].count(True) == 1, err


@pytest.mark.filterwarnings("default")  # as a shell runs `bench`: a warning is shown
def test_a_suite_name_in_meta_that_is_a_path_is_damage_and_promotes_nothing(tmp_path, capsys):
    """Was: meta.json naming its suite '..' made `bench baseline set` rmtree results/baseline/.. -- every run."""
    run = three_cases(tmp_path, "r1")
    three_cases(tmp_path, "r2", started="2026-01-02T00:00:00Z")
    _edit_meta(run, suites=[{"name": ".."}])
    for name in ("records.jsonl", "samples.jsonl"):
        (run / name).write_text((run / name).read_text().replace('"suite": "s"', '"suite": ".."'))
    kept = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert main(["baseline", "set", "r1", "--results", str(tmp_path)]) == 2
    warning, error = capsys.readouterr().err.strip().splitlines()
    assert warning.startswith("bench baseline: warning: ") and "list of suites is damaged" in warning
    assert error == (
        f"bench baseline: error: run r1 names no suite to promote: {run / 'meta.json'}: its list of suites is damaged "
        "(each needs a name: letters, digits, '.', '_' or '-', starting with a letter or digit)"
    )
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == kept  # nothing deleted or written


@pytest.mark.filterwarnings("default")  # as a shell runs `bench`: a warning is shown
@pytest.mark.parametrize(
    ("change", "damage"),
    [
        ({"environment": {"git_commit": 5, "hostname": ["h"]}}, "environment.git_commit: 5 is not a string"),
        ({"environment": {"cpu_cores": "8"}}, "environment.cpu_cores: '8' is not an integer"),
        ({"suites": [{"name": "s", "sections": {"gates": [1]}}]}, r"suites\[0\].sections.gates: not a mapping"),
        ({"suites": [{"name": "s", "sections": 5}]}, r"suites\[0\].sections: not a mapping"),
        ({"process": {"host": __import__("socket").gethostname(), "pid": 2**70}, "status": "running"}, None),
        ({"process": [1], "status": "running"}, None),
        ({"cases": 5}, "cases: 5 is not a list of case ids"),
        ({"cases": [{"a": 1}]}, r"cases: \[\{'a': 1\}\] is not a list of case ids"),
        ({"resumed": 5}, "resumed: 5 is not a list of mappings"),
        ({"suites": [{"name": "s", "files": "x"}]}, r"suites\[0\].files: 'x' is not a mapping of files to checksums"),
        ({"suites": [{"name": "s", "files": {"a": 1}}]}, r"suites\[0\].files: .* is not a mapping of files to"),
        ({"suites": [{"name": "s", "measure": "x"}]}, r"suites\[0\].measure: 'x' is not a mapping"),  # was: silent
        # was: listed as it was, not damaged, and promoted to the baseline
        ({"status": "exploded"}, r"status: 'exploded' is not a run's status \(running, finished, interrupted\)"),
        ({"status": 5}, r"status: 5 is not a run's status .*; read as damaged"),
        # was: bench history's traceback (ValueError: Length of values (1) does not match length of index (3))
        ({"started_at": [{"a": 1}]}, r"started_at: \[\{'a': 1\}\] is not a time \(text"),
        ({"finished_at": {"at": 5}}, r"finished_at: \{'at': 5\} is not a time"),
    ],
)
def test_meta_parts_not_of_their_type_are_damage_not_a_traceback(tmp_path, capsys, change, damage):
    """Was: TypeError/AttributeError/OverflowError tracebacks from bench results, gate and history; and from bench
    run --resume (INTERNALERROR before any case ran) for cases, resumed or a suite's files not of their type."""
    three_cases(tmp_path, "r1")
    current = three_cases(tmp_path, "r2", started="2026-01-02T00:00:00Z")
    _edit_meta(current, **change)
    results = ["--results", str(tmp_path)]
    assert main(["results", *results]) == 0
    out = capsys.readouterr().out
    assert ("damaged: r2" in out) == bool(damage) and (damage is None or re.search(damage, out))
    gate = ["gate", "--baseline", "r1", "--current", "r2", *results]
    assert main([*gate, "--summary", str(tmp_path / "s.md"), "--json", str(tmp_path / "v.json")]) in (0, 1, 3)
    assert main(["history", "s", *results, "--out", str(tmp_path / "h")]) == 0
    assert "Traceback" not in capsys.readouterr().err
    with pytest.raises(BenchError, match=r"^--resume 'r2': .*(start a new run|stop it first)$"):  # bench run --resume
        resumable(tmp_path, "r2")
    if "status" in change and damage:
        assert main(["baseline", "set", "r2", *results]) == 2
        assert "run r2 is damaged: promote a finished run" in capsys.readouterr().err


@pytest.mark.parametrize("stored", [True, None, 5, "boom", ["made up"]])
def test_a_damage_or_quiet_s_key_in_meta_is_not_believed(tmp_path, capsys, stored):
    """Was: a meta.json holding "damage": true (a hand edit; read_meta adds the key, a run never writes it) made
    `bench results` crash (TypeError: 'bool' object is not iterable), "damage": "boom" listed the run as damaged by
    'b; o; o; m', and --resume refused the run on its own say-so. Now both keys are the reader's alone."""
    three_cases(tmp_path, "r1")
    run = three_cases(tmp_path, "r2", started="2026-01-02T00:00:00Z")
    _edit_meta(run, damage=stored, quiet_s=stored)
    results = ["--results", str(tmp_path)]
    assert main(["results", *results]) == 0 and main(["results", "r2", *results]) == 0
    out, err = capsys.readouterr()
    assert "damaged" not in out and "not read" not in out and err == ""
    assert "damage" not in read_meta(run) and "quiet_s" not in read_meta(run)
    assert resumable(tmp_path, "r2").meta["run_id"] == "r2"  # a finished run may be resumed (its -k may grow)
    assert main(["baseline", "set", "r2", *results]) == 0
    assert "damage" not in json.loads((tmp_path / "baseline" / "s" / "meta.json").read_text())


def test_resuming_keeps_a_whole_last_line_that_lacks_only_its_newline(tmp_path):
    """Was: a last record or samples line that was whole but had no newline after it (a hand edit, an editor that
    drops the last newline) was read as a case done, so --resume did not measure it again, then dropped as a line a
    kill cut short: the measured case was lost from the run. A line a kill did cut short is still dropped."""
    from bench.resume import reopen

    run = three_cases(tmp_path)
    _edit_meta(run, status="interrupted")
    for name in ("records.jsonl", "samples.jsonl"):
        (run / name).write_bytes((run / name).read_bytes().rstrip(b"\n"))
    resumed = resumable(tmp_path, "r1")
    assert sorted(resumed.done) == ["s::a", "s::b", "s::c"]  # c is not measured again...
    writer = reopen(resumed, {})
    writer.append(record("d", run_id="r1"), [1.0, 1.2])
    writer.close("finished")
    assert load("r1", tmp_path)["case_id"].tolist() == ["a", "b", "c", "d"]  # ...so it is kept
    assert sorted(load_samples("r1", tmp_path)) == ["s::a", "s::b", "s::c", "s::d"]
    assert run_damage(run) == []
    with open(run / "records.jsonl", "ab") as handle:
        handle.write(b'{"run_id": "r1", "suite": "s", "case_id": "e", "mo')  # a kill cut this one short
    _edit_meta(run, status="interrupted")
    reopen(resumable(tmp_path, "r1"), {}).close("finished")
    assert (run / "records.jsonl").read_bytes().endswith(b"}\n") and run_damage(run) == []
    # a whole line holding a number too long to read is not a line a kill cut short: kept, and named as damaged
    with open(run / "records.jsonl", "ab") as handle:
        handle.write(b'{"run_id": "r1", "suite": "s", "case_id": "f", "rounds": ' + b"9" * 5000 + b"}")
    _edit_meta(run, status="interrupted")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResultsWarning)
        reopen(resumable(tmp_path, "r1"), {}).close("finished")
    assert (run / "records.jsonl").read_bytes().endswith(b"9}\n")
    assert run_damage(run) == [f"{run / 'records.jsonl'}: 1 damaged line(s) skipped: 5 (a number too long to read)"]


@pytest.mark.filterwarnings("default")  # as a shell runs `bench`: a warning is shown
def test_a_record_whose_status_is_none_a_run_writes_is_a_damaged_line_and_the_gate_does_not_pass(tmp_path, capsys):
    """Was: a record of status 'OK' (hand-edited) was read as a case of another status: bench gate said "passed"
    with the case, ok in the baseline and selected now, not compared ("OK in the current run")."""
    for run_id in ("r1", "r2"):  # enough samples for a verdict, and a model size: each case compares
        writer = RunWriter(tmp_path, run_id, {"suites": [{"name": "s"}], "cases": ["s::a", "s::b", "s::c"]})
        for name in ("a", "b", "c"):
            writer.append(record(name, run_id=run_id, model_size_bytes=1000), [1.0 + i % 7 / 100 for i in range(60)])
        writer.close("finished")
    current = tmp_path / "r2"
    lines = (current / "records.jsonl").read_bytes().splitlines()
    edited = json.dumps({**json.loads(lines[1]), "status": "OK"}).encode()
    (current / "records.jsonl").write_bytes(b"\n".join([lines[0], edited, lines[2]]) + b"\n")
    with pytest.warns(ResultsWarning, match=r"1 damaged line\(s\) skipped: 2 \(status not ok, failed or skipped\)"):
        assert load(current)["case_id"].tolist() == ["a", "c"]
    out = ["--summary", str(tmp_path / "s.md"), "--json", str(tmp_path / "v.json")]
    assert main(["gate", "--baseline", "r1", "--current", "r2", "--results", str(tmp_path), *out]) == 3
    assert json.loads((tmp_path / "v.json").read_text())["uncompared"] == ["s::b"]


@pytest.mark.filterwarnings("default")  # as a shell runs `bench`: a warning is shown
def test_a_name_holding_a_line_break_is_a_damaged_line_and_prints_no_line_of_its_own(tmp_path, capsys):
    """Was: a case id (or a model, a suite) holding a newline, hand-edited into a run's files, was read as it stood,
    and every command printed it as a real line break: `bench gate` showed a line of the file's making (a fake
    "## bench gate: passed" under a failed gate), `bench report`, `bench results` and `bench history` too. No run
    writes such a name (a case id is built from a suite's names), so the line is damaged: skipped with a warning."""
    fake = "x\nFAKE: ## bench gate: passed\u2028y"
    for run_id, size in (("r1", 1000), ("r2", 2000)):  # the case regresses: the gate lists it
        writer = RunWriter(tmp_path, run_id, {"suites": [{"name": "s"}]})
        for name in ("a", fake):
            writer.append(record(name, run_id=run_id, model_size_bytes=size), [1.0 + i % 7 / 100 for i in range(60)])
        writer.close("finished")
        lines = (tmp_path / run_id / "records.jsonl").read_bytes().splitlines()
        edited = json.dumps({**json.loads(lines[0]), "model": "m\nFAKE: model"}).encode()
        (tmp_path / run_id / "records.jsonl").write_bytes(b"\n".join([edited, lines[1]]) + b"\n")
    damaged = r"records.jsonl: 2 damaged line\(s\) skipped: 1 \(a name holding a line break\), 2 \(a name"
    with pytest.warns(ResultsWarning, match=damaged):
        assert load("r2", tmp_path).empty
    with pytest.warns(ResultsWarning, match=r"samples.jsonl: 1 damaged line\(s\) skipped: 2 \(a name holding"):
        assert sorted(load_samples("r2", tmp_path)) == ["s::a"]
    out = ["--summary", str(tmp_path / "s.md"), "--json", str(tmp_path / "v.json")]
    commands = [
        ["gate", "--baseline", "r1", "--current", "r2", *out],
        ["report", "r2", "--out", str(tmp_path / "reports")],
        ["results"],
        ["results", "r2"],
        ["history", "s", "--out", str(tmp_path / "reports")],
    ]
    for command in commands:
        main([*command, "--results", str(tmp_path)])
        printed = capsys.readouterr()
        assert "FAKE" not in printed.out, command
        assert not [line for line in printed.err.splitlines() if not line.startswith("bench ")], command


@pytest.mark.parametrize(
    ("gates", "message"),
    [
        ({"alpha": 5}, "gates.alpha: must be a number between 0 and 1"),
        ({"latency_p50_ms": "x"}, "gates.latency_p50_ms: cannot read 'x'"),
        ({"run_noise": [1]}, "gates.run_noise: must be a fraction in [0, 1)"),
    ],
)
def test_an_invalid_recorded_gates_section_names_the_runs_meta_json_and_its_suite(tmp_path, capsys, gates, message):
    """Was: `bench gate: error: gates.alpha: ...`, naming no file: the rules come from the current run's meta.json,
    not from a suite file the user could look in (bench report names it)."""
    three_cases(tmp_path, "r1")
    current = three_cases(tmp_path, "r2", started="2026-01-02T00:00:00Z")
    _edit_meta(current, suites=[{"name": "s", "sections": {"gates": gates}}])
    out = ["--summary", str(tmp_path / "s.md"), "--json", str(tmp_path / "v.json")]
    assert main(["gate", "--baseline", "r1", "--current", "r2", "--results", str(tmp_path), *out]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith(f"bench gate: error: {current / 'meta.json'} (suite s): {message}"), error


@pytest.mark.filterwarnings("default")  # as a shell runs `bench`: a warning is shown
def test_a_run_id_in_meta_that_is_a_path_never_places_the_report(tmp_path, capsys):
    """Was: meta.json's run_id '../../escaped' wrote the report outside --out (reports/../../escaped/)."""
    run = three_cases(tmp_path / "results", "r1", model_size_bytes=1000)  # scored: exit 0, not 3
    _edit_meta(run, run_id="../../escaped")
    with pytest.warns(ResultsWarning, match=r"meta.json: run_id: '../../escaped' is not a run id \(letters, digits"):
        assert read_meta(run)["run_id"] == "r1"
    assert main(["report", "r1", "--results", str(tmp_path / "results"), "--out", str(tmp_path / "out" / "x")]) == 0
    assert "report in " + str(tmp_path / "out" / "x" / "r1") in capsys.readouterr().out
    assert not (tmp_path / "escaped").exists()


@pytest.mark.filterwarnings("default")  # as a shell runs `bench`: a warning is shown
@pytest.mark.parametrize("damage", ["records", "samples"])
def test_promoting_over_a_damaged_baseline_keeps_what_it_cannot_read(tmp_path, capsys, damage):
    """Was: the previous baseline's unreadable lines were skipped and the baseline rewritten without them (lost)."""
    three_cases(tmp_path, "r1")
    three_cases(tmp_path, "r2", started="2026-01-02T00:00:00Z")
    assert main(["baseline", "set", "r1", "--results", str(tmp_path)]) == 0
    path = tmp_path / "baseline" / "s" / f"{damage}.jsonl"
    path.write_bytes(path.read_bytes() + b"{not json\n" + path.read_bytes().splitlines(keepends=True)[0])
    before = path.read_bytes()
    capsys.readouterr()
    assert main(["baseline", "set", "r2", "--results", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err == (
        f"bench baseline: error: {path}: 1 damaged line(s) skipped: 4 (not JSON); promoting would drop it from the "
        "baseline: repair the file, or pass --replace to start the baseline of this suite afresh"
    )
    assert path.read_bytes() == before
    assert main(["baseline", "set", "r2", "--replace", "--results", str(tmp_path)]) == 0  # asked for: done


@pytest.mark.filterwarnings("default")  # as a shell runs `bench`: a warning is shown
def test_promoting_over_a_baseline_without_its_meta_json_keeps_its_other_cases(tmp_path, capsys):
    """Was: a baseline folder whose meta.json was missing (not committed, deleted) was written over as if there were
    no baseline: the cases the new run did not measure (the other job's half) were dropped without a word."""
    three_cases(tmp_path, "r1")
    writer = RunWriter(tmp_path, "r2", {"started_at": "2026-01-02T00:00:00Z", "suites": [{"name": "s"}]})
    writer.append(record("a", run_id="r2"), [1.0, 1.1])  # measured one case of three
    writer.close("finished")
    assert main(["baseline", "set", "r1", "--results", str(tmp_path)]) == 0
    (tmp_path / "baseline" / "s" / "meta.json").unlink()
    assert main(["baseline", "set", "r2", "--results", str(tmp_path)]) == 0
    assert "meta.json: missing" in capsys.readouterr().err
    frame = load(tmp_path / "baseline" / "s").set_index("case_id")
    assert sorted(frame.index) == ["a", "b", "c"] and frame.loc["a", "run_id"] == "r2"
    assert sorted(load_samples(tmp_path / "baseline" / "s")) == ["s::a", "s::b", "s::c"]


@pytest.mark.filterwarnings("default")  # as a shell runs `bench`: a warning is shown
@pytest.mark.parametrize("key", ["model", "device"])
def test_a_record_without_its_identity_is_a_damaged_line_and_the_report_is_written(tmp_path, capsys, key):
    """Was: a record lacking its model or device reached the report: KeyError: nan, or xlsxwriter's NAN/INF error."""
    path = three_cases(tmp_path / "results", model_size_bytes=1000) / "records.jsonl"  # scored: exit 0, not 3
    lines = path.read_bytes().splitlines()
    row = json.loads(lines[1])
    del row[key]
    path.write_bytes(b"\n".join([lines[0], json.dumps(row).encode(), lines[2]]) + b"\n")
    assert main(["report", "r1", "--results", str(tmp_path / "results"), "--out", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert f"bench report: warning: {path}: 1 damaged line(s) skipped: 2 (keys missing)" in err
    assert (tmp_path / "out" / "r1" / "capacity.xlsx").is_file() and "Traceback" not in err


@pytest.mark.skipif(not hasattr(__import__("os"), "mkfifo"), reason="needs FIFOs (POSIX)")
def test_run_files_that_are_fifos_or_devices_are_named_and_never_waited_on(tmp_path):
    """Was: a FIFO named meta.json or records.jsonl blocked `bench results` for ever (waiting for a writer), and
    samples.jsonl linked to /dev/zero read without end."""
    import os

    run = three_cases(tmp_path, "r1")
    (run / "meta.json").unlink()
    os.mkfifo(run / "meta.json")
    second = three_cases(tmp_path, "r2", started="2026-01-02T00:00:00Z")
    (second / "records.jsonl").rename(second / "kept.jsonl")
    os.mkfifo(second / "records.jsonl")
    (second / "samples.jsonl").unlink()
    (second / "samples.jsonl").symlink_to("/dev/zero")
    command = [sys.executable, "-m", "bench.cli", "results", "--results", str(tmp_path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "Traceback" not in done.stderr
    assert f"{run / 'meta.json'}: unreadable (it is a FIFO (named pipe), not a regular file)" in done.stdout
    done = subprocess.run([*command[:4], "r2", *command[4:]], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    assert f"{second / 'records.jsonl'}: unreadable (it is a FIFO (named pipe), not a regular file)" in done.stdout
    assert f"{second / 'samples.jsonl'}: unreadable (it is a character device, not a regular file)" in done.stdout


@pytest.mark.filterwarnings("default")  # as a shell runs `bench`: a warning is shown
def test_a_run_whose_every_record_line_is_damaged_says_so_not_that_it_has_no_records(tmp_path, capsys):
    """Was: after the warning naming the damaged lines, "run r1 has no records yet (status finished)"."""
    path = three_cases(tmp_path / "results") / "records.jsonl"
    path.write_bytes(b"{not json\n[1, 2]\n{}\n")
    assert main(["report", "r1", "--results", str(tmp_path / "results"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"{path}: 3 damaged line(s) skipped" in err
    assert (
        f"bench report: error: {path}: none of its records could be read (every line is damaged, see the warning "
        "above): nothing to report"
    ) in err
    assert "no records yet" not in err and "Traceback" not in err


@pytest.mark.filterwarnings("default")  # as a shell runs `bench`: a warning is shown
@pytest.mark.parametrize(
    ("links", "why"),
    [
        ({"records.jsonl": "nowhere"}, "a broken link (to 'nowhere', which does not exist)"),
        ({"records.jsonl": "loop", "loop": "records.jsonl"}, "a broken link (to 'loop', a loop of links that leads"),
    ],
    ids=["dangling", "looping"],
)
def test_a_records_file_that_is_a_broken_link_is_named_as_one_not_read_as_no_records(tmp_path, capsys, links, why):
    """Was: a dangling or looping symbolic link in the place of records.jsonl read as a run with no records yet,
    without a word: `bench results RUN` showed 0 cases, `bench report` said "run r1 has no records yet"."""
    run = three_cases(tmp_path / "results")
    (run / "records.jsonl").unlink()
    for name, target in links.items():
        (run / name).symlink_to(target)
    path, results = run / "records.jsonl", ["--results", str(tmp_path / "results")]
    assert main(["results", *results]) == 0
    assert f"damaged: r1: 0 records read; not read: {path}: {why}" in capsys.readouterr().out
    assert main(["results", "r1", *results]) == 0
    assert f"\nnot read: {path}: {why}" in capsys.readouterr().out
    assert main(["report", "r1", *results, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"bench report: warning: {path}: {why}" in err and "no records yet" not in err
    assert err.endswith(
        f"bench report: error: {path}: none of its records could be read (see the warning above): nothing to report\n"
    )


def test_files_saved_with_a_byte_order_mark_read_as_they_are(tmp_path):
    """A meta.json or a JSON-lines file saved by an editor that writes a UTF-8 byte order mark (Windows' Notepad)."""
    run = three_cases(tmp_path)
    for name in ("meta.json", "records.jsonl", "samples.jsonl"):
        path = run / name
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResultsWarning)
        assert read_meta(run)["status"] == "finished"
        assert load(run)["case_id"].tolist() == ["a", "b", "c"]
        assert set(load_samples(run)) == {"s::a", "s::b", "s::c"}
        assert run_damage(run) == []


def test_samples_that_are_not_those_of_their_record_are_not_used(tmp_path):
    """Was: a samples.jsonl copied from another run (or a line edited by hand) fed the gate's statistics and the
    report's bootstrap with figures the records do not show."""
    from bench.results import checked_samples

    run = three_cases(tmp_path)  # a, b and c: 2 samples with a median of 1.0, as their records say
    samples = load_samples(run) | {"s::b": [2.0, 2.2], "s::c": [0.9, 1.0, 1.1], "s::gone": [1.0]}
    frame = load(run)
    frame.loc[frame["case_id"] == "a", "rounds"] = None  # a record without a count: its median still checked
    problems: list[str] = []
    with pytest.warns(ResultsWarning) as caught:
        kept = checked_samples(frame, samples, run / "samples.jsonl", problems)
    assert sorted(kept) == ["s::a"]
    assert [str(w.message) for w in caught] == problems
    assert problems == [
        f"{run / 'samples.jsonl'}: s::b: 2 samples with a median of 2.1 ms, but its record says 2 rounds with a p50 "
        "of 1 ms: another measurement's samples; not used",
        f"{run / 'samples.jsonl'}: s::c: 3 samples with a median of 1 ms, but its record says 2 rounds with a p50 of "
        "1 ms: another measurement's samples; not used",
    ]  # s::gone: the samples of an attempt a kill cut short before its record, dropped without a word


@pytest.mark.filterwarnings("default")  # as a shell runs `bench`: a warning is shown
def test_a_gate_over_samples_copied_from_another_run_does_not_pass(tmp_path, capsys):
    """The baseline's samples.jsonl replaced by a slower run's: its records say p50 1.0 ms, its samples 2.1 ms. The
    gate does not judge samples its records do not show (was: "regressed" or "passed" on them), and says so."""
    three_cases(tmp_path, "r1")
    three_cases(tmp_path, "r2", started="2026-01-02T00:00:00Z")
    lines = (tmp_path / "r1" / "samples.jsonl").read_text().replace("[0.9, 1.1]", "[2.0, 2.2]")
    (tmp_path / "r1" / "samples.jsonl").write_text(lines)
    out = ["--summary", str(tmp_path / "s.md"), "--json", str(tmp_path / "v.json")]
    assert main(["gate", "--baseline", "r1", "--current", "r2", "--results", str(tmp_path), *out]) == 3
    assert "another measurement's samples; not used" in capsys.readouterr().err
    verdicts = json.loads((tmp_path / "v.json").read_text())
    latency = [v for v in verdicts["verdicts"] if v["metric"] == "latency_p50_ms"]
    assert {v["verdict"] for v in latency} == {"not comparable"}
    assert {v["reason"] for v in latency} == {
        "the baseline's raw samples are not its record's (another count or median, see the warning): not used"
    }


def test_a_new_run_writes_its_meta_json_before_its_records_so_a_kill_leaves_a_resumable_run(tmp_path, monkeypatch):
    """Was: a new run created records.jsonl before its first meta.json; a kill -9 between the two left a 0-record
    run that `bench results` listed as damaged for ever and --resume refused ("meta.json is missing"). Now meta.json
    comes first: the folder a kill leaves as the run takes its records file (copied here at that moment) reads as a
    killed run, undamaged, and may be resumed."""
    import shutil

    from bench import results

    hold = results.writer._hold
    left = tmp_path / "left"

    def copy_then_hold(handle, path):
        shutil.copytree(path, left / path.name)  # what a kill -9 at this moment leaves
        hold(handle, path)

    monkeypatch.setattr(results.writer, "_hold", copy_then_hold)
    RunWriter(tmp_path / "results", "r1", {"suites": [{"name": "s"}]}).close("finished")
    monkeypatch.setattr(results.runs, "process_gone", lambda process: True)  # the killed writer is gone
    assert (left / "r1" / "meta.json").is_file()
    runs = list_runs(left)
    assert runs.loc[0, ["run_id", "status", "ok", "damage", "empty"]].tolist() == ["r1", "killed", 0, "", ""]
    assert resumable(left, "r1").done == frozenset()


@pytest.mark.filterwarnings("error::bench.results.ResultsWarning")  # it is no damage: no warning either
@pytest.mark.parametrize("left", [(), ("samples.jsonl",), ("samples.jsonl", "meta.tmp")])
def test_a_run_killed_before_its_first_meta_json_reads_as_empty_not_damaged(tmp_path, capsys, left):
    """Was: the folder an earlier bench left when killed before its first meta.json (an empty records.jsonl, nothing
    else measured) was listed by `bench results` as 'damaged: ... meta.json: missing' for ever, and --resume said
    "no run ... (its meta.json is missing)". Now it reads as a killed run that measured nothing, safe to delete."""
    three_cases(tmp_path, "r1")
    empty = tmp_path / "20260102T000000Z-abcd"
    empty.mkdir()
    for name in ("records.jsonl", *left):
        (empty / name).write_bytes(b"")
    results = ["--results", str(tmp_path)]
    assert main(["results", *results]) == 0
    out = capsys.readouterr().out
    assert "damaged" not in out
    assert f"empty: {empty.name}: killed before its first case (nothing measured); safe to delete" in out.splitlines()
    runs = list_runs(tmp_path).set_index("run_id")
    assert runs.loc[empty.name, ["status", "ok", "damage"]].tolist() == ["killed", 0, ""]
    assert runs.loc["r1", "empty"] == ""
    assert main(["results", empty.name, *results]) == 0
    assert "empty: killed before its first case" in capsys.readouterr().out
    with pytest.raises(BenchError, match=r"^--resume '20260102T000000Z-abcd': the run was killed before its first "):
        resumable(tmp_path, empty.name)
    assert load_meta("latest", tmp_path)["run_id"] == "r1"  # never taken for the newest run


@pytest.mark.parametrize("change", ["a-record", "a-samples-line", "a-hand-edit"])
def test_a_run_without_meta_json_that_holds_something_is_still_damaged(tmp_path, change):
    """Only a folder with nothing measured in it reads as empty: records or samples without a meta.json are damage
    (read from the records, as before), and a meta.json saying "empty" is not believed."""
    run = three_cases(tmp_path, "r1")
    if change == "a-hand-edit":
        _edit_meta(run, empty="made up")
        assert "empty" not in read_meta(run) and list_runs(tmp_path).loc[0, "empty"] == ""
        return
    (run / "meta.json").unlink()
    if change == "a-samples-line":
        (run / "records.jsonl").write_bytes(b"")
    with pytest.warns(ResultsWarning, match="meta.json: missing"):
        meta = read_meta(run)
    assert meta["status"] == "damaged" and "empty" not in meta


def test_a_sigterm_handler_python_did_not_set_is_put_back_as_the_default_after_a_run(monkeypatch):
    """Was: where the SIGTERM handler was not set from Python (``signal.signal`` returns ``None``: an embedding
    program's), the run's cleanup raised ``TypeError`` from ``signal.signal(SIGTERM, None)``; now the default is
    put back."""
    import signal

    from bench import plugin

    real, before = signal.signal, signal.getsignal(signal.SIGTERM)
    set_to, cleanups = [], []

    def python_did_not_set_it(signum, handler):
        set_to.append(handler)
        previous = real(signum, handler)
        return None if len(set_to) == 1 else previous

    import types

    config = types.SimpleNamespace(stash={}, add_cleanup=cleanups.append)

    monkeypatch.setattr(signal, "signal", python_did_not_set_it)
    try:
        plugin._stop_on_sigterm(config)
        (cleanup,) = cleanups
        cleanup()
    finally:
        real(signal.SIGTERM, before)
    assert set_to[-1] is signal.SIG_DFL

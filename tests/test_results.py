"""The results store: schema, append-and-flush, loading, and surviving a truncated write."""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import warnings

import pytest

from bench.cli import main
from bench.results import COLUMNS, SCHEMA_VERSION, Record, RunWriter, list_runs, load, load_meta, load_samples

REQUIRED = [
    "run_id",
    "suite",
    "case_id",
    "model",
    "compression",
    "engine",
    "device",
    "threads",
    "batch_size",
    "status",
    "error",
    "latency_p50_ms",
    "latency_p90_ms",
    "latency_p95_ms",
    "latency_p99_ms",
    "latency_mean_ms",
    "latency_std_ms",
    "latency_min_ms",
    "latency_iqr_ms",
    "rounds",
    "unstable",
    "throughput_items_per_s",
    "peak_rss_mb",
    "cuda_max_allocated_mb",
    "model_size_bytes",
    "params",
    "nonzero_params",
    "cpu_model",
    "cpu_cores",
    "gpu_name",
    "driver_version",
    "torch_version",
    "cuda_version",
    "python_version",
    "git_commit",
    "hostname",
    "timestamp",
    "accuracy",
    "energy_j_per_item",
    "power_w_avg",
    "schema_version",
]


def record(case_id: str, status: str = "ok", **values) -> Record:
    base = dict(
        run_id="r1",
        suite="s",
        case_id=case_id,
        model="m",
        compression="fp32",
        engine="eager",
        device="cpu",
        threads=1,
        batch_size=1,
        status=status,
    )
    if status == "ok":
        base.update(latency_p50_ms=1.0, rounds=3)
    return Record(**{**base, **values})


def test_schema_has_every_documented_column():
    missing = [c for c in REQUIRED if c not in COLUMNS]
    assert not missing
    assert record("a").schema_version == SCHEMA_VERSION


def test_the_package_re_exports_no_private_helper():
    """Was: bench.results re-exported ``_write_json_atomic``, ``_meta_json``, ``_read_jsonl`` and ``_lines`` after the
    module became a package, so ``monkeypatch.setattr(bench.results, "_write_json_atomic", ...)`` (how the tests patched
    the module before) would pass and patch a copy no code calls: a test that silently tests nothing. Unexported, such
    a patch fails (``raising`` is on by default) and names the module to patch instead."""
    import types

    import bench.results as package

    private = [
        name
        for name, value in vars(package).items()
        if name.startswith("_") and not name.startswith("__") and not isinstance(value, types.ModuleType)
    ]
    assert private == []


def test_record_validation():
    with pytest.raises(ValueError, match="status must be"):
        record("a", status="done")
    with pytest.raises(ValueError, match="needs latency"):
        Record(
            run_id="r",
            suite="s",
            case_id="a",
            model="m",
            compression="c",
            engine="e",
            device="cpu",
            threads=1,
            batch_size=1,
            status="ok",
        )


def test_each_append_is_on_disk_before_the_next(tmp_path):
    writer = RunWriter(tmp_path, "r1", {"suites": [{"name": "s"}]})
    writer.append(record("a"), [1.0, 2.0])
    # Read while the writer is still open: the record must already be there (flushed + fsync'ed).
    lines = (tmp_path / "r1" / "records.jsonl").read_text().splitlines()
    assert json.loads(lines[0])["case_id"] == "a"
    assert json.loads((tmp_path / "r1" / "meta.json").read_text())["status"] == "running"
    writer.append(record("b", status="skipped", error="cuda:0 not available"))
    writer.close("finished", wall_time_s=1.0)
    meta = load_meta("r1", tmp_path)
    assert meta["status"] == "finished" and meta["counts"] == {"ok": 1, "failed": 0, "skipped": 1}


def test_a_resumed_run_adds_its_time_to_the_stopped_part(tmp_path):
    writer = RunWriter(tmp_path, "r1", {})
    writer.close("interrupted", wall_time_s=10.0, measure_time_s=6.0, phase_time_s={"timed calls": 4.0, "memory": 2.0})
    writer = RunWriter(tmp_path, "r1", {}, resume=True)
    writer.close("finished", wall_time_s=5.0, measure_time_s=3.0, phase_time_s={"timed calls": 1.0, "accuracy": 2.0})
    meta = load_meta("r1", tmp_path)
    assert (meta["wall_time_s"], meta["measure_time_s"]) == (15.0, 9.0)
    assert meta["phase_time_s"] == {"timed calls": 5.0, "memory": 2.0, "accuracy": 2.0}


def test_load_gives_one_row_per_case_with_all_columns(tmp_path):
    writer = RunWriter(tmp_path, "20260101T000000Z-aaaa", {})
    writer.append(record("a", extra={"compression_params": {"amount": 0.5}}), [1.0, 1.5])
    writer.append(record("b", status="failed", error="RuntimeError: boom"))
    writer.close("finished")
    frame = load(results_dir=tmp_path)  # latest
    assert list(frame["case_id"]) == ["a", "b"]
    assert set(COLUMNS) - {"extra"} <= set(frame.columns)
    assert frame.loc[0, "extra.compression_params.amount"] == 0.5
    assert frame.loc[1, "error"] == "RuntimeError: boom"
    assert load_samples("20260101", tmp_path) == {"s::a": [1.0, 1.5]}  # unique prefix resolves


def test_load_samples_gives_numpy_arrays_on_request_and_lists_otherwise(tmp_path):
    """A report reads ~1M samples per case over many cases: as lists of Python floats that took about 32 bytes a
    sample, all held at once; ``arrays=True`` gives each case a float64 array (8 bytes a sample) as its line is
    read. Without it, the lists as before."""
    import numpy as np

    writer = RunWriter(tmp_path, "r", {})
    writer.append(record("a"), [1, 1.5, 2])  # an int sample (a hand-written or foreign file) reads as a float
    writer.append(record("b"), [3.0] * 1000)
    writer.close("finished")
    arrays = load_samples("r", tmp_path, arrays=True)
    assert set(arrays) == {"s::a", "s::b"}
    assert all(isinstance(v, np.ndarray) and v.dtype == np.float64 and v.ndim == 1 for v in arrays.values())
    assert arrays["s::a"].tolist() == [1.0, 1.5, 2.0] and arrays["s::b"].nbytes == 8 * 1000
    lists = load_samples("r", tmp_path)
    assert lists == {"s::a": [1, 1.5, 2], "s::b": [3.0] * 1000} and isinstance(lists["s::a"], list)


def test_truncated_last_line_is_ignored_with_a_warning(tmp_path):
    writer = RunWriter(tmp_path, "r1", {})
    writer.append(record("a"), [1.0])
    writer.close("finished")
    with open(tmp_path / "r1" / "records.jsonl", "a") as handle:
        handle.write('{"run_id": "r1", "case_id": "b", "sta')  # a kill mid-write
    with pytest.warns(UserWarning, match="truncated last line"):
        frame = load("r1", tmp_path)
    assert list(frame["case_id"]) == ["a"]


def test_unknown_run_lists_the_latest(tmp_path):
    RunWriter(tmp_path, "r1", {}).close("finished")
    with pytest.raises(FileNotFoundError, match=r"run 'nope' not found.*latest runs: r1"):
        load("nope", tmp_path)
    with pytest.raises(FileNotFoundError, match="no runs under"):
        load(None, tmp_path / "empty")


def test_an_ambiguous_prefix_lists_the_runs_it_could_mean_not_the_latest(tmp_path):
    """Was: "run 'a' is ambiguous ...; latest runs: b1, b2" (runs that do not start with it)."""
    for k, name in enumerate(["a1", "a2", "b1", "b2"]):
        RunWriter(tmp_path, name, {"started_at": f"2026-11-0{k + 1}T00:00:00Z"}).close("finished")
    with pytest.raises(FileNotFoundError) as error:
        load("a", tmp_path)
    assert str(error.value) == (
        f"run 'a' is ambiguous under {tmp_path}/: 2 runs start with it (a2, a1); give more of the id"
    )
    for k in range(3, 9):
        RunWriter(tmp_path, f"a{k}", {"started_at": f"2026-11-1{k}T00:00:00Z"}).close("finished")
    with pytest.raises(FileNotFoundError, match=r"8 runs start with it \(a8, a7, a6, a5, a4 and 3 older\)"):
        load("a", tmp_path)


@pytest.mark.parametrize("run", ["", "  "])
def test_an_empty_run_id_names_no_run_even_where_there_is_one(tmp_path, capsys, run):
    """Was: '' is the start of every id, so `bench baseline set ''` promoted the only run ("from run "), and
    `bench report ''` reported it."""
    RunWriter(tmp_path, "r1", {"started_at": "2026-11-01T00:00:00Z"}).close("finished")
    with pytest.raises(FileNotFoundError, match=f"run {run!r}: an empty run id names no run; give a run id"):
        load(run, tmp_path)
    assert main(["baseline", "set", run, "--results", str(tmp_path)]) == 2
    assert "an empty run id names no run" in capsys.readouterr().err
    assert not (tmp_path / "baseline").exists()


def test_list_runs_counts_records_of_a_killed_run(tmp_path):
    writer = RunWriter(tmp_path, "r1", {"suites": [{"name": "s"}]})
    writer.append(record("a"))
    writer._records.close()  # the process died: files closed by the OS, meta.json never finalised
    writer._samples.close()
    runs = list_runs(tmp_path)
    assert runs.loc[0, "status"] == "running" and runs.loc[0, "ok"] == 1


def test_listing_runs_and_their_damage_reads_each_meta_json_once(tmp_path, monkeypatch):
    """Was: three reads of each run's meta.json per listing (to sort the runs, to read it, and again for the suites
    its records are read with), three per run_damage(); one read now serves all, with the same findings."""
    import collections

    from bench import results as store

    for k in range(3):
        writer = RunWriter(tmp_path, f"r{k}", {"suites": [{"name": "s"}], "started_at": f"2026-11-0{k + 1}T00:00:00Z"})
        writer.append(record("a"))
        writer.close("finished")
    with open(tmp_path / "r1" / "records.jsonl", "a", encoding="utf-8") as f:  # pasted from a run of another suite
        f.write(json.dumps(dataclasses.asdict(record("b")) | {"suite": "pasted"}) + "\n")
    reads: collections.Counter[str] = collections.Counter()
    real = store.reading._meta_json
    for module in (store.reading, store.runs):  # the two modules that read a meta.json
        monkeypatch.setattr(module, "_meta_json", lambda folder: reads.update([folder.name]) or real(folder))
    runs = list_runs(tmp_path).set_index("run_id")
    assert reads == {"r0": 1, "r1": 1, "r2": 1}
    assert runs["ok"].to_dict() == {"r0": 1, "r1": 1, "r2": 1} and "suite 'pasted'" in runs.loc["r1", "damage"]
    reads.clear()
    assert any("suite 'pasted'" in problem for problem in store.run_damage(tmp_path / "r1"))
    assert reads == {"r1": 1}


def test_record_round_trips_through_json(tmp_path):
    original = record("a", unstable=True, peak_rss_mb=12.5)
    writer = RunWriter(tmp_path, "r1", {})
    writer.append(original)
    writer.close("finished")
    row = json.loads((tmp_path / "r1" / "records.jsonl").read_text())
    assert Record(**row) == original
    assert set(row) == {f.name for f in dataclasses.fields(Record)}


def test_a_case_whose_parameter_mapping_has_a_key_json_cannot_hold_is_still_written(tmp_path):
    # a factory's {2024-01-02: a} (YAML reads the key as a date): json.dumps refused the whole record (a TypeError)
    writer = RunWriter(tmp_path, "r1", {})
    writer.append(record("a", extra={"model_params": {"days": {datetime.date(2024, 1, 2): "a", 3: "b", None: "c"}}}))
    writer.close("finished")
    row = json.loads((tmp_path / "r1" / "records.jsonl").read_text())
    assert row["case_id"] == "a" and row["extra"]["model_params"] == {
        "days": {"2024-01-02": "a", "3": "b", "null": "c"}
    }


def test_latest_is_the_newest_by_start_time_even_with_custom_ids(tmp_path):
    RunWriter(tmp_path, "nightly-42", {"started_at": "2026-01-01T00:00:00Z"}).close("finished")
    RunWriter(tmp_path, "20260102T000000Z-abcd", {"started_at": "2026-01-02T00:00:00Z"}).close("finished")
    assert load_meta("latest", tmp_path)["run_id"] == "20260102T000000Z-abcd"


def test_a_corrupt_line_in_the_middle_is_skipped_with_a_warning(tmp_path):
    from bench.results import ResultsWarning

    writer = RunWriter(tmp_path, "r1", {})
    writer.append(record("a"))
    writer.append(record("b"))
    writer.close("finished")
    path = tmp_path / "r1" / "records.jsonl"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(["{oops", lines[1]]) + "\n")
    with pytest.warns(ResultsWarning, match=r"records.jsonl: 1 damaged line\(s\) skipped: 1 \(not JSON\)"):
        frame = load("r1", tmp_path)
    assert frame["case_id"].tolist() == ["b"]  # read as far as it is intact


@pytest.mark.filterwarnings("default")  # as a shell runs `bench`: a warning is shown
def test_a_record_of_a_newer_schema_is_read_with_a_warning_naming_the_file_and_the_versions(tmp_path, capsys):
    """Was: a record written by a newer bench (schema_version above SCHEMA_VERSION) was read without a word, its
    new columns unknown here. It is still read (a newer version adds columns, and nothing measured is dropped), with
    one warning naming the file, the lines and both versions; the run is not called damaged for it."""
    writer = RunWriter(tmp_path, "r1", {})
    writer.append(record("a"))
    writer.append(record("b", schema_version=SCHEMA_VERSION + 1))
    writer.close("finished")
    path = tmp_path / "r1" / "records.jsonl"
    newer = rf"{path}: 1 record\(s\) of a schema newer than this bench's \(version {SCHEMA_VERSION}\), read as far"
    with pytest.warns(UserWarning, match=newer + rf".*: 2 \(version {SCHEMA_VERSION + 1}\); upgrade bench"):
        assert load("r1", tmp_path)["case_id"].tolist() == ["a", "b"]
    assert main(["results", "r1", "--results", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert f"bench results: warning: {path}: 1 record(s) of a schema newer" in err and "not read" not in out


def test_a_case_on_two_lines_reads_its_last_record_and_last_samples_with_a_warning(tmp_path, capsys):
    """A concatenated run: the record and the samples read are one measurement (the last), never a mix."""
    from bench.cli import main
    from bench.results import ResultsWarning

    for run_id, (p50, samples) in {"first": (1.0, [1.0, 1.0]), "second": (2.0, [2.0, 2.0])}.items():
        writer = RunWriter(tmp_path, run_id, {})
        writer.append(record("a", latency_p50_ms=p50), samples)
        writer.append(record("b"), [5.0])
        writer.close("finished")
    run, second = tmp_path / "first", tmp_path / "second"
    for name in ("records.jsonl", "samples.jsonl"):
        (run / name).write_text((run / name).read_text() + (second / name).read_text())
    with pytest.warns(ResultsWarning, match=r"records.jsonl: 2 case\(s\) on more than one line, only the last of each"):
        frame = load(run, tmp_path)
    assert frame["case_id"].tolist() == ["a", "b"] and frame["latency_p50_ms"].tolist()[0] == 2.0
    with warnings.catch_warnings():  # samples on two lines alone are a resumed attempt, not damage: no warning
        warnings.simplefilter("error", ResultsWarning)
        assert load_samples(run, tmp_path)["s::a"] == [2.0, 2.0]
    assert list_runs(tmp_path).set_index("run_id").loc["first", "ok"] == 2  # cases, not lines
    assert main(["results", str(run), "--results", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "2 cases" in out
    assert f"not read: {run / 'records.jsonl'}: 2 case(s) on more than one line" in out


def test_past_case_seconds_reads_each_case_s_newest_ok_record_on_this_machine(tmp_path):
    """What the progress line plans by: set-up plus measurement of the newest ok record of each case, from runs on
    the same host and CPU, never from the run now writing."""
    from bench.results import past_case_seconds
    from tests.gate_helpers import latencies, make_run

    here = {"hostname": "ci-box", "cpu_model": "cpu-x"}
    ok = {"samples": latencies(1, n=20)}
    cases = {
        "m[a]": {**ok, "setup_time_s": 1.0, "measure_time_s": 2.0},
        "m[b]": {**ok, "setup_time_s": 0.5, "measure_time_s": 0.5},
    }

    def written_at(path, when):  # the runs last written to come first (their files' modification times)
        for name in ("meta.json", "records.jsonl"):
            os.utime(path / name, (when, when))

    written_at(make_run(tmp_path, "old", cases, env=here, started_at="2026-11-20T00:00:00Z"), 1_000_000)
    newer = {"m[a]": {**ok, "setup_time_s": 0.0, "measure_time_s": 5.0}, "m[b]": {"status": "failed"}}
    written_at(make_run(tmp_path, "new", newer, env=here, started_at="2026-11-21T00:00:00Z"), 1_000_010)
    elsewhere = make_run(tmp_path, "elsewhere", cases, env={**here, "hostname": "other"}, started_at="2026-11-22")
    written_at(elsewhere, 1_000_020)
    wanted = ["demo::m[a]", "demo::m[b]", "demo::m[c]"]
    assert past_case_seconds(wanted, here, tmp_path) == {"demo::m[a]": 5.0, "demo::m[b]": 1.0}
    assert past_case_seconds(wanted, here, tmp_path, exclude=tmp_path / "new") == {"demo::m[a]": 3.0, "demo::m[b]": 1.0}
    assert past_case_seconds(wanted, {**here, "cpu_model": "cpu-y"}, tmp_path) == {}
    assert past_case_seconds(wanted, here, tmp_path / "none") == {}
    damaged = {"m[a]": {**ok, "setup_time_s": 1e308, "measure_time_s": 1e308}, "m[b]": {**ok, "measure_time_s": 9e9}}
    written_at(make_run(tmp_path, "newest", damaged, env=here, started_at="2026-11-23T00:00:00Z"), 1_000_030)
    assert past_case_seconds(wanted, here, tmp_path) == {"demo::m[a]": 5.0, "demo::m[b]": 1.0}, "over a day: damage"


LONG = b'{"case_id": "big", "samples_ms": [' + b"1.0, " * 40000


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (b'{"a": 1}\n{"b": ', b'{"a": 1}\n'),  # a line a kill cut short: dropped
        (b'{"a": 1}\n{"b": 2}', b'{"a": 1}\n{"b": 2}\n'),  # whole, lacking only its newline: kept
        (b"", b""),  # an empty file
        (b'{"b": ', b""),  # a file of one line, cut short
        (b'\xef\xbb\xbf{"b": 2}', b'\xef\xbb\xbf{"b": 2}\n'),  # a file of one line, whole (with a BOM)
        (b'{"a": 1}\n{"b": 2}\n', b'{"a": 1}\n{"b": 2}\n'),  # as a run leaves it
        (b'{"a": 1}\n' + LONG, b'{"a": 1}\n'),  # a last line longer than one read from the end
        (b'{"a": 1}\n' + LONG + b"1.0]}", b'{"a": 1}\n' + LONG + b"1.0]}\n"),
        (LONG + b"1.0]}", LONG + b"1.0]}\n"),
    ],
)
def test_drop_cut_short_line_mends_only_the_last_line(tmp_path, before, after):
    from bench.results import drop_cut_short_line

    path = tmp_path / "samples.jsonl"
    path.write_bytes(before)
    drop_cut_short_line(path)
    assert path.read_bytes() == after
    drop_cut_short_line(tmp_path / "absent.jsonl")  # no file: nothing to mend, none made
    assert not (tmp_path / "absent.jsonl").exists()
    if after == before:  # nothing to mend: never opened for writing (a read-only file is left alone, no error)
        path.chmod(0o444)
        drop_cut_short_line(path)
        assert path.read_bytes() == after


def test_drop_cut_short_line_reads_the_end_of_a_large_file_only(tmp_path):
    """Was: the whole samples.jsonl was read into memory on every --resume to look at its last line (hundreds of MB
    for a large run). Now only its end is read: what it holds in memory is far below the file's size."""
    import tracemalloc

    from bench.results import drop_cut_short_line

    path = tmp_path / "samples.jsonl"
    line = b'{"case_id": "a", "suite": "s", "samples_ms": [' + b"1.25, " * 2000 + b"1.25]}\n"
    with open(path, "wb") as handle:
        for _ in range(2000):  # about 24 MB
            handle.write(line)
        handle.write(line[:100])  # a kill cut this one short
    size = path.stat().st_size
    tracemalloc.start()
    try:
        drop_cut_short_line(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert path.stat().st_size == size - 100 and path.read_bytes().endswith(b"1.25]}\n")
    assert peak < size / 20


class _LinesOnly:
    """A results file's handle on which only reading a line at a time is allowed."""

    def __init__(self, handle):
        self._handle = handle

    def readline(self, *args):
        return self._handle.readline(*args)

    def __getattr__(self, name):
        raise AssertionError(f"the reader called {name}() on {self._handle.name}: it must read a line at a time")


@pytest.mark.filterwarnings("default")
def test_records_and_samples_are_read_a_line_at_a_time_never_whole(tmp_path, monkeypatch):
    """Was: records.jsonl and samples.jsonl were read whole into memory, and a samples file of several GB ended every
    command reading it in MemoryError. Damaged lines are skipped with a warning as before, a line longer than any a
    run writes too (read past in pieces), and the cases asked for are the only ones whose samples are parsed."""
    from contextlib import contextmanager
    from pathlib import Path

    from bench import results, safe_yaml

    writer = RunWriter(tmp_path, "r1", {"suites": [{"name": "s"}]})
    for name in "abcd":
        writer.append(record(name), [1.0] * 500)
    writer.close("finished")
    samples = tmp_path / "r1" / "samples.jsonl"
    with open(samples, "ab") as handle:
        handle.write(b'{"case_id": "e", "suite": "s", "samples_ms": [oops]}\n')  # damaged, named as a run names it
        handle.write(b'{"case_id": "f", "suite": "s", "samples_ms": [' + b"1.0, " * 300_000 + b"1.0]}\n")  # 1.5 MB
        handle.write(b"{not json}\n")
        handle.write(b'{"case_id": "g", "suite": "s", "samp')  # cut short by a kill
    real_open = getattr(safe_yaml, "open_regular", None)  # None: a bench that had none read files whole

    @contextmanager
    def lines_only(path):
        with real_open(path) as handle:
            yield _LinesOnly(handle) if str(path).endswith(".jsonl") else handle

    def refused(self, *args, **kwargs):
        raise AssertionError(f"{self} read whole")

    monkeypatch.setattr(safe_yaml, "open_regular", lines_only, raising=False)
    monkeypatch.setattr(safe_yaml, "read_regular", lambda path, limit=None: refused(path))
    monkeypatch.setattr(Path, "read_bytes", refused)
    monkeypatch.setattr(Path, "read_text", refused)
    for module in (results.reading, results.runs):
        monkeypatch.setattr(module, "_meta_json", lambda folder: {"run_id": "r1", "suites": [{"name": "s"}]})
    monkeypatch.setattr(results.reading, "MAX_LINE_BYTES", 1 << 20)  # f's line is longer
    assert load("r1", tmp_path)["case_id"].tolist() == list("abcd")
    with pytest.warns(results.ResultsWarning) as warned:
        found = load_samples("r1", tmp_path)
    assert sorted(found) == ["s::a", "s::b", "s::c", "s::d"] and found["s::a"] == [1.0] * 500
    said = [str(w.message) for w in warned]
    assert f"{samples}: ignoring a truncated last line (the run was killed mid-write)" in said
    assert (
        f"{samples}: 3 damaged line(s) skipped: 5 (not JSON), 6 (longer than 1 MiB, which no run writes), 7 (not JSON)"
        in said
    )
    with pytest.warns(results.ResultsWarning, match=r"2 damaged line\(s\) skipped: 6 \(longer .*\), 7 \(not JSON\)$"):
        found = load_samples("r1", tmp_path, cases={"s::b", "s::d"})  # e's samples are not parsed: not asked for
    assert found == {"s::b": [1.0] * 500, "s::d": [1.0] * 500}


@pytest.mark.parametrize("given", ["latest", "r1", "path"])
def test_the_report_and_the_gate_read_the_chosen_run_s_meta_json_once(tmp_path, monkeypatch, given):
    """Was: bench report read the meta.json of the run it reports four times (to find the run among the others, then
    for its records, for its metadata and for its samples), bench gate five times (once more for its suites)."""
    import collections

    from bench import results as store

    for k in range(3):
        writer = RunWriter(tmp_path, f"r{k}", {"suites": [{"name": "s"}], "started_at": f"2026-11-0{3 - k}T00:00:00Z"})
        for name in "ab":
            writer.append(record(name, run_id=f"r{k}", rounds=2, model_size_bytes=1000), [0.9, 1.1])
        writer.close("finished")
    run = str(tmp_path / "r1") if given == "path" else given  # r1 is neither the first nor the newest (r0)
    reads: collections.Counter[str] = collections.Counter()
    real = store.reading._meta_json
    for module in (store.reading, store.runs):  # the two modules that read a meta.json
        monkeypatch.setattr(module, "_meta_json", lambda folder: reads.update([folder.name]) or real(folder))
    assert main(["report", run, "--results", str(tmp_path), "--out", str(tmp_path / "reports")]) == 0
    assert reads["r0" if given == "latest" else "r1"] == 1
    reads.clear()
    outputs = ["--summary", str(tmp_path / "s.md"), "--json", str(tmp_path / "v.json")]
    base = str(tmp_path / "r2") if given == "path" else "r2"
    main(["gate", "--baseline", base, "--current", run, "--results", str(tmp_path), *outputs])
    assert reads["r0" if given == "latest" else "r1"] == 1 and reads["r2"] == 1


@pytest.mark.parametrize("given", ["latest", "r1", "path"])
def test_the_one_run_view_reads_its_meta_json_once(tmp_path, monkeypatch, capsys, given):
    """Was: ``bench results RUN`` read the run's meta.json three times (for its records, its metadata and what of it
    could not be read), four when named by id (once more to find it among the others)."""
    import collections

    from bench import results as store

    for k in range(3):
        writer = RunWriter(tmp_path, f"r{k}", {"suites": [{"name": "s"}], "started_at": f"2026-11-0{3 - k}T00:00:00Z"})
        writer.append(record("a", run_id=f"r{k}"))
        writer.close("finished")
    with open(tmp_path / "r1" / "records.jsonl", "a", encoding="utf-8") as f:  # pasted from a run of another suite
        f.write(json.dumps(dataclasses.asdict(record("b")) | {"suite": "pasted"}) + "\n")
    run = str(tmp_path / "r1") if given == "path" else given  # r1 is neither the first nor the newest (r0)
    reads: collections.Counter[str] = collections.Counter()
    real = store.reading._meta_json
    for module in (store.reading, store.runs):  # the two modules that read a meta.json
        monkeypatch.setattr(module, "_meta_json", lambda folder: reads.update([folder.name]) or real(folder))
    assert main(["results", run, "--results", str(tmp_path)]) == 0
    shown = "r0" if given == "latest" else "r1"
    assert reads[shown] == 1
    out = capsys.readouterr().out
    assert out.startswith(f"run {shown} (finished), 1 case\n")
    if shown == "r1":  # what could not be read is found with the meta.json read once: the suites it names
        assert "not read: " in out and "suite 'pasted' is not one its meta.json names" in out


class _PiecesOnly:
    """A run's file held open by its writer, which must never be read whole."""

    def __init__(self, handle):
        self._handle = handle

    def read(self, size=-1):
        assert size is not None and size >= 0, f"{self._handle.name} read whole"
        return self._handle.read(size)

    def __getattr__(self, name):
        return getattr(self._handle, name)


def test_a_removed_run_is_written_back_a_piece_at_a_time(tmp_path):
    """Was: writing back a run whose folder was removed during it read its records and samples whole into memory
    (a run's samples may be gigabytes)."""
    import shutil

    writer = RunWriter(tmp_path, "r1", {"suites": [{"name": "s"}]})
    writer.append(record("a"), [1.0] * 1000)
    writer.append(record("b"), [2.0] * 1000)
    shutil.rmtree(tmp_path / "r1")
    writer._records, writer._samples = _PiecesOnly(writer._records), _PiecesOnly(writer._samples)
    writer.close("finished")  # after its last case: written back, and finished
    assert writer.removed and load("r1", tmp_path)["case_id"].tolist() == ["a", "b"]
    assert load_samples("r1", tmp_path) == {"s::a": [1.0] * 1000, "s::b": [2.0] * 1000}


def test_bench_results_of_one_run_keeps_no_samples_as_lists_to_find_their_damage(tmp_path, monkeypatch):
    """Was: ``bench results RUN`` (:func:`bench.results.run_damage`) read the samples file only for what it could not
    read, yet kept every case's samples as a list of Python floats (32 bytes a sample, 4 times the arrays the report
    reads), so a samples file of several GB still ended it in MemoryError. Damage is found as before."""
    from bench import results

    writer = RunWriter(tmp_path, "r1", {"suites": [{"name": "s"}]})
    for name in "ab":
        writer.append(record(name), [1.0] * 50)
    writer.close("finished")
    with open(tmp_path / "r1" / "samples.jsonl", "ab") as handle:
        handle.write(b"{not json}\n")
    kept: list[object] = []
    real = results.runs._read_jsonl

    def reading(path, *args, **kwargs):
        rows = real(path, *args, **kwargs)
        kept.extend(row["samples_ms"] for row in rows if path.name == "samples.jsonl")
        return rows

    monkeypatch.setattr(results.runs, "_read_jsonl", reading)
    damage = results.run_damage(tmp_path / "r1")
    assert damage == [f"{tmp_path / 'r1' / 'samples.jsonl'}: 1 damaged line(s) skipped: 3 (not JSON)"]
    assert len(kept) == 2 and not any(isinstance(samples, list) for samples in kept)


def test_a_small_meta_json_is_read_without_setting_aside_the_limit(tmp_path):
    """Reading a run's small ``meta.json`` under its 256 MiB limit sets aside memory for the file, not the limit
    (before, ``read(limit + 1)`` reserved the whole limit for every read: a ``MemoryError`` under ``ulimit -v``)."""
    import tracemalloc

    from bench.safe_yaml import read_regular

    path = tmp_path / "meta.json"
    path.write_text(json.dumps({"run_id": "r1", "suites": ["s"]}))
    tracemalloc.start()
    try:
        data = read_regular(path, 256 * 1024 * 1024)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert json.loads(data)["run_id"] == "r1"
    assert peak < 8 * 1024 * 1024, f"{peak / 2**20:.0f} MiB set aside to read {len(data)} bytes"
    assert read_regular(path, 5) == path.read_bytes()[:6]  # still at most limit + 1 bytes

"""Run history: ordering, change points, trend charts, and baseline promotion."""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.cli import main
from bench.errors import BenchError
from bench.gate import history
from tests.gate_helpers import latencies, make_run

ROOT = Path(__file__).resolve().parents[1]

# ------------------------------------------------------------------------------------------------ index


def test_runs_are_ordered_by_start_time_not_by_id(tmp_path):
    results = tmp_path / "results"
    make_run(results, "zzz-oldest", {"m[a]": {"samples": latencies(1)}}, started_at="2026-11-01T00:00:00Z")
    make_run(results, "aaa-newest", {"m[a]": {"samples": latencies(2)}}, started_at="2026-11-03T00:00:00Z")
    make_run(results, "mmm-middle", {"m[a]": {"samples": latencies(3)}}, started_at="2026-11-02T00:00:00Z")
    make_run(results, "other", {"x[a]": {"samples": latencies(4)}}, suite="other", started_at="2026-11-02T12:00:00Z")
    history.promote("zzz-oldest", results)  # a baseline folder is not a run of the history
    assert [r.run_id for r in history.index_runs(results, "demo")] == ["zzz-oldest", "mmm-middle", "aaa-newest"]
    assert [r.run_id for r in history.index_runs(results)][2] == "other"
    run = history.index_runs(results, "demo")[0]
    assert (run.commit, run.machine, run.suites) == ("a" * 12, "ci-box", ("demo",))


# ----------------------------------------------------------------------------------------- change points


def test_a_step_is_found_where_it_happens():
    rng = np.random.default_rng(0)
    series = np.r_[1.0 + rng.normal(0, 0.01, 8), 1.2 + rng.normal(0, 0.01, 8)]
    (step,) = history.change_points(series)
    assert step.index == 8
    assert step.change == pytest.approx(0.2, abs=0.03)
    assert step.p_value < 0.05


def test_two_steps_are_found_by_binary_segmentation():
    series = [1.0, 1.01, 0.99, 1.0, 1.02, 1.5, 1.49, 1.51, 1.5, 1.52, 1.0, 0.99, 1.01, 1.0, 1.02]
    assert [c.index for c in history.change_points(series)] == [5, 10]


@pytest.mark.parametrize(
    "series",
    [
        [1.0] * 12,
        list(1.0 + np.random.default_rng(1).normal(0, 0.01, 20)),  # noise only
        [1.0, 1.01, 0.99, 1.0, 3.0, 1.0, 1.01, 0.99, 1.0, 1.0],  # one outlier run is not a step
        [1.0, 1.0, 1.0, 1.3, 1.3, 1.3],  # too few runs either side to tell
        [1.0, 1.01, 0.99, 1.0, 1.02, 1.03, 1.02, 1.04, 1.03, 1.02],  # a real but small step (< 5%)
    ],
)
def test_no_false_steps(series):
    assert history.change_points(series) == []


# -------------------------------------------------------------------------------------------------- CLI


def _series(tmp_path, values):
    results = tmp_path / "results"
    for i, scale in enumerate(values):
        make_run(
            results,
            f"run{i:02d}",
            {"m[a]": {"samples": latencies(i, n=50, scale=scale), "model_size_bytes": 1000}},
            started_at=f"2026-11-{i + 1:02d}T03:00:00Z",
        )
    return results


def test_history_command_prints_the_table_and_writes_trends(tmp_path, capsys):
    results = _series(tmp_path, [1.0] * 5 + [1.25] * 5)
    out = tmp_path / "trends"
    assert main(["history", "demo", "--results", str(results), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    lines = printed.splitlines()
    assert lines[0] == "suite demo: 10 runs, oldest first"
    assert lines[1].split()[:4] == ["run_id", "started_at", "commit", "machine"]
    assert [line.split()[0] for line in lines[2:12]] == [f"run{i:02d}" for i in range(10)]
    assert "latency_p50_ms" in printed and "from run run05" in printed
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert "demo-latency_p50_ms.png" in pngs and "demo-model_size_bytes.png" in pngs
    assert "demo-accuracy.png" not in pngs  # never measured: no empty chart
    assert (out / "demo-latency_p50_ms.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.filterwarnings("default")  # as a shell runs `bench`: a warning is shown
@pytest.mark.parametrize("huge", [[2], [0, 1, 2, 3]], ids=["one-run", "every-run"])
def test_a_figure_beyond_what_a_chart_draws_is_left_off_the_trend_with_one_warning(tmp_path, capsys, huge):
    """Was: one figure of 1e308 stopped `bench history` with matplotlib's ``arange: cannot compute length``, and
    every figure at 1e308 printed only ``overflow encountered in exp``."""
    results = tmp_path / "results"
    for i in range(4):
        size = 1e308 if i in huge else 1000
        make_run(results, f"run{i:02d}", {"m[a]": {"samples": latencies(i), "model_size_bytes": size}},
                 started_at=f"2026-11-{i + 1:02d}T03:00:00Z")  # fmt: skip
    out = tmp_path / "trends"
    assert main(["history", "demo", "--results", str(results), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    more = f" and {len(huge) - 1} more" if len(huge) > 1 else ""
    assert err.count("warning: model_size_bytes:") == 1, err
    assert f"model_size_bytes: 1e+308 of m[a] in run run{huge[0]:02d}{more} left off its trend chart" in err
    assert "overflow" not in err and (out / "demo-latency_p50_ms.png").is_file()
    assert (out / "demo-model_size_bytes.png").is_file() == (len(huge) == 1)  # nothing left to draw: no chart


def test_figures_beyond_a_chart_keep_their_change_points_and_the_extremes_of_its_range_draw(tmp_path, capsys):
    """Review: a metric none of whose figures a chart can draw lost its change points with its chart; and figures
    of 1e300 and 1e-300 together overflowed the ratio that chooses a log axis ("overflow encountered")."""
    frame = pd.DataFrame(
        {"case_id": "m[a]", "run_order": range(10), "run_id": [f"r{i}" for i in range(10)], "commit": "c" * 12,
         "started_at": "2026-11-01T00:00:00Z", "model_size_bytes": [1e307] * 5 + [1.6e307] * 5,
         "peak_rss_mb": [1e300, 1e-300] * 5}
    )  # fmt: skip
    with pytest.warns(Warning, match="model_size_bytes: 1e\\+307 of m\\[a\\] in run r0 and 9 more left off") as seen:
        paths, steps = history.plot_trends(frame, "s", tmp_path, ["model_size_bytes", "peak_rss_mb"])
    assert [p.name for p in paths] == ["s-peak_rss_mb.png"] and len(seen) == 1
    assert [(s["metric"], s["run_id"]) for s in steps] == [("model_size_bytes", "r5")]


def test_trend_charts_of_thousands_of_runs_and_many_cases_stay_bounded(tmp_path, monkeypatch):
    """Was: a chart 0.6 inch wide per run (66,300 pixels for 1100 runs, ~1 GB to draw 10,000) with every run
    labelled, and a legend naming every case (300 entries covered the chart). Now at most 3000 pixels, 40 labels
    and 12 named cases, those with a change point first; every run and case is still drawn."""
    import matplotlib.pyplot as plt
    import pandas as pd
    from PIL import Image

    legends = []
    monkeypatch.setattr(plt.Axes, "legend", lambda ax, *a, **k: legends.append(k["handles"]))
    runs, cases = 1200, 14
    frame = pd.DataFrame(
        {
            "run_order": np.repeat(np.arange(runs), cases),
            "run_id": np.repeat([f"r{i}" for i in range(runs)], cases),
            "started_at": "2026-11-01T00:00:00Z",
            "commit": "abc",
            "case_id": np.tile([f"c{k:02d}" for k in range(cases)], runs),
            "latency_p50_ms": np.tile(np.arange(1.0, cases + 1), runs),
        }
    )
    frame.loc[(frame["case_id"] == "c13") & (frame["run_order"] >= runs // 2), "latency_p50_ms"] *= 2  # a step
    paths, steps = history.plot_trends(frame, "s", tmp_path, ["latency_p50_ms"])
    (path,) = paths
    with Image.open(path) as image:
        width = image.width
    assert width <= history.MAX_TREND_WIDTH * 100
    assert [s["case_id"] for s in steps] == ["c13"]
    (handles,) = legends
    assert len(handles) == history.MAX_TREND_LEGEND + 1
    assert handles[0].get_label() == "c13"  # the case with a change point is named first
    assert handles[-1].get_label() == f"{cases - history.MAX_TREND_LEGEND} more case(s), not named"


def test_history_of_an_unknown_suite(tmp_path, capsys):
    results = _series(tmp_path, [1.0])
    assert main(["history", "nope", "--results", str(results)]) == 2
    assert "suites with runs: demo" in capsys.readouterr().err


def test_a_metric_asked_for_by_name_but_never_measured_says_so(tmp_path, capsys):
    """Was: --metric accuracy over runs without accuracy printed no chart and not a word about it."""
    results = _series(tmp_path, [1.0, 1.0])
    argv = ["history", "demo", "--results", str(results), "--out", str(tmp_path / "t")]
    assert main([*argv, "--metric", "accuracy", "--metric", "latency_p50_ms"]) == 0
    out = capsys.readouterr().out
    assert "no trend of accuracy: not measured in any ok case of these runs" in out
    assert "trend: " in out and "no trend of latency_p50_ms" not in out


def test_a_metric_asked_for_twice_is_charted_once_with_each_change_point_once(tmp_path, capsys):
    """Was: `--metric latency_p50_ms --metric latency_p50_ms` drew the chart twice, and printed its trend line and
    every change point twice (`--metric accuracy` twice: "no trend of accuracy" twice)."""
    results = _series(tmp_path, [1.0] * 5 + [1.25] * 5)
    argv = ["history", "demo", "--results", str(results), "--out", str(tmp_path / "t")]
    twice = ["--metric", "latency_p50_ms", "--metric", "accuracy"] * 2
    assert main([*argv, *twice]) == 0
    lines = capsys.readouterr().out.splitlines()
    shown = [line for line in lines if line.startswith(("trend: ", "no trend of ", "  latency_p50_ms"))]
    assert len(shown) == len(set(shown)) == 3  # the chart, its one change point, and why accuracy has none
    frame = history.history_frame(history.index_runs(results, "demo"), "demo")
    paths, steps = history.plot_trends(frame, "demo", tmp_path / "u", twice[1::2])
    assert len(paths) == 1 and len(steps) == 1


@pytest.mark.filterwarnings("default")  # as a shell runs `bench`: a warning is shown
def test_a_copied_run_folder_is_a_run_of_its_own_in_the_history_table(tmp_path, capsys):
    """Was: each run's row counted the rows of every run of the same id (a copied run folder, whose meta.json names
    the run it was copied from, read 2 cases ok for each copy), a scan of all rows per run that also grew as runs x
    cases. Now by the run's place in the history; and the copy is read as its folder's run, with a warning."""
    import shutil

    results = _series(tmp_path, [1.0])
    shutil.copytree(results / "run00", results / "run00-copy")
    assert main(["history", "demo", "--results", str(results), "--out", str(tmp_path / "t")]) == 0
    out, err = capsys.readouterr()
    assert "run00-copy/meta.json: run_id: 'run00' is not its folder's name; read as 'run00-copy'" in err
    rows = [line.split() for line in out.splitlines()[2:4]]
    assert sorted((row[0], row[-2]) for row in rows) == [("run00", "1"), ("run00-copy", "1")]


# ------------------------------------------------------------------------------------------------ baselines


def test_promote_copies_one_suite_per_folder(tmp_path):
    results = tmp_path / "results"
    make_run(
        results,
        "r1",
        {"m[a]": {"samples": latencies(1)}, "x[b]": {"samples": latencies(2), "suite": "other"}},
        extra_suites=("other",),
    )
    paths = history.promote("r1", results)
    assert [p.name for p in paths] == ["demo", "other"]
    demo = results / "baseline" / "demo"
    rows = [json.loads(line) for line in (demo / "records.jsonl").read_text().splitlines()]
    assert [r["case_id"] for r in rows] == ["m[a]"]
    samples = [json.loads(line) for line in (demo / "samples.jsonl").read_text().splitlines()]
    assert [s["case_id"] for s in samples] == ["m[a]"]
    meta = json.loads((demo / "meta.json").read_text())
    assert meta["promoted_from"] == "r1" and [s["name"] for s in meta["suites"]] == ["demo"]
    assert set(history.baselines(results)) == {"demo", "other"}


def test_a_suite_named_twice_is_promoted_once(tmp_path, capsys):
    """Was: --suite demo --suite demo promoted demo twice, printing 'baseline of suite demo' twice."""
    results = tmp_path / "results"
    make_run(results, "r1", {"m[a]": {"samples": latencies(1)}})
    assert main(["baseline", "set", "r1", "--suite", "demo", "--suite", "demo", "--results", str(results)]) == 0
    assert capsys.readouterr().out.count("baseline of suite demo") == 1


def test_a_promotion_names_the_run_it_promoted_and_the_folder_to_commit(tmp_path, capsys, monkeypatch):
    """Was: 'from run latest' (what was typed) and 'commit results/baseline/' whatever --results said."""
    monkeypatch.chdir(tmp_path)
    make_run(tmp_path / "store", "r1-20261124", {"m[a]": {"samples": latencies(1)}})
    assert main(["baseline", "set", "latest", "--results", "store"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"baseline of suite demo: {Path('store') / 'baseline' / 'demo'} (from run r1-20261124)",
        "commit store/baseline/ so the nightly job finds it (it is not git-ignored)",
    ]


def test_promoting_cases_measured_on_a_busy_machine_warns_in_one_line(tmp_path, capsys):
    """Was: promoted without a word; every later `bench gate` then exited 3 on them ("baseline ran on a busy
    machine ... re-run on a quiet machine"), night after night, though it was the baseline that needed measuring."""
    results = tmp_path / "results"
    busy = {"m[a]": {"samples": latencies(1), "extra": {"cpu_wait_share": 0.38}}}
    make_run(results, "busy", {**busy, "m[b]": {"samples": latencies(2), "extra": {"cpu_wait_share": 0.01}}})
    make_run(results, "quiet", {"m[c]": {"samples": latencies(3), "extra": {"cpu_wait_share": 0.0}}})
    assert main(["baseline", "set", "busy", "--results", str(results)]) == 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("bench baseline: warning: 1 case of the baseline in ")
    assert "ran on a busy machine (their threads waited for a CPU up to 38% of their timed calls; " in err
    assert "): demo::m[a]; bench gate will not compare their timed figures (exit 3) until a run measured" in err
    assert main(["baseline", "set", "quiet", "--results", str(results)]) == 0  # its own cases only: quiet
    assert capsys.readouterr().err == ""


def test_promotion_merges_cases_a_run_did_not_measure(tmp_path):
    results = tmp_path / "results"
    make_run(results, "cpu", {"m[cpu]": {"samples": latencies(1)}, "m[gpu]": {"status": "skipped"}})
    make_run(results, "gpu", {"m[gpu]": {"samples": latencies(2), "device": "cuda:0"}, "m[cpu]": {"status": "skipped"}})
    history.promote("cpu", results)
    history.promote("gpu", results)
    side = history.baseline_path("demo", results)
    rows = [json.loads(line) for line in (side / "records.jsonl").read_text().splitlines()]
    assert {(r["case_id"], r["run_id"]) for r in rows} == {("m[cpu]", "cpu"), ("m[gpu]", "gpu")}
    meta = json.loads((side / "meta.json").read_text())
    assert [(p["run_id"], p["cases"]) for p in meta["promotions"]] == [("cpu", ["m[cpu]"]), ("gpu", ["m[gpu]"])]
    history.promote("gpu", results, replace=True)
    rows = [json.loads(line) for line in (side / "records.jsonl").read_text().splitlines()]
    assert [r["case_id"] for r in rows] == ["m[gpu]"]


def test_a_promotion_killed_between_its_two_renames_hides_no_baseline(tmp_path, capsys):
    """A ``kill -9`` after the earlier baseline was moved aside (``.demo.old<pid>``) and before the new one took its
    place: before, ``bench gate`` and ``bench baseline`` found no baseline of the suite until the next promotion.
    Now the reader puts it back; the killed promotion's staging folder goes, and a file of such a name is not ours."""
    results = tmp_path / "results"
    make_run(results, "r1", {"m[a]": {"samples": latencies(1)}})
    history.promote("r1", results)
    root = results / "baseline"
    (root / "demo").rename(root / ".demo.old999999999")
    (root / ".demo.tmp999999999").mkdir()
    (root / ".other.old7").write_text("not a baseline\n")
    found, missing = history.baseline_for(["demo", "other"], results)
    assert found == [root / "demo"] and missing == ["other"]
    assert history.baselines(results)["demo"]["promoted_from"] == "r1"
    assert sorted(p.name for p in root.iterdir() if p.name != ".baseline.lock") == [".other.old7", "demo"]
    (root / "demo").rename(root / ".demo.old1")
    assert main(["baseline", "show", "--results", str(results)]) == 0
    assert "demo" in capsys.readouterr().out and (root / "demo" / "meta.json").is_file()


def test_a_promotion_killed_after_its_two_renames_leaves_nothing_to_bring_back(tmp_path):
    """A ``kill -9`` after the new baseline took its place and before the earlier one (``.demo.old<pid>``) was
    deleted: before, that older baseline stayed beside the new one, and once a user deleted the suite's baseline by
    hand the next reader put the older one back. Now the reader removes it while the new baseline is in place."""
    results = tmp_path / "results"
    make_run(results, "r1", {"m[a]": {"samples": latencies(1)}})
    make_run(results, "r2", {"m[a]": {"samples": latencies(2)}})
    history.promote("r1", results)
    root = results / "baseline"
    (root / "demo").rename(root / ".demo.old999999999")
    history.promote("r2", results, replace=True)  # tidies first: the killed promotion's baseline is back, then gone
    shutil.copytree(root / "demo", root / ".demo.old999999998")  # killed after both renames
    shutil.copytree(root / "demo", root / ".demo.tmp999999998")
    assert history.baselines(results)["demo"]["promoted_from"] == "r2"
    assert sorted(p.name for p in root.iterdir() if p.name != ".baseline.lock") == ["demo"]
    shutil.rmtree(root / "demo")
    assert history.baseline_for(["demo"], results) == ([], ["demo"])


def test_two_promotions_at_once_keep_both_halves(tmp_path, monkeypatch):
    """The CPU and the GPU job running `bench baseline set` at the same moment: before, the second deleted the
    first's staging folder under it ('No such file or directory: .../.demo.tmp/samples.jsonl'), or both rewrote the
    baseline from what it was before and one half was lost. Now the second waits, then merges on top."""
    results = tmp_path / "results"
    make_run(results, "cpu", {"m[cpu]": {"samples": latencies(1)}, "m[gpu]": {"status": "skipped"}})
    make_run(results, "gpu", {"m[gpu]": {"samples": latencies(2), "device": "cuda:0"}, "m[cpu]": {"status": "skipped"}})
    script = "import sys; from bench.gate import history; print('go', flush=True); history.promote('gpu', sys.argv[1])"
    other = []
    write_rows = history._write_rows

    def let_the_other_promote_now(path, rows):  # the first promotion, half-way: the other job starts its own
        if not other:
            other.append(
                subprocess.Popen(
                    [sys.executable, "-c", script, str(results)], stdout=subprocess.PIPE, text=True, cwd=ROOT
                )
            )
            assert other[0].stdout.readline() == "go\n"
            with contextlib.suppress(subprocess.TimeoutExpired):
                other[0].wait(timeout=2)  # without a lock it promotes now, all of it
        write_rows(path, rows)

    monkeypatch.setattr(history, "_write_rows", let_the_other_promote_now)
    history.promote("cpu", results)
    assert other[0].wait(timeout=120) == 0
    other[0].stdout.close()
    side = history.baseline_path("demo", results)
    rows = [json.loads(line) for line in (side / "records.jsonl").read_text().splitlines()]
    assert {(r["case_id"], r["run_id"]) for r in rows} == {("m[cpu]", "cpu"), ("m[gpu]", "gpu")}
    assert sorted(p.name for p in side.parent.iterdir()) == ["demo"]  # no staging folder left behind


@pytest.mark.skipif(sys.platform == "win32", reason="promotions are serialised with flock (POSIX)")
@pytest.mark.filterwarnings("default")  # as a shell runs `bench`: the wait is a warning line
def test_a_promotion_lock_held_for_ever_is_waited_for_with_a_word_then_refused(tmp_path, monkeypatch, capsys):
    """Was: a process holding results/.baseline.lock (a promotion stopped with Ctrl-Z, hung on NFS, `flock`) made
    `bench baseline set` wait for ever without a word."""
    import fcntl

    results = tmp_path / "results"
    make_run(results, "r1", {"m[a]": {"samples": latencies(1)}})
    monkeypatch.setattr(history, "PROMOTION_WAIT_S", 0.3)
    lock = results / ".baseline.lock"
    with open(lock, "a") as holder:  # another open file: flock refuses it to this process too
        fcntl.flock(holder.fileno(), fcntl.LOCK_EX)
        assert main(["baseline", "set", "r1", "--results", str(results)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"bench baseline: warning: {lock}: another promotion of a baseline holds it; waiting for it (at most 0.3 s)",
        f"bench baseline: error: {lock}: another process has held it for 0.3 s (a promotion that hangs or was "
        "stopped); nothing was promoted: end that process, then promote again",
    ]
    assert not history.baseline_path("demo", results).exists()
    assert main(["baseline", "set", "r1", "--results", str(results)]) == 0  # released: promoted at once
    assert history.baseline_path("demo", results).is_dir()


NOT_A_LOCK = (
    "bench baseline: error: {lock}: it is {kind}, not a regular file; the promotion lock must be a regular file or "
    "absent (bench creates it): remove it, then promote again; nothing was promoted"
)


@pytest.mark.skipif(not hasattr(__import__("os"), "mkfifo"), reason="needs FIFOs (POSIX)")
def test_a_fifo_as_the_promotion_lock_is_refused_in_one_line_not_waited_on(tmp_path):
    """Was: `mkfifo results/.baseline.lock` made `bench baseline set` hang for ever (the lock was opened blocking,
    waiting for a reader)."""
    import os

    results = tmp_path / "results"
    make_run(results, "r1", {"m[a]": {"samples": latencies(1)}})
    lock = results / ".baseline.lock"
    os.mkfifo(lock)
    argv = [sys.executable, "-m", "bench.cli", "baseline", "set", "r1", "--results", str(results)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert (done.returncode, done.stderr.strip()) == (2, NOT_A_LOCK.format(lock=lock, kind="a FIFO (named pipe)"))
    assert not history.baseline_path("demo", results).exists()


@pytest.mark.parametrize("kind", ["a FIFO (named pipe)", "a folder"])
def test_a_promotion_lock_that_is_not_a_regular_file_is_refused_even_where_it_opens(tmp_path, capsys, kind):
    """A FIFO that some process reads opens at once, and flock takes it: it was used as the lock as it was."""
    import os

    results = tmp_path / "results"
    make_run(results, "r1", {"m[a]": {"samples": latencies(1)}})
    lock = results / ".baseline.lock"
    if kind == "a folder":
        lock.mkdir()
        reader = None
    else:
        if not hasattr(os, "mkfifo"):
            pytest.skip("needs FIFOs (POSIX)")
        os.mkfifo(lock)
        reader = os.open(lock, os.O_RDONLY | os.O_NONBLOCK)
    try:
        assert main(["baseline", "set", "r1", "--results", str(results)]) == 2
    finally:
        if reader is not None:
            os.close(reader)
    assert capsys.readouterr().err.splitlines() == [NOT_A_LOCK.format(lock=lock, kind=kind)]
    assert not history.baseline_path("demo", results).exists()


@pytest.mark.skipif(not hasattr(__import__("socket"), "AF_UNIX"), reason="needs Unix sockets")
def test_a_socket_as_the_promotion_lock_is_called_a_socket_not_a_fifo(tmp_path, capsys, monkeypatch):
    """Opening a socket fails as opening a FIFO no process reads does (ENXIO): it was called "a FIFO (named pipe)"."""
    import socket

    results = tmp_path / "results"
    make_run(results, "r1", {"m[a]": {"samples": latencies(1)}})
    monkeypatch.chdir(results)  # a short path: a socket's name is at most about 100 bytes
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(".baseline.lock")
        assert main(["baseline", "set", "r1", "--results", str(results)]) == 2
    lock = results / ".baseline.lock"
    assert capsys.readouterr().err.splitlines() == [NOT_A_LOCK.format(lock=lock, kind="a socket")]
    assert not history.baseline_path("demo", results).exists()


def test_promote_refuses_unfinished_or_empty_runs(tmp_path):
    results = tmp_path / "results"
    make_run(results, "live", {"m[a]": {"samples": latencies(1)}}, status="running")
    make_run(results, "broken", {"m[a]": {"status": "failed", "error": "x"}})
    with pytest.raises(BenchError, match="still running"):
        history.promote("live", results)
    with pytest.raises(BenchError, match="no successful case"):
        history.promote("broken", results)
    with pytest.raises(BenchError, match="has no suite nope"):
        history.promote("broken", results, ["nope"])


def test_gate_uses_the_promoted_baseline(tmp_path, capsys):
    results = tmp_path / "results"
    make_run(results, "r1-old", {"m[a]": {"samples": latencies(1)}}, started_at="2026-11-01T00:00:00Z")
    assert main(["baseline", "set", "r1-old", "--results", str(results)]) == 0
    assert "baseline of suite demo" in capsys.readouterr().out
    assert main(["baseline", "show", "--results", str(results)]) == 0
    assert "demo" + " " * 20 + " 1 case from run r1-old (" in capsys.readouterr().out
    make_run(results, "r2-new", {"m[a]": {"samples": latencies(2, scale=3.0)}}, started_at="2026-11-02T00:00:00Z")
    out = tmp_path / "gate"
    args = ["gate", "--results", str(results), "--summary", str(out / "s.md"), "--json", str(out / "v.json")]
    assert main(args) == 1  # latest run against the promoted baseline
    payload = json.loads((out / "v.json").read_text())
    assert payload["baseline"] == "r1-old" and payload["current"] == "r2-new"


@pytest.mark.filterwarnings("default")  # as a shell runs `bench`: the damaged meta.json is a warning line
@pytest.mark.parametrize(
    "meta",
    [
        b"{bad",
        b'{"run_id": "r1", "promotions": [5, {"cases": 3, "git_commit": 7}]}',
        b'{"run_id": "r1", "promotions": [{"cases": [{"a": 1}, [2], 3]}]}',  # was: TypeError: unhashable type
    ],
)
def test_a_damaged_baseline_meta_is_shown_and_replaced_not_a_traceback(tmp_path, capsys, meta):
    results = tmp_path / "results"
    make_run(results, "r1", {"m[a]": {"samples": latencies(1)}})
    assert main(["baseline", "set", "r1", "--results", str(results)]) == 0
    (history.baseline_path("demo", results) / "meta.json").write_bytes(meta)
    assert main(["baseline", "show", "--results", str(results)]) == 0
    assert "0 cases from run" in capsys.readouterr().out
    assert main(["baseline", "set", "r1", "--results", str(results)]) == 0
    assert main(["baseline", "show", "--results", str(results)]) == 0
    assert " 1 case from run r1 (" in capsys.readouterr().out


def test_a_trend_chart_labels_a_run_of_uncommitted_code_as_dirty(tmp_path, monkeypatch):
    """Was: the run labels under a trend chart cut the commit to 7 characters, its ``+dirty`` with it, so a run of
    uncommitted changes read as the clean commit there, though bench history's table says ``+dirty``."""
    import matplotlib.pyplot as plt
    import pandas as pd

    ticks = []
    monkeypatch.setattr(plt.Axes, "set_xticks", lambda ax, positions, labels, **k: ticks.append(list(labels)))
    frame = pd.DataFrame(
        {
            "run_order": [0, 1],
            "run_id": ["r0", "r1"],
            "started_at": "2026-11-01T00:00:00Z",
            "commit": ["abc123def456", "abc123def456+dirty"],
            "case_id": "c",
            "latency_p50_ms": [1.0, 1.1],
        }
    )
    history.plot_trends(frame, "s", tmp_path, ["latency_p50_ms"])
    (labels,) = ticks
    assert [label.split("\n")[0] for label in labels] == ["abc123d", "abc123d+dirty"]

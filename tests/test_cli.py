"""The bench CLI: run is the pytest path, validate checks without running, results lists runs."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import subprocess
import sys

import pytest

from bench.cli import main
from bench.errors import BenchError, short_name
from bench.resume import resumable
from tests.gate_helpers import latencies, make_run
from tests.helpers import TINY_MEASURE, write_suite


def test_validate_reports_each_file(tmp_path, capsys):
    write_suite(tmp_path, "good.yaml", "suite: good\nmodels: [noop]\nbatch_sizes: [1, 2]\n")
    write_suite(tmp_path, "bad.yaml", "suite: bad\nmodels: [noop]\ncompression: [int9]\n")
    assert main(["validate", str(tmp_path)]) == 1
    out, err = capsys.readouterr()
    assert "good.yaml: ok (good: 2 cases)" in out
    assert "bad.yaml: compression[0]: unknown compression 'int9'" in err
    assert main(["validate", str(tmp_path / "good.yaml"), "--list"]) == 0
    assert "good::noop[fp32-cpu-1t-bs2]" in capsys.readouterr().out


def test_validate_names_a_load_time_bound_too_short_for_one_run_a_scenario(tmp_path, capsys):
    write_suite(tmp_path, "s.yaml", "suite: s\nmodels: [noop]\nload: {min_duration_s: 2, max_time_s: 5}\n")
    assert main(["validate", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.strip().endswith(
        "s.yaml: load.max_time_s: 5 s leaves less than one run of min_duration_s 2 s for each of the 3 scenarios; "
        "must be >= 6 (or lower min_duration_s)"
    )
    assert len(err.strip().splitlines()) == 1


def test_validate_missing_path(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "nope")]) == 1
    assert "no such file or directory" in capsys.readouterr().err


def test_validate_answers_every_path_though_one_is_missing(tmp_path, capsys):
    """Was: the missing path's line alone, and the other suites left unvalidated (a bad one not reported)."""
    bad = write_suite(tmp_path, "bad.yaml", "suite: bad\nmodels: [nop]\n")
    good = write_suite(tmp_path, "good.yaml", "suite: good\nmodels: [noop]\n")
    assert main(["validate", str(bad), str(tmp_path / "nope.yaml"), str(good)]) == 1
    out, err = capsys.readouterr()
    assert f"{good}: ok (good: 1 case)" in out
    assert err.splitlines() == [
        f"{tmp_path / 'nope.yaml'}: no such file or directory",
        f"{bad}: models[0]: unknown model 'nop'. Did you mean 'noop'? Allowed: "
        + err.splitlines()[1].partition("Allowed: ")[2],
    ]


def test_validate_refuses_an_empty_path(tmp_path, capsys, monkeypatch):
    """An empty path is a usage error (was: the current folder validated silently)."""
    monkeypatch.chdir(tmp_path)
    write_suite(tmp_path, "here.yaml", "suite: here\nmodels: [noop]\n")
    with pytest.raises(SystemExit) as info:
        main(["validate", ""])
    assert info.value.code == 2
    out, err = capsys.readouterr()
    assert "here.yaml" not in out
    assert err.strip().splitlines()[-1] == (
        "bench validate: error: argument paths: must be a suite file or folder, got an empty path"
    )


def test_report_refuses_an_empty_prices_file(tmp_path, capsys):
    """Was: `bench report --prices ''` (an unset shell variable) reported at the default prices without a word."""
    with pytest.raises(SystemExit) as info:
        main(["report", "--results", str(tmp_path), "--prices", ""])
    assert info.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "bench report: error: argument --prices: must be a file, got an empty path"
    )


@pytest.mark.parametrize("option", ["--summary", "--json"])
def test_gate_refuses_an_empty_output_file_as_empty(tmp_path, capsys, option):
    """Was: `bench gate --json ''` (an unset shell variable) said "argument --json: '' is a folder; give a file
    name"."""
    with pytest.raises(SystemExit) as info:
        main(["gate", "--results", str(tmp_path), option, ""])
    assert info.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"bench gate: error: argument {option}: must be a file, got an empty path"
    )


@pytest.mark.parametrize(
    ("argv", "default", "example"),
    [
        (["run"], "suites/quick.yaml", "bench run path/to/suite.yaml"),
        (["validate"], "suites/", "bench validate path/to/suite.yaml"),
        # was: argparse's "argument --suite: 'suites/harness.yaml': no such file or directory", an option never given
        (["overhead"], "suites/harness.yaml", "bench overhead --suite path/to/harness.yaml"),
    ],
)
def test_no_suite_named_outside_the_project_is_one_line(tmp_path, capsys, monkeypatch, argv, default, example):
    """The default suite path is checked like a named one (was: pytest's 'no tests ran ... ERROR: file or directory
    not found: suites/quick.yaml', exit 4; bench validate: 'suites: no such file or directory', exit 1)."""
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1
    assert err.strip() == (
        f"bench {argv[0]}: error: no suite named, and the default {default} is not in {tmp_path}: name a suite file "
        f"or folder ({example}), or run from the project's folder"
    )


def test_shipped_suites_are_valid(capsys):
    assert main(["validate", "suites/"]) == 0


def test_run_then_results(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_suite(tmp_path, "suites/n.yaml", "suite: n\nmodels: [noop]\n" + TINY_MEASURE)
    assert main(["run", "suites/n.yaml", "--results", "res", "--run-id", "r1", "-q"]) == 0
    capsys.readouterr()
    assert main(["results", "--results", "res"]) == 0
    assert "r1" in capsys.readouterr().out
    assert main(["results", "r1", "--results", "res"]) == 0
    assert "noop[fp32-cpu-1t-bs1]" in capsys.readouterr().out


def test_run_of_a_folder_not_named_suites_runs_the_suites_validate_finds_there(tmp_path, capsys, monkeypatch):
    """Was: pytest collects suite files from a folder only inside one named suites/, so `bench run myset/` ran nothing
    ("no tests ran", exit 5) while `bench validate myset/` validated its suites."""
    from bench.commands.run import suite_args

    monkeypatch.chdir(tmp_path)
    write_suite(tmp_path, "myset/n.yaml", "suite: n\nmodels: [noop]\n" + TINY_MEASURE)
    write_suite(tmp_path, "myset/deeper/m.yaml", "suite: m\nmodels: [noop]\n" + TINY_MEASURE)
    write_suite(tmp_path, "myset/_shared.yaml", "measure: {}\n")
    write_suite(tmp_path, "suites/s.yaml", "suite: s\nmodels: [noop]\n" + TINY_MEASURE)
    assert suite_args(["suites", "myset/n.yaml"]) == ["suites", "myset/n.yaml"]  # pytest collects them as given
    assert sorted(suite_args(["myset"])) == ["myset/deeper/m.yaml", "myset/n.yaml"]
    assert suite_args(["."]) == ["."]  # a project's root: pytest collects its suites/, and no other YAML file
    assert main(["validate", "myset"]) == 0
    assert main(["run", "myset", "--results", "res", "--run-id", "r1", "-q"]) == 0
    import json

    records = (tmp_path / "res" / "r1" / "records.jsonl").read_text().splitlines()
    assert sorted(json.loads(line)["suite"] for line in records) == ["m", "n"]


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ("empty", "empty: no suite files in this folder (*.yaml or *.yml, not starting with '_')"),
        ("suites/sub", "suites/sub: no suite files in this folder (*.yaml or *.yml, not starting with '_')"),
        ("notes.txt", "notes.txt: not a suite file; suite files end in .yaml or .yml"),
        ("suites/_shared.yaml", "suites/_shared.yaml: a shared fragment (files starting with '_' are only used"),
        (".", ".: no suite files in its suites folder (*.yaml or *.yml, not starting with '_')"),
    ],
)
def test_run_of_what_holds_no_suite_is_one_line(tmp_path, capsys, monkeypatch, given, says):
    """Was pytest's 'collected 0 items ... no tests ran' (exit 5) for a folder without suites or a file that is not
    one, and its 'ERROR: not found' for a fragment, while bench validate said what was wrong."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty").mkdir()
    (tmp_path / "suites" / "sub").mkdir(parents=True)
    (tmp_path / "notes.txt").write_text("suite: n\nmodels: [noop]\n")
    write_suite(tmp_path, "suites/_shared.yaml", "measure: {}\n")
    assert main(["run", given, "--results", "res"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1
    assert err.startswith(f"bench run: error: {says}")
    assert not (tmp_path / "res").exists()


@pytest.mark.parametrize("given", ["suites", ".", "suites/n\udcff.yaml"])
def test_run_of_a_suite_file_whose_name_is_not_utf8_is_one_line(tmp_path, capsys, monkeypatch, given):
    """Was: the cases ran, then "bench run: error: 'utf-8' codec can't encode character '\\udcff' in position 13:
    surrogates not allowed" (pytest writing its cache of node ids), naming no file."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "suites").mkdir()
    with open(os.fsencode(tmp_path / "suites") + b"/n\xff.yaml", "w") as handle:  # a name in Latin-1, say
        handle.write("suite: n\nmodels: [noop]\n" + TINY_MEASURE)
    assert main(["run", given, "--results", "res"]) == 2
    out, err = capsys.readouterr()
    assert err == "bench run: error: suites/n\\udcff.yaml: the file name is not UTF-8 text; rename it\n"
    assert out == "" and not (tmp_path / "res").exists()


@pytest.mark.parametrize("given", ["suites", "suites/n\udcff.yaml"])
def test_validate_of_a_suite_file_whose_name_is_not_utf8_says_what_bench_run_says(tmp_path, capsys, monkeypatch, given):
    """Was: `bench validate` said "ok" of the file that `bench run` then refused; now both refuse it in one line,
    and validate goes on with the other files."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "suites").mkdir()
    with open(os.fsencode(tmp_path / "suites") + b"/n\xff.yaml", "w") as handle:  # a name in Latin-1, say
        handle.write("suite: n\nmodels: [noop]\n")
    write_suite(tmp_path, "suites/ok.yaml", "suite: ok\nmodels: [noop]\n")
    assert main(["validate", given, *(["suites/ok.yaml"] if given.endswith(".yaml") else [])]) == 1
    out, err = capsys.readouterr()
    assert err == "suites/n\\udcff.yaml: the file name is not UTF-8 text; rename it\n"
    assert out == "suites/ok.yaml: ok (ok: 1 case)\n"


def test_suites_behind_a_linked_folder_are_found_and_a_link_loop_is_one_line(tmp_path, capsys, monkeypatch):
    """pytest collects suites through a symlinked folder: bench validate and bench run find them too (validate said
    "no suite files under suites"); a link to a folder above it made pytest walk for ever."""
    monkeypatch.chdir(tmp_path)
    write_suite(tmp_path, "team-suites/t.yaml", "suite: t\nmodels: [noop]\n" + TINY_MEASURE)
    (tmp_path / "suites").mkdir()
    (tmp_path / "suites" / "team").symlink_to(tmp_path / "team-suites")
    assert main(["validate", "suites"]) == 0
    assert capsys.readouterr().out == "suites/team/t.yaml: ok (t: 1 case)\n"
    assert main(["run", "suites", "--results", "res", "--run-id", "r1", "-q"]) == 0
    assert (tmp_path / "res" / "r1" / "records.jsonl").read_text().count("\n") == 1
    capsys.readouterr()
    (tmp_path / "team-suites" / "up").symlink_to(tmp_path)
    for argv in (["validate", "suites"], ["run", "suites", "--results", "res"]):
        assert main(argv) in (1, 2)
        loop = f"links to {os.path.realpath(tmp_path)}, a folder above it: a loop pytest would walk for ever; remove it"
        assert capsys.readouterr().err.strip().endswith(f"suites/team/up: {loop}")


def test_what_follows_a_double_dash_goes_to_pytest_also_where_no_suite_came_before_it(tmp_path, capsys, monkeypatch):
    """`bench run -k x -- -W ignore` read '-W' as a suite (argparse gave what follows `--` to the suites positional)."""
    monkeypatch.chdir(tmp_path)
    write_suite(tmp_path, "suites/quick.yaml", "suite: n\nmodels: [noop]\n" + TINY_MEASURE)
    argv = ["run", "--results", "res", "-k", "noop", "--", "-W", "ignore", "--benchmark-json", "b.json", "-q"]
    assert main(argv) == 0, capsys.readouterr()
    assert json.loads((tmp_path / "b.json").read_text())["benchmarks"][0]["extra_info"]["case_id"].startswith("noop")
    assert main(["validate", "--", "suites/quick.yaml"]) == 0, "a command without a pass-through reads `--` as usual"
    capsys.readouterr()
    assert main(["results", "--results", "res", "--", "--what"]) == 2  # after `--`, a run id that looks like an option
    assert "bench results: error: run '--what' not found under res/" in capsys.readouterr().err
    assert main(["history", "--results", "res", "--", "n"]) == 0, "a required positional after `--`, as argparse has it"
    capsys.readouterr()
    assert main(["run", "--results", "res", "--", "suites/quick.yaml", "-q"]) == 2
    assert capsys.readouterr().err == (
        "bench run: error: suites/quick.yaml: what follows -- goes to pytest, which would run it beside the default "
        "suites/quick.yaml; name the suite before --: bench run suites/quick.yaml -- ...\n"
    )


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
@pytest.mark.parametrize("given", [["--benchmark-json", "/dev/full"], ["--benchmark-json=/dev/full"]])
def test_a_benchmark_json_that_cannot_be_written_is_named_with_what_the_run_kept(tmp_path, capsys, monkeypatch, given):
    """pytest-benchmark writes the file it opened at start-up after the last case: on a full disk the line said only
    '[Errno 28] No space left on device', naming no file."""
    monkeypatch.chdir(tmp_path)
    suite = write_suite(tmp_path, "s.yaml", "suite: n\nmodels: [noop]\n" + TINY_MEASURE)
    assert main(["run", str(suite), "--results", "res", "--run-id", "r1", "--", *given, "-q"]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "bench run: error: --benchmark-json /dev/full: cannot write it: no space left on device; the run's own "
        "results are saved in res/r1"
    )
    assert (tmp_path / "res" / "r1" / "records.jsonl").read_text().count("\n") == 1


def test_bench_run_reports_a_failed_case_in_its_one_line_and_its_traceback_where_asked(tmp_path, capsys, monkeypatch):
    """Was: pytest's whole traceback of every failed case, through the harness's frames, at the end of bench run's
    output. Now its one line (the record's error), a hint naming --tb, and the traceback under --tb or plain pytest."""
    monkeypatch.chdir(tmp_path)
    model = "{factory: 'tests.fakes.models:build_raising_inputs', name: lin}"
    write_suite(tmp_path, "suites/f.yaml", f"suite: f\nmodels: [{model}]\n" + TINY_MEASURE)
    reason = "factory 'tests.fakes.models:build_raising_inputs': make_inputs(1) raised KeyError: 'tokenizer'"
    hint = "failed cases: one line each above; --tb=short (or --tb=long) shows their tracebacks"
    assert main(["run", "suites/f.yaml", "--results", "res", "--run-id", "r1"]) == pytest.ExitCode.TESTS_FAILED
    out = capsys.readouterr().out.splitlines()
    assert reason in out and hint in out and not [line for line in out if "fakes/models.py" in line]
    assert json.loads((tmp_path / "res" / "r1" / "records.jsonl").read_text())["error"] == reason
    for asked in (["--tb=short"], ["--", "--full-trace"]):
        assert main(["run", "suites/f.yaml", "--results", "res", *asked]) == pytest.ExitCode.TESTS_FAILED
        out = capsys.readouterr().out.splitlines()
        assert [line for line in out if "fakes/models.py" in line] and hint not in out
    assert pytest.main(["--benchmark-only", "suites/f.yaml", "--bench-results", "res", "-p", "no:cacheprovider"]) == 1
    out = capsys.readouterr().out.splitlines()  # plain pytest: its traceback, as pytest users expect
    assert [line for line in out if "fakes/models.py" in line] and hint not in out


def test_bench_run_progress_draws_the_line_or_says_in_one_line_why_not(tmp_path, capsys, monkeypatch):
    from bench import progress
    from bench.commands import run

    assert run.PROGRESS_CHOICES == progress.PROGRESS_CHOICES
    monkeypatch.chdir(tmp_path)
    write_suite(tmp_path, "suites/n.yaml", "suite: n\nmodels: [noop]\n" + TINY_MEASURE)
    assert main(["run", "suites/n.yaml", "--results", "res", "--progress", "bar", "-q"]) == 0
    out = capsys.readouterr().out
    assert "\r\x1b[2K" in out and "0/1  0:00 elapsed  n::noop[fp32-cpu-1t-bs1]" in out
    code = main(["run", "suites/n.yaml", "--results", "res", "--progress", "bar", "--", "-v"])
    assert code == pytest.ExitCode.USAGE_ERROR
    assert "ERROR: --progress bar: -v (or verbosity_test_cases) prints pytest's own line" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["run", "suites/n.yaml", "--progress", "lines"])
    assert "bench run: error: argument --progress: invalid choice: 'lines' (choose from" in capsys.readouterr().err


def test_overhead_compares_the_bare_loop_with_the_no_op_case_only(tmp_path, capsys, monkeypatch):
    """The bare loop calls noop; the harness's figure came from the suite's first case, whatever model it was
    (dlrm-tiny's whole latency was reported as the harness's overhead)."""
    monkeypatch.chdir(tmp_path)
    write_suite(tmp_path, "suites/o.yaml", "suite: o\nmodels: [dlrm-tiny, noop]\n" + TINY_MEASURE)
    assert main(["overhead", "--suite", "suites/o.yaml", "--results", "res"]) == 0
    assert "(noop[fp32-cpu-1t-bs1], rounds:" in capsys.readouterr().out
    write_suite(tmp_path, "suites/d.yaml", "suite: d\nmodels: [dlrm-tiny]\n" + TINY_MEASURE)
    assert main(["overhead", "--suite", "suites/d.yaml", "--results", "res"]) == 2
    err = capsys.readouterr().err
    assert "suites/d.yaml: no case of the no-op model (noop, fp32, eager, cpu) was measured" in err
    assert "dlrm-tiny[fp32-cpu-1t-bs1]: ok" in err and err.count("\n") == 1


@pytest.mark.parametrize(
    ("suite", "message"),
    [
        ("empty", "empty: no suite files in this folder (*.yaml or *.yml, not starting with '_')"),
        ("notes.txt", "notes.txt: not a suite file; suite files end in .yaml or .yml"),
        ("suites/_base.yaml", "suites/_base.yaml: a shared fragment (files starting with '_' are only used"),
    ],
)
def test_overhead_of_something_that_is_no_suite_is_one_line(tmp_path, capsys, monkeypatch, suite, message):
    """Was: pytest's exit 5 or 4 and no line of bench's (only "1 warning in 0.8s"), where bench run says what is
    wrong and exits 2."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes.txt").write_text("x\n")
    write_suite(tmp_path, "suites/_base.yaml", TINY_MEASURE)
    assert main(["overhead", "--suite", suite, "--results", "res"]) == 2
    assert capsys.readouterr().err.startswith(f"bench overhead: error: {message}")
    assert not (tmp_path / "res").exists()


def test_a_near_miss_of_a_run_option_is_named(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_suite(tmp_path, "suites/n.yaml", "suite: n\nmodels: [noop]\n" + TINY_MEASURE)
    assert main(["run", "suites/n.yaml", "--results-dir", "res"]) == pytest.ExitCode.USAGE_ERROR
    err = capsys.readouterr().err
    assert "bench run: --results-dir is passed on to pytest, which does not know it. Did you mean '--results'?" in err
    assert not (tmp_path / "res").exists()


def test_the_plugin_s_spelling_of_a_run_option_beside_it_is_refused_and_alone_gets_no_false_hint(
    tmp_path, capsys, monkeypatch
):
    """Was: `--results A --bench-results B` wrote to B without a word; and a bad value of `--bench-run-id` got,
    after pytest's own error, "--bench-run-id is passed on to pytest, which does not know it" (it does)."""
    monkeypatch.chdir(tmp_path)
    write_suite(tmp_path, "suites/n.yaml", "suite: n\nmodels: [noop]\n" + TINY_MEASURE)
    assert main(["run", "suites/n.yaml", "--results", "a", "--bench-results=b"]) == 2
    assert capsys.readouterr().err == (
        "bench run: error: --bench-results is the pytest plugin's spelling of --results: give one of them\n"
    )
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    (tmp_path / "res" / "taken").mkdir(parents=True)
    code = main(["run", "suites/n.yaml", "--results", "res", "--bench-run-id", "taken"])
    assert code == pytest.ExitCode.USAGE_ERROR
    err = capsys.readouterr().err
    assert "passed on to pytest" not in err and "--bench-run-id 'taken': " in err  # the spelling given
    # bench run's own spelling is named as given too (was: the plugin's, --bench-run-id, an option not typed)
    assert main(["run", "suites/n.yaml", "--results", "res", "--run-id", "taken"]) == pytest.ExitCode.USAGE_ERROR
    err = capsys.readouterr().err
    assert "--run-id 'taken': " in err and "--bench-run-id" not in err
    (tmp_path / "res" / "r0").mkdir()
    (tmp_path / "res" / "r0" / "meta.json").write_text("{}")
    assert (
        main(["run", "suites/n.yaml", "--results", "res", "--resume", "r0", "--bench-run-id", "x"])
        == pytest.ExitCode.USAGE_ERROR
    )
    assert "--resume keeps the run's id: drop --bench-run-id" in capsys.readouterr().err


def test_bench_run_tells_every_option_of_its_parser_from_pytest_s():
    """The options run hands to pytest are those not among its own: every option of ``bench run``'s parser (but
    --help) must be among them, derived from the parser (was: a hand-kept list a new option could be left out of)."""
    import argparse

    from bench.cli import build_parser
    from bench.commands.run import own_options

    subparsers = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    parser = subparsers.choices["run"]
    options = {o for a in parser._actions if not isinstance(a, argparse._HelpAction) for o in a.option_strings}
    assert {"--results", "--run-id", "--resume", "--report", "-k"} <= options
    assert set(own_options()) == options


@pytest.mark.parametrize(
    "args, message",
    [
        (["-p", "no:bench"], "-p no:bench: a suite run needs the bench plugin, which collects the suites; drop it"),
        (["-pno:benchmark"], "-p no:benchmark: a suite run needs pytest-benchmark, which times them; drop it"),
    ],
)
def test_turning_off_a_plugin_a_suite_run_needs_is_named(tmp_path, capsys, monkeypatch, args, message):
    """pytest said only 'not found: suites/n.yaml (no match in any of [<Dir suites>])' for -p no:bench, and
    'unrecognized arguments: --benchmark-only' for -p no:benchmark."""
    monkeypatch.chdir(tmp_path)
    write_suite(tmp_path, "suites/n.yaml", "suite: n\nmodels: [noop]\n" + TINY_MEASURE)
    assert main(["run", "suites/n.yaml", "--results", "res", *args]) == 2
    assert capsys.readouterr().err == f"bench run: error: {message}\n"
    assert not (tmp_path / "res").exists()


@pytest.mark.parametrize("argv", [["run"], ["overhead", "--suite"]])
@pytest.mark.parametrize("kind", ["missing", "empty", "fifo"])
def test_a_suite_path_that_is_not_there_is_a_usage_error(tmp_path, capsys, argv, kind):
    """Refused before pytest starts (was: pytest's 'ERROR: file or directory not found', exit 4)."""
    import os

    path = {"missing": str(tmp_path / "nonexist.yaml"), "empty": "", "fifo": str(tmp_path / "fifo.yaml")}[kind]
    if kind == "fifo":
        os.mkfifo(path)
    with pytest.raises(SystemExit) as info:
        main([*argv, path])
    assert info.value.code == 2
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"bench {argv[0]}: error: argument ") and "Traceback" not in err
    expected = {"missing": "no such file or directory", "empty": "empty path", "fifo": "is not a regular file"}
    assert expected[kind] in last and (kind == "empty" or path in last)


@pytest.mark.parametrize("argv", [["run"], ["overhead", "--suite"]])
@pytest.mark.parametrize(
    ("name", "named", "why"),
    [
        ("a[1].yaml", "a[1].yaml", "'[' as the start of a case's parameters"),
        ("d[x]/s.yaml", "d[x]/s.yaml", "'[' as the start of a case's parameters"),
        ("a::b.yaml", "a::b.yaml", "'::' as the start of a case id"),
    ],
)
def test_a_suite_named_as_pytest_reads_a_case_is_a_usage_error_naming_why(
    tmp_path, capsys, monkeypatch, argv, name, named, why
):
    """Was: pytest's "ERROR: path cannot contain [] parametrization: a[1].yaml" (exit 4), and for a::b.yaml, which
    is there, "'a::b.yaml': no such file or directory"; bench validate checks both."""
    monkeypatch.chdir(tmp_path)
    write_suite(tmp_path, name, "suite: n\nmodels: [noop]\n" + TINY_MEASURE)
    with pytest.raises(SystemExit) as info:
        main([*argv, name])
    assert info.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"bench {argv[0]}: error: argument {'suites' if argv == ['run'] else '--suite'}: '{named}': pytest reads "
        f"{why} and cannot run a suite file or folder so named: rename it"
    )


def test_a_report_folder_that_is_the_results_folder_never_replaces_the_run(tmp_path, capsys, monkeypatch):
    """Was: `bench report r1 --out res` (the results folder) wrote the report in place of res/r1: the run's records,
    samples and meta.json were gone; with $BENCH_REPORTS_DIR naming the results folder, `bench run --report` did so to
    the run it had just measured."""
    monkeypatch.chdir(tmp_path)
    write_suite(tmp_path, "suites/n.yaml", "suite: n\nmodels: [noop]\n" + TINY_MEASURE)
    assert main(["run", "suites/n.yaml", "--results", "res", "--run-id", "r1", "-q"]) == 0
    capsys.readouterr()
    assert main(["report", "r1", "--results", "res", "--out", "res"]) == 2
    err = capsys.readouterr().err
    assert err == (
        "bench report: error: res/r1 holds a run (its meta.json), not a report: writing the report there would replace "
        "the run; write reports to another folder than the results\n"
    )
    assert sorted(p.name for p in (tmp_path / "res" / "r1").iterdir()) == [
        "meta.json",
        "records.jsonl",
        "samples.jsonl",
    ]
    monkeypatch.setenv("BENCH_REPORTS_DIR", "res")
    assert main(["run", "suites/n.yaml", "--results", "res", "--run-id", "r2", "--report", "-q"]) == 4
    captured = capsys.readouterr()
    assert (
        "ERROR: $BENCH_REPORTS_DIR res: is the results folder too (--results); the report would replace the run it "
        "reports on: give the reports another folder" in captured.err
    )
    assert not (tmp_path / "res" / "r2").exists()


def test_a_report_folder_that_cannot_be_written_names_out(tmp_path, capsys, monkeypatch):
    """--out passes the folder check but creating it fails (/proc/x): one line naming --out, not '[Errno 2] ...'."""
    monkeypatch.chdir(tmp_path)
    write_suite(tmp_path, "suites/n.yaml", "suite: n\nmodels: [noop]\n" + TINY_MEASURE)
    assert main(["run", "suites/n.yaml", "--results", "res", "--run-id", "r1", "-q"]) == 0
    capsys.readouterr()
    import pathlib

    def refuse(self, *args, **kwargs):
        raise FileNotFoundError(2, "No such file or directory", str(self))

    monkeypatch.setattr(pathlib.Path, "mkdir", refuse)  # as on /proc, where no folder can be made
    assert main(["report", "r1", "--results", "res", "--out", "/proc/x"]) == 2
    err = capsys.readouterr().err.strip()
    assert (
        err == "bench report: error: --out '/proc/x': cannot write the report: no such file or directory ('/proc/x/r1')"
    )


@pytest.mark.parametrize("how", ["variable", "option", "default"])
def test_a_report_folder_that_cannot_be_written_is_named_as_it_was_set(tmp_path, capsys, monkeypatch, how):
    """Was: ``BENCH_REPORTS_DIR=/proc bench report`` said ``error: --out '/proc': cannot write the report: ...``,
    naming an option never given."""
    from tests.test_store_damage import three_cases

    three_cases(tmp_path / "res", model_size_bytes=1000)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BENCH_REPORTS_DIR", raising=False)
    args = ["report", "r1", "--results", "res"]
    if how == "variable":
        monkeypatch.setenv("BENCH_REPORTS_DIR", "/proc")
    elif how == "option":
        args += ["--out", "/proc"]
    import pathlib

    def refuse(self, *args, **kwargs):
        raise FileNotFoundError(2, "No such file or directory", str(self))

    monkeypatch.setattr(pathlib.Path, "mkdir", refuse)  # as on /proc, where no folder can be made
    assert main(args) == 2
    named, folder = {
        "variable": ("$BENCH_REPORTS_DIR '/proc'", "/proc"),
        "option": ("--out '/proc'", "/proc"),
        "default": ("'reports' (the default of --out)", "reports"),
    }[how]
    assert capsys.readouterr().err == (
        f"bench report: error: {named}: cannot write the report: no such file or directory ('{folder}/r1')\n"
    )


def test_unknown_run_is_a_clear_error(tmp_path, capsys):
    assert main(["results", "nope", "--results", str(tmp_path)]) == 2
    assert "bench results: error: no runs under" in capsys.readouterr().err


def test_usage_errors_exit_2():
    with pytest.raises(SystemExit) as info:
        main(["validate", "--bogus"])
    assert info.value.code == 2


@pytest.mark.parametrize(
    ("argv", "usage", "error"),
    [
        (["results", "r1", "r2"], "usage: bench results [-h] [--results DIR] [run]", "bench results: error: "
         "unrecognized arguments: r2"),
        (["baseline", "set", "r1", "--bogus"], "usage: bench baseline set [-h] [--suite SUITE] [--replace] "
         "[--results DIR] run", "bench baseline set: error: unrecognized arguments: --bogus"),
        (["report", "--prics=p.yaml"], "usage: bench report [-h] [--results DIR] [--out DIR] [--prices FILE]",
         "bench report: error: unrecognized arguments: --prics=p.yaml. Did you mean '--prices'?"),
        (["results", "r1", "a\nb"], "usage: bench results", "bench results: error: unrecognized arguments: a\\nb"),
    ],
)  # fmt: skip
def test_an_argument_a_command_does_not_take_is_named_with_the_command_and_its_usage(capsys, argv, usage, error):
    """Was: "bench: error: unrecognized arguments: r2" under the usage of bench itself (bench [-h] [--version]
    COMMAND ...), naming neither the command nor the options it takes, nor the near miss of one."""
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith(usage) and lines[-1] == error


def test_validate_refuses_two_suites_with_one_name(tmp_path, capsys):
    write_suite(tmp_path, "a.yaml", "suite: same\nmodels: [noop]\n")
    write_suite(tmp_path, "b.yaml", "suite: same\nmodels: [noop]\n")
    assert main(["validate", str(tmp_path)]) == 1
    assert "b.yaml: suite: name 'same' is also used by" in capsys.readouterr().err


def test_results_dir_defaults_to_the_environment(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("BENCH_RESULTS_DIR", str(tmp_path / "elsewhere"))
    assert main(["results"]) == 0
    assert "elsewhere" in capsys.readouterr().out


def test_commands_read_the_runs_the_plugin_wrote_from_a_subfolder_of_the_project(tmp_path, capsys, monkeypatch):
    """The plugin writes to <rootdir>/results; bench results, report, gate, ... read ./results: from a subfolder
    (`cd suites && pytest --benchmark-only .`) they did not find the run just written ('no runs under results/')."""
    monkeypatch.delenv("BENCH_RESULTS_DIR", raising=False)
    monkeypatch.delenv("BENCH_REPORTS_DIR", raising=False)
    (tmp_path / "pyproject.toml").write_text("[tool.pytest.ini_options]\n")
    make_run(tmp_path / "results", "r1", {"m[fp32-cpu-1t-bs1]": {"samples": latencies(0)}})
    (tmp_path / "suites" / "deeper").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "suites" / "deeper")
    assert main(["results"]) == 0
    assert "r1" in capsys.readouterr().out
    from bench.cli import build_parser

    assert build_parser().parse_args(["report"]).out == str(tmp_path / "reports")
    monkeypatch.chdir(tmp_path)  # at the root itself the defaults stay the short relative names
    assert build_parser().parse_args(["results"]).results == "results"


@pytest.mark.parametrize(
    ("argv", "variable", "what"),
    [
        (["gate"], "BENCH_REPORTS_DIR", "'afile/gate/summary.md': 'afile' is a file, not a folder"),
        (["report"], "BENCH_REPORTS_DIR", "'afile' is a file, not a folder"),
        (["history", "demo"], "BENCH_REPORTS_DIR", "'afile/history': 'afile' is a file, not a folder"),
        (["calibrate"], "BENCH_REPORTS_DIR", "'afile/calibration': 'afile' is a file, not a folder"),
        (["results"], "BENCH_RESULTS_DIR", "'afile' is a file, not a folder"),
        (["gate"], "BENCH_RESULTS_DIR", "'afile' is a file, not a folder"),
    ],
)
def test_a_variable_naming_a_file_is_named_in_the_error_not_an_option_never_passed(
    argv, variable, what, tmp_path, capsys, monkeypatch
):
    """Before: 'bench gate: error: argument --summary: ...' when only $BENCH_REPORTS_DIR was set."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("")
    monkeypatch.setenv(variable, "afile")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err == f"bench {argv[0]}: error: ${variable} 'afile': {what}\n"


@pytest.mark.parametrize(
    ("argv", "what"),
    [
        (
            ["gate"],
            "'reports/gate/summary.md' (the default of --summary): 'reports/gate/summary.md': 'reports' is a file, "
            "not a folder",
        ),
        (["report"], "'reports' (the default of --out): 'reports' is a file, not a folder"),
        (
            ["history", "demo"],
            "'reports/history' (the default of --out): 'reports/history': 'reports' is a file, not a folder",
        ),
        (
            ["calibrate"],
            "'reports/calibration' (the default of --out): 'reports/calibration': 'reports' is a file, not a folder",
        ),
        (["results"], "'results' (the default of --results): 'results' is a file, not a folder"),
    ],
)
def test_a_default_folder_that_is_a_file_is_named_as_the_default_not_as_an_option_never_passed(
    argv, what, tmp_path, capsys, monkeypatch
):
    """Before: 'bench report: error: argument --results: 'results' is a file, not a folder' (with argparse's usage
    lines) where neither --results nor $BENCH_RESULTS_DIR was set, only a file named results lay in the root."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BENCH_RESULTS_DIR", raising=False)
    monkeypatch.delenv("BENCH_REPORTS_DIR", raising=False)
    name = "results" if argv == ["results"] else "reports"
    (tmp_path / name).write_text("")
    assert main(argv) == 2
    assert capsys.readouterr().err == f"bench {argv[0]}: error: {what}\n"


@pytest.mark.parametrize("long", ["a" * 5000, "afile/" + "/".join(["b" * 200] * 15), "/".join(["c" * 200] * 30)])
@pytest.mark.parametrize("given", ["variable", "option"])
def test_a_long_path_in_a_variable_or_an_option_is_named_in_one_short_line(long, given, tmp_path, capsys, monkeypatch):
    """Before: `$BENCH_RESULTS_DIR '<all 5000 characters>': ...` (and the option's `'afile/bbb...'` whole), a line of
    5155 characters; names are cut in the middle everywhere else (:func:`bench.errors.short_name`)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("")
    argv = ["results"]
    if given == "variable":
        monkeypatch.setenv("BENCH_RESULTS_DIR", long)
    else:
        argv += ["--results", long]
    with contextlib.suppress(SystemExit):  # argparse's usage error
        assert main(argv) == 2
    err = capsys.readouterr().err.splitlines()[-1]
    assert err.startswith("bench results: error: ") and len(err) < 400, err[:400]


def test_an_option_naming_a_file_is_still_named_as_the_option(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("")
    monkeypatch.setenv("BENCH_REPORTS_DIR", "afile")
    with pytest.raises(SystemExit) as info:
        main(["report", "--out", "afile"])
    assert info.value.code == 2
    assert capsys.readouterr().err.endswith("bench report: error: argument --out: 'afile' is a file, not a folder\n")


def test_run_of_a_suite_outside_the_project_writes_where_the_other_commands_read(tmp_path, capsys, monkeypatch):
    """Was: pytest's rootdir starts from the folder holding the current folder and the suites named, so `bench run
    ../other/s.yaml` from a project wrote its run to ../results (and its report to ../reports), where bench results,
    report and gate, which read <project root>/results, found no run."""
    monkeypatch.delenv("BENCH_RESULTS_DIR", raising=False)
    monkeypatch.delenv("BENCH_REPORTS_DIR", raising=False)
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text("[tool.pytest.ini_options]\n")
    write_suite(tmp_path, "other/n.yaml", "suite: n\nmodels: [noop]\n" + TINY_MEASURE)
    monkeypatch.chdir(project)
    assert main(["run", "../other/n.yaml", "--run-id", "r1", "--report", "-q", "-p", "no:cacheprovider"]) == 0
    assert (project / "results" / "r1" / "records.jsonl").is_file()
    assert (project / "reports" / "r1" / "index.html").is_file()
    assert not (tmp_path / "results").exists() and not (tmp_path / "reports").exists()
    capsys.readouterr()
    assert main(["results"]) == 0
    assert "r1" in capsys.readouterr().out


def test_project_root_is_pytests_rootdir_rule(tmp_path):
    from bench.results import project_root

    inner = tmp_path / "a" / "b"
    inner.mkdir(parents=True)
    assert project_root(inner) == inner  # nothing anywhere: the folder itself (pytest: the invocation folder)
    (tmp_path / "a" / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    assert project_root(inner) == tmp_path / "a"  # a pyproject.toml without a pytest table, when nothing else
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    assert project_root(inner) == tmp_path  # a pytest configuration further up wins over it, as in pytest
    (tmp_path / "a" / "b" / "tox.ini").write_text("[tox]\n")
    assert project_root(inner) == tmp_path  # tox.ini and setup.cfg count only with a pytest section
    (tmp_path / "a" / "b" / "setup.cfg").write_text("[tool:pytest]\n")
    assert project_root(inner) == inner


@pytest.mark.parametrize(
    ("argv", "option", "expected"),
    [
        (["gate"], "summary", "gate/summary.md"),
        (["gate"], "json", "gate/verdicts.json"),
        (["history", "demo"], "out", "history"),
        (["calibrate"], "out", "calibration"),
    ],
)
def test_every_command_writing_reports_defaults_to_the_reports_environment(
    argv, option, expected, tmp_path, monkeypatch
):
    """gate, history and calibrate wrote under ./reports even when $BENCH_REPORTS_DIR named another folder (bench
    report and --bench-report followed it)."""
    from bench.cli import build_parser

    monkeypatch.setenv("BENCH_REPORTS_DIR", str(tmp_path / "elsewhere"))
    args = build_parser().parse_args(argv)
    assert str(getattr(args, option)) == str(tmp_path / "elsewhere" / expected)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["gate", "--alpha", "5"], "must be between 0 and 1"),
        (["history", "demo", "--min-size", "0"], "must be an integer >= 1"),
        (["history", "demo", "--alpha", "x"], "must be a number between 0 and 1"),
        (["history", "demo", "--window", "0"], "--window: must be an integer >= 1, got 0"),
        (["history", "demo", "--last", "-1"], "--last: must be an integer >= 1, got -1"),
        (["history", "demo", "--metric", "latency_p5O_ms"], "unknown metric 'latency_p5O_ms'. Did you mean"),
        (["history", "demo", "--min-change", "nan"], "--min-change: must be a number >= 0"),
        (["gate", "--rerun", "-1"], "--rerun: must be an integer from 0 to 100, got -1"),
        (["gate", "--run-noise", "1"], "--run-noise: must be a fraction in [0, 1) or a percentage below 100%"),
        (["gate", "--run-noise", "100%"], "--run-noise: must be a fraction in [0, 1) or a percentage below 100%"),
        (["gate", "--run-noise-runs", "1"], "--run-noise-runs: must be a whole number of runs, at least 2"),
        (["gate", "--run-noise-runs", "2.5"], "--run-noise-runs: must be a whole number of runs, at least 2"),
        (["calibrate", "--threads", "0"], "--threads: must be an integer >= 1, got 0"),
        (["report", "--profile", "edgy"], "--profile: unknown profile 'edgy'. Did you mean 'edge'?"),
        (["calibrate", "--batch-sizes", "1", "0"], "--batch-sizes: must be an integer >= 1, got 0"),
        (["calibrate", "--min-time-s", "inf"], "--min-time-s: must be a number > 0 and <= 3600"),
        (["calibrate", "--runs", "1"], "--runs: must be an integer >= 2"),
        (["calibrate", "--runs", "99999999999999999999"], "--runs: must be an integer from 2 to 1000"),
        (["calibrate", "--pool", "1000000"], "--pool: must be an integer from 1 to 20000, got 1000000"),
        (["calibrate", "--model", "dlrm-tinny"], "--model: unknown model 'dlrm-tinny'. Did you mean 'dlrm-tiny'?"),
        (["load-overhead", "--seconds", "nan"], "--seconds: must be a number >= 0.001 and <= 3600, got nan"),
        (["load-overhead", "--seconds", "1e12"], "--seconds: must be a number >= 0.001 and <= 3600"),
        (["load-overhead", "--seconds", "-1"], "--seconds: must be a number >= 0.001"),
        (["load-overhead", "--seconds", "1e-9"], "--seconds: must be a number >= 0.001 and <= 3600, got 1e-9"),
        (["load-overhead", "--low-qps", "0"], "--low-qps: must be a number > 0"),
        (["load-overhead", "--start-qps", "nan"], "--start-qps: must be a number > 0"),
        (["load-overhead", "--slo-ms", "0"], "--slo-ms: must be a number > 0"),
        (["load-overhead", "--max-batch", "0"], "--max-batch: must be an integer from 1 to 65536, got 0"),
        (["load-overhead", "--max-wait-ms", "-1"], "--max-wait-ms: must be a number >= 0"),
    ],
)
def test_out_of_range_options_are_usage_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [  # 1000 queries at 0.001 QPS: the Server run took 11 days; at 1e9 QPS LoadGen aborted the process
        (["load-overhead", "--low-qps", "0.001"], "--low-qps 0.001: with --seconds 2 it must be from 62.5"),
        (["load-overhead", "--start-qps", "1e-6", "--seconds", "0.5"], "--start-qps 1e-06: with --seconds 0.5"),
        (["load-overhead", "--start-qps", "1e9"], "--start-qps 1e+09: with --seconds 2 it must be from 62.5 (1000"),
        (["load-overhead", "--low-qps", "3e6", "--seconds", "1"], "to 2e+06 QPS (what one LoadGen run may hold"),
        (["load-overhead", "--max-time-s", "1", "--seconds", "2"], "--max-time-s 1: leaves no LoadGen run of --se"),
        # was run: a batch that does not fill waits out --max-wait-ms, so the batching search's every query missed
        (["load-overhead", "--max-wait-ms", "20", "--slo-ms", "10"], "--max-wait-ms 20: not below --slo-ms 10 ms: a"),
        (["load-overhead", "--slo-ms", "0.5"], "the default --max-wait-ms 0.5: not below --slo-ms 0.5 ms: a batch"),
        # was measured: an overloaded Server run drained its backlog within the SLO and passed, as a suite's
        # slo.p99_ms above 10% of min_duration_s would (refused there by the same rule)
        (["load-overhead", "--seconds", "0.05"], "--slo-ms 10: more than 10% of --seconds 0.05 s: a Server run offe"),
        (["load-overhead", "--slo-ms", "500", "--seconds", "1"], "raise --seconds to at least 5 s or lower --slo-ms"),
        # as a suite's batching.max_wait_ms with max_batch: 1: there is no batched search for it to change
        (["load-overhead", "--max-batch", "1", "--max-wait-ms", "2"], "--max-wait-ms 2: not used with --max-batch 1"),
    ],
)
def test_load_overhead_rates_loadgen_cannot_run_are_one_line_errors(argv, message, capsys):
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert message in err and "Traceback" not in err and err.count("\n") == 1
    assert out == ""  # refused before anything is measured


def test_a_load_overhead_logs_folder_that_cannot_be_written_is_one_line_before_anything_is_measured(
    tmp_path, capsys, monkeypatch
):
    """Was: "bench load-overhead: error: [Errno 2] No such file or directory: '/proc/self/sut'" (or "[Errno 1]
    Operation not permitted: '/sys/kernel/sut'"), naming no option, after the bare loop was measured."""
    import pathlib

    def refuse(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(pathlib.Path, "mkdir", refuse)  # as on a read-only or virtual file system (/proc, /sys)
    assert main(["load-overhead", "--logs", "logs"]) == 2
    out, err = capsys.readouterr()
    assert (
        err == "bench load-overhead: error: --logs 'logs': cannot write the LoadGen logs: permission denied "
        "('logs/sut')\n"
    )
    assert out == ""  # refused before anything is measured


@pytest.mark.parametrize(
    ("option", "kind"),
    [
        (["gate", "--summary"], "folder"),
        (["gate", "--json"], "folder"),
        (["gate", "--summary"], "below a file"),
        (["history", "demo", "--out"], "file"),
        (["report", "--out"], "file"),
        (["calibrate", "--out"], "file"),
        (["results", "--results"], "file"),
        (["run", "--results"], "file"),
        (["report", "--out"], "below a file"),
    ],
)
def test_paths_of_the_wrong_kind_are_usage_errors(tmp_path, capsys, option, kind):
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    path = {"folder": tmp_path, "file": a_file, "below a file": a_file / "sub" / "x.md"}[kind]
    with pytest.raises(SystemExit) as info:
        main([*option, str(path)])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert ("is a folder" if kind == "folder" else "is a file, not a folder") in err
    assert err.strip().splitlines()[-1].startswith("bench ") and "Traceback" not in err  # usage, then one error line


def test_the_out_option_is_declared_once_and_reads_the_same_in_every_command(monkeypatch):
    """report, history and calibrate each declared --out by hand (the same type, default and help, three times):
    now :func:`bench.commands._args.add_out_option` declares it for them all."""
    from pathlib import Path

    import bench.commands
    from bench.cli import build_parser
    from bench.commands import _args

    folder = Path(bench.commands.__file__).parent
    declared = sorted(path.name for path in folder.glob("*.py") if '"--out"' in path.read_text(encoding="utf-8"))
    assert declared == ["_args.py"]
    monkeypatch.setenv("BENCH_REPORTS_DIR", "/srv/reports")
    commands = build_parser()._subparsers._group_actions[0].choices
    outs = {
        name: next(action for action in commands[name]._actions if "--out" in action.option_strings)
        for name in ("report", "history", "calibrate")
    }
    assert {name: (out.default, out.metavar, out.type) for name, out in outs.items()} == {
        "report": ("/srv/reports", "DIR", _args.folder),
        "history": ("/srv/reports/history", "DIR", _args.folder),
        "calibrate": ("/srv/reports/calibration", "DIR", _args.folder),
    }
    assert [out.help for out in outs.values()] == [
        "reports folder (default: $BENCH_REPORTS_DIR or <rootdir>/reports/)",
        "folder for the PNGs (default: $BENCH_REPORTS_DIR or <rootdir>/reports/, then history/)",
        "folder for runs and the report (default: $BENCH_REPORTS_DIR or <rootdir>/reports/, then calibration/)",
    ]


LONG = "x" * 300


@pytest.mark.parametrize(
    "argv",
    [
        ["results", "--results", LONG],
        ["run", "--results", LONG],
        ["report", "--out", LONG],
        ["history", "demo", "--out", LONG],
        ["calibrate", "--out", LONG],
        ["gate", "--json", LONG],
        ["run", "--resume", LONG],
    ],
)
def test_a_path_too_long_to_look_up_is_a_usage_error_in_one_short_line(tmp_path, capsys, monkeypatch, argv):
    """Was: OSError [Errno 36] File name too long, as a traceback from the option's check."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith(f"bench {argv[0]}: error: argument {argv[-2]}: 'xxx") and "…" in last and len(last) < 250


def test_a_run_name_too_long_to_look_up_is_not_found_in_one_short_line(tmp_path, capsys):
    """Was: 'bench results: error: [Errno 36] File name too long: ...' echoing all 300 characters."""
    make_run(tmp_path, "r1", {"m[a]": {"samples": latencies(1)}})
    for argv in (["results", LONG], ["gate", "--current", LONG], ["baseline", "set", LONG]):
        assert main([*argv, "--results", str(tmp_path)]) == 2
        err = capsys.readouterr().err.strip()
        assert err == f"bench {argv[0]}: error: run '{short_name(LONG)}' not found under {tmp_path}/; latest runs: r1"


def test_resuming_a_path_or_a_name_too_long_is_refused(tmp_path):
    """pytest --bench-resume (no argparse in front): was an INTERNALERROR traceback for a name too long."""
    for run_id in (LONG, "../r1", "/tmp"):
        with pytest.raises(BenchError, match=r"^--resume '.*': use letters, digits"):
            resumable(tmp_path, run_id)


def test_one_case_is_one_case_not_1_cases(tmp_path, capsys):
    write_suite(tmp_path, "one.yaml", "suite: one\nmodels: [noop]\n")
    assert main(["validate", str(tmp_path / "one.yaml")]) == 0
    assert capsys.readouterr().out == f"{tmp_path / 'one.yaml'}: ok (one: 1 case)\n"
    make_run(tmp_path / "results", "r1", {"m[a]": {"samples": latencies(0)}})
    assert main(["results", "r1", "--results", str(tmp_path / "results")]) == 0
    assert "run r1 (finished), 1 case\n" in capsys.readouterr().out


def test_validate_says_a_shared_fragment_is_not_a_suite(tmp_path, capsys):
    """Was 'suites/_defaults.yaml: suite: required: ...', as if a suite had lost its name."""
    write_suite(tmp_path, "_defaults.yaml", "measure: {min_rounds: 20}\n")
    write_suite(tmp_path, "s.yaml", "suite: s\nextends: _defaults.yaml\nmodels: [noop]\n")
    assert main(["validate", str(tmp_path / "_defaults.yaml")]) == 1
    assert capsys.readouterr().err == (
        f"{tmp_path / '_defaults.yaml'}: a shared fragment (files starting with '_' are only used through extends:), "
        "not a suite: name a suite that extends it\n"
    )
    assert main(["validate", str(tmp_path)]) == 0  # a folder: fragments are skipped, as pytest skips them
    assert capsys.readouterr().out == f"{tmp_path / 's.yaml'}: ok (s: 1 case)\n"


QUICK_OVERHEAD = ["load-overhead", "--seconds", "0.05", "--slo-ms", "5", "--low-qps", "5000", "--start-qps", "5000"]
"""`bench load-overhead` with short LoadGen runs (50 ms), and --slo-ms at its most for them (10% of --seconds)."""


@pytest.mark.skipif(importlib.util.find_spec("mlperf_loadgen") is None, reason="mlcommons-loadgen is not installed")
def test_load_overhead_stops_at_max_time_s_and_prints_what_it_measured(tmp_path):
    # before: no bound at all (--max-time-s was an unknown option); 28 LoadGen runs could follow one another. Then it
    # exited 0 when cut short, and a script could not tell partial figures from complete ones: now 3
    # In a process of its own, as a user runs it: LoadGen's state is per process (once in CI, run in this one after
    # the other tests, an inline run never returned; it is now given up on, and the process ended at once).
    argv = [*QUICK_OVERHEAD, "--logs", str(tmp_path)]
    done = subprocess.run(
        [sys.executable, "-m", "bench.cli", *argv, "--max-time-s", "0.5"], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 3, done.stderr
    out = done.stdout
    assert "direct call (bare loop)" in out and "Traceback" not in out + done.stderr
    (line,) = [line for line in out.splitlines() if line.startswith("--max-time-s 0.5 s ran out ")]
    assert "the peak search with max_batch 32, max_wait_ms 0.5" in line  # never started: no time was left
    assert len(list(tmp_path.rglob("mlperf_log_summary.txt"))) < 28


@pytest.mark.skipif(importlib.util.find_spec("mlperf_loadgen") is None, reason="mlcommons-loadgen is not installed")
@pytest.mark.parametrize(("cut", "code"), [(None, 0), ("search.max_runs", 3)])
def test_load_overhead_exits_3_when_a_peak_is_only_a_lower_bound(tmp_path, capsys, monkeypatch, cut, code):
    """Each peak search is one real Server run, judged done or cut short: a peak that reads "at least" is not the
    whole measurement, and the exit status says so, as for --max-time-s running out; every figure measured: 0."""
    import bench.measure.load as load

    def one_run(run_at, start_qps, *args, **kwargs):
        run = run_at(start_qps)
        return run, [run]

    monkeypatch.setattr(load, "find_peak", one_run)
    monkeypatch.setattr(load, "search_cut", lambda *args: cut)
    argv = [*QUICK_OVERHEAD, "--logs", str(tmp_path)]
    assert main(argv) == code
    out = capsys.readouterr().out
    peaks = [line for line in out.splitlines() if line.startswith("highest Server rate")]
    assert len(peaks) == 2 and "ran out" not in out
    stopped = "at least: the search stopped before it was done (12 runs were made)"
    assert all((stopped in line) == bool(cut) for line in peaks)


@pytest.mark.skipif(importlib.util.find_spec("mlperf_loadgen") is None, reason="mlcommons-loadgen is not installed")
def test_load_overhead_with_max_batch_1_makes_one_peak_search_and_says_so(tmp_path, capsys, monkeypatch):
    """Was: --max-batch 1 ran the "batching off" search twice, printed as two peaks of the same configuration (the
    second meant to be the batched one). Now batching off is searched once, and a line says no batched search is made;
    --max-wait-ms, which only the batched search uses, keeps its default."""
    import bench.measure.load as load
    from bench.commands import load_overhead as command

    def one_run(run_at, start_qps, *args, **kwargs):
        run = run_at(start_qps)
        return run, [run]

    monkeypatch.setattr(load, "find_peak", one_run)
    monkeypatch.setattr(load, "search_cut", lambda *args: None)
    assert main([*QUICK_OVERHEAD, "--max-batch", "1", "--logs", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    (peak,) = [line for line in out.splitlines() if line.startswith("highest Server rate")]
    assert "batching off" in peak and "not run" not in out and "ran out" not in out
    assert "no batched peak search: --max-batch 1 turns batching off" in out
    assert sorted(path.name for path in tmp_path.glob("peak-*")) == ["peak-batch1"]
    assert len(list((tmp_path / "peak-batch1").rglob("mlperf_log_summary.txt"))) == 1  # one search's one run
    assert (command.overhead_runs(1), command.overhead_runs(2)) == (16, 28)  # the default --max-time-s, as --help says


@pytest.mark.skipif(importlib.util.find_spec("mlperf_loadgen") is None, reason="mlcommons-loadgen is not installed")
def test_load_overhead_gives_up_on_an_inline_run_that_never_returns_and_prints_what_it_measured(
    tmp_path, capsys, monkeypatch
):
    """Was: the inline runs called LoadGen on the main thread without a bound, and one that never returned (LoadGen
    waiting for completions that never came, seen once in CI) hung the command. Now it is given up on after its own
    limit plus a grace: what was measured is printed, no other LoadGen run starts, exit 3."""
    from bench.commands import load_overhead as command
    from bench.measure import sut as module

    def hangs_inline(*args, limit_s=None, **kwargs):
        if limit_s is not None:  # the inline runs are bounded; bench's SUT runs are not
            assert limit_s >= command.INLINE_GRACE_S
            raise module.LoadgenHung(f"LoadGen's run did not return within {limit_s:g} s")
        return start_test(*args, **kwargs)

    start_test = module.start_test
    monkeypatch.setattr(module, "start_test", hangs_inline)
    argv = [*QUICK_OVERHEAD, "--logs", str(tmp_path)]
    assert main(argv) == 3
    out = capsys.readouterr().out
    assert "LoadGen SingleStream, bench SUT" in out and "inline SUT" not in out and "highest Server rate" not in out
    (line,) = [line for line in out.splitlines() if line.startswith("not measured: ")]
    assert "did not return within" in line and "the peak search with batching off" in line


def _bench_with_closed(numbers: tuple[int, ...], argv: list[str], **kwargs):
    """``bench ARGV`` in a process whose standard streams ``numbers`` are closed (``>&-``, ``2>&-``, ``<&-``)."""

    def close() -> None:
        for number in numbers:
            os.close(number)

    return subprocess.run([sys.executable, "-m", "bench.cli", *argv], preexec_fn=close, timeout=120, **kwargs)


def test_a_closed_stdout_or_stderr_costs_the_output_not_the_command(tmp_path):
    """Was: `bench gate >&-` ended in a traceback (sys.stdout is None) with exit 1, the gate's status for a
    regression, and `bench results 2>&-` likewise; now the command runs as it would, its output going nowhere."""
    results = tmp_path / "results"
    make_run(results, "r1", {"m[a]": {"samples": latencies(1)}}, started_at="2026-11-21T00:00:00Z")
    make_run(results, "r2", {"m[a]": {"samples": latencies(2)}}, started_at="2026-11-22T00:00:00Z")
    verdicts = tmp_path / "v.json"
    argv = ["gate", "--results", str(results), "--baseline", "r1", "--current", "r2", "--json", str(verdicts)]
    argv += ["--summary", str(tmp_path / "s.md")]
    done = _bench_with_closed((1,), argv, stderr=subprocess.PIPE)
    assert done.returncode == 0, done.stderr
    assert done.stderr == b"" and json.loads(verdicts.read_text())["current"] == "r2"
    done = _bench_with_closed((0, 2), ["results", "--results", str(results)], stdout=subprocess.PIPE)
    assert done.returncode == 0 and b"r2" in done.stdout
    assert _bench_with_closed((1, 2), ["results", "nope", "--results", str(results)]).returncode == 2


def test_a_run_with_closed_standard_streams_measures_its_cases(tmp_path):
    """Was: `bench run ... 2>&-` (or `>&-`) stopped on pytest's INTERNALERROR before the first case, exit 1 or 3;
    with every stream closed, the run's first file could have taken the number of stdout and received pytest's
    output."""
    suite = write_suite(tmp_path, "suites/s.yaml", "suite: s\nmodels: [noop]\n" + TINY_MEASURE)
    argv = ["run", str(suite), "--results", str(tmp_path / "out"), "--run-id", "r", "-p", "no:cacheprovider"]
    assert _bench_with_closed((0, 1, 2), argv, cwd=tmp_path).returncode == 0
    lines = (tmp_path / "out" / "r" / "records.jsonl").read_text().splitlines()
    assert [json.loads(line)["status"] for line in lines] == ["ok"]


def _bench_read_by_none(argv: list[str], **kwargs) -> tuple[int, str]:
    """``bench ARGV`` writing into a pipe whose reader has left (``| head -1`` once it has its line); its exit
    status and what it wrote to stderr."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.cli", *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs
    )
    process.stdout.close()  # before bench has printed a word: its first write finds the pipe broken
    err = process.communicate(timeout=120)[1].decode()
    return process.returncode, err


def test_a_reader_that_left_costs_the_output_not_the_command(tmp_path):
    """Was: `bench gate | head -1` ended on "bench gate: error: [Errno 32] Broken pipe", exit 2, whatever the
    verdict, and `bench history | head -1` before its charts were drawn; now each ends as it would have."""
    results = tmp_path / "results"
    make_run(results, "r1", {"m[a]": {"samples": latencies(1)}}, started_at="2026-11-21T00:00:00Z")
    make_run(results, "r2", {"m[a]": {"samples": latencies(2)}}, started_at="2026-11-22T00:00:00Z")
    verdicts = tmp_path / "v.json"
    argv = ["gate", "--results", str(results), "--baseline", "r1", "--current", "r2", "--json", str(verdicts)]
    assert _bench_read_by_none([*argv, "--summary", str(tmp_path / "s.md"), "-v"]) == (0, "")
    assert json.loads(verdicts.read_text())["current"] == "r2"
    charts = tmp_path / "charts"
    assert _bench_read_by_none(["history", "demo", "--results", str(results), "--out", str(charts)]) == (0, "")
    assert list(charts.glob("demo-*.png"))


def test_a_run_whose_reader_left_measures_every_case(tmp_path):
    """Was: pytest's first write into the broken pipe stopped the run as an internal error (before its first case
    here; after a few, in `bench run ... | head -20`), and bench said only "error: [Errno 32] Broken pipe"."""
    suite = write_suite(tmp_path, "suites/s.yaml", "suite: s\nmodels: [noop]\n" + TINY_MEASURE)
    argv = ["run", str(suite), "--results", str(tmp_path / "out"), "--run-id", "r", "-p", "no:cacheprovider"]
    assert _bench_read_by_none(argv, cwd=tmp_path)[0] == 0
    assert json.loads((tmp_path / "out" / "r" / "meta.json").read_text())["status"] == "finished"
    lines = (tmp_path / "out" / "r" / "records.jsonl").read_text().splitlines()
    assert [json.loads(line)["status"] for line in lines] == ["ok"]


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
def test_a_stdout_that_refuses_writes_costs_the_output_not_the_gate_s_status(tmp_path):
    """Was: `bench gate >/dev/full` (a log on a full disk) ended on "bench gate: error: [Errno 28] No space left on
    device", exit 2, after writing its verdicts: a regression's exit 1 was lost. Now the gate exits with its own
    status and says once, on stderr, that its standard output was lost; with stderr refused too, it says nothing."""
    results = tmp_path / "results"
    make_run(results, "r1", {"m[a]": {"samples": latencies(1), "model_size_bytes": 100}})
    make_run(results, "r2", {"m[a]": {"samples": latencies(1), "model_size_bytes": 200}}, started_at="2026-11-23")
    argv = [sys.executable, "-m", "bench.cli", "gate", "--results", str(results), "--baseline", "r1", "--current"]
    argv += ["r2", "--summary", str(tmp_path / "s.md"), "--json", str(tmp_path / "v.json")]
    with open("/dev/full", "w") as full:
        done = subprocess.run(argv, stdout=full, stderr=subprocess.PIPE, timeout=120)
        assert (done.returncode, done.stderr.decode()) == (
            1,
            "bench gate: warning: cannot write standard output (no space left on device); the rest of it is lost\n",
        )
        assert json.loads((tmp_path / "v.json").read_text())["counts"]["regressed"] == 1
        assert subprocess.run(argv, stdout=full, stderr=full, timeout=120).returncode == 1
        done = subprocess.run([*argv[:3], "results", "--results", str(results)], stdout=full, stderr=subprocess.PIPE)
        assert done.returncode == 0 and done.stderr.count(b"\n") == 1


def test_a_stdout_that_is_not_unicode_gets_escapes_not_an_error(tmp_path):
    """Was: `bench gate` on an ASCII stdout (LANG=C without UTF-8, PYTHONIOENCODING=ascii) ended on "error: 'ascii'
    codec can't encode character '\\xb7'", exit 2, after writing its verdicts: the verdict's status was lost."""
    results = tmp_path / "results"
    make_run(results, "r1", {"m[a]": {"samples": latencies(1)}}, started_at="2026-11-21T00:00:00Z")
    make_run(results, "r2", {"m[a]": {"samples": latencies(2)}}, started_at="2026-11-22T00:00:00Z")
    argv = [sys.executable, "-m", "bench.cli", "gate", "--results", str(results), "--baseline", "r1", "--current"]
    argv += ["r2", "--summary", str(tmp_path / "s.md"), "--json", str(tmp_path / "v.json")]
    done = subprocess.run(argv, capture_output=True, env={**os.environ, "PYTHONIOENCODING": "ascii"}, timeout=120)
    assert done.returncode == 0 and done.stderr == b""
    assert b"0 regressed \\xb7 0 improved" in done.stdout


def test_a_name_with_a_newline_keeps_the_error_on_one_line(tmp_path, capsys):
    """Was: `bench history $'x\\ny'` and a results folder named `$'a\\nb'` split the error line in two, the second
    half not starting with `bench`."""
    results = tmp_path / "a\nb"
    make_run(results, "r1", {"m[a]": {"samples": latencies(1)}})
    assert main(["history", "x\ny", "--results", str(results), "--out", str(tmp_path / "h")]) == 2
    assert capsys.readouterr().err == (
        f"bench history: error: no runs of suite 'x\\ny' under {tmp_path}/a\\nb/; suites with runs: demo\n"
    )
    assert (
        main(["gate", "--results", str(results), "--summary", str(tmp_path / "s.md"), "--json", str(tmp_path / "v")])
        == 2
    )
    err = capsys.readouterr().err
    assert err.startswith("bench gate: error: no baseline for suite(s) demo under") and err.count("\n") == 1


@pytest.mark.parametrize("command", ["run", "overhead"])
def test_a_terminal_width_pytest_cannot_draw_is_one_line(tmp_path, capsys, monkeypatch, command):
    """Was: COLUMNS=99999999999999999999 stopped pytest on an INTERNALERROR traceback ("cannot fit 'int' into an
    index-sized integer") before the first case, exit 3; a width of 10**10 asked it for strings of gigabytes."""
    suite = write_suite(tmp_path, "suites/s.yaml", "suite: s\nmodels: [noop]\n" + TINY_MEASURE)
    monkeypatch.setenv("COLUMNS", "9" * 20)
    where = [str(suite)] if command == "run" else ["--suite", str(suite)]
    assert main([command, *where, "--results", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == (
        f"bench {command}: error: $COLUMNS '{'9' * 20}': wider than any terminal (at most 10,000 columns); unset it "
        "to use the terminal's width\n"
    )
    assert not (tmp_path / "out").exists()


def test_a_tab_in_a_name_read_from_a_run_prints_escaped_and_keeps_the_columns_in_line():
    """Review: one_line_text let a tab through, so a host name 'a\\tb' moved every column after it."""
    from bench.errors import one_line_text

    assert one_line_text("gpu\tnode\n7\u2028x\x1b") == "gpu\\tnode\\n7\\u2028x\\x1b"


@pytest.mark.parametrize(
    ("argv", "variable", "named"),
    [
        (["report", "r1", "--results", "res", "--out=~/results"], None, "argument --out: '~/results'"),
        (["gate", "--results", "res", "--json=~/results"], None, "argument --json: '~/results'"),
        (["report", "r1", "--results", "res", "--prices=~/results"], None, "argument --prices: '~/results'"),
        (["results"], "BENCH_RESULTS_DIR", "$BENCH_RESULTS_DIR '~/results': '~/results'"),  # value, then path
        (["run", "suites/n.yaml"], "BENCH_RESULTS_DIR", "$BENCH_RESULTS_DIR ~/results"),  # the plugin's check
        (["run", "suites/n.yaml", "--results", "res"], "BENCH_CACHE_DIR", "$BENCH_CACHE_DIR '~/results'"),
    ],
)
def test_a_path_starting_with_an_unexpanded_tilde_is_refused_before_anything_is_written(
    tmp_path, capsys, monkeypatch, argv, variable, named
):
    """Was: `--out=~/reports`, a quoted '~/x' or BENCH_RESULTS_DIR='~/results' set in a file made a folder named '~'
    in the working folder (which `rm -rf ~` then takes for the home folder), and $BENCH_CACHE_DIR '~/.cache/bench' was
    told to become '<working folder>/~/.cache/bench'."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", "/home/u")
    write_suite(tmp_path, "suites/n.yaml", "suite: n\nmodels: [dlrm-tiny]\n" + TINY_MEASURE)
    if variable:
        monkeypatch.setenv(variable, "~/results")
    try:
        code = main(argv)
    except SystemExit as usage:
        code = usage.code
    assert code in (2, pytest.ExitCode.USAGE_ERROR)
    err = capsys.readouterr().err
    assert (
        f"{named}: '~' is not expanded here (only a shell does, at the start of an unquoted word): write "
        "'/home/u/results'" in err
    )
    assert "Traceback" not in err
    assert not (tmp_path / "~").exists()

"""The bench CLI: run is the pytest path, validate checks without running, results lists runs."""

from __future__ import annotations

import pytest

from bench.cli import main
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


def test_validate_missing_path(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "nope")]) == 1
    assert "no such file or directory" in capsys.readouterr().err


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


def test_unknown_run_is_a_clear_error(tmp_path, capsys):
    assert main(["results", "nope", "--results", str(tmp_path)]) == 2
    assert "bench results: error: no runs under" in capsys.readouterr().err


def test_usage_errors_exit_2():
    with pytest.raises(SystemExit) as info:
        main(["validate", "--bogus"])
    assert info.value.code == 2


def test_validate_refuses_two_suites_with_one_name(tmp_path, capsys):
    write_suite(tmp_path, "a.yaml", "suite: same\nmodels: [noop]\n")
    write_suite(tmp_path, "b.yaml", "suite: same\nmodels: [noop]\n")
    assert main(["validate", str(tmp_path)]) == 1
    assert "b.yaml: suite: name 'same' is also used by" in capsys.readouterr().err


def test_results_dir_defaults_to_the_environment(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("BENCH_RESULTS_DIR", str(tmp_path / "elsewhere"))
    assert main(["results"]) == 0
    assert "elsewhere" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["gate", "--alpha", "5"], "must be between 0 and 1"),
        (["history", "demo", "--min-size", "0"], "must be an integer >= 1"),
        (["history", "demo", "--alpha", "x"], "must be a number between 0 and 1"),
    ],
)
def test_out_of_range_options_are_usage_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert message in capsys.readouterr().err

"""Parameter sweeps (``sweep:`` on a model/compression/engine entry), the GPU suites' shape, and the validation of
the GPU-oriented method parameters (compile ``mode``, fp8 ``granularity``, tensorrt ``min_block_size``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.errors import SuiteError
from bench.suite import load_suite
from tests.helpers import write_suite

ROOT = Path(__file__).resolve().parents[1]
HEAD = "suite: s\n"


def ids(suite):
    return [c.case_id for c in suite.cases]


def test_a_swept_model_param_expands_into_one_labelled_model_per_value(tmp_path):
    body = HEAD + (
        "models: [{name: minilm-search, params: {catalogue: 64}, label: minilm, sweep: {seq_len: [64, 128, 256]}}]\n"
        "compression: [fp32, bf16]\nbatch_sizes: [1, 8]\n"
    )
    suite = load_suite(write_suite(tmp_path, "s.yaml", body))
    models = list(dict.fromkeys(c.model for c in suite.cases))
    assert [m.label for m in models] == ["minilm-seq_len64", "minilm-seq_len128", "minilm-seq_len256"]
    assert [m.kwargs for m in models] == [{"catalogue": 64, "seq_len": s} for s in (64, 128, 256)]
    assert {m.name for m in models} == {"minilm-search"}
    assert len(suite.cases) == 3 * 2 * 2
    assert "minilm-seq_len128[bf16-cpu-1t-bs8]" in ids(suite)


def test_without_a_label_the_name_and_fixed_params_prefix_the_swept_value(tmp_path):
    body = HEAD + "models: [{name: minilm-search, sweep: {seq_len: [64]}}, {name: dlrm-tiny, sweep: {rows: [10]}}]\n"
    labels = {c.model.label for c in load_suite(write_suite(tmp_path, "s.yaml", body)).cases}
    assert labels == {"minilm-search-seq_len64", "dlrm-tiny-rows10"}


def test_several_swept_params_give_their_product(tmp_path):
    body = HEAD + "models: [{name: dlrm-tiny, sweep: {rows: [10, 20], tables: [2, 4]}}]\n"
    labels = [c.model.label for c in load_suite(write_suite(tmp_path, "s.yaml", body)).cases]
    assert labels == ["dlrm-tiny-rows10-tables2", "dlrm-tiny-rows10-tables4", "dlrm-tiny-rows20-tables2",
                      "dlrm-tiny-rows20-tables4"]  # fmt: skip


def test_string_values_show_bare_and_flags_by_name(tmp_path):
    body = HEAD + (
        "models: [noop]\n"
        "engines: [{name: compile, sweep: {mode: [default, reduce-overhead]}}, "
        "{name: compile, label: c, sweep: {freezing: [false]}}]\n"
        "scoring: {reference: {engine: compile-default}}\n"  # no eager case to score against
    )
    labels = [c.engine.label for c in load_suite(write_suite(tmp_path, "s.yaml", body)).cases]
    assert labels == ["compile-default", "compile-reduce-overhead", "c-freezing-false"]


def test_exclude_and_include_address_swept_labels_and_the_name(tmp_path):
    body = HEAD + (
        "models: [{name: minilm-search, sweep: {seq_len: [64, 128]}}, dlrm-tiny]\n"
        "compression: [fp32, bf16]\n"
        "exclude:\n"
        "  - {model: minilm-search-seq_len128, compression: fp32}\n"
        "  - {model: minilm-search, compression: bf16}\n"
        "include:\n"
        "  - {model: minilm-search-seq_len128, compression: fp32, device: cpu, batch_size: 4}\n"
    )
    suite = load_suite(write_suite(tmp_path, "s.yaml", body))
    assert sorted(ids(suite)) == sorted(
        [
            "minilm-search-seq_len64[fp32-cpu-1t-bs1]",
            "minilm-search-seq_len128[fp32-cpu-1t-bs4]",
            "dlrm-tiny[fp32-cpu-1t-bs1]",
            "dlrm-tiny[bf16-cpu-1t-bs1]",
        ]
    )


def test_an_engine_mode_param_shows_in_the_case_id(tmp_path):
    body = HEAD + "models: [noop]\nengines: [eager, {compile: {mode: reduce-overhead}}]\n"
    suite = load_suite(write_suite(tmp_path, "s.yaml", body))
    assert ids(suite) == ["noop[fp32-cpu-1t-bs1]", "noop[fp32-compile-reduce-overhead-cpu-1t-bs1]"]
    assert suite.cases[1].engine.kwargs == {"mode": "reduce-overhead"}


M = HEAD + "models:\n  - "


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            M + "{name: minilm-search, sweep: {seq_len: [64, x]}}\n",
            r"models\[0\]\.sweep\.seq_len\[1\]: must be an integer",
        ),
        (M + "{name: minilm-search, sweep: {seq_len: [64, -1]}}\n", r"sweep\.seq_len\[1\]: must not be negative"),
        (M + "{name: minilm-search, sweep: {seq_len: [64, 64]}}\n", r"sweep\.seq_len\[1\]: 64 is listed twice"),
        (M + "{name: minilm-search, sweep: {seq_len: 64}}\n", r"sweep\.seq_len: must be a non-empty list of values"),
        (M + "{name: minilm-search, sweep: {seq_len: []}}\n", r"sweep\.seq_len: must be a non-empty list of values"),
        (M + "{name: minilm-search, sweep: [64]}\n", r"models\[0\]\.sweep: must be a mapping of parameter"),
        (M + "{name: minilm-search, sweep: {}}\n", r"models\[0\]\.sweep: must be a mapping of parameter"),
        (M + "{name: minilm-search, sweep: {seq_lne: [64]}}\n", r"sweep\.seq_lne: unknown parameter\. Did you mean"),
        (
            M + "{name: minilm-search, params: {seq_len: 32}, sweep: {seq_len: [64]}}\n",
            r"models\[0\]\.sweep\.seq_len: is also set in models\[0\]\.params",
        ),
        (M + "{name: minilm-serch, sweep: {seq_len: [64]}}\n", r"models\[0\]: unknown model 'minilm-serch'\. Did you"),
        (M + "{name: minilm-search, sweeps: {seq_len: [64]}}\n", r"models\[0\]\.sweeps: unknown key"),
        (M + "{name: dlrm-ctr, sweep: {preset: [tiny, 'very large']}}\n", r"sweep\.preset\[1\]: 'very large' cannot"),
        (
            M + "{name: minilm-search, sweep: {seq_len: [64]}}\n  - {name: minilm-search, sweep: {seq_len: [64]}}\n",
            r"models\[1\]: duplicate 'minilm-search-seq_len64'",
        ),
        (
            M
            + "noop\ninclude: [{model: {name: noop, sweep: {x: [1]}}, compression: fp32, device: cpu, batch_size: 1}]",
            r"include\[0\]\.model\.sweep: unknown key",
        ),
        (M + "noop\nengines: [{compile: {mode: fastest}}]\n", r"compile: unknown mode 'fastest'; allowed: default, "),
        (
            M + "noop\nengines: [{name: compile, sweep: {mode: [default, fastest]}}]\n",
            r"engines\[0\]\.params: compile: unknown mode 'fastest'.*reduce-overhead",
        ),
        (M + "noop\ncompression: [{fp8: {granularity: per-block}}]\n", r"unknown granularity 'per-block'; allowed: "),
        (M + "noop\nengines: [{tensorrt: {min_block_size: 0}}]\n", r"min_block_size must be >= 1, got 0"),
    ],
)
def test_bad_sweeps_and_gpu_params_name_file_key_and_allowed_values(tmp_path, body, message):
    path = write_suite(tmp_path, "s.yaml", body)
    with pytest.raises(SuiteError, match=message) as info:
        load_suite(path)
    assert str(info.value).startswith(str(path)), "every error names the file first"
    assert "\n" not in str(info.value)


def test_a_sweep_s_repeated_values_are_found_by_one_lookup_each(tmp_path):
    # the check for a value listed twice was values.index(value) per value, quadratic: 60,000 values took about 20 s
    # of CPU to validate (a file allows about 100,000). Now a dict of the values as frozen for the case id: what it
    # must still tell apart and find (the speed is a benchmark's to show, not a test's)
    values = ", ".join(map(str, range(2_000)))
    suite = "suite: s\nmodels: [{{factory: 'tests.helpers:f', name: m, sweep: {{x: [{}]}}}}]\n"
    assert len(load_suite(write_suite(tmp_path, "s.yaml", suite.format(values))).cases) == 2_000
    repeated = write_suite(tmp_path, "r.yaml", suite.format(values + ", 7"))
    with pytest.raises(SuiteError, match=r"models\[0\]\.sweep\.x\[2000\]: 7 is listed twice$"):
        load_suite(repeated)
    twice = write_suite(
        tmp_path,
        "t.yaml",
        "suite: s\nmodels: [{factory: 'tests.helpers:f', name: m, sweep: {x: [[1, 2], 3, [1, 2]]}}]\n",
    )
    with pytest.raises(SuiteError, match=r"models\[0\]\.sweep\.x\[2\]: \[1, 2\] is listed twice$"):
        load_suite(twice)


def test_the_gpu_suites_split_latency_and_throughput_regimes():
    latency = load_suite(ROOT / "suites" / "gpu.yaml")
    throughput = load_suite(ROOT / "suites" / "gpu-throughput.yaml")
    for suite in (latency, throughput):
        assert {c.placement.device for c in suite.cases} == {"cuda:0"}
        assert {c.compression.label for c in suite.cases} >= {"fp32", "bf16", "fp16", "int8-weight-only", "fp8"}
        assert "eager" in {c.engine.label for c in suite.cases}
        assert "compile" in {c.engine.name for c in suite.cases}
    assert max(c.batch_size for c in latency.cases) < min(c.batch_size for c in throughput.cases)
    assert max(c.batch_size for c in throughput.cases) >= 256
    assert "compile-reduce-overhead" in {c.engine.label for c in latency.cases}
    seq_lens = {dict(c.model.params)["seq_len"] for c in throughput.cases if c.model.name == "minilm-search"}
    assert len(seq_lens) >= 2 and min(seq_lens) >= 128
    # every fp32 case has its reference for the other levels of the same model, engine and batch
    for suite in (latency, throughput):
        refs = {(c.model, c.engine, c.batch_size) for c in suite.cases if c.compression.name == "fp32"}
        assert {(c.model, c.engine, c.batch_size) for c in suite.cases} == refs


def _values(n: int) -> str:
    return "[" + ", ".join(str(i) for i in range(1, n + 1)) + "]"


FIVE_PARAMS = ", ".join(f"{p}: {_values(11)}" for p in ("rows", "tables", "embedding_dim", "bag_size", "seed"))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            f"models: [{{name: dlrm-tiny, sweep: {{{FIVE_PARAMS}}}}}]\n",
            "s.yaml: models[0].sweep: expands to 161051 combinations; at most 100000",
        ),
        (
            f"models: [noop]\nbatch_sizes: {_values(400)}\nhardware: {{cpu: {{threads: {_values(400)}}}}}\n",
            "s.yaml: the sweep has 1 models x 1 compression x 1 engines x 400 hardware x 400 batch_sizes = 160000 "
            "cases; at most 100000",
        ),
        (  # was: every rule checked against every case, each time rebuilding the case's values: minutes
            f"models: [noop]\nbatch_sizes: {_values(1000)}\nhardware: {{cpu: {{threads: {_values(100)}}}}}\n"
            "exclude:\n"
            + "".join(f"  - {{batch_size: {i % 1000 + 1}, threads: {i // 1000 + 1}}}\n" for i in range(2000)),
            "s.yaml: exclude: 2000 rules x 100000 cases = 200000000 checks; at most 10000000 (fewer rules: each axis "
            "of a rule takes a list of values)",
        ),
    ],
    ids=["method-sweep", "suite-product", "exclude-rules"],
)
def test_a_sweep_beyond_the_case_limit_is_refused_before_it_is_expanded(tmp_path, body, message):
    with pytest.raises(SuiteError) as caught:
        load_suite(write_suite(tmp_path, "s.yaml", HEAD + body))
    assert str(caught.value).endswith(message)

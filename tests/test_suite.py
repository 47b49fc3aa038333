"""Suite loading: expansion (product, exclude, include), extends, and every class of bad input."""

from __future__ import annotations

import pytest

from bench.cli import main
from bench.errors import SuiteError, first_few
from bench.suite import discover, load_suite
from tests.helpers import write_suite

BASE = """
suite: recsys-quick
description: CTR model, quick sweep
models: [dlrm-tiny]
compression: [fp32, bf16]
hardware:
  cpu: {threads: [1, 2]}
  cuda: {devices: [0]}
batch_sizes: [1, 64]
"""


def ids(suite):
    return [c.case_id for c in suite.cases]


def test_product_of_axes(tmp_path):
    suite = load_suite(write_suite(tmp_path, "s.yaml", BASE))
    assert len(suite.cases) == 1 * 2 * 1 * 3 * 2  # models x compression x engines x placements x batches
    assert "dlrm-tiny[bf16-cpu-2t-bs64]" in ids(suite)
    assert "dlrm-tiny[fp32-cuda0-bs1]" in ids(suite)
    assert len(set(ids(suite))) == len(ids(suite))
    assert suite.cases[0].full_id == "recsys-quick::dlrm-tiny[fp32-cpu-1t-bs1]"


def test_exclude_removes_matching_points(tmp_path):
    body = BASE + "exclude:\n  - {compression: bf16, batch_size: 1}\n  - {device: cuda, compression: bf16}\n"
    suite = load_suite(write_suite(tmp_path, "s.yaml", body))
    assert not [c for c in suite.cases if c.compression.name == "bf16" and c.batch_size == 1]
    assert not [c for c in suite.cases if c.placement.device_type == "cuda" and c.compression.name == "bf16"]
    assert len(suite.cases) == 12 - 3 - 1


def test_exclude_list_values_match_any(tmp_path):
    body = BASE + "exclude:\n  - {threads: [1, 2]}\n"
    suite = load_suite(write_suite(tmp_path, "s.yaml", body))
    assert {c.placement.device for c in suite.cases} == {"cuda:0"}


def test_include_adds_points_and_dedupes(tmp_path):
    body = BASE + (
        "include:\n"
        "  - {model: dlrm-tiny, compression: fp16, device: cpu, threads: 1, batch_size: 64}\n"
        "  - {model: dlrm-tiny, compression: fp32, device: cpu, threads: 1, batch_size: 1}\n"  # already there
    )
    suite = load_suite(write_suite(tmp_path, "s.yaml", body))
    assert "dlrm-tiny[fp16-cpu-1t-bs64]" in ids(suite)
    assert len(suite.cases) == 13


def test_method_params_and_labels(tmp_path):
    body = BASE.replace("[dlrm-tiny]", "[{dlrm-tiny: {rows: 50}}, {name: dlrm-tiny, params: {rows: 20}, label: small}]")
    suite = load_suite(write_suite(tmp_path, "s.yaml", body))
    labels = {c.model.label for c in suite.cases}
    assert labels == {"dlrm-tiny-50", "small"}
    small = next(c for c in suite.cases if c.model.label == "small")
    assert small.model.kwargs == {"rows": 20}
    assert hash(small) == hash(small)  # frozen specs are hashable: they key the caches


def test_extends_deep_merges_and_local_wins(tmp_path):
    write_suite(tmp_path, "_defaults.yaml", "measure: {warmup_s: 0.5, min_rounds: 7}\nbatch_sizes: [4]\n")
    suite = load_suite(
        write_suite(tmp_path, "s.yaml", "suite: s\nextends: _defaults.yaml\nmodels: [noop]\nmeasure: {min_rounds: 9}\n")
    )
    measure = suite.cases[0].measure
    assert (measure.warmup_s, measure.min_rounds) == (0.5, 9)
    assert [c.batch_size for c in suite.cases] == [4]


def test_extends_cycle_is_rejected(tmp_path):
    write_suite(tmp_path, "a.yaml", "suite: a\nextends: b.yaml\nmodels: [noop]\n")
    write_suite(tmp_path, "b.yaml", "extends: a.yaml\n")
    with pytest.raises(SuiteError, match=r"extends: cycle: a.yaml -> b.yaml -> a.yaml"):
        load_suite(tmp_path / "a.yaml")


def test_extends_errors_name_the_suite_file_as_given(tmp_path, monkeypatch):
    """A cycle was reported on the resolved absolute path while every other error names the path as given."""
    write_suite(tmp_path, "a.yaml", "suite: a\nextends: b.yaml\nmodels: [noop]\n")
    write_suite(tmp_path, "b.yaml", "extends: a.yaml\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SuiteError) as info:
        load_suite("a.yaml")
    assert str(info.value).startswith("a.yaml: extends: cycle: a.yaml -> b.yaml -> a.yaml")


def test_a_suite_without_fp32_is_valid_with_a_reference_it_has(tmp_path):
    body = "suite: x\nmodels: [noop]\ncompression: [bf16, int8-dynamic]\nscoring: {reference: {compression: bf16}}\n"
    assert len(load_suite(write_suite(tmp_path, "s.yaml", body)).cases) == 2


def test_discover_skips_underscore_files(tmp_path):
    write_suite(tmp_path, "_defaults.yaml", "measure: {}\n")
    write_suite(tmp_path, "one.yaml", "suite: one\nmodels: [noop]\n")
    assert [p.name for p in discover([tmp_path])] == ["one.yaml"]


def test_duplicate_suite_names_across_files(tmp_path, capsys):
    write_suite(tmp_path, "one.yaml", "suite: same\nmodels: [noop]\n")
    write_suite(tmp_path, "two.yaml", "suite: same\nmodels: [noop]\n")
    assert main(["validate", str(tmp_path)]) != 0
    assert "name 'same' is also used by" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("suite: x\nmodels: [noop\n", r"s\.yaml: line \d+, column \d+: YAML syntax error"),
        ("", "the file is empty"),
        ("- a\n- b\n", "a suite must be a mapping"),
        ("suite: x\nmodels: [noop]\nbatchsizes: [1]\n", r"batchsizes: unknown key\. Did you mean 'batch_sizes'\?"),
        ("suite: x\nmodels: [noop]\nmeasure: {min_round: 3}\n", r"measure\.min_round: unknown key.*min_rounds"),
        ("models: [noop]\n", "suite: required"),
        ("suite: x\n", "models: required"),
        ("suite: x\nmodels: [dlrm-tiniy]\n", r"models\[0\]: unknown model 'dlrm-tiniy'\. Did you mean 'dlrm-tiny'\?"),
        ("suite: x\nmodels: [noop]\ncompression: [fp32, bf61]\n", r"compression\[1\]: unknown compression 'bf61'"),
        ("suite: x\nmodels: [noop]\nengines: [eagre]\n", r"engines\[0\]: unknown engine 'eagre'.*Allowed: "),
        ("suite: x\nmodels: [noop]\nbatch_sizes: [0]\n", r"batch_sizes\[0\]: must be an integer >= 1, got 0"),
        ("suite: x\nmodels: [noop]\nbatch_sizes: [-4]\n", r"batch_sizes\[0\]: must be an integer >= 1, got -4"),
        ("suite: x\nmodels: [noop]\nbatch_sizes: [two]\n", r"batch_sizes\[0\]: must be an integer >= 1, got string"),
        ("suite: x\nmodels: [noop]\nbatch_sizes: [1, 8, 1]\n", r"batch_sizes\[2\]: 1 is listed twice$"),
        ("suite: x\nmodels: [noop]\nhardware: {cpu: {threads: [2, 2]}}\n", r"hardware\.cpu\.threads\[1\]: 2 is listed"),
        ("suite: x\nmodels: [noop]\nhardware: {cuda: {devices: [0, 0]}}\n", r"hardware\.cuda\.devices\[1\]: 0 is"),
        ("suite: x\nmodels: [noop]\nhardware: {cpu: {threads: [0]}}\n", r"hardware\.cpu\.threads\[0\]: must be"),
        ("suite: x\nmodels: [noop]\nhardware: {tpu: {}}\n", r"hardware\.tpu: unknown key\..* Allowed: cpu, cuda"),
        ("suite: x\nmodels: [noop]\nhardware: {}\n", "hardware: must name at least one target"),
        ("suite: x\nmodels: [noop]\nmeasure: {min_time_s: 0}\n", r"measure\.min_time_s: must be > 0, got 0"),
        ("suite: x\nmodels: [noop]\nmeasure: {warmup_s: -1}\n", r"measure\.warmup_s: must be >= 0, got -1"),
        ("suite: x\nmodels: [noop]\nmeasure: {min_rounds: 2.5}\n", r"measure\.min_rounds: must be an integer"),
        ("suite: x\nmodels: [noop]\nmeasure: {repeats: 0}\n", r"measure\.repeats: must be an integer >= 1"),
        ("suite: x\nmodels: [noop]\nmeasure: {repeats: 1.5}\n", r"measure\.repeats: must be an integer >= 1"),
        ("suite: x\nmodels: [noop]\nmeasure: {repeats: true}\n", r"measure\.repeats: must be an integer >= 1"),
        ("suite: x\nmodels: [noop]\nmeasure: {accuracy: yes please}\n", r"measure\.accuracy: must be true or false"),
        ("suite: x\nmodels: [noop]\nmeasure: [1]\n", "measure: must be a mapping"),
        ("suite: x\nmodels: [{dlrm-tiny: {rowz: 5}}]\n", r"models\[0\]\.dlrm-tiny\.rowz: unknown parameter.*'rows'"),
        ("suite: x\nmodels: [{dlrm-tiny: {rows: ten}}]\n", r"rows: must be an integer \(like 1000\), got string"),
        ("suite: x\nmodels: [{dlrm-tiny: {rows: -5}}]\n", r"rows: must not be negative"),
        ("suite: x\nmodels: [noop]\nexclude: [{models: noop}]\n", r"exclude\[0\]\.models: unknown key.*'model'"),
        ("suite: x\nmodels: [noop]\nexclude: [{}]\n", r"exclude\[0\]: an empty rule would match every case"),
        ("suite: x\nmodels: [noop]\nexclude: [{model: noop}]\n", "the sweep is empty: exclude removed the only case$"),
        (
            "suite: x\nmodels: [noop]\nbatch_sizes: [1, 2]\nexclude: [{model: noop}]\n",
            "the sweep is empty: exclude removed all 2 cases$",
        ),
        ("suite: x\nmodels: [noop]\ninclude: [{model: noop}]\n", r"include\[0\]: an include entry needs .*missing"),
        ("suite: x\nmodels: [noop, noop]\n", r"models\[1\]: duplicate 'noop'"),
        (  # was: the include was dropped without a word (the case id was taken by the rows: 10 model)
            "suite: x\nmodels: [{name: dlrm-tiny, label: small, params: {rows: 10}}]\ninclude:\n"
            "  - {model: {name: dlrm-tiny, label: small, params: {rows: 500}}, compression: fp32, device: cpu, "
            "batch_size: 1}\n",
            r"include\[0\]: two different cases would both be small\[fp32-cpu-1t-bs1\] \(they differ in model\); give",
        ),
        (  # was: labels joined into one id, so the fp32 case on compile was dropped without a word
            "suite: x\nmodels: [noop]\ncompression: [{name: fp32, label: fp32-compile}, fp32]\n"
            "engines: [eager, compile]\n",
            r"s\.yaml: compression: two different cases would both be noop\[fp32-compile-cpu-1t-bs1\] \(they differ in "
            r"compression and engine\); give one of them another label$",
        ),
        (
            "suite: x\nmodels: [{factory: 'nope.mod:build', name: m}]\n",
            r"factory: no module 'nope\.mod' on the import path",
        ),
        ("suite: x\nmodels: [{factory: 'not a path', name: m}]\n", r"factory: must be 'package\.module:function'"),
        # were valid, then failed the case: the pattern's $ matched before a last newline ("has no function
        # 'build\n'", over two lines), and the function is looked up as one attribute ("has no function 'a.b'")
        (
            'suite: x\nmodels: [{factory: "tests.fakes.models:build\\n", name: m}]\n',
            r"models\[0\]\.factory: must be 'package\.module:function', got 'tests\.fakes\.models:build\\n'$",
        ),
        ("suite: x\nmodels: [{factory: 'tests.fakes.models:a.b', name: m}]\n", r"factory: must be 'package\.module:"),
        ("suite: bad name!\nmodels: [noop]\n", "suite: must be a name of letters.*, got 'bad name!'$"),
        # was valid: the pattern's $ matched before a last newline, and every case id held a line break
        ('suite: "x\\n"\nmodels: [noop]\n', r"suite: must be a name of letters.*, got 'x\\n'$"),
        ('suite: x\nmodels: [{name: noop, label: "m\\n"}]\n', r"models\[0\]\.label: must be letters"),
        # was "suite: required: ...", as if the key were missing: YAML reads off as a boolean
        ("suite: off\nmodels: [noop]\n", "suite: must be a name .*, got boolean False \\(YAML reads an unquoted"),
        ("suite: 2024\nmodels: [noop]\n", "suite: must be a name .*, got integer 2024$"),
        ("suite: x\nextends: missing.yaml\nmodels: [noop]\n", r"extends: 'missing\.yaml' not found"),
        ("suite: x\nmodels: [noop]\nscoring: 3\n", "scoring: must be a mapping"),
        (  # was valid: every money column read "price per hour ()", "monthly cost ()"
            "suite: x\nmodels: [noop]\nprices: {currency: ''}\n",
            r"s\.yaml: prices\.currency: must be a currency code or symbol of 1 to 8 printable characters, no spaces "
            r"around it \(e\.g\. USD, EUR, €\), got ''$",
        ),
        (  # was valid: a header 200 characters wide on every money column
            "suite: x\nmodels: [noop]\nprices: {currency: " + "E" * 200 + "}\n",
            r"prices\.currency: must be a currency code .*, got 'EEEE+… \(200 characters\)$",
        ),
        ('suite: x\nmodels: [noop]\nprices: {currency: "US\\nD"}\n', r"prices\.currency: .*, got 'US\\nD'$"),
        ("suite: x\nmodels: [noop]\nprices: {currency: 5}\n", r"prices\.currency: must be a currency code .*, got 5$"),
        (  # the range of bench gate --run-noise, said the same way (was: 1 accepted here, refused there)
            "suite: x\nmodels: [noop]\ngates: {run_noise: 1}\n",
            r"gates\.run_noise: must be a fraction in \[0, 1\) or a percentage below 100% \(e\.g\. 0\.04 or 4%\), "
            r"got 1$",
        ),
        ("suite: x\nmodels: [noop]\ngates: {run_noise: '100%'}\n", r"gates\.run_noise: must be a fraction in \[0, 1\)"),
        (  # was valid: an infinite limit, so the metric was never judged a regression
            "suite: x\nmodels: [noop]\ngates: {latency_p50_ms: '+1e999%'}\n",
            r"gates\.latency_p50_ms: '\+1e999%' is not a finite limit; latency_p50_ms is lower-is-better, so its rule",
        ),
        ("suite: x\nmodels: [noop]\ncompression: [{prune-l1: {amount: 1.5}}]\n", r"amount must be in \[0, 1\)"),
        ("suite: x\nmodels: [noop]\ncompression: [{distill: {fraction: 1.0}}]\n", r"fraction must be in \(0, 1\)"),
        (
            "suite: x\nmodels: [noop]\ncompression: [{distill: {steps: 9223372036854775807}}]\n",
            r"compression\[0\]\.distill: distill: steps must be at most 100000, got 9223372036854775807",
        ),
        (
            "suite: x\nmodels: [noop]\ncompression: [{name: prune-l1, sweep: {finetune_steps: [0, 10000000]}}]\n",
            r"compression\[0\]\.params: prune-l1: finetune_steps must be at most 100000, got 10000000",
        ),
        (
            "suite: x\nmodels: [noop]\ncompression: [{distill: {lr: 1.0e+300}}]\n",
            r"compression\[0\]\.distill: distill: lr must be 0 \(the model's own rate\) or > 0 and <= 10, got 1e\+300",
        ),
        (
            "suite: x\nmodels: [noop]\ncompression: [{prune-l1: {finetune_steps: 10, lr: 10.5}}]\n",
            r"compression\[0\]\.prune-l1: prune-l1: lr must be 0 \(the model's own rate\) or > 0 and <= 10, got 10\.5",
        ),
        (
            "suite: x\nmodels: [noop]\ncompression: [{name: prune-structured, sweep: {lr: [0.01, 100]}}]\n",
            r"compression\[0\]\.params: prune-structured: lr must be 0 \(the model's own rate\) or > 0 and <= 10",
        ),
        (
            "suite: x\nmodels: [noop]\ncompression: [{int8-static: {calibration_batches: 0}}]\n",
            r"compression\[0\]\.int8-static: int8-static: calibration_batches must be an integer from 1 to 100000, "
            r"got 0",
        ),
        (
            "suite: x\nmodels: [noop]\ncompression: [{int8-dynamic: {backend: torchaoo}}]\n",
            r"compression\[0\]\.int8-dynamic: int8-dynamic: unknown backend 'torchaoo'; allowed: ",
        ),
        (
            "suite: x\nmodels: [noop]\nengines: [{onnxruntime: {optimization: fastest}}]\n",
            r"unknown optimization 'fastest'; allowed: none, basic, extended, all",
        ),
        ("suite: x\nmodels: [noop]\nengines: [{slowdown: {inner: eagre}}]\n", r"unknown engine 'eagre'\. Did you mean"),
        ("suite: x\nmodels: [noop]\nexclude: [{compression: bf61}]\n", r"exclude\[0\]\.compression: 'bf61' is not in"),
        ("suite: x\nmodels: [noop]\nexclude: [{batch_size: 128}]\n", r"exclude\[0\]\.batch_size: 128 is not in.*"),
        (  # was: true == 1, so the rule silently removed the 1-thread cases
            "suite: x\nmodels: [noop]\nhardware: {cpu: {threads: [1, 2]}}\nexclude: [{threads: true}]\n",
            r"exclude\[0\]\.threads: must be a name or number .*, got True$",
        ),
        (  # was valid: the whole run was measured, then its report was not written (no reference case)
            "suite: x\nmodels: [noop]\nscoring: {reference: {compression: fp23}}\n",
            r"scoring\.reference\.compression: 'fp23' is not in this suite's cases\. Did you mean 'fp32'\?",
        ),
        (  # was valid: measured in full, then the report failed: no fp32 case to normalise S and T against
            "suite: x\nmodels: [noop]\ncompression: [bf16, int8-dynamic]\n",
            r"s\.yaml: compression: noop\[bf16-cpu-1t-bs1\] has no reference case to be scored against \(model=noop, "
            r"compression=fp32, engine=eager, device=cpu, threads=1, batch_size=1\): the reference rule is .*; "
            r"add fp32 to compression, or set scoring\.reference to a case the suite has \(e\.g\. scoring\.reference: "
            r"\{compression: bf16\}\)$",
        ),
        ("suite: x\nmodels: [noop]\nengines: [compile]\n", r"s\.yaml: engines: .* add eager to engines, or set "),
        (  # fp32 is there, but not at the group's first thread count
            "suite: x\nmodels: [noop]\ncompression: [fp32, bf16]\nhardware: {cpu: {threads: [1, 2]}}\n"
            "exclude: [{compression: fp32, threads: 1}]\n",
            r"s\.yaml: scoring\.reference: noop\[fp32-cpu-2t-bs1\] has no reference case .*threads=1.*; add that case, "
            r"or set scoring\.reference \(keys: model, compression, engine, device, threads, batch_size\) to a case "
            r"the suite has$",
        ),
        (  # an explicit rule is checked the same way
            "suite: x\nmodels: [noop]\ncompression: [fp32, bf16]\nhardware: {cpu: {threads: [1, 2]}}\n"
            "exclude: [{compression: bf16, threads: 2}]\nscoring: {reference: {compression: bf16, threads: 2}}\n",
            r"s\.yaml: scoring\.reference: noop\[fp32-cpu-1t-bs1\] has no reference case .*\(.*compression=bf16, "
            r"engine=eager, device=cpu, threads=2",
        ),
        (  # the report looks the reference up by label and full device name
            "suite: x\nmodels: [noop]\ncompression: [fp32, {prune-l1: {amount: 0.5}}]\nhardware: {cuda: {}}\n"
            "scoring: {reference: {compression: prune-l1, device: cuda}}\n",
            r"scoring\.reference\.compression: 'prune-l1' is not in .* Allowed: fp32, prune-l1-0\.5$",
        ),
        (
            "suite: x\nmodels: [noop]\nhardware: {cuda: {}}\nscoring: {reference: {device: cuda}}\n",
            r"scoring\.reference\.device: 'cuda' is not in this suite's cases\. Did you mean 'cuda:0'\?",
        ),
        ("suite: x\nmodels: [noop]\nscoring: {reference: {threads: '1'}}\n", r"threads: must be a number or 'first'"),
        (  # was: a rule that matched nothing, silently
            "suite: x\nmodels: [noop]\nexclude: [{model: []}]\n",
            r"exclude\[0\]\.model: an empty list matches no case; give one or more values$",
        ),
        (
            "suite: x\nmodels: [noop]\nexclude: [{compression: {prune-l1: {amount: 0.5}}}]\n",
            r"exclude\[0\]\.compression: must be a name or number \(use a method's label",
        ),
        (
            "suite: x\nmodels: [noop]\nmeasure: {min_rounds: 50, max_rounds: 10}\n",
            r"must not exceed measure\.max_rounds",
        ),
        (
            "suite: x\nmodels: [noop]\n"
            "include: [{model: noop, compression: fp32, device: cuda, threads: 2, batch_size: 1}]\n",
            r"include\[0\]\.threads: applies to device: cpu only",
        ),
        (
            "suite: x\nmodels: [noop]\n"
            "include: [{model: noop, compression: fp32, device: 'cuda:99999999999999999999', batch_size: 1}]\n",
            r"include\[0\]\.device: the device index N of cuda:N must be <= 1048576, got 'cuda:99999999999999999999'",
        ),
        (
            "suite: x\nmodels: [noop]\n"
            "include: [{model: noop, compression: fp32, device: 'cuda:1048577', batch_size: 1}]\n",
            r"include\[0\]\.device: the device index N of cuda:N must be <= 1048576",
        ),
        (
            "suite: x\nmodels: [noop]\n"
            "include: [{model: noop, compression: fp32, device: 'cuda:\u0661', batch_size: 1}]\n",
            r"include\[0\]\.device: must be cpu, cuda or cuda:N",
        ),
    ],
)
def test_bad_input_names_file_key_and_allowed_values(tmp_path, body, message):
    path = write_suite(tmp_path, "s.yaml", body)
    with pytest.raises(SuiteError, match=message) as info:
        load_suite(path)
    assert str(info.value).startswith(str(path)), "every error names the file first"
    assert "Traceback" not in str(info.value)


def test_an_error_lists_at_most_twenty_allowed_values(tmp_path):
    """Was: every value of the sweep, sorted: a typo beside 1000 batch sizes got a line of 5 KB (up to megabytes for
    a sweep of 100,000 labels)."""
    sizes = ", ".join(map(str, range(1, 1001)))
    body = f"suite: s\nmodels: [noop]\nbatch_sizes: [{sizes}]\nexclude: [{{batch_size: 1001}}]\n"
    with pytest.raises(SuiteError) as info:
        load_suite(write_suite(tmp_path, "s.yaml", body))
    message = str(info.value)
    assert message.endswith(" and 980 more") and len(message) < 400
    assert "exclude[0].batch_size: 1001 is not in this suite's sweep. Did you mean" in message


@pytest.mark.parametrize("count", [0, 1, 3, 4, 9])
def test_a_cut_list_names_its_first_items_and_counts_the_rest(count):
    """One form of "the first N and how many more" for every message that cuts a list (was: a dozen hand-written
    copies, as "and 3 more" in some and ", … (3 more)" in others)."""
    items = [f"c{i}" for i in range(count)]
    text = first_few(items, 3)
    assert text.split(" and ")[0].split(", ") == (items[:3] or [""])
    assert text.endswith(f" and {count - 3} more") == (count > 3)
    assert first_few(items, 3, "; ", rest="older").endswith(" older") == (count > 3)

"""Hostile input: every bad suite, number, path or run id is one line naming the file, the key and what is allowed
(never a traceback, a hang or unbounded memory), and a failed case's error is one line too."""

from __future__ import annotations

import dataclasses
import json
import pickle
import re
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest
import torch

from bench.cli import main
from bench.errors import BenchError, SuiteError
from bench.results import RunWriter, run_id_problem
from bench.runner import Session, _LastOnly, build_model
from bench.spec import Case, MeasureSpec, MethodSpec, Placement
from bench.suite import load_suite
from tests.fakes import models as fake_models
from tests.helpers import TINY_MEASURE, write_suite

S = "suite: s\nmodels: [noop]\n"


def refused(tmp_path, body: str | bytes, name: str = "s.yaml") -> str:
    """The one-line error a suite file gets."""
    path = tmp_path / name
    path.write_bytes(body if isinstance(body, bytes) else body.encode())
    with pytest.raises(SuiteError) as info:
        load_suite(path)
    message = str(info.value)
    assert message.startswith(str(path)) and "\n" not in message and len(message) < 400
    return message


def billion_laughs(levels: int = 12) -> str:
    text = "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
    for i in range(1, levels):
        text += f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n"
    return "suite: s\n" + text + f"models: [{{dlrm-tiny: {{rows: *a{levels - 1}}}}}]\n"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (S + "suite: t\n", r"line 3, column 1: duplicate key 'suite' \(first at line 1\)"),
        (S + "measure: {min_rounds: 5, min_rounds: 6}\n", r"duplicate key 'min_rounds'"),
        # keys that read as one Python key (True == 1 == 1.0): the mapping kept the last without a word
        (S + "gates: {1: '+5%', true: '+1%'}\n", r"line 3, column 19: duplicate key 'true' \(first at line 3 as '1',"),
        (S + "x: {0: a, false: b}\n", r"duplicate key 'false' \(first at line 3 as '0', the same key once read\)"),
        (S + "x: {1.0: a, 1: b}\n", r"duplicate key '1' \(first at line 3 as '1.0'"),
        (S + "x: {true: a, True: b}\n", r"duplicate key 'True' \(first at line 3 as 'true'"),
        (S + "x: {&k a: 1, *k : 2}\n", r"duplicate key 'a' \(first at line 3\)"),  # an alias is its node
        (S + "x: " + "[" * 20_000 + "]" * 20_000 + "\n", r"nested deeper than 64 levels"),
        (S + "x: &x [*x]\n", r"a recursive alias"),
        (billion_laughs(), r"expands to more than 100000 values"),
        # an integer Python will not turn into text: its key named, never Python's advice (sys.set_int_max_str_digits)
        (S + "measure: {min_rounds: " + "9" * 5000 + "}\n", r"measure.min_rounds: an integer of 5000 digits: no set"),
        (S + "batch_sizes: [-" + "9" * 5000 + "]\n", r"batch_sizes\[0\]: an integer of 5000 digits"),
        (S.replace("noop", "{noop: {width: " + "9" * 5000 + "}}"), r"models\[0\].noop.width: an integer of 5000"),
        (S + "gates: {latency_p50_ms: " + "9" * 5000 + "}\n", r"gates.latency_p50_ms: an integer of 5000 digits"),
        (S + "# " + "x" * (1024 * 1024) + "\n", r"larger than 1024 KiB"),
        (S.encode() + b"description: caf\xe9\n", r"not UTF-8 text \(byte 0xe9 at offset 40\)"),
        ('suite: s\nmodels: ["no\\nop"]\n', r"unknown model 'no\\nop'"),  # a line break in a value, escaped
        (S + "extends: ''\n", r"extends: an empty file name; name a suite YAML file \(relative to this file\)$"),
        (S + "extends: [' ', _d.yaml]\n", r"extends: an empty file name"),  # was: "'' is a folder, not a regular file"
        # YAML 1.1's sexagesimal and octal numbers (90 and 8) stay as written, so a number key refuses them
        (S + "measure: {min_rounds: 1:30}\n", r"measure.min_rounds: .*'1:30'"),
        (S + "batch_sizes: [010]\n", r"batch_sizes.*'010'"),
    ],
)
def test_hostile_yaml_is_one_line(tmp_path, body, message):
    import re

    tracemalloc.start()
    try:
        found = refused(tmp_path, body)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert re.search(message, found), found
    assert peak < 200 * 1024 * 1024  # bounded: the aliases are never expanded


def test_merge_keys_are_not_duplicates(tmp_path):
    suite = load_suite(
        write_suite(
            tmp_path,
            "s.yaml",
            "suite: s\nmodels:\n  - {dlrm-tiny: &p {rows: 10, tables: 2}}\n"
            "  - {name: dlrm-tiny, label: other, params: {<<: *p, rows: 20}}\n",
        )
    )
    assert [c.model.kwargs["rows"] for c in suite.cases] == [10, 20]


def test_a_long_extends_chain_is_refused(tmp_path):
    for i in range(40):
        write_suite(tmp_path, f"_p{i}.yaml", f"extends: _p{i + 1}.yaml\n")
    write_suite(tmp_path, "_p40.yaml", "models: [noop]\n")
    assert "more than 32 files" in refused(tmp_path, "suite: s\nextends: _p0.yaml\n")


@pytest.mark.parametrize("key", ["warmup_s", "min_time_s", "memory_s", "energy_min_s", "cpu_tdp_w", "min_rounds"])
@pytest.mark.parametrize("value", [".inf", "-.inf", ".nan", "1e300", "1000000000000"])
def test_measure_numbers_are_finite_and_bounded(tmp_path, key, value):
    message = refused(tmp_path, S + f"measure: {{{key}: {value}}}\n")
    assert f"measure.{key}: must" in message


def test_measure_caps_are_documented_values(tmp_path):
    assert "measure.max_rounds: must be <= 1000000" in refused(tmp_path, S + "measure: {max_rounds: 10000000}\n")
    assert "measure.repeats: must be <= 1000" in refused(tmp_path, S + "measure: {repeats: 100000}\n")
    # were valid: a latency pass of up to 10**300 s, and up to 10**9 samples (tens of GB) kept for one case
    assert "measure.max_time_s: must be <= 18000, got 1e+300" in refused(
        tmp_path, S + "measure: {max_time_s: 1.0e+300}\n"
    )
    assert refused(tmp_path, S + "measure: {repeats: 1000, min_rounds: 1000000, max_rounds: 1000000}\n").endswith(
        "measure.repeats: 1000 windows x measure.max_rounds 1000000 = 1000000000 samples per case; at most 10000000 "
        "(lower one of them)"
    )
    ok = load_suite(write_suite(tmp_path, "ok.yaml", S + "measure: {min_rounds: 1000000, max_rounds: 1000000}\n"))
    assert ok.cases[0].measure.max_rounds == 1_000_000


def test_the_rewarms_of_latency_windows_fit_in_max_time_s(tmp_path):
    # was valid: every window but the first re-warms for warmup_s whatever max_time_s says (8 windows x 3 s ran 24 s
    # of a max_time_s 0.5 s latency pass; repeats 100 x warmup_s 3600 would have run 99 hours)
    assert refused(tmp_path, S + "measure: {repeats: 8, warmup_s: 3, min_time_s: 0.1, max_time_s: 0.5}\n").endswith(
        "measure.repeats: 8 windows re-warm for measure.warmup_s 3 s before each but the first: 21 s, more than "
        "measure.max_time_s 0.5 s, which bounds the latency pass (its timed calls and re-warms); raise "
        "measure.max_time_s or lower measure.repeats or measure.warmup_s"
    )
    gpu = "hardware: {cpu: {threads: [1]}, cuda: {devices: [0]}}\n"
    assert "measure.repeats: auto (3 windows on a GPU) re-warm for measure.warmup_s 10 s" in refused(
        tmp_path, S + gpu + "measure: {warmup_s: 10, min_time_s: 1}\n"
    )
    ok = load_suite(write_suite(tmp_path, "ok.yaml", S + "measure: {warmup_s: 10, min_time_s: 1}\n"))  # CPU: 1
    assert ok.cases[0].measure.warmup_s == 10
    assert load_suite(write_suite(tmp_path, "ok2.yaml", S + "measure: {repeats: 26, warmup_s: 0.2}\n")).cases


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("{dlrm-ctr: {preset: huge}}", r"models\[0\]\.dlrm-ctr: unknown preset 'huge'; allowed: tiny, large"),
        ("{dlrm-ctr: {rows: -5.5}}", r"rows must be an integer from 1 to 10000000, got -5.5"),
        ("{dlrm-ctr: {rows: 100000000000}}", r"rows must be an integer from 1 to 10000000"),
        ("{dlrm-ctr: {rows: 5000000, tables: 64, embedding_dim: 64}}", r"GiB; at most 8 GiB"),
        (  # were valid: tables of 2.4 GiB, but about 18 GiB of click-log generator, or 5 TiB of training ids
            "{dlrm-ctr: {rows: 10000000, tables: 64, embedding_dim: 1}}",
            r"dlrm-ctr: the click-log generator: tables x rows x 28 bytes = 16\.7 GiB; at most 8 GiB$",
        ),
        (
            "{dlrm-ctr: {train_samples: 10000000, tables: 64, bag_size: 1024}}",
            r"dlrm-ctr: the training click logs: train_samples x \(8 x tables x bag_size \+ 24 x tables \+ 28 x "
            r"bag_size \+ 128\) bytes = 5165\.3 GiB; at most 8 GiB$",
        ),
        (  # was valid (4.8 GiB of ids), then drawing them peaked at 21.7 GB (16.6 GB with the ids held once)
            "{dlrm-ctr: {train_samples: 10000000, tables: 64, bag_size: 1}}",
            r"dlrm-ctr: the training click logs: train_samples x \(8 x tables x bag_size \+ 24 x tables \+ 28 x "
            r"bag_size \+ 128\) bytes = 20\.5 GiB; at most 8 GiB$",
        ),
        ("{dlrm-tiny: {bag_size: 0}}", r"bag_size must be an integer from 1"),
        ("{minilm-search: {seq_len: 4096}}", r"seq_len must be an integer from 2 to 512"),
        # was valid, then failed building: the tokenizer cannot truncate [CLS] and [SEP] to 1 position
        (
            "{minilm-search: {seq_len: 1}}",
            r"models\[0\]\.minilm-search: seq_len must be an integer from 2 to 512, got 1$",
        ),
        ("{minilm-search: {catalogue: 5}}", r"catalogue must be an integer from 10"),
        (  # were valid: tokenizing a million titles peaks at about 7.9 GB at seq_len 32, 75 GB at seq_len 512
            "{minilm-search: {catalogue: 1000000}}",
            r"minilm-search: the catalogue and queries: \(catalogue \+ queries\) x \(5120 \+ 144 x seq_len\) bytes "
            r"while tokenized = 9\.1 GiB; at most 8 GiB$",
        ),
        (
            "{minilm-search: {catalogue: 1000000, seq_len: 512}}",
            r"minilm-search: the catalogue and queries: .* = 73\.4 GiB; at most 8 GiB$",
        ),
        (  # its texts fit; the two queries x catalogue score matrices not
            "{minilm-search: {catalogue: 1000000, queries: 2000, seq_len: 8}}",
            r"minilm-search: the recall@10 scores: queries x catalogue x 8 bytes \(the fp32 reference's and the "
            r"case's\) = 14\.9 GiB; at most 8 GiB$",
        ),
        ("{cnn-products: {image_size: 2}}", r"image_size must be an integer from 4 to 512"),
        ("{cnn-products: {seed: 100000000000000000000}}", r"seed must be an integer from 0 to 4294967295"),
        ("{name: minilm-search, sweep: {seq_len: [64, 1024]}}", r"models\[0\]\.params: seq_len must be an integer"),
    ],
)
def test_model_params_are_checked_at_validation(tmp_path, model, message):
    import re

    assert re.search(message, refused(tmp_path, f"suite: s\nmodels: [{model}]\n"))


def test_non_finite_method_params_and_huge_counts_are_refused(tmp_path):
    assert "prune-l1.amount: must be a finite number, got nan" in refused(
        tmp_path, S + "compression: [{prune-l1: {amount: .nan}}]\n"
    )
    assert "batch_sizes[0]: must be an integer <= 1048576" in refused(tmp_path, S + "batch_sizes: [100000000000]\n")
    assert "hardware.cpu.threads[0]: must be an integer <= 1048576" in refused(
        tmp_path, S + "hardware: {cpu: {threads: [99999999]}}\n"
    )


def test_validate_locates_a_factory_without_running_it(tmp_path, monkeypatch, capsys):
    package = tmp_path / "userpkg"
    package.mkdir()
    for name in ("__init__.py", "models.py"):  # import-time side effects in the package and in the module
        (package / name).write_text(f"open({str(tmp_path / name)!r} + '.ran', 'w').close()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    suite = write_suite(tmp_path, "s.yaml", "suite: s\nmodels: [{factory: 'userpkg.models:build', name: m}]\n")
    assert main(["validate", str(suite)]) == 0
    assert not list(tmp_path.glob("*.ran")), "validation executed the factory's module"
    missing = write_suite(tmp_path, "m.yaml", "suite: m\nmodels: [{factory: 'userpkg.nothing:build', name: m}]\n")
    assert main(["validate", str(missing)]) == 1
    assert "factory: no module 'userpkg.nothing' on the import path" in capsys.readouterr().err


def test_a_factory_module_beside_the_suite_but_not_on_the_import_path_is_named_with_the_folder_to_add(
    tmp_path, monkeypatch, capsys
):
    """Was: only "no module 'my_reco' on the import path (sys.path)", for the example's own layout run from another
    folder than the one PYTHONPATH=. named."""
    folder = tmp_path / "my project"
    folder.mkdir()
    (folder / "my_reco.py").write_text("def build():\n    pass\n")
    suite = write_suite(folder, "s.yaml", "suite: s\nmodels: [{factory: 'my_reco:build', name: m}]\n")
    assert main(["validate", str(suite)]) == 1
    refused = capsys.readouterr().err.strip()
    assert refused.endswith(
        "models[0].factory: no module 'my_reco' on the import path (sys.path); my_reco.py is in the suite's "
        f"folder, which is not on it: add that folder (PYTHONPATH='{folder}', an absolute path works from any folder)"
    )
    monkeypatch.syspath_prepend(str(folder))
    assert main(["validate", str(suite)]) == 0


@pytest.mark.parametrize(
    ("model", "key"),
    [
        ("{factory: 'tests.helpers:f', name: m, params: {1: 8}}", "models[0].params"),  # was valid, failed its case
        ("{factory: 'tests.helpers:f', name: m, params: {1: 8, a: 2}}", "models[0].params"),  # was a TypeError
        ("{factory: 'tests.helpers:f', name: m, sweep: {1: [2], a: [3]}}", "models[0].sweep"),  # was a TypeError
    ],
)
def test_a_factory_parameter_name_that_is_not_text_is_one_line(tmp_path, model, key):
    message = refused(tmp_path, f"suite: s\nmodels: [{model}]\n")
    assert message.endswith(
        f"{key}: parameter names must be text (the factory is called with them as keyword arguments), got integer 1"
    )


def test_a_factory_parameter_mapping_with_keys_of_several_types_is_valid(tmp_path):
    # was: TypeError: '<' not supported between instances of 'str' and 'int' (sorting the mapping's keys)
    model = "{factory: 'tests.helpers:f', name: m, params: {table: {1: a, b: c, 2.5: d}, more: [{x: 1, 2: y}]}}"
    suite = load_suite(write_suite(tmp_path, "s.yaml", f"suite: s\nmodels: [{model}]\n"))
    assert suite.cases[0].model.kwargs == {"table": {1: "a", "b": "c", 2.5: "d"}, "more": [{"x": 1, 2: "y"}]}


def test_a_factory_is_called_with_the_mappings_lists_and_sets_its_suite_gives(tmp_path):
    # was: {cfg: {a: 1}} reached the factory as [('a', 1)], a list inside a list as a tuple, a set as a frozenset
    def model(cfg: str) -> MethodSpec:
        params = f"{{cfg: {cfg}, grid: [[1, 2], [3]], tags: !!set {{x}}}}"
        body = f"suite: s\nmodels: [{{factory: 'tests.fakes.models:build_recording', name: m, params: {params}}}]\n"
        return load_suite(write_suite(tmp_path, "s.yaml", body)).cases[0].model

    spec = model("{b: 1, a: [1, {c: 2}]}")
    build_model(spec, "cpu")
    called = fake_models.CALLED_WITH
    assert called == {"cfg": {"b": 1, "a": [1, {"c": 2}]}, "grid": [[1, 2], [3]], "tags": {"x"}}
    assert list(called["cfg"]) == ["b", "a"]  # its keys in the order the suite wrote them
    assert pickle.loads(pickle.dumps(spec)).kwargs == spec.kwargs
    reordered = model("{a: [1, {c: 2}], b: 1}")  # the same mapping: the same spec, as before
    assert reordered == spec and hash(reordered) == hash(spec) and reordered.params == spec.params
    assert model("{a: [1, {c: 2}]}") != spec
    named = "{factory: 'tests.fakes.models:build_recording', name: m, params: {where: 1, function: 2}}"
    build_model(load_suite(write_suite(tmp_path, "s.yaml", f"suite: s\nmodels: [{named}]\n")).cases[0].model, "cpu")
    assert fake_models.CALLED_WITH == {"where": 1, "function": 2}


@pytest.mark.parametrize("value", ["!!set {a, b}", "[!!set {a}]", "{k: !!set {a}}"])
def test_a_factory_parameter_holding_a_yaml_set_is_valid(tmp_path, value):
    # was: TypeError: unhashable type: 'set' (hashing the model's spec)
    model = f"{{factory: 'tests.helpers:f', name: m, params: {{x: {value}}}}}"
    assert len(load_suite(write_suite(tmp_path, "s.yaml", f"suite: s\nmodels: [{model}]\n")).cases) == 1


def test_a_failed_build_does_not_leave_the_cache_keyed_on_it():
    cache = _LastOnly()
    assert cache.get("a", lambda: "A") == "A"
    with pytest.raises(RuntimeError):
        cache.get("b", lambda: (_ for _ in ()).throw(RuntimeError("build failed")))
    assert cache.get("a", lambda: "A again") == "A again"  # rebuilt, not the None left by the failed build


def steady_timer(call, rounds, before_round=None):
    """A ``time_calls`` that makes no call and times every round at 10 µs: these tests check what a case records."""
    return [0.01] * rounds


def factory_case(factory: str, batch_size: int = 1, **measure) -> Case:
    """A fp32 eager case on one CPU thread of the fake user factory ``tests.fakes.models:<factory>``, measured for
    a moment (``measure`` adds to or overrides the tiny :class:`MeasureSpec`)."""
    spec = MeasureSpec(warmup_s=0.0, min_time_s=0.01, min_rounds=5, memory_s=0.01, energy=False, **measure)
    model = MethodSpec("m", label="m", factory=f"tests.fakes.models:{factory}")
    return Case("s", model, MethodSpec("fp32"), MethodSpec("eager"), Placement("cpu", 1), batch_size, spec)


def test_a_failing_case_between_two_of_another_model_and_a_cpp_stack_in_one_line(tmp_path):
    spec = MeasureSpec(warmup_s=0.0, min_time_s=0.01, min_rounds=5, memory_s=0.01, energy=False, accuracy=False)

    def case(model: MethodSpec) -> Case:
        return Case("s", model, MethodSpec("fp32"), MethodSpec("eager"), Placement("cpu", 1), 2, spec)

    noop = MethodSpec("noop")
    broken = MethodSpec("broken", label="broken", factory="tests.fakes.models:build_cpp_error")
    writer = RunWriter(tmp_path, "r", {})
    session = Session(writer, {"torch_version": torch.__version__})
    session.run_case(case(noop), steady_timer)
    with pytest.raises(RuntimeError):
        session.run_case(case(broken), steady_timer)
    assert session.run_case(case(noop), steady_timer).status == "ok"
    writer.close("finished")
    failed = [line for line in (tmp_path / "r" / "records.jsonl").read_text().splitlines() if '"failed"' in line]
    import json

    error = json.loads(failed[0])["error"]
    assert error.startswith(
        "factory 'tests.fakes.models:build_cpp_error' raised RuntimeError: DefaultCPUAllocator: can't allocate memory"
    )
    assert "\n" not in error
    assert len(error) <= 300


@pytest.mark.parametrize(
    ("factory", "error"),
    [
        (  # was ok at batch size 1: the tensor was unpacked along its batch dimension and its first row timed alone
            "build_tensor_inputs",
            r"BenchError: factory 'tests\.fakes\.models:build_tensor_inputs': make_inputs\((1|32)\) returned a Tensor, "
            r"not a tuple of the model's inputs \(for one input tensor x, return \(x,\)\)$",
        ),
        (  # was: AttributeError: 'NoneType' object has no attribute 'module'
            "build_nothing",
            r"BenchError: factory 'tests\.fakes\.models:build_nothing' returned None, not a "
            r"bench\.models\.ModelBundle$",
        ),
        ("build_list_inputs", None),
        (  # was ok, with dropout drawing new masks on every timed call and every evaluated batch
            "build_training_module",
            r"BenchError: factory 'tests\.fakes\.models:build_training_module': the ModelBundle's module is in "
            r"training mode: dropout and batch norm would change what is measured; return module\.eval\(\)$",
        ),
        (  # was ok, a model of 0 bytes and 0 parameters (the smallest of any suite)
            "build_function_module",
            r"BenchError: factory 'tests\.fakes\.models:build_function_module': the ModelBundle's module is a "
            r"function, not a torch\.nn\.Module \(its size, weights and compression are read from one\)$",
        ),
    ],
)
def test_a_factory_breaking_the_model_bundle_contract_fails_its_case_saying_so(tmp_path, factory, error):
    import json
    import re

    spec = MeasureSpec(warmup_s=0.0, min_time_s=0.01, min_rounds=5, memory_s=0.01, energy=False, accuracy=False)
    model = MethodSpec("m", label="m", factory=f"tests.fakes.models:{factory}")
    compressions = [MethodSpec("fp32"), MethodSpec("prune-l1")]  # prune-l1 compares outputs on make_inputs(32)
    writer = RunWriter(tmp_path, "r", {})
    session = Session(writer, {"torch_version": torch.__version__})
    for compression in compressions:
        case = Case("s", model, compression, MethodSpec("eager"), Placement("cpu", 1), 1, spec)
        if error is None:
            assert session.run_case(case, steady_timer).status == "ok"
        else:
            with pytest.raises(BenchError):
                session.run_case(case, steady_timer)
    writer.close("finished")
    records = [json.loads(line) for line in (tmp_path / "r" / "records.jsonl").read_text().splitlines()]
    assert len(records) == len(compressions)
    for record in records:
        assert record["error"] is None if error is None else re.match(error, record["error"]), record["error"]


@pytest.mark.parametrize(("factory", "error"), [("build_sliced_inputs", True), ("build_flat_bags", False)])
def test_inputs_of_fewer_rows_than_the_batch_size_fail_the_case_saying_so(tmp_path, factory, error):
    """Was: make_inputs(16) slicing a held-out set of 10 rows was timed on 10 items and recorded as 16 a call, ok (a
    throughput, and a cost per 1M, 1.6 times too good). One input of a row per item is enough (flat ids, offsets)."""
    import json

    case = factory_case(factory, 16, accuracy=False)
    writer = RunWriter(tmp_path, "r", {})
    session = Session(writer, {"torch_version": torch.__version__})
    if error:
        with pytest.raises(BenchError):
            session.run_case(case, steady_timer)
    else:
        session.run_case(case, steady_timer)
    writer.close("finished")
    record = json.loads((tmp_path / "r" / "records.jsonl").read_text())
    if error:
        assert record["status"] == "failed" and record["error"] == (
            "BenchError: factory 'tests.fakes.models:build_sliced_inputs': make_inputs(16) returned inputs of 10 rows, "
            "not 16: dimension 0 of an input is its batch, and each call counts as 16 items (repeat the data to fill "
            "a larger batch)"
        )
    else:
        assert record["status"] == "ok" and record["throughput_items_per_s"] > 0


def test_an_evaluate_returning_a_number_is_a_pass_error_naming_the_factory(tmp_path):
    """Was: the accuracy pass failed with "AttributeError: 'float' object has no attribute 'value'"."""
    from bench.runner import PassFailedWarning

    case = factory_case("build_float_evaluate")
    writer = RunWriter(tmp_path, "r", {})
    with pytest.warns(PassFailedWarning):
        record = Session(writer, {"torch_version": torch.__version__}).run_case(case, steady_timer)
    writer.close("finished")
    assert record.status == "ok" and record.accuracy is None
    assert record.pass_errors == (
        "accuracy: BenchError: factory 'tests.fakes.models:build_float_evaluate': evaluate returned a float, not a "
        "bench.models.Accuracy"
    )


@pytest.mark.parametrize(
    ("factory", "compression", "column", "where"),
    [
        ("build_cpp_error", "fp32", "error", "factory 'tests.fakes.models:build_cpp_error' raised RuntimeError: "),
        (
            "build_raising_inputs",
            "fp32",
            "error",
            "factory 'tests.fakes.models:build_raising_inputs': make_inputs(1) raised KeyError: 'tokenizer'",
        ),
        (
            "build_raising_calibration",
            "prune-l1",
            "error",
            "factory 'tests.fakes.models:build_raising_calibration': calibration() raised FileNotFoundError: train.csv",
        ),
        (
            "build_failing_evaluate",
            "fp32",
            "pass_errors",
            "accuracy: factory 'tests.fakes.models:"
            "build_failing_evaluate': evaluate raised RuntimeError: Expected all tensors",
        ),
        (
            "build_evaluate_of_wrong_inputs",
            "fp32",
            "pass_errors",
            "accuracy: factory 'tests.fakes.models:"
            "build_evaluate_of_wrong_inputs': evaluate's call of the model raised RuntimeError: mat1 and mat2",
        ),
    ],
)
def test_an_error_raised_in_a_factory_s_code_names_the_factory_and_its_function(
    tmp_path, factory, compression, column, where
):
    """Was: only the exception (``ValueError: ...``, in the record and in the accuracy pass's warning), as if the
    harness had raised it; now it starts with the factory and the function of the user's it came out of, and an
    evaluation that raised keeps the case's timing and memory figures."""
    from bench.runner import PassFailedWarning

    case = factory_case(factory, accuracy=column == "pass_errors")
    if compression != "fp32":  # prune-l1 fine-tunes on the model's calibration batches
        case = dataclasses.replace(case, compression=MethodSpec(compression, (("finetune_steps", 1),)))
    writer = RunWriter(tmp_path, "r", {})
    session = Session(writer, {"torch_version": torch.__version__})
    if column == "error":
        with pytest.raises(Exception) as raised:  # the user's own exception, traceback and all, goes on to pytest
            session.run_case(case, steady_timer)
        assert not isinstance(raised.value, BenchError)
    else:
        with pytest.warns(PassFailedWarning, match=re.escape(where.removeprefix("accuracy: "))):
            record = session.run_case(case, steady_timer)
        assert record.status == "ok" and record.latency_p50_ms > 0 and record.peak_rss_mb > 0
        assert record.accuracy is None and record.error is None
    writer.close("finished")
    stored = json.loads((tmp_path / "r" / "records.jsonl").read_text())
    assert stored[column].startswith(where) and "\n" not in stored[column], stored[column]
    assert stored["status"] == ("failed" if column == "error" else "ok")


def test_an_accuracy_given_as_a_tensor_is_recorded_as_a_number(tmp_path):
    """Was: the record held the text 'tensor(0.7500)' as its accuracy, and 'tensor(0.)' as its drop."""
    import json

    case = factory_case("build_tensor_accuracy")
    writer = RunWriter(tmp_path, "r", {})
    Session(writer, {"torch_version": torch.__version__}).run_case(case, steady_timer)
    writer.close("finished")
    record = json.loads((tmp_path / "r" / "records.jsonl").read_text())
    assert (record["accuracy"], record["accuracy_drop"], record["accuracy_metric"]) == (0.75, 0.0, "top1")


@pytest.mark.parametrize(
    ("value", "metric", "refused"),
    [
        (
            "0.9",
            "top1",
            "accuracy top1 must be a number in [0, 1] (a float, or a tensor or array of one element), got '0.9'",
        ),
        (True, "top1", "got True"),
        (torch.tensor([0.5, 0.6]), "top1", "got tensor([0.5000, 0.6000])"),
        (torch.tensor(True), "top1", "got tensor(True)"),
        (float("nan"), "top1", "accuracy top1=nan is outside [0, 1]"),
        (torch.tensor(1.5), "top1", "accuracy top1=1.5 is outside [0, 1]"),
        (0.5, None, "an accuracy's metric must be its name as text (e.g. 'top1'), got None"),
        (0.5, "", "an accuracy's metric must be its name as text (e.g. 'top1'), got ''"),
    ],
)
def test_an_accuracy_that_is_no_number_in_0_1_or_has_no_metric_name_is_refused_in_one_line(value, metric, refused):
    """Was: text failed in the pass on "'<=' not supported between instances of 'float' and 'str'", and True,
    a metric of None were recorded as they were."""
    from bench.models import Accuracy

    with pytest.raises(ValueError) as info:
        Accuracy(value, metric)
    assert refused in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("value", [0.25, 1, np.float32(0.25), np.array([0.25]), torch.tensor(0.25), torch.tensor([1])])
def test_an_accuracy_of_one_real_number_is_kept_as_a_float(value):
    from bench.models import Accuracy

    kept = Accuracy(value, "top1").value
    assert type(kept) is float and kept == float(value.item() if hasattr(value, "item") else value)


@pytest.mark.parametrize("run_id", ["r1\n", "baseline", "latest", "x" * 200, "-x"])
def test_bad_run_ids(run_id, capsys):
    assert run_id_problem(run_id)
    with pytest.raises(SystemExit) as info:
        main(["run", "suites/quick.yaml", "--run-id", run_id])
    assert info.value.code == 2 and "--run-id" in capsys.readouterr().err
    assert run_id_problem("nightly-42.1_a") is None


def test_two_runs_taking_one_run_id_is_a_usage_error(pytester):
    """The id is free when pytest starts, taken by the time the run folder is created (a concurrent run)."""
    pytester.makefile(".yaml", **{"suites/n": S + TINY_MEASURE})
    pytester.makeconftest(
        "import os\ndef pytest_collection_modifyitems(config, items):\n    os.makedirs('out/r1', exist_ok=True)\n"
    )
    result = pytester.runpytest("--benchmark-only", "suites/", "--bench-results", "out", "--bench-run-id", "r1")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--bench-run-id 'r1': already taken; runs are never overwritten*"])
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()


def test_bench_overhead_on_a_suite_with_only_skipped_cases(tmp_path, capsys):
    if torch.cuda.is_available():
        pytest.skip("needs a machine without CUDA, where the cuda case is skipped")
    suite = write_suite(tmp_path, "suites/gpu.yaml", S + "hardware: {cuda: {devices: [0]}}\n" + TINY_MEASURE)
    assert main(["overhead", "--suite", str(suite), "--results", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "bench overhead: error:" in err and "Traceback" not in err
    assert "no case of the no-op model (noop, fp32, eager, cpu) was measured" in err


def test_the_cli_turns_a_bad_path_into_one_line(tmp_path):
    """Through a real process: no traceback for an unreadable --prices (a folder) or a non-UTF-8 one."""
    binary = tmp_path / "prices.yaml"
    binary.write_bytes(b"cpu_core_hour: \xff\n")
    from bench.judge.cost import load_prices

    with pytest.raises(SuiteError, match=r"prices.yaml: not UTF-8 text"):
        load_prices(None, binary)
    with pytest.raises(SuiteError, match=r"cannot read price file"):
        load_prices(None, tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "bench.cli", "results", "--results", str(binary)], capture_output=True, text=True
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "is a file, not a folder" in done.stderr


@pytest.mark.skipif(not hasattr(__import__("os"), "mkfifo"), reason="needs FIFOs (POSIX)")
def test_a_path_that_is_not_a_regular_file_is_named_so_and_never_read(tmp_path, capsys):
    """A FIFO or a device exists: it is 'not a regular file', not 'not found', and a FIFO is never waited on."""
    import os

    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    for parent, kind in ((fifo.name, "a FIFO (named pipe)"), ("/dev/null", "a character device")):
        message = refused(tmp_path, S + f"extends: {parent}\n")
        assert f"extends: '{parent}' is {kind}, not a regular file" in message
    assert main(["validate", str(fifo)]) == 1
    assert f"{fifo}: is a FIFO (named pipe), not a regular file" in capsys.readouterr().err
    done = subprocess.run(  # loading it directly (the pytest plugin's path) refuses it at once instead of blocking
        [sys.executable, "-c", f"from bench.suite import load_suite; load_suite({str(fifo)!r})"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "cannot read suite file: it is a FIFO (named pipe), not a regular file" in done.stderr


def test_an_extends_name_too_long_to_look_up_names_the_suite_and_the_key(tmp_path, capsys):
    """Was: 'bench validate: error: [Errno 36] File name too long: ...' with all 5000 characters, and no file or key."""
    message = refused(tmp_path, S + "extends: " + "a" * 5000 + ".yaml\n")
    assert message.startswith(f"{tmp_path / 's.yaml'}: extends: 'aaaa") and "…" in message
    assert message.endswith("aaaa.yaml' cannot be read: file name too long")
    assert main(["validate", str(tmp_path / "s.yaml")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "extends: 'aaa" in err and len(err) < 300


def test_an_extends_name_with_a_nul_or_control_character_is_one_line(tmp_path, capsys):
    """Was: 'ValueError: embedded null byte' and a traceback from bench validate; a control character printed raw."""
    message = refused(tmp_path, S + 'extends: "_d\\0.yaml"\n')
    assert message.endswith("extends: '_d\\x00.yaml' contains a NUL character, which no file name can")
    assert main(["validate", str(tmp_path / "s.yaml")]) == 1
    assert capsys.readouterr().err.count("\n") == 1
    message = refused(tmp_path, S + 'extends: "\\e[2J.yaml"\n')
    assert "extends: '\\x1b[2J.yaml' not found (looked for " in message and "\x1b" not in message


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(  # was valid, then each call busy-waited 10**13 times its own length: the run hung
            S + "engines: [{slowdown: {percent: 1.0e+15}}]\n",
            "engines[0].slowdown: slowdown: percent must be from 0 to 1000, got 1e+15",
            id="slowdown-percent",
        ),
        pytest.param(  # was valid, then bench run --report and bench report ended in an OverflowError traceback
            S + "capacity: {target_qps: 1.0e+308, headroom: 10}\n",
            "capacity.target_qps: must be <= 1000000000000, got 1e+308",
            id="capacity-target_qps",
        ),
        pytest.param(
            S + "capacity: {headroom: 1.0e+308}\n", "capacity.headroom: must be <= 100, got 1e+308", id="headroom"
        ),
    ],
)
def test_values_that_validated_then_hung_or_crashed_are_refused(tmp_path, body, message):
    assert refused(tmp_path, body).endswith(f"s.yaml: {message}")


MINILM_512 = "suite: s\nmodels: [{name: minilm-search, params: {seq_len: 512}, label: m}]\n"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(  # was valid, then failed allocating 78 GB (or, with less per tensor, a swap storm or an OOM kill)
            MINILM_512 + "batch_sizes: [8, 100000]\n",
            "batch_sizes[1]: m: batch_size 100000 x 27.0 MiB of inputs and activations per item = 2637.5 GiB; "
            "at most 8 GiB",
            id="minilm-seq_len512",
        ),
        pytest.param(
            MINILM_512 + "batch_sizes: 1000\n",
            "batch_sizes: m: batch_size 1000 x 27.0 MiB of inputs and activations per item = 26.4 GiB; at most 8 GiB",
            id="a-single-batch-size",
        ),
        pytest.param(
            "suite: s\nmodels: [cnn-products]\n"
            "include: [{model: {cnn-products: {image_size: 512, epochs: 0}}, compression: fp32, device: cpu, "
            "batch_size: 8192}]\n",
            "include[0].batch_size: cnn-products-0-512: batch_size 8192 x 49.0 MiB of inputs and activations per "
            "item = 392.0 GiB; at most 8 GiB",
            id="include",
        ),
        pytest.param(  # was valid, then needed about 190 GiB of inputs in the load pass's prepared calls
            "suite: s\nmodels: [dlrm-tiny]\nbatch_sizes: [1024]\nload: {batching: {max_batch: 65536}}\n",
            "load.batching.max_batch: dlrm-tiny: max_batch 65536 x batch_size 1024 = 67108864 items a call x 2.7 KiB "
            "of activations per item, with inputs prepared for 134217728 items x 180 B = 193.2 GiB; at most 8 GiB",
            id="load-max_batch",
        ),
        pytest.param(  # noop's one float per item: only the load pass's product can be too large
            "suite: s\nmodels: [noop]\nbatch_sizes: [1048576]\nload: {batching: {max_batch: 65536}}\n",
            "load.batching.max_batch: noop: max_batch 65536 x batch_size 1048576 = 68719476736 items a call x 0 B of "
            "activations per item, with inputs prepared for 137438953472 items x 4 B = 512.0 GiB; at most 8 GiB",
            id="load-noop",
        ),
        pytest.param(  # width x image_size: the model's own evaluation batches of 120 images cannot fit
            "suite: s\nmodels: [{cnn-products: {image_size: 512, width: 1024, epochs: 0}}]\n",
            "models[0].cnn-products: the evaluation batches: 120 images x 6.0 GiB of inputs and activations per item "
            "= 720.1 GiB; at most 8 GiB",
            id="cnn-evaluation",
        ),
        pytest.param(  # its evaluation batches fit, its training batches not
            "suite: s\nmodels: [{cnn-products: {image_size: 128, width: 176}}]\n",
            "models[0].cnn-products: the training batches: 64 images x 132.1 MiB of inputs and activations per item "
            "= 8.3 GiB; at most 8 GiB",
            id="cnn-training",
        ),
        pytest.param(  # 1.5 MiB an item before the generator mapped its ids in place
            "suite: s\nmodels: [{dlrm-ctr: {tables: 64, bag_size: 1024, train_samples: 1000}}]\n",
            "models[0].dlrm-ctr: the held-out click logs: 8192 items drawn at once x 1.1 MiB of inputs and "
            "activations per item = 8.6 GiB; at most 8 GiB",
            id="dlrm-ctr-test-set",
        ),
    ],
)
def test_batches_beyond_memory_are_refused_at_validation(tmp_path, body, message):
    assert refused(tmp_path, body).endswith(f"s.yaml: {message}")


def test_minilm_evaluation_sets_within_memory_still_validate(tmp_path):
    body = (
        "suite: s\nmodels: [{minilm-search: {catalogue: 500000}},"
        " {minilm-search: {catalogue: 1000000, queries: 1000, seq_len: 8}}]\n"
    )
    assert len(load_suite(write_suite(tmp_path, "s.yaml", body)).cases) == 2


def test_batches_within_memory_still_validate(tmp_path):
    """The bound is the estimate's: what fits is not refused (dlrm-ctr at the largest batch size ran in 2.7 GB)."""
    body = (
        "suite: s\nmodels: [dlrm-ctr, {name: minilm-search, params: {seq_len: 512}, label: m}]\n"
        "batch_sizes: [1048576, 256]\nexclude: [{model: m, batch_size: 1048576}]\n"  # excluded: never built
        "include: [{model: {factory: 'tests.helpers:f', name: f}, compression: fp32, device: cpu,"
        " batch_size: 1048576}]\n"  # a user factory has no estimate: not checked
    )
    suite = load_suite(write_suite(tmp_path, "s.yaml", body))
    assert sorted(c.batch_size for c in suite.cases) == [256, 256, 1048576, 1048576]
    assert refused(tmp_path, body.replace("exclude: [{model: m, batch_size: 1048576}]\n", "")).endswith(
        "batch_sizes[0]: m: batch_size 1048576 x 27.0 MiB of inputs and activations per item = 27656.0 GiB; "
        "at most 8 GiB"
    )

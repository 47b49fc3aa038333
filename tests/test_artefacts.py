"""Set-up artefacts cached across processes (bench/artefacts.py): hits only for the same content, damaged entries
rebuilt, the switch honoured, and a cached compressed variant measuring the same as a freshly built one."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import pytest
import torch

from bench import artefacts
from tests.test_runner import case, time_calls


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("BENCH_ARTEFACT_CACHE", "1")
    return tmp_path / "cache" / "artefacts"


def counted(value):
    calls = []

    def make():
        calls.append(1)
        return copy.deepcopy(value)

    return make, calls


def test_second_request_for_the_same_key_is_a_hit(cache):
    make, calls = counted({"weights": torch.arange(4.0)})
    first, info1 = artefacts.load_or_make("kind", {"a": 1}, make)
    second, info2 = artefacts.load_or_make("kind", {"a": 1}, make)
    assert (info1["artefact_cache"], info2["artefact_cache"]) == ("miss", "hit") and len(calls) == 1
    assert torch.equal(first["weights"], second["weights"])
    _, info3 = artefacts.load_or_make("kind", {"a": 2}, make)  # another key is another entry
    assert info3["artefact_cache"] == "miss" and len(calls) == 2


def test_a_damaged_entry_is_rebuilt_not_trusted(cache):
    make, calls = counted([1, 2, 3])
    _, info = artefacts.load_or_make("kind", {"a": 1}, make)
    with open(info["artefact_file"], "wb") as damaged:
        damaged.write(b"not a pickle")
    value, again = artefacts.load_or_make("kind", {"a": 1}, make)
    assert value == [1, 2, 3] and again["artefact_cache"] == "miss" and len(calls) == 2


def test_switched_off_it_always_makes(cache, monkeypatch):
    monkeypatch.setenv("BENCH_ARTEFACT_CACHE", "0")
    make, calls = counted(1)
    for _ in range(2):
        assert artefacts.load_or_make("kind", {}, make)[1] == {"artefact_cache": "off"}
    assert len(calls) == 2 and not cache.exists()


def test_an_unpicklable_artefact_costs_the_cache_not_the_caller(cache):
    value, info = artefacts.load_or_make("kind", {}, lambda: lambda: 1)
    assert value() == 1 and info["artefact_file"].startswith("not stored")
    assert not list(cache.rglob("*.tmp*"))


def test_module_digest_follows_content():
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))
    same = copy.deepcopy(model)
    assert artefacts.module_digest(model) == artefacts.module_digest(same)
    with torch.no_grad():
        same[0].weight[0, 0] += 1e-6
    assert artefacts.module_digest(model) != artefacts.module_digest(same)
    assert artefacts.module_digest(model) != artefacts.module_digest(copy.deepcopy(model).to(torch.bfloat16))


def test_a_cached_variant_measures_what_a_fresh_one_does(cache, tmp_path):
    """Two sessions (as two processes would) run the same distilled case: the second loads the student, and its
    size, parameters and accuracy are the first one's."""
    from bench.results import RunWriter
    from bench.runner import Session

    records = []
    for run in ("first", "second"):
        writer = RunWriter(tmp_path / run, run, {})
        records.append(Session(writer, {}).run_case(case(compression="distill"), time_calls))
        writer.close("finished")
    first, second = (json.loads((tmp_path / r / r / "records.jsonl").read_text()) for r in ("first", "second"))
    assert (first["extra"]["artefact_cache"], second["extra"]["artefact_cache"]) == ("miss", "hit")
    for column in ("model_size_bytes", "params", "accuracy", "accuracy_drop"):
        assert records[0].__getattribute__(column) == records[1].__getattribute__(column), column


def test_onnx_export_is_reused_by_the_next_process(cache):
    """Two processes export the same model: the second finds the first's export."""
    code = (
        "import torch; from bench.engines.onnxruntime import export_onnx;"
        "torch.manual_seed(0); m = torch.nn.Sequential(torch.nn.Linear(4, 2));"
        "print(export_onnx(m, (torch.randn(3, 4),)).info['export_cache'])"
    )
    outcomes = [
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()[-1]
        for _ in range(2)
    ]
    assert outcomes == ["miss", "hit"]

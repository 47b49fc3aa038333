"""A complete user model for bench: a product-review sentiment classifier over bag-of-words features.

Point a suite at it with ``factory: "my_models:build"`` (the folder must be importable, e.g. ``PYTHONPATH=.``
or an installed package). The factory returns a :class:`bench.models.ModelBundle`:

* ``module``       -- the fp32 ``torch.nn.Module`` in eval mode, on the CPU;
* ``make_inputs``  -- ``batch_size -> tuple of input tensors`` for the latency pass, ``batch_size`` rows in
  dimension 0 (a call counts as that many items);
* ``evaluate``     -- optional ``predict -> Accuracy`` on held-out data (``predict`` runs the case's
  compressed model on its engine and device); gives the accuracy / accuracy_drop columns;
* ``calibration``  -- optional ``() -> list of input tuples`` from training data (int8-static, distill);
* ``task``         -- a word for reports.
"""

from __future__ import annotations

import torch
from torch import nn

from bench.models import Accuracy, ModelBundle


def _reviews(n: int, vocabulary: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Synthetic reviews: word counts where a hidden set of 'positive' and 'negative' words decides the label."""
    generator = torch.Generator().manual_seed(seed)
    counts = torch.poisson(torch.full((n, vocabulary), 0.05), generator=generator)
    polarity = torch.linspace(-1.0, 1.0, vocabulary)
    labels = ((counts @ polarity) > 0).long()
    return counts, labels


def build(vocabulary: int = 512, hidden: int = 64, epochs: int = 30, seed: int = 0) -> ModelBundle:
    """Train a small MLP (a second or two) and return its bundle."""
    train_x, train_y = _reviews(2000, vocabulary, seed)
    test_x, test_y = _reviews(500, vocabulary, seed + 1)
    torch.manual_seed(seed)
    module = nn.Sequential(nn.Linear(vocabulary, hidden), nn.ReLU(), nn.Linear(hidden, 2))
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-2)
    for _ in range(epochs):
        optimizer.zero_grad()
        nn.functional.cross_entropy(module(train_x), train_y).backward()
        optimizer.step()
    module.eval()

    def evaluate(predict) -> Accuracy:
        predicted = predict(test_x).float().argmax(1)
        return Accuracy(float((predicted == test_y).float().mean()), "top1")

    return ModelBundle(
        module=module,
        # batch_size rows whatever the size: the held-out reviews, repeated past their 500
        make_inputs=lambda batch_size: (test_x[torch.arange(batch_size) % len(test_x)],),
        evaluate=evaluate,
        calibration=lambda: [(train_x[i : i + 100],) for i in range(0, 800, 100)],
        task="sentiment",
    )

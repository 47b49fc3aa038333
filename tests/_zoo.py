"""Shared helpers for the model-zoo tests: tiny bundles that build in well under a second."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

from bench.models import Accuracy, ModelBundle
from bench.spec import Placement

CPU = Placement("cpu", 1)


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Tests train and compile with one thread: on a busy shared machine, two spinning OpenMP threads
    can wait on each other for a whole scheduler slice per operation."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def mlp_bundle(width: int = 64, seed: int = 0) -> ModelBundle:
    """A small classifier over 32 features, in nn.Sequential form, with an accuracy and calibration data."""
    torch.manual_seed(seed)
    module = nn.Sequential(
        nn.Linear(32, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(), nn.Linear(width, 4)
    ).eval()
    generator = torch.Generator().manual_seed(seed)
    test_x = torch.randn(200, 32, generator=generator)
    with torch.no_grad():
        test_y = module(test_x).argmax(1)

    def evaluate(predict) -> Accuracy:
        return Accuracy(float((predict(test_x).float().argmax(1) == test_y).float().mean()), "top1")

    return ModelBundle(
        module=module,
        make_inputs=lambda batch_size: (test_x[:batch_size],),
        evaluate=evaluate,
        calibration=lambda: [(torch.randn(16, 32, generator=torch.Generator().manual_seed(i)),) for i in range(4)],
        task="test",
    )


def compress(name: str, bundle: ModelBundle, placement: Placement = CPU, **params):
    """Apply a registered compression with its defaults overridden by ``params``."""
    from bench.compress import COMPRESSIONS

    entry = COMPRESSIONS.get(name)
    return entry.fn(bundle, placement, **{**entry.params, **params})


def prepare(engine: str, compressed, inputs: tuple, placement: Placement = CPU, **params):
    from bench.engines import ENGINES

    entry = ENGINES.get(engine)
    return entry.fn(compressed, inputs, placement, **{**entry.params, **params})

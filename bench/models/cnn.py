"""A small convolutional product-image classifier, trained at first use on scikit-learn's digits images."""

from __future__ import annotations

import importlib.util

import torch
from torch import nn

from bench.errors import NotApplicable
from bench.models import Accuracy, ModelBundle, check_batch, int_ranges, register_model

_CNN_VERSION = 1  # bump when the data preparation or the training recipe changes
_EVAL_BATCH, _TRAIN_BATCH = 120, 64
_check_ranges = int_ranges(image_size=(4, 512), width=(1, 1024), epochs=(0, 10_000))  # image_size: two 2x2 poolings


def _item_bytes(image_size: int, width: int, **_: int) -> tuple[int, int]:
    """Per image: its fp32 pixels; at full resolution the first two convolutions' outputs and their ReLUs'
    (width + 2 x width channels, measured at about 20 x width x image_size² bytes; 24 counted)."""
    pixels = image_size * image_size
    return 4 * pixels, 24 * width * pixels


def _check_cnn(image_size: int, width: int, epochs: int, seed: int) -> None:
    """Ranges, and the memory of the model's own batches: evaluation (120 images a call) and, with ``epochs``,
    training (64 images a step, counted at 2 x a forward pass: the kept activations and their gradients, measured
    at 1.5-1.8 x)."""
    _check_ranges(image_size=image_size, width=width, epochs=epochs, seed=seed)
    inputs, activations = _item_bytes(image_size, width)
    check_batch((inputs, activations), _EVAL_BATCH, f"the evaluation batches: {_EVAL_BATCH} images")
    if epochs:
        check_batch((inputs, 2 * activations), _TRAIN_BATCH, f"the training batches: {_TRAIN_BATCH} images")


def small_cnn(width: int, classes: int = 10) -> nn.Sequential:
    """Three 3x3 conv blocks and a two-layer head, as one ``nn.Sequential`` (structured pruning can walk it)."""
    return nn.Sequential(
        nn.Conv2d(1, width, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(width, 2 * width, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(2 * width, 4 * width, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(4 * width, 4 * width),
        nn.ReLU(),
        nn.Linear(4 * width, classes),
    )


def digits_split(image_size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """scikit-learn's 1,797 8x8 digit images, scaled to [0, 1], resized to ``image_size``; an 80/20 split."""
    if importlib.util.find_spec("sklearn") is None:
        raise NotApplicable("cnn-products trains on scikit-learn's digits: pip install 'bench[models]'")
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
    images = nn.functional.interpolate(images, size=(image_size, image_size), mode="bilinear", align_corners=False)
    labels = torch.tensor(digits.target, dtype=torch.long)
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
    images, labels = images[order], labels[order]
    cut = int(0.8 * len(labels))
    return images[:cut], labels[:cut], images[cut:], labels[cut:]


def _train(module: nn.Module, images: torch.Tensor, labels: torch.Tensor, epochs: int) -> dict[str, float]:
    optimizer = torch.optim.Adam(module.parameters(), lr=5e-3)
    loss_fn = nn.CrossEntropyLoss()
    module.train()
    loss = torch.zeros(())
    with torch.enable_grad():
        for _ in range(epochs):
            order = torch.randperm(len(labels))
            for start in range(0, len(labels), _TRAIN_BATCH):
                idx = order[start : start + _TRAIN_BATCH]
                optimizer.zero_grad()
                loss = loss_fn(module(images[idx]), labels[idx])
                loss.backward()
                optimizer.step()
    module.eval()
    return {"train_samples": len(labels), "final_train_loss": round(loss.item(), 4)}


@register_model(
    "cnn-products",
    params={"image_size": 16, "width": 8, "epochs": 20, "seed": 0},
    description="Small CNN image classifier trained on scikit-learn's digits; accuracy = held-out top-1.",
    check=_check_cnn,
    item_bytes=_item_bytes,
)
def build_cnn_products(image_size: int, width: int, epochs: int, seed: int) -> ModelBundle:
    """Stands in for product-image classification: real images, a held-out 20% split, top-1 accuracy."""
    from bench.models._cache import trained

    train_x, train_y, test_x, test_y = digits_split(image_size, seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        module = small_cnn(width)
    key = {"model": "cnn-products", "version": _CNN_VERSION, "image_size": image_size, "width": width}
    key |= {"epochs": epochs, "seed": seed}
    info = trained("cnn-products", key, module, lambda m: _train(m, train_x, train_y, epochs))
    module.eval()

    def evaluate(predict) -> Accuracy:
        predicted = torch.cat(
            [predict(test_x[i : i + _EVAL_BATCH]).float().argmax(1) for i in range(0, len(test_y), _EVAL_BATCH)]
        )
        return Accuracy(float((predicted == test_y).float().mean()), "top1", {"test_images": len(test_y)})

    def calibration():
        return [(train_x[i : i + 64],) for i in range(0, 512, 64)]

    def make_inputs(batch_size: int):
        return (test_x[torch.arange(batch_size) % len(test_x)],)

    return ModelBundle(
        module=module,
        make_inputs=make_inputs,
        evaluate=evaluate,
        calibration=calibration,
        task="image",
        info={"image_size": image_size, "width": width, "finetune_lr": 0.005, **info},
    )

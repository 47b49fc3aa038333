"""Short training loops shared by distillation and pruning fine-tuning: match the teacher's outputs."""

from __future__ import annotations

import contextlib
import copy
import itertools
import time
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from bench.errors import NotApplicable


@contextlib.contextmanager
def trainable() -> Iterator[None]:
    """Gradients on, even inside the runner's ``torch.inference_mode()`` block."""
    with torch.inference_mode(False), torch.enable_grad():
        yield


def calibration_batches(bundle, fits: str | None = None) -> list[tuple]:
    """The bundle's training-side batches. Without them, a method that only compares outputs on them (``fits``
    None: a fidelity figure) gets one ``make_inputs(32)`` batch; one that fits the model to them (``fits`` names it:
    a calibration, training steps) is not applicable (:func:`no_calibration`)."""
    if bundle.calibration is not None:
        return [tuple(batch) for batch in bundle.calibration()]
    if fits is not None:
        raise NotApplicable(no_calibration(fits))
    return [bundle.make_inputs(32)]


def no_calibration(fits: str) -> str:
    """Why ``fits`` (``int8-static``, ``distill (steps 100)``) skips a model without calibration batches: fitting to
    the timing inputs, which a factory may draw from its evaluation set, would leak that set into the accuracy."""
    return (
        f"{fits} fits the model to training-side batches and its ModelBundle has no calibration: add calibration=, "
        "a function returning a list of input tuples as make_inputs(n) returns them (e.g. 8 batches of training data, "
        "never the evaluation set)"
    )


DEFAULT_LR = 0.0005
MAX_STEPS = 100_000
"""Most training steps a suite may ask of distillation or pruning fine-tuning ("bounded steps": minutes, not days)."""


def check_steps(steps: int, key: str, method: str) -> None:
    """For a method's ``check``: ``steps`` is at most :data:`MAX_STEPS` (the suite checked it is a whole number)."""
    if steps > MAX_STEPS:
        raise ValueError(f"{method}: {key} must be at most {MAX_STEPS}, got {steps}")


MAX_LR = 10.0
"""Largest learning rate a suite may give distillation or pruning fine-tuning (AdamW diverges long before it)."""


def check_lr(lr: float, method: str) -> None:
    """For a method's ``check``: ``lr`` is 0 (the model's own rate) or above 0 up to :data:`MAX_LR` (the suite
    checked it is a finite number, not negative)."""
    if not 0.0 <= lr <= MAX_LR:  # NaN fails too
        raise ValueError(f"{method}: lr must be 0 (the model's own rate) or > 0 and <= {MAX_LR:g}, got {lr}")


def learning_rate(bundle, lr: float) -> float:
    """``lr`` when set (> 0), else the model's own recommendation (``bundle.info["finetune_lr"]``), else 5e-4."""
    return lr if lr > 0 else float(bundle.info.get("finetune_lr", DEFAULT_LR))


def training_device(placement, steps: int) -> str:
    """Where a student is trained: on the case's GPU for a CUDA case (a CPU fine-tune would cost that case minutes),
    else on the CPU; on the CPU too when there are no steps (nothing to train, the fidelity check is two calls)."""
    return placement.device if placement.device_type == "cuda" and steps > 0 else "cpu"


def move(value: Any, device: str) -> Any:
    """A module moved to ``device`` (in place), or a batch (tuple) with its tensors copied there."""
    if isinstance(value, tuple):
        return tuple(t.to(device) if isinstance(t, torch.Tensor) else t for t in value)
    return value.to(device)


def teacher_on(teacher: nn.Module, device: str) -> nn.Module:
    """The teacher where the student trains: the bundle's own module on the CPU, a copy on a GPU (the fp32 bundle is
    never moved: other methods still compress it on the CPU)."""
    return teacher if device == "cpu" else move(copy.deepcopy(teacher), device)


def _device_of(module: nn.Module) -> str:
    return str(next((p.device for p in module.parameters()), "cpu"))


def _clone_inputs(batch: tuple, device: str) -> tuple:
    # inputs made under inference_mode are inference tensors; autograd needs normal ones
    return tuple(t.clone() if isinstance(t, torch.Tensor) else t for t in move(batch, device))


def _wait(device: str) -> None:
    """Wait for the work queued on ``device`` (a GPU's optimizer steps are asynchronous) before the clock is read."""
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)


def distill(student: nn.Module, teacher: nn.Module, batches: list[tuple], steps: int, lr: float) -> float:
    """Train ``student`` for ``steps`` steps to reproduce ``teacher``'s outputs (MSE); returns seconds spent.

    Both models are on the same device (see :func:`training_device`); the CPU batches are copied there."""
    if steps <= 0:
        return 0.0
    device = _device_of(student)
    start = time.perf_counter()
    with trainable():
        batches = [_clone_inputs(b, device) for b in batches[:steps]]  # fewer steps than batches: only those
        with torch.no_grad():
            targets = [teacher(*b).detach().float() for b in batches]
        student.train()
        optimizer = torch.optim.AdamW([p for p in student.parameters() if p.requires_grad], lr=lr)
        for (batch, target), _ in zip(itertools.cycle(zip(batches, targets, strict=True)), range(steps), strict=False):
            optimizer.zero_grad()
            loss = nn.functional.mse_loss(student(*batch).float(), target)
            loss.backward()
            optimizer.step()
        student.eval()
        _wait(device)
    return time.perf_counter() - start


def output_fidelity(student: nn.Module, teacher: nn.Module, batch: tuple) -> dict[str, float]:
    """How close a student's outputs are to the teacher's on one batch.

    ``output_cosine_to_teacher`` (mean per-row cosine) for vector outputs such as embeddings or logits,
    ``output_rel_error`` (relative L2 error) always.
    """
    batch = move(batch, _device_of(student))
    with torch.inference_mode():
        got = student(*batch).float()
        want = teacher(*batch).float()
    result = {"output_rel_error": round(float((got - want).norm() / want.norm().clamp(min=1e-12)), 5)}
    if got.dim() == 2 and got.shape[1] > 1:
        result["output_cosine_to_teacher"] = round(float(nn.functional.cosine_similarity(got, want).mean()), 5)
    return result

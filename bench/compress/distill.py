"""Knowledge distillation: a smaller student trained for a bounded number of steps to match the fp32 teacher."""

from __future__ import annotations

import copy

import torch

from bench.compress import Compressed, register_compression
from bench.compress._train import (
    calibration_batches,
    check_lr,
    check_steps,
    distill,
    learning_rate,
    move,
    output_fidelity,
    teacher_on,
    training_device,
)
from bench.compress.prune import shrink
from bench.errors import NotApplicable


def _check(fraction: float, steps: int = 0, lr: float = 0.0, **_) -> None:
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"distill: fraction must be in (0, 1), got {fraction}")
    check_steps(steps, "steps", "distill")
    check_lr(lr, "distill")


@register_compression(
    "distill",
    cached=lambda **_: True,
    params={"fraction": 0.5, "steps": 100, "lr": 0.0},
    check=_check,
    description="A smaller student (fewer layers, or narrower) distilled from the fp32 model in bounded steps.",
)
def distill_student(bundle, placement, fraction: float, steps: int, lr: float) -> Compressed:
    """The student keeps ``fraction`` of the teacher: of its layers when the model defines ``make_student``
    (MiniLM: 6 -> 3 transformer layers), else of its widths (structured pruning). It is initialised from the
    teacher, then trained ``steps`` steps (MSE to the teacher's outputs on the model's training-side batches).
    ``train_time_s`` is that training; the record also shows the student's fidelity before and after, and
    ``train_device``: a CUDA case trains on its GPU, a CPU case on the CPU. The student is returned on the CPU (the
    cached artefact does not depend on the GPU it was trained on)."""
    _check(fraction, steps, lr)
    batches = calibration_batches(bundle, f"distill (steps {steps})" if steps else None)
    probe = batches[-1]  # reported, not trained on when there is more than one batch
    train_batches = batches[:-1] or batches
    with torch.inference_mode(False):
        if bundle.make_student is not None:
            student = bundle.make_student(fraction)
            kind = "fewer layers (model's make_student)"
        else:
            student = copy.deepcopy(bundle.module)
            if not shrink(student, 1.0 - fraction, bundle.info.get("prune_pairs", [])):
                raise NotApplicable("distill: this model defines no make_student and has no layers to narrow")
            kind = "narrower layers (structured pruning)"
        device = training_device(placement, steps)
        teacher, student = teacher_on(bundle.module, device), move(student, device)
        before = output_fidelity(student, teacher, probe)
        train_time_s = distill(student, teacher, train_batches, steps, learning_rate(bundle, lr))
        after = output_fidelity(student, teacher, probe)
        student = move(student, "cpu")
    info = {
        "backend": "bench distillation (MSE to teacher outputs, AdamW)",
        "student": kind,
        "train_time_s": train_time_s,
        "train_device": device,
        "steps": steps,
        "student_params": sum(p.numel() for p in student.parameters()),
        "teacher_params": sum(p.numel() for p in bundle.module.parameters()),
        **{f"{k}_before": v for k, v in before.items()},
        **{f"{k}_after": v for k, v in after.items()},
    }
    return Compressed(module=student, info=info)

"""Pruning: unstructured L1 magnitude pruning (made permanent), and structured pruning that rebuilds smaller layers.

Size convention for unstructured pruning: ``model_size_bytes`` stays the dense state dict (zeros are stored);
``sparse_size_bytes`` is what a bitmask-sparse format would ship: every pruned weight tensor stored as its
nonzero values plus one bit per element, every other tensor as it is.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator

import torch
from torch import nn
from torch.nn.utils import prune

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
from bench.errors import NotApplicable

_PRUNABLE = (nn.Linear, nn.Conv2d)
# Modules that keep a channel/feature at the same position, so a producer's outputs map 1:1 to a consumer's inputs.
_PASS_THROUGH = (nn.ReLU, nn.GELU, nn.SiLU, nn.Tanh, nn.Dropout, nn.Identity, nn.MaxPool2d, nn.AvgPool2d)


def _check_amount(amount: float, name: str, finetune_steps: int = 0, lr: float = 0.0) -> None:
    if not 0.0 <= amount < 1.0:
        raise ValueError(f"{name}: amount must be in [0, 1), got {amount}")
    check_steps(finetune_steps, "finetune_steps", name)
    check_lr(lr, name)


def _batches(bundle, name: str, finetune_steps: int) -> list[tuple]:
    """The batches pruning compares outputs on and, with ``finetune_steps``, fine-tunes on: the model's calibration
    batches, which fine-tuning cannot do without (:func:`bench.compress._train.calibration_batches`)."""
    return calibration_batches(bundle, f"{name} (finetune_steps {finetune_steps})" if finetune_steps else None)


def _register_pruning(name: str, description: str):
    """:func:`register_compression` for a pruning method: the same ``amount``, ``finetune_steps`` and ``lr``,
    checked alike (:func:`_check_amount`); its result cached when it fine-tunes (the training is what a later
    process is spared)."""
    return register_compression(
        name,
        cached=lambda finetune_steps, **_: finetune_steps > 0,
        check=lambda amount, finetune_steps, lr, **_: _check_amount(amount, name, finetune_steps, lr),
        params={"amount": 0.5, "finetune_steps": 0, "lr": 0.0},
        description=description,
    )


@_register_pruning(
    "prune-l1", "Unstructured L1 magnitude pruning of Linear/Conv weights to a sparsity, made permanent."
)
def prune_l1(bundle, placement, amount: float, finetune_steps: int, lr: float) -> Compressed:
    """Zero the ``amount`` fraction of smallest-magnitude weights in every Linear/Conv2d layer
    (``torch.nn.utils.prune.l1_unstructured``), optionally fine-tune ``finetune_steps`` steps against the
    fp32 model's outputs with the masks held, then ``prune.remove`` makes the zeros permanent. A CUDA case
    fine-tunes on its GPU (``train_device``); the pruned model is returned on the CPU."""
    _check_amount(amount, "prune-l1", finetune_steps, lr)
    module = copy.deepcopy(bundle.module)
    layers = [m for m in module.modules() if isinstance(m, _PRUNABLE)]
    if not layers:
        raise NotApplicable("prune-l1 prunes Linear/Conv2d weights and this model has none")
    device = training_device(placement, finetune_steps)
    with torch.inference_mode(False):
        for layer in layers:
            layer.weight = nn.Parameter(layer.weight.detach().clone())
            prune.l1_unstructured(layer, "weight", amount=amount)
        module = move(module, device)
        train_time_s = distill(
            module, teacher_on(bundle.module, device), _batches(bundle, "prune-l1", finetune_steps), finetune_steps,
            learning_rate(bundle, lr),
        )  # fmt: skip
        for layer in layers:
            prune.remove(layer, "weight")
        module = move(module, "cpu")
    weights = [layer.weight for layer in layers]
    total = sum(w.numel() for w in weights)
    zeros = sum(int((w == 0).sum()) for w in weights)
    info = {
        "backend": "torch.nn.utils.prune.l1_unstructured",
        "sparsity": zeros / total,
        "pruned_layers": len(layers),
        "sparse_size_bytes": sparse_size_bytes(module, weights),
    }
    if finetune_steps:
        info |= {"train_time_s": train_time_s, "finetune_steps": finetune_steps, "train_device": device}
    return Compressed(module=module, info=info)


def sparse_size_bytes(module: nn.Module, pruned: list[torch.Tensor]) -> int:
    """The dense serialized size, with each pruned tensor counted as nonzero values + a 1-bit-per-element mask."""
    from bench.measure.size import measure_size

    dense = measure_size(module).model_size_bytes
    for weight in pruned:
        itemsize = weight.element_size()
        dense -= weight.numel() * itemsize
        dense += int(torch.count_nonzero(weight)) * itemsize + math.ceil(weight.numel() / 8)
    return dense


# ------------------------------------------------------------------------------------------- structured


def _sequential_pairs(root: nn.Module) -> Iterator[tuple[str, str, list[str]]]:
    """(producer, consumer, in-between) qualified names of Linear/Conv2d pairs inside any ``nn.Sequential`` whose
    outputs reach the next layer's inputs position by position."""
    for prefix, seq in root.named_modules():
        if not isinstance(seq, nn.Sequential):
            continue
        names = list(seq._modules)
        for i, name in enumerate(names):
            if not isinstance(seq[i], _PRUNABLE):
                continue
            between: list[str] = []
            for j in range(i + 1, len(names)):
                nxt = seq[j]
                if isinstance(nxt, _PRUNABLE):
                    pair_ok = isinstance(seq[i], nn.Conv2d) == isinstance(nxt, nn.Conv2d) or (
                        isinstance(nxt, nn.Linear) and _pools_to_vector(seq, i + 1, j)
                    )
                    if pair_ok and (not isinstance(nxt, nn.Conv2d) or nxt.groups == 1):
                        full = f"{prefix}." if prefix else ""
                        yield f"{full}{name}", f"{full}{names[j]}", [f"{full}{b}" for b in between]
                    break
                if isinstance(nxt, (*_PASS_THROUGH, nn.AdaptiveAvgPool2d, nn.Flatten, nn.BatchNorm2d, nn.BatchNorm1d)):
                    between.append(names[j])
                    continue
                break


def _pools_to_vector(seq: nn.Sequential, start: int, stop: int) -> bool:
    """Conv -> ... -> Linear is a valid pair only through a global pool to 1x1 then Flatten (channel i -> feature i)."""
    pooled = False
    for k in range(start, stop):
        layer = seq[k]
        if isinstance(layer, nn.AdaptiveAvgPool2d):
            size = layer.output_size
            pooled = size in (1, (1, 1))
        elif isinstance(layer, nn.Flatten) and not pooled:
            return False
    return pooled


def _keep_indices(producer: nn.Module, amount: float) -> torch.Tensor:
    """Output units of ``producer`` to keep: the ``1 - amount`` fraction with the largest L1 norm."""
    weight = producer.weight.detach()
    norms = weight.abs().reshape(weight.shape[0], -1).sum(1)
    keep = max(1, round(weight.shape[0] * (1.0 - amount)))
    return norms.topk(keep).indices.sort().values


def _shrunk_outputs(layer: nn.Module, keep: torch.Tensor) -> nn.Module:
    if isinstance(layer, nn.Linear):
        new = nn.Linear(layer.in_features, len(keep), bias=layer.bias is not None)
    else:
        new = nn.Conv2d(
            layer.in_channels, len(keep), layer.kernel_size, layer.stride, layer.padding, layer.dilation,
            bias=layer.bias is not None, padding_mode=layer.padding_mode,
        )  # fmt: skip
    new.weight.data = layer.weight.detach()[keep].clone()
    if layer.bias is not None:
        new.bias.data = layer.bias.detach()[keep].clone()
    return new.to(layer.weight.dtype)


def _shrunk_inputs(layer: nn.Module, keep: torch.Tensor) -> nn.Module:
    if isinstance(layer, nn.Linear):
        new = nn.Linear(len(keep), layer.out_features, bias=layer.bias is not None)
    else:
        new = nn.Conv2d(
            len(keep), layer.out_channels, layer.kernel_size, layer.stride, layer.padding, layer.dilation,
            bias=layer.bias is not None, padding_mode=layer.padding_mode,
        )  # fmt: skip
    new.weight.data = layer.weight.detach()[:, keep].clone()
    if layer.bias is not None:
        new.bias.data = layer.bias.detach().clone()
    return new.to(layer.weight.dtype)


def _shrunk_norm(layer: nn.Module, keep: torch.Tensor) -> nn.Module:
    new = copy.deepcopy(layer)
    new.num_features = len(keep)
    for name in ("weight", "bias"):
        if getattr(layer, name, None) is not None:
            setattr(new, name, nn.Parameter(getattr(layer, name).detach()[keep].clone()))
    for name in ("running_mean", "running_var"):
        if getattr(layer, name, None) is not None:
            setattr(new, name, getattr(layer, name)[keep].clone())
    return new


def _set(root: nn.Module, name: str, module: nn.Module) -> None:
    parent_name, _, attr = name.rpartition(".")
    parent = root.get_submodule(parent_name) if parent_name else root
    setattr(parent, attr, module)


def shrink(module: nn.Module, amount: float, extra_pairs: list[tuple[str, str]] = ()) -> list[dict]:
    """Remove the ``amount`` fraction of lowest-L1 output units of each producer in place, rebuilding it and its
    consumer as smaller layers. Returns, per pair, the names and the widths before and after."""
    pairs = [(p, c, b) for p, c, b in _sequential_pairs(module)] + [(p, c, []) for p, c in extra_pairs]
    changes = []
    for producer_name, consumer_name, between in pairs:
        producer = module.get_submodule(producer_name)
        keep = _keep_indices(producer, amount)
        before = producer.weight.shape[0]
        _set(module, producer_name, _shrunk_outputs(producer, keep))
        _set(module, consumer_name, _shrunk_inputs(module.get_submodule(consumer_name), keep))
        for name in between:
            layer = module.get_submodule(name)
            if isinstance(layer, (nn.BatchNorm1d, nn.BatchNorm2d)):
                _set(module, name, _shrunk_norm(layer, keep))
        changes.append({"producer": producer_name, "consumer": consumer_name, "width": [before, len(keep)]})
    return changes


@_register_pruning(
    "prune-structured", "Structured pruning: removes whole neurons/channels and rebuilds smaller layers."
)
def prune_structured(bundle, placement, amount: float, finetune_steps: int, lr: float) -> Compressed:
    """Drop the ``amount`` fraction of neurons (Linear) or channels (Conv2d) with the smallest L1 norm in every
    prunable producer/consumer pair, so the matrices really shrink; optionally fine-tune against fp32 outputs.

    Pairs are found inside ``nn.Sequential`` containers, plus any the model lists in
    ``bundle.info["prune_pairs"]`` (MiniLM: each layer's feed-forward ``intermediate`` -> ``output``). A CUDA case
    fine-tunes on its GPU (``train_device``); the pruned model is returned on the CPU.
    """
    _check_amount(amount, "prune-structured", finetune_steps, lr)
    module = copy.deepcopy(bundle.module)
    device = training_device(placement, finetune_steps)
    with torch.inference_mode(False):
        changes = shrink(module, amount, bundle.info.get("prune_pairs", []))
        if not changes:
            raise NotApplicable("prune-structured found no Linear/Conv2d pairs it can shrink in this model")
        batches = _batches(bundle, "prune-structured", finetune_steps)
        teacher, module = teacher_on(bundle.module, device), move(module, device)
        before = output_fidelity(module, teacher, batches[0])
        train_time_s = distill(module, teacher, batches, finetune_steps, learning_rate(bundle, lr))
        after = output_fidelity(module, teacher, batches[0])
        module = move(module, "cpu")
    info = {
        "backend": "bench structured L1 (rebuilt nn.Linear/nn.Conv2d)",
        "pruned_pairs": len(changes),
        "widths": {c["producer"]: c["width"] for c in changes},
        **after,
    }
    if finetune_steps:
        info |= {f"{k}_before_finetune": v for k, v in before.items()}
        info |= {"train_time_s": train_time_s, "finetune_steps": finetune_steps, "train_device": device}
    return Compressed(module=module, info=info)

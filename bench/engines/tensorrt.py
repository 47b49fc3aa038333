"""TensorRT through Torch-TensorRT's dynamo frontend (optional: ``pip install 'bench[tensorrt]'``).

``torch_tensorrt.compile(module, ir="dynamo", inputs=..., enabled_precisions=...)`` exports the module and
partitions its graph: runs of operators TensorRT can convert become engines (submodules ``_run_on_acc_N``), the
rest stays in PyTorch (``_run_on_gpu_N``). How much fell back is recorded with every case, because a model that
is mostly PyTorch between small engines is not what "TensorRT" suggests.

Engines are built for static shapes: each batch size builds its own (the first call of a new shape, in
``extra.first_call_s``), as a deployment with fixed shapes would.

TensorRT allocates an engine's weights and its execution context's memory itself, outside torch's caching
allocator, so torch's counters would show the inputs and the PyTorch fallbacks only: the memory pass leaves the CUDA
memory columns empty (``extra.cuda_memory_note``) and ``extra.tensorrt_outside_torch_mb`` is the device memory the
engines built so far hold outside torch, read from ``cudaMemGetInfo`` around each build.
"""

from __future__ import annotations

import operator
import time
from collections import Counter
from typing import Any

import torch

from bench.engines import Prepared, register_engine
from bench.errors import NotApplicable
from bench.hardware import current_device, synchronizer

INSTALL = "pip install 'bench[tensorrt]'"
ACC_PREFIX, FALLBACK_PREFIX = "_run_on_acc", "_run_on_gpu"
_STRUCTURAL = {operator.getitem}  # unpacking an engine's tuple output is not a PyTorch op that ran


def _check(min_block_size: int, **_) -> None:
    if min_block_size < 1:
        raise ValueError(f"tensorrt: min_block_size must be >= 1, got {min_block_size}")


def import_torch_tensorrt():
    """The ``torch_tensorrt`` module, or :class:`NotApplicable` saying how to install it."""
    try:
        import torch_tensorrt
    except ImportError as err:
        raise NotApplicable(f"the tensorrt engine needs torch-tensorrt ({INSTALL}): {err}") from None
    except OSError as err:  # the package is there, TensorRT's libraries are not (or another torch's: a bad symbol)
        raise NotApplicable(
            f"torch-tensorrt is installed but cannot load TensorRT's libraries ({err}): install the tensorrt "
            "package matching torch-tensorrt and this torch, or put its lib folder on LD_LIBRARY_PATH"
        ) from None
    return torch_tensorrt


OUTSIDE_TORCH = "TensorRT allocates its engines' weights and execution memory outside torch's caching allocator"


def outside_torch_bytes(device: str) -> int:
    """Device memory in use that torch's caching allocator does not hold: everything in use on the GPU
    (``torch.cuda.mem_get_info``, which sees other processes too) less what torch has reserved."""
    free, total = torch.cuda.mem_get_info(device)
    return total - free - torch.cuda.memory_reserved(device)


def _op_name(target: Any) -> str:
    """``aten.gelu.default`` for an ATen overload, the function's name otherwise."""
    if isinstance(target, torch._ops.OpOverload):
        return str(target)
    return getattr(target, "__name__", None) or str(target)


def partition_summary(graph_module: torch.nn.Module) -> dict[str, Any]:
    """What TensorRT runs and what fell back to PyTorch in a Torch-TensorRT partitioned graph module.

    ``tensorrt_engines``: TensorRT engine submodules; ``tensorrt_fallback_submodules``: PyTorch submodules between
    them; ``tensorrt_fallback_ops``: the operators those (and the top-level graph itself) run in PyTorch, most
    frequent first, as ``op xN``; ``tensorrt_fallback_op_count``: how many operator calls that is.
    """
    engines = fallback = 0
    ops: Counter[str] = Counter()
    graphs = []
    for name, child in graph_module.named_children():
        if name.startswith(ACC_PREFIX) or "TensorRTModule" in type(child).__name__:
            engines += 1
        else:
            fallback += 1
            if isinstance(child, torch.fx.GraphModule):
                graphs.append(child.graph)
    if isinstance(graph_module, torch.fx.GraphModule):
        graphs.append(graph_module.graph)
    for graph in graphs:
        for node in graph.nodes:
            if node.op == "call_function" and node.target not in _STRUCTURAL:
                ops[_op_name(node.target)] += 1
    return {
        "tensorrt_engines": engines,
        "tensorrt_fallback_submodules": fallback,
        "tensorrt_fallback_op_count": sum(ops.values()),
        "tensorrt_fallback_ops": ", ".join(f"{op} x{n}" for op, n in ops.most_common()),
    }


def _precision(module: torch.nn.Module) -> torch.dtype:
    """The floating dtype the compressed model computes in (fp32, bf16 or fp16)."""
    for tensor in (*module.parameters(), *module.buffers()):
        if tensor.is_floating_point():
            return tensor.dtype
    return torch.float32


def _check_plain_tensors(module: torch.nn.Module) -> None:
    for name, param in module.named_parameters():
        if type(param) not in (torch.Tensor, torch.nn.Parameter) and hasattr(param, "__tensor_flatten__"):
            raise NotApplicable(
                f"TensorRT cannot compile torchao's quantized tensor subclasses ({type(param).__name__} at {name}); "
                "run fp32, bf16 or fp16 on this engine"
            )


@register_engine(
    "tensorrt",
    params={"min_block_size": 5},
    check=_check,
    description="TensorRT via torch-tensorrt (dynamo); records which operators fell back to PyTorch.",
)
def tensorrt_engine(compressed, example_inputs, placement, min_block_size: int) -> Prepared:
    """Build a TensorRT-partitioned module in the compressed model's precision; ``min_block_size`` is
    Torch-TensorRT's: runs of fewer convertible operators stay in PyTorch."""
    _check(min_block_size)
    compressed.check_engine("tensorrt")
    if placement.device_type != "cuda":
        raise NotApplicable(f"TensorRT runs only on NVIDIA CUDA GPUs; {placement.device} is not one")
    torch_tensorrt = import_torch_tensorrt()
    module = compressed.module
    if not isinstance(module, torch.nn.Module):
        raise NotApplicable(f"torch-tensorrt needs a torch module, not {type(module).__name__}")
    _check_plain_tensors(module)
    precision = _precision(module)
    device = torch.device(placement.device)
    built: dict[tuple, Any] = {}
    info: dict[str, Any] = {"tensorrt_outside_torch_mb": 0.0}
    sync = synchronizer(placement.device) or (lambda: None)

    def build(inputs: tuple):
        # torch.export (inside torch_tensorrt.compile) cannot trace inference tensors
        with torch.inference_mode(False), torch.no_grad():
            inputs = [t.clone() if isinstance(t, torch.Tensor) else t for t in inputs]
            return torch_tensorrt.compile(
                module,
                ir="dynamo",
                inputs=inputs,
                enabled_precisions={precision},
                min_block_size=min_block_size,
                device=device,
            )

    def call(*inputs):
        # Torch-TensorRT builds for, and runs its engines on, the current CUDA device unless told: device 0 in every
        # thread (LoadGen's worker too), whatever the case's cuda:K
        with current_device(placement.device):
            return run(*inputs)

    def run(*inputs):
        shapes = tuple(getattr(t, "shape", None) for t in inputs)
        trt = built.get(shapes)
        if trt is not None:
            return trt(*inputs)
        before = outside_torch_bytes(placement.device)
        trt = built[shapes] = build(inputs)
        if "tensorrt_engines" not in info:
            info.update(partition_summary(trt))
        out = trt(*inputs)  # the execution context's memory is in place after its first run
        sync()
        info["tensorrt_outside_torch_mb"] += max(0, outside_torch_bytes(placement.device) - before) / 2**20
        return out

    start = time.perf_counter()
    call(*example_inputs)  # waits for the engine's first run on the GPU: part of the first call's cost
    compile_time_s = time.perf_counter() - start
    info |= {
        "compile_time_s": compile_time_s,
        "tensorrt_version": getattr(torch_tensorrt, "__version__", "unknown"),
        "tensorrt_precision": str(precision).removeprefix("torch."),
        "tensorrt_min_block_size": min_block_size,
    }
    # updated in place by each later build: a record copies it after its case's first call
    return Prepared(call=call, info=info, static_shapes=True, outside_torch=OUTSIDE_TORCH)

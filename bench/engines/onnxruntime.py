"""ONNX Runtime: the module is exported to ONNX (``torch.onnx.export``, dynamo exporter) and run by an ORT session
with the case's thread count."""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import sys
import sysconfig
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch

from bench import artefacts
from bench.engines import Prepared, register_engine
from bench.errors import NotApplicable


@dataclass
class OnnxModel:
    """A serialized ONNX model: what ``ort-int8-dynamic`` produces and what the onnxruntime engine runs."""

    model_bytes: bytes
    info: dict = field(default_factory=dict)

    def onnx_size(self) -> tuple[int, int, int]:
        """(file bytes, weight elements, nonzero weight elements) of the ONNX file's initializers."""
        import numpy as np
        import onnx
        from onnx import numpy_helper

        proto = onnx.load_from_string(self.model_bytes)
        params = nonzero = 0
        for initializer in proto.graph.initializer:
            array = numpy_helper.to_array(initializer)
            params += array.size
            nonzero += int(np.count_nonzero(array))
        return len(self.model_bytes), params, nonzero


def _batch_dynamic_shapes(example_inputs: tuple) -> tuple:
    batch = torch.export.Dim("batch", min=1, max=65536)
    return tuple({0: batch} if isinstance(t, torch.Tensor) and t.dim() > 0 else None for t in example_inputs)


@contextlib.contextmanager
def quiet_exporter_logs() -> Iterator[None]:
    """The exporter's optimiser logs a WARNING per skipped folding; keep them out of the run log, then restore."""
    loggers = [logging.getLogger(name) for name in ("onnxscript", "onnx_ir", "root")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def export_onnx(module: torch.nn.Module, example_inputs: tuple) -> OnnxModel:
    """Export with a dynamic batch dimension; weights are embedded in the returned bytes.

    The export is kept across processes (:mod:`bench.artefacts`), keyed by the module's content, the inputs'
    shapes past the batch dimension and dtypes, the library versions and this file."""
    key = {
        "model": artefacts.module_digest(module),
        "inputs": [
            (tuple(t.shape[1:]), str(t.dtype)) if isinstance(t, torch.Tensor) else repr(t) for t in example_inputs
        ],
        "source": artefacts.source_digest(__file__),
    }
    model, cache_info = artefacts.load_or_make("onnx-export", key, lambda: _export(module, example_inputs))
    return OnnxModel(model.model_bytes, {**model.info, "export_cache": cache_info["artefact_cache"]})


def _export(module: torch.nn.Module, example_inputs: tuple) -> OnnxModel:
    start = time.perf_counter()
    # batch 1 would be specialised by torch.export: export with two rows, the graph stays batch-generic
    example = tuple(torch.cat([t, t]) if isinstance(t, torch.Tensor) and t.dim() > 0 else t for t in example_inputs)
    with torch.inference_mode(False), torch.no_grad(), quiet_exporter_logs():
        example = tuple(t.clone() if isinstance(t, torch.Tensor) else t for t in example)
        try:
            program = torch.onnx.export(
                module,
                example,
                dynamo=True,
                dynamic_shapes=_batch_dynamic_shapes(example),
                optimize=True,
                verbose=False,
            )
        except torch.onnx.OnnxExporterError as err:
            if err.__cause__ is None:
                raise
            raise OnnxExportError(_export_failure(err.__cause__)) from err
    return OnnxModel(program.model_proto.SerializeToString(), {"export_time_s": time.perf_counter() - start})


class OnnxExportError(RuntimeError):
    """The model does not export to ONNX: the exporter's own cause, and the line of the model's code it arose at."""


def _in_the_model(filename: str) -> bool:
    """Whether a traceback frame's file is the model's code: not Python's own library, nor the exporter's packages
    (torch, onnxscript, onnx_ir, onnx) nor bench."""
    if filename.startswith("<"):
        return False
    packages = [sys.modules.get(name) for name in ("torch", "onnxscript", "onnx_ir", "onnx", "bench")]
    folders = [os.path.dirname(module.__file__) + os.sep for module in packages if getattr(module, "__file__", None)]
    stdlib = sysconfig.get_paths()["stdlib"] + os.sep
    installed = "site-packages" in filename or "dist-packages" in filename
    return not filename.startswith(tuple(folders)) and (installed or not filename.startswith(stdlib))


def _export_failure(cause: BaseException) -> str:
    """One line for a failed export: where in the model's code it failed, and the first paragraph of the cause.
    (torch.onnx's own message is some 300 characters of generic next steps, with terminal colour codes, before the
    cause: cut to one line, it never reached the cause.)"""
    frames = [frame for frame in traceback.extract_tb(cause.__traceback__) if _in_the_model(frame.filename)]
    where = f", at {frames[-1].filename}:{frames[-1].lineno} ({(frames[-1].line or '').strip()})" if frames else ""
    first = str(cause).strip().split("\n\n")[0]
    return f"the model does not export to ONNX (torch.onnx.export){where}: {type(cause).__name__}: {first}"


def check_exportable(compressed, placement) -> None:
    """Raise :class:`NotApplicable` for what the engine cannot run on the case's device: fp16 and bf16 models (ONNX
    Runtime's CPU provider has no kernels for them; on CUDA the engine runs fp32 and ort-int8-dynamic models only)."""
    import onnxruntime

    compressed.check_engine("onnxruntime")
    if placement.device_type == "cuda" and "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        raise NotApplicable("this onnxruntime build has no CUDAExecutionProvider")
    if placement.device_type not in ("cpu", "cuda"):
        raise NotApplicable(f"the onnxruntime engine does not run on {placement.device}")
    dtype = compressed.input_dtype
    if dtype in (torch.bfloat16, torch.float16) and placement.device_type == "cuda":
        raise NotApplicable(
            f"the onnxruntime engine does not run {dtype} models on {placement.device} (it runs fp32 and "
            f"ort-int8-dynamic models there); run {dtype} on eager, compile or tensorrt, or fp32 or ort-int8-dynamic "
            "on onnxruntime"
        )
    if dtype in (torch.bfloat16, torch.float16):
        raise NotApplicable(
            f"ONNX Runtime's CPU provider has no {dtype} kernels for most ops (MatMul, Gemm, LayerNorm); run fp32 "
            "or ort-int8-dynamic on onnxruntime"
        )
    if not isinstance(compressed.module, (torch.nn.Module, OnnxModel)):
        raise NotApplicable(f"cannot export {type(compressed.module).__name__} to ONNX")


def providers_for(placement) -> list:
    """The ``providers`` of an ORT session for the case's device: on ``cuda:K``, the CUDA provider on torch's device
    ``K``. ONNX Runtime's ``device_id`` counts the devices this process sees, as torch's index does (both follow
    ``CUDA_VISIBLE_DEVICES``); without it the provider runs on device 0 whatever the case's device."""
    if placement.device_type == "cuda":
        return [("CUDAExecutionProvider", {"device_id": torch.device(placement.device).index or 0})]
    return ["CPUExecutionProvider"]


def check_provider(session, placement) -> None:
    """Raise :class:`NotApplicable` when a session for a CUDA case does not run on ONNX Runtime's CUDA provider.

    A build that lists ``CUDAExecutionProvider`` may still fail to start it (its CUDA or cuDNN libraries missing or
    of another version): ONNX Runtime then logs an error and runs the session on its CPU provider, and the case
    would be timed on the CPU under the name ``cuda:K``. (A provider that fails later, in ``run()``, would be
    replaced by the CPU's the same way: the engine disables that fallback, and the call fails instead.)"""
    if placement.device_type != "cuda":
        return
    active = list(session.get_providers())
    if not active or active[0] != "CUDAExecutionProvider":
        raise NotApplicable(
            f"ONNX Runtime could not start its CUDA provider for {placement.device} and fell back to "
            f"{', '.join(active) or 'no provider'} (onnxruntime-gpu's CUDA and cuDNN libraries are missing or do not "
            "match this machine: ONNX Runtime's error above names the library); the case would run on the CPU"
        )


IO_ON_DEVICE = "device: inputs and outputs bound on the case's GPU (IOBinding), no host copies in the call"
IO_ON_HOST = "host: numpy inputs and outputs"


@functools.cache
def _numpy_type(dtype: torch.dtype):
    """The numpy scalar type of a torch dtype, as IOBinding's ``element_type`` takes it."""
    return torch.empty(0, dtype=dtype).numpy().dtype.type


def _torch_dtype(onnx_element_type: int) -> torch.dtype:
    import numpy as np
    from onnx.helper import tensor_dtype_to_np_dtype

    return torch.from_numpy(np.empty(0, dtype=tensor_dtype_to_np_dtype(onnx_element_type))).dtype


def device_call(session, device: str):
    """The call of a session whose inputs and outputs stay on ``device`` (``cuda:K``; ``cpu`` in tests).

    Each input tensor is bound by its pointer (made contiguous first) and each output is a torch tensor allocated
    beside the inputs and bound by its pointer too, with ONNX Runtime's IOBinding: nothing goes through host memory,
    as a torch engine's call takes its inputs on the GPU and leaves its outputs there. A new input shape is run once
    more with outputs ONNX Runtime allocates, to learn their shapes and types. ONNX Runtime runs on a CUDA stream of
    its own: the call waits for the device before the run (torch's writes to the inputs) and after it (the outputs
    are complete when the call returns). ``session`` returns the session for the current thread count."""
    target = torch.device(device)
    device_type, device_id = target.type, target.index or 0
    layouts: dict[tuple, list[tuple[list[int], torch.dtype]]] = {}
    io: list[tuple[list[str], list[str]]] = []

    def names(made) -> tuple[list[str], list[str]]:
        """The model's input and output names, read once, not in every timed call: each session has the same."""
        if not io:
            io.append(([m.name for m in made.get_inputs()], [m.name for m in made.get_outputs()]))
        return io[0]

    def bound(made, inputs: list) -> Any:
        binding = made.io_binding()
        for name, t in zip(names(made)[0], inputs, strict=True):
            binding.bind_input(name, device_type, device_id, _numpy_type(t.dtype), list(t.shape), t.data_ptr())
        return binding

    def run(made, binding) -> None:
        binding.synchronize_inputs()
        made.run_with_iobinding(binding)
        binding.synchronize_outputs()

    def layout(made, inputs: list) -> list[tuple[list[int], torch.dtype]]:
        binding = bound(made, inputs)
        for name in names(made)[1]:
            binding.bind_output(name, device_type, device_id)
        run(made, binding)
        return [(list(value.shape()), _torch_dtype(value.element_type())) for value in binding.get_outputs()]

    def call(*inputs):
        made = session()
        inputs = [t.detach().contiguous() for t in inputs]
        key = tuple((tuple(t.shape), t.dtype) for t in inputs)
        if key not in layouts:
            layouts[key] = layout(made, inputs)
        binding = bound(made, inputs)
        outputs = [torch.empty(shape, dtype=dtype, device=inputs[0].device) for shape, dtype in layouts[key]]
        for name, out in zip(names(made)[1], outputs, strict=True):
            binding.bind_output(name, device_type, device_id, _numpy_type(out.dtype), list(out.shape), out.data_ptr())
        run(made, binding)
        return outputs[0]

    return call


OPTIMIZATION_LEVELS = ("none", "basic", "extended", "all")


def _check_optimization(optimization: str, **_) -> None:
    if optimization not in OPTIMIZATION_LEVELS:
        raise ValueError(
            f"onnxruntime: unknown optimization '{optimization}'; allowed: {', '.join(OPTIMIZATION_LEVELS)}"
        )


@register_engine(
    "onnxruntime",
    params={"optimization": "all"},
    check=_check_optimization,
    description="Export to ONNX and run with an ONNX Runtime session using the case's thread count.",
)
def onnxruntime_engine(compressed, example_inputs, placement, optimization: str) -> Prepared:
    """Export (unless the compression already produced ONNX), then one ORT session per thread count.

    ``compile_time_s`` covers export, graph optimisation and session creation. Sessions are made lazily with
    ``intra_op_num_threads`` = the thread count the runner set for the case (torch.get_num_threads()).
    """
    import onnxruntime

    levels = {
        "none": onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL,
        "basic": onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended": onnxruntime.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "all": onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL,
    }
    _check_optimization(optimization)
    check_exportable(compressed, placement)
    start = time.perf_counter()
    model = compressed.module
    if not isinstance(model, OnnxModel):
        model = export_onnx(model, example_inputs)
    providers = providers_for(placement)
    sessions: dict[int, onnxruntime.InferenceSession] = {}

    def session() -> onnxruntime.InferenceSession:
        threads = torch.get_num_threads()
        if threads not in sessions:
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            options.graph_optimization_level = levels[optimization]
            made = onnxruntime.InferenceSession(model.model_bytes, options, providers=providers)
            check_provider(made, placement)
            if placement.device_type == "cuda":  # else a CUDA failure in run() rebuilds it on the CPU, and it runs on
                made.disable_fallback()
            sessions[threads] = made
        return sessions[threads]

    names = [i.name for i in session().get_inputs()]

    def host_call(*inputs):
        feeds = {name: t.detach().cpu().numpy() for name, t in zip(names, inputs, strict=True)}
        return torch.from_numpy(session().run(None, feeds)[0])

    call = device_call(session, placement.device) if placement.device_type == "cuda" else host_call
    call(*example_inputs)
    info = {"compile_time_s": time.perf_counter() - start, "onnx_size_bytes": len(model.model_bytes), **model.info}
    info["onnxruntime_io"] = IO_ON_DEVICE if placement.device_type == "cuda" else IO_ON_HOST
    outside_torch = "ONNX Runtime's CUDA provider allocates device memory in its own arena"
    return Prepared(call=call, info=info, outside_torch=outside_torch if placement.device_type == "cuda" else None)

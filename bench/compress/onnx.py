"""ONNX Runtime's own dynamic int8 quantization, for the onnxruntime engine."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

from bench.compress import Compressed, register_compression
from bench.errors import NotApplicable


@register_compression(
    "ort-int8-dynamic",
    cached=lambda **_: True,
    params={"per_channel": True},
    description="ONNX export + onnxruntime.quantization.quantize_dynamic (int8 MatMul/Gemm); onnxruntime engine only.",
)
def ort_int8_dynamic(bundle, placement, per_channel: bool) -> Compressed:
    """The fp32 model exported to ONNX, then ``quantize_dynamic`` with int8 weights (``QInt8``)."""
    if placement.device_type != "cpu":
        raise NotApplicable("ONNX Runtime's dynamic int8 kernels (MatMulInteger) run on the CPU provider")
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from bench.engines.onnxruntime import OnnxModel, export_onnx, quiet_exporter_logs

    exported = export_onnx(bundle.module, bundle.make_inputs(1))
    with tempfile.TemporaryDirectory(prefix="bench-ort-") as folder:
        source, target = Path(folder) / "fp32.onnx", Path(folder) / "int8.onnx"
        source.write_bytes(without_initializer_value_info(exported.model_bytes))
        with quiet_exporter_logs(), version_specific_failures_skip():  # "consider pre-processing" on the root logger
            quantize_dynamic(source, target, weight_type=QuantType.QInt8, per_channel=per_channel)
        model = OnnxModel(target.read_bytes(), dict(exported.info))
    not_onnx = "ort-int8-dynamic produces an ONNX model: it runs only on the onnxruntime engine"
    return Compressed(
        module=model,
        info={
            "backend": "onnxruntime.quantization.quantize_dynamic (QInt8)",
            "fp32_onnx_bytes": len(exported.model_bytes),
        },
        unsupported_engines={"eager": not_onnx, "compile": not_onnx},
    )


def without_initializer_value_info(model_bytes: bytes) -> bytes:
    """The model without the ``value_info`` entries that repeat an initializer's shape.

    torch's exporter records every weight's shape there too. onnxruntime's ``quantize_dynamic`` before 1.32
    rewrites ``Gemm(transB=1)`` as ``MatMul`` by transposing the weight in place under the same name, leaving that
    entry stale, and onnx's shape inference then stops with "Inferred shape and existing shape differ"
    (microsoft/onnxruntime#25890). An initializer carries its own shape, so the copies can go.
    """
    import onnx

    proto = onnx.load_from_string(model_bytes)
    weights = {initializer.name for initializer in proto.graph.initializer}
    kept = [info for info in proto.graph.value_info if info.name not in weights]
    if len(kept) == len(proto.graph.value_info):
        return model_bytes
    del proto.graph.value_info[:]
    proto.graph.value_info.extend(kept)
    return proto.SerializeToString()


@contextlib.contextmanager
def version_specific_failures_skip() -> Iterator[None]:
    """Turn onnx's shape-inference and checker errors inside the quantizer into :class:`NotApplicable`: what one
    onnx/onnxruntime pair rejects in an exported graph is a skipped case naming the versions, not a crash."""
    import onnx
    import onnxruntime
    from onnx.checker import ValidationError
    from onnx.shape_inference import InferenceError

    try:
        yield
    except (InferenceError, ValidationError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise NotApplicable(
            f"onnxruntime {onnxruntime.__version__} quantize_dynamic fails on this export with onnx "
            f"{onnx.__version__}: {first_line}"
        ) from error

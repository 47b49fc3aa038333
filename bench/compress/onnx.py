"""ONNX Runtime's own dynamic int8 quantization, for the onnxruntime engine."""

from __future__ import annotations

import tempfile
from pathlib import Path

from bench.compress import Compressed, register_compression
from bench.errors import NotApplicable


@register_compression(
    "ort-int8-dynamic",
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
        source.write_bytes(exported.model_bytes)
        with quiet_exporter_logs():  # "consider pre-processing" advice on the root logger
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

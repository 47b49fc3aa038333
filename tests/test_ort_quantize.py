"""ort-int8-dynamic across onnx/onnxruntime versions: the export quantizes, and what a version pair rejects skips."""

from __future__ import annotations

import re

import onnx
import pytest
from onnx import helper, numpy_helper
from onnx.shape_inference import InferenceError

from bench.compress.onnx import without_initializer_value_info
from bench.engines.onnxruntime import export_onnx
from bench.errors import NotApplicable
from tests._zoo import compress, mlp_bundle, one_thread

# torch's exporter trips over torch's own pytree deprecation; not ours to fix
pytestmark = pytest.mark.filterwarnings(r"ignore:`isinstance\(treespec, LeafSpec\)` is deprecated:FutureWarning")


@pytest.fixture(autouse=True, scope="module")
def _single_thread():
    with one_thread():
        yield


@pytest.fixture(scope="module")
def bundle():
    return mlp_bundle()


def gemm_as_matmul_in_place(model_bytes: bytes) -> onnx.ModelProto:
    """What onnxruntime's quantizer before 1.32 does first: each Gemm(transB=1) becomes MatMul + Add, its weight
    transposed in place under the same name."""
    proto = onnx.load_from_string(model_bytes)
    weights = {initializer.name: initializer for initializer in proto.graph.initializer}
    nodes = []
    for node in proto.graph.node:
        if node.op_type != "Gemm":
            nodes.append(node)
            continue
        x, weight, bias = node.input
        weights[weight].CopyFrom(numpy_helper.from_array(numpy_helper.to_array(weights[weight]).T, weight))
        product = f"{node.output[0]}_MatMul"
        nodes += [
            helper.make_node("MatMul", [x, weight], [product]),
            helper.make_node("Add", [product, bias], node.output),
        ]
    del proto.graph.node[:]
    proto.graph.node.extend(nodes)
    return proto


def test_the_exported_weights_shapes_no_longer_contradict_the_quantizers_transpose(bundle):
    exported = export_onnx(bundle.module, bundle.make_inputs(1)).model_bytes
    assert any(node.op_type == "Gemm" for node in onnx.load_from_string(exported).graph.node)
    with pytest.raises(InferenceError, match="Inferred shape and existing shape differ"):
        onnx.shape_inference.infer_shapes(gemm_as_matmul_in_place(exported), strict_mode=True)
    stripped = without_initializer_value_info(exported)
    inferred = onnx.shape_inference.infer_shapes(gemm_as_matmul_in_place(stripped), strict_mode=True)
    assert {info.name for info in inferred.graph.value_info} >= {"linear", "relu"}  # activations still inferred
    assert without_initializer_value_info(stripped) is stripped  # nothing left to drop: the same bytes


def test_a_quantizer_rejected_by_this_onnx_is_a_skip_naming_both_versions(bundle, monkeypatch):
    import onnxruntime
    import onnxruntime.quantization

    def rejected(*args, **kwargs):
        raise InferenceError(
            "[ShapeInferenceError] Inferred shape and existing shape differ in dimension 0: (512) vs (64)"
        )

    monkeypatch.setattr(onnxruntime.quantization, "quantize_dynamic", rejected)
    versions = rf"onnxruntime {re.escape(onnxruntime.__version__)} .* onnx {re.escape(onnx.__version__)}"
    with pytest.raises(NotApplicable, match=rf"^{versions}: \[ShapeInferenceError\] Inferred shape"):
        compress("ort-int8-dynamic", bundle)

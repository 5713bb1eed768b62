"""A per-axis or block Q/DQ scale's axis must be one of the data's dims; a per-tensor scale's
axis is ignored. Cases as TensorRT-RTX 1.7.1's parser judged them (2-D INT8 weights, FLOAT
scales); ONNX's strict inference reports none of them, and DequantizeLinear has no `axis`
attribute before opset 13 (onnxruntime's quantizer writes one at opset 11 all the same)."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from trtforge.analyzer import check

PARSER = {  # (opset, scale kind, axis) -> the parser's verdict
    **{(o, k, a): True for o in (11, 13, 21) for k in ("tensor", "channel") for a in (1, -2)},
    **{(o, "tensor", a): True for o in (11, 13, 21) for a in (7, -3)},
    **{(o, "channel", a): False for o in (11, 13, 21) for a in (7, -3)},
    (21, "block", 1): True,
    (21, "block", -1): True,
    (21, "block", 7): False,
    (21, "block", -3): False,
    (21, "block", 0): False,  # blocks axis 0, but the [4, 2] scale differs from [4, 4] on dim 1
}


@pytest.mark.parametrize("opset, kind, axis", sorted(PARSER))
def test_quantization_axis(opset, kind, axis):
    shape = {"tensor": (), "channel": (4,), "block": (4, 2)}[kind]
    attrs = {"axis": axis, **({"block_size": 2} if kind == "block" else {})}
    inits = [
        numpy_helper.from_array(np.ones((4, 4), np.int8), "w"),
        numpy_helper.from_array(np.full(shape, 0.5, np.float32), "s"),
        numpy_helper.from_array(np.zeros(shape, np.int8), "z"),
    ]
    nodes = [
        helper.make_node("DequantizeLinear", ["w", "s", "z"], ["d"], name="dq", **attrs),
        helper.make_node("MatMul", ["x", "d"], ["y"], name="mm"),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4])],
        inits,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=7 if opset < 21 else 10
    )
    report = check(model, target="rtx-1", backend="static")
    codes = {r.code for n in report.nodes for r in n.reasons if r.severity == "error"}
    assert report.supported == PARSER[(opset, kind, axis)], codes
    expected = "dequantizelinear/block-scale-shape" if axis == 0 else "dequantizelinear/axis-range"
    assert (expected in codes) == (not PARSER[(opset, kind, axis)])

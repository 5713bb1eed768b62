"""The parser backend when TensorRT's parser cannot import an initializer (an INT16 zero point
from onnxruntime's 16-bit quantization): the parse fails before any node, so the failure goes
to the nodes that read the initializer, and the rest of the graph is still judged."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from _parser_helpers import requires_parser
from onnx import TensorProto, helper, numpy_helper

from trtforge.analyzer import check

pytestmark = [requires_parser, pytest.mark.parser]


def _int16_qdq() -> onnx.ModelProto:
    """x → Q/DQ with an INT16 zero point → Relu; an INT16 constant dequantized → Add; Sigmoid."""
    inits = [
        numpy_helper.from_array(np.array(0.01, np.float32), "s"),
        numpy_helper.from_array(np.array(0, np.int16), "zp"),
        numpy_helper.from_array(np.arange(6, dtype=np.int16).reshape(2, 3), "wq"),
    ]
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "s", "zp"], ["q"]),
        helper.make_node("DequantizeLinear", ["q", "s", "zp"], ["d"]),
        helper.make_node("Relu", ["d"], ["r"]),
        helper.make_node("DequantizeLinear", ["wq", "s", "zp"], ["w"]),
        helper.make_node("Add", ["r", "w"], ["a"]),
        helper.make_node("Sigmoid", ["a"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    model.ir_version = 10
    onnx.checker.check_model(model, full_check=True)
    return model


def test_unimportable_initializer_goes_to_its_readers() -> None:
    model = _int16_qdq()
    parser = check(model, target="rtx-1", backend="parser", advice=False)
    status = {v.op_type + str(v.index): v.status for v in parser.nodes}
    assert status == {
        "QuantizeLinear0": "unsupported",
        "DequantizeLinear1": "unsupported",
        "Relu2": "supported",
        "DequantizeLinear3": "unsupported",
        "Add4": "supported",
        "Sigmoid5": "supported",
    }, status
    q = parser.nodes[0]
    assert any("initializer" in f.message for f in q.reasons), [f.message for f in q.reasons]
    for verdict in parser.nodes[2:]:  # judged, not left to a graph-level failure
        assert not any(f.code == "parser/not-judged" for f in verdict.reasons), verdict
    assert not parser.graph_findings or all(
        f.code != "parser/INVALID_GRAPH" for f in parser.graph_findings
    )
    static = check(model, target="rtx-1", backend="static")
    assert [v.status for v in static.nodes] == [v.status for v in parser.nodes]

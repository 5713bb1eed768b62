"""Optional-typed values (`optional(tensor(...))`, opset 15+) in a model trt-rewrite changes.

onnx-graphsurgeon imports them but cannot export them (UnboundLocalError in its
export_value_info_proto): every pass that changed such a model ended in exit 3; and
verification refused to feed an optional input. They are written untyped and the graph's
inputs and outputs get their types back; an optional input is fed the tensor it holds.
"""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

from trtforge.analyzer import rewrite_file


def _save(tmp_path, name, graph) -> str:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    path = tmp_path / f"{name}.onnx"
    onnx.save(model, path)
    return path


def test_a_model_with_an_optional_input_is_rewritten_and_verified(tmp_path):
    """OptionalGetElement of an optional input, then an Identity fold-constants removes."""
    nodes = [
        helper.make_node("OptionalGetElement", ["o"], ["x"]),
        helper.make_node("Identity", ["x"], ["i"]),
        helper.make_node("Relu", ["i"], ["y"]),
    ]
    optional = helper.make_optional_type_proto(
        helper.make_tensor_type_proto(TensorProto.FLOAT, [2, 8])
    )
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_value_info("o", optional)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 8])],
    )
    src = _save(tmp_path, "opt", graph)
    out = tmp_path / "out.onnx"
    result = rewrite_file(src, out, ["fold-constants"])
    assert result.written and result.verification is not None and result.verification.ok
    written = onnx.load(out)
    onnx.checker.check_model(written, full_check=True)
    assert written.graph.input[0].type == optional
    assert "Identity" not in {n.op_type for n in written.graph.node}
    x = np.random.default_rng(0).standard_normal((2, 8)).astype(np.float32)
    want = ort.InferenceSession(str(src)).run(None, {"o": x})[0]
    got = ort.InferenceSession(str(out)).run(None, {"o": x})[0]
    np.testing.assert_array_equal(got, want)


def test_an_optional_intermediate_is_written_untyped(tmp_path):
    optional = helper.make_optional_type_proto(
        helper.make_tensor_type_proto(TensorProto.FLOAT, [2, 4])
    )
    graph = helper.make_graph(
        [
            helper.make_node("Identity", ["x"], ["i"]),
            helper.make_node("Optional", ["i"], ["o"]),
            helper.make_node("OptionalGetElement", ["o"], ["y"]),
        ],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4])],
        value_info=[helper.make_value_info("o", optional)],
    )
    out = tmp_path / "m.out.onnx"
    result = rewrite_file(_save(tmp_path, "mid", graph), out, ["fold-constants"])
    assert result.written and result.changed
    onnx.checker.check_model(onnx.load(out), full_check=True)

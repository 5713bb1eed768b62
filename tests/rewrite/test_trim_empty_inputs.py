"""trim-empty-inputs: an optional input left out with a trailing empty name, which several
TensorRT importers refuse, is dropped from the node's input list — in bodies too; trt-check
names the pass for those nodes only, and `--auto` makes them build."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from trtforge.analyzer import check, rewrite_file


def _gemm_and_slice() -> onnx.ModelProto:
    starts = numpy_helper.from_array(np.array([0], np.int64), "st")
    ends = numpy_helper.from_array(np.array([2], np.int64), "en")
    graph = helper.make_graph(
        [
            helper.make_node("Gemm", ["a", "b", ""], ["g"], name="gemm"),
            helper.make_node("Slice", ["g", "st", "en", "", ""], ["y"], name="slice"),
        ],
        "g",
        [
            helper.make_tensor_value_info("a", TensorProto.FLOAT, [2, 3]),
            helper.make_tensor_value_info("b", TensorProto.FLOAT, [3, 4]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4])],
        [starts, ends],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def test_trailing_empty_inputs_are_dropped_and_the_model_builds(tmp_path):
    model = _gemm_and_slice()
    report = check(model, target="rtx-1", backend="static")
    codes = {f.code for node in report.nodes for f in node.errors}
    assert codes == {"gemm/empty-input", "slice/empty-input"}
    fixes = {fix.name for node in report.nodes for f in node.errors for fix in f.fixes}
    assert fixes == {"trim-empty-inputs"}
    src = tmp_path / "m.onnx"
    onnx.save(model, src)
    result = rewrite_file(src, tmp_path / "out.onnx", auto=True, target="rtx-1")
    written = onnx.load(tmp_path / "out.onnx")
    assert [list(node.input) for node in written.graph.node] == [["a", "b"], ["g", "st", "en"]]
    onnx.checker.check_model(written, full_check=True)
    assert check(written, target="rtx-1", backend="static").supported
    assert result.written and result.verification is not None and result.failure is None


def test_an_empty_name_before_a_real_input_is_left_with_a_reason():
    starts = numpy_helper.from_array(np.array([0], np.int64), "st")
    steps = numpy_helper.from_array(np.array([1], np.int64), "sp")
    graph = helper.make_graph(
        [helper.make_node("Slice", ["x", "st", "st", "", "sp"], ["y"], name="slice")],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [starts, steps],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    (node,) = check(model, target="rtx-1", backend="static").nodes
    (finding,) = node.errors
    assert finding.code == "slice/empty-input"
    assert "trim-empty-inputs" not in {fix.name for fix in finding.fixes}


@pytest.mark.parametrize("branch", ["then_branch", "else_branch"])
def test_a_node_in_a_body_is_trimmed_too(tmp_path, branch):
    body = helper.make_graph(
        [helper.make_node("Gemm", ["a", "b", ""], ["g"], name="gemm")],
        "body",
        [],
        [helper.make_tensor_value_info("g", TensorProto.FLOAT, [2, 4])],
    )
    other = helper.make_graph(
        [helper.make_node("Gemm", ["a", "b"], ["h"], name="plain")],
        "other",
        [],
        [helper.make_tensor_value_info("h", TensorProto.FLOAT, [2, 4])],
    )
    bodies = {"then_branch": other, "else_branch": other}
    bodies[branch] = body
    graph = helper.make_graph(
        [helper.make_node("If", ["c"], ["y"], name="if", **bodies)],
        "g",
        [
            helper.make_tensor_value_info("c", TensorProto.BOOL, []),
            helper.make_tensor_value_info("a", TensorProto.FLOAT, [2, 3]),
            helper.make_tensor_value_info("b", TensorProto.FLOAT, [3, 4]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    assert not check(model, target="rtx-1", backend="static").supported
    src = tmp_path / "m.onnx"
    onnx.save(model, src)
    rewrite_file(src, tmp_path / "out.onnx", ["trim-empty-inputs"])
    written = onnx.load(tmp_path / "out.onnx")
    gemm = written.graph.node[0].attribute
    assert all(list(n.input) in (["a", "b"],) for a in gemm for n in a.g.node)
    assert check(written, target="rtx-1", backend="static").supported

"""fold-constants: static shape arithmetic folded; no-op nodes removed; graph outputs kept."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

SHAPE_K = """<ir_version: 8, opset_import: ["" : 17]>
g (float[2,8] x) => (float[2,4] v, int64[2,4] i) {
 s = Shape(x)
 one = Constant<value = int64 {1}>()
 d = Gather<axis=0>(s, one)
 two = Constant<value = int64 {2}>()
 k = Div(d, two)
 z = Constant<value = int64[1] {0}>()
 kk = Unsqueeze(k, z)
 v, i = TopK(x, kk)
}"""

NO_OPS = """<ir_version: 8, opset_import: ["" : 17]>
g (float[2,8] x) => (float[2,8] y, float[2,8] w) {
 c = Cast<to=1>(x)
 dr = Dropout(c)
 id = Identity(dr)
 sh = Constant<value = int64[2] {2,8}>()
 r = Reshape(id, sh)
 y = Relu(r)
 w = Identity(x)
}"""


def test_shape_arithmetic_becomes_a_constant_k(rw):
    original = rw.parse(SHAPE_K)
    result = rw.apply(original, "fold-constants")
    assert rw.ops(result.proto) == {"TopK": 1}
    (topk,) = result.proto.graph.node
    k = next(t for t in result.proto.graph.initializer if t.name == topk.input[1])
    assert onnx.numpy_helper.to_array(k).tolist() == [4]
    rw.same(original, result.proto)
    assert not rw.apply(result.proto, "fold-constants").changed


def test_no_op_nodes_removed(rw):
    original = rw.parse(NO_OPS)
    result = rw.apply(original, "fold-constants")
    assert rw.ops(result.proto) == {"Relu": 1, "Identity": 1}
    (relu,) = [n for n in result.proto.graph.node if n.op_type == "Relu"]
    assert list(relu.input) == ["x"]
    assert [o.name for o in result.proto.graph.output] == ["y", "w"]
    skips = result.passes["fold-constants"].skips
    assert any("'w' is a graph output" in s.reason for s in skips)
    rw.same(original, result.proto)


def test_graph_output_name_is_kept_when_the_producer_can_take_it(rw):
    original = rw.parse("""<ir_version: 8, opset_import: ["" : 17]>
    g (float[2,8] x) => (float[2,8] y) {
     r = Relu(x)
     y = Identity(r)
    }""")
    result = rw.apply(original, "fold-constants")
    (node,) = result.proto.graph.node
    assert node.op_type == "Relu" and list(node.output) == ["y"]
    rw.same(original, result.proto)


def test_real_cast_and_reshape_kept(rw):
    original = rw.parse("""<ir_version: 8, opset_import: ["" : 17]>
    g (float[2,8] x) => (float16[4,4] y) {
     c = Cast<to=10>(x)
     sh = Constant<value = int64[2] {4,4}>()
     y = Reshape(c, sh)
    }""")
    result = rw.apply(original, "fold-constants")
    assert rw.ops(result.proto) == {"Cast": 1, "Reshape": 1}
    x = np.ones((2, 8), np.float32)
    del x


def test_training_dropout_kept(rw):
    original = rw.parse("""<ir_version: 8, opset_import: ["" : 17]>
    g (float[2,8] x) => (float[2,8] y) <float ratio = {0.5}, bool t = {1}> {
     d = Dropout(x, ratio, t)
     y = Relu(d)
    }""")
    result = rw.apply(original, "fold-constants")
    assert rw.ops(result.proto)["Dropout"] == 1


@pytest.mark.parametrize(
    "node",
    [
        "r = RandomNormal<shape=[2, 4]>()",
        "r = RandomUniformLike(c)",
        "r = Bernoulli(p)",
        "r = Dropout(c, ratio, training)",
    ],
)
def test_random_ops_are_not_folded(rw, node):
    """Their output is drawn again on every run: folded, the model's noise would be one fixed
    tensor (verification's two sessions draw alike and cannot tell)."""
    model = onnx.parser.parse_model(
        f"""<ir_version: 8, opset_import: ["" : 17]>
        g (float[2, 4] x) => (float[2, 4] y)
          <float[2, 4] c = {{1., 2., 3., 4., 5., 6., 7., 8.}},
           float[2, 4] p = {{0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5}},
           float ratio = {{0.5}}, bool training = {{1}}> {{
          {node}
          y = Add(x, r)
        }}"""
    )
    result = rw.apply(model, "fold-constants")
    ops = {n.op_type for n in result.proto.graph.node}
    assert node.split("=")[1].split("(")[0].split("<")[0].strip() in ops


def test_unused_initializers_are_dropped(tmp_path):
    """The parser imports every initializer, used or not, and an INT16 one fails the parse:
    fold-constants drops those nothing reads (graphsurgeon leaves them out of its graph, so
    the pass reports the change that writing the graph out makes)."""
    from onnx import TensorProto, helper

    from trtforge.analyzer import check, rewrite_file

    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"], name="relu")],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
        [helper.make_tensor("u", TensorProto.INT16, [2], [0, 1])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    report = check(model, target="rtx-1", backend="static")
    (finding,) = report.graph_findings
    assert finding.code == "graph/initializer-dtype"
    assert [fix.name for fix in finding.fixes] == ["fold-constants"]
    onnx.save(model, tmp_path / "m.onnx")
    result = rewrite_file(tmp_path / "m.onnx", tmp_path / "out.onnx", auto=True, target="rtx-1")
    assert result.written and result.passes["fold-constants"].applied == 1
    written = onnx.load(tmp_path / "out.onnx")
    assert not written.graph.initializer
    assert check(written, target="rtx-1", backend="static").supported

"""loop-concat-scan: a Loop that grows a carried tensor (empty at first) by Concat each
iteration becomes a scan output and a Reshape; the results agree with the original Loop in
onnxruntime for 0, 1 and several iterations. Loops of any other form are left."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest

LOOP = """<ir_version: 8, opset_import: ["" : 17]>
g (int64 n, float[3] x) => (float[?,3] y, float[?] z) <bool yes = {{1}}, int64[1] ax = {{0}},
    int64[1] three = {{3}}, int64[1] zero1 = {{0}}> {{
  {init}
  ones = Constant <value = float[0] {{}}> ()
  y, z = Loop(n, yes, acc0, ones) <body = b (int64 i, bool c, float[?,3] acc, float[?] keep)
      => (bool co, float[?,3] acc_out, float[?] keep_out) {{
    co = Identity(c)
    fi = Cast<to=1>(i)
    row = Add(x, fi)
    {piece}
    acc_out = Concat<axis=0>({first}, piece)
    keep_out = Concat<axis=0>(keep, keep)
  }}>
}}"""

CONST_INIT = "acc0 = Constant <value = float[0,3] {}> ()"
#: torch.zeros((0, k)) with k read from a shape: ConstantOfShape of a Concat
SHAPE_INIT = (
    "shx = Shape(x)\n  acc_shape = Concat<axis=0>(zero1, shx)\n"
    "  acc0 = ConstantOfShape <value = float[1] {0}> (acc_shape)"
)
PIECE = "piece = Unsqueeze(row, ax)"


def model(init=CONST_INIT, piece=PIECE, first="acc"):
    text = LOOP.format(init=init, piece=piece, first=first)
    proto = onnx.parser.parse_model(text)
    onnx.checker.check_model(proto, full_check=True)
    return proto


def run(proto, n):
    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {"n": np.array(n, np.int64), "x": np.arange(3, dtype=np.float32)})


@pytest.mark.parametrize("init", [CONST_INIT, SHAPE_INIT], ids=["constant", "constant-of-shape"])
@pytest.mark.parametrize("cast", [False, True], ids=["plain", "no-op-cast"])
def test_growing_value_becomes_a_scan_output(rw, init, cast):
    first = "acc"
    piece = PIECE
    if cast:  # the exporter casts the carried value to its own type before the Concat
        piece += "\n    accf = Cast<to=1>(acc)"
        first = "accf"
    original = model(init, piece, first)
    result = rw.apply(original, "loop-concat-scan")
    assert result.passes["loop-concat-scan"].applied == 1
    onnx.checker.check_model(result.proto, full_check=True)
    loop = next(n for n in result.proto.graph.node if n.op_type == "Loop")
    assert len(loop.input) == 3  # the growing value is no longer carried; `keep` still is
    assert len(loop.attribute[0].g.output) == 3  # cond, keep, the scan output
    for n in (0, 1, 4):
        want, got = run(original, n), run(result.proto, n)
        for a, b in zip(want, got, strict=True):
            assert a.shape == b.shape and a.dtype == b.dtype, (n, a.shape, b.shape)
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "init,piece",
    [
        (CONST_INIT, "s = ReduceSum<keepdims=1>(acc, ax)\n    piece = Add(s, row)"),
        ("acc0 = Constant <value = float[1,3] {1, 2, 3}> ()", PIECE),
    ],
    ids=["piece-reads-the-value", "initial-not-empty"],
)
def test_other_loops_are_left(rw, init, piece):
    result = rw.apply(model(init, piece), "loop-concat-scan")
    assert result.passes["loop-concat-scan"].applied == 0 and not result.changed


def test_the_pass_is_not_promised_for_loops_it_leaves():
    """A carried value that starts with rows, or grows by a piece computed from itself:
    trt-check named loop-concat-scan, and `--auto` then applied nothing ("1 before → 1
    after")."""
    from onnx import TensorProto, helper, numpy_helper

    from trtforge.analyzer import check

    def loop(start_rows: int, piece_reads_acc: bool, grow=("acc_in", "piece"), also=()):
        vi = helper.make_tensor_value_info
        piece = [helper.make_node("Identity", ["x"], ["piece"]), *also]
        if piece_reads_acc:
            piece = [
                helper.make_node("ReduceSum", ["acc_in"], ["s"], keepdims=1, axes=[0]),
                helper.make_node("Add", ["x", "s"], ["piece"]),
            ]
        body = helper.make_graph(
            [
                helper.make_node("Identity", ["cond_in"], ["cond_out"]),
                *piece,
                helper.make_node("Concat", list(grow), ["acc_out"], axis=0),
            ],
            "body",
            [vi("i", TensorProto.INT64, []), vi("cond_in", TensorProto.BOOL, []),
             vi("acc_in", TensorProto.FLOAT, [None, 4])],
            [vi("cond_out", TensorProto.BOOL, []), vi("acc_out", TensorProto.FLOAT, [None, 4])],
        )  # fmt: skip
        graph = helper.make_graph(
            [helper.make_node("Loop", ["n", "c", "acc0"], ["acc"], body=body)],
            "g",
            [vi("x", TensorProto.FLOAT, [1, 4])],
            [vi("acc", TensorProto.FLOAT, [None, 4])],
            [
                numpy_helper.from_array(np.array(3, np.int64), "n"),
                numpy_helper.from_array(np.array(True), "c"),
                numpy_helper.from_array(np.zeros((start_rows, 4), np.float32), "acc0"),
            ],
        )
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 12)])

    def named(model):
        report = check(model, target="rtx-1", backend="static")
        return "loop-concat-scan" in {f.name for n in report.unsupported_nodes for f in n.fixes}

    assert named(loop(0, False))
    assert not named(loop(1, False)) and not named(loop(0, True))
    assert not named(loop(0, False, grow=("acc_in", "piece", "piece")))
    assert not named(loop(0, False, grow=("piece", "acc_in")))
    assert not named(loop(0, False, also=[helper.make_node("Shape", ["acc_in"], ["seen"])]))

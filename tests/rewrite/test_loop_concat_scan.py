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

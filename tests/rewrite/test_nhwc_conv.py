"""decompose-contrib on com.microsoft NhwcConv, the channels-last Conv onnxruntime's transformer
optimizer writes for UNets and VAEs, and the verification of models onnxruntime's CPU build
cannot run (no NhwcConv kernel).

The op's meaning is the one onnxruntime's NhwcConv fusion gives it: Conv(x, w) becomes
Transpose(0,2,3,1) · NhwcConv(·, w transposed (0,2,3,1)) · Transpose(0,3,1,2). Each case builds
that form from a Conv and checks the decomposition against the Conv in onnxruntime."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from trtforge.analyzer.rewrite.contrib_reference import REFERENCE_OPS, reference_ops
from trtforge.analyzer.rewrite.verify import run_model

MS = "com.microsoft"


def _models(rank=4, group=1, bias=True, **conv_attrs):
    """(the Conv model, its NhwcConv form as onnxruntime's optimizer writes it)."""
    rng = np.random.default_rng(0)
    spatial = [6, 5][: rank - 2] if rank > 3 else [7]
    channels, maps = 4, 6
    shape = [1, channels, *spatial]
    w = (rng.standard_normal((maps, channels // group, *[3] * (rank - 2))) * 0.3).astype("f")
    b = rng.standard_normal(maps).astype("f")
    attrs = {"group": group, **conv_attrs}
    inits = [numpy_helper.from_array(w, "w")] + ([numpy_helper.from_array(b, "b")] if bias else [])
    conv_inputs = ["x", "w"] + (["b"] if bias else [])

    def model(nodes, extra):
        graph = helper.make_graph(
            nodes,
            "g",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
            inits + extra,
        )
        opsets = [helper.make_opsetid("", 17), helper.make_opsetid(MS, 1)]
        return helper.make_model(graph, opset_imports=opsets)

    last = [0, *range(2, rank), 1]
    first = [0, rank - 1, *range(1, rank - 1)]
    conv = model([helper.make_node("Conv", conv_inputs, ["y"], **attrs)], [])
    w_last = numpy_helper.from_array(np.ascontiguousarray(w.transpose(last)), "w_nhwc")
    nhwc_inputs = ["x_nhwc", "w_nhwc"] + (["b"] if bias else [])
    nhwc = model(
        [
            helper.make_node("Transpose", ["x"], ["x_nhwc"], perm=last),
            helper.make_node("NhwcConv", nhwc_inputs, ["y_nhwc"], domain=MS, **attrs),
            helper.make_node("Transpose", ["y_nhwc"], ["y"], perm=first),
        ],
        [w_last],
    )
    return conv, nhwc, shape


CASES = {
    "plain": {},
    "no-bias": {"bias": False},
    "grouped": {"group": 2},
    "strided-padded-dilated": {"strides": [2, 1], "pads": [1, 2, 1, 2], "dilations": [1, 2]},
    "conv1d": {"rank": 3, "pads": [1, 1]},
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_nhwc_conv_decomposes_to_what_the_conv_computed(rw, case):
    conv, nhwc, shape = _models(**CASES[case])
    result = rw.apply(nhwc, "decompose-contrib", target="rtx-1")
    assert result.passes["decompose-contrib"].applied == 1, result.passes["decompose-contrib"]
    assert not any(n.domain == MS for n in result.proto.graph.node)
    x = np.random.default_rng(1).standard_normal(shape).astype("f")
    want = run_model(conv, {"x": x})["y"]
    np.testing.assert_allclose(run_model(result.proto, {"x": x})["y"], want, rtol=1e-5, atol=1e-5)
    # the reference verification uses computes the same
    got = ReferenceEvaluator(nhwc, new_ops=REFERENCE_OPS).run(None, {"x": x})[0]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_a_model_onnxruntime_cannot_run_is_verified_by_regions(tmp_path, capsys):
    """Two NhwcConvs and a FastGelu (which onnxruntime's CPU build runs) between them: no
    whole-model run, the replaced nodes computed with the references, one node at a time in
    onnxruntime for the FastGelu."""
    from trtforge.analyzer.cli.rewrite import main

    _, first, _ = _models()
    graph = first.graph
    w2 = np.random.default_rng(2).standard_normal((6, 3, 3, 6)).astype("f") * 0.3
    graph.initializer.append(numpy_helper.from_array(w2, "w2"))
    graph.node[-1].output[0] = "y1"
    graph.node.extend(
        [
            helper.make_node("FastGelu", ["y_nhwc"], ["g"], domain=MS),
            helper.make_node("NhwcConv", ["g", "w2"], ["y2"], domain=MS, pads=[1, 1, 1, 1]),
            helper.make_node("Transpose", ["y2"], ["y"], perm=[0, 3, 1, 2]),
        ]
    )
    graph.output[0].CopyFrom(helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 6, 4, 3]))
    src = tmp_path / "m.onnx"
    onnx.save(first, src)
    out = tmp_path / "o.onnx"
    assert main([str(src), "-o", str(out), "--decompose-contrib", "--target", "rtx-1"]) == 0
    err = capsys.readouterr().err
    assert "verified" in err and "computed with onnx.reference" in err
    assert not any(n.domain == MS for n in onnx.load(out).graph.node)


def test_contrib_ops_onnx_reference_lacks_run_one_node_at_a_time_in_onnxruntime():
    x = np.linspace(-3, 3, 12, dtype="f").reshape(3, 4)
    graph = helper.make_graph(
        [helper.make_node("FastGelu", ["x"], ["y"], domain=MS)],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 4])],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(MS, 1)]
    )
    got = ReferenceEvaluator(model, new_ops=reference_ops(model)).run(None, {"x": x})[0]
    np.testing.assert_allclose(got, run_model(model, {"x": x})["y"], rtol=1e-6)

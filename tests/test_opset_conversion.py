"""`opset_conversion.convert_version`: a model converted from below opset 11 computes what it
computed (onnx's converter turns Upsample and Resize-10 into a Resize that samples at
half-pixel centres and rounds to the nearest, not the old asymmetric floor), and what uses it
(trt-quantize below opset 13, trt-rewrite --upgrade-opset) writes such models."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from trtforge.analyzer.opset_conversion import convert_version
from trtforge.analyzer.rewrite.verify import run_model


def _upsample(op: str, opset: int, mode: str, scales) -> onnx.ModelProto:
    inputs, inits, attrs = ["x"], [], {"mode": mode}
    if opset >= 9:
        inits.append(numpy_helper.from_array(np.array(scales, np.float32), "s"))
        inputs.append("s")
    else:
        attrs["scales"] = [float(v) for v in scales]
    graph = helper.make_graph(
        [helper.make_node(op, inputs, ["y"], **attrs)],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 5, 7])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=5)


CASES = [
    ("Upsample", 7, "linear"),
    ("Upsample", 7, "nearest"),
    ("Upsample", 9, "linear"),
    ("Upsample", 9, "nearest"),
    ("Resize", 10, "linear"),
    ("Resize", 10, "nearest"),
]


@pytest.mark.parametrize(("op", "opset", "mode"), CASES)
@pytest.mark.parametrize("scales", [[1, 1, 2, 2], [1, 1, 1.5, 2.5], [1, 1, 3, 1.7]])
def test_a_converted_resize_computes_what_the_old_op_computed(op, opset, mode, scales):
    model = _upsample(op, opset, mode, scales)
    x = np.random.default_rng(0).standard_normal((1, 2, 5, 7)).astype(np.float32)
    want = run_model(model, {"x": x})["y"]
    for target in (11, 13, 17):
        converted = convert_version(model, target)
        onnx.checker.check_model(converted, full_check=True)
        got = run_model(converted, {"x": x})["y"]
        np.testing.assert_array_equal(got, want)


def test_a_model_converted_from_opset_11_is_left_as_the_converter_makes_it():
    """Resize-11 already says how it samples: the converter keeps it, and so does this."""
    graph = helper.make_graph(
        [helper.make_node("Resize", ["x", "", "s"], ["y"], mode="linear")],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 5, 7])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "s")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)], ir_version=6)
    (node,) = [n for n in convert_version(model, 13).graph.node if n.op_type == "Resize"]
    assert {a.name for a in node.attribute} == {"mode"}


def test_upgrade_opset_verifies_a_linear_upsample(tmp_path, capsys):
    from trtforge.analyzer.cli.rewrite import main

    src = tmp_path / "m.onnx"
    model = _upsample("Upsample", 9, "linear", [1, 1, 2, 2])
    model.graph.output[0].CopyFrom(
        helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 10, 14])
    )
    onnx.save(model, src)
    assert main([str(src), "-o", str(tmp_path / "o.onnx"), "--upgrade-opset", "17"]) == 0
    assert "verified" in capsys.readouterr().err


def test_trt_quantize_keeps_an_opset_9_upsample_s_sampling():
    """trt-quantize converts a model below opset 13 first: its INT8 model followed the
    converter's half-pixel sampling (mean error 0.4 against the input on this model, while
    its accuracy report, against the converted float model, said 0.02)."""
    from trtforge.analyzer.quantize import quantize

    rng = np.random.default_rng(0)
    w = numpy_helper.from_array((rng.standard_normal((4, 2, 3, 3)) * 0.3).astype(np.float32), "w")
    s = numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "s")
    graph = helper.make_graph(
        [
            helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
            helper.make_node("Upsample", ["c", "s"], ["y"], mode="linear"),
        ],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 16, 16])],
        [w, s],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 9)], ir_version=5)
    feeds = [{"x": rng.standard_normal((1, 2, 8, 8)).astype(np.float32)} for _ in range(8)]
    result = quantize(model, feeds, method="minmax")
    for feed in feeds[:2]:
        want, got = run_model(model, feed)["y"], run_model(result.proto, feed)["y"]
        assert float(np.abs(want - got).mean()) < 0.05

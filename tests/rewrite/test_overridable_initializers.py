"""Initializers that are also graph inputs (IR 4 and later) are defaults the caller may
override: no pass reads their value, and the written model still takes them as inputs.

graphsurgeon imports them as Constants and drops the input, so fold-constants folded `W * 2`
into a constant and the written model refused `W` ("Invalid input name"), verified, exit 0 —
verification feeds only the inputs that have no initializer, so it could not notice.
"""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from trtforge.analyzer import rewrite_file


def _value(name: str, shape) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def _save(tmp_path, name: str, nodes, inputs, outputs, inits, opset: int = 17):
    model = helper.make_model(
        helper.make_graph(nodes, "g", inputs, outputs, inits),
        opset_imports=[helper.make_opsetid("", opset)],
    )
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    path = tmp_path / f"{name}.onnx"
    onnx.save(model, path)
    return path


def _run(path, feeds):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, feeds)[0]


def _scale_model(tmp_path, opset: int = 17):
    """y = x + W·2 + C·3: W overridable (default ones), C a constant."""
    nodes = [
        helper.make_node("Mul", ["W", "two"], ["w2"]),
        helper.make_node("Mul", ["C", "three"], ["c3"]),
        helper.make_node("Add", ["x", "w2"], ["s"]),
        helper.make_node("Add", ["s", "c3"], ["y"]),
    ]
    inits = [
        numpy_helper.from_array(np.ones(4, np.float32), "W"),
        numpy_helper.from_array(np.array([2], np.float32), "two"),
        numpy_helper.from_array(np.full(4, 0.5, np.float32), "C"),
        numpy_helper.from_array(np.array([3], np.float32), "three"),
    ]
    return _save(
        tmp_path, "scale", nodes, [_value("x", [4]), _value("W", [4])], [_value("y", [4])], inits,
        opset,
    )  # fmt: skip


def test_fold_constants_keeps_an_overridable_initializer_an_input(tmp_path):
    src = _scale_model(tmp_path)
    out = tmp_path / "out.onnx"
    result = rewrite_file(src, out, ["fold-constants"])
    assert result.written
    written = onnx.load(out)
    onnx.checker.check_model(written, full_check=True)
    assert [v.name for v in written.graph.input] == ["x", "W"]
    defaults = {t.name: numpy_helper.to_array(t) for t in written.graph.initializer}
    np.testing.assert_array_equal(defaults["W"], np.ones(4, np.float32))
    assert "Mul" in {n.op_type for n in written.graph.node}  # W·2 stays a computation
    assert "C" not in defaults  # C·3 was folded
    x = np.arange(4, dtype=np.float32)
    for feeds in ({"x": x}, {"x": x, "W": np.full(4, 5, np.float32)}):
        np.testing.assert_allclose(_run(out, feeds), _run(src, feeds), rtol=1e-6)


def test_upgrade_opset_keeps_an_overridable_initializer_an_input(tmp_path):
    src = _scale_model(tmp_path, opset=11)
    out = tmp_path / "up.onnx"
    assert rewrite_file(src, out, ["upgrade-opset"]).written
    written = onnx.load(out)
    assert written.opset_import[0].version > 11
    assert [v.name for v in written.graph.input] == ["x", "W"]
    feeds = {"x": np.zeros(4, np.float32), "W": np.full(4, -1, np.float32)}
    np.testing.assert_allclose(_run(out, feeds), _run(src, feeds), rtol=1e-6)


def test_an_overridable_epsilon_is_not_made_an_attribute(tmp_path):
    """A LayerNorm pattern whose epsilon is an overridable input: fusing it would fix the
    epsilon at its default; the model keeps computing with the fed one."""
    nodes = [
        helper.make_node("ReduceMean", ["x"], ["mean"], axes=[-1]),
        helper.make_node("Sub", ["x", "mean"], ["d"]),
        helper.make_node("Pow", ["d", "e"], ["sq"]),
        helper.make_node("ReduceMean", ["sq"], ["var"], axes=[-1]),
        helper.make_node("Add", ["var", "eps"], ["ve"]),
        helper.make_node("Sqrt", ["ve"], ["std"]),
        helper.make_node("Div", ["d", "std"], ["y"]),
    ]
    inits = [
        numpy_helper.from_array(np.array(2.0, np.float32), "e"),
        numpy_helper.from_array(np.array(1e-5, np.float32), "eps"),
    ]
    src = _save(
        tmp_path, "ln", nodes, [_value("x", [2, 8]), _value("eps", [])], [_value("y", [2, 8])],
        inits,
    )  # fmt: skip
    out = tmp_path / "ln.out.onnx"
    assert rewrite_file(src, out, ["fuse-layernorm"]).written
    feeds = {
        "x": np.random.default_rng(0).standard_normal((2, 8)).astype(np.float32),
        "eps": np.array(100.0, np.float32),
    }
    assert [v.name for v in onnx.load(out).graph.input] == ["x", "eps"]
    np.testing.assert_allclose(_run(out, feeds), _run(src, feeds), rtol=1e-5)


def test_initializers_all_listed_as_inputs_are_weights(tmp_path):
    """An exporter that lists every initializer as a graph input (`keep_initializers_as_inputs`,
    the onnx wheel's test models) declares no defaults: they are folded as weights, as
    TensorRT takes them (lower-sequences read the onnx wheel's sequence positions so, and
    stopped when they were made inputs)."""
    nodes = [
        helper.make_node("Mul", ["W", "two"], ["w2"]),
        helper.make_node("Add", ["x", "w2"], ["y"]),
    ]
    inits = [
        numpy_helper.from_array(np.ones(4, np.float32), "W"),
        numpy_helper.from_array(np.array([2], np.float32), "two"),
    ]
    inputs = [_value("x", [4]), _value("W", [4]), _value("two", [1])]
    src = _save(tmp_path, "all", nodes, inputs, [_value("y", [4])], inits)
    out = tmp_path / "all.out.onnx"
    assert rewrite_file(src, out, ["fold-constants"]).written
    assert "Mul" not in {n.op_type for n in onnx.load(out).graph.node}

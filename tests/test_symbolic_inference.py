"""onnxruntime's symbolic shape inference, as trtforge runs it (`inference.onnxruntime_symbolic`):
the types it finds, and no file written where the user runs the command.

onnxruntime's own `SymbolicShapeInference.infer_shapes` saves a model it could not infer
completely, weights included, as `sym_shape_infer_temp.onnx` (and a data file) in the current
directory before raising; trt-check's parser backend, trt-quantize and the regional
verification of trt-rewrite all read types from it.
"""

from __future__ import annotations

import numpy as np
import onnx
import onnx.parser
import pytest

from trtforge.analyzer import inference

pytest.importorskip("onnxruntime")

#: a custom op (no schema anywhere) in front: the symbolic inference stops there
_INCOMPLETE = """<ir_version: 8, opset_import: ["": 17, "my.ops": 1]>
g (float[4,4] x) => (float y) <float[4,4] w = {1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16}> {
    a = Relu(x)
    c = my.ops.Custom(a)
    d = MatMul(c, w)
    y = Relu(d)
}"""


def _incomplete_model() -> onnx.ModelProto:
    model = onnx.parser.parse_model(_INCOMPLETE)
    # weights worth saving as external data: what onnxruntime would have written beside
    big = onnx.numpy_helper.from_array(np.ones((64, 64), np.float32), "big")
    model.graph.initializer.append(big)
    return model


def test_an_incomplete_inference_writes_nothing_and_keeps_what_it_found(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    model = _incomplete_model()
    inferred = inference.onnxruntime_symbolic(model)
    assert inferred is not None
    assert list(tmp_path.iterdir()) == []
    types = inference.symbolic_types(model, {"a", "c", "d"})
    assert list(tmp_path.iterdir()) == []
    assert set(types) == {"a"}  # inferred before the custom op; the custom op's type is empty
    assert types["a"].tensor_type.elem_type == onnx.TensorProto.FLOAT


def test_a_complete_inference_types_contrib_outputs(monkeypatch, tmp_path):
    """The types of a com.microsoft op's output and what follows it (what ONNX cannot)."""
    monkeypatch.chdir(tmp_path)
    model = onnx.parser.parse_model(
        """<ir_version: 8, opset_import: ["": 17, "com.microsoft": 1]>
        g (float[2,8] x) => (float y) {
            g = com.microsoft.FastGelu(x)
            y = Relu(g)
        }"""
    )
    types = inference.symbolic_types(model, {"g"})
    assert types["g"].tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert [d.dim_value for d in types["g"].tensor_type.shape.dim] == [2, 8]
    assert list(tmp_path.iterdir()) == []


def test_a_missing_onnxruntime_step_gives_no_types(monkeypatch):
    """Should onnxruntime rename the steps run here, no types (never its saving path)."""
    from onnxruntime.tools import symbolic_shape_infer

    monkeypatch.delattr(symbolic_shape_infer.SymbolicShapeInference, "_infer_impl")
    assert inference.onnxruntime_symbolic(_incomplete_model()) is None


def test_trt_check_parser_backend_writes_nothing_beside_the_user(monkeypatch, tmp_path):
    """The parser backend reads symbolic types for what ONNX leaves untyped: run from a
    folder, it leaves that folder as it was."""
    pytest.importorskip("tensorrt_rtx")
    from trtforge.analyzer.cli import check as cli

    model_dir = tmp_path / "models"
    model_dir.mkdir()
    onnx.save(_incomplete_model(), model_dir / "m.onnx")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert cli.main([str(model_dir / "m.onnx"), "--backend", "parser", "--format", "json"]) == 1
    assert list(work.iterdir()) == []
    assert sorted(p.name for p in model_dir.iterdir()) == ["m.onnx"]

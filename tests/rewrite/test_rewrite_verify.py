"""Verification: explicit per-dtype tolerances, random inputs per dtype, worst output reported."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from trtforge.analyzer.rewrite import verify as V


def test_tolerances_are_explicit_per_dtype():
    assert V.TOLERANCES["FLOAT"] == (1e-4, 1e-4)
    assert V.TOLERANCES["FLOAT16"] == (1e-2, 1e-2)
    assert V.TOLERANCES["BFLOAT16"] == (5e-2, 5e-2)
    assert "INT64" not in V.TOLERANCES  # integers compare exactly


def test_compare_float_within_and_beyond_tolerance():
    ref = np.array([1.0, 100.0, -3.0], np.float32)
    ok = V.compare("y", ref, ref + np.array([5e-5, 5e-3, 0], np.float32), onnx.TensorProto.FLOAT)
    assert ok.ok
    bad = V.compare("y", ref, ref + np.array([0, 0, 1e-3], np.float32), onnx.TensorProto.FLOAT)
    assert not bad.ok and bad.worst_index == (2,)
    assert bad.max_abs_diff == pytest.approx(1e-3, rel=1e-2)


def test_compare_nan_and_ints_and_shapes():
    nan = np.array([np.nan, 1.0], np.float32)
    assert V.compare("y", nan, nan.copy(), onnx.TensorProto.FLOAT).ok
    assert not V.compare("y", nan, np.array([0.0, 1.0], np.float32), onnx.TensorProto.FLOAT).ok
    ints = np.array([1, 2, 3], np.int64)
    assert V.compare("i", ints, ints.copy(), onnx.TensorProto.INT64).ok
    assert not V.compare("i", ints, ints + np.array([0, 0, 1]), onnx.TensorProto.INT64).ok
    assert not V.compare("y", np.zeros((2, 3)), np.zeros((3, 2)), onnx.TensorProto.FLOAT).ok


def test_inputs_follow_dtype_and_dynamic_dims():
    model = onnx.parser.parse_model("""<ir_version: 8, opset_import: ["" : 17]>
    g (float16[batch, 4] a, int64[batch, seq] ids, bool[2] m, float[N] w) => (float16[batch, 4] y) {
     y = Identity(a)
    }""")
    feeds = V.make_inputs(model, seed=0, dims={"seq": 5})
    assert feeds["a"].dtype == np.float16 and feeds["a"].shape == (V.DEFAULT_DIM, 4)
    assert feeds["ids"].dtype == np.int64 and feeds["ids"].shape == (V.DEFAULT_DIM, 5)
    assert feeds["ids"].min() >= 0 and feeds["ids"].max() < 4
    assert feeds["m"].dtype == np.bool_
    assert feeds["w"].shape == (V.DEFAULT_DIM,)


def test_verify_reports_the_worst_output():
    original = onnx.parser.parse_model("""<ir_version: 8, opset_import: ["" : 17]>
    g (float[2,4] x) => (float[2,4] a, float[2,4] b) { a = Relu(x)
     b = Sigmoid(x) }""")
    broken = onnx.parser.parse_model("""<ir_version: 8, opset_import: ["" : 17]>
    g (float[2,4] x) => (float[2,4] a, float[2,4] b) { a = Relu(x)
     b = Tanh(x) }""")
    result = V.verify(original, broken)
    assert not result.ok
    assert result.worst.name == "b"
    assert "output 'b'" in result.describe_worst()
    assert V.verify(original, original).ok


def test_large_models_go_through_a_file(monkeypatch):
    # past INLINE_LIMIT (1 GiB) the model is saved with external data and run from the file
    monkeypatch.setattr(V, "INLINE_LIMIT", 0)
    original = onnx.parser.parse_model("""<ir_version: 8, opset_import: ["" : 17]>
    g (float[2,4] x) => (float[2,4] a) <float[4] w = {1,2,3,4}> { a = Mul(x, w) }""")
    assert V.verify(original, original).ok

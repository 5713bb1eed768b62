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


def test_a_value_of_unknown_element_type_takes_its_array_s_tolerance():
    """A compared value whose element type is not known (0: an intermediate of a regional
    comparison that inference did not type) is compared with the tolerance of its array's
    type — float32 as FLOAT, not exactly — and integers still exactly."""
    ref = np.array([1.0, 100.0, -3.0], np.float32)
    near = V.compare("y", ref, ref + np.array([5e-5, 5e-3, 0], np.float32), 0)
    assert near.ok and near.dtype == "FLOAT" and (near.rtol, near.atol) == V.TOLERANCES["FLOAT"]
    assert not V.compare("y", ref, ref + np.float32(1e-2), 0).ok
    half = np.array([1.0, 2.0], np.float16)
    assert V.compare("h", half, half + np.float16(4e-3), 0).dtype == "FLOAT16"
    assert V.compare("h", half, half + np.float16(4e-3), 0).ok
    ints = np.array([1, 2, 3], np.int64)
    exact = V.compare("i", ints, ints + np.array([0, 0, 1]), 0)
    assert not exact.ok and exact.dtype == "INT64"


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


def _scaled(body: str) -> onnx.ModelProto:
    """x scaled by about 0.1, between FLOAT inputs and outputs."""
    return onnx.parser.parse_model(f"""<ir_version: 8, opset_import: ["" : 17]>
    g (float[64] x) => (float[64] y) {{ {body} }}""")


#: x times 2.31 (2.3105 in FLOAT16) or 2.3125, in FLOAT16: apart by one FLOAT16 rounding step
#: of the constant (what folding a product of FLOAT16 constants changes)
FP16_A = "h = Cast<to=10>(x) k = Constant<value=float {2.31}>() c = Cast<to=10>(k) m = Mul(h, c) y = Cast<to=1>(m)"
FP16_B = "h = Cast<to=10>(x) k = Constant<value=float {2.3125}>() c = Cast<to=10>(k) m = Mul(h, c) y = Cast<to=1>(m)"
#: the same change made in FLOAT: a real difference of that size
FP32_A = "c = Constant<value=float {2.3105}>() y = Mul(x, c)"
FP32_B = "c = Constant<value=float {2.3125}>() y = Mul(x, c)"


def test_float_outputs_of_a_float16_model_use_the_float16_tolerance():
    """FLOAT outputs of a model that computes in FLOAT16 (float I/O, as fp16 conversions keep
    it): a difference of FLOAT16 rounding size is far over FLOAT's tolerance; such outputs are
    compared at FLOAT16's, and the report says so."""
    result = V.verify(_scaled(FP16_A), _scaled(FP16_B), seed=0)
    (out,) = result.outputs
    assert 1e-4 < out.max_abs_diff < 1e-2  # FLOAT16 rounding: beyond FLOAT's tolerance
    assert out.ok and (out.rtol, out.atol) == V.TOLERANCES["FLOAT16"]
    assert "the model computes in FLOAT16" in out.note
    # a real difference of the same size in a FLOAT model still fails
    bad = V.verify(_scaled(FP32_A), _scaled(FP32_B), seed=0)
    assert not bad.ok and bad.outputs[0].note == ""
    assert V.computed_float_types(_scaled(FP16_A)) == {"FLOAT", "FLOAT16"}


def test_equal_infinities_are_equal():
    # inf - inf is NaN: an output holding -inf (a log of zero, a masked score) failed every
    # verification, so no rewrite of such a model was ever written
    ref = np.array([-np.inf, np.inf, 1.0], np.float32)
    assert V.compare("y", ref, ref.copy(), onnx.TensorProto.FLOAT).ok
    flipped = np.array([np.inf, np.inf, 1.0], np.float32)
    assert not V.compare("y", ref, flipped, onnx.TensorProto.FLOAT).ok
    finite = np.array([-1e30, np.inf, 1.0], np.float32)
    assert not V.compare("y", ref, finite, onnx.TensorProto.FLOAT).ok
    model = onnx.parser.parse_model("""<ir_version: 8, opset_import: ["" : 17]>
    g (float[2,4] x) => (float[2,4] y) <float[4] z = {0, 0, 0, 0}> { a = Mul(x, z)
     y = Log(a) }""")
    assert V.verify(model, model).ok


SEQUENCE = """<ir_version: 8, opset_import: ["" : 17]>
g (float[2,3] x, float[2,3] w) => (seq(float) s) {{
  {body}
}}"""


def test_sequence_outputs_compare_tensor_by_tensor():
    pair = onnx.parser.parse_model(SEQUENCE.format(body="s = SequenceConstruct(x, w)"))
    assert V.verify(pair, pair).ok
    negated = onnx.parser.parse_model(
        SEQUENCE.format(body="n = Neg(w)\n  s = SequenceConstruct(x, n)")
    )
    result = V.verify(pair, negated)
    assert not result.ok and result.worst.name == "s[1]"
    # float tensors compare within FLOAT's tolerance, not exactly
    nudged = onnx.parser.parse_model(
        SEQUENCE.format(
            body="e = Constant<value = float {1e-6}>()\n  n = Add(w, e)\n  s = SequenceConstruct(x, n)"
        )
    )
    assert V.verify(pair, nudged).ok
    three = onnx.parser.parse_model(SEQUENCE.format(body="s = SequenceConstruct(x, w, x)"))
    result = V.verify(pair, three)
    assert not result.ok and "a sequence of 3 tensor(s) instead of 2" in result.worst.note


def test_an_exact_reference_that_cannot_take_the_inputs_is_a_run_error():
    # MatMulInteger is evaluated by NumPy (exactly): inputs it cannot multiply make the
    # original "not run" on them (exit 2 naming the node), not a traceback
    model = onnx.parser.parse_model("""<ir_version: 8, opset_import: ["" : 17]>
    g (uint8[2,K] a, uint8[3,4] b) => (int32[2,4] y) { y = MatMulInteger(a, b) }""")
    with pytest.raises(V.RunError, match="MatMulInteger"):
        V.run_model(model, {"a": np.ones((2, 5), np.uint8), "b": np.ones((3, 4), np.uint8)})


def test_random_ops_draw_the_same_in_both_runs():
    # Dropout in training mode draws a mask from onnxruntime's generator: an exact rewrite
    # (the Identity removed) failed verification on two different draws
    original = onnx.parser.parse_model("""<ir_version: 8, opset_import: ["" : 17]>
    g (float[2,8] x) => (float[2,8] y) <float ratio = {0.5}, bool t = {1}> {
     d = Dropout(x, ratio, t)
     c = Identity(d)
     y = Relu(c) }""")
    rewritten = onnx.parser.parse_model("""<ir_version: 8, opset_import: ["" : 17]>
    g (float[2,8] x) => (float[2,8] y) <float ratio = {0.5}, bool t = {1}> {
     d = Dropout(x, ratio, t)
     y = Relu(d) }""")
    for seed in (0, 1, 2):
        assert V.verify(original, rewritten, seed=seed).ok


def test_a_difference_where_the_original_is_not_finite_says_so():
    """Where the worst difference is at a NaN or infinity of the original's output, the
    comparison says what the original gives there, and trt-rewrite's hint after the failure
    asks for realistic inputs before blaming a pass (random inputs, or random weights that
    overflow float16, make such outputs more often than a pass does)."""
    import math

    from trtforge.analyzer.rewrite.api import _failure_hint

    ref = np.array([1.0, np.nan, 3.0], np.float32)
    diff = V.compare("y", ref, np.array([1.0, 2.0, 3.0], np.float32), onnx.TensorProto.FLOAT)
    assert not diff.ok and diff.worst_index == (1,)
    assert math.isnan(diff.nonfinite_reference) and "the original gives nan there" in diff.note
    hint = _failure_hint(V.Verification(outputs=[diff]))
    assert "computes nan there" in hint and "--inputs" in hint
    inf = V.compare("y", np.array([-np.inf], np.float32), np.array([0.0], np.float32), 1)
    assert inf.nonfinite_reference == -math.inf and "gives -inf" in inf.note
    finite = V.compare("y", ref, np.array([1.5, np.nan, 3.0], np.float32), 1)
    assert not finite.ok and finite.nonfinite_reference is None
    assert "a pass produced a different result" in _failure_hint(V.Verification([finite]))
    assert V.compare("y", ref, ref.copy(), 1).nonfinite_reference is None  # equal NaNs pass


@pytest.mark.parametrize("opset", [15, 17, 21])
def test_a_model_only_onnx_reference_runs_may_hold_dequantize_linear(opset):
    """A model with a training-mode BatchNormalization runs in `onnx.reference` (onnxruntime
    normalizes it otherwise); onnx.reference 1.23 has no DequantizeLinear before version 19,
    so trt-quantize's INT8 result of an opset 13-18 NF-Net could not be verified (a
    refusal). Version 19's implementation stands for 10 and 13: the same values."""
    model = onnx.parser.parse_model(f"""<ir_version: 8, opset_import: ["" : {opset}]>
    g (float[2,3,4] x) => (float[2,3,4] z)
      <float[3] g = {{1, 2, 3}}, float[3] b = {{0, 1, 0}}, float[3] m = {{0, 0, 0}},
       float[3] v = {{1, 1, 1}}, int8[4] q = {{-4, 0, 3, 127}}, float s = {{0.5}},
       int8 zp = {{1}}>
    {{ y = BatchNormalization<training_mode=1>(x, g, b, m, v)
      d = DequantizeLinear(q, s, zp)
      z = Add(y, d) }}""")
    x = np.random.default_rng(0).standard_normal((2, 3, 4)).astype(np.float32)
    got = V.run_model(model, {"x": x})["z"]
    mean = x.mean(axis=(0, 2), keepdims=True)
    var = x.var(axis=(0, 2), keepdims=True)
    gamma, beta = np.array([1, 2, 3]).reshape(1, 3, 1), np.array([0, 1, 0]).reshape(1, 3, 1)
    normed = gamma * (x - mean) / np.sqrt(var + 1e-5) + beta
    dequantized = (np.array([-4, 0, 3, 127]) - 1) * 0.5
    np.testing.assert_allclose(got, normed + dequantized, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        (
            "[ONNXRuntimeError] : 1 : FAIL : Non-zero status code returned while running "
            "GroupQueryAttention node. Name:'/model/layers.0/attn/GroupQueryAttention' Status "
            "Message: cos_cache dimension 1 must be <= head_size / 2 and a multiple of 8",
            "GroupQueryAttention '/model/layers.0/attn/GroupQueryAttention': cos_cache "
            "dimension 1 must be <= head_size / 2 and a multiple of 8",
        ),
        (
            "[ONNXRuntimeError] : 1 : FAIL : Exception during initialization: "
            "/onnxruntime_src/onnxruntime/core/providers/cpu/tensor/upsamplebase.h:314 "
            "onnxruntime::UpsampleBase::UpsampleBase(const KernelInfoType&) cubic mode only "
            "supports 2-D inputs",
            "Exception during initialization: cubic mode only supports 2-D inputs",
        ),
    ],
)
def test_onnxruntime_reason_keeps_the_cause(raw, want):
    """onnxruntime's messages end with their cause: the error-code prefix, source locations
    and the status boilerplate go, not the cause (a cut at 200 characters kept a builder's
    long node name and lost "must be <= head_size / 2")."""
    assert V.onnxruntime_reason(RuntimeError(raw)) == want


def test_a_long_reason_is_cut_in_the_middle():
    raw = "Node (" + "/very/long/module" * 40 + ") Op (Reshape) incompatible shapes"
    reason = V.onnxruntime_reason(RuntimeError(raw))
    assert len(reason) <= V.REASON_CHARS and reason.endswith("incompatible shapes")
    assert "…" in reason


@pytest.mark.parametrize(
    ("training", "random"),
    [("bool t = {1}", True), ("bool t = {0}", False), ("", False)],
)
def test_a_failure_on_a_model_that_draws_random_numbers_blames_no_pass(training, random):
    """A model exported in training mode (HF T5 by dynamo: 18 Dropouts with training_mode
    true) failed verification with "a pass produced a different result; … report it": its
    outputs differ from run to run, and the hint now says so."""
    from types import SimpleNamespace

    from trtforge.analyzer.rewrite.api import _failure_hint

    inputs = "x, r, t" if training else "x, r"
    model = onnx.parser.parse_model(
        f"""<ir_version: 8, opset_import: ["" : 17]>
        g (float[4] x) => (float[4] y) <float r = {{0.5}}{", " + training if training else ""}> {{
          y = Dropout({inputs})
        }}"""
    )
    hint = _failure_hint(SimpleNamespace(worst=None), model)
    assert ("draws random numbers" in hint) is random
    assert ("report it" in hint) is not random

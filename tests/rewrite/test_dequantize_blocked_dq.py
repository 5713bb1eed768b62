"""dequantize-nbits on standard blocked DequantizeLinear nodes (opset 21, `block_size`) that
TensorRT refuses: unsigned 4/8-bit weights or a zero point (onnxruntime's QDQ int4 quantizer,
onnxruntime-genai's asymmetric `use_qdq` exports). They become signed blocked
DequantizeLinear without a zero point where every value fits, else float weights; both compute
what onnxruntime computes for the original, and trt-check names the pass as the fix."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from trtforge.analyzer import check
from trtforge.analyzer.rewrite.verify import run_model

PASS = "dequantize-nbits"


def _packed(name, values, elem) -> onnx.TensorProto:
    """A 4-bit tensor of `values` (two a byte, low nibble first), or an 8-bit one."""
    values = np.asarray(values)
    if elem in (TensorProto.UINT4, TensorProto.INT4):
        nibbles = (values.astype(np.int16).ravel() & 0xF).astype(np.uint8)
        if nibbles.size % 2:
            nibbles = np.append(nibbles, 0)
        raw = (nibbles[0::2] | (nibbles[1::2] << 4)).tobytes()
        return helper.make_tensor(name, elem, values.shape, raw, raw=True)
    dtype = np.uint8 if elem == TensorProto.UINT8 else np.int8
    return numpy_helper.from_array(values.astype(dtype), name)


def blocked_dq(elem, zp="random", k=64, n=16, block=32, axis=0, scale_dtype=np.float32, seed=0):
    """X [2, K] · DequantizeLinear(W [K, N] blocked along K (axis 0) or W [N, K] along K
    (axis 1, then transposed by the MatMul's Transpose)). zp: "random", a number, or None."""
    rng = np.random.default_rng(seed)
    bits = 4 if elem in (TensorProto.UINT4, TensorProto.INT4) else 8
    signed = elem in (TensorProto.INT4, TensorProto.INT8)
    lo, hi = (-(1 << (bits - 1)), 1 << (bits - 1)) if signed else (0, 1 << bits)
    shape = (k, n) if axis == 0 else (n, k)
    blocks = list(shape)
    blocks[axis] = -(-shape[axis] // block)
    inits = [
        _packed("w", rng.integers(lo, hi, shape), elem),
        numpy_helper.from_array((rng.random(blocks) * 0.02 + 0.001).astype(scale_dtype), "s"),
    ]
    names = ["w", "s"]
    if zp is not None:
        values = rng.integers(lo, hi, blocks) if zp == "random" else np.full(blocks, zp)
        inits.append(_packed("zp", values, elem))
        names.append("zp")
    elem_out = helper.np_dtype_to_tensor_dtype(np.dtype(scale_dtype))
    nodes = [helper.make_node("DequantizeLinear", names, ["wf"], axis=axis, block_size=block)]
    if axis == 1:
        nodes.append(helper.make_node("Transpose", ["wf"], ["wt"], perm=[1, 0]))
    nodes.append(helper.make_node("MatMul", ["x", "wt" if axis == 1 else "wf"], ["y"]))
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", elem_out, [2, k])],
        [helper.make_tensor_value_info("y", elem_out, [2, n])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)], ir_version=10)
    onnx.checker.check_model(model, full_check=True)
    return model


CASES = {
    "uint4-random-zp": ((TensorProto.UINT4, "random"), "float weights"),
    "uint4-midpoint-zp": ((TensorProto.UINT4, 8), "INT4 blocked"),
    "uint4-no-zp": ((TensorProto.UINT4, None), "float weights"),
    "int4-random-zp": ((TensorProto.INT4, "random"), "float weights"),
    "int4-small-zp": ((TensorProto.INT4, 0), "INT4 blocked"),
    "uint8-random-zp": ((TensorProto.UINT8, "random"), "float weights"),
    "uint8-midpoint-zp": ((TensorProto.UINT8, 128), "INT8 blocked"),
    "uint4-axis1-partial-block": ((TensorProto.UINT4, "random"), "float weights"),
    "uint4-fp16": ((TensorProto.UINT4, "random"), "float weights"),
}
EXTRA = {
    "uint4-axis1-partial-block": {"axis": 1, "k": 48},
    "uint4-fp16": {"scale_dtype": np.float16},
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_blocked_dequantize_linear_matches_onnxruntime(rw, case):
    (elem, zp), form = CASES[case]
    original = blocked_dq(elem, zp, **EXTRA.get(case, {}))
    result = rw.apply(original, PASS, target="rtx-1")
    assert result.passes[PASS].applied == 1, result.passes[PASS].skips
    assert form in " ".join(result.notes)
    onnx.checker.check_model(result.proto, full_check=True)
    for node in result.proto.graph.node:  # what TensorRT takes: signed data, no zero point
        if node.op_type == "DequantizeLinear":
            assert len(node.input) == 2
    dtype = np.float16 if case == "uint4-fp16" else np.float32
    k = original.graph.input[0].type.tensor_type.shape.dim[1].dim_value
    feeds = {"x": np.random.default_rng(1).standard_normal((2, k)).astype(dtype)}
    want, got = run_model(original, feeds)["y"], run_model(result.proto, feeds)["y"]
    tol = 2e-2 if dtype == np.float16 else 1e-5
    np.testing.assert_allclose(got.astype(np.float32), want.astype(np.float32), rtol=tol, atol=tol)
    assert not rw.apply(result.proto, PASS, target="rtx-1").changed  # idempotent


def test_int4_weights_without_a_zero_point_are_left_alone(rw):
    """Signed blocked data without a zero point is TensorRT's own form: not a match."""
    result = rw.apply(blocked_dq(TensorProto.INT4, None), PASS, target="rtx-1")
    assert result.passes[PASS].applied == 0 and not result.passes[PASS].skips


def test_trt_check_names_the_pass_for_blocked_weights_it_rewrites():
    report = check(blocked_dq(TensorProto.UINT4, "random"), target="rtx-1", backend="static")
    (node,) = report.unsupported_nodes
    assert PASS in {f.name for f in node.fixes}
    assert any("--dequantize-nbits rewrites its blocked weights" in r.hint for r in node.reasons)


def test_weights_computed_at_run_time_name_no_dequantization():
    """Data that is not a build-time constant cannot be decoded: the pass is not named."""
    model = blocked_dq(TensorProto.UINT4, "random")
    graph = model.graph
    w = next(t for t in graph.initializer if t.name == "w")
    graph.initializer.remove(w)
    graph.input.append(helper.make_tensor_value_info("w", TensorProto.UINT4, list(w.dims)))
    report = check(model, target="rtx-1", backend="static")
    names = {f.name for n in report.unsupported_nodes for f in n.fixes}
    assert PASS not in names


def test_uint4_values_decode_as_onnx_does():
    """The packing this file writes is the one onnx reads (a guard for the helper itself)."""
    values = np.arange(16).reshape(4, 4)
    tensor = _packed("t", values, TensorProto.UINT4)
    assert numpy_helper.to_array(tensor).astype(np.int32).tolist() == values.tolist()
    assert ml_dtypes.uint4 == numpy_helper.to_array(tensor).dtype

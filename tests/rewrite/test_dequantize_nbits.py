"""dequantize-nbits: MatMulNBits and GatherBlockQuantized become DequantizeLinear/float weights +
MatMul/Gather computing what onnxruntime's CPU kernels compute (the originals run there)."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from trtforge.analyzer.rewrite.registry import passes_removing
from trtforge.analyzer.rewrite.verify import run_model

PASS = "dequantize-nbits"
TOL = {np.float32: 1e-4, np.float16: 2e-2}


def _model(node, inputs, output, inits, opset=21):
    graph = helper.make_graph([node], "g", inputs, [output], inits)
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", opset), helper.make_opsetid("com.microsoft", 1)],
        ir_version=10,
    )
    onnx.checker.check_model(model)
    return model


def matmul_nbits(
    k=64,
    n=24,
    bits=4,
    block=32,
    dtype=np.float32,
    zp=None,
    bias=False,
    g_idx=False,
    opset=21,
    seed=0,
):
    """A MatMulNBits model on A [2, 3, K] with random packed weights (zp: None, "packed" uint8,
    "mid" packed uint8 all at 2^(bits-1), or "float")."""
    rng = np.random.default_rng(seed)
    blocks = -(-k // block)
    b = rng.integers(0, 256, (n, blocks, block * bits // 8), dtype=np.uint8)
    scales = (rng.random(n * blocks) * 0.2 + 0.01).astype(dtype)
    inits = [numpy_helper.from_array(b, "B"), numpy_helper.from_array(scales, "S")]
    names = ["A", "B", "S"]
    per_row = -(-blocks * bits // 8)
    if zp in ("packed", "mid"):
        if zp == "packed":
            z = rng.integers(0, 256, (n, per_row), dtype=np.uint8)
        else:
            mid = 1 << (bits - 1)
            byte = sum(mid << (i * bits) for i in range(8 // bits))
            z = np.full((n, per_row), byte, np.uint8)
        inits.append(numpy_helper.from_array(z.reshape(-1), "Z"))
        names.append("Z")
    elif zp == "float":
        inits.append(numpy_helper.from_array((rng.random(n * blocks) * 15).astype(dtype), "Z"))
        names.append("Z")
    if g_idx:
        names += [""] * (4 - len(names))
        perm = rng.permutation(k)
        inits.append(numpy_helper.from_array((perm % blocks).astype(np.int32), "G"))
        names.append("G")
    if bias:
        names += [""] * (5 - len(names))
        inits.append(numpy_helper.from_array(rng.standard_normal(n).astype(dtype), "bias"))
        names.append("bias")
    node = helper.make_node(
        "MatMulNBits",
        names,
        ["Y"],
        domain="com.microsoft",
        K=k,
        N=n,
        bits=bits,
        block_size=block,
    )
    elem = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    return _model(
        node,
        [helper.make_tensor_value_info("A", elem, [2, 3, k])],
        helper.make_tensor_value_info("Y", elem, [2, 3, n]),
        inits,
        opset,
    )


def gather_bq(
    kind="uint8",
    vocab=16,
    dim=64,
    block=32,
    dtype=np.float32,
    zp=False,
    gather_axis=0,
    quantize_axis=1,
    bits=4,
    seed=0,
):
    """A GatherBlockQuantized model: data of `kind` (packed "uint8" 4-bit, "int4", "uint4",
    "uint8-8bit"), indices [2, 3]."""
    rng = np.random.default_rng(seed)
    shape = [vocab, dim]
    qdim = shape[quantize_axis]
    blocks = list(shape)
    blocks[quantize_axis] = -(-qdim // block)
    if kind == "uint8":
        data = rng.integers(0, 256, (vocab, dim // 2), dtype=np.uint8)
    elif kind == "uint8-8bit":
        data = rng.integers(0, 256, shape, dtype=np.uint8)
    elif kind == "int4":
        data = rng.integers(-8, 8, shape).astype(ml_dtypes.int4)
    else:
        data = rng.integers(0, 16, shape).astype(ml_dtypes.uint4)
    scales = (rng.random(blocks) * 0.2 + 0.01).astype(dtype)
    inits = [numpy_helper.from_array(data, "D"), numpy_helper.from_array(scales, "S")]
    names = ["D", "ids", "S"]
    if zp:
        if kind == "uint8":
            z = rng.integers(0, 256, (blocks[0], -(-blocks[1] // 2)), dtype=np.uint8)
        elif kind == "uint8-8bit":
            z = rng.integers(0, 256, blocks, dtype=np.uint8)
        elif kind == "int4":
            z = rng.integers(-8, 8, blocks).astype(ml_dtypes.int4)
        else:
            z = rng.integers(0, 16, blocks).astype(ml_dtypes.uint4)
        inits.append(numpy_helper.from_array(z, "Z"))
        names.append("Z")
    node = helper.make_node(
        "GatherBlockQuantized",
        names,
        ["Y"],
        domain="com.microsoft",
        bits=bits,
        block_size=block,
        gather_axis=gather_axis,
        quantize_axis=quantize_axis,
    )
    elem = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    out_shape = [2, 3, dim] if gather_axis == 0 else [vocab, 2, 3]
    return _model(
        node,
        [helper.make_tensor_value_info("ids", TensorProto.INT64, [2, 3])],
        helper.make_tensor_value_info("Y", elem, out_shape),
        inits,
    )


def _compare(original, rewritten, dtype, feeds):
    want = run_model(original, feeds)["Y"]
    got = run_model(rewritten, feeds)["Y"]
    tol = TOL[dtype]
    np.testing.assert_allclose(got.astype(np.float32), want.astype(np.float32), rtol=tol, atol=tol)


def _a(model, dtype, seed=1):
    k = model.graph.input[0].type.tensor_type.shape.dim[2].dim_value
    return {"A": np.random.default_rng(seed).standard_normal((2, 3, k)).astype(dtype)}


def _form(result) -> str:
    return " ".join(n for n in result.notes if n.startswith(PASS))


MATMUL_CASES = {
    "b4": ({}, "INT4 blocked"),
    "b4-fp16": ({"dtype": np.float16}, "INT4 blocked"),
    "b4-zp-mid": ({"zp": "mid"}, "INT4 blocked"),
    "b4-zp-packed": ({"zp": "packed"}, "float weights"),
    "b4-zp-float": ({"zp": "float"}, "float weights"),
    "b4-bias": ({"bias": True}, "INT4 blocked"),
    "b4-bs16": ({"block": 16}, "INT4 blocked"),
    "b4-bs128-partial": ({"block": 128, "k": 96}, "INT4 blocked"),
    "b4-gidx": ({"g_idx": True}, "float weights"),
    "b4-opset17": ({"opset": 17}, "float weights"),
    "b8": ({"bits": 8}, "float weights"),
    "b8-zp": ({"bits": 8, "zp": "packed"}, "float weights"),
    "b2": ({"bits": 2, "block": 32}, "float weights"),
}


@pytest.mark.parametrize("case", sorted(MATMUL_CASES))
def test_matmul_nbits_matches_onnxruntime(rw, case):
    kwargs, form = MATMUL_CASES[case]
    original = matmul_nbits(**kwargs)
    result = rw.apply(original, PASS, target="trt-10")
    assert result.passes[PASS].applied == 1, result.passes[PASS].skips
    assert not any(n.domain == "com.microsoft" for n in result.proto.graph.node)
    onnx.checker.check_model(result.proto, full_check=True)
    assert form in _form(result)
    dtype = kwargs.get("dtype", np.float32)
    _compare(original, result.proto, dtype, _a(original, dtype))
    assert not rw.apply(result.proto, PASS).changed  # idempotent: nothing left to do


def test_int8_blocked_on_rtx_only(rw):
    original = matmul_nbits(bits=8)
    result = rw.apply(original, PASS, target="rtx-1")
    assert "INT8 blocked" in _form(result)
    _compare(original, result.proto, np.float32, _a(original, np.float32))


def test_float_impl_option(rw):
    original = matmul_nbits()
    result = rw.apply(original, PASS, target="rtx-1", nbits_impl="float")
    assert "float weights" in _form(result)
    assert "DequantizeLinear" not in rw.ops(result.proto)
    _compare(original, result.proto, np.float32, _a(original, np.float32))


GATHER_CASES = {
    "uint8": ({}, "INT4 blocked"),
    "uint8-fp16": ({"dtype": np.float16}, "INT4 blocked"),
    "uint8-zp": ({"zp": True}, "float weights"),
    "int4": ({"kind": "int4"}, "INT4 blocked"),
    "int4-zp": ({"kind": "int4", "zp": True}, "float weights"),
    "uint4": ({"kind": "uint4"}, "float weights"),
    "uint4-zp": ({"kind": "uint4", "zp": True}, "float weights"),
    "int4-axis0": ({"kind": "int4", "quantize_axis": 0, "block": 16}, "INT4 blocked"),
    "int4-gather1": (
        {"kind": "int4", "gather_axis": 1, "quantize_axis": 0, "block": 16},
        "INT4 blocked",
    ),
    "uint8-8bit": ({"kind": "uint8-8bit", "bits": 8}, "float weights"),
}


@pytest.mark.parametrize("case", sorted(GATHER_CASES))
def test_gather_block_quantized_matches_onnxruntime(rw, case):
    kwargs, form = GATHER_CASES[case]
    original = gather_bq(**kwargs)
    result = rw.apply(original, PASS, target="trt-10")
    assert result.passes[PASS].applied == 1, result.passes[PASS].skips
    assert not any(n.domain == "com.microsoft" for n in result.proto.graph.node)
    onnx.checker.check_model(result.proto, full_check=True)
    assert form in _form(result)
    rows = original.graph.input[0]
    del rows
    vocab = 16 if kwargs.get("gather_axis", 0) == 0 else 64
    ids = np.random.default_rng(2).integers(0, vocab, (2, 3)).astype(np.int64)
    _compare(original, result.proto, kwargs.get("dtype", np.float32), {"ids": ids})
    assert not rw.apply(result.proto, PASS).changed


def test_runtime_weights_are_skipped_with_a_reason(rw):
    text = """<ir_version: 10, opset_import: ["": 21, "com.microsoft": 1]>
    g (float[2,64] a, uint8[8,2,16] b, float[16] s) => (float[2,8] y) {
      y = com.microsoft.MatMulNBits<K=64, N=8, bits=4, block_size=32>(a, b, s)
    }"""
    result = rw.apply(rw.parse(text), PASS)
    assert not result.changed
    (skip,) = result.passes[PASS].skips
    assert "build-time constant" in skip.reason


def test_nothing_to_do(rw):
    text = """<ir_version: 10, opset_import: ["": 21]>
    g (float[2,4] a, float[4,3] b) => (float[2,3] y) { y = MatMul(a, b) }"""
    result = rw.apply(rw.parse(text), PASS)
    assert not result.changed and result.passes[PASS].applied == 0


def test_trt_check_names_the_pass():
    assert PASS in passes_removing("com.microsoft", "MatMulNBits")
    assert PASS in passes_removing("com.microsoft", "GatherBlockQuantized")


def test_cli_reads_external_weights(tmp_path, capsys):
    """trt-rewrite loads the external data the pass decodes, verifies, and writes the model."""
    from trtforge.analyzer.cli import rewrite as cli

    source = tmp_path / "in" / "m.onnx"
    source.parent.mkdir()
    original = matmul_nbits(k=128, n=64)
    stored = onnx.ModelProto()
    stored.CopyFrom(original)  # onnx.save turns the tensors it stores into references
    onnx.save(stored, source, save_as_external_data=True, location="m.data", size_threshold=0)
    assert (source.parent / "m.data").exists()
    out = tmp_path / "out.onnx"
    code = cli.main([str(source), "-o", str(out), "--dequantize-nbits", "--target", "rtx-1"])
    assert code == 0, capsys.readouterr()
    assert "INT4 blocked DequantizeLinear" in capsys.readouterr().err
    written = onnx.load(out)
    assert "MatMulNBits" not in {n.op_type for n in written.graph.node}
    _compare(original, written, np.float32, _a(original, np.float32))


@pytest.mark.parametrize("target, form", [("rtx-1", "INT4 blocked"), ("trt-10", "float weights")])
def test_negative_scales_take_the_form_the_target_parses(rw, target, form):
    """onnxruntime-genai's int4 weights have negative scales: TensorRT-RTX takes them for INT4
    data, the open-source parser refuses any nonpositive scale."""
    original = matmul_nbits()
    scales = next(t for t in original.graph.initializer if t.name == "S")
    negated = -numpy_helper.to_array(scales)
    scales.CopyFrom(numpy_helper.from_array(negated, "S"))
    result = rw.apply(original, PASS, target=target)
    assert form in _form(result)
    _compare(original, result.proto, np.float32, _a(original, np.float32))

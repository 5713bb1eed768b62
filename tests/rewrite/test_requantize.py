"""requantize: onnxruntime's quantizers' output → TensorRT's explicit quantization, or float.

Every model here is quantized by onnxruntime itself (quantize_static in QOperator and QDQ
formats, per tensor and per channel; quantize_dynamic), so the inputs are what users have.
"""

from __future__ import annotations

import importlib.util
from collections import Counter

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from trtforge.analyzer import check
from trtforge.analyzer.rewrite import RewriteOptions, rewrite_model
from trtforge.analyzer.rewrite.verify import make_inputs, run_model, verify
from trtforge.analyzer.targets import parse_target

quantization = pytest.importorskip("onnxruntime.quantization")

RTX = parse_target("rtx-1")
INTEGER_OPS = {
    "DynamicQuantizeLinear",
    "MatMulInteger",
    "ConvInteger",
    "QLinearConv",
    "QLinearMatMul",
    "QLinearAdd",
    "QLinearGlobalAveragePool",
}


def _cnn(opset: int) -> onnx.ModelProto:
    """Conv-ReLU, a 1x1 conv with a residual Add, MaxPool, global pooling, a classifier."""
    rng = np.random.default_rng(0)

    def init(name, shape, scale=0.3):
        return numpy_helper.from_array(
            (rng.standard_normal(shape) * scale).astype(np.float32), name
        )

    nodes = [
        helper.make_node("Conv", ["x", "W1", "B1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "W2"], ["c2"]),
        helper.make_node("Add", ["c2", "r1"], ["a"]),
        helper.make_node("MaxPool", ["a"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("GlobalAveragePool", ["p"], ["g"]),
        helper.make_node("Flatten", ["g"], ["f"]),
        helper.make_node("MatMul", ["f", "Wf"], ["m"]),
        helper.make_node("Add", ["m", "Bf"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "cnn",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])],
        [
            init("W1", (8, 3, 3, 3)),
            init("B1", (8,), 0.1),
            init("W2", (8, 8, 1, 1)),
            init("Wf", (8, 10)),
            init("Bf", (10,), 0.1),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 7
    return model


def _mlp() -> onnx.ModelProto:
    """Gemm → Sigmoid → MatMul on a batch of 4 (quantize_dynamic's usual MatMul target)."""
    rng = np.random.default_rng(1)
    w1 = numpy_helper.from_array(rng.standard_normal((16, 32)).astype(np.float32) * 0.2, "W1")
    b1 = numpy_helper.from_array(rng.standard_normal(32).astype(np.float32) * 0.1, "B1")
    w2 = numpy_helper.from_array(rng.standard_normal((32, 4)).astype(np.float32) * 0.2, "W2")
    nodes = [
        helper.make_node("Gemm", ["x", "W1", "B1"], ["h"]),
        helper.make_node("Sigmoid", ["h"], ["s"]),
        helper.make_node("MatMul", ["s", "W2"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 4])],
        [w1, b1, w2],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 7
    return model


class _Reader(quantization.CalibrationDataReader):
    def __init__(self, model: onnx.ModelProto):
        feeds = [make_inputs(model, seed) for seed in range(8)]
        self._it = iter(feeds)

    def get_next(self):
        return next(self._it, None)


def _quantize(tmp_path, model: onnx.ModelProto, how: str) -> onnx.ModelProto:
    src, dst = tmp_path / "float.onnx", tmp_path / f"{how}.onnx"
    onnx.save(model, src)
    if how == "dynamic":
        # reduce_range: onnxruntime's x86 UINT8xINT8 MatMulInteger kernel saturates int16
        # pair sums with full-range weights (its documented limit), so the reference itself
        # would be off; 7-bit weights keep it exact
        quantization.quantize_dynamic(str(src), str(dst), reduce_range=True)
    else:
        fmt, _, pc = how.partition("-")
        quantization.quantize_static(
            str(src),
            str(dst),
            _Reader(model),
            quant_format=quantization.QuantFormat.QOperator
            if fmt == "qop"
            else quantization.QuantFormat.QDQ,
            per_channel=pc == "pc",
        )
    return onnx.load(dst)


def _ops(model: onnx.ModelProto) -> Counter:
    return Counter(n.op_type for n in model.graph.node)


def _rewrite(model, form):
    return rewrite_model(model, ["requantize"], RewriteOptions(RTX, requantize_form=form))


def _qdq_params_are_tensorrt_form(model: onnx.ModelProto) -> None:
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type not in ("QuantizeLinear", "DequantizeLinear"):
            continue
        scale = inits[node.input[1]]
        assert np.all(scale > 0), node.name
        if len(node.input) > 2 and node.input[2]:
            zp = inits[node.input[2]]
            assert zp.dtype == np.int8 and not np.any(zp), node.name
        if node.op_type == "DequantizeLinear" and node.input[0] in inits:
            assert inits[node.input[0]].dtype == np.int8, node.name


@pytest.mark.parametrize("how", ["qop", "qop-pc", "qdq", "qdq-pc", "dynamic"])
def test_float_form_is_exact(tmp_path, how):
    quantized = _quantize(tmp_path, _cnn(13), how)
    assert set(_ops(quantized)) & (INTEGER_OPS | {"QuantizeLinear"})
    result = _rewrite(quantized, "float")
    ops = _ops(result.proto)
    assert not set(ops) & (INTEGER_OPS | {"QuantizeLinear", "DequantizeLinear"}), ops
    onnx.checker.check_model(result.proto, full_check=True)
    verification = verify(quantized, result.proto)
    assert verification.ok, verification.describe_worst()
    assert verification.worst.max_abs_diff < 1e-5
    assert "requantize: wrote the float form" in result.notes


@pytest.mark.parametrize("how", ["qop", "qop-pc", "qdq", "qdq-pc"])
def test_qdq_form_is_symmetric_int8_and_close(tmp_path, how):
    quantized = _quantize(tmp_path, _cnn(13), how)
    result = _rewrite(quantized, "qdq")
    ops = _ops(result.proto)
    assert not set(ops) & INTEGER_OPS, ops
    assert ops["QuantizeLinear"] >= 3 and ops["DequantizeLinear"] >= ops["QuantizeLinear"]
    assert ops["Conv"] == 2 and ops["MatMul"] == 1
    _qdq_params_are_tensorrt_form(result.proto)
    onnx.checker.check_model(result.proto, full_check=True)
    # the verification allowance knows the new grid: a few steps, not a free pass
    (name, (atol, why)) = next(iter(result.allowances.items()))
    assert name == "y" and "steps" in why
    verification = verify(quantized, result.proto, allowances=result.allowances)
    assert verification.ok, verification.describe_worst()
    assert 0 < verification.worst.max_abs_diff <= atol
    # and the rewritten model is as close to the float model as onnxruntime's quantization
    feeds = make_inputs(quantized, 3)
    reference = run_model(_cnn(13), feeds)["y"]
    original_error = np.abs(run_model(quantized, feeds)["y"] - reference).max()
    new_error = np.abs(run_model(result.proto, feeds)["y"] - reference).max()
    assert new_error < 3 * original_error + 1e-3


def test_fused_relu_clamp_is_kept(tmp_path):
    """ORT folds Conv+ReLU into a UINT8 output of zero point 0: the clamp at 0 is part of the
    result, so the symmetric INT8 form must keep it (as a Relu before the Q)."""
    result = _rewrite(_quantize(tmp_path, _cnn(13), "qop"), "qdq")
    producers = {o: n for n in result.proto.graph.node for o in n.output}
    relu_fed_q = [
        n
        for n in result.proto.graph.node
        if n.op_type == "QuantizeLinear" and producers.get(n.input[0], n).op_type == "Relu"
    ]
    assert relu_fed_q


def test_dynamic_quantization_is_float_in_both_forms(tmp_path):
    quantized = _quantize(tmp_path, _mlp(), "dynamic")
    assert {"DynamicQuantizeLinear", "MatMulInteger"} <= set(_ops(quantized))
    for form in ("qdq", "float"):
        result = _rewrite(quantized, form)
        assert not set(_ops(result.proto)) & INTEGER_OPS
        assert "requantize: wrote the float form" in result.notes
        verification = verify(quantized, result.proto)
        assert verification.ok and verification.worst.max_abs_diff < 1e-5


def test_opset_11_qoperator_is_converted_for_per_channel_qdq(tmp_path):
    quantized = _quantize(tmp_path, _cnn(11), "qop-pc")
    result = _rewrite(quantized, "qdq")
    assert {o.version for o in result.proto.opset_import if o.domain in ("", "ai.onnx")} == {13}
    assert any("axis" in [a.name for a in n.attribute] for n in result.proto.graph.node)
    onnx.checker.check_model(result.proto, full_check=True)
    assert verify(quantized, result.proto, allowances=result.allowances).ok


def test_idempotent_and_nothing_to_do(tmp_path):
    quantized = _quantize(tmp_path, _cnn(13), "qdq")
    once = _rewrite(quantized, "qdq")
    twice = _rewrite(once.proto, "qdq")
    assert not twice.changed and twice.passes["requantize"].applied == 0
    float_model = _cnn(13)
    assert not _rewrite(float_model, "qdq").changed


def test_trt_check_names_requantize_and_auto_fixes_it(tmp_path):
    from trtforge.analyzer.api import check

    quantized = _quantize(tmp_path, _cnn(13), "qop")
    path = tmp_path / "q.onnx"
    onnx.save(quantized, path)
    report = check(str(path), target="rtx-1", backend="static")
    bad = [n for n in report.nodes if n.status == "unsupported"]
    assert bad
    assert all(any(f.kind == "rewrite" and f.name == "requantize" for f in n.fixes) for n in bad), [
        (n.op_type, [f.name for f in n.fixes]) for n in bad
    ]


@pytest.mark.parser
@pytest.mark.skipif(importlib.util.find_spec("tensorrt_rtx") is None, reason="needs tensorrt_rtx")
def test_rewritten_models_parse_with_tensorrt_rtx(tmp_path):
    from trtforge.analyzer.api import check

    for how, form in (("qop-pc", "qdq"), ("qdq", "qdq"), ("dynamic", "qdq"), ("qop", "float")):
        quantized = _quantize(tmp_path, _cnn(13), how)
        assert not check(quantized, "rtx-1", "parser", advice=False).supported, how
        result = _rewrite(quantized, form)
        report = check(result.proto, "rtx-1", "parser", advice=False)
        assert report.supported, (how, form, report.summary)


@pytest.mark.parametrize("zero_points", [False, True])
def test_matmul_integer_reference_is_exact(zero_points) -> None:
    """Verification computes MatMulInteger by the spec (onnxruntime's x86 uint8×int8 kernels
    saturate 16-bit pair sums on CPUs without VNNI): 255·127 + 255·127 overflows int16, the
    reference does not; the float form of requantize then verifies against it."""
    a = np.full((2, 4), 255, np.uint8)
    a[1] = [3, 200, 255, 17]
    b = np.full((4, 3), 127, np.int8)
    b[:, 1] = [-128, 5, 127, -7]
    zps = [numpy_helper.from_array(np.array(1, np.uint8), "azp")] if zero_points else []
    zps += [numpy_helper.from_array(np.array([0, -3, 2], np.int8), "bzp")] if zero_points else []
    node = helper.make_node(
        "MatMulInteger", ["a", "b", *(["azp", "bzp"] if zero_points else [])], ["y"]
    )
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("a", TensorProto.UINT8, [2, 4])],
        [helper.make_tensor_value_info("y", TensorProto.INT32, [2, 3])],
        initializer=[numpy_helper.from_array(b, "b"), *zps],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model, full_check=True)
    a_zp, b_zp = (1, np.array([0, -3, 2])) if zero_points else (0, 0)
    want = (a.astype(np.int64) - a_zp) @ (b.astype(np.int64) - b_zp)
    got = run_model(model, {"a": a})["y"]
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, want)
    result = rewrite_model(model, ["requantize"], RewriteOptions(RTX))
    assert "MatMulInteger" not in {n.op_type for n in result.proto.graph.node}
    outcome = verify(model, result.proto, feeds=None)
    assert outcome.ok, outcome.describe_worst()


@pytest.mark.parametrize("form", ["qdq", "float"])
@pytest.mark.parametrize("version", [13, 11])
def test_qlinear_softmax(form, version) -> None:
    """com.microsoft QLinearSoftmax (what quantize_static writes for attention's Softmax in
    QOperator format) → DequantizeLinear, Softmax, QuantizeLinear; verified against
    onnxruntime's kernel."""
    q = helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"])
    sm = helper.make_node(
        "QLinearSoftmax",
        ["xq", "xs", "xz", "ys", "yz"],
        ["yq"],
        domain="com.microsoft",
        axis=-1,
        opset=version,
    )
    dq = helper.make_node("DequantizeLinear", ["yq", "ys", "yz"], ["y"])
    inits = [
        numpy_helper.from_array(np.array(0.05, np.float32), "xs"),
        numpy_helper.from_array(np.array(128, np.uint8), "xz"),
        numpy_helper.from_array(np.array(1 / 256, np.float32), "ys"),
        numpy_helper.from_array(np.array(0, np.uint8), "yz"),
    ]
    graph = helper.make_graph(
        [q, sm, dq],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3, 8])],
        initializer=inits,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]
    )
    result = rewrite_model(model, ["requantize"], RewriteOptions(RTX, requantize_form=form))
    stats = result.passes["requantize"]
    assert stats.applied and not stats.skips, [s.reason for s in stats.skips]
    ops = Counter(n.op_type for n in result.proto.graph.node)
    assert "QLinearSoftmax" not in ops and ops["Softmax"] == 1
    onnx.checker.check_model(result.proto, full_check=True)
    outcome = verify(model, result.proto, allowances=result.allowances)
    assert outcome.ok, outcome.describe_worst()


def _qlinear_mul_by_scalar() -> onnx.ModelProto:
    """x → Q → QLinearMul(·, a quantized scalar constant) → DQ (attention's 1/√d scaling as
    quantize_static writes it in QOperator format)."""
    q = helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"])
    mul = helper.make_node(
        "QLinearMul",
        ["xq", "xs", "xz", "cq", "cs", "cz", "ys", "yz"],
        ["yq"],
        domain="com.microsoft",
    )
    dq = helper.make_node("DequantizeLinear", ["yq", "ys", "yz"], ["y"])
    values = {
        "xs": np.array(0.05, np.float32),
        "xz": np.array(128, np.uint8),
        "cq": np.array(218, np.uint8),
        "cs": np.array(0.004, np.float32),
        "cz": np.array(128, np.uint8),
        "ys": np.array(0.02, np.float32),
        "yz": np.array(128, np.uint8),
    }
    graph = helper.make_graph(
        [q, mul, dq],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 8])],
        initializer=[numpy_helper.from_array(v, k) for k, v in values.items()],
    )
    return helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]
    )


def test_quantized_scalar_constant_becomes_float(tmp_path) -> None:
    """A quantized scalar operand is no INT8 constant in the qdq form (TensorRT's builder takes
    INT8 constants only into a DQ it fuses into a weighted op); verified; builds for SM89."""
    import subprocess
    import sys

    model = _qlinear_mul_by_scalar()
    result = rewrite_model(model, ["requantize"], RewriteOptions(RTX))
    dequantized = {n.input[0] for n in result.proto.graph.node if n.op_type == "DequantizeLinear"}
    int8_scalars = [
        t.name for t in result.proto.graph.initializer
        if t.data_type == TensorProto.INT8 and not t.dims and t.name in dequantized
    ]  # fmt: skip
    assert not int8_scalars
    assert "QuantizeLinear" in {n.op_type for n in result.proto.graph.node}  # still qdq form
    outcome = verify(model, result.proto, allowances=result.allowances)
    assert outcome.ok, outcome.describe_worst()
    if importlib.util.find_spec("tensorrt_rtx") is None:
        return
    path = tmp_path / "m.onnx"
    onnx.save(result.proto, path)
    cmd = [sys.executable, "-m", "trtforge.plugins.cli.build", str(path), "-o"]
    cmd += [str(tmp_path / "m.engine"), "--compute-capability", "89"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_dynamic_quantization_of_an_all_zero_tensor() -> None:
    """DynamicQuantizeLinear of zeros: onnxruntime's scale is 1 (not 0/0); the float emulation
    agrees (a MobileViT with a zero activation came out NaN)."""
    dq = helper.make_node("DynamicQuantizeLinear", ["r"], ["q", "s", "z"])
    relu = helper.make_node("Relu", ["x"], ["r"])
    mm = helper.make_node("MatMulInteger", ["q", "w", "z"], ["m"])
    cast = helper.make_node("Cast", ["m"], ["mf"], to=TensorProto.FLOAT)
    scale = helper.make_node("Mul", ["mf", "s"], ["y"])
    graph = helper.make_graph(
        [relu, dq, mm, cast, scale],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])],
        [
            helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3]),
            helper.make_tensor_value_info("s", TensorProto.FLOAT, []),
        ],
        initializer=[numpy_helper.from_array(np.arange(12, dtype=np.uint8).reshape(4, 3), "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    result = rewrite_model(model, ["requantize"], RewriteOptions(RTX))
    assert "DynamicQuantizeLinear" not in {n.op_type for n in result.proto.graph.node}
    feed = {"x": -np.ones((2, 4), np.float32)}  # all zero after the Relu
    want = run_model(model, feed)
    got = run_model(result.proto, feed)
    assert float(got["s"]) == float(want["s"]) == 1.0
    np.testing.assert_array_equal(got["y"], want["y"])
    outcome = verify(model, result.proto)
    assert outcome.ok, outcome.describe_worst()


def test_auto_falls_back_to_the_float_form_when_qdq_fails_verification(tmp_path, monkeypatch):
    """`--auto` picked requantize; when its default Q/DQ form does not verify, the exact float
    form is written (and said), unless the user chose a form, which is then respected."""
    from trtforge.analyzer.rewrite.api import rewrite_file
    from trtforge.analyzer.rewrite.passes import requantize

    quantized = _quantize(tmp_path, _cnn(13), "qop")
    src = tmp_path / "q.onnx"
    onnx.save(quantized, src)
    monkeypatch.setattr(requantize, "QDQ_STEPS", 0)  # no output may move: qdq cannot verify
    lines = []
    result = rewrite_file(
        src, tmp_path / "auto.onnx", auto=True, target="rtx-1", progress=lines.append
    )
    assert result.written and result.verification.ok
    assert result.report["requantize_form"].startswith("float")
    assert any("retrying with --requantize-form float" in line for line in lines), lines
    written = onnx.load(tmp_path / "auto.onnx")
    assert not any(n.op_type in ("QuantizeLinear", "DequantizeLinear") for n in written.graph.node)
    assert not INTEGER_OPS & set(_ops(written))

    chosen = rewrite_file(
        src, tmp_path / "chosen.onnx", auto=True, target="rtx-1", options={"requantize_form": "qdq"}
    )
    assert not chosen.written and not chosen.verification.ok
    assert not (tmp_path / "chosen.onnx").exists()


@pytest.mark.parametrize("weights", ["QInt8", "QInt16"])
def test_16bit_qdq_is_computed_exactly_in_float(tmp_path, weights):
    """quantize_static(activation_type=QInt16): TensorRT has no 16-bit Q/DQ (the parser fails on
    the INT16 zero-point initializers); an INT8 grid would be 256 times as coarse, so both
    forms compute those tensors in float, exactly; 8-bit weights keep the INT8 Q/DQ form."""
    src, dst = tmp_path / "float.onnx", tmp_path / "q16.onnx"
    onnx.save(_cnn(13), src)
    quantization.quantize_static(
        str(src),
        str(dst),
        _Reader(_cnn(13)),
        quant_format=quantization.QuantFormat.QDQ,
        activation_type=quantization.QuantType.QInt16,
        weight_type=getattr(quantization.QuantType, weights),
    )
    quantized = onnx.load(dst)
    wide = {TensorProto.INT16, TensorProto.UINT16}
    assert any(i.data_type in wide for i in quantized.graph.initializer)
    result = _rewrite(quantized, "qdq")
    out = result.proto
    onnx.checker.check_model(out, full_check=True)
    assert not any(i.data_type in wide for i in out.graph.initializer)
    verification = verify(quantized, out)
    assert verification.ok, verification.describe_worst()
    assert verification.worst.max_abs_diff < 1e-4
    if weights == "QInt8":  # the weights stay INT8 Q/DQ, in TensorRT's form
        assert _ops(out)["DequantizeLinear"] > 0
        _qdq_params_are_tensorrt_form(out)
    if importlib.util.find_spec("tensorrt_rtx") is not None:
        from trtforge.analyzer.api import check

        assert check(out, "rtx-1", "parser", advice=False).supported


def _float_size_arithmetic_quantized() -> onnx.ModelProto:
    """What onnxruntime's QDQ quantizer writes for sizes computed in float (MobileViT's
    `ceil(h / p) * p`): Q/DQ pairs on rank-0 values, unsqueezed into a Reshape's shape."""
    text = """
    <ir_version: 10, opset_import: ["": 17]>
    g (float[N,4,8,8] x) => (float[N,?,?] y)
      <float sc = {0.25}, int8 zp = {0}, int64 i2 = {2}, float two = {2}, int64[1] ax = {0},
       int64[1] n = {0}, int64[1] m1 = {-1}>
    {
      s = Shape(x)
      h = Gather<axis=0>(s, i2)
      f = Cast<to=1>(h)
      d = Div(f, two)
      c = Ceil(d)
      q = QuantizeLinear(c, sc, zp)
      dq = DequantizeLinear(q, sc, zp)
      m = Mul(dq, two)
      i = Cast<to=7>(m)
      u = Unsqueeze(i, ax)
      shape = Concat<axis=0>(n, u, m1)
      y = Reshape(x, shape)
    }"""
    return onnx.parser.parse_model(text)


def test_quantized_scalars_in_size_arithmetic_become_exact_float(tmp_path) -> None:
    """trt-check refuses the Concat (TensorRT cannot compute the extent of an unsqueezed
    quantized scalar) and names requantize; requantize computes the scalar exactly in float,
    and the result is verified and accepted (by the real parser too, where installed)."""
    from trtforge.analyzer.api import check

    model = _float_size_arithmetic_quantized()
    onnx.checker.check_model(model, full_check=True)
    report = check(model, "rtx-1", "static", advice=False)
    (bad,) = [n for n in report.nodes if n.status == "unsupported"]
    assert bad.op_type == "Concat"
    assert "concat/quantized-scalar-extent" in [r.code for r in bad.reasons]
    assert any(f.name == "requantize" for f in bad.fixes)

    result = _rewrite(model, "qdq")
    ops = _ops(result.proto)
    assert ops["QuantizeLinear"] == 0 and ops["DequantizeLinear"] == 0, ops
    assert {"Round", "Clip"} <= set(ops)  # QuantizeLinear emulated exactly
    outcome = verify(model, result.proto, allowances=result.allowances)
    assert outcome.ok, outcome.describe_worst()
    assert check(result.proto, "rtx-1", "static", advice=False).supported
    if importlib.util.find_spec("tensorrt_rtx") is not None:
        assert not check(model, "rtx-1", "parser", advice=False).supported
        assert check(result.proto, "rtx-1", "parser", advice=False).supported


def test_a_quantized_scalar_that_is_also_a_graph_output(tmp_path) -> None:
    """The quantized scalar is a graph output too: it is given back as INT8 by a Cast of its
    exact integer value, not by a scalar QuantizeLinear the next round would rewrite again
    (that never reached a fixed point: exit 3)."""
    model = _float_size_arithmetic_quantized()
    output = onnx.helper.make_tensor_value_info("q", onnx.TensorProto.INT8, [])
    model.graph.output.append(output)
    onnx.checker.check_model(model, full_check=True)
    result = _rewrite(model, "qdq")
    assert "QuantizeLinear" not in _ops(result.proto)
    (q,) = [o for o in result.proto.graph.output if o.name == "q"]
    assert q.type.tensor_type.elem_type == onnx.TensorProto.INT8
    outcome = verify(model, result.proto, allowances=result.allowances)
    assert outcome.ok, outcome.describe_worst()


def test_int8_constant_in_a_shape_becomes_a_float_constant() -> None:
    """A DequantizeLinear of a small INT8 constant that feeds a shape (TensorRT cannot
    evaluate INT8 weights there) becomes a float constant; weights of weighted ops stay INT8."""
    from trtforge.analyzer.api import check

    text = """
    <ir_version: 10, opset_import: ["": 17]>
    g (float[N,4,8,8] x) => (float[?,?,?] y)
      <float sc = {1}, int8 zp = {0}, int8[3] w = {1, -1, 8}>
    { d = DequantizeLinear(w, sc, zp) i = Cast<to=7>(d) y = Reshape(x, i) }"""
    model = onnx.parser.parse_model(text)
    (bad,) = [n for n in check(model, "rtx-1", "static", advice=False).nodes if n.reasons]
    assert "reshape/quantized-constant-shape" in [r.code for r in bad.reasons]
    result = _rewrite(model, "qdq")
    assert "DequantizeLinear" not in _ops(result.proto)
    assert verify(model, result.proto, allowances=result.allowances).ok
    assert check(result.proto, "rtx-1", "static", advice=False).supported


def test_a_quantization_axis_outside_the_tensor_is_skipped() -> None:
    """An INT32 bias dequantized per axis 1 of its one dim: a skip naming the axis (it was an
    IndexError: exit 3)."""
    text = """
    <ir_version: 8, opset_import: ["": 13]>
    g (float[1,4] x) => (float[1,4] y)
      <int32[4] b = {1, 2, 3, 4}, float[4] s = {0.1, 0.2, 0.3, 0.4}, int32[4] z = {0, 0, 0, 0}>
    { bias = DequantizeLinear<axis=1>(b, s, z)
      y = Add(x, bias) }"""
    model = onnx.parser.parse_model(text)
    result = _rewrite(model, "qdq")
    assert not result.changed
    (skip,) = result.passes["requantize"].skips
    assert "axis 1 is outside a tensor of rank 1" in skip.reason


@pytest.mark.filterwarnings("error::RuntimeWarning")  # numpy's, on the user's terminal
@pytest.mark.parametrize("form", ["qdq", "float"])
@pytest.mark.parametrize("bad", ["0", "0.05, 0", "nan", "inf"])
def test_a_quantization_scale_of_zero_or_nan_is_skipped(form, bad) -> None:
    """QuantizeLinear by a constant scale holding a zero or NaN divides by it (0 / 0 is
    NaN, which has no integer: onnxruntime's kernel and a float emulation each give their
    own): a skip naming the scale, the node left as it is, in either form (both rewrote
    it, and their result differed from onnxruntime's where the quotient is NaN). An
    infinite scale (onnxruntime's quantizer gives one to a causal mask's range) is
    rewritten, and verifies."""
    per_axis = "," in bad
    shape = "[2]" if per_axis else ""
    zero = "{128, 128}" if per_axis else "{128}"
    text = f"""
    <ir_version: 8, opset_import: ["": 13]>
    g (float[2,2] x) => (float[2,2] y)
      <float{shape} s = {{{bad}}}, uint8{shape} z = {zero}>
    {{ q = QuantizeLinear<axis=1>(x, s, z)
      y = DequantizeLinear<axis=1>(q, s, z) }}"""
    model = onnx.parser.parse_model(text)
    result = _rewrite(model, form)
    skips = [skip.reason for skip in result.passes["requantize"].skips]
    left = [n for n in result.proto.graph.node if list(n.input) == ["x", "s", "z"]]
    if bad == "inf":
        assert result.changed and not skips and not left
        assert verify(model, result.proto, allowances=result.allowances).ok
        return
    assert any("scale 's' holds a zero or NaN" in reason for reason in skips)
    assert [n.op_type for n in left] == ["QuantizeLinear"]


def _uint8_through(movers: str) -> onnx.ModelProto:
    """x quantized to UINT8 (zero point 128), moved by `movers` (ONNX text reading `xq`,
    writing `m`), into a QLinearMatMul, as onnxruntime's QOperator quantization writes
    LeViT's q/k/v Split."""
    text = f"""
    <ir_version: 8, opset_import: ["": 13]>
    g (float[1,5,12] x) => (float[1,5,8] y)
      <float xs = {{0.02}}, uint8 xz = {{128}}, float ws = {{0.01}}, uint8 wz = {{120}},
       float ys = {{0.05}}, uint8 yz = {{100}}, int64[2] sizes = {{6, 6}},
       float zs = {{0.03}}, uint8 zz = {{128}}, float[3] twice = {{1, 2, 1}},
       int64[3] start = {{0, 0, 0}}, int64[3] end = {{1, 5, 12}}, int64[6] pads = {{0, 1, 0, 0, 2, 0}},
       int64[3] full = {{1, 5, 12}}, int64[1,1] first = {{0}}>
    {{ xq = QuantizeLinear(x, xs, xz)
      {movers}
      yq = QLinearMatMul(m, xs, xz, w, ws, wz, ys, yz)
      y = DequantizeLinear(yq, ys, yz) }}"""
    model = onnx.parser.parse_model(text)
    weights = np.random.default_rng(0).integers(0, 255, (12, 8), dtype=np.uint8)
    model.graph.initializer.append(numpy_helper.from_array(weights, "w"))
    onnx.checker.check_model(model, full_check=True)
    return model


@pytest.mark.parametrize("form", ["qdq", "float"])
@pytest.mark.parametrize(
    "movers",
    [
        "a, b = Split<axis=2>(xq, sizes)\n m = Concat<axis=2>(a, b)",
        "a, b = Split<axis=2>(xq, sizes)\n m = Concat<axis=2>(b, a)",
        # a second quantization with other parameters: the integral values are concatenated
        "a, b = Split<axis=2>(xq, sizes)\n"
        " c = DequantizeLinear(b, xs, xz)\n bq = QuantizeLinear(c, zs, zz)\n"
        " m = Concat<axis=2>(a, bq)",
        # movers onnxruntime's QOperator exports have around them (GLPN, RT-DETR, MaskFormer)
        'r = Resize<mode="nearest">(xq, , twice)\n m = Slice(r, start, end)',
        'r = Pad<mode="edge">(xq, pads)\n m = Slice(r, start, end)',
        "r = ReduceMax<axes=[1]>(xq)\n m = Expand(r, full)",
        "r = ReduceMin<axes=[1]>(xq)\n m = Expand(r, full)",
        "m = GatherND(xq, first)",
        # interpolation in the integer domain (GLPN's and Depth Anything's upsampling)
        'r = Resize<mode="linear">(xq, , twice)\n m = Slice(r, start, end)',
        'r = Resize<mode="linear", coordinate_transformation_mode="align_corners">(xq, , twice)'
        "\n m = Slice(r, start, end)",
    ],
    ids=[
        "split-concat",
        "swapped",
        "other-params",
        "resize-nearest",
        "pad-edge",
        "reduce-max",
        "reduce-min",
        "gather-nd",
        "resize-linear",
        "resize-linear-corners",
    ],
)
def test_split_and_concat_of_quantized_tensors_leave_no_uint8(form, movers) -> None:
    """requantize moved Reshape, Transpose, Slice… onto the float (or integral) values, but
    not Split or Concat, nor Resize, Pad, ReduceMax/Min: a UINT8 tensor between them stayed
    (and a UINT8 Cast was added), which TensorRT refuses ("TensorRT does not support UINT8
    types for intermediate tensors"), after a rewrite that verified. An interpolating Resize
    is computed in float, as onnxruntime's integer kernel rounds it."""
    model = _uint8_through(movers)
    result = _rewrite(model, form)
    inferred = onnx.shape_inference.infer_shapes(result.proto)
    typed = [*inferred.graph.value_info, *inferred.graph.output]
    assert not [v.name for v in typed if v.type.tensor_type.elem_type == TensorProto.UINT8]
    # the float form emulates QLinearMatMul in float32: at a rounding tie of the output it
    # may land one step (ys = 0.05) away from onnxruntime's integer kernel
    allowances = {"y": max(result.allowances.get("y", (0.0, "")), (0.05 + 1e-6, "one step"))}
    assert verify(model, result.proto, allowances=allowances).ok
    assert not check(result.proto, target="rtx-1", backend="static").unsupported_nodes


def test_external_weights_are_read_from_the_models_folder(tmp_path, monkeypatch) -> None:
    """requantize reads zero points and weights: with the weights in an external data file,
    they were looked up from the working folder (exit 3 unless run beside the model:
    onnxruntime-genai's asymmetric QDQ int4 export); the pass now declares that it reads
    weights, and trt-rewrite loads them from the model's folder."""
    from trtforge.analyzer.cli.rewrite import main

    rng = np.random.default_rng(3)
    model = onnx.parser.parse_model(
        """<ir_version: 8, opset_import: ["": 13]>
        g (float[2,16] x) => (float[2,8] y) <float ws = {0.01}, float xs = {0.02}> {
          w = DequantizeLinear(wq, ws, wz)
          y = MatMul(x, w)
        }"""
    )
    model.graph.initializer.extend(
        [
            numpy_helper.from_array(rng.integers(0, 255, (16, 8), dtype=np.uint8), "wq"),
            numpy_helper.from_array(np.full((), 128, np.uint8), "wz"),
        ]
    )
    src = tmp_path / "model" / "m.onnx"
    src.parent.mkdir()
    onnx.save(model, src, save_as_external_data=True, size_threshold=0, location="m.data")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    out = tmp_path / "out.onnx"
    assert main([str(src), "-o", str(out), "--requantize"]) == 0
    assert main([str(src), "-o", str(tmp_path / "auto.onnx"), "--auto", "--target", "rtx-1"]) == 0
    assert not check(onnx.load(out), target="rtx-1", backend="static").unsupported_nodes
    assert list(elsewhere.iterdir()) == []


@pytest.mark.parametrize("form", ["qdq", "float"])
def test_a_cast_to_the_quantized_type_is_followed(form) -> None:
    """torch.ao's TorchScript exports write QuantizeLinear → Cast(to=UINT8) → DequantizeLinear:
    the no-op Cast kept a UINT8 tensor (requantize wrote Casts to UINT8 of its own, which the
    parser refuses: MobileNetV2 PTQ '230 before → 66 after')."""
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "s", "zp"], ["q"]),
        helper.make_node("Cast", ["q"], ["qc"], to=TensorProto.UINT8),
        helper.make_node("DequantizeLinear", ["qc", "s", "zp"], ["dq"]),
        helper.make_node("Relu", ["dq"], ["y"]),
    ]
    model = helper.make_model(
        helper.make_graph(
            nodes,
            "g",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8])],
            [
                helper.make_tensor("s", TensorProto.FLOAT, [], [0.05]),
                helper.make_tensor("zp", TensorProto.UINT8, [], [128]),
            ],
        ),
        opset_imports=[helper.make_opsetid("", 17)],
    )
    result = _rewrite(model, form)
    out = result.proto
    for node in out.graph.node:
        assert not (node.op_type == "Cast" and node.attribute[0].i == TensorProto.UINT8)
    report = check(out, target="rtx-1", backend="static")
    assert report.supported, [n.reasons for n in report.nodes if not n.ok]
    assert verify(model, out, allowances=result.allowances).ok  # qdq: the new grid's steps


def test_quantization_parameters_read_through_identity_are_constants() -> None:
    """torch.ao's QAT exports (TorchScript) read scales and zero points through Identities
    (equal buffers shared): requantize called them "not a constant" and left the nodes
    ('2 before → 2 after'); its qdq form failed at |diff| 5.75 and the float form did not
    load (ResNet-18, MobileNetV3)."""
    rng = np.random.default_rng(0)
    inits = [
        numpy_helper.from_array(np.array(0.02, np.float32), "s_a0"),
        numpy_helper.from_array(np.array(128, np.uint8), "zp_a0"),
        numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32) * 0.1, "w"),
        numpy_helper.from_array(np.full(4, 0.002, np.float32), "s_w0"),
        numpy_helper.from_array(np.zeros(4, np.int8), "zp_w0"),
    ]
    nodes = [
        helper.make_node("Identity", [name + "0"], [name])
        for name in ("s_a", "zp_a", "s_w", "zp_w")
    ] + [
        helper.make_node("QuantizeLinear", ["x", "s_a", "zp_a"], ["xq"]),
        helper.make_node("DequantizeLinear", ["xq", "s_a", "zp_a"], ["xd"]),
        helper.make_node("QuantizeLinear", ["w", "s_w", "zp_w"], ["wq"], axis=0),
        helper.make_node("DequantizeLinear", ["wq", "s_w", "zp_w"], ["wd"], axis=0),
        helper.make_node("Conv", ["xd", "wd"], ["y"], pads=[1, 1, 1, 1]),
    ]
    model = helper.make_model(
        helper.make_graph(
            nodes,
            "g",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 8, 8])],
            inits,
        ),
        opset_imports=[helper.make_opsetid("", 13)],
    )
    for form in ("qdq", "float"):
        result = _rewrite(model, form)
        assert result.passes["requantize"].applied, form
        report = check(result.proto, target="rtx-1", backend="static")
        assert report.supported, [n.reasons for n in report.nodes if not n.ok]
        assert verify(model, result.proto, allowances=result.allowances).ok, form


def test_an_onnxruntime_domain_dequantize_of_an_int32_bias_is_requantized(tmp_path):
    """onnxruntime's quantizer writes every Q/DQ in com.microsoft where a 4-bit type is
    involved, the INT32 bias's DequantizeLinear included: the same op as ONNX's, which
    requantize computes in float (it was named as the fix and applied 0 times)."""
    from onnx import TensorProto, helper, numpy_helper

    from trtforge.analyzer import check, rewrite_file

    inits = [
        numpy_helper.from_array(np.array([5, -3, 7, 0], np.int32), "b_q"),
        numpy_helper.from_array(np.array(0.01, np.float32), "b_s"),
        numpy_helper.from_array(np.array(0, np.int32), "b_zp"),
    ]
    graph = helper.make_graph(
        [
            helper.make_node(
                "DequantizeLinear", ["b_q", "b_s", "b_zp"], ["b"], domain="com.microsoft",
                name="bias_dq",
            ),
            helper.make_node("Add", ["x", "b"], ["y"], name="add"),
        ],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4])],
        inits,
    )  # fmt: skip
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)],
        ir_version=8,
    )
    assert not check(model, target="rtx-1", backend="static").supported
    onnx.save(model, tmp_path / "m.onnx")
    result = rewrite_file(tmp_path / "m.onnx", tmp_path / "out.onnx", auto=True, target="rtx-1")
    assert result.written and result.passes["requantize"].applied == 1
    assert check(onnx.load(tmp_path / "out.onnx"), target="rtx-1", backend="static").supported

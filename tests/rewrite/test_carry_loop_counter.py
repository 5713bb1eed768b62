"""carry-loop-counter: while loops (no trip count, or a constant one of 2^31 - 1 or more, as
TorchScript and tf2onnx write) whose body reads the iteration count → a carried counter; the
same values in onnxruntime, trt-check names the pass, TensorRT-RTX's parser takes the result."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from trtforge.analyzer import check
from trtforge.analyzer.rewrite.verify import run_model

INT64_MAX = 2**63 - 1


def _while_loop(trip_count: int | None, opset: int = 17) -> onnx.ModelProto:
    """acc += x * i while i < limit (the body compares and reads the count; a nested If reads
    it too, from the outer scope)."""
    m = "" if trip_count is None else "m"
    init = "" if trip_count is None else f", int64 m = {{{trip_count}}}"
    return onnx.parser.parse_model(
        f'<ir_version: 8, opset_import: ["": {opset}]>\n'
        f"g (float[4] x, int64 limit) => (float[4] acc, int64 steps) <float[4] zero = {{0,0,0,0}}, "
        f"int64 start = {{0}}{init}> {{\n"
        " c0 = Less(start, limit)\n"
        f" acc, steps = Loop<body = b (int64 i, bool c, float[4] a, int64 s) => (bool c2, float[4] a2, int64 s2) {{\n"
        "   f = Cast<to = 1>(i)\n"
        "   xf = Mul(x, f)\n"
        "   a2 = Add(a, xf)\n"
        "   one = Constant<value = int64 {1}>()\n"
        "   i1 = Add(i, one)\n"
        "   c2 = Less(i1, limit)\n"
        "   two = Constant<value = int64 {2}>()\n"
        "   odd = Mod(i, two)\n"
        "   is_odd = Cast<to = 9>(odd)\n"
        "   s2 = If(is_odd) <then_branch = t () => (int64 r) { r = Add(s, i) },"
        " else_branch = e () => (int64 r) { r = Identity(s) }>\n"
        f" }}>({m}, c0, zero, start)\n"
        "}"
    )


@pytest.mark.parametrize("trip_count", [None, 2**31 - 1, INT64_MAX])
def test_rewrite_computes_the_same_and_the_loop_parses(rw, trip_count):
    model = _while_loop(trip_count)
    onnx.checker.check_model(model, full_check=True)
    before = check(model, target="rtx-1", backend="static")
    loop = next(n for n in before.nodes if n.op_type == "Loop")
    codes = [f.code for f in loop.errors]
    assert "loop/iteration-count-without-trip-count" in codes
    assert [f.name for f in loop.fixes] == ["carry-loop-counter"]

    result = rw.apply(model, "carry-loop-counter")
    assert result.passes["carry-loop-counter"].applied == 1
    onnx.checker.check_model(result.proto, full_check=True)
    x = np.array([1.0, -2.0, 0.5, 3.0], np.float32)
    for limit in (0, 1, 5, 9):
        feeds = {"x": x, "limit": np.array(limit, np.int64)}
        want, got = run_model(model, feeds), run_model(result.proto, feeds)
        np.testing.assert_array_equal(want["acc"], x * sum(range(limit)))
        np.testing.assert_array_equal(got["acc"], want["acc"])
        np.testing.assert_array_equal(got["steps"], want["steps"])
    after = check(result.proto, target="rtx-1", backend="static")
    assert after.supported, [(n.op_type, [f.code for f in n.errors]) for n in after.nodes]
    assert not rw.apply(result.proto, "carry-loop-counter").changed  # idempotent


def test_an_overridable_trip_count_is_read_as_the_parser_reads_it(rw):
    """An initializer that is also a graph input (IR >= 4): the parser takes its default as
    weights (INT64_MAX: no trip limit), so the pass applies; the rewritten loop computes the
    same whatever trip count is fed."""
    model = _while_loop(INT64_MAX)
    model.graph.input.append(onnx.helper.make_tensor_value_info("m", onnx.TensorProto.INT64, []))
    report = check(model, target="rtx-1", backend="static")
    assert [f.name for n in report.nodes for f in n.fixes] == ["carry-loop-counter"]
    result = rw.apply(model, "carry-loop-counter")
    assert result.passes["carry-loop-counter"].applied == 1
    assert [i.name for i in result.proto.graph.input] == ["x", "limit", "m"]
    x = np.array([1.0, -2.0, 0.5, 3.0], np.float32)
    for m in (INT64_MAX, 2, 0):
        feeds = {"x": x, "limit": np.array(5, np.int64), "m": np.array(m, np.int64)}
        want, got = run_model(model, feeds), run_model(result.proto, feeds)
        np.testing.assert_array_equal(got["acc"], want["acc"])
        np.testing.assert_array_equal(got["steps"], want["steps"])
    assert check(result.proto, target="rtx-1", backend="static").supported


def test_a_loop_with_a_trip_limit_is_left_alone(rw):
    model = _while_loop(2**31 - 2)
    assert check(model, target="rtx-1", backend="static").supported
    assert not rw.apply(model, "carry-loop-counter").changed


def test_the_rewritten_loop_parses_in_tensorrt_rtx(rw):
    pytest.importorskip("tensorrt_rtx")
    model = _while_loop(INT64_MAX)
    assert not check(model, target="rtx-1", backend="parser", advice=False).supported
    rewritten = rw.apply(model, "carry-loop-counter").proto
    report = check(rewritten, target="rtx-1", backend="parser", advice=False)
    assert report.supported, [(n.op_type, [f.message for f in n.errors]) for n in report.nodes]

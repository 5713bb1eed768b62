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


def _body(counter_shape, read_in_nested=False):
    """A while-loop body (i, c, a) -> (c2, a2): a += float(i), going on while i + 1 < limit;
    `counter_shape`: how the body declares `i`; `read_in_nested`: a nested Loop (trip count 3)
    reads an iteration count of its own, also named `i`, and the body does not read its own."""
    vi = onnx.helper.make_tensor_value_info
    T = onnx.TensorProto
    if read_in_nested:
        inner = onnx.helper.make_graph(
            [
                onnx.helper.make_node("Identity", ["ci"], ["cj"]),
                onnx.helper.make_node("Cast", ["i"], ["ff"], to=T.FLOAT),
                onnx.helper.make_node("Add", ["b", "ff"], ["b2"]),
            ],
            "inner",
            [vi("i", T.INT64, []), vi("ci", T.BOOL, []), vi("b", T.FLOAT, [4])],
            [vi("cj", T.BOOL, []), vi("b2", T.FLOAT, [4])],
        )
        nodes = [
            onnx.helper.make_node("Loop", ["three", "c", "a"], ["a2"], body=inner),
            onnx.helper.make_node("ReduceSum", ["a2"], ["s"], keepdims=0),
            onnx.helper.make_node("Less", ["s", "flimit"], ["c2"]),
        ]
    else:
        nodes = [
            onnx.helper.make_node("Cast", ["i"], ["f"], to=T.FLOAT),
            onnx.helper.make_node("Add", ["a", "f"], ["a2"]),
            onnx.helper.make_node("Add", ["i", "one"], ["i1"]),
            onnx.helper.make_node("Less", ["i1", "limit"], ["c2"]),
        ]
    return onnx.helper.make_graph(
        nodes,
        "body",
        [vi("i", T.INT64, counter_shape), vi("c", T.BOOL, []), vi("a", T.FLOAT, [4])],
        [vi("c2", T.BOOL, None), vi("a2", T.FLOAT, [4])],
    )


def _model(nodes, extra_inits=()):
    vi = onnx.helper.make_tensor_value_info
    T = onnx.TensorProto
    inits = [
        onnx.numpy_helper.from_array(np.zeros(4, np.float32), "zero"),
        onnx.numpy_helper.from_array(np.array(INT64_MAX, np.int64), "m"),
        onnx.numpy_helper.from_array(np.array(1, np.int64), "one"),
        onnx.numpy_helper.from_array(np.array(3, np.int64), "three"),
        onnx.numpy_helper.from_array(np.array(30.0, np.float32), "flimit"),
        *extra_inits,
    ]
    graph = onnx.helper.make_graph(
        nodes,
        "g",
        [vi("limit", T.INT64, []), vi("c0", T.BOOL, [])],
        [vi("y", T.FLOAT, [4])],
        inits,
    )
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model


def _feeds(limit, cond=True):
    return {"limit": np.array(limit, np.int64), "c0": np.array(cond)}


def test_a_loop_in_an_if_branch_is_rewritten_and_the_change_kept(rw):
    """The manager tells a change inside a body from none (it compared top-level nodes only:
    "applied 1", and the input written unchanged)."""
    loop = onnx.helper.make_node("Loop", ["m", "c0", "zero"], ["r"], body=_body([]))
    branch = onnx.helper.make_graph(
        [loop], "then", [], [onnx.helper.make_tensor_value_info("r", 1, [4])]
    )
    other = onnx.helper.make_graph(
        [onnx.helper.make_node("Identity", ["zero"], ["e"])],
        "else",
        [],
        [onnx.helper.make_tensor_value_info("e", 1, [4])],
    )
    model = _model(
        [onnx.helper.make_node("If", ["c0"], ["y"], then_branch=branch, else_branch=other)]
    )
    assert not check(model, target="rtx-1", backend="static").supported
    result = rw.apply(model, "carry-loop-counter")
    assert result.changed and result.passes["carry-loop-counter"].applied == 1
    onnx.checker.check_model(result.proto, full_check=True)
    for limit in (0, 4):
        want, got = run_model(model, _feeds(limit)), run_model(result.proto, _feeds(limit))
        np.testing.assert_array_equal(got["y"], want["y"])
    assert check(result.proto, target="rtx-1", backend="static").supported


def test_a_counter_declared_of_shape_one_keeps_its_shape(rw):
    """A body declaring its count `int64[1]`: the carried counter keeps that shape (made a
    scalar, the values computed from it no longer fit their declarations)."""
    model = _model([onnx.helper.make_node("Loop", ["m", "c0", "zero"], ["y"], body=_body([1]))])
    result = rw.apply(model, "carry-loop-counter")
    assert result.passes["carry-loop-counter"].applied == 1
    onnx.checker.check_model(result.proto, full_check=True)
    for limit in (1, 5):
        want, got = run_model(model, _feeds(limit)), run_model(result.proto, _feeds(limit))
        np.testing.assert_array_equal(got["y"], want["y"])


def test_a_count_of_several_values_is_skipped_and_not_promised(rw):
    model = _model([onnx.helper.make_node("Loop", ["m", "c0", "zero"], ["y"], body=_body(["n"]))])
    report = check(model, target="rtx-1", backend="static")
    assert not report.supported and not [f for n in report.nodes for f in n.fixes]
    result = rw.apply(model, "carry-loop-counter")
    assert not result.changed
    assert "not one value" in result.passes["carry-loop-counter"].skips[0].reason


def test_a_nested_body_reading_a_count_of_its_own_name_is_not_the_outer_count():
    """The outer body does not read its count; a nested Loop names its own count `i` too
    (onnx.checker accepts it). The parser builds the outer loop (it has a trip limit for the
    inner one); trt-check said it read the outer count."""
    model = _model(
        [
            onnx.helper.make_node(
                "Loop", ["m", "c0", "zero"], ["y"], body=_body([], read_in_nested=True)
            )
        ]
    )
    assert check(model, target="rtx-1", backend="static").supported


def test_a_loop_body_without_its_outputs_is_an_invalid_graph():
    """ONNX's inference lets it pass; onnxruntime refuses it, and so does the parser."""
    body = _body([])
    del body.output[:]
    graph_loop = onnx.helper.make_node("Loop", ["m", "c0", "zero"], ["y"], body=body)
    vi = onnx.helper.make_tensor_value_info
    graph = onnx.helper.make_graph(
        [graph_loop],
        "g",
        [vi("limit", 7, []), vi("c0", 9, [])],
        [vi("y", 1, [4])],
        [
            onnx.numpy_helper.from_array(np.zeros(4, np.float32), "zero"),
            onnx.numpy_helper.from_array(np.array(INT64_MAX, np.int64), "m"),
            onnx.numpy_helper.from_array(np.array(1, np.int64), "one"),
        ],
    )
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 17)])
    report = check(model, target="rtx-1", backend="static")
    codes = [f.code for n in report.nodes for f in n.errors]
    assert "invalid/body-signature" in codes


def test_a_body_handing_back_its_count_is_verified_against_the_reference(tmp_path):
    """onnxruntime hands back the count it has since incremented when a body outputs its
    iteration count itself (5 where the last iteration's is 4); the rewrite computes 4, as
    onnx.reference does, and failed verification with "a pass produced a different result"."""
    from onnx import TensorProto, helper, numpy_helper

    from trtforge.analyzer.rewrite.api import rewrite_file

    vi = helper.make_tensor_value_info
    body = helper.make_graph(
        [helper.make_node("Less", ["i", "lim"], ["c_out"]), helper.make_node("Relu", ["a"], ["a2"])],
        "body",
        [vi("i", TensorProto.INT64, []), vi("c", TensorProto.BOOL, []),
         vi("a", TensorProto.FLOAT, [3]), vi("last", TensorProto.INT64, [])],
        [vi("c_out", TensorProto.BOOL, []), vi("a2", TensorProto.FLOAT, [3]),
         vi("i", TensorProto.INT64, [])],
    )  # fmt: skip
    graph = helper.make_graph(
        [helper.make_node("Loop", ["m", "t", "x", "m1"], ["y", "last_i"], body=body)],
        "g",
        [vi("x", TensorProto.FLOAT, [3])],
        [vi("y", TensorProto.FLOAT, [3]), vi("last_i", TensorProto.INT64, [])],
        [
            numpy_helper.from_array(np.array(True), "t"),
            numpy_helper.from_array(np.array(4, np.int64), "lim"),
            numpy_helper.from_array(np.array(INT64_MAX, np.int64), "m"),
            numpy_helper.from_array(np.array(-1, np.int64), "m1"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    source, out = tmp_path / "m.onnx", tmp_path / "out.onnx"
    onnx.save(model, source)
    result = rewrite_file(str(source), str(out), ["carry-loop-counter"], target="rtx-1")
    assert result.verification is not None and result.verification.ok
    feeds = {"x": np.zeros(3, np.float32)}
    assert int(run_model(onnx.load(out), feeds)["last_i"]) == 4


@pytest.mark.parametrize("overridable", [False, True])
def test_a_trip_count_in_external_data_is_read(tmp_path, overridable):
    """A model saved with size_threshold=0 keeps even its INT64_MAX trip count in the data
    file: trt-check read no value (SUPPORTED, the parser refuses it) and the pass applied to
    none. A tensor of a few values is read from the checked location."""
    from trtforge.analyzer.rewrite.api import rewrite_file

    model = _while_loop(INT64_MAX)
    if overridable:
        model.graph.input.append(
            onnx.helper.make_tensor_value_info("m", onnx.TensorProto.INT64, [])
        )
    for tensor in model.graph.initializer:  # raw data, which onnx writes externally
        tensor.CopyFrom(
            onnx.numpy_helper.from_array(onnx.numpy_helper.to_array(tensor), tensor.name)
        )
    source, out = tmp_path / "m.onnx", tmp_path / "out.onnx"
    onnx.save(model, source, save_as_external_data=True, location="m.data", size_threshold=0)
    trip = next(
        t for t in onnx.load(source, load_external_data=False).graph.initializer if t.name == "m"
    )
    assert trip.data_location == onnx.TensorProto.EXTERNAL
    report = check(str(source), target="rtx-1", backend="static")
    assert [f.name for n in report.nodes for f in n.fixes] == ["carry-loop-counter"]
    result = rewrite_file(str(source), str(out), ["carry-loop-counter"], target="rtx-1")
    assert result.verification is not None and result.verification.ok
    assert check(str(out), target="rtx-1", backend="static").supported

"""lower-sequences: sequences built from statically known pieces become lists of tensors and
their consumers tensor ops (Split, Concat, Identity, constants), verified against onnxruntime."""

from __future__ import annotations

import pytest

from trtforge.analyzer.rewrite.registry import passes_removing

SEQ_OPS = (
    "SplitToSequence",
    "SequenceAt",
    "SequenceConstruct",
    "SequenceInsert",
    "SequenceErase",
    "SequenceLength",
    "ConcatFromSequence",
)


def model(body, opset=17, outputs="float[2,5] y", inputs="float[2,5] x, float[2,5] z"):
    return f"""<ir_version: 8, opset_import: ["" : {opset}]>
    g ({inputs}) => ({outputs}) <int64 one = {{1}}, int64 minus1 = {{-1}}, int64 zero = {{0}},
        int64[2] sizes = {{2, 3}}, int64 two = {{2}}> {{
      {body}
    }}"""


CASES = {
    "split-sizes-concat": (
        "s = SplitToSequence<axis=1>(x, sizes)\n y = ConcatFromSequence<axis=1>(s)",
        "float[2,5] y",
    ),
    "split-ones-keepdims0-at": (
        "s = SplitToSequence<axis=1, keepdims=0>(x)\n y = SequenceAt(s, minus1)",
        "float[2] y",
    ),
    "split-ones-keepdims1-at": (
        "s = SplitToSequence<axis=0>(x)\n y = SequenceAt(s, one)",
        "float[1,5] y",
    ),
    "split-chunk-scalar": (
        "s = SplitToSequence<axis=1>(x, two)\n y = SequenceAt(s, minus1)",
        "float[2,1] y",
    ),
    "construct-insert-erase-concat": (
        "s = SequenceConstruct(x, z)\n s2 = SequenceInsert(s, x, one)\n s3 = SequenceErase(s2, zero)\n"
        " y = ConcatFromSequence<axis=0>(s3)",
        "float[6,5] y",
    ),
    "construct-new-axis": (
        "s = SequenceConstruct(x, z, x)\n y = ConcatFromSequence<axis=1, new_axis=1>(s)",
        "float[2,3,5] y",
    ),
    "construct-new-axis-negative": (
        "s = SequenceConstruct(x, z)\n y = ConcatFromSequence<axis=-1, new_axis=1>(s)",
        "float[2,5,2] y",
    ),
    "insert-default-erase-default-length": (
        "s = SequenceConstruct(x)\n s2 = SequenceInsert(s, z)\n s3 = SequenceInsert(s2, x)\n"
        " s4 = SequenceErase(s3)\n n = SequenceLength(s4)\n a = SequenceAt(s4, one)\n y = Identity(a)",
        "float[2,5] y, int64 n",
    ),
}


@pytest.mark.parametrize("opset", [11, 17])
@pytest.mark.parametrize("case", sorted(CASES))
def test_lowered_and_verified(rw, case, opset):
    body, outputs = CASES[case]
    original = rw.parse(model(body, opset=opset, outputs=outputs))
    result = rw.apply(original, "lower-sequences")
    stats = result.passes["lower-sequences"]
    assert stats.applied >= 1 and not stats.skips, [s.reason for s in stats.skips]
    assert not set(rw.ops(result.proto)) & set(SEQ_OPS), rw.ops(result.proto)
    rw.same(original, result.proto)
    assert not rw.apply(result.proto, "lower-sequences").changed


def test_length_folds_to_a_constant(rw):
    body = "s = SplitToSequence<axis=1>(x, sizes)\n n = SequenceLength(s)\n y = Identity(x)"
    original = rw.parse(model(body, outputs="float[2,5] y, int64 n"))
    result = rw.apply(original, "lower-sequences", "fold-constants")
    assert not set(rw.ops(result.proto)) & set(SEQ_OPS)
    rw.same(original, result.proto)


def test_dynamic_position_skipped_with_reason(rw):
    body = "s = SequenceConstruct(x, z)\n y = SequenceAt(s, p)"
    original = rw.parse(model(body, inputs="float[2,5] x, float[2,5] z, int64 p"))
    result = rw.apply(original, "lower-sequences")
    assert not result.changed and result.proto is original
    assert "not a build-time constant" in result.passes["lower-sequences"].skips[0].reason


def test_dynamic_split_dim_skipped_with_reason(rw):
    body = "s = SplitToSequence<axis=1>(x)\n y = ConcatFromSequence<axis=1>(s)"
    original = rw.parse(model(body, inputs="float[2,N] x", outputs="float[2,N] y"))
    result = rw.apply(original, "lower-sequences")
    assert not result.changed
    assert "not static" in result.passes["lower-sequences"].skips[0].reason


def test_nothing_to_do(rw):
    original = rw.parse(model("y = Relu(x)"))
    result = rw.apply(original, "lower-sequences")
    assert not result.changed and result.proto is original


def test_named_as_the_fix():
    for op in SEQ_OPS:
        assert "lower-sequences" in passes_removing("", op)


@pytest.mark.parser
def test_lowered_model_parses_with_tensorrt_rtx(rw, tmp_path):
    pytest.importorskip("tensorrt_rtx")
    import onnx

    from trtforge.analyzer import check

    body, outputs = CASES["construct-insert-erase-concat"]
    lowered = rw.apply(rw.parse(model(body, outputs=outputs)), "lower-sequences", "fold-constants")
    path = tmp_path / "m.onnx"
    onnx.save(lowered.proto, path)
    report = check(str(path), backend="parser", target="rtx-1")
    assert report.supported, [(n.op_type, [r.message for r in n.reasons]) for n in report.nodes]


@pytest.mark.parametrize("opset", [11, 17])
def test_split_sizes_computed_at_run_time(rw, opset):
    """Split sizes that are an input of static length 3: three pieces (Slices between the
    running sums), SequenceLength 3, onnxruntime agrees on valid sizes."""
    import numpy as np
    import onnxruntime as ort

    body = (
        "s = SplitToSequence<axis=1>(x, sp)\n n = SequenceLength(s)\n a = SequenceAt(s, one)\n"
        " b = SequenceAt(s, minus1)\n y = Identity(a)\n w = Identity(b)"
    )
    original = rw.parse(
        model(
            body,
            opset=opset,
            inputs="float[2,N] x, int64[3] sp",
            outputs="float[2,M] y, float[2,K] w, int64 n",
        )
    )
    result = rw.apply(original, "lower-sequences", "fold-constants")
    assert not set(rw.ops(result.proto)) & set(SEQ_OPS), rw.ops(result.proto)
    x = np.arange(14, dtype=np.float32).reshape(2, 7)
    for sizes in ([2, 4, 1], [0, 7, 0], [3, 3, 1]):
        feed = {"x": x, "sp": np.array(sizes, np.int64)}
        want = ort.InferenceSession(original.SerializeToString()).run(None, feed)
        got = ort.InferenceSession(result.proto.SerializeToString()).run(None, feed)
        for a, b in zip(want, got, strict=True):
            np.testing.assert_array_equal(a, b)
    assert not rw.apply(result.proto, "lower-sequences").changed


def test_runtime_split_of_unknown_length_skipped_with_reason(rw):
    body = "s = SplitToSequence<axis=1>(x, sp)\n n = SequenceLength(s)"
    original = rw.parse(model(body, inputs="float[2,5] x, int64[K] sp", outputs="int64 n"))
    result = rw.apply(original, "lower-sequences")
    assert not result.changed
    assert "not static" in result.passes["lower-sequences"].skips[0].reason


def test_the_pass_is_not_promised_for_a_sequence_a_loop_builds():
    """A scripted `list.append` in a loop: the sequence comes out of the Loop, which the pass
    does not lower; trt-check named lower-sequences and `--auto` changed nothing."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    from trtforge.analyzer import check

    vi = helper.make_tensor_value_info
    body = helper.make_graph(
        [
            helper.make_node("Identity", ["c"], ["c2"]),
            helper.make_node("SequenceInsert", ["s_in", "x"], ["s_out"]),
        ],
        "body",
        [vi("i", TensorProto.INT64, []), vi("c", TensorProto.BOOL, []),
         helper.make_tensor_sequence_value_info("s_in", TensorProto.FLOAT, None)],
        [vi("c2", TensorProto.BOOL, []),
         helper.make_tensor_sequence_value_info("s_out", TensorProto.FLOAT, None)],
    )  # fmt: skip
    graph = helper.make_graph(
        [
            helper.make_node("SequenceEmpty", [], ["s0"], dtype=TensorProto.FLOAT),
            helper.make_node("Loop", ["n", "t", "s0"], ["s"], body=body),
            helper.make_node("ConcatFromSequence", ["s"], ["y"], axis=0),
        ],
        "g",
        [vi("x", TensorProto.FLOAT, [1, 3])],
        [vi("y", TensorProto.FLOAT, None)],
        [
            numpy_helper.from_array(np.array(3, np.int64), "n"),
            numpy_helper.from_array(np.array(True), "t"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    report = check(model, target="rtx-1", backend="static")
    assert not report.supported
    assert "lower-sequences" not in {f.name for n in report.nodes for f in n.fixes}


def test_a_sequence_through_identity_is_lowered(rw):
    """SequenceConstruct → Identity → ConcatFromSequence: the Identity hid the pieces (the pass
    skipped it, and trt-check offered no fix though fold-constants + the pass lowered it)."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    vi = helper.make_tensor_value_info
    graph = helper.make_graph(
        [
            helper.make_node("SequenceConstruct", ["a", "b"], ["s"]),
            helper.make_node("Identity", ["s"], ["s2"]),
            helper.make_node("ConcatFromSequence", ["s2"], ["y"], axis=0),
            helper.make_node("SequenceAt", ["s2", "one"], ["z"]),
        ],
        "g",
        [vi("a", TensorProto.FLOAT, [2, 3]), vi("b", TensorProto.FLOAT, [1, 3])],
        [vi("y", TensorProto.FLOAT, [3, 3]), vi("z", TensorProto.FLOAT, [1, 3])],
        [numpy_helper.from_array(np.array(1, np.int64), "one")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    result = rw.apply(model, "lower-sequences", target="rtx-1")
    assert result.passes["lower-sequences"].applied == 2
    assert not {"SequenceConstruct", "ConcatFromSequence", "SequenceAt"} & set(rw.ops(result.proto))
    rw.same(model, result.proto)

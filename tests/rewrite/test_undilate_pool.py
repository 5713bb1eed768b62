"""undilate-pool: dilated MaxPool/AveragePool → Pad + strided Slice + pool (or Slices + Max),
compared with onnxruntime's dilated pooling; trt-check names the pass; the result parses."""

from __future__ import annotations

import pytest

from trtforge.analyzer import check

POOL = """<ir_version: 9, opset_import: ["" : {opset}]>
g (float[{xshape}] x) => (float[{yshape}] y) {{
    y = {op} <{attrs}> (x)
}}"""


def pool(op="MaxPool", xshape="1,2,20,17", yshape="?", attrs="", opset=17):
    return POOL.format(op=op, xshape=xshape, yshape=yshape, attrs=attrs, opset=opset)


CASES = {
    # stride a multiple of the dilation: one strided Slice, then the pool
    "max2d-stride-eq-dilation-pads": (
        "MaxPool",
        "1,2,20,17",
        "kernel_shape=[3,2], dilations=[2,3], strides=[2,3], pads=[1,1,2,1]",
        17,
    ),  # fmt: skip
    "max2d-stride-2x-dilation-ceil": (
        "MaxPool",
        "1,2,21,18",
        "kernel_shape=[2,3], dilations=[2,2], strides=[4,2], ceil_mode=1",
        17,
    ),  # fmt: skip
    "max1d": ("MaxPool", "2,3,40", "kernel_shape=[5], dilations=[3], strides=[3], pads=[2,2]", 17),
    "max3d": (
        "MaxPool",
        "1,1,9,8,7",
        "kernel_shape=[2,2,2], dilations=[2,1,2], strides=[2,1,2]",
        17,
    ),  # fmt: skip
    # stride not a multiple of the dilation: one Slice per kernel offset, then Max
    "max2d-stride1-slices": (
        "MaxPool",
        "1,2,12,11",
        "kernel_shape=[3,3], dilations=[2,2], pads=[2,2,2,2]",
        17,
    ),  # fmt: skip
    "max2d-ceil-slices": (
        "MaxPool",
        "1,1,13,10",
        "kernel_shape=[2,2], dilations=[2,3], strides=[3,2], ceil_mode=1",
        17,
    ),  # fmt: skip
    "avg2d-no-pads": (
        "AveragePool",
        "1,2,16,15",
        "kernel_shape=[3,2], dilations=[2,2], strides=[2,2]",
        19,
    ),  # fmt: skip
    "avg2d-pads-counted": (
        "AveragePool",
        "1,2,16,15",
        "kernel_shape=[3,3], dilations=[2,2], strides=[2,2], pads=[1,1,1,1], count_include_pad=1",
        19,
    ),  # fmt: skip
    "avg2d-slices": (
        "AveragePool",
        "1,1,12,12",
        "kernel_shape=[2,2], dilations=[2,2], strides=[1,1]",
        19,
    ),  # fmt: skip
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_undilated_and_verified(rw, case):
    op, xshape, attrs, opset = CASES[case]
    original = rw.parse(pool(op, xshape, attrs=attrs, opset=opset))
    result = rw.apply(original, "undilate-pool")
    stats = result.passes["undilate-pool"]
    assert stats.applied == 1 and not stats.skips, [s.reason for s in stats.skips]
    for node in result.proto.graph.node:
        dilations = [a for a in node.attribute if a.name == "dilations"]
        assert not dilations or all(d == 1 for d in dilations[0].ints)
    rw.same(original, result.proto)
    assert not rw.apply(result.proto, "undilate-pool").changed  # idempotent
    report = check(result.proto, target="rtx-1", backend="static")
    assert report.supported, [(n.op_type, [r.message for r in n.reasons]) for n in report.nodes]


SKIPS = {
    "indices": ("MaxPool", "y, idx = MaxPool <kernel_shape=[2,2], dilations=[2,2]> (x)", "Indices"),
    "dynamic": ("MaxPool", None, "not static"),
    "avg-pads-not-counted": (
        "AveragePool",
        "y = AveragePool <kernel_shape=[2,2], dilations=[2,2], pads=[1,1,1,1]> (x)",
        "count_include_pad=0",
    ),
    "auto-pad": (
        "MaxPool",
        'y = MaxPool <kernel_shape=[2,2], dilations=[2,2], auto_pad="SAME_UPPER"> (x)',
        "auto_pad",
    ),
    "big-kernel-odd-stride": (
        "MaxPool",
        "y = MaxPool <kernel_shape=[9,9], dilations=[2,2], strides=[3,3]> (x)",
        "offsets",
    ),
    # a window of 31 over 30 + 0 pads: ONNX infers a dim of 1 for the original and 0 for
    # the undilated pool, so the rewritten model failed onnx.checker
    "window-wider-than-input": (
        "MaxPool",
        "y = MaxPool <kernel_shape=[11,2], dilations=[3,1], strides=[3,1]> (x)",
        "wider than the padded input",
    ),
}


@pytest.mark.parametrize("case", sorted(SKIPS))
def test_skipped_with_reason(rw, case):
    op, body, reason = SKIPS[case]
    if body is None:
        text = pool(op, "1,2,H,W", attrs="kernel_shape=[2,2], dilations=[2,2]")
    else:
        outputs = "float[?] y, int64[?] idx" if "idx" in body else "float[?] y"
        text = f"""<ir_version: 9, opset_import: ["" : 19]>
        g (float[1,2,30,30] x) => ({outputs}) {{
            {body}
        }}"""
    original = rw.parse(text)
    result = rw.apply(original, "undilate-pool")
    assert not result.changed and result.proto is original
    assert reason in result.passes["undilate-pool"].skips[0].reason


def test_nothing_to_do(rw):
    original = rw.parse(pool(attrs="kernel_shape=[2,2], strides=[2,2]"))
    result = rw.apply(original, "undilate-pool")
    assert not result.changed and result.proto is original


def test_trt_check_names_the_pass(rw):
    for op, opset in (("MaxPool", 17), ("AveragePool", 19)):
        model = rw.parse(pool(op, attrs="kernel_shape=[2,2], dilations=[2,2]", opset=opset))
        (node,) = check(model, target="rtx-1", backend="static").unsupported_nodes
        assert "undilate-pool" in {f.name for f in node.fixes}


@pytest.mark.parser
def test_undilated_model_parses_with_tensorrt_rtx(rw):
    pytest.importorskip("tensorrt_rtx")
    op, xshape, attrs, opset = CASES["max2d-stride-eq-dilation-pads"]
    original = rw.parse(pool(op, xshape, attrs=attrs, opset=opset))
    assert check(original, backend="parser", target="rtx-1").unsupported_nodes
    for case in ("max2d-stride-eq-dilation-pads", "max2d-stride1-slices"):
        op, xshape, attrs, opset = CASES[case]
        lowered = rw.apply(rw.parse(pool(op, xshape, attrs=attrs, opset=opset)), "undilate-pool")
        report = check(lowered.proto, backend="parser", target="rtx-1")
        assert report.supported, [(n.op_type, [r.message for r in n.reasons]) for n in report.nodes]


def test_a_window_reading_only_padding_is_skipped(rw):
    # taps 3 apart over a width of 2 padded by 1 on each side: every window's two taps fall
    # in the padding (onnxruntime gives the lowest float there, the undilated form -inf)
    attrs = "kernel_shape=[3,2], dilations=[2,3], strides=[2,3], pads=[1,1,2,1]"
    original = rw.parse(pool(xshape="1,2,20,2", attrs=attrs))
    result = rw.apply(original, "undilate-pool")
    assert not result.changed
    assert "reads only padding" in result.passes["undilate-pool"].skips[0].reason


def test_an_output_size_onnx_infers_otherwise_is_skipped(rw):
    # ceil_mode at opset 18: ONNX infers 3 rows where the pool (and onnxruntime) computes 2
    # (the last window would start past the input); the undilated pool is inferred 2, which
    # contradicts the declared output: the rewritten model failed onnx.checker
    attrs = "kernel_shape=[2,3], dilations=[2,2], strides=[4,2], ceil_mode=1"
    original = rw.parse(pool(xshape="1,2,8,18", yshape="1,2,3,8", attrs=attrs, opset=18))
    result = rw.apply(original, "undilate-pool")
    assert not result.changed
    assert (
        "shape inference gives spatial axis 0 3" in result.passes["undilate-pool"].skips[0].reason
    )

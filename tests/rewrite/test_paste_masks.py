"""paste-masks: a per-detection Loop that resizes each mask to its box and pastes it into an
H × W canvas becomes one batched interpolation without a Loop; results agree with the Loop in
onnxruntime on boxes inside, across and outside the canvas. The loops here are written
differently from torchvision's export (Pad instead of Concat with zeros), so matching cannot
rest on the exporter's nodes. Loops computing anything else are left unchanged."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from _older_opsets import before_opset13

from trtforge.analyzer.rewrite.passes.paste_masks import _probe_boxes, paste_reference

H, W = 19, 23

#: masks N × 1 × S × S (or N × S × S), boxes N × 4 (x0 y0 x1 y1, inclusive) → N × 1 × H × W
PASTE = """<ir_version: 8, opset_import: ["" : {opset}]>
g ({mtype} masks, {btype}[n,4] boxes) => (float[n,1,?,?] out)
  <int64[1] z = {{0}}, int64[1] one = {{1}}, int64[1] two = {{2}}, int64[1] three = {{3}},
   int64[1] four = {{4}}, int64[1] hh = {{{H}}}, int64[1] ww = {{{W}}}, bool yes = {{1}},
   int64[2] ax01 = {{0, 1}}> {{
  shp = Shape(boxes)
  rows = Gather<axis=0>(shp, z)
  trip = Squeeze(rows, z)
  out = Loop(trip, yes) <body = b (int64 i, bool c) => (bool co, float[1,?,?] piece) {{
    co = Identity(c)
    m = Gather<axis=0>(masks, i)
    {reshape}
    bi = Gather<axis=0>(boxes, i)
    b = Cast<to=7>(bi)
    x0 = Slice(b, z, one)
    y0 = Slice(b, one, two)
    x1 = Slice(b, two, three)
    y1 = Slice(b, three, four)
    x1p = Add(x1, one)
    y1p = Add(y1, one)
    dx = Sub(x1p, x0)
    dy = Sub(y1p, y0)
    w = Max(dx, one)
    h = Max(dy, one)
    sh = Shape(m4)
    lead = Slice(sh, z, two)
    sizes = Concat<axis=0>(lead, h, w)
    r = Resize<mode="{mode}", coordinate_transformation_mode="half_pixel">(m4, , , sizes)
    r2 = Squeeze(r, ax01)
    xs0 = Max(x0, z)
    ys0 = Max(y0, z)
    xs1 = Min(x1p, ww)
    ys1 = Min(y1p, hh)
    sy0 = Sub(ys0, y0)
    sx0 = Sub(xs0, x0)
    sy1 = Sub(ys1, y0)
    sx1 = Sub(xs1, x0)
    starts = Concat<axis=0>(sy0, sx0)
    ends = Concat<axis=0>(sy1, sx1)
    crop = Slice(r2, starts, ends, ax01)
    py1 = Sub(hh, ys1)
    px1 = Sub(ww, xs1)
    pads = Concat<axis=0>(ys0, xs0, py1, px1)
    padded = Pad(crop, pads)
    zz = Concat<axis=0>(z, z)
    hw = Concat<axis=0>(hh, ww)
    canvas = Slice(padded, zz, hw, ax01)
    {tail}
  }}>
}}"""

RANK4 = ("float[n,1,12,12]", "m4 = Unsqueeze(m, z)")
RANK3 = ("float[n,12,12]", "m3 = Unsqueeze(m, z)\n    m4 = Unsqueeze(m3, z)")
UNKNOWN = ("float[n,?,?,?]", "m4 = Unsqueeze(m, z)")  # no static mask size
PASTED = "piece = Unsqueeze(canvas, z)"


def model(masks=RANK4, btype="int64", mode="linear", tail=PASTED, opset=17):
    text = PASTE.format(
        opset=opset,
        mtype=masks[0],
        reshape=masks[1],
        btype=btype,
        mode=mode,
        tail=tail,
        H=H,
        W=W,
    )
    if opset < 13:  # torchvision's older exports
        text = before_opset13(text, {"z": "0", "ax01": "0, 1"})
    proto = onnx.parser.parse_model(text)
    # (ONNX's Resize-11 inference misreads an empty `scales` beside `sizes`: no full check)
    onnx.checker.check_model(proto, full_check=opset >= 13)
    return proto


def run(proto, masks, boxes):
    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {"masks": masks, "boxes": boxes})[0]


def feeds(rank, btype, seed=5, rows=20):
    rng = np.random.default_rng(seed)
    masks = rng.random((rows, 1, 12, 12) if rank == 4 else (rows, 12, 12), dtype=np.float32)
    boxes = _probe_boxes(rng, H, W, rows).astype(btype)
    return masks, boxes


@pytest.mark.parametrize(
    "masks,btype,opset",
    [
        (RANK4, "int64", 17),
        (RANK3, "int64", 17),
        (UNKNOWN, "int64", 13),
        (RANK4, "int32", 13),
        (RANK4, "int64", 12),
    ],
    ids=["rank4", "rank3", "unknown-shape-opset13", "int32-boxes-opset13", "opset12"],
)
def test_loop_becomes_batched_interpolation(rw, masks, btype, opset):
    original = model(masks, btype, opset=opset)
    result = rw.apply(original, "paste-masks")
    assert result.passes["paste-masks"].applied == 1, result.passes["paste-masks"].skips
    onnx.checker.check_model(result.proto, full_check=True)
    assert "Loop" not in rw.ops(result.proto) and "Resize" not in rw.ops(result.proto)
    rank = 3 if masks is RANK3 else 4
    for seed in (5, 6):
        m, b = feeds(rank, btype, seed)
        want, got = run(original, m, b), run(result.proto, m, b)
        assert want.shape == got.shape == (len(b), 1, H, W)
        np.testing.assert_allclose(got, want, atol=1e-5)
        assert np.count_nonzero(want) > 1000  # the boxes do paste something
    # no detection: an empty batch of canvases
    m, b = feeds(rank, btype)
    assert run(result.proto, m[:0], b[:0]).shape == (0, 1, H, W)


def test_reference_is_the_loop(rw):
    """The NumPy form the probe compares against is the Loop's result (H × W canvas)."""
    m, b = feeds(4, "int64", seed=9)
    np.testing.assert_allclose(
        paste_reference(m[:, 0], b, H, W), run(model(), m, b)[:, 0], atol=1e-5
    )


def test_applying_twice_changes_nothing(rw):
    once = rw.apply(model(), "paste-masks").proto
    twice = rw.apply(once, "paste-masks")
    assert twice.passes["paste-masks"].applied == 0 and not twice.changed


@pytest.mark.parametrize(
    "mode,tail,why",
    [
        ("nearest", PASTED, "not a mask paste"),
        ("linear", "s = ReduceSum<keepdims=1>(canvas)\n    piece = Unsqueeze(s, z)", "not a mask"),
        ("linear", "t = Transpose<perm=[1,0]>(canvas)\n    piece = Unsqueeze(t, z)", "not a mask"),
    ],
    ids=["nearest-resize", "sums-the-canvas", "transposed"],
)
def test_other_loops_are_left(rw, mode, tail, why):
    original = model(mode=mode, tail=tail.replace("{H}", str(H)))
    result = rw.apply(original, "paste-masks")
    outcome = result.passes["paste-masks"]
    assert outcome.applied == 0 and not result.changed
    assert len(outcome.skips) == 1 and why in outcome.skips[0].reason, outcome.skips


def test_loop_without_resize_is_not_a_candidate(rw):
    text = """<ir_version: 8, opset_import: ["" : 17]>
    g (float[n,3] x) => (float[n,3] y) <bool yes = {1}, int64[1] z = {0}> {
      shp = Shape(x)
      rows = Gather<axis=0>(shp, z)
      trip = Squeeze(rows, z)
      y = Loop(trip, yes) <body = b (int64 i, bool c) => (bool co, float[3] r) {
        co = Identity(c)
        r = Gather<axis=0>(x, i)
      }>
    }"""
    result = rw.apply(rw.parse(text), "paste-masks")
    assert result.passes["paste-masks"].applied == 0 and not result.passes["paste-masks"].skips


def test_canvas_too_large_to_probe_is_skipped(rw, monkeypatch):
    from trtforge.analyzer.rewrite.passes import paste_masks

    monkeypatch.setattr(paste_masks, "MAX_CANVAS", H * W - 1)
    result = rw.apply(model(), "paste-masks")
    (skip,) = result.passes["paste-masks"].skips
    assert "too large" in skip.reason and not result.changed


def test_masks_computed_by_a_deep_chain(rw):
    """The masks' upstream is walked without recursion (thousands of nodes deep)."""
    proto = model()
    graph = proto.graph
    graph.input[0].name = "masks_in"
    chain = [onnx.helper.make_node("Relu", ["masks_in"], ["deep_0"])]
    chain += [onnx.helper.make_node("Relu", [f"deep_{k}"], [f"deep_{k + 1}"]) for k in range(2999)]
    chain.append(onnx.helper.make_node("Identity", ["deep_2999"], ["masks"]))
    nodes = chain + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.checker.check_model(proto)
    result = rw.apply(proto, "paste-masks")
    assert result.passes["paste-masks"].applied == 1, result.passes["paste-masks"].skips


def rtx_build(proto, rows: int = 20) -> str | None:
    """AOT-builds `proto` for SM89 with TensorRT-RTX (every dynamic dim 1..rows): None when it
    builds, else the builder's first error."""
    trt = pytest.importorskip("tensorrt_rtx")

    class Log(trt.ILogger):
        def __init__(self):
            super().__init__()
            self.errors = []

        def log(self, severity, msg):
            if severity <= trt.ILogger.Severity.ERROR:
                self.errors.append(msg)

    log = Log()
    builder = trt.Builder(log)
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, log)
    assert parser.parse(proto.SerializeToString()), parser.get_error(0)
    config = builder.create_builder_config()
    config.num_compute_capabilities = 1
    config.set_compute_capability(trt.ComputeCapability.SM89, 0)
    profile = builder.create_optimization_profile()
    for k in range(network.num_inputs):
        t = network.get_input(k)
        dims = list(t.shape)
        low = [1 if d < 0 else d for d in dims]
        high = [rows if d < 0 else d for d in dims]
        profile.set_shape(t.name, low, high, high)
    config.add_optimization_profile(profile)
    engine = builder.build_serialized_network(network, config)
    return None if engine is not None else (log.errors or ["no engine"])[0]


@pytest.mark.parser
def test_tensorrt_rtx_builds_the_batched_form_not_the_loop(rw):
    """The reason for the pass, observed on TensorRT-RTX 1.7.1 (AOT, SM89): shapes computed per
    iteration in a loop body stop the builder; the batched form builds."""
    original = model()
    error = rtx_build(original)
    assert error is not None and "makeScopeNodesContiguous" in error, error
    assert rtx_build(rw.apply(original, "paste-masks").proto) is None


def test_trip_count_read_as_the_last_axis_of_the_shape(rw):
    # Gather(Shape(boxes), 0) with axis=-1: the same row count (a shape is rank 1)
    original = model()
    text = onnx.printer.to_text(original).replace(
        "Gather <axis: int = 0> (shp", "Gather <axis: int = -1> (shp"
    )
    changed = onnx.parser.parse_model(text)
    assert any(n.op_type == "Gather" and n.attribute[0].i == -1 for n in changed.graph.node), (
        "the variant was not made"
    )
    result = rw.apply(changed, "paste-masks")
    assert result.passes["paste-masks"].applied == 1
    masks, boxes = feeds(4, "int64")
    np.testing.assert_allclose(
        run(result.proto, masks, boxes), run(changed, masks, boxes), atol=1e-5
    )


def test_trip_count_that_is_no_row_count_is_left(rw):
    # the trip count is a graph input, not the boxes' row count: nothing to match (this
    # compared a missing tensor with graphsurgeon's name equality and raised)
    text = onnx.printer.to_text(model())
    text = text.replace("int64[n,4] boxes)", "int64[n,4] boxes, int64 trips)")
    text = text.replace("Loop (trip,", "Loop (trips,")
    changed = onnx.parser.parse_model(text)
    assert changed.graph.node[-1].input[0] == "trips", "the variant was not made"
    result = rw.apply(changed, "paste-masks")
    assert not result.changed


def test_more_masks_than_boxes(rw):
    # the loop pastes one mask per box (its trip count is the boxes' rows): masks beyond them
    # are not pasted, and the batched form must not paste them either
    text = onnx.printer.to_text(model()).replace("float[n,1,12,12] masks", "float[m,1,12,12] masks")
    original = onnx.parser.parse_model(text)
    result = rw.apply(original, "paste-masks")
    assert result.passes["paste-masks"].applied == 1
    masks, boxes = feeds(4, "int64", rows=20)
    extra = np.concatenate([masks, masks[:5]], axis=0)
    want = run(original, extra, boxes)
    assert want.shape[0] == 20
    np.testing.assert_allclose(run(result.proto, extra, boxes), want, atol=1e-5)

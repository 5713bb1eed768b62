"""heatmap-keypoints: a per-detection Loop that resizes K heatmaps to each box (cubic) and takes
their maxima keeps its Loop but works on one canvas size; keypoints and scores agree with the
original in onnxruntime. The loop here is written differently from torchvision's export
(GatherElements for the scores, inputs in another order), so matching cannot rest on the
exporter's nodes; loops computing something else are left unchanged."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from _older_opsets import before_opset13

#: maps N × K × S × S; per detection: box width/height (float), resize size (rounded up),
#: box origin → keypoints N × 1 × 3 × K, scores N × 1 × K
DECODE = """<ir_version: 8, opset_import: ["" : {opset}]>
g (float[n,4,10,10] maps, float[n] offx, float[n] bw, float[n] rmw, float[n] bh, float[n] rmh,
   float[n] offy) => (float[n,1,3,4] kp, float[n,1,4] sc)
  <int64[1] z = {{0}}, int64[1] one = {{1}}, int64[1] two = {{2}}, int64[1] m1 = {{-1}},
   bool yes = {{1}}, float half = {{0.5}}> {{
  shp = Shape(maps)
  rows = Gather<axis=0>(shp, z)
  trip = Squeeze(rows, z)
  kk = Gather<axis=0>(shp, one)
  kp, sc = Loop(trip, yes) <body = b (int64 i, bool c) => (bool co, float[1,3,4] pkp,
      float[1,4] psc) {{
    co = Identity(c)
    m = Gather<axis=0>(maps, i)
    m4 = Unsqueeze(m, one)
    hi = Gather<axis=0>(rmh, i)
    wi = Gather<axis=0>(rmw, i)
    hu = Unsqueeze(hi, z)
    wu = Unsqueeze(wi, z)
    hwf = Concat<axis=0>(hu, wu)
    hw = Cast<to=7>(hwf)
    s4 = Shape(m4)
    lead = Slice(s4, z, two)
    sizes = Concat<axis=0>(lead, hw)
    r = Resize<mode="{mode}", coordinate_transformation_mode="half_pixel",
               cubic_coeff_a=-0.75>(m4, , , sizes)
    r3 = Squeeze(r, one)
    tgt = Concat<axis=0>(kk, m1)
    flat = Reshape(r3, tgt)
    pos = ArgMax<axis=1, keepdims=0, select_last_index={last}>(flat)
    s3 = Shape(r3)
    wint = Gather<axis=0>(s3, two)
    xi = Mod(pos, wint)
    yi = Div(pos, wint)
    xf = Cast<to=1>(xi)
    yf = Cast<to=1>(yi)
    bwi = Gather<axis=0>(bw, i)
    bhi = Gather<axis=0>(bh, i)
    cx = Div(bwi, wi)
    cy = Div(bhi, hi)
    x0 = Add(xf, half)
    y0 = Add(yf, half)
    x1 = Mul(x0, cx)
    y1 = Mul(y0, cy)
    ox = Gather<axis=0>(offx, i)
    oy = Gather<axis=0>(offy, i)
    {xline}
    y = Add(y1, oy)
    sx = Shape(x)
    ones = ConstantOfShape<value = float[1] {{1}}>(sx)
    xu = Unsqueeze(x, z)
    yu = Unsqueeze(y, z)
    ou = Unsqueeze(ones, z)
    xy = Concat<axis=0>(xu, yu, ou)
    pkp = Unsqueeze(xy, z)
    pu = Unsqueeze(pos, one)
    g1 = GatherElements<axis=1>(flat, pu)
    s1 = Squeeze(g1, one)
    psc = Unsqueeze(s1, z)
  }}>
}}"""

X = "x = Add(x1, ox)"


def model(mode="cubic", last=0, xline=X, opset=17):
    text = DECODE.format(mode=mode, last=last, xline=xline, opset=opset)
    if opset < 13:  # torchvision's older exports; no select_last_index before 12 either
        text = before_opset13(text, {"z": "0", "one": "1"})
        text = text.replace(f", select_last_index={last}", "")
    proto = onnx.parser.parse_model(text)
    # (ONNX's Resize-11 inference misreads an empty `scales` beside `sizes`: no full check)
    onnx.checker.check_model(proto, full_check=opset >= 13)
    return proto


def feeds(seed, rows=7):
    rng = np.random.default_rng(seed)
    bw = rng.uniform(0.5, 40, rows).astype(np.float32)
    bh = rng.uniform(0.5, 40, rows).astype(np.float32)
    return {
        "maps": rng.standard_normal((rows, 4, 10, 10)).astype(np.float32),
        "bw": bw,
        "bh": bh,
        "rmw": np.ceil(np.maximum(bw, 1)).astype(np.float32),
        "rmh": np.ceil(np.maximum(bh, 1)).astype(np.float32),
        "offx": rng.uniform(0, 100, rows).astype(np.float32),
        "offy": rng.uniform(0, 100, rows).astype(np.float32),
    }


def run(proto, inputs):
    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, inputs)


@pytest.mark.parametrize("opset", [12, 13, 17])
def test_loop_works_on_one_canvas(rw, opset):
    original = model(opset=opset)
    result = rw.apply(original, "heatmap-keypoints")
    outcome = result.passes["heatmap-keypoints"]
    assert outcome.applied == 1, outcome.skips
    onnx.checker.check_model(result.proto, full_check=True)
    (loop,) = [n for n in result.proto.graph.node if n.op_type == "Loop"]
    body = next(a.g for a in loop.attribute if a.name == "body")
    assert "Resize" not in {n.op_type for n in body.node}
    for seed in (1, 2, 3):
        inputs = feeds(seed)
        (kp0, sc0), (kp1, sc1) = run(original, inputs), run(result.proto, inputs)
        assert kp0.shape == kp1.shape == (7, 1, 3, 4) and sc0.shape == sc1.shape == (7, 1, 4)
        np.testing.assert_allclose(kp1, kp0, atol=1e-4)
        np.testing.assert_allclose(sc1, sc0, atol=1e-5)
    inputs = {k: v[:0] for k, v in feeds(4).items()}  # no detection
    kp, sc = run(result.proto, inputs)
    assert kp.shape[0] == 0 and sc.shape[0] == 0


def test_applying_twice_changes_nothing(rw):
    once = rw.apply(model(), "heatmap-keypoints").proto
    twice = rw.apply(once, "heatmap-keypoints")
    assert twice.passes["heatmap-keypoints"].applied == 0 and not twice.changed


@pytest.mark.parametrize(
    "kwargs,why",
    [
        ({"mode": "linear"}, "not cubic"),
        ({"last": 1}, "last maximum"),
        ({"xline": "xs = Add(x1, ox)\n    x = Add(xs, half)"}, "no assignment"),
    ],
    ids=["linear-resize", "last-index", "shifted-x"],
)
def test_other_loops_are_left(rw, kwargs, why):
    result = rw.apply(model(**kwargs), "heatmap-keypoints")
    outcome = result.passes["heatmap-keypoints"]
    assert outcome.applied == 0 and not result.changed
    assert len(outcome.skips) == 1 and why in outcome.skips[0].reason, outcome.skips


@pytest.mark.parser
def test_tensorrt_rtx_builds_the_one_canvas_loop(rw):
    """Observed on TensorRT-RTX 1.7.1 (AOT, SM89): the per-box Resize in the loop body stops the
    builder; the loop on one canvas size builds."""
    from test_paste_masks import rtx_build

    original = model()
    error = rtx_build(original)
    assert error is not None and "makeScopeNodesContiguous" in error, error
    assert rtx_build(rw.apply(original, "heatmap-keypoints").proto) is None

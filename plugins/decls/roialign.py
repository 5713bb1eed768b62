"""ROIAlign_TRT version 2: ONNX RoiAlign, under the name every TensorRT ONNX parser asks for.

The parser imports the standard ``RoiAlign`` op (opset 10 and 16) by creating the IPluginV3
plugin ``ROIAlign_TRT``, version ``"2"``, empty namespace, with the fields
``coordinate_transformation_mode`` (INT32: 1 = half_pixel, 0 = output_half_pixel), ``mode``
(INT32: 1 = avg, 0 = max), ``output_height``, ``output_width``, ``sampling_ratio`` (INT32) and
``spatial_scale`` (FLOAT32), and inputs X, rois and batch_indices cast to INT32 (observed with
TensorRT-RTX 1.7.1 by registering a recording creator under that key). TensorRT ships the
plugin; TensorRT-RTX 1.7 ships one that cannot be created without a CUDA device ("Cuda Error in
ROIAlignV3: 35"), so its ahead-of-time builds on a machine without a GPU fail. trt-build
registers this one in its place (see ``registry.register``).

Semantics are onnxruntime's RoiAlign kernel: bilinear samples on a grid per output bin
(``sampling_ratio`` per side, or ceil(roi size / bins) when 0), averaged (avg) or, for max, the
maximum over samples of the largest of the four weighted corner terms.
"""

from __future__ import annotations

from trtforge.plugins.spec import AttrSpec, PluginSpec, TensorSpec, Tolerance


def _bilinear(img, y, x):
    """(the four weights, the four corner values) of one sample of a [C, H, W] image."""
    import numpy as np

    c, h, w = img.shape
    if y < -1.0 or y > h or x < -1.0 or x > w:
        return np.zeros(4), np.zeros((4, c))
    y, x = max(y, 0.0), max(x, 0.0)
    y0, x0 = int(y), int(x)
    if y0 >= h - 1:
        y0 = y1 = h - 1
        y = float(y0)
    else:
        y1 = y0 + 1
    if x0 >= w - 1:
        x0 = x1 = w - 1
        x = float(x0)
    else:
        x1 = x0 + 1
    ly, lx = y - y0, x - x0
    hy, hx = 1.0 - ly, 1.0 - lx
    weights = np.array([hy * hx, hy * lx, ly * hx, ly * lx])
    values = np.stack([img[:, y0, x0], img[:, y0, x1], img[:, y1, x0], img[:, y1, x1]])
    return weights, values


def reference(
    inputs,
    coordinate_transformation_mode,
    mode,
    output_height,
    output_width,
    sampling_ratio,
    spatial_scale,
):
    import math

    import numpy as np

    x, rois, batch = inputs
    n_rois, c = rois.shape[0], x.shape[1]
    out = np.zeros((n_rois, c, output_height, output_width))
    offset = 0.5 if coordinate_transformation_mode == 1 else 0.0
    for r in range(n_rois):
        img = x[int(batch[r])]
        x1, y1, x2, y2 = (float(v) * spatial_scale - offset for v in rois[r])
        rw, rh = x2 - x1, y2 - y1
        if coordinate_transformation_mode != 1:  # output_half_pixel: at least one pixel
            rw, rh = max(rw, 1.0), max(rh, 1.0)
        bh, bw = rh / output_height, rw / output_width
        gh = sampling_ratio if sampling_ratio > 0 else math.ceil(rh / output_height)
        gw = sampling_ratio if sampling_ratio > 0 else math.ceil(rw / output_width)
        count = max(gh * gw, 1)
        for ph in range(output_height):
            for pw in range(output_width):
                acc = np.zeros(c)
                first = True
                for iy in range(gh):
                    yy = y1 + ph * bh + (iy + 0.5) * bh / gh
                    for ix in range(gw):
                        xx = x1 + pw * bw + (ix + 0.5) * bw / gw
                        wts, vals = _bilinear(img, yy, xx)
                        if mode == 1:
                            acc += wts @ vals
                        else:
                            v = (wts[:, None] * vals).max(axis=0)
                            acc = v if first else np.maximum(acc, v)
                            first = False
                out[r, :, ph, pw] = acc / count if mode == 1 else acc
    return [out]


def output_shapes(in_shapes, attrs, dims):
    x, rois, _ = in_shapes
    return [[rois[0], x[1], dims.const(attrs["output_height"]), dims.const(attrs["output_width"])]]


def test_inputs(rng):
    import numpy as np

    cases = []
    x = rng.standard_normal((2, 3, 12, 10)).astype(np.float32)
    xy = rng.uniform(-2, 9, size=(7, 2))
    wh = rng.uniform(0.3, 8, size=(7, 2))
    rois = np.concatenate([xy, xy + wh], axis=1).astype(np.float32)
    batch = rng.integers(0, 2, size=7).astype(np.int32)
    for ctm in (0, 1):
        for mode in (0, 1):
            for ratio, scale, oh, ow in ((2, 1.0, 3, 2), (0, 0.5, 2, 4)):
                attrs = {
                    "coordinate_transformation_mode": ctm,
                    "mode": mode,
                    "sampling_ratio": ratio,
                    "spatial_scale": scale,
                    "output_height": oh,
                    "output_width": ow,
                }
                cases.append(([x, rois, batch], attrs))
                if ratio == 2:
                    half = [x.astype(np.float16), rois.astype(np.float16), batch]
                    cases.append((half, attrs))
    return cases


SPEC = PluginSpec(
    name="ROIAlign_TRT",
    version="2",
    namespace="",
    inputs=(
        TensorSpec("X", "[N, C, H, W] feature map"),
        TensorSpec("rois", "[R, 4] boxes (x1, y1, x2, y2) in input coordinates"),
        TensorSpec("batch_indices", "int32 [R]: the image of X each box is on"),
    ),
    outputs=(TensorSpec("Y", "[R, C, output_height, output_width], X's type"),),
    attributes=(
        AttrSpec("coordinate_transformation_mode", "int", 1, "1 = half_pixel, 0 = legacy"),
        AttrSpec("mode", "int", 1, "1 = avg, 0 = max"),
        AttrSpec("output_height", "int", 1, "bins along y"),
        AttrSpec("output_width", "int", 1, "bins along x"),
        AttrSpec("sampling_ratio", "int", 0, "samples per bin side; 0 = ceil(roi / bins)"),
        AttrSpec("spatial_scale", "float", 1.0, "box coordinates to X's pixels"),
    ),
    type_combinations=(
        ("float32", "float32", "int32", "float32"),
        ("float16", "float16", "int32", "float16"),
    ),
    tolerances={
        "float32": Tolerance(rtol=1e-4, atol=1e-5),
        "float16": Tolerance(rtol=4e-3, atol=4e-3),
    },
    reference=reference,
    doc=(
        "ONNX RoiAlign as the ROIAlign_TRT (version 2) plugin every TensorRT ONNX parser "
        "creates for it.\n\nBoth coordinate_transformation_mode values (half_pixel, "
        "output_half_pixel) and both modes (avg, max), with onnxruntime's semantics."
    ),
    output_shapes=output_shapes,
    test_inputs=test_inputs,
)

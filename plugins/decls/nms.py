"""NMS: ONNX NonMaxSuppression as the trtforge plugin ``trtforge::NMS``, for TensorRT-RTX builds.

Not named ``NonMaxSuppression``: the parser dispatches built-in ops by op_type whatever the
domain, so a ``trtforge::NonMaxSuppression`` node would reach the INMSLayer importer again.

TensorRT-RTX 1.7 imports the standard NonMaxSuppression as an INMSLayer, but its builder has no
implementation of that layer for ahead-of-time builds ("node_of_y has no runners that implement
it", observed with the TensorRT-RTX 1.7.1 builder for SM89). The ``nms-plugin`` rewrite pass
replaces such a node whose three scalar inputs are constants with a ``trtforge::NMS`` node, the
scalars becoming fields. Semantics are onnxruntime's: per (batch, class), boxes whose score is
above ``score_threshold`` in descending score order (ties: lower index first), each kept box
suppressing the later ones whose IoU with it exceeds ``iou_threshold``, at most
``max_output_boxes_per_class`` kept; the output lists (batch, class, box) triples in that order.
"""

from __future__ import annotations

from trtforge.plugins.spec import AttrSpec, PluginSpec, TensorSpec, Tolerance


def _corners(b, center: int):
    import numpy as np

    b = np.asarray(b, dtype=np.float32)  # onnxruntime and the kernel compute in float32
    if center:
        xc, yc, w, h = b[..., 0], b[..., 1], b[..., 2], b[..., 3]
        half_w, half_h = w / np.float32(2), h / np.float32(2)
        return xc - half_w, yc - half_h, xc + half_w, yc + half_h
    y1, x1, y2, x2 = b[..., 0], b[..., 1], b[..., 2], b[..., 3]
    return (
        np.minimum(x1, x2),
        np.minimum(y1, y2),
        np.maximum(x1, x2),
        np.maximum(y1, y2),
    )


def iou_above(a, b, center: int, threshold: float):
    """onnxruntime's SuppressByIOU: IoU > threshold; boxes of no area never suppress.

    `a` is one box, `b` one box or an array of boxes (…, 4): a bool, or a bool per box of `b`.
    In float32, as onnxruntime and the CUDA kernel compute it: two of Faster R-CNN's boxes
    clipped to the border have an IoU of exactly 0.5 in float64 and 0.50000006 in float32,
    which suppresses one at a threshold of 0.5.
    """
    import numpy as np

    ax1, ay1, ax2, ay2 = _corners(a, center)
    bx1, by1, bx2, by2 = _corners(b, center)
    iw = np.minimum(ax2, bx2) - np.maximum(ax1, bx1)
    ih = np.minimum(ay2, by2) - np.maximum(ay1, by1)
    inter = iw * ih
    area_a, area_b = (ax2 - ax1) * (ay2 - ay1), (bx2 - bx1) * (by2 - by1)
    overlap = (iw > 0) & (ih > 0) & (area_a > 0) & (area_b > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        above = inter / (area_a + area_b - inter) > np.float32(threshold)
    result = overlap & above
    return bool(result) if np.ndim(result) == 0 else result


def reference(inputs, center_point_box, max_output_boxes_per_class, iou_threshold, score_threshold):
    """Greedy NMS per (batch, class), vectorized over boxes: each kept box (highest score
    first; ties: lower index first) removes every remaining candidate it suppresses at once.
    The same boxes as testing each candidate against all kept boxes (onnxruntime's loop): a
    box is dropped exactly when an earlier kept box suppresses it."""
    import numpy as np

    boxes, scores = inputs
    n_batch, n_class, _ = scores.shape
    out = []
    for b in range(n_batch):
        for c in range(n_class):
            s = scores[b, c]
            cand = np.flatnonzero(s > score_threshold)
            order = cand[np.argsort(-s[cand], kind="stable")]  # stable: lower index first
            kept: list[int] = []
            while order.size and len(kept) < max_output_boxes_per_class:
                i = int(order[0])
                kept.append(i)
                rest = order[1:]
                order = rest[
                    ~iou_above(boxes[b, i], boxes[b, rest], center_point_box, iou_threshold)
                ]
            out += [(b, c, i) for i in kept]
    sel = np.array(out, dtype=np.int64).reshape(-1, 3)
    return [sel, np.array(sel.shape[0], dtype=np.int64)]


def output_shapes(in_shapes, attrs, dims):
    boxes, scores = in_shapes
    per_class = dims.const(max(int(attrs["max_output_boxes_per_class"]), 0))
    # at most min(boxes, max_output_boxes_per_class) per (batch, class); 0 is a valid extent
    if isinstance(boxes[1], int):
        per_class = dims.const(min(int(boxes[1]), int(per_class)))
    else:
        per_class = dims.min(boxes[1], per_class)
    upper = scores[0] * scores[1] * per_class
    return [[dims.size(1, upper), dims.const(3)], []]


def workspace(in_shapes, attrs) -> int:
    """Bytes of scratch nmsWorkspaceSize (csrc/nms/nms_kernel.cu) asks for."""
    (batch, boxes, _), (_, classes, _) = in_shapes
    pairs = batch * classes
    per_class = max(0, min(int(attrs["max_output_boxes_per_class"]), boxes))

    def a(n):
        return (n + 255) & ~255

    return (
        a(pairs * boxes * 4)
        + a(pairs * boxes)
        + a(pairs * per_class * 4)
        + a(pairs * 4)
        + a(pairs * 8)
    )


def test_inputs(rng):
    import numpy as np

    cases = []
    for n_batch, n_class, n_box in ((1, 1, 50), (2, 3, 37), (1, 2, 300)):
        xy = rng.uniform(0, 50, size=(n_batch, n_box, 2))
        wh = rng.uniform(2, 20, size=(n_batch, n_box, 2))
        corners = np.concatenate([xy[..., ::-1], (xy + wh)[..., ::-1]], -1)  # y1, x1, y2, x2
        center = np.concatenate([xy + wh / 2, wh], -1)
        scores = rng.random((n_batch, n_class, n_box)).astype(np.float32)
        for cpb, boxes in ((0, corners), (1, center)):
            for max_out, iou, thr in ((10, 0.5, 0.3), (1000, 0.3, -1.0), (0, 0.5, 0.0)):
                attrs = {
                    "center_point_box": cpb,
                    "max_output_boxes_per_class": max_out,
                    "iou_threshold": iou,
                    "score_threshold": thr,
                }
                cases.append(([boxes.astype(np.float32), scores], attrs))
    return cases


SPEC = PluginSpec(
    name="NMS",
    version="1",
    namespace="trtforge",
    inputs=(
        TensorSpec("boxes", "[B, N, 4]: y1, x1, y2, x2 (or xc, yc, w, h with center_point_box)"),
        TensorSpec("scores", "[B, C, N]"),
    ),
    outputs=(
        TensorSpec("selected_indices", "int64 [K, 3]: (batch, class, box) of each kept box"),
        TensorSpec("count", "int64 scalar K: the number of kept boxes", size_tensor=True),
    ),
    attributes=(
        AttrSpec("center_point_box", "int", 0, "0: corners (y1, x1, y2, x2); 1: center, size"),
        AttrSpec("max_output_boxes_per_class", "int", 0, "kept boxes per (batch, class)"),
        AttrSpec("iou_threshold", "float", 0.0, "suppress when IoU is above it"),
        AttrSpec("score_threshold", "float", float("-inf"), "keep scores above it"),
    ),
    type_combinations=(("float32", "float32", "int64", "int64"),),
    tolerances={"int64": Tolerance(rtol=0, atol=0)},
    reference=reference,
    doc=(
        "ONNX NonMaxSuppression with constant limits, for TensorRT-RTX (whose builder has no "
        "INMSLayer implementation).\n\nOutput 0 holds (batch, class, box) per kept box, "
        "onnxruntime's order; output 1 its count (a size tensor)."
    ),
    output_shapes=output_shapes,
    test_inputs=test_inputs,
    workspace=workspace,
)

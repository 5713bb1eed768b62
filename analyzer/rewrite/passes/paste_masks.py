"""paste-masks: a per-detection Loop that resizes each mask to its box and pastes it into an
image-sized canvas → one batched computation without a Loop.

torchvision's Mask R-CNN exports its mask pasting (`paste_masks_in_image`, ONNX path) as a
Loop over the detections: for detection i it bilinearly resizes the mask (28 × 28 plus a
1-pixel border) to the box's size, slices off what falls outside the image and pads the rest
with zeros to the image's height × width. Every iteration thus works on tensors whose shape
is computed from that iteration's box. TensorRT-RTX 1.7.1 parses such a loop but its builder
stops ("Assertion newNodeOrder.size() == g.nodes.size() failed", makeScopeNodesContiguous):
any shape computed from a loop-variant value inside a loop body — a Resize to a per-iteration
size, a Slice or ConstantOfShape of per-iteration extent — fails the same way, and a Resize
to a data-dependent but loop-invariant size crashes the builder.

The same values, computed for all detections at once with fixed shapes: for each canvas row
y the source row of the resized mask is `(y - y0 + 0.5) · S / h - 0.5` clamped to [0, S-1]
(`half_pixel`, as Resize computes it), rows outside [y0, y1] are zero; as a matrix,
`Wy[n, y, r]` holds the two linear-interpolation weights of row y on source row r. Columns
likewise. The pasted canvas is `Wy @ mask @ Wxᵀ` (batched MatMul, N × H × W):

Before::

    pasted = Loop(N, true, body: m = masks[i]; b = boxes[i]; r = Resize(m, sizes(b));
                  … Slice / ConstantOfShape / Concat to H × W …)        # N × 1 × H × W

After::

    Wy = weights(boxes[:, 1], boxes[:, 3], H, S_h)                      # N × H × S_h
    Wx = weights(boxes[:, 0], boxes[:, 2], W, S_w)                      # N × W × S_w
    pasted = Reshape(MatMul(MatMul(Wy, masks), Transpose(Wx)))          # N × 1 × H × W

Matching is by what the loop computes, not by its nodes: a Loop with one scan output and no
carried value, a constant-true condition, run once per row of one of the two tensors its body
reads (float masks N × [1 ×] S_h × S_w, any size — S_h, S_w are read at run time; integer boxes
N × 4, x0 y0 x1 y1 inclusive), whose body contains a Resize and reads nothing else but
build-time constants. The pass then runs that loop alone in onnxruntime (`_loop_probe.py`) on
generated masks and boxes (inside, across every border, outside the canvas, degenerate, larger
than the canvas) and rewrites only when the batched form gives the same values (|diff| ≤
`TOLERANCE`); the canvas size is the one the loop produces (it must not depend on the boxes).

Skips (reported): a loop onnxruntime cannot run alone, a result that is not one canvas per
detection or whose size depends on the boxes, and a loop whose values differ from the batched
form (it is something else).
"""

from __future__ import annotations

from trtforge.analyzer.lazy import lazy_import
from trtforge.analyzer.rewrite.base import Advice, Match, PassContext, RewritePass
from trtforge.analyzer.rewrite.graphutil import anchor, at_opset, const_value, producer
from trtforge.analyzer.rewrite.passes._loop_probe import (
    LoopProbe,
    counted_loops,
    dtype_kind,
    first_line,
    outer_reads,
    split_reads,
)

np = lazy_import("numpy")
onnx = lazy_import("onnx")
gs = lazy_import("onnx_graphsurgeon")

#: the largest |difference| the probe accepts (float32 interpolation in another order)
TOLERANCE = 1e-4
#: the mask size the probes use (channel, height, width; any size is pasted the same way)
PROBE_SIZE = (1, 12, 10)
#: the largest canvas (H·W) the probe pastes into (PROBE_ROWS canvases are held at once)
MAX_CANVAS = 1 << 25
#: how many detections each probe pastes
PROBE_ROWS = 24


def _rows_of(trip: gs.Tensor, depth: int = 8) -> gs.Tensor | None:
    """The tensor whose row count `trip` is (Gather(Shape(X), 0), Shape(X)[0:1], through
    Cast / Squeeze / Reshape / Identity), or None."""
    node = producer(trip)
    while node is not None and depth > 0 and node.op in ("Cast", "Squeeze", "Reshape", "Identity"):
        node, depth = producer(node.inputs[0]), depth - 1
    if node is None:
        return None
    if node.op == "Gather" and node.attrs.get("axis", 0) in (0, -1):  # of a Shape: rank 1
        index = const_value(node.inputs[1])
        shape = producer(node.inputs[0])
        if (
            index is not None
            and index.size == 1
            and int(index.reshape(-1)[0]) == 0
            and shape is not None
            and shape.op == "Shape"
            and shape.attrs.get("start", 0) == 0
        ):
            return shape.inputs[0]
    if node.op == "Shape" and node.attrs.get("start", 0) == 0 and node.attrs.get("end") == 1:
        return node.inputs[0]
    return None


def _roles(reads: list[gs.Tensor]) -> tuple[gs.Tensor, gs.Tensor] | None:
    """(masks, boxes) among the body's non-constant outer reads, or None."""
    if len(reads) != 2:
        return None
    masks = [t for t in reads if dtype_kind(t) == "f"]
    boxes = [t for t in reads if dtype_kind(t) in ("i", "u")]
    if len(masks) != 1 or len(boxes) != 1:
        return None
    m, b = masks[0], boxes[0]
    # unknown shapes are left to the probe; known ones must fit
    if m.shape is not None and len(m.shape) not in (3, 4):
        return None
    if m.shape is not None and len(m.shape) == 4 and m.shape[1] not in (1, None, ""):
        if not isinstance(m.shape[1], str):
            return None
    if b.shape is not None and (len(b.shape) != 2 or b.shape[1] not in (4, None, "")):
        if not isinstance(b.shape[1], str):
            return None
    return m, b


def _probe_boxes(rng: np.random.Generator, height: int, width: int, count: int) -> np.ndarray:
    """Boxes (x0, y0, x1, y1, inclusive) inside, across each border, outside, degenerate and
    larger than an H × W canvas."""
    fixed = [
        [1, 2, width // 2, height // 2],
        [-5, -3, width // 3, height // 4],  # across the top-left corner
        [width // 2, height // 2, width + 7, height + 9],  # across the bottom-right corner
        [-4, -6, width + 5, height + 3],  # larger than the canvas
        [3, 3, 3, 3],  # one pixel
        [6, 5, 2, 1],  # x1 < x0, y1 < y0
        [width + 2, 1, width + 9, 4],  # right of the canvas
        [1, -9, 4, -2],  # above the canvas
        [0, 0, width - 1, height - 1],
    ]
    rest = count - len(fixed)
    x0 = rng.integers(-width // 4, width, rest)
    y0 = rng.integers(-height // 4, height, rest)
    x1 = x0 + rng.integers(-2, width, rest)
    y1 = y0 + rng.integers(-2, height, rest)
    return np.concatenate([np.array(fixed), np.stack([x0, y0, x1, y1], 1)]).astype(np.int64)


def paste_reference(masks: np.ndarray, boxes: np.ndarray, height: int, width: int) -> np.ndarray:
    """The batched form in NumPy (float32, the same operations as the emitted graph): masks
    N × S_h × S_w, boxes N × 4 → N × H × W."""
    boxes = boxes.astype(np.float32)

    def weights(lo, hi, length, size):
        extent = np.maximum(hi - lo + 1, np.float32(1))[:, None]
        scale = extent / np.float32(size)
        pos = np.arange(length, dtype=np.float32)[None, :]
        src = (pos - lo[:, None] + np.float32(0.5)) / scale - np.float32(0.5)
        src = np.minimum(np.maximum(src, np.float32(0)), np.float32(size - 1))
        valid = ((pos >= lo[:, None]) & (pos <= hi[:, None])).astype(np.float32)
        low = np.floor(src)
        frac = src - low
        high = np.minimum(low + 1, np.float32(size - 1))
        idx = np.arange(size, dtype=np.float32)[None, None, :]
        w = (idx == low[..., None]) * (1 - frac)[..., None] + (idx == high[..., None]) * frac[
            ..., None
        ]
        return (w * valid[..., None]).astype(np.float32)

    wy = weights(boxes[:, 1], boxes[:, 3], height, masks.shape[1])
    wx = weights(boxes[:, 0], boxes[:, 2], width, masks.shape[2])
    return np.matmul(np.matmul(wy, masks.astype(np.float32)), wx.transpose(0, 2, 1))


class PasteMasks(RewritePass):
    """See the module docstring."""

    id = "paste-masks"
    order = 18
    summary = (
        "per-detection Loop resizing each mask to its box and pasting it into the image -> "
        "one batched interpolation (MatMul), no Loop (TensorRT cannot build per-iteration "
        "shapes in a loop body)"
    )
    advice = Advice(
        "per-detection mask-pasting Loop",
        "one batched interpolation without a Loop",
        frozenset({"Loop", "Resize"}),
        why="TensorRT-RTX cannot build a loop body whose shapes change per iteration",
    )

    def find(self, ctx: PassContext):
        for node, body in counted_loops(ctx.graph, outputs=1):
            if not any(n.op == "Resize" for n in body.nodes):
                continue
            reads = outer_reads(body)
            if reads is None:
                continue
            consts, data = split_reads(reads)
            roles = _roles(data)
            rows = _rows_of(node.inputs[0])
            if roles is None or rows is None or not any(rows is r for r in roles):
                continue  # (graphsurgeon tensors compare by name, and not with None)
            yield Match(
                anchor(node), [node], {"masks": roles[0], "boxes": roles[1], "consts": consts}
            )

    def check(self, match: Match, ctx: PassContext) -> str | None:
        masks, boxes = match.data["masks"], match.data["boxes"]
        dtype = np.dtype(masks.dtype)
        error = "no rank"
        # a mask rank shape inference did not find: N × 1 × S_h × S_w, else N × S_h × S_w
        for rank in [len(masks.shape)] if masks.shape is not None else [4, 3]:
            shape = (PROBE_ROWS, *PROBE_SIZE[4 - rank :])
            data = {
                masks.name: (masks.dtype, ["n", *shape[1:]]),
                boxes.name: (boxes.dtype, ["n", 4]),
            }
            try:
                loop = LoopProbe(match.nodes[0], data, match.data["consts"], ctx.opset)

                def probe(m, b, loop=loop):
                    return loop({masks.name: m, boxes.name: b}, len(b))[0]

                rng = np.random.default_rng(0)
                first = probe(  # one detection: the canvas size, before larger probes
                    rng.random((1, *shape[1:])).astype(dtype),
                    _probe_boxes(rng, 16, 16, PROBE_ROWS)[:1].astype(np.dtype(boxes.dtype)),
                )
                break
            except Exception as err:  # onnxruntime refuses the loop alone: not this form
                error = first_line(err)
        else:
            return f"onnxruntime could not run the loop alone ({error})"
        if first.ndim not in (3, 4) or first.shape[0] != 1 or first.dtype.kind != "f":
            return f"the loop's result {list(first.shape)} is not one canvas per detection"
        height, width = first.shape[-2:]
        if height * width > MAX_CANVAS:
            return f"the canvas ({height} x {width}) is too large to probe"
        if first.ndim == 4 and first.shape[1] != 1:
            return f"the loop's result {list(first.shape)} is not one canvas per detection"
        for seed in (1, 2):
            rng = np.random.default_rng(seed)
            m = rng.random(shape).astype(dtype)
            b = _probe_boxes(rng, height, width, PROBE_ROWS).astype(np.dtype(boxes.dtype))
            got = probe(m, b)
            if got.shape[1:] != first.shape[1:]:
                return "the canvas size depends on the boxes"
            want = paste_reference(m.reshape(PROBE_ROWS, *PROBE_SIZE[1:]), b, height, width)
            diff = float(np.max(np.abs(got.reshape(want.shape) - want)))
            if not diff <= TOLERANCE:
                return f"the loop is not a mask paste (|difference| {diff:.3g} on probe boxes)"
        match.data["canvas"] = (int(height), int(width))
        match.data["out_shape"] = list(first.shape[1:])
        return None

    def rewrite(self, match: Match, ctx: PassContext) -> None:
        loop = match.nodes[0]
        masks, boxes = match.data["masks"], match.data["boxes"]
        height, width = match.data["canvas"]
        f32 = np.float32

        def const(base, value, dtype=np.int64):
            return ctx.constant(base, np.array(value, dtype=dtype))

        def op(kind, inputs, dtype=f32, attrs=None):
            out = ctx.variable(kind.lower(), dtype=dtype)
            inputs, attrs = at_opset(kind, inputs, attrs, ctx.opset)
            ctx.node(kind, inputs, [out], attrs)
            return out

        def at_least(a, b):  # GreaterOrEqual is opset 12; Or(Greater, Equal): NaN too
            if ctx.opset >= 12:
                return op("GreaterOrEqual", [a, b], np.bool_)
            greater, equal = op("Greater", [a, b], np.bool_), op("Equal", [a, b], np.bool_)
            return op("Or", [greater, equal], np.bool_)

        # the loop reads the first `trip` rows: the batched form reads those too, whatever
        # else the masks or boxes hold (the trip count is one of theirs, maybe not both's)
        count = op(
            "Reshape",
            [
                op("Cast", [loop.inputs[0]], np.int64, {"to": onnx.TensorProto.INT64}),
                const("shape", [1]),
            ],
            np.int64,
        )

        def first_rows(tensor):
            sliced = [tensor, const("start", [0]), count, const("axis", [0])]
            return op("Slice", sliced, np.dtype(tensor.dtype))

        masks, boxes = first_rows(masks), first_rows(boxes)
        fboxes = op("Cast", [boxes], attrs={"to": onnx.TensorProto.FLOAT})

        def column(k):
            return op(
                "Slice", [fboxes, const("start", [k]), const("end", [k + 1]), const("axis", [1])]
            )

        shape = op("Shape", [masks], np.int64)

        def weights(lo_col, hi_col, length, axis_of_mask):
            """N × length × S: the interpolation weights of each canvas position on the S
            mask positions along one axis (zero outside the box)."""
            size = op("Gather", [shape, const("axis", axis_of_mask)], np.int64)  # scalar S
            sizef = op("Cast", [size], attrs={"to": onnx.TensorProto.FLOAT})
            one = const("one", 1.0, f32)
            last = op("Sub", [sizef, one])
            lo, hi = column(lo_col), column(hi_col)  # N × 1
            extent = op("Max", [op("Add", [op("Sub", [hi, lo]), one]), one])
            scale = op("Div", [extent, sizef])
            pos = const("pos", np.arange(length)[None, :], f32)  # 1 × L
            offset = op("Add", [op("Sub", [pos, lo]), const("half", 0.5, f32)])
            src = op("Sub", [op("Div", [offset, scale]), const("half", 0.5, f32)])
            src = op(
                "Min",
                [op("Max", [src, const("zero", 0.0, f32)]), last],
            )
            inside = op(
                "And",
                [at_least(pos, lo), at_least(hi, pos)],
                np.bool_,
            )
            valid = op("Cast", [inside], attrs={"to": onnx.TensorProto.FLOAT})
            low = op("Floor", [src])
            frac = op("Sub", [src, low])
            high = op("Min", [op("Add", [low, one]), last])
            axis = const("axis", [2])
            steps = op("Range", [const("zero", 0), size, const("one", 1)], np.int64)
            idx = op(
                "Reshape",
                [
                    op("Cast", [steps], attrs={"to": onnx.TensorProto.FLOAT}),
                    const("shape", [1, 1, -1]),
                ],
            )  # 1 × 1 × S

            def tap(at, weight):
                hit = op("Equal", [op("Unsqueeze", [at, axis]), idx], np.bool_)
                hitf = op("Cast", [hit], attrs={"to": onnx.TensorProto.FLOAT})
                return op("Mul", [hitf, op("Unsqueeze", [weight, axis])])

            rest = op("Sub", [one, frac])
            both = op("Add", [tap(low, rest), tap(high, frac)])
            return op("Mul", [both, op("Unsqueeze", [valid, axis])])  # N × L × S

        wy = weights(1, 3, height, -2)
        wx = weights(0, 2, width, -1)
        m = masks
        if np.dtype(masks.dtype) != np.float32:
            m = op("Cast", [masks], attrs={"to": onnx.TensorProto.FLOAT})
        spatial = op(
            "Slice", [shape, const("start", [-2]), const("end", [np.iinfo(np.int64).max])], np.int64
        )
        m = op("Reshape", [m, op("Concat", [const("rows", [-1]), spatial], np.int64, {"axis": 0})])
        rows = op("MatMul", [wy, m])
        pasted = op("MatMul", [rows, op("Transpose", [wx], attrs={"perm": [0, 2, 1]})])
        out = loop.outputs[0]
        loop.outputs.clear()
        target = const("shape", [-1, *match.data["out_shape"]])
        if np.dtype(out.dtype or np.float32) != np.float32:
            pasted = op("Reshape", [pasted, target])
            to = onnx.helper.np_dtype_to_tensor_dtype(np.dtype(out.dtype))
            ctx.node("Cast", [pasted], [out], {"to": to})
        else:
            ctx.node("Reshape", [pasted, target], [out])


PASS = PasteMasks

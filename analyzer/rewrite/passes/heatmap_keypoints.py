"""heatmap-keypoints: a per-detection Loop that resizes each keypoint heatmap to its box and
takes its maximum → the same Loop working on one canvas size for every detection.

torchvision's Keypoint R-CNN exports its keypoint decoding (`heatmaps_to_keypoints`, ONNX path)
as a Loop over the detections: for detection i it resizes the K heatmaps (K × S × S, bicubic,
`half_pixel`) to the box's rounded-up size h_i × w_i, finds each map's maximum (ArgMax over the
flattened map), and returns the keypoints `((x + 0.5) · width_i / w_i + x0_i, (y + 0.5) ·
height_i / h_i + y0_i, 1)` and the heatmap values there. Inside the body the tensor shapes
follow h_i × w_i; TensorRT-RTX 1.7.1's builder stops on any shape computed from a loop-variant
value in a loop body ("Assertion newNodeOrder.size() == g.nodes.size() failed",
makeScopeNodesContiguous; see paste_masks.py), and a Resize to a data-dependent size inside a
loop crashes it. A dense batched form (all detections at once) would need N × K × H × W
floats, gigabytes at image size, so the loop stays and only its shapes change:

Before::

    kp, sc = Loop(N, true, body: m = maps[i]; r = Resize<cubic>(m, (h_i, w_i));
                  pos = ArgMax(r.reshape(K, -1)); x = pos % w_i; y = pos // w_i; …)

After::

    Hc = max_i h_i; Wc = max_i w_i                                      # outside the loop
    kp, sc = Loop(N, true, body: r = Ay_i @ maps[i] @ Ax_iᵀ            # K × Hc × Wc
                  r = Where(rows < h_i and cols < w_i, r, -inf)
                  pos = ArgMax(r.reshape(K, -1)); x = pos % Wc; y = pos // Wc; …)

`Ay_i` (Hc × S) holds the four cubic-convolution weights (coefficient a of the Resize, taps
clamped to the border, as onnxruntime's Resize) of each canvas row on the heatmap rows, zero
past h_i; `Ax_i` likewise. Row-major order is kept, so ArgMax picks the same first maximum.
Per iteration the body holds K × Hc × Wc floats (72 MB for 17 keypoints on an 800 × 1333
image), shapes fixed for the whole loop.

Matching is by what the loop computes: a Loop with two scan outputs and no carried value, whose
body contains a cubic Resize with a per-iteration size and reads one float heatmap tensor
(N × K × S × S) and six float vectors (N) besides constants and shapes. The Resize's size reads
two of the vectors; which vector is which (height, width, box size, offset) is settled by
running the loop alone in onnxruntime on generated heatmaps and sizes and comparing with the
new form for every assignment: exactly one must agree.

Skips (reported): a loop onnxruntime cannot run alone, a Resize other than cubic
`half_pixel` without `exclude_outside`, and a loop no assignment reproduces.
"""

from __future__ import annotations

import itertools

from trtforge.analyzer.lazy import lazy_import
from trtforge.analyzer.rewrite.base import Advice, Match, PassContext, RewritePass
from trtforge.analyzer.rewrite.graphutil import anchor, at_opset, producer
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

#: probe sizes: detections, keypoints, heatmap side
PROBE_ROWS, PROBE_K, PROBE_S = 12, 5, 9


def _upstream_reads(start: gs.Tensor, body: gs.Graph, reads: list[gs.Tensor]) -> list[gs.Tensor]:
    """The outer reads `start` is computed from inside the body (not through Shape)."""
    inside = {id(n) for n in body.nodes}
    wanted = {id(t) for t in reads}
    found, seen, todo = [], set(), [start]
    while todo:
        t = todo.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        if id(t) in wanted:
            found.append(t)
            continue
        node = producer(t)
        if node is None or id(node) not in inside or node.op == "Shape":
            continue
        todo += [x for x in node.inputs if x.name]
    return found


def cubic_weights(size: np.ndarray, length: int, src: int, a: float) -> np.ndarray:
    """len(size) × length × src: the weights of Resize<cubic, half_pixel> from `src` samples
    to size[n] samples (trunc) on each of `length` canvas positions; zero past size[n]."""
    f32 = np.float32
    out = np.trunc(size).astype(f32)[:, None]
    scale = out / f32(src)
    pos = np.arange(length, dtype=f32)[None, :]
    coord = (pos + f32(0.5)) / scale - f32(0.5)
    base = np.floor(coord)
    t = coord - base
    a = f32(a)
    one = f32(1)
    coeffs = [
        ((a * (t + one) - f32(5) * a) * (t + one) + f32(8) * a) * (t + one) - f32(4) * a,
        ((a + f32(2)) * t - (a + f32(3))) * t * t + one,
        ((a + f32(2)) * (one - t) - (a + f32(3))) * (one - t) * (one - t) + one,
        ((a * (f32(2) - t) - f32(5) * a) * (f32(2) - t) + f32(8) * a) * (f32(2) - t) - f32(4) * a,
    ]
    idx = np.arange(src, dtype=f32)[None, None, :]
    w = np.zeros((len(size), length, src), f32)
    for k, c in enumerate(coeffs):
        tap = np.clip(base + f32(k - 1), 0, src - 1)
        w += (tap[..., None] == idx) * c[..., None]
    return w * (pos < out)[..., None]


def keypoints_reference(maps, rmh, rmw, widths, heights, offx, offy, a=-0.75):
    """The new form in NumPy: (keypoints N × 3 × K, scores N × K)."""
    n, k, s_h, s_w = maps.shape
    hc = max(int(np.trunc(rmh).max(initial=1)), 1)
    wc = max(int(np.trunc(rmw).max(initial=1)), 1)
    ay = cubic_weights(rmh, hc, s_h, a)
    ax = cubic_weights(rmw, wc, s_w, a)
    xy = np.zeros((n, 3, k), np.float32)
    scores = np.zeros((n, k), np.float32)
    for i in range(n):
        r = np.matmul(np.matmul(ay[i][None], maps[i]), ax[i].T[None])  # K × Hc × Wc
        valid = (np.arange(hc)[:, None] < np.trunc(rmh[i])) & (
            np.arange(wc)[None, :] < np.trunc(rmw[i])
        )
        flat = np.where(valid, r, -np.inf).reshape(k, -1)
        pos = flat.argmax(1)
        x, y = pos % wc, pos // wc
        wcorr, hcorr = np.float32(widths[i] / rmw[i]), np.float32(heights[i] / rmh[i])
        xy[i, 0] = (x.astype(np.float32) + np.float32(0.5)) * wcorr + offx[i]
        xy[i, 1] = (y.astype(np.float32) + np.float32(0.5)) * hcorr + offy[i]
        xy[i, 2] = 1
        scores[i] = flat[np.arange(k), pos]
    return xy, scores


ROLES = ("rmh", "rmw", "widths", "heights", "offx", "offy")


class HeatmapKeypoints(RewritePass):
    """See the module docstring."""

    id = "heatmap-keypoints"
    order = 18
    summary = (
        "per-detection Loop resizing keypoint heatmaps to each box and taking their maxima -> "
        "the same Loop on one canvas size (TensorRT cannot build per-iteration shapes in a "
        "loop body)"
    )
    advice = Advice(
        "per-detection keypoint-decoding Loop",
        "a Loop with one shape for every detection",
        frozenset({"Loop", "Resize", "ArgMax"}),
        why="TensorRT-RTX cannot build a loop body whose shapes change per iteration",
    )

    def find(self, ctx: PassContext):
        for node, body in counted_loops(ctx.graph, outputs=2):
            resizes = [n for n in body.nodes if n.op == "Resize"]
            argmaxes = [n for n in body.nodes if n.op == "ArgMax"]
            if len(resizes) != 1 or len(argmaxes) != 1:
                continue
            reads = outer_reads(body)
            if reads is None:
                continue
            nodes, data = split_reads(reads)
            floats = [t for t in data if dtype_kind(t) == "f"]
            if len(data) != 7 or len(floats) != 7:
                continue
            resize = resizes[0]
            maps = _upstream_reads(resize.inputs[0], body, data)
            sizes = resize.inputs[3] if len(resize.inputs) > 3 else None
            sized = _upstream_reads(sizes, body, data) if sizes is not None else []
            if len(maps) != 1 or len(sized) != 2 or maps[0] in sized:
                continue
            others = [t for t in data if t is not maps[0] and t not in sized]
            yield Match(
                anchor(node),
                [node],
                {
                    "maps": maps[0],
                    "sized": sized,
                    "others": others,
                    "nodes": nodes,
                    "resize": resize,
                    "argmax": argmaxes[0],
                },
            )

    def check(self, match: Match, ctx: PassContext) -> str | None:
        resize = match.data["resize"]
        mode = resize.attrs.get("mode", "nearest")
        mode = mode.decode() if isinstance(mode, bytes) else mode
        ctm = resize.attrs.get("coordinate_transformation_mode", "half_pixel")
        ctm = ctm.decode() if isinstance(ctm, bytes) else ctm
        if mode != "cubic" or ctm != "half_pixel" or resize.attrs.get("exclude_outside", 0):
            return f"the Resize is {mode}/{ctm}, not cubic/half_pixel"
        if match.data["argmax"].attrs.get("select_last_index", 0):
            return "its ArgMax takes the last maximum (the new form takes the first)"
        a = float(resize.attrs.get("cubic_coeff_a", -0.75))
        maps, sized, others = match.data["maps"], match.data["sized"], match.data["others"]
        rng = np.random.default_rng(3)
        feeds = {maps.name: rng.random((PROBE_ROWS, PROBE_K, PROBE_S, PROBE_S), np.float32)}
        for t in sized:  # box sizes, up and down from the heatmap size
            feeds[t.name] = rng.uniform(1.0, 4 * PROBE_S, PROBE_ROWS).astype(np.float32)
        for t in others:
            feeds[t.name] = rng.uniform(-20.0, 60.0, PROBE_ROWS).astype(np.float32)
        for t in [maps, *sized, *others]:
            feeds[t.name] = feeds[t.name].astype(np.dtype(t.dtype))
        shapes = {
            t.name: (t.dtype, ["n", *feeds[t.name].shape[1:]]) for t in [maps, *sized, *others]
        }
        try:
            probe = LoopProbe(match.nodes[0], shapes, match.data["nodes"], ctx.opset)
            outs = probe(feeds, PROBE_ROWS)
        except Exception as err:  # onnxruntime refuses the loop alone: not this form
            return f"onnxruntime could not run the loop alone ({first_line(err)})"
        sizes = [int(np.prod(o.shape[1:])) for o in outs]
        if sorted(sizes) != [PROBE_K, 3 * PROBE_K] or any(len(o) != PROBE_ROWS for o in outs):
            return f"the loop's results {[list(o.shape) for o in outs]} are not keypoints"
        which = sizes.index(3 * PROBE_K)
        want_xy, want_sc = outs[which], outs[1 - which]
        value = {t.name: feeds[t.name].astype(np.float32) for t in [*sized, *others]}
        found = []
        for h, w in itertools.permutations(sized):
            for perm in itertools.permutations(others):
                roles = dict(zip(ROLES, [h, w, *perm], strict=True))
                xy, sc = keypoints_reference(
                    feeds[maps.name].astype(np.float32),
                    *[value[roles[r].name] for r in ROLES],
                    a=a,
                )
                if np.allclose(xy.reshape(want_xy.shape), want_xy, atol=1e-3) and np.allclose(
                    sc.reshape(want_sc.shape), want_sc, atol=1e-4
                ):
                    found.append(roles)
        if len(found) != 1:
            return (
                "no assignment of its inputs reproduces the loop"
                if not found
                else "the loop's inputs are ambiguous on the probe"
            )
        match.data.update(
            roles=found[0],
            a=a,
            xy_index=which,
            shapes=[list(o.shape[1:]) for o in outs],
        )
        return None

    def rewrite(self, match: Match, ctx: PassContext) -> None:
        loop = match.nodes[0]
        old: gs.Graph = loop.attrs["body"]
        roles, maps = match.data["roles"], match.data["maps"]
        f32, i64 = np.float32, np.int64

        def const(base, value, dtype=i64):
            return ctx.constant(base, np.array(value, dtype=dtype))

        def emit(into, kind, inputs, dtype=f32, attrs=None):
            out = ctx.variable(kind.lower(), dtype=dtype)
            inputs, attrs = at_opset(kind, inputs, attrs, ctx.opset)
            node = gs.Node(kind, ctx.unique(kind), attrs, inputs, [out])
            if into is None:
                ctx.graph.nodes.append(node)
            else:
                into.append(node)
            return out

        def to_float(into, t):
            if np.dtype(t.dtype) == np.float32:
                return t
            return emit(into, "Cast", [t], attrs={"to": onnx.TensorProto.FLOAT})

        def canvas(values):  # outside the loop: max_i trunc(size_i), at least 1 (also for N = 0)
            padded = emit(
                None,
                "Concat",
                [to_float(None, values), const("one", [1.0], f32)],
                attrs={"axis": 0},
            )
            top = emit(None, "ReduceMax", [padded], attrs={"keepdims": 1})
            return emit(None, "Cast", [top], i64, {"to": onnx.TensorProto.INT64})  # [1]

        hc, wc = canvas(roles["rmh"]), canvas(roles["rmw"])

        # --- the new body ------------------------------------------------------------------
        it = gs.Variable(ctx.unique("i"), i64, [])
        cin = gs.Variable(ctx.unique("cond"), np.bool_, [])
        b: list[gs.Node] = []
        cout = emit(b, "Identity", [cin], np.bool_)
        picked = {r: to_float(b, emit(b, "Gather", [roles[r], it], roles[r].dtype)) for r in ROLES}
        m = to_float(b, emit(b, "Gather", [maps, it], maps.dtype))  # K × S × S
        shape = emit(b, "Shape", [m], i64)
        a = match.data["a"]

        def weights(size_f, length, axis):
            """length × S: cubic weights of each canvas position (zero past the size)."""
            src = emit(b, "Gather", [shape, const("axis", axis)], i64)  # scalar S
            srcf = emit(b, "Cast", [src], attrs={"to": onnx.TensorProto.FLOAT})
            last = emit(b, "Sub", [srcf, const("one", 1.0, f32)])
            size_i = emit(b, "Cast", [size_f], i64, {"to": onnx.TensorProto.INT64})
            size_t = emit(b, "Cast", [size_i], attrs={"to": onnx.TensorProto.FLOAT})  # trunc
            scale = emit(b, "Div", [size_t, srcf])
            steps = emit(
                b,
                "Range",
                [const("zero", 0), emit(b, "Squeeze", [length], i64), const("one", 1)],
                i64,
            )
            pos = emit(b, "Cast", [steps], attrs={"to": onnx.TensorProto.FLOAT})  # L
            shifted = emit(b, "Add", [pos, const("half", 0.5, f32)])
            coord = emit(b, "Sub", [emit(b, "Div", [shifted, scale]), const("half", 0.5, f32)])
            base = emit(b, "Floor", [coord])
            t = emit(b, "Sub", [coord, base])
            c = {k: const(f"c{k}", v, f32) for k, v in (("a", a), ("a2", a + 2), ("a3", a + 3))}
            one, two = const("one", 1.0, f32), const("two", 2.0, f32)

            def outer(u):  # a(u)^3 terms for |u| in [1, 2]: ((a·u - 5a)·u + 8a)·u - 4a
                p = emit(b, "Sub", [emit(b, "Mul", [c["a"], u]), const("k", 5 * a, f32)])
                p = emit(b, "Add", [emit(b, "Mul", [p, u]), const("k", 8 * a, f32)])
                return emit(b, "Sub", [emit(b, "Mul", [p, u]), const("k", 4 * a, f32)])

            def inner(u):  # for |u| in [0, 1]: ((a+2)·u - (a+3))·u·u + 1
                p = emit(b, "Sub", [emit(b, "Mul", [c["a2"], u]), c["a3"]])
                return emit(b, "Add", [emit(b, "Mul", [emit(b, "Mul", [p, u]), u]), one])

            rest = emit(b, "Sub", [one, t])
            coeffs = [
                outer(emit(b, "Add", [t, one])),
                inner(t),
                inner(rest),
                outer(emit(b, "Sub", [two, t])),
            ]
            idx = emit(b, "Range", [const("zero", 0.0, f32), srcf, one])  # S
            idx = emit(b, "Unsqueeze", [idx, const("axis", [0])])  # 1 × S
            total = None
            for k, coeff in enumerate(coeffs):
                tap = emit(b, "Add", [base, const("k", float(k - 1), f32)])
                tap = emit(b, "Min", [emit(b, "Max", [tap, const("zero", 0.0, f32)]), last])
                hit = emit(
                    b, "Equal", [emit(b, "Unsqueeze", [tap, const("axis", [1])]), idx], np.bool_
                )
                term = emit(
                    b,
                    "Mul",
                    [
                        emit(b, "Cast", [hit], attrs={"to": onnx.TensorProto.FLOAT}),
                        emit(b, "Unsqueeze", [coeff, const("axis", [1])]),
                    ],
                )
                total = term if total is None else emit(b, "Add", [total, term])
            inside = emit(b, "Less", [pos, size_t], np.bool_)  # L
            return total, inside  # L × S, L

        ay, rows_ok = weights(picked["rmh"], hc, -2)
        ax, cols_ok = weights(picked["rmw"], wc, -1)
        r = emit(
            b,
            "MatMul",
            [emit(b, "MatMul", [ay, m]), emit(b, "Transpose", [ax], attrs={"perm": [1, 0]})],
        )
        valid = emit(
            b,
            "And",
            [
                emit(b, "Unsqueeze", [rows_ok, const("axis", [1])], np.bool_),
                emit(b, "Unsqueeze", [cols_ok, const("axis", [0])], np.bool_),
            ],
            np.bool_,
        )
        masked = emit(b, "Where", [valid, r, const("ninf", -np.inf, f32)])
        flat = emit(b, "Reshape", [masked, const("shape", [0, -1])])  # K × Hc·Wc
        pos = emit(b, "ArgMax", [flat], i64, {"axis": 1, "keepdims": 1})  # K × 1
        score = emit(b, "GatherElements", [flat, pos], attrs={"axis": 1})  # K × 1
        y_int = emit(b, "Div", [pos, wc], i64)
        x_int = emit(b, "Sub", [pos, emit(b, "Mul", [y_int, wc], i64)], i64)

        def coordinate(v_int, extent, size_f, offset):
            corr = emit(b, "Div", [picked[extent], size_f])
            v = emit(
                b,
                "Add",
                [
                    emit(b, "Cast", [v_int], attrs={"to": onnx.TensorProto.FLOAT}),
                    const("half", 0.5, f32),
                ],
            )
            return emit(b, "Add", [emit(b, "Mul", [v, corr]), picked[offset]])  # K × 1

        x = coordinate(x_int, "widths", picked["rmw"], "offx")
        y = coordinate(y_int, "heights", picked["rmh"], "offy")
        ones = emit(
            b, "Add", [emit(b, "Mul", [x, const("zero", 0.0, f32)]), const("one", 1.0, f32)]
        )
        xy = emit(b, "Concat", [x, y, ones], attrs={"axis": 1})  # K × 3
        xy = emit(b, "Transpose", [xy], attrs={"perm": [1, 0]})  # 3 × K

        pieces = []
        for k, (value, probe_shape) in enumerate(
            zip(
                [xy, score] if match.data["xy_index"] == 0 else [score, xy],
                match.data["shapes"],
                strict=True,
            )
        ):
            target = [-1 if d == PROBE_K else d for d in probe_shape]
            out = emit(b, "Reshape", [value, const("shape", target)])
            want = old.outputs[1 + k].dtype
            if want is not None and np.dtype(want) != np.float32:
                to = onnx.helper.np_dtype_to_tensor_dtype(np.dtype(want))
                out = emit(b, "Cast", [out], np.dtype(want), {"to": to})
            pieces.append(out)
        body = gs.Graph(nodes=b, inputs=[it, cin], outputs=[cout, *pieces], name=old.name)
        loop.attrs["body"] = body


PASS = HeatmapKeypoints

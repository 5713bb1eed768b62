"""nms-plugin: NonMaxSuppression → trtforge's NMS plugin node, for TensorRT-RTX builds.

TensorRT-RTX 1.7's parser imports NonMaxSuppression (an INMSLayer) but its builder has no
implementation of that layer for ahead-of-time builds ("has no runners that implement it",
observed with TensorRT-RTX 1.7.1 for SM89), so every detector with NMS fails to build. The
plugin (`trtforge::NMS`, plugins/decls/nms.py) computes the same output with onnxruntime's
semantics; its second output, a count, is the size tensor of the data-dependent first one.

Before::

    sel = NonMaxSuppression<center_point_box=0>(boxes, scores, max_out, iou, score_thr)

After::

    sel, count = trtforge::NMS<center_point_box=0, max_output_boxes_per_class=max_out,
                               iou_threshold=iou, score_threshold=score_thr>(boxes, scores)

trt-check advises it (and `--auto` applies it) on TensorRT-RTX targets only: TensorRT builds
INMSLayer.

Skips (reported): a target other than TensorRT-RTX; max_output_boxes_per_class, iou_threshold
or score_threshold not build-time constants; boxes or scores not float32; the plugin SDK not
installed.
"""

from __future__ import annotations

from trtforge.analyzer.lazy import lazy_import
from trtforge.analyzer.rewrite import emit
from trtforge.analyzer.rewrite.base import Advice, Match, PassContext, RewritePass, detach
from trtforge.analyzer.rewrite.graphutil import scalar

np = lazy_import("numpy")

#: ONNX defaults of the optional scalar inputs (a missing score_threshold keeps every box)
_DEFAULTS = {2: 0.0, 3: 0.0, 4: float("-inf")}


_INT32_MAX = 2**31 - 1


def _scalar_inputs(node) -> list[float | None]:
    values = []
    for i in (2, 3, 4):
        t = node.inputs[i] if len(node.inputs) > i else None
        if t is None or (not t.name and not hasattr(t, "values")):
            values.append(_DEFAULTS[i])
        else:
            values.append(scalar(t))
    return values


class NmsPlugin(RewritePass):
    id = "nms-plugin"
    summary = "NonMaxSuppression -> the trtforge NMS plugin (TensorRT-RTX cannot build INMSLayer)"
    advice = Advice(
        "NonMaxSuppression",
        "the trtforge NMS plugin",
        frozenset({"NonMaxSuppression"}),
        why="TensorRT-RTX's builder has no INMSLayer implementation: the engine build fails",
    )

    def find(self, ctx: PassContext):
        for node in ctx.graph.nodes:
            if node.op == "NonMaxSuppression" and node.domain in (None, "", "ai.onnx"):
                yield Match(anchor=node.name, nodes=[node])

    def check(self, match: Match, ctx: PassContext) -> str | None:
        node = match.nodes[0]
        if not ctx.target.is_rtx:
            return "only TensorRT-RTX needs it (TensorRT builds INMSLayer)"
        if emit._catalog() is None or emit._catalog().find_plugin("NMS", "1", "trtforge") is None:
            return "the trtforge plugin SDK (NMS plugin) is not installed"
        if any(v is None for v in _scalar_inputs(node)):
            return "max_output_boxes_per_class, iou_threshold or score_threshold is not a constant"
        for t in node.inputs[:2]:
            if t.dtype is not None and np.dtype(t.dtype) != np.float32:
                return f"input '{t.name}' is {np.dtype(t.dtype).name}; the plugin takes float32"
        return None

    def rewrite(self, match: Match, ctx: PassContext) -> None:
        node = match.nodes[0]
        max_out, iou, score = _scalar_inputs(node)
        (selected,) = node.outputs
        count = ctx.variable("count", dtype=np.int64, shape=[])
        emit.plugin_node(
            ctx,
            "NMS",
            node.inputs[:2],
            [selected, count],
            center_point_box=int(node.attrs.get("center_point_box", 0)),
            # the plugin field is INT32; any count past the boxes there are keeps them all
            # (torchvision exports INT64_MAX)
            max_output_boxes_per_class=int(min(max_out, _INT32_MAX)),
            iou_threshold=float(iou),
            score_threshold=float(score),
        )
        detach(node)


PASS = NmsPlugin

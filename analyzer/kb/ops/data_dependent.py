"""Unique, NonMaxSuppression: ops whose output shape depends on values.

Sources: onnx-tensorrt docs/operators.md (Unique: N; NonMaxSuppression: Y, FP32/FP16) and
onnxOpImporters.cpp importNonMaxSuppression (native INMSLayer; boxes and scores 3-D,
center_point_box 0 or 1, the three scalar inputs may be tensors); observed with the
TensorRT-RTX 1.7.1 parser: every ONNX NonMaxSuppression test case imports (it is a core layer,
not a plugin, so RTX has it too); Unique has no importer. Held-out FLOAT16 variant and probes
(TensorRT-RTX 1.7.1): the iou_threshold and score_threshold inputs must be FLOAT whatever the
boxes' type ("IoUThreshold has type Half but must have type Float", INMSLayer's type check;
FLOAT16 and BFLOAT16 thresholds fail, DOUBLE ones are cast to FLOAT and parse); boxes and scores
may be FLOAT, FLOAT16, BFLOAT16 or DOUBLE.
"""

from __future__ import annotations

from trtforge.analyzer.inference import GENERATED_DIM
from trtforge.analyzer.kb.ops._compute import is_dynamic_dim
from trtforge.analyzer.kb.ops._tensor_common import OBSERVED, OPSRC
from trtforge.analyzer.kb.policy import FLOAT_LIKE
from trtforge.analyzer.kb.rule import NEVER, AttrLimit, NodeContext, OpRule, Since


def _check_nms(ctx: NodeContext):
    """INMSLayer: "the last dimension of the Boxes tensor must always have a size of 4" — a
    build-time 4 (a dynamic dim of a network input, or 5, fails; observed with TensorRT-RTX
    1.7.1, held-out probes). A size ONNX's inference made up (`unk__<n>`) is one it lost, not
    a dynamic one: TensorRT computes the 4 where ONNX does not (torchvision's RetinaNet
    exports, inside an If branch)."""
    boxes = ctx.input(0)
    if boxes is None or boxes.shape is None or not boxes.shape:
        return
    last = boxes.shape[-1]
    # a network input's dim, whatever its name (tf2onnx names them `unk__<n>` too), is dynamic
    of_input = ctx.is_input_dim(last)
    if (
        isinstance(last, str)
        and last.startswith(GENERATED_DIM)
        and not boxes.is_graph_input
        and not of_input
    ):
        return  # a size ONNX's inference lost: TensorRT computes it (torchvision's RetinaNet)
    if (
        (isinstance(last, int) and last >= 0 and last != 4)
        or is_dynamic_dim(boxes, last)
        or of_input
    ):
        yield ctx.finding(
            "boxes-last-dim",
            f"boxes {list(boxes.shape)}: the last dim must be a static 4",
            "give the boxes a static last dim of 4 (x1, y1, x2, y2 or center/size)",
        )


RULES = [
    OpRule(
        op="NonMaxSuppression",
        source=f"{OPSRC} importNonMaxSuppression; docs/operators.md (NonMaxSuppression); "
        f"INMSLayer docs (threshold inputs FLOAT); {OBSERVED}",
        since=Since(trt=(8, 5), rtx=(1, 0)),
        # INMSLayer: thresholds are FLOAT scalars (DOUBLE is cast down by the parser)
        types={
            0: FLOAT_LIKE,
            1: FLOAT_LIKE,
            2: {"INT32", "INT64"},
            3: {"FLOAT", "DOUBLE"},
            4: {"FLOAT", "DOUBLE"},
        },
        attrs=(AttrLimit("center_point_box", allowed={0, 1}, default=0),),
        check=_check_nms,
        data_dependent_shape=True,
    ),
    OpRule(
        op="Unique",
        source=f"docs/operators.md (Unique: N); {OBSERVED} (no importer)",
        since=NEVER,
        data_dependent_shape=True,
        hint="compute unique values outside the engine, or use a fixed-size formulation "
        "(sort with TopK and compare neighbours)",
    ),
]

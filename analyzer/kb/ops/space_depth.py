"""DepthToSpace, SpaceToDepth.

Sources: onnx-tensorrt onnxOpImporters.cpp importDepthToSpace / importSpaceToDepth (input must
be 4-D NCHW; BOOL and UINT8 refused); docs/operators.md; observed with the TensorRT-RTX 1.7.1
parser (5-D input: "The input tensor must be in NCHW format"; BOOL: "Found unsupported input
type of BOOL"; INT64 and dynamic H/W accepted).
"""

from __future__ import annotations

from trtforge.analyzer.kb.ops._tensor_common import NO_BOOL, OBSERVED, OPSRC
from trtforge.analyzer.kb.rule import AttrLimit, NodeContext, OpRule


def _rank4(ctx: NodeContext):
    info = ctx.input(0)
    if info is not None and info.rank is not None and info.rank != 4:
        yield ctx.finding(
            "rank",
            f"input must be 4-D NCHW (rank {info.rank})",
            "reshape to 4-D around the op, or express it with Reshape and Transpose",
        )


RULES = [
    OpRule(
        op="DepthToSpace",
        source=f"{OPSRC} importDepthToSpace; docs/operators.md (DepthToSpace); {OBSERVED}",
        types={0: NO_BOOL},
        attrs=(AttrLimit("mode", allowed={"DCR", "CRD"}, default="DCR"),),
        check=_rank4,
    ),
    OpRule(
        op="SpaceToDepth",
        source=f"{OPSRC} importSpaceToDepth; docs/operators.md (SpaceToDepth); {OBSERVED}",
        types={0: NO_BOOL},
        check=_rank4,
    ),
]

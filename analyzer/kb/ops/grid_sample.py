"""GridSample, AffineGrid.

Sources: onnx-tensorrt docs/operators.md (GridSample: 4-D input; AffineGrid: N) and
onnxOpImporters.cpp importGridSample (BOOL/UINT8 refused; grid rank must equal input rank);
TensorRT API docs, IGridSampleLayer; observed with the TensorRT-RTX 1.7.1 parser: 4-D and 5-D
(volumetric) inputs accepted with every mode and padding mode of the ONNX tests, 3-D refused
("elem(input.getDimensions().nbDims, {4, 5})"), INT32 data refused; AffineGrid has no importer.
"""

from __future__ import annotations

from trtforge.analyzer.kb.ops._tensor_common import INTERPOLATABLE, OBSERVED, OPSRC
from trtforge.analyzer.kb.rule import NEVER, NodeContext, OpRule, Since


def _check_grid_sample(ctx: NodeContext):
    info = ctx.input(0)
    if info is None or info.rank is None:
        return
    if info.rank not in (4, 5):
        yield ctx.finding(
            "rank",
            f"input must be 4-D or 5-D (rank {info.rank})",
            "reshape the input to NCHW (or NCDHW) around the op",
        )
    elif info.rank == 5 and ctx.target.family == "trt" and ctx.target.version < (10, 0):
        yield ctx.finding("rank", "5-D (volumetric) input needs TensorRT 10", "")


RULES = [
    OpRule(
        op="GridSample",
        source=f"{OPSRC} importGridSample; docs/operators.md (GridSample); IGridSampleLayer; "
        f"{OBSERVED}",
        since=Since(trt=(8, 6), rtx=(1, 0)),
        types={0: INTERPOLATABLE, 1: INTERPOLATABLE},
        check=_check_grid_sample,
    ),
    OpRule(
        op="AffineGrid",
        source=f"docs/operators.md (AffineGrid: N); {OBSERVED} (no importer)",
        since=NEVER,
        hint="export the model with AffineGrid decomposed (e.g. torch affine_grid traced into "
        "MatMul/Range ops, as ONNX's function expansion does)",
    ),
]

"""Cast and CastLike.

Sources: onnx-tensorrt docs/operators.md (10.15: FP32, FP16, BF16, INT32, INT64, UINT8, BOOL);
onnxOpImporters.cpp importCast/importCastLike (ICastLayer; the `saturate` attribute is ignored;
"Unsupported data type for the Cast operator!" when `to` has no TensorRT type). Observed with the
TensorRT-RTX 1.7.1 parser: Cast from and to DOUBLE, INT8, FLOAT8E4M3FN, INT4 and FLOAT4E2M1 is
accepted; to FLOAT8E5M2, FNUZ types, FLOAT8E8M0, UINT4, INT2/UINT2, INT16 and UINT16/32/64 is
refused. Cast is one of the few importers that take UINT8 inputs.
"""

from __future__ import annotations

import onnx

from trtforge.analyzer.kb.ops._compute import CHECKERS, IMPORTERS, OBSERVED, OPS_MD, src
from trtforge.analyzer.kb.policy import ANY_TRT, cast_targets
from trtforge.analyzer.kb.rule import NodeContext, OpRule


def _check_cast(ctx: NodeContext):
    to = ctx.attr("to")
    if to is None:
        return
    try:
        name = onnx.TensorProto.DataType.Name(int(to))
    except ValueError:
        name = f"TYPE{to}"
    if name not in cast_targets(ctx.target):
        yield ctx.finding(
            "unsupported-target-type",
            f"casts to {name}, which has no TensorRT data type",
            "cast to a type TensorRT has (FLOAT, FLOAT16, BFLOAT16, INT32, INT64, INT8, UINT8, "
            "BOOL, FLOAT8E4M3FN, INT4, FLOAT4E2M1)",
        )


_SOURCE = src(
    f"{OPS_MD} (Cast/CastLike rows)",
    f"{IMPORTERS} importCast, importCastLike",
    f"{CHECKERS} checkCast (`to` must convert)",
    OBSERVED,
)

RULES = [
    OpRule(op="Cast", source=_SOURCE, types={0: ANY_TRT}, check=_check_cast),
    # CastLike's second input only lends its type; both must be convertible.
    OpRule(op="CastLike", source=_SOURCE, types={"*": ANY_TRT}),
]

"""Reductions (Reduce*), ArgMax/ArgMin, CumSum, CumProd.

`axes` as an input (ReduceSum from opset 13, the others from opset 18) must resolve to a
build-time constant: "Axis input must resolve to a build-time constant (an initializer or a
constant-foldable subgraph)!" (observed with TensorRT-RTX 1.7.1 for every Reduce op, including
an empty axes input with noop_with_empty_axes=1 and axes computed from Shape). operators.md
(10.15) says "`axes` must be an initializer" for each Reduce row.

Types (observed with TensorRT-RTX 1.7.1): ReduceSum/Mean/Max/Min/Prod/L1/SumSquare, ArgMax and
ArgMin take float, quantized and INT32/INT64 inputs; ReduceL2, ReduceLogSum and ReduceLogSumExp
(built on Sqrt/Log/Exp) take no integers; BOOL and UINT8 are refused. CumSum takes FLOAT, FLOAT16,
BFLOAT16, INT32, INT64; its `axis` may be a runtime tensor from TensorRT 10.8 (Changelog 10.8:
"dynamic axes … of CumSum"; earlier, operators.md: "`axis` must be an initializer"). CumProd
(opset 26) has no importer in TensorRT-RTX 1.7.1 ("Plugin not found").
"""

from __future__ import annotations

from trtforge.analyzer.kb.ops._compute import (
    CHANGELOG,
    FOLD,
    IMPORTERS,
    OBSERVED,
    OPS_MD,
    is_weights,
    not_weights,
    resolves_to_weights,
    src,
)
from trtforge.analyzer.kb.policy import FLOAT_LIKE, FLOAT_OPS, INDEX_INTS, NUMERIC
from trtforge.analyzer.kb.rule import NEVER, NodeContext, OpRule

_AXES_WHY = (
    "TensorRT's reduce layer takes its axes at build time (an initializer or Constant, "
    "possibly behind Identity/Cast; a Concat/Add of constants does not resolve)"
)
_INT_OK = (
    "ReduceSum",
    "ReduceMean",
    "ReduceMax",
    "ReduceMin",
    "ReduceProd",
    "ReduceL1",
    "ReduceSumSquare",
)
_FLOAT_ONLY = ("ReduceL2", "ReduceLogSum", "ReduceLogSumExp")


def _check_axes(ctx: NodeContext):
    if ctx.has_input(1) and not resolves_to_weights(ctx, 1):
        yield not_weights(ctx, 1, _AXES_WHY)


def _reduce(op: str, types) -> OpRule:
    return OpRule(
        op=op,
        source=src(
            f"{OPS_MD} ({op} row: axes must be an initializer)",
            f"{IMPORTERS} import{op} / reduceTensor",
            OBSERVED,
        ),
        types={0: types, 1: {"INT64"}},
        check=_check_axes,
    )


def _check_cumsum(ctx: NodeContext):
    t = ctx.target
    if t.family == "trt" and t.version < (10, 8) and ctx.has_input(1) and not is_weights(ctx, 1):
        yield ctx.finding(
            "axis-not-constant",
            f"axis ('{ctx.node.input[1]}') is a runtime tensor; TensorRT takes a dynamic CumSum "
            "axis from 10.8",
            "fold the axis into an initializer (trt-rewrite --fold-constants)",
            (FOLD,),
        )


RULES = [
    *(_reduce(op, NUMERIC) for op in _INT_OK),
    *(_reduce(op, FLOAT_OPS) for op in _FLOAT_ONLY),
    *(
        OpRule(
            op=op,
            source=src(
                f"{OPS_MD} ({op} row)",
                f"{IMPORTERS} import{op} (argMinMaxHelper)",
                CHANGELOG + " 9.3 (native INT32/INT64)",
                OBSERVED,
            ),
            types={0: NUMERIC},
        )
        for op in ("ArgMax", "ArgMin")
    ),
    OpRule(
        op="CumSum",
        source=src(
            f"{OPS_MD} (CumSum row)",
            f"{IMPORTERS} importCumSum (ICumulativeLayer)",
            CHANGELOG + " 10.8",
            OBSERVED,
        ),
        types={0: FLOAT_LIKE | INDEX_INTS, 1: INDEX_INTS},
        check=_check_cumsum,
    ),
    OpRule(
        op="CumProd",
        source=src(
            "absent from operators.md (10.15)",
            "no importer in TensorRT-RTX 1.7.1 (plugin lookup fails)",
            OBSERVED,
        ),
        since=NEVER,
        hint="compute it as Exp(CumSum(Log(x))) for positive inputs, or implement a plugin",
    ),
]

"""Normalization ops: BatchNormalization, InstanceNormalization, LayerNormalization,
GroupNormalization, RMSNormalization, LpNormalization, LRN, MeanVarianceNormalization.

Sources: onnx-tensorrt docs/operators.md (10.15) rows ("LayerNormalization: Only the first
output `Y` is supported"); onnxOpImporters.cpp importers (BatchNormalization: training_mode
refused, non-initializer parameters take an elementwise fallback; InstanceNormalization and
GroupNormalization through INormalizationLayer, kNATIVE_INSTANCENORM on by default since 10.0;
LpNormalization and LpPool: p must be 1 or 2; MeanVarianceNormalization: float inputs only);
Changelog (LayerNormalization, GroupNormalization 8.6; opset-21 GroupNormalization 10.9;
RMSNormalization 10.15). Observed with the TensorRT-RTX 1.7.1 parser: extra named outputs of
LayerNormalization/BatchNormalization fail even when nothing reads them, empty names pass;
InstanceNormalization needs rank >= 3, LRN rank >= 4; MeanVarianceNormalization parses for
FLOAT only (its epsilon constant is FLOAT, FLOAT16 input fails the elementwise type check);
LpNormalization takes FLOAT/FLOAT16 only.
"""

from __future__ import annotations

from dataclasses import replace

from trtforge.analyzer.findings import Fix
from trtforge.analyzer.kb.ops._compute import (
    CHANGELOG,
    CHECKERS,
    IMPORTERS,
    OBSERVED,
    OPS_MD,
    checks,
    mixed_float_types,
    only_first_output,
    rank,
    src,
)
from trtforge.analyzer.kb.policy import FLOAT_LIKE, FLOAT_OPS, INDEX_INTS
from trtforge.analyzer.kb.rule import AttrLimit, NodeContext, OpRule, Since

_NORM_TYPES = FLOAT_LIKE


#: the rewrite that turns training-mode BatchNormalization into ops the parser takes.
_INFERENCE_BN = (Fix("rewrite", "inference-batchnorm"),)


def _check_batchnorm(ctx: NodeContext):
    for finding in only_first_output(
        ctx,
        "declares the training outputs running_mean/running_var, which TensorRT does not produce",
        "export in inference mode (model.eval()) so the node has one output, or "
        "trt-rewrite --inference-batchnorm",
    ):
        yield replace(finding, fixes=_INFERENCE_BN)


def _check_layernorm(ctx: NodeContext):
    yield from mixed_float_types(ctx, (0, 1, 2))
    yield from only_first_output(
        ctx,
        "declares the optional Mean/InvStdDev outputs; TensorRT supports only Y (even unused "
        "extra outputs fail the parse)",
        "drop the extra outputs from the node (leave their names empty), or decompose the "
        "normalization",
    )


def _min_rank(minimum: int, code: str):
    def check(ctx: NodeContext):
        r = rank(ctx, 0)
        if r is not None and r < minimum:
            yield ctx.finding(
                code,
                f"input has rank {r}; TensorRT needs rank >= {minimum} here",
                f"reshape the input to rank {minimum} (e.g. add a unit spatial dim)",
            )

    return check


def _check_groupnorm(ctx: NodeContext):
    yield from mixed_float_types(ctx, (0, 1, 2))
    t = ctx.target
    if t.family == "trt" and t.version < (10, 9) and ctx.opset >= 21:
        yield ctx.finding(
            "opset-21",
            f"GroupNormalization-21 (per-channel scale/bias) is imported from TensorRT 10.9; "
            f"the model uses opset {ctx.opset}",
            "target TensorRT >= 10.9, or export GroupNormalization at opset 18-20",
        )


def _per_channel(ctx: NodeContext):
    """InstanceNormalization's scale and bias hold one value per channel. Another static
    length is an invalid graph that ONNX's shape inference passes: onnxruntime refuses it
    ("size of scale != input channel count"), and so does TensorRT's builder for a length
    other than 1 (observed with TensorRT-RTX 1.7.1: "the normalization scale is not
    broadcast-compatible with the input")."""
    data = ctx.input(0)
    if data is None or data.shape is None or len(data.shape) < 2:
        return
    want = data.shape[1]
    if not isinstance(want, int) or want < 0:
        return
    for index, what in ((1, "scale"), (2, "bias")):
        info = ctx.input(index)
        if info is None or info.shape is None:
            continue
        shape = list(info.shape)
        if len(shape) == 1 and not isinstance(shape[0], int):
            continue
        if shape != [want]:  # (another rank: [1, C] fails alike, "input.nbDims == scale.nbDims")
            yield ctx.finding(
                "shapes-mismatch",
                f"the {what} has shape {shape} but the input has {want} channels "
                f"({list(data.shape)}): one value per channel, shape [{want}]",
                f"fix the exporter: the {what} was made for another input (one value per channel)",
            )
            return


def _check_rmsnorm(ctx: NodeContext):
    yield from only_first_output(ctx, "declares more outputs than Y", "leave only the Y output")


_P_LIMIT = AttrLimit(
    "p", allowed={1, 2}, default=2, hint="only L1 and L2 norms are supported", code="p"
)

RULES = [
    OpRule(
        op="BatchNormalization",
        source=src(
            f"{OPS_MD} (BatchNormalization row)",
            f"{IMPORTERS} importBatchNormalization",
            f"{CHECKERS} checkBatchNormalization (training_mode, one output)",
            OBSERVED,
        ),
        types={"*": FLOAT_OPS},
        attrs=(
            AttrLimit(
                "training_mode",
                allowed={0},
                default=0,
                hint="export in inference mode (model.eval()), or trt-rewrite "
                "--inference-batchnorm (batch statistics as Reduce ops)",
                fixes=_INFERENCE_BN,
                code="training-mode",
            ),
        ),
        check=_check_batchnorm,
    ),
    OpRule(
        op="InstanceNormalization",
        source=src(
            f"{OPS_MD} (InstanceNormalization row)",
            f"{IMPORTERS} importInstanceNormalization (native INormalizationLayer)",
            OBSERVED,
        ),
        types={"*": _NORM_TYPES},
        check=checks(
            _min_rank(3, "rank"), lambda ctx: mixed_float_types(ctx, (0, 1, 2)), _per_channel
        ),
    ),
    OpRule(
        op="LayerNormalization",
        source=src(
            f"{OPS_MD} (LayerNormalization row: only the first output Y)",
            f"{IMPORTERS} importLayerNormalization",
            f"{CHECKERS} checkLayerNormalization (one output)",
            CHANGELOG + " 8.6",
            OBSERVED,
        ),
        types={"*": _NORM_TYPES},
        check=_check_layernorm,
    ),
    OpRule(
        op="GroupNormalization",
        source=src(
            f"{OPS_MD} (GroupNormalization row)",
            f"{IMPORTERS} importGroupNormalization",
            CHANGELOG + " 8.6, 10.9 (opset 21)",
            OBSERVED,
        ),
        types={"*": _NORM_TYPES},
        check=_check_groupnorm,
    ),
    OpRule(
        op="RMSNormalization",
        source=src(
            f"{OPS_MD} (RMSNormalization row)",
            f"{IMPORTERS} importRMSNormalization",
            CHANGELOG + " 10.15",
            OBSERVED,
        ),
        # Observed: integer X parses too (computed in stash_type FLOAT), so INT32/INT64 pass.
        types={0: FLOAT_OPS | INDEX_INTS, 1: FLOAT_OPS},
        since=Since(
            trt=(10, 15), rtx=(1, 7), reason="RMSNormalization is imported from TensorRT 10.15"
        ),
        hint="decompose it (Mul, ReduceMean, Add, Sqrt, Div, Mul) or target TensorRT >= 10.15",
        check=_check_rmsnorm,
    ),
    OpRule(
        op="LpNormalization",
        source=src(
            f"{OPS_MD} (LpNormalization row)",
            f"{IMPORTERS} importLpNormalization",
            f"{CHECKERS} checkLpNormalization (p in 1, 2)",
            OBSERVED,
        ),
        types={0: {"FLOAT", "FLOAT16", "DOUBLE"}},
        attrs=(_P_LIMIT,),
    ),
    OpRule(
        op="LRN",
        source=src(
            f"{OPS_MD} (LRN row)",
            f"{IMPORTERS} importLRN (ILRNLayer::setWindowSize: odd, 1 to 15)",
            OBSERVED,
        ),
        types={0: FLOAT_OPS},
        # observed with TensorRT-RTX 1.7.1: sizes 1, 3, 5 and 15 parse; 0, 2, 4, 16, 17 fail
        # ("windowSize >= kLRN_MIN_WINDOW && windowSize <= kLRN_MAX_WINDOW && (windowSize & 1)")
        attrs=(
            AttrLimit(
                "size",
                allowed=frozenset(range(1, 16, 2)),
                hint="TensorRT's LRN window is odd and at most 15 channels; an even window has "
                "no centre channel, so no LRN of TensorRT computes it",
            ),
        ),
        check=_min_rank(4, "rank"),
    ),
    OpRule(
        op="MeanVarianceNormalization",
        source=src(
            f"{OPS_MD} (MeanVarianceNormalization row)",
            f"{IMPORTERS} importMeanVarianceNormalization",
            OBSERVED,
        ),
        types={0: {"FLOAT", "DOUBLE"}},
    ),
]

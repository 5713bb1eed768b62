"""Pooling and RoI ops: AveragePool, MaxPool, LpPool, Global*Pool, MaxRoiPool, MaxUnpool,
RoiAlign.

Sources: onnx-tensorrt docs/operators.md (10.15: "2D or 3D pooling only", "`Indices` output
tensor unsupported", "`dilations` must be empty or all ones"; MaxRoiPool, MaxUnpool: N);
onnxOpImporters.cpp (poolingHelper; importLpPool and importLpNormalization: p in {1, 2}, FLOAT
or FLOAT16 only; importGlobalLpPool: FLOAT or FLOAT16; importRoiAlign: ROIAlign_TRT plugin v2).
Observed with the TensorRT-RTX 1.7.1 parser: 1-D pools parse (expanded to 2-D), 4-D spatial
ones fail; dilations != 1 fail ("does not support dilations other than 1"); a named Indices
output fails even when unused ("doesn't support mode than 1 outputs for MaxPool nodes");
Global{Average,Max}Pool (reduce layers) also take INT32/INT64; RoiAlign fails on RTX (no
ROIAlign plugin); pads and strides above 100,000 fail (`layer_parameters_fit`), and so does
an exclusive-count AveragePool pad as large as its window (`_exclusive_padding`).
"""

from __future__ import annotations

from trtforge.analyzer.findings import Fix
from trtforge.analyzer.kb.ops._compute import (
    CHANGELOG,
    CHECKERS,
    IMPORTERS,
    OBSERVED,
    OPS_MD,
    kernel_volume_fits,
    layer_parameters_fit,
    only_first_output,
    rank,
    src,
    window_fits,
)
from trtforge.analyzer.kb.policy import FLOAT_OPS, NUMERIC
from trtforge.analyzer.kb.rule import NEVER, AttrLimit, NodeContext, OpRule, Since


def _check_pool(ctx: NodeContext):
    r = rank(ctx, 0)
    if r is not None and not 1 <= r - 2 <= 3:
        yield ctx.finding(
            "spatial-rank",
            f"input has {r - 2} spatial dims (rank {r}); TensorRT pools 1-3 spatial dims",
            "reshape to fold extra spatial dims into the batch dim",
        )
    dilations = ctx.attr("dilations")
    if dilations and any(int(d) != 1 for d in dilations):
        if ctx.rule is not None and ctx.rule.op in ("MaxPool", "AveragePool"):
            hint = "trt-rewrite --undilate-pool (a strided Slice, then an undilated pool)"
            fixes = (Fix("rewrite", "undilate-pool"),)
        else:
            hint, fixes = "rewrite the dilated pool (Slice with steps, then pool)", ()
        yield ctx.finding(
            "dilations", f"dilations {list(dilations)} are not supported (only 1)", hint, fixes
        )
    if ctx.rule is None or ctx.rule.op != "MaxPool":  # (MaxPool: `window_fits` checks it)
        yield from kernel_volume_fits(ctx, ctx.attr("kernel_shape"))
    # (dilations other than 1 are refused above)
    yield from layer_parameters_fit(ctx, ("pads", "strides"))
    if ctx.rule is not None and ctx.rule.op == "AveragePool":
        yield from _exclusive_padding(ctx)


def _exclusive_padding(ctx: NodeContext):
    """An average that leaves the padding out of its count (count_include_pad=0, the default)
    needs each pad smaller than the window on its axis: observed with TensorRT-RTX 1.7.1 on
    a 3x3 window, pads of 2 parse and 3 fail ("the padding size is larger than or equal to
    the filter size for exclusive-count"), whatever the input's dims; with
    count_include_pad=1 they parse."""
    if ctx.attr_int("count_include_pad", 0) or str(ctx.attr("auto_pad", "NOTSET")) != "NOTSET":
        return
    kernel, pads = ctx.attr("kernel_shape"), ctx.attr("pads")
    if not kernel or not pads or len(pads) != 2 * len(kernel):
        return
    for i, pad in enumerate(pads):
        size = int(kernel[i % len(kernel)])
        if int(pad) >= size:
            yield ctx.finding(
                "pads-exclusive",
                f"pads {[int(p) for p in pads]} hold {int(pad)}, not smaller than the window's "
                f"{size} on that axis; TensorRT's exclusive-count average (count_include_pad=0) "
                "refuses it",
                "pad with an explicit Pad node (zeros) first, or export with "
                "count_include_pad=1 if the padded zeros may count",
            )
            return


def _check_maxpool(ctx: NodeContext):
    yield from _check_pool(ctx)
    yield from window_fits(ctx, ctx.attr("kernel_shape"))
    yield from only_first_output(
        ctx,
        "declares the Indices output; TensorRT's pooling has no argmax output (even unused, "
        "a named Indices output fails the parse)",
        "drop the Indices output (leave its name empty); for MaxUnpool patterns use a plugin",
    )


_P_LIMIT = AttrLimit(
    "p", allowed={1, 2}, default=2, hint="only p=1 and p=2 are supported", code="p"
)

RULES = [
    OpRule(
        op="AveragePool",
        source=src(
            f"{OPS_MD} (AveragePool row)",
            f"{IMPORTERS} poolingHelper",
            f"{CHECKERS} poolingCheckHelper (dilations 1)",
            OBSERVED,
        ),
        types={0: FLOAT_OPS},
        check=_check_pool,
    ),
    OpRule(
        op="MaxPool",
        source=src(
            f"{OPS_MD} (MaxPool row)",
            f"{IMPORTERS} poolingHelper",
            f"{CHECKERS} checkMaxPool (one output, dilations 1)",
            OBSERVED,
        ),
        types={0: FLOAT_OPS},
        check=_check_maxpool,
    ),
    OpRule(
        op="LpPool",
        source=src(
            f"{OPS_MD} (LpPool row)",
            f"{IMPORTERS} importLpPool",
            f"{CHECKERS} checkLpPool (p in 1, 2)",
            OBSERVED,
        ),
        types={0: {"FLOAT", "FLOAT16", "DOUBLE"}},
        attrs=(_P_LIMIT,),
        check=_check_pool,
    ),
    OpRule(
        op="GlobalAveragePool",
        source=src(
            f"{OPS_MD} (GlobalAveragePool row)", f"{IMPORTERS} (IReduceLayer kAVG)", OBSERVED
        ),
        types={0: NUMERIC},
    ),
    OpRule(
        op="GlobalMaxPool",
        source=src(f"{OPS_MD} (GlobalMaxPool row)", f"{IMPORTERS} (IReduceLayer kMAX)", OBSERVED),
        types={0: NUMERIC},
    ),
    OpRule(
        op="GlobalLpPool",
        source=src(f"{OPS_MD} (GlobalLpPool row)", f"{IMPORTERS} importGlobalLpPool", OBSERVED),
        types={0: {"FLOAT", "FLOAT16", "DOUBLE"}},
    ),
    OpRule(
        op="RoiAlign",
        source=src(
            f"{OPS_MD} (RoiAlign row)",
            f"{IMPORTERS} importRoiAlign (ROIAlign_TRT v2 plugin)",
            CHANGELOG + " 8.5",
            OBSERVED,
        ),
        since=Since(
            trt=(8, 5),
            rtx=None,
            reason="RoiAlign is built on the ROIAlign_TRT plugin, which TensorRT-RTX does not ship",
        ),
        types={0: {"FLOAT", "FLOAT16", "DOUBLE"}, 1: {"FLOAT", "FLOAT16", "DOUBLE"}},
        hint="target TensorRT, or implement RoiAlign as a plugin",
    ),
    OpRule(
        op="MaxRoiPool",
        source=src(f"{OPS_MD} (MaxRoiPool row: N)", "no importer"),
        since=NEVER,
        hint="no TensorRT importer: use RoiAlign (mode='max') where acceptable, or a plugin",
    ),
    OpRule(
        op="MaxUnpool",
        source=src(f"{OPS_MD} (MaxUnpool row: N)", "no importer", OBSERVED),
        since=NEVER,
        hint="no TensorRT importer: rewrite as ScatterElements/ScatterND into a zero tensor, or "
        "use a plugin",
    ),
]

"""Convolutions: Conv, ConvTranspose, DeformConv.

Sources: onnx-tensorrt docs/operators.md (10.15: Conv/ConvTranspose FP32, FP16, BF16;
DeformConv FP32, FP16, "input must have 1D or 2D spatial dimensions", begin and end pads equal);
onnxOpImporters.cpp importConv (weights and bias may be runtime tensors: convMultiInput),
importConvTranspose ("Deconvolution input must be at least 3D and at most 5D", negative
pre-padding from output_shape refused), importDeformConv (FLOAT/FLOAT16 only, all inputs the
same type, built on the ModulatedDeformConv plugin); Changelog 10.1 (DeformConv). Observed with the
TensorRT-RTX 1.7.1 parser: 1-D, 2-D and 3-D convolutions parse, 4-D spatial ones fail
(addConvolutionNd needs 2 or 3 kernel dims after 1-D expansion); input and weights must share a
type; DeformConv fails on RTX ("Plugin not found": no plugin library ships with TensorRT-RTX).
"""

from __future__ import annotations

from trtforge.analyzer.kb.ops._compute import (
    CHANGELOG,
    IMPORTERS,
    OBSERVED,
    OPS_MD,
    mixed_float_types,
    rank,
    src,
)
from trtforge.analyzer.kb.policy import FLOAT_LIKE
from trtforge.analyzer.kb.rule import NodeContext, OpRule, Since


def _spatial(ctx: NodeContext, low: int, high: int):
    r = rank(ctx, 0)
    if r is None:
        return
    spatial = r - 2
    if not low <= spatial <= high:
        yield ctx.finding(
            "spatial-rank",
            f"input has {spatial} spatial dims (rank {r}); TensorRT supports {low}-{high}",
            "reshape to fold extra spatial dims into the batch or channel dim",
        )


def _dim(ctx: NodeContext, index: int, axis: int):
    """(known, value): whether the input's rank is known, and the dim if it is a static int."""
    info = ctx.input(index)
    if info is None or info.shape is None or len(info.shape) <= axis:
        return False, None
    d = info.shape[axis]
    return True, d if isinstance(d, int) and d > 0 else None


def _check_conv(ctx: NodeContext):
    yield from _spatial(ctx, 1, 3)
    yield from mixed_float_types(ctx, (0, 1, 2))
    known, channels = _dim(ctx, 1, 1)
    if known and channels is None:
        # IConvolutionLayer needs the kernel's input-channel count at build time (observed:
        # runtime weights with a symbolic channel dim fail the group/channel check or the
        # layer's "channel dimension … must be a build time constant")
        yield ctx.finding(
            "dynamic-channels",
            f"weights '{ctx.node.input[1]}' have a dynamic input-channel dim "
            f"{list(ctx.input(1).shape)}",
            "give the weights a static shape (e.g. an initializer, or fix the channel dim)",
        )


def _check_deconv(ctx: NodeContext):
    yield from _spatial(ctx, 1, 3)
    yield from mixed_float_types(ctx, (0, 1, 2))
    known, channels = _dim(ctx, 0, 1)
    if known and channels is None:
        # observed: "IDeconvolutionLayer number of channels in `input` tensor must not be
        # dynamic"
        yield ctx.finding(
            "dynamic-channels",
            f"input '{ctx.node.input[0]}' has a dynamic channel dim {list(ctx.input(0).shape)}",
            "export with a static channel dimension",
        )


def _check_deform(ctx: NodeContext):
    yield from _spatial(ctx, 1, 2)
    pads = ctx.attr("pads")
    if pads:
        half = len(pads) // 2
        if list(pads[:half]) != list(pads[half:]):
            yield ctx.finding(
                "asymmetric-pads",
                f"pads {list(pads)} differ between begin and end",
                "use symmetric padding (pad the input explicitly with Pad)",
            )


RULES = [
    OpRule(
        op="Conv",
        source=src(f"{OPS_MD} (Conv row)", f"{IMPORTERS} importConv / convMultiInput", OBSERVED),
        types={"*": FLOAT_LIKE},
        check=_check_conv,
    ),
    OpRule(
        op="ConvTranspose",
        source=src(f"{OPS_MD} (ConvTranspose row)", f"{IMPORTERS} importConvTranspose", OBSERVED),
        types={"*": FLOAT_LIKE},
        check=_check_deconv,
    ),
    OpRule(
        op="DeformConv",
        source=src(
            f"{OPS_MD} (DeformConv row)",
            f"{IMPORTERS} importDeformConv (plugin)",
            CHANGELOG + " 10.1",
            OBSERVED,
        ),
        since=Since(
            trt=(10, 1),
            rtx=None,
            reason="DeformConv is built on a TensorRT plugin, "
            "and TensorRT-RTX ships no plugin library",
        ),
        types={"*": {"FLOAT", "FLOAT16"}},
        hint="target TensorRT >= 10.1, or implement deformable convolution as a plugin",
        check=_check_deform,
    ),
]

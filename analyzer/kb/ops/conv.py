"""Convolutions: Conv, ConvTranspose, DeformConv.

Sources: onnx-tensorrt docs/operators.md (10.15: Conv/ConvTranspose FP32, FP16, BF16;
DeformConv FP32, FP16, "input must have 1D or 2D spatial dimensions", begin and end pads equal);
pads, strides and dilations above 100,000 fail (`_compute.layer_parameters_fit`, observed
with TensorRT-RTX 1.7.1);
onnxOpImporters.cpp importConv (weights and bias may be runtime tensors: convMultiInput),
importConvTranspose ("Deconvolution input must be at least 3D and at most 5D", negative
pre-padding from output_shape refused), importDeformConv (FLOAT/FLOAT16 only, all inputs the
same type, built on the ModulatedDeformConv plugin); Changelog 10.1 (DeformConv). Observed with the
TensorRT-RTX 1.7.1 parser: 1-D, 2-D and 3-D convolutions parse, 4-D spatial ones fail
(addConvolutionNd needs 2 or 3 kernel dims after 1-D expansion); input and weights must share a
type; DeformConv fails on RTX ("Plugin not found": no plugin library ships with TensorRT-RTX).

Held-out variants (symbolic batch dim, observed with the TensorRT-RTX 1.7.1 parser): weights or
bias that are runtime tensors (not an initializer or Constant) need a fully static shape — the
output-map count, channel count and kernel size are layer parameters (importConv/convMultiInput
reads K from the weights' dim 0 for addConvolutionNd, importConvTranspose reads the output maps
from dim 1; TensorRT then asserts "dynamic shape is not supported for weights"). ConvTranspose
with `output_shape` computes its padding from the input's spatial dims (generatePadding, with -1
for a dynamic dim) and refuses a negative pre-padding, so `output_shape` needs static spatial
dims in practice; on a 1-D ConvTranspose `output_shape` always fails (the padding of the axis
the parser adds to make it 2-D comes out negative).
"""

from __future__ import annotations

from trtforge.analyzer.kb.ops._compute import (
    CHANGELOG,
    IMPORTERS,
    OBSERVED,
    OPS_MD,
    has_dynamic_dim,
    is_weights,
    layer_parameters_fit,
    mixed_float_types,
    rank,
    src,
    window_fits,
)
from trtforge.analyzer.kb.ops._shape_values import reshape_dims
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
    """(known, value): whether the input's rank is known, and the dim if it is a static int
    — or one TensorRT computes where ONNX's inference does not: a Reshape's `-1` among
    symbolic dims that cancel (`_shape_values.reshape_dims`)."""
    info = ctx.input(index)
    if info is None or info.shape is None or len(info.shape) <= axis:
        return False, None
    d = info.shape[axis]
    if isinstance(d, int) and d > 0:
        return True, d
    resolved = ctx.input_derived(index, reshape_dims)
    if resolved is not None and len(resolved) == len(info.shape):
        d = resolved[axis]
    return True, d if isinstance(d, int) and d > 0 else None


def _dynamic_weights(ctx: NodeContext, skip_channels: bool):
    """Runtime-tensor weights/bias must have a static shape (observed with TensorRT-RTX 1.7.1:
    addConvolutionNd/addDeconvolutionNd "Invalid number of output channels", "kernelSize",
    or "dynamic shape is not supported for weights"; importConv/convMultiInput and
    importConvTranspose take the layer's output maps and kernel size from the weights' dims).
    Initializers and Constant outputs always have static shapes."""
    for index, what in ((1, "weights"), (2, "bias")):
        info = ctx.input(index)
        if not has_dynamic_dim(info) or is_weights(ctx, index):
            continue
        if index == 1 and skip_channels:
            continue  # reported as dynamic-channels
        yield ctx.finding(
            "dynamic-weights",
            f"{what} '{ctx.node.input[index]}' are a runtime tensor with a dynamic shape "
            f"{list(info.shape)}; TensorRT needs the output maps and kernel size at build time",
            f"give the {what} a static shape (fixed dims), or make them an initializer",
        )


def _channels_fit(ctx: NodeContext):
    """The data's channels (dim 1) must equal the weights' input channels (W dim 1) times
    `group`, when both are known: the parser refuses the node otherwise (observed with
    TensorRT-RTX 1.7.1 on a [1,3,8,8] input and [8,4,3,3] weights), and onnxruntime fails
    when it runs it; ONNX shape inference passes it."""
    data, weights = ctx.input(0), ctx.input(1)
    if data is None or weights is None or data.shape is None or weights.shape is None:
        return
    if len(data.shape) < 2 or len(weights.shape) < 2 or len(data.shape) != len(weights.shape):
        return
    channels, per_group = data.shape[1], weights.shape[1]
    group = ctx.attr("group", 1)
    if not (isinstance(channels, int) and isinstance(per_group, int) and isinstance(group, int)):
        return
    if channels >= 0 and per_group >= 0 and channels != per_group * group:
        yield ctx.finding(
            "shapes-mismatch",
            f"the data has {channels} channels but the weights {list(weights.shape)} take "
            f"{per_group} per group × group={group}",
            "fix the exporter: the weights were made for another input (or group)",
        )
        return
    kernel = ctx.attr("kernel_shape")
    spatial = list(weights.shape[2:])
    if kernel and all(isinstance(d, int) for d in spatial) and list(kernel) != spatial:
        # observed with TensorRT-RTX 1.7.1: kernel_shape [5,5] with 3x3 weights is refused
        yield ctx.finding(
            "shapes-mismatch",
            f"kernel_shape {list(kernel)} differs from the weights' spatial dims {spatial}",
            "drop kernel_shape (it is taken from the weights) or fix the exporter",
        )
        return
    yield from window_fits(ctx, spatial if all(isinstance(d, int) for d in spatial) else None)


def _check_conv(ctx: NodeContext):
    yield from _spatial(ctx, 1, 3)
    yield from layer_parameters_fit(ctx)
    yield from mixed_float_types(ctx, (0, 1, 2))
    yield from _channels_fit(ctx)
    known, channels = _dim(ctx, 1, 1)
    yield from _dynamic_weights(ctx, skip_channels=known and channels is None)
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
    yield from layer_parameters_fit(ctx)
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
    yield from _dynamic_weights(ctx, skip_channels=False)
    yield from _output_shape_padding(ctx)


def _ints(ctx: NodeContext, name: str, n: int, default: int) -> list[int] | None:
    value = ctx.attr(name)
    if value is None:
        return [default] * n
    value = [int(v) for v in value]
    return value if len(value) == n else None


def _output_shape_padding(ctx: NodeContext):
    """importConvTranspose with `output_shape` (and auto_pad NOTSET) derives the padding with
    generatePadding: total = stride * (in - 1) + output_padding + ((k - 1) * dilation + 1)
    - out, pre = total / 2 (C++ division), where a dynamic input dim is -1; a negative
    pre-padding is refused ("TensorRT does not support negative pre-padding in the
    ConvTranspose operator!"; observed with TensorRT-RTX 1.7.1 for dynamic spatial dims)."""
    out_shape = ctx.attr("output_shape")
    if not out_shape or str(ctx.attr("auto_pad", "NOTSET")) != "NOTSET":
        return
    x = ctx.input(0)
    if x is None or x.shape is None:
        return
    if len(x.shape) == 3:
        # a 1-D deconvolution is expanded to 2-D first, but output_shape is not: the padding
        # of the added unit axis comes out negative (or the final reshape fails); observed
        # with TensorRT-RTX 1.7.1 for every output_shape tried
        yield ctx.finding(
            "output-shape-1d",
            f"output_shape {list(out_shape)} on a 1-D ConvTranspose; the parser's 1-D to 2-D "
            "expansion makes the padding it derives from output_shape invalid",
            "use pads/output_padding instead of output_shape (same output size)",
        )
        return
    if len(x.shape) not in (4, 5):
        return
    n = len(x.shape) - 2
    out_shape = [int(v) for v in out_shape]
    if len(out_shape) < n:
        return
    kernel = ctx.attr("kernel_shape")
    if kernel is None:
        w = ctx.input(1)
        if w is None or w.shape is None or len(w.shape) != n + 2:
            return
        kernel = w.shape[2:]
    if len(kernel) != n or not all(isinstance(k, int) and k > 0 for k in kernel):
        return
    strides = _ints(ctx, "strides", n, 1)
    dilations = _ints(ctx, "dilations", n, 1)
    out_pad = _ints(ctx, "output_padding", n, 0)
    if strides is None or dilations is None or out_pad is None:
        return
    offset = len(out_shape) - n
    for i in range(n):
        d = x.shape[2 + i]
        dim = d if isinstance(d, int) and d > 0 else -1
        total = (
            strides[i] * (dim - 1)
            + out_pad[i]
            + ((int(kernel[i]) - 1) * dilations[i] + 1)
            - out_shape[offset + i]
        )
        pre = int(total / 2)  # C++ integer division truncates toward zero
        if pre >= 0:
            continue
        if dim == -1:
            yield ctx.finding(
                "output-shape-dynamic",
                f"output_shape {out_shape} with a dynamic spatial input dim "
                f"{list(x.shape)}; the parser computes the padding from the input dims at "
                "build time and gets a negative pre-padding",
                "give the input static spatial dims, or use pads/output_padding (or auto_pad) "
                "instead of output_shape",
            )
        else:
            yield ctx.finding(
                "negative-pre-padding",
                f"output_shape {out_shape} implies a negative pre-padding on spatial axis {i} "
                f"(input {list(x.shape)})",
                "use pads/output_padding that give the wanted output size, or crop the output",
            )
        return


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
        empty_inputs_refused=frozenset({2}),  # observed, TensorRT-RTX 1.7.1
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

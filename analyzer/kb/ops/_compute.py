"""Shared vocabulary of the compute-op rules (elementwise, activations, reductions, conv, …).

Not a rule module (the leading underscore keeps the registry from loading it as one).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from trtforge.analyzer.findings import Finding, Fix
from trtforge.analyzer.kb.rule import NodeContext

if TYPE_CHECKING:
    from trtforge.analyzer.graph import GraphView

#: Citation prefixes used by the compute rules.
OPS_MD = "onnx-tensorrt docs/operators.md (TensorRT 10.15)"
CHANGELOG = "onnx-tensorrt docs/Changelog.md"
IMPORTERS = "onnx-tensorrt onnxOpImporters.cpp"
CHECKERS = "onnx-tensorrt onnxOpCheckers.cpp"
OBSERVED = "observed with TensorRT-RTX 1.7.1 parser"

FOLD = Fix("rewrite", "fold-constants")


def src(*parts: str) -> str:
    """Joins citation parts into one `source` string."""
    return "; ".join(p for p in parts if p)


def only_first_output(ctx: NodeContext, what: str, hint: str) -> Iterable[Finding]:
    """The importer produces one output; any other named output fails the parse.

    The parser counts named outputs, not consumed ones: an optional output that is declared
    but unused still fails (observed with TensorRT-RTX 1.7.1 for LayerNormalization, MaxPool,
    BatchNormalization and Attention).
    """
    # through `ctx.output` (facts: a named output or none), so that nodes with no extra output
    # share their verdict (`VerdictMemo`); the names are read only for the finding
    present = [ctx.output(index) for index in range(1, ctx.num_outputs)]
    extra = [info.name for info in present if info is not None]
    if extra:
        yield ctx.finding(
            "extra-outputs",
            f"{what} ({', '.join(repr(n) for n in extra)})",
            hint,
        )


def is_weights(ctx: NodeContext, index: int) -> bool:
    """What the parser calls weights: an initializer or a Constant node's output, directly.

    Observed with TensorRT-RTX 1.7.1: an initializer passed through an Identity is a tensor,
    not weights (STFT frame_step, Dropout training_mode and Clip bounds then fail).
    """
    if not ctx.has_input(index):
        return False
    if ctx.input(index).is_initializer:  # a fact: the verdict stays shareable (VerdictMemo)
        return True
    return ctx.input_derived(index, _made_by_constant)  # (an analysis: shareable by answer)


def _made_by_constant(graph: GraphView, name: str) -> bool:
    """Whether a Constant node of `graph` makes `name` (`is_weights`: an analysis of the
    tensor, read through `NodeContext.input_derived`)."""
    producer = graph.producer(name)
    return producer is not None and producer.op_type == "Constant"


#: how many Identity/Cast nodes `resolves_to_weights` looks through
RESOLVE_DEPTH = 16


def resolves_to_weights(ctx: NodeContext, index: int) -> bool:
    """Weights reached back through Identity/Cast nodes only (the parser's resolution of
    Reduce axes: an initializer behind Cast or Identity resolves, a Concat or Add of
    constants does not; observed with TensorRT-RTX 1.7.1)."""
    if not ctx.has_input(index):
        return False
    if ctx.input(index).is_initializer:  # a fact: the verdict stays shareable (VerdictMemo)
        return True
    return ctx.input_derived(index, _resolved_to_weights)  # (an analysis: shareable by answer)


def _resolved_to_weights(graph: GraphView, name: str) -> bool:
    """`resolves_to_weights` of tensor `name`: a walk up its producers through Identity and
    Cast nodes, at most RESOLVE_DEPTH of them, to an initializer or a Constant node."""
    for _ in range(RESOLVE_DEPTH):
        if graph.is_initializer(name):
            return True
        producer = graph.producer(name)
        if producer is None:
            return False
        if producer.op_type == "Constant":
            return True
        if producer.op_type not in ("Identity", "Cast") or not producer.input:
            return False
        name = producer.input[0]
    return False


def not_weights(ctx: NodeContext, index: int, why: str) -> Finding:
    """The generic `input-not-constant` finding, with the fold-constants fix."""
    return ctx.finding(
        "input-not-constant",
        f"input {index} ('{ctx.node.input[index]}') must be an initializer or Constant: {why}",
        "fold it into an initializer (trt-rewrite --fold-constants) if it depends only on "
        "constants; otherwise export with a fixed value",
        (FOLD,),
    )


def static_shape(ctx: NodeContext, index: int) -> tuple[int, ...] | None:
    """The input's shape when every dim is a known non-negative int, else None."""
    info = ctx.input(index)
    if info is None or not info.static_shape:
        return None
    return tuple(int(d) for d in info.shape)


def is_dynamic_dim(info, d) -> bool:
    """Whether TensorRT sees dim `d` of tensor `info` as dynamic (-1) at build time, as far as
    this analysis can tell: a symbolic dim (named, hence derived from a dynamic network-input
    dim), or an unknown dim of a network input. An unknown dim of a computed tensor is not
    counted: ONNX shape inference often loses dims that TensorRT computes."""
    if isinstance(d, int) and d >= 0:
        return False
    if isinstance(d, str) and d:
        return True
    return bool(info.is_graph_input)


def has_dynamic_dim(info) -> bool:
    """`is_dynamic_dim` for any dim of the tensor (False when its rank is unknown)."""
    return (
        info is not None
        and info.shape is not None
        and any(is_dynamic_dim(info, d) for d in info.shape)
    )


def rank(ctx: NodeContext, index: int) -> int | None:
    info = ctx.input(index)
    return None if info is None else info.rank


def scalar(value) -> float | None:
    """A one-element constant's value as a Python number, else None."""
    if value is None:
        return None
    try:
        flat = value.reshape(-1)
    except AttributeError:
        return None
    return flat.item() if flat.size == 1 else None


def pre_opset7_broadcast(ctx: NodeContext, a: int, b: int) -> Iterable[Finding]:
    """Below opset 7 the parser's broadcast helper refuses operands of different ranks
    ("Pre-opset 7 broadcasting is unsupported"; observed with TensorRT-RTX 1.7.1 for PRelu,
    Gemm's bias and MatMul)."""
    if not ctx.opset or ctx.opset >= 7:
        return
    ra, rb = rank(ctx, a), rank(ctx, b)
    if ra is not None and rb is not None and ra != rb:
        yield ctx.finding(
            "pre-opset7-broadcast",
            f"broadcasts rank {ra} against rank {rb} in an opset-{ctx.opset} model; the parser "
            "supports broadcasting from opset 7",
            "re-export the model at opset >= 7 (13 or later recommended)",
        )


_FLOAT_KIND = {"FLOAT": "FLOAT", "DOUBLE": "FLOAT", "FLOAT16": "FLOAT16", "BFLOAT16": "BFLOAT16"}


def mixed_float_types(ctx: NodeContext, indices: Iterable[int] | None = None) -> Iterable[Finding]:
    """Inputs ONNX types with one `T` must reach TensorRT with one float type.

    Observed with TensorRT-RTX 1.7.1: FLOAT16 data with FLOAT weights fails in Conv,
    ConvTranspose, MatMul, Gemm, PRelu, the elementwise ops, Layer/Instance/GroupNormalization,
    RotaryEmbedding and LSTM ("must have same input types", "must have identical types");
    BatchNormalization, Pow, RMSNormalization and Attention cast instead. DOUBLE counts as FLOAT
    (the parser casts it down).
    """
    seen: dict[str, int] = {}
    positions = range(ctx.num_inputs) if indices is None else indices
    for index in positions:
        info = ctx.input(index)
        if info is None:
            continue
        kind = _FLOAT_KIND.get(info.dtype)
        if kind is not None:
            seen.setdefault(kind, index)
    if len(seen) > 1:
        kinds = ", ".join(f"input {i}: {k}" for k, i in sorted(seen.items(), key=lambda x: x[1]))
        yield ctx.finding(
            "mixed-types",
            f"float inputs of different types ({kinds}); TensorRT needs one type here",
            "cast the inputs (or weights) to one float type, e.g. convert the weights to FLOAT16",
        )


def checks(*fns):
    """Combines several check functions into one `OpRule.check`."""

    def combined(ctx: NodeContext):
        for fn in fns:
            yield from fn(ctx)

    return combined


def kernel_volume_limit(spatial_dims: int) -> int:
    """TensorRT's bound on a convolution or pooling window's volume (`maxKernelDimsProduct`,
    which the volume must stay below): 100,000 for one or two spatial dims, 100,000,000 for
    three (observed with TensorRT-RTX 1.7.1: a 316x316 window parses, 317x317 and 100000x1
    fail, 47x47x47 and 470x470x1 parse)."""
    return 100_000_000 if spatial_dims >= 3 else 100_000


def kernel_volume_fits(ctx: NodeContext, kernel: list | None):
    """The window's volume must stay below `kernel_volume_limit` ("volume(windowSize) <
    maxKernelDimsProduct", addPoolingNd/addConvolutionNd refuse the node)."""
    if not kernel or not all(isinstance(d, int) and d > 0 for d in kernel):
        return
    volume = 1
    for d in kernel:
        volume *= int(d)
    limit = kernel_volume_limit(len(kernel))
    if volume >= limit:
        yield ctx.finding(
            "kernel-volume",
            f"the window {list(kernel)} holds {volume} elements; TensorRT takes fewer than "
            f"{limit} for {len(kernel)} spatial dim(s)",
            "split the window (a pool of pools, or a reshape that moves part of it into the "
            "channels) in the exporter",
        )


#: TensorRT's bound on each padding, stride and dilation value of a convolution or pooling
#: layer (observed with TensorRT-RTX 1.7.1, 1-D to 3-D: 100,000 parses, 100,001 fails the
#: layer's parameter check, "allDimsLtEq(prePadding, kMAX_PADDING)", likewise kMAX_STRIDE and
#: kMAX_DILATION).
MAX_LAYER_PARAMETER = 100_000


#: the finding code of each layer parameter `layer_parameters_fit` bounds.
_TOO_LARGE = {
    "pads": "pads-too-large",
    "strides": "strides-too-large",
    "dilations": "dilations-too-large",
}


def layer_parameters_fit(ctx: NodeContext, names=("pads", "strides", "dilations")):
    """Each of `pads`, `strides` and `dilations` must be at most MAX_LAYER_PARAMETER: the
    parser refuses the layer otherwise."""
    for name in names:
        values = ctx.attr(name)
        big = [int(v) for v in values or () if int(v) > MAX_LAYER_PARAMETER]
        if big:
            yield ctx.finding(
                _TOO_LARGE[name],
                f"{name} {[int(v) for v in values]} holds {big[0]}; TensorRT takes at most "
                f"{MAX_LAYER_PARAMETER:,}",
                f"fix the exporter: no real model needs {name} of that size",
            )


def window_fits(ctx: NodeContext, kernel: list | None):
    """Each window (kernel, dilated) must fit in the padded input: an output dim below 1 is no
    tensor (onnxruntime fails when it runs the node; the parser refuses it, observed with
    TensorRT-RTX 1.7.1 on MaxPool kernel 6 over 4). Known static dims and explicit (or VALID)
    padding only. The window's volume is checked too (`kernel_volume_fits`)."""
    yield from kernel_volume_fits(ctx, None if kernel is None else list(kernel))
    data = ctx.input(0)
    if not kernel or data is None or data.shape is None or len(data.shape) != len(kernel) + 2:
        return
    if str(ctx.attr("auto_pad", "NOTSET")) not in ("NOTSET", "VALID"):
        return
    spatial = len(kernel)
    pads = ctx.attr("pads") or [0] * (2 * spatial)
    dilations = ctx.attr("dilations") or [1] * spatial
    if len(pads) != 2 * spatial or len(dilations) != spatial:
        return  # strict inference reports these
    for axis, size in enumerate(data.shape[2:]):
        if not isinstance(size, int) or size < 0:
            continue
        reach = (int(kernel[axis]) - 1) * int(dilations[axis]) + 1
        room = size + int(pads[axis]) + int(pads[axis + spatial])
        if reach > room:
            yield ctx.finding(
                "shapes-mismatch",
                f"the window spans {reach} elements on spatial axis {axis} but the padded "
                f"input has {room}; the output would have no elements there",
                "fix the exporter: the kernel was made for a larger input (or pad it)",
            )
            return

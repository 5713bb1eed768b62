"""Quantization: QuantizeLinear, DequantizeLinear and the integer/QLinear ops TensorRT lacks.

Sources: onnx-tensorrt docs/operators.md (10.15: QuantizeLinear FP32/FP16/BF16 "`y_zero_point`
must be 0"; DequantizeLinear INT8/FP8/FP4/INT4 "`x_zero_point` must be zero";
DynamicQuantizeLinear, QLinearConv, QLinearMatMul, ConvInteger, MatMulInteger: N);
onnxOpImporters.cpp QuantDequantLinearHelper: DequantizeLinear refuses UINT8 data (unless the
DLA flag kENABLE_UINT8_AND_ASYMMETRIC_QUANTIZATION_DLA is set); constant scales must be all
positive; constant zero points must be all zero (FP8 excepted); the quantized type must be FP8,
INT8, INT4 or FP4 (a UINT8 zero point is taken as INT8); `output_dtype` must name such a type
(QuantizeLinear) or FLOAT/FLOAT16/BFLOAT16 (DequantizeLinear); 4-bit data needs an even element
count; Changelog (INT4 10.0, FP4 10.8). Observed with the TensorRT-RTX 1.7.1 parser on the onnx
test cases and probes (nonzero zero points, negative scales, UINT8/INT16/INT2 types, odd INT4
volumes fail; runtime-tensor scales and zero points parse). Held-out variant with a symbolic
batch dim and probes (TensorRT-RTX 1.7.1, every quantized type alike): per-axis scales need the
data's dim on `axis` known at build time ("ScaleMode is illegal", validateQuantizationHelper),
and block quantization needs the dim on the block axis known ("input shape in the block axis
dimension … must be known at build time"); a one-element scale is per-tensor and takes any
shape. The scale and zero point themselves need static shapes (on the block axis in block
mode).
"""

from __future__ import annotations

import numpy as np
import onnx

from trtforge.analyzer.findings import Fix
from trtforge.analyzer.graph import GraphView, structural_analysis
from trtforge.analyzer.kb.ops._compute import (
    CHANGELOG,
    IMPORTERS,
    OBSERVED,
    OPS_MD,
    has_dynamic_dim,
    is_dynamic_dim,
    src,
    static_shape,
)
from trtforge.analyzer.kb.policy import FLOAT_LIKE, FLOATS, QUANTIZED
from trtforge.analyzer.kb.rule import NEVER, NodeContext, OpRule

_QTYPES = {"INT8", "FLOAT8E4M3FN", "INT4", "FLOAT4E2M1"}

#: the pass that turns onnxruntime's quantization into the form TensorRT takes
REQUANTIZE = (Fix("rewrite", "requantize"),)


def _dtype_name(value) -> str:
    try:
        return onnx.TensorProto.DataType.Name(int(value))
    except ValueError:
        return f"TYPE{value}"


def _negative_ok(ctx: NodeContext) -> bool:
    """TensorRT-RTX 1.7.1 takes negative scales for INT4 data ("(scaleAllPositive ||
    allowNegativeScale)": blocked and per-axis INT4 DequantizeLinear parse and build; INT8 per
    tensor, per axis and blocked do not); onnxruntime-genai's int4 weights have negative scales.
    The open-source parser (onnxOpImporters.cpp, QuantDequantLinearHelper) refuses any
    nonpositive constant scale."""
    data = ctx.input(0)
    return ctx.target.family == "rtx" and data is not None and data.dtype == "INT4"


def _scale_positive(graph: GraphView, name: str) -> bool | None:
    """Whether the constant scale `name` is all above zero; None when there is nothing to
    check: no constant value known (`GraphView.constant_value`), no elements, or not a
    floating type. What `_common` decides on, read as an analysis (`NodeContext.
    input_derived`), so that nodes holding scales of their own share a verdict when their
    answers agree (quantized layers: a scale and a zero point per node)."""
    return _of_value(graph, _SCALE_POSITIVE, name)


def _zero_point_nonzero(graph: GraphView, name: str) -> bool | None:
    """Whether the constant zero point `name` has a nonzero element; None when it has no
    constant value known or no elements (as `_scale_positive`)."""
    return _of_value(graph, _ZERO_POINT_NONZERO, name)


def _all_positive(value: np.ndarray) -> bool | None:
    """Each coefficient above zero (NaN and -0.0 are not), as the importer compares FLOAT,
    FLOAT16 and BFLOAT16 scales (DOUBLE weights are FLOAT by then); None for other types."""
    if not value.size or not (value.dtype.kind == "f" or value.dtype.name == "bfloat16"):
        return None
    return bool(np.all(value.astype(np.float64) > 0))


def _any_nonzero(value: np.ndarray) -> bool | None:
    """Any element not zero (NaN is not); None for no elements or no numbers (a STRING zero
    point, which the rule's types refuse)."""
    if not value.size or value.dtype.kind not in _NUMBER_KINDS:
        return None
    return bool(np.any(value.astype(np.float64) != 0))


#: numpy kinds of numbers: bool, int, unsigned, float, and "V", ml_dtypes' (INT4, BFLOAT16)
_NUMBER_KINDS = frozenset("biufV")


def _rows_all_positive(dtype: str, rows: np.ndarray) -> list[bool | None]:
    """`_all_positive` of each row of `rows` (the values of tensors of type `dtype`)."""
    if dtype not in FLOAT_LIKE:
        return [None] * len(rows)
    return (rows > 0).all(axis=1).tolist()


def _rows_any_nonzero(dtype: str, rows: np.ndarray) -> list[bool | None]:
    return (rows != 0).any(axis=1).tolist()


#: analysis -> (the Q/DQ input it decides on, its decision on a value, on the rows of
#: `GraphView.constant_rows`)
_SCALE_POSITIVE, _ZERO_POINT_NONZERO = "scale positive", "zero point nonzero"
_DECIDED = {
    _SCALE_POSITIVE: (1, _all_positive, _rows_all_positive),
    _ZERO_POINT_NONZERO: (2, _any_nonzero, _rows_any_nonzero),
}


def _of_value(graph: GraphView, analysis: str, name: str) -> bool | None:
    """The decision `analysis` on the constant `name`'s value (None without one), read from
    the graph's structural analysis of that name; a tensor it did not cover (an outer
    graph's, read from a body) is decided now and added."""
    known = graph.structural(analysis)
    if name not in known:
        known[name] = _decide(graph, analysis, name)
    return known[name]


def _of_values(graph: GraphView, analysis: str, names: list[str]) -> list[bool | None]:
    """`_of_value` of each of `names`: the answers the static backend compares a quantized
    model's 50,000 Q/DQ nodes by (`NodeContext.input_derived`'s `many`)."""
    known = graph.structural(analysis)
    return [known[name] if name in known else _of_value(graph, analysis, name) for name in names]


_scale_positive.many = lambda graph, names: _of_values(graph, _SCALE_POSITIVE, names)
_zero_point_nonzero.many = lambda graph, names: _of_values(graph, _ZERO_POINT_NONZERO, names)


def _decide(graph: GraphView, analysis: str, name: str) -> bool | None:
    value = graph.constant_value(name)
    return None if value is None else _DECIDED[analysis][1](np.asarray(value))


def _decided_for_each_node(graph: GraphView, analysis: str) -> dict[str, bool | None]:
    """name -> the decision `analysis` for each tensor that a Q/DQ node of `graph` reads at
    the input it decides on. Structural (constants need no types): the static backend
    computes it while the types are inferred (`GraphView.prepare_structural`), which on a
    quantized model, with a scale and a zero point per node, is most of the Q/DQ work."""
    index, _, decide_rows = _DECIDED[analysis]
    names = graph.structural(_QDQ_READS)[index]
    known = {}
    for dtype, group, rows in graph.constant_rows(names):
        known.update(zip(group, decide_rows(dtype, rows), strict=True))
    for name in names:
        if name not in known:
            known[name] = _decide(graph, analysis, name)
    return known


_QDQ = frozenset({"QuantizeLinear", "DequantizeLinear"})

#: the structural analysis of the names the Q/DQ nodes read as scales and zero points
_QDQ_READS = "Q/DQ scales and zero points"


@structural_analysis(_QDQ_READS)
def _qdq_reads(graph: GraphView) -> dict[int, dict[str, None]]:
    """Input position (1: scale, 2: zero point) -> the names the graph's default-domain
    Q/DQ nodes read there, in order: one walk over the nodes for both decisions."""
    fields = graph.fields
    reads: dict[int, dict[str, None]] = {1: {}, 2: {}}
    ops = fields.ops
    if _QDQ.isdisjoint(ops):  # (most graphs: no walk over their nodes)
        return reads
    domains, inputs = fields.domains, fields.inputs
    scales, zero_points = reads[1], reads[2]
    for at in [at for at, op in enumerate(ops) if op in _QDQ]:
        if domains[at] in ("", "ai.onnx"):
            read = inputs[at]
            if len(read) > 1 and read[1]:
                scales[read[1]] = None
            if len(read) > 2 and read[2]:
                zero_points[read[2]] = None
    return reads


@structural_analysis(_SCALE_POSITIVE)
def _scales_positive(graph: GraphView) -> dict[str, bool | None]:
    return _decided_for_each_node(graph, _SCALE_POSITIVE)


@structural_analysis(_ZERO_POINT_NONZERO)
def _zero_points_nonzero(graph: GraphView) -> dict[str, bool | None]:
    return _decided_for_each_node(graph, _ZERO_POINT_NONZERO)


def _common(ctx: NodeContext, quantize: bool):
    if ctx.input_derived(1, _scale_positive) is False and not _negative_ok(ctx):
        yield ctx.finding(
            "scale-not-positive",
            "scale has zero or negative coefficients",
            "use strictly positive scales",
        )
    zero_point = ctx.input(2)
    if zero_point is not None and zero_point.dtype != "FLOAT8E4M3FN":
        if ctx.input_derived(2, _zero_point_nonzero):
            yield ctx.finding(
                "nonzero-zero-point",
                "zero point is not all zero; TensorRT supports symmetric quantization only",
                "trt-rewrite --requantize rewrites it as symmetric INT8 (or re-quantize "
                f"symmetrically at the source: {SYMMETRIC_QDQ})",
                REQUANTIZE,
            )
    # the quantized (4-bit) type: zero point's type, else output_dtype, else the data type
    qtype = None
    if zero_point is not None:
        qtype = zero_point.dtype
    elif "output_dtype" in ctx.attrs and quantize:
        qtype = _dtype_name(ctx.attr("output_dtype"))
    elif not quantize and ctx.input(0) is not None:
        qtype = ctx.input(0).dtype
    if qtype in ("INT4", "FLOAT4E2M1"):
        shape = static_shape(ctx, 0)
        if shape is not None and int(np.prod(shape, dtype=np.int64)) % 2:
            yield ctx.finding(
                "odd-4bit-volume",
                f"4-bit ({qtype}) data with an odd element count {list(shape)}",
                "pad the tensor to an even number of elements",
            )


def _check_axis_dim(ctx: NodeContext):
    """Per-axis and block scales: TensorRT derives the scale mode from the data's dim on the
    quantization axis, which must be static, and the axis must be one of the data's dims
    (observed with TensorRT-RTX 1.7.1: axis 7 or -3 on 2-D data is refused with a per-axis
    or block scale at opsets 11, 13 and 21, and ignored with a per-tensor one; ONNX's strict
    inference does not report it, and an opset-11 DequantizeLinear has no axis attribute for
    it to read)."""
    x, scale = ctx.input(0), ctx.input(1)
    if x is None or x.shape is None or scale is None or scale.shape is None or not x.shape:
        return
    block = ctx.attr_int("block_size", 0)
    if block <= 0:
        if not scale.static_shape or int(np.prod(scale.shape, dtype=np.int64)) <= 1:
            return  # per-tensor (or a scale whose size is not known here)
    kind = "block" if block > 0 else "per-axis"
    given = axis = ctx.attr_int("axis", 1)
    if axis < 0:
        axis += len(x.shape)
    if not 0 <= axis < len(x.shape):
        yield ctx.finding(
            "axis-range",
            f"{kind} scale on axis {given}, which is not a dim of the {len(x.shape)}-D data",
            f"fix the axis in the exporter (one of {-len(x.shape)}..{len(x.shape) - 1})",
        )
        return
    if block > 0:
        yield from _check_block_scale_dims(ctx, x.shape, scale.shape, axis)
    if not is_dynamic_dim(x, x.shape[axis]):
        return
    yield ctx.finding(
        "dynamic-axis-dim",
        f"{kind} scale on axis {axis}, whose dim is dynamic in the data {list(x.shape)}; "
        "TensorRT needs that dim at build time",
        "make the quantization axis a static dim (e.g. channels), or use a per-tensor scale",
    )


def _check_block_scale_dims(ctx: NodeContext, data: tuple, scale: tuple, axis: int):
    """Block quantization blocks the axis only: every other dim of the scale must equal the
    data's (observed with TensorRT-RTX 1.7.1, validateScaleDimensions: "Scale dimension 1 (2)
    must equal the corresponding input dimension (4); only the quantization axis may be
    blocked"; ONNX's strict inference lets it pass)."""
    if len(scale) != len(data):
        return  # the scale's rank: the importer's "Invalid rank for the scale tensor"
    for index, (s, d) in enumerate(zip(scale, data, strict=True)):
        if index != axis and isinstance(s, int) and isinstance(d, int) and s != d:
            yield ctx.finding(
                "block-scale-shape",
                f"block scale {list(scale)} differs from the data {list(data)} on dim {index}, "
                f"which is not the blocked axis {axis}",
                "give the scale the data's shape except on the blocked axis",
            )
            return


def _check_scale_shapes(ctx: NodeContext):
    """The scale's and zero point's volumes are build-time values: outside block mode their
    shapes must be static ("volume" assertion, "The scale and zero point must have the same
    volume. Size of zero point = -1"); in block mode their dim on the block axis must be
    ("scale shape in the block axis dimension … must be known at build time"). Observed with
    TensorRT-RTX 1.7.1 (QuantDequantLinearHelper / resolveZeroPoint, validateQuantizationHelper)."""
    block = ctx.attr_int("block_size", 0)
    axis = ctx.attr_int("axis", 1)
    for index, name in ((1, "scale"), (2, "zero point")):
        info = ctx.input(index)
        if not has_dynamic_dim(info):
            continue
        if index == 2 and info.dtype == "FLOAT8E4M3FN":
            continue  # FP8 zero points are not resolved (observed: any shape parses)
        if block > 0:
            a = axis + len(info.shape) if axis < 0 else axis
            if not 0 <= a < len(info.shape):
                continue
            if not is_dynamic_dim(info, info.shape[a]):
                continue
            what = f"dim {a} (the block axis) of the {name} is dynamic"
        else:
            what = f"the {name} has a dynamic shape"
        yield ctx.finding(
            "dynamic-scale-shape",
            f"{what} {list(info.shape)}; TensorRT needs its size at build time",
            f"give the {name} a static shape (one value per channel or block)",
        )


def _check_q(ctx: NodeContext):
    yield from _common(ctx, quantize=True)
    yield from _check_axis_dim(ctx)
    yield from _check_scale_shapes(ctx)
    if "output_dtype" in ctx.attrs:
        name = _dtype_name(ctx.attr("output_dtype"))
        if name not in _QTYPES:
            yield ctx.finding(
                "output-dtype",
                f"output_dtype={name}; TensorRT quantizes to INT8, FLOAT8E4M3FN, INT4 or "
                "FLOAT4E2M1 only",
                "quantize to INT8 (symmetric) instead",
            )


def _check_dq(ctx: NodeContext):
    yield from _common(ctx, quantize=False)
    yield from _check_axis_dim(ctx)
    yield from _check_scale_shapes(ctx)
    if "output_dtype" in ctx.attrs:
        name = _dtype_name(ctx.attr("output_dtype"))
        if name not in FLOATS:
            yield ctx.finding(
                "output-dtype",
                f"output_dtype={name} is not a float type",
                "dequantize to FLOAT, FLOAT16 or BFLOAT16",
            )


#: how to get QDQ that TensorRT takes from the usual tools (onnxruntime's quantizer options,
#: checked with onnxruntime 1.32 on the `benchmarks/holdout_hf.py` models).
SYMMETRIC_QDQ = (
    "with TensorRT Model Optimizer, or onnxruntime quantize_static(..., activation_type="
    "QuantType.QInt8, weight_type=QuantType.QInt8, extra_options={'ActivationSymmetric': True, "
    "'WeightSymmetric': True, 'QuantizeBias': False})"
)
_DQ_DATA_HINT = (
    "TensorRT dequantizes INT8, FP8, INT4 and FP4 data only (INT32 data is usually a bias that "
    "onnxruntime quantized: leave biases in float); trt-rewrite --requantize rewrites it (INT8 "
    f"symmetric, float biases), or re-quantize {SYMMETRIC_QDQ}"
)

_NEVER_HINT = (
    "no TensorRT importer: trt-rewrite --requantize expresses it in QDQ form (QuantizeLinear/"
    "DequantizeLinear around a float op, which TensorRT fuses into an integer kernel), or in "
    "float where the quantization is dynamic"
)

RULES = [
    OpRule(
        op="QuantizeLinear",
        empty_inputs_refused=frozenset({2}),  # observed, TensorRT-RTX 1.7.1
        source=src(
            f"{OPS_MD} (QuantizeLinear row)",
            f"{IMPORTERS} importQuantizeLinear / QuantDequantLinearHelper",
            "IQuantizeLayer validateQuantizationHelper (scale mode needs the axis dim)",
            CHANGELOG + " 10.0 (INT4), 10.8 (FP4)",
            OBSERVED,
        ),
        # a UINT8 zero point is accepted and replaced by INT8 (importer warning)
        types={0: FLOAT_LIKE, 1: FLOAT_LIKE, 2: QUANTIZED | {"UINT8"}},
        type_fixes={2: REQUANTIZE},
        check=_check_q,
    ),
    OpRule(
        op="DequantizeLinear",
        empty_inputs_refused=frozenset({2}),  # observed, TensorRT-RTX 1.7.1
        source=src(
            f"{OPS_MD} (DequantizeLinear row)",
            f"{IMPORTERS} importDequantizeLinear / QuantDequantLinearHelper",
            "IDequantizeLayer validateQuantizationHelper (scale mode needs the axis dim)",
            OBSERVED,
        ),
        # UINT8 data is refused unless a QuantizeLinear made it (then it is INT8 in TensorRT;
        # the engine checks the effective type, policy.effective_dtype)
        types={0: QUANTIZED, 1: FLOAT_LIKE, 2: QUANTIZED | {"UINT8"}},
        type_hints={0: _DQ_DATA_HINT, 2: _DQ_DATA_HINT},
        type_fixes={0: REQUANTIZE, 2: REQUANTIZE},
        hint="UINT8 data is DLA-only: quantize to INT8 (symmetric) instead",
        check=_check_dq,
    ),
    *(
        OpRule(
            op=op,
            source=src(f"{OPS_MD} ({op} row: N)", "no importer", OBSERVED),
            since=NEVER,
            hint=_NEVER_HINT,
        )
        for op in (
            "DynamicQuantizeLinear",
            "QLinearConv",
            "QLinearMatMul",
            "ConvInteger",
            "MatMulInteger",
        )
    ),
]

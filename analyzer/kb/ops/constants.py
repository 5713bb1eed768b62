"""Constant, ConstantOfShape, Range, EyeLike.

Sources: onnx-tensorrt docs/operators.md (10.x rows: Constant "sparse_value, value_string and
value_strings attributes are unsupported"; EyeLike "input must have static dimensions") and
onnxOpCheckers.cpp / onnxOpImporters.cpp (checkConstant, checkConstantOfShape, importRange,
importEyeLike); observed with the TensorRT-RTX 1.7.1 parser:
- ConstantOfShape accepts FLOAT, INT8, BOOL and DOUBLE values and a network-input shape, but
  not a UINT8 value ("Invalid input type for ConstantOfShape").
- Range accepts INT32/INT64/FLOAT only ("only supports int32, int64, and float input types");
  float bounds must be build-time constants or computed from shapes (a float network input
  fails while TensorRT computes the output shape); integer bounds may be network inputs.
- EyeLike needs a rank-2 input with static dims.
"""

from __future__ import annotations

from trtforge.analyzer.kb.ops._tensor_common import (
    FOLD,
    INDEX,
    OBSERVED,
    OPSRC,
    TENSOR,
    float_value_input,
    shape_input,
    static_length,
)
from trtforge.analyzer.kb.rule import NodeContext, OpRule

_STRINGY = ("sparse_value", "value_string", "value_strings")


def _check_constant(ctx: NodeContext):
    from trtforge.analyzer.inference import dtype_name
    from trtforge.analyzer.kb.graph_rules import input_types, unimportable

    head = ctx.tensor_attr_head("value")  # (type and dims: the weight's values unread)
    dtype = dtype_name(head[0]) if head is not None else "UNDEFINED"
    if unimportable(dtype, input_types(ctx.target)):
        yield ctx.finding(
            "value-dtype",
            f"the value has element type {dtype}, which the parser cannot import (a Constant "
            "is imported as a weight whether or not anything reads it)",
            "drop the Constant if nothing reads it (trt-rewrite --fold-constants removes "
            "unused ones), else store it as a type TensorRT takes and cast where it is read",
            (FOLD,),
        )
    if head is not None and len(head[1]) > 8:
        yield ctx.finding(
            "value-rank",
            f"the value has rank {len(head[1])}, above the 8 dims TensorRT holds (a "
            "Constant is imported as a weight whether or not anything reads it)",
            "drop the Constant if nothing reads it (trt-rewrite --fold-constants removes "
            "unused ones), else give it rank 8 or less in the exporter",
            (FOLD,),
        )
    for name in _STRINGY:
        if name in ctx.attrs:
            yield ctx.finding(
                "attribute",
                f"attribute {name} is not supported (only dense numeric values are)",
                "store the constant as a dense numeric tensor; string constants cannot enter "
                "a TensorRT network",
            )


def _check_constant_of_shape(ctx: NodeContext):
    finding = shape_input(ctx, 0, "shape")
    if finding is not None:
        yield finding
    finding = static_length(ctx, 0, "shape")  # the output rank
    if finding is not None:
        yield finding
    value = ctx.tensor_attr_head("value")  # (its element type: the node's key holds it)
    if value is not None and value[0] == 2:  # TensorProto.UINT8
        yield ctx.finding(
            "value-type",
            "a UINT8 fill value is not supported",
            "fill with INT32 (or INT8) and cast where the consumer needs it",
        )


def _check_range(ctx: NodeContext):
    for index, what in ((0, "start"), (1, "limit"), (2, "delta")):
        finding = float_value_input(ctx, index, f"Range {what}") or shape_input(
            ctx, index, f"Range {what}"
        )
        if finding is not None:
            yield finding


def _check_eyelike(ctx: NodeContext):
    info = ctx.input(0)
    if info is None or info.shape is None:
        return
    if info.rank != 2:
        yield ctx.finding(
            "rank",
            f"input must have rank 2 (rank {info.rank})",
            "build the identity matrix for 2-D slices, or use a constant",
        )
    elif not info.static_shape:
        yield ctx.finding(
            "dynamic-shape",
            f"input must have static dimensions (shape {list(info.shape)})",
            "fix the input dimensions, or compute the mask with Range and Equal instead",
        )


RULES = [
    OpRule(
        op="Constant",
        source=f"onnxOpCheckers.cpp checkConstant; docs/operators.md (Constant); {OBSERVED}",
        check=_check_constant,
    ),
    OpRule(
        op="ConstantOfShape",
        source=f"onnxOpCheckers.cpp checkConstantOfShape; {OPSRC} importConstantOfShape; "
        f"{OBSERVED}",
        types={0: INDEX},
        check=_check_constant_of_shape,
    ),
    OpRule(
        op="Range",
        source=f"{OPSRC} importRange; docs/operators.md (Range); {OBSERVED}",
        types={"*": frozenset({"FLOAT", "DOUBLE", "INT32", "INT64"})},
        check=_check_range,
    ),
    OpRule(
        op="EyeLike",
        source=f"{OPSRC} importEyeLike; docs/operators.md (EyeLike); {OBSERVED}",
        types={0: TENSOR},
        check=_check_eyelike,
    ),
]

"""Reshape, Flatten, Squeeze, Unsqueeze, Transpose, Identity, Shape, Size.

Sources: onnx-tensorrt docs/operators.md (10.x rows) and onnxOpImporters.cpp (importReshape,
importFlatten, importSqueeze, importUnsqueeze, importTranspose, importIdentity, importShape,
importSize); observed with the TensorRT-RTX 1.7.1 parser:
- Reshape/Transpose/Squeeze refuse UINT8 data ("first input has type UInt8 but must have type
  Float, Half, BFloat16, FP8, ..."); Identity, Shape and Size accept it.
- Reshape's `shape` may be a network input (it becomes a shape tensor), INT64 or INT32.
- Squeeze/Unsqueeze `axes` must be known while building: constants or values computed from
  shapes are accepted, a network input fails ("squeeze axis is not a constant");
  Squeeze without axes is accepted even with dynamic dims.
"""

from __future__ import annotations

import math

from trtforge.analyzer.kb.ops._tensor_common import (
    INDEX,
    OBSERVED,
    OPSRC,
    TENSOR,
    TENSOR_U8,
    build_time_input,
    output_dims_fit,
    output_rank,
    shape_inputs_check,
    static_lengths_check,
)
from trtforge.analyzer.kb.rule import NodeContext, OpRule

AXES_CONST = 'TensorRT needs the axes to build the layer ("axis is not a constant")'


def _axes_known(ctx: NodeContext):
    finding = build_time_input(ctx, 1, AXES_CONST)
    if finding is not None:
        yield finding
    if ctx.op == "Unsqueeze":
        axes = ctx.input_value(1) if ctx.opset >= 13 else ctx.attr("axes")
        data = ctx.input(0)
        if axes is not None and data is not None and data.rank is not None:
            count = axes.size if hasattr(axes, "size") else len(axes)
            finding = output_rank(ctx, data.rank + int(count))
            if finding is not None:
                yield finding


def _element_count(ctx: NodeContext):
    """A constant shape without -1 must hold as many elements as data of static shape (a 0
    copying the data's dim, or, with allowzero, meaning 0):
    the parser refuses the node otherwise (observed with TensorRT-RTX 1.7.1: [2,3] to [4,2]),
    and onnxruntime fails when it runs it; ONNX shape inference passes it. The output's facts
    come first (the verdict stays shared when they agree with the data); only when they
    disagree is the constant read, since a graph output's declared shape may be stale."""
    data, out = ctx.input(0), ctx.output(0)
    if data is None or out is None or not data.static_shape or not out.static_shape:
        return
    have = math.prod(data.shape)
    if have == math.prod(out.shape):
        return
    shape = ctx.input_value(1)
    if shape is None or shape.ndim != 1 or shape.dtype.kind not in "iu":
        return  # (a shape that is not integers: the types say so)
    dims = [int(d) for d in shape]
    if any(d < 0 for d in dims):
        return  # (a -1 takes what is left)
    if 0 in dims and not ctx.attr("allowzero", 0):  # a 0 copies the data's dim there
        if any(d == 0 and i >= len(data.shape) for i, d in enumerate(dims)):
            return
        dims = [data.shape[i] if d == 0 else d for i, d in enumerate(dims)]
    want = math.prod(dims)
    if have != want:
        yield ctx.finding(
            "shapes-mismatch",
            f"the data {list(data.shape)} has {have} elements, the shape "
            f"{[int(d) for d in shape]} {want}",
            "fix the exporter: the shape was computed for another input size",
        )


def _check_reshape(ctx: NodeContext):
    yield from shape_inputs_check((1, "shape"))(ctx)
    yield from static_lengths_check((1, "shape"))(ctx)
    yield from _element_count(ctx)
    yield from output_dims_fit(ctx)
    shape = ctx.input(1)
    if shape is not None and shape.shape is not None and len(shape.shape) == 1:
        length = shape.shape[0]
        if isinstance(length, int):
            finding = output_rank(ctx, length)
            if finding is not None:
                yield finding


RULES = [
    OpRule(
        op="Reshape",
        source=f"{OPSRC} importReshape; docs/operators.md (Reshape); {OBSERVED}",
        types={0: TENSOR, 1: INDEX},
        check=_check_reshape,
    ),
    OpRule(
        op="Flatten",
        source=f"{OPSRC} importFlatten; docs/operators.md (Flatten); {OBSERVED}",
        types={0: TENSOR_U8},
    ),
    OpRule(
        op="Squeeze",
        empty_inputs_refused=frozenset({1}),  # observed, TensorRT-RTX 1.7.1
        source=f"{OPSRC} importSqueeze; docs/operators.md (Squeeze: axes must be an "
        f"initializer); {OBSERVED}",
        types={0: TENSOR, 1: INDEX},
        check=_axes_known,
    ),
    OpRule(
        op="Unsqueeze",
        source=f"{OPSRC} importUnsqueeze; docs/operators.md (Unsqueeze: axes must be a constant "
        f"tensor); {OBSERVED}",
        types={0: TENSOR, 1: INDEX},
        check=_axes_known,
    ),
    OpRule(
        op="Transpose",
        source=f"{OPSRC} importTranspose; docs/operators.md (Transpose); {OBSERVED}",
        types={0: TENSOR},
    ),
    OpRule(
        op="Identity",
        source=f"{OPSRC} importIdentity; {OBSERVED} (sequence/optional values refused)",
        types={0: TENSOR_U8},
    ),
    OpRule(
        op="Shape",
        source=f"{OPSRC} importShape; {OBSERVED}",
        types={0: TENSOR_U8},
    ),
    OpRule(
        op="Size",
        source=f"{OPSRC} importSize; {OBSERVED}",
        types={0: TENSOR_U8},
    ),
]

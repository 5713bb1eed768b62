"""Parser-wide facts that apply to every op unless its rule says otherwise."""

from __future__ import annotations

from trtforge.analyzer.targets import Target

#: Floating-point types TensorRT tensors can hold.
FLOATS = frozenset({"FLOAT", "FLOAT16", "BFLOAT16"})
#: Integer types TensorRT tensors can hold (INT64 natively since TensorRT 10).
INTS = frozenset({"INT32", "INT64", "INT8", "UINT8"})
QUANT = frozenset({"FLOAT8E4M3FN", "INT4", "FLOAT4E2M1"})


def default_types(target: Target) -> frozenset[str]:
    """Element types any input may have unless the op's rule narrows or widens it.

    Source: TensorRT docs, "Types and Precision" and onnx-tensorrt docs/operators.md
    (DOUBLE, UINT64, STRING and complex tensors have no TensorRT DataType).
    """
    return FLOATS | INTS | QUANT | {"BOOL"}

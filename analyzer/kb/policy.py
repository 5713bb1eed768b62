"""Parser-wide facts about element types, per target.

Every input a built-in importer sees goes through the parser's ONNX→TensorRT type conversion
first: a type with no TensorRT ``DataType`` fails there, whatever the op (the error is
"Failed to convert ONNX date type to TensorRT data type"). Rules then narrow the types an op
accepts. The sets below are the vocabulary rules use.

Sources:
    * onnx-tensorrt docs/operators.md, preamble (TensorRT 10.15): DOUBLE, FLOAT32, FLOAT16,
      BFLOAT16, FP8, FP4, INT32, INT64, INT8, INT4, UINT8 and BOOL; DOUBLE is cast down to
      FLOAT; INT8/INT4/FP8/FP4 are "quantized types"; UINT8 only as network input/output.
    * onnx-tensorrt docs/Changelog.md: BF16 and FP8 in 9.0, INT64 native in 9.0, INT4 in 10.0
      EA, FLOAT4E2M1 in 10.8.
    * Observed with TensorRT-RTX 1.7.1's ONNX parser (single-node models, every ONNX element
      type): INT16, UINT16, UINT32, UINT64, STRING, COMPLEX64/128, FLOAT8E5M2, the FNUZ FP8
      variants, FLOAT8E8M0, UINT4, INT2 and UINT2 fail the type conversion; DOUBLE inputs are
      accepted (downcast); UINT8 is refused by compute layers (Add, MatMul, Relu, Reshape, …)
      but accepted by Cast, Identity and Equal.
"""

from __future__ import annotations

from trtforge.analyzer.targets import Target

#: Floating-point types TensorRT tensors can hold.
FLOATS = frozenset({"FLOAT", "FLOAT16", "BFLOAT16"})
#: Floating-point types the parser accepts on inputs (DOUBLE is cast down to FLOAT).
FLOAT_LIKE = FLOATS | {"DOUBLE"}
#: Integer types TensorRT tensors can hold (INT64 natively since TensorRT 9/10).
INTS = frozenset({"INT32", "INT64", "INT8", "UINT8"})
#: Signed integer types of ordinary (non-quantized) arithmetic.
INDEX_INTS = frozenset({"INT32", "INT64"})
#: Low-precision types TensorRT treats as quantized (produced by DequantizeLinear inputs /
#: QuantizeLinear outputs). Most float importers let them through at parse time.
QUANT = frozenset({"FLOAT8E4M3FN", "INT4", "FLOAT4E2M1"})
QUANTIZED = QUANT | {"INT8"}
#: What float-only importers (unary math, activations, pooling, MatMul, …) accept when
#: parsing: the float types plus the quantized ones (observed with TensorRT-RTX 1.7.1).
FLOAT_OPS = FLOAT_LIKE | QUANTIZED
#: Float and signed-integer arithmetic (Add, Max, ReduceSum, ArgMax, …).
NUMERIC = FLOAT_OPS | INDEX_INTS

#: The most elements a TensorRT tensor holds, 2^40 (observed with TensorRT-RTX 1.7.1: a network
#: input of more fails the parse, "Failed to add input to the network"; an intermediate tensor
#: of more fails the build, "exceeds the maximum supported element count of 1099511627776";
#: exactly 2^40 builds).
MAX_TENSOR_ELEMENTS = 2**40
#: The largest dim the parser builds: a network input's (above it "Failed to add input to the
#: network"), and a dim the slice and shuffle layers (Pad, Tile, Expand, Slice, Resize, Reshape)
#: compute while the network is built: INT32_MAX.
MAX_DIM = 2**31 - 1

#: Every type some TensorRT release can hold (the engine narrows it to the target's
#: convertible types); for importers that take anything (Cast, Identity-like ops).
ANY_TRT = FLOAT_LIKE | INTS | {"BOOL"} | QUANT

#: ONNX element types with no TensorRT DataType at all.
NEVER_CONVERTIBLE = frozenset(
    {
        "STRING",
        "INT16",
        "UINT16",
        "UINT32",
        "UINT64",
        "COMPLEX64",
        "COMPLEX128",
        "FLOAT8E5M2",
        "FLOAT8E4M3FNUZ",
        "FLOAT8E5M2FNUZ",
        "FLOAT8E8M0",
        "UINT4",
        "INT2",
        "UINT2",
    }
)


def convertible_types(target: Target) -> frozenset[str]:
    """Element types the parser can convert to a TensorRT type on `target`.

    FLOAT4E2M1 arrived in TensorRT 10.8 (onnx-tensorrt Changelog, 10.8 GA); every
    TensorRT-RTX release has it (observed in 1.7.1; RTX branched after 10.8).
    """
    types = FLOAT_LIKE | INTS | {"BOOL", "FLOAT8E4M3FN", "INT4"}
    if target.family == "rtx" or target.version >= (10, 8):
        types = types | {"FLOAT4E2M1"}
    return frozenset(types)


def default_types(target: Target) -> frozenset[str]:
    """Element types any input may have unless the op's rule narrows or widens it.

    Everything the parser can convert, except UINT8: "UINT8 is only supported as network
    input or output tensor types" (operators.md); rules of ops that do take UINT8 (Cast,
    Identity, Equal, …) list it explicitly.
    """
    return convertible_types(target) - {"UINT8"}


def cast_targets(target: Target) -> frozenset[str]:
    """Types a Cast (`to` attribute) may produce: those with a TensorRT DataType.

    Observed with TensorRT-RTX 1.7.1: Cast to DOUBLE is accepted (computed as FLOAT); casts to
    FLOAT8E5M2, the FNUZ types, FLOAT8E8M0, UINT4, INT2/UINT2, INT16 and the wide unsigned
    types are refused ("Unsupported data type for the Cast operator!").
    """
    return convertible_types(target)


def intermediate_refused_types(target: Target) -> frozenset[str]:
    """Types a node output may have only when it is a graph output.

    Observed with TensorRT-RTX 1.7.1 (onnx tests test_dynamicquantizelinear_*_expanded and
    probes): any node (Cast, CastLike, Identity, Dropout, …) whose UINT8 output feeds another
    node instead of being a graph output fails with "legalUINT8: TensorRT does not support
    UINT8 types for intermediate tensors"; the same tensor as a graph output (even one that is
    also consumed) parses. operators.md: "UINT8 is only supported as network input or output
    tensor types".
    """
    return frozenset({"UINT8"})


#: Ops whose output type is set by an attribute or by definition, not by their inputs' types.
_EXPLICIT_TYPE = frozenset({"Cast", "CastLike", "QuantizeLinear", "DynamicQuantizeLinear"})

#: Ops whose data output keeps the TensorRT type of their data input (input 0).
_TYPE_PRESERVING = frozenset(
    {
        "Identity",
        "Reshape",
        "Transpose",
        "Squeeze",
        "Unsqueeze",
        "Flatten",
        "Slice",
        "Gather",
        "Concat",
        "Split",
        "Expand",
        "Tile",
        "Pad",
        "DepthToSpace",
        "SpaceToDepth",
        "Dropout",
    }
)


def effective_dtype(graph, name: str, dtype: str, depth: int = 8) -> str:
    """The element type the tensor has inside TensorRT, which can differ from its ONNX type.

    QuantizeLinear with a UINT8 zero point (or none, before opset 19: UINT8 by default) is
    imported as INT8 quantization ("TensorRT will use INT8 instead", onnxOpImporters.cpp
    QuantDequantLinearHelper), so its UINT8 output is an INT8 tensor in the network, and so are
    type-preserving ops fed by it. Observed with TensorRT-RTX 1.7.1: QuantizeLinear(UINT8 zero
    point 0) -> DequantizeLinear parses, while DequantizeLinear on a UINT8 graph input or
    initializer fails.

    Args:
        graph: the GraphView holding the tensor.
        name: the tensor name.
        dtype: its ONNX element type name.
        depth: how many type-preserving producers to walk through.
    """
    if dtype != "UINT8" or depth <= 0:
        return dtype
    producer = graph.producer(name)
    if producer is None:
        return dtype  # weights: as the consumer reads them (`uint8_weights`)
    if producer.op_type == "QuantizeLinear":
        return "INT8"
    if producer.op_type in _TYPE_PRESERVING and producer.input and producer.input[0]:
        source = producer.input[0]
        if uint8_weights(graph, source):
            return "INT32"  # the op read a constant tensor made from UINT8 weights
        return effective_dtype(graph, source, graph.tensor(source).dtype, depth - 1)
    if producer.op_type not in _EXPLICIT_TYPE:
        # an op whose UINT8 output type comes from its UINT8 inputs (Add of two UINT8
        # initializers, ...) computes in INT32 when all of those are INT32 inside TensorRT
        uint8_inputs = [n for n in producer.input if n and graph.tensor(n).dtype == "UINT8"]
        if uint8_inputs and all(
            uint8_weights(graph, n) or effective_dtype(graph, n, "UINT8", depth - 1) == "INT32"
            for n in uint8_inputs
        ):
            return "INT32"
    return dtype


def uint8_weights(graph, name: str) -> bool:
    """True when `name` is UINT8 weights: an initializer or a Constant's output of type UINT8.

    Importers that read an input as weights (QuantizeLinear/DequantizeLinear zero points and
    data, …) see UINT8 and accept or refuse it themselves; for any other input the parser
    makes a constant tensor of the weights, and a UINT8 one is made INT32. Observed with
    TensorRT-RTX 1.7.1: Gather on a UINT8 initializer parses, and its output is INT32 ("input
    has type Int32" at a DequantizeLinear after it; a UINT8 graph output fed by it fails the
    output type check); Equal between a UINT8 initializer and a UINT8 input fails ("UInt8 and
    Int32"); DequantizeLinear directly on a UINT8 initializer fails ("unsupported input type
    of UINT8"). Seen in onnxruntime's dynamic quantization of embedding tables.
    """
    info = graph.tensor(name)
    if info.dtype != "UINT8":
        return False
    if info.is_initializer:
        return True
    producer = graph.producer(name)
    return producer is not None and producer.op_type == "Constant"

"""Binary/variadic elementwise ops: arithmetic, comparison, logic, Mod, Pow, Mean.

The elementwise helper refuses BOOL for arithmetic ("Elementwise layer does not support
operator … and BOOL") and UINT8 at the layer ("requires inputs with type kFLOAT, kHALF, …");
And/Or/Xor take BOOL only; Equal also takes BOOL and UINT8.

Sources: onnx-tensorrt docs/operators.md (10.15); onnxOpImporters.cpp (elementwiseHelper,
importMod, importPow, importMean); Changelog (Xor 8.4, Mod 8.5, integer Pow exponents 10.8,
integer Pow bases 10.12); types observed with the TensorRT-RTX 1.7.1 parser. Held-out variant
with inputs as initializers (observed with TensorRT-RTX 1.7.1): a UINT8 initializer is imported
as INT32 weights while a UINT8 network input stays UINT8, so Equal between the two fails
("ElementWiseOperation EQUAL must have same input types. But they are of types UInt8 and
Int32"); two UINT8 initializers, or two UINT8 inputs, parse. Held-out exports (a TorchScript
PatchTST whose position table does not broadcast against the patches): inputs whose known dims
are not broadcast-compatible (aligned from the right, two dims that differ and neither is 1)
fail in the parser ("broadcast dimensions must be conformable", observed with TensorRT-RTX
1.7.1), as in onnxruntime; onnx.checker only says so under full shape inference.
"""

from __future__ import annotations

from trtforge.analyzer.kb.ops._compute import (
    CHANGELOG,
    IMPORTERS,
    OBSERVED,
    OPS_MD,
    checks,
    is_weights,
    mixed_float_types,
    src,
)
from trtforge.analyzer.kb.policy import FLOAT_LIKE, INDEX_INTS, NUMERIC
from trtforge.analyzer.kb.rule import NEVER, NodeContext, OpRule

_ARITH = ("Add", "Sub", "Mul", "Div", "Max", "Min", "Sum")
_COMPARE = ("Greater", "GreaterOrEqual", "Less", "LessOrEqual")
_LOGIC = ("And", "Or", "Xor")
_BITWISE = ("BitShift", "BitwiseAnd", "BitwiseNot", "BitwiseOr", "BitwiseXor")


#: "Pre-opset 7 broadcasting is unsupported in this version of the ONNX parser": the
#: elementwise helper refuses every node of a model whose default opset is below 7 (observed
#: with TensorRT-RTX 1.7.1 on the onnx pytorch-operator/pytorch-converted models).
_OPSETS = (7, None)


def _rule(op: str, types, **kw) -> OpRule:
    kw.setdefault("check", checks(mixed_float_types, check_broadcast))
    return OpRule(
        op=op,
        source=src(f"{OPS_MD} ({op} row)", f"{IMPORTERS} import{op} (elementwiseHelper)", OBSERVED),
        types={"*": types},
        opsets=_OPSETS,
        **kw,
    )


def check_broadcast(ctx: NodeContext):
    """Multidirectional broadcasting: the inputs' known dims, aligned from the right, must be
    equal or 1. Symbolic and unknown dims are left to the build."""
    shapes = []
    for index in range(ctx.num_inputs):
        info = ctx.input(index)
        if info is not None and info.shape is not None and info.dtype not in _NON_TENSOR:
            shapes.append(info.shape)
    if len(shapes) < 2:
        return
    for axis in range(1, max(len(s) for s in shapes) + 1):
        dims = {
            s[-axis]
            for s in shapes
            if len(s) >= axis and isinstance(s[-axis], int) and s[-axis] != 1
        }
        if len(dims) > 1:
            listed = ", ".join(str(list(s)) for s in shapes)
            yield ctx.finding(
                "broadcast-mismatch",
                f"input shapes {listed} do not broadcast (dims {sorted(dims)} meet on one "
                "axis); TensorRT's parser and onnxruntime refuse the node",
                "fix the shapes in the exporter (a Reshape/Unsqueeze missing before this node, "
                "or a constant exported for another input size)",
            )
            return


_NON_TENSOR = ("SEQUENCE", "MAP", "OPTIONAL")


def _check_mod(ctx: NodeContext):
    """Mod with fmod=0 (integer semantics) takes INT32/INT64 only."""
    if ctx.attr_int("fmod", 0) != 0:
        return
    info = ctx.input(0)
    if info is not None and info.dtype not in ("INT32", "INT64", "UNDEFINED"):
        yield ctx.finding(
            "fmod-float",
            f"fmod=0 (integer modulo) on a {info.dtype} input; TensorRT computes it only for "
            "INT32/INT64",
            "set fmod=1 for floating-point inputs (C fmod semantics), or cast to INT32/INT64",
        )


def _check_uint8_weights(ctx: NodeContext):
    """UINT8 weights (initializer or Constant) become INT32 in the network; a UINT8 tensor
    stays UINT8: the two cannot meet in one elementwise layer."""
    if ctx.num_inputs < 2:
        return
    infos = [ctx.input(0), ctx.input(1)]
    if any(info is None or info.dtype != "UINT8" for info in infos):
        return
    weights = [is_weights(ctx, 0), is_weights(ctx, 1)]
    if weights[0] != weights[1]:
        const = ctx.node.input[0 if weights[0] else 1]
        yield ctx.finding(
            "uint8-weights-vs-tensor",
            f"compares the UINT8 constant '{const}' (imported as INT32) with a UINT8 tensor",
            "cast both sides to INT32 (the constant in the graph, the tensor with Cast)",
        )


def _check_pow(ctx: NodeContext):
    """Integer exponents from 10.8, integer bases from 10.12 (Changelog)."""
    base, exp = ctx.input(0), ctx.input(1)
    t = ctx.target
    if t.family != "trt":
        return
    if exp is not None and exp.dtype in INDEX_INTS and t.version < (10, 8):
        yield ctx.finding(
            "integer-exponent",
            f"integer ({exp.dtype}) exponent; TensorRT accepts it from 10.8",
            "cast the exponent to the base's float type",
        )
    if base is not None and base.dtype in INDEX_INTS and t.version < (10, 12):
        yield ctx.finding(
            "integer-base",
            f"integer ({base.dtype}) base; TensorRT accepts it from 10.12",
            "cast the base to FLOAT",
        )


#: variadic ops whose importer refuses an input given as an empty name (observed with
#: TensorRT-RTX 1.7.1: an empty name among Sum/Max/Min/Mean's inputs fails the node)
_VARIADIC = frozenset({"Sum", "Max", "Min", "Mean"})

RULES = [
    *(
        _rule(op, NUMERIC, empty_inputs_refused="*" if op in _VARIADIC else frozenset())
        for op in _ARITH
    ),
    *(_rule(op, NUMERIC) for op in _COMPARE),
    _rule(
        "Equal",
        NUMERIC | {"BOOL", "UINT8"},
        check=checks(mixed_float_types, _check_uint8_weights, check_broadcast),
    ),
    *(
        _rule(op, {"BOOL"}, hint="And/Or/Xor take BOOL tensors; cast with Cast(to=BOOL)")
        for op in _LOGIC
    ),
    _rule("Mean", FLOAT_LIKE, empty_inputs_refused="*"),
    OpRule(
        op="Mod",
        source=src(
            f"{OPS_MD} (Mod row)",
            f"{IMPORTERS} importMod (fmod=0 needs INT32/INT64)",
            CHANGELOG + " 8.5",
            OBSERVED,
        ),
        types={"*": NUMERIC},
        opsets=_OPSETS,
        check=checks(_check_mod, mixed_float_types, check_broadcast),
    ),
    OpRule(
        op="Pow",
        source=src(
            f"{OPS_MD} (Pow row)",
            f"{IMPORTERS} importPow (mixed types computed in FLOAT)",
            CHANGELOG + " 10.8/10.12",
            OBSERVED,
        ),
        types={0: NUMERIC, 1: NUMERIC},
        opsets=_OPSETS,
        check=checks(_check_pow, check_broadcast),
    ),
    *(
        OpRule(
            op=op,
            source=src(
                f"{OPS_MD} ({op} row: N)",
                "no importer; the parser falls back to a plugin lookup that fails",
                OBSERVED,
            ),
            since=NEVER,
            hint="no TensorRT importer: emulate with integer arithmetic (Mul/Div by powers of "
            "two) or implement a plugin",
        )
        for op in _BITWISE
    ),
]

"""Activations: Relu … ThresholdedRelu, Softmax family, Gelu, Mish, Swish, PRelu, Hardmax.

Most map to IActivationLayer through the activation helper, whose static type check admits
the float types, DOUBLE and the quantized types and refuses INT32/UINT8/BOOL ("Found unsupported
input type of …"). Exceptions, all observed with the TensorRT-RTX 1.7.1 parser:
Relu also takes INT64 (INT32 is refused even though operators.md lists it); Celu builds FLOAT
constants and parses only for FLOAT (and DOUBLE, cast down) inputs (onnx tests
test_celu_float16 / test_celu_bfloat16 fail); HardSwish and Mish take FLOAT/FLOAT16 (Mish's
operators.md row says FP32, FP16); Shrink takes FLOAT, FLOAT16, INT32, INT64 and INT8; Hardmax
refuses INT32/INT64/INT8/UINT8/BOOL (importHardmax checkNotInvalidType); PRelu refuses INT32/INT64.

Sources: onnx-tensorrt docs/operators.md (10.15) rows; onnxOpImporters.cpp importers of each op
(importGelu: approximate must be "none" or "tanh"); Changelog (Celu 7.2, Shrink 8.4, Hardmax 9.2).
SwiGLU (opset 28) has no importer in TensorRT-RTX 1.7.1 (plugin lookup fails) nor in
operators.md.
"""

from __future__ import annotations

from trtforge.analyzer.kb.ops._compute import (
    CHANGELOG,
    IMPORTERS,
    OBSERVED,
    OPS_MD,
    checks,
    mixed_float_types,
    pre_opset7_broadcast,
    src,
)
from trtforge.analyzer.kb.policy import FLOAT_LIKE, FLOAT_OPS, INDEX_INTS
from trtforge.analyzer.kb.rule import NEVER, AttrLimit, OpRule, Since

_ACTIVATION = (
    "Elu HardSigmoid LeakyRelu Selu Sigmoid Softplus Softsign ThresholdedRelu Softmax LogSoftmax"
).split()


def _rule(op: str, types, note: str = "", **kw) -> OpRule:
    return OpRule(
        op=op,
        source=src(f"{OPS_MD} ({op} row)", f"{IMPORTERS} import{op}", OBSERVED, note),
        types={0: types} if not isinstance(types, dict) else types,
        **kw,
    )


RULES = [
    *(_rule(op, FLOAT_OPS) for op in _ACTIVATION),
    _rule("Relu", FLOAT_OPS | {"INT64"}, "INT32 refused by the parser's type check"),
    _rule("Celu", {"FLOAT", "DOUBLE"}, "importCelu builds FLOAT constants"),
    _rule("HardSwish", {"FLOAT", "FLOAT16", "DOUBLE", "INT8"}),
    _rule("Mish", {"FLOAT", "FLOAT16", "DOUBLE"}),
    _rule("Shrink", {"FLOAT", "FLOAT16", "DOUBLE", "INT8"} | INDEX_INTS, CHANGELOG + " 8.4"),
    _rule("Hardmax", FLOAT_LIKE | {"FLOAT8E4M3FN", "INT4", "FLOAT4E2M1"}, CHANGELOG + " 9.2"),
    _rule(
        "PRelu",
        {0: FLOAT_OPS, 1: FLOAT_OPS},
        check=checks(lambda ctx: pre_opset7_broadcast(ctx, 0, 1), mixed_float_types),
    ),
    _rule(
        "Gelu",
        FLOAT_OPS,
        attrs=(
            AttrLimit(
                "approximate",
                allowed={"none", "tanh"},
                default="none",
                hint="use approximate='none' or 'tanh'",
                code="approximate",
            ),
        ),
    ),
    OpRule(
        op="Swish",
        source=src("Swish (opset 24) is absent from operators.md (10.15)", OBSERVED),
        types={0: FLOAT_OPS},
        # Observed in TensorRT-RTX 1.7.1; TensorRT's 10.15 operator list does not name it, so
        # the first TensorRT release taken to have it is 10.16 (not verified on a 10.16 parser).
        since=Since(
            trt=(10, 16), rtx=(1, 7), reason="no Swish importer before TensorRT 10.16 / RTX 1.7"
        ),
        hint="write x * Sigmoid(alpha * x) instead",
    ),
    OpRule(
        op="SwiGLU",
        source=src(
            "absent from operators.md (10.15)",
            "no importer in TensorRT-RTX 1.7.1 (plugin lookup fails)",
            OBSERVED,
        ),
        since=NEVER,
        hint="decompose: split the input in two halves, then a * Swish(b) (Split, Sigmoid, Mul)",
    ),
]

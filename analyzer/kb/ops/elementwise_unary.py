"""Unary elementwise math and logic: Abs … Tanh, IsInf, IsNaN, Not.

All go through the parser's unary helper (IUnaryLayer) or activation helper, whose type check
admits the float types, DOUBLE (cast down) and the quantized types; Abs, Neg and Sign also take
INT32/INT64; Not takes BOOL only; UINT8 and BOOL are refused everywhere else ("This version of
TensorRT does not support the given operator … with the given input data type").

Sources: onnx-tensorrt docs/operators.md (10.15) rows for each op; onnxOpImporters.cpp
(unaryHelper / activationHelper importers); the type sets were observed with the TensorRT-RTX
1.7.1 parser on single-node models of every element type. Changelog: Sign and Round in 8.2,
IsNaN in 8.2, IsInf in 8.6.
"""

from __future__ import annotations

from trtforge.analyzer.kb.ops._compute import IMPORTERS, OBSERVED, OPS_MD, src
from trtforge.analyzer.kb.policy import FLOAT_OPS, INDEX_INTS
from trtforge.analyzer.kb.rule import OpRule

_FLOAT_ONLY = (
    "Acos Acosh Asin Asinh Atan Atanh Ceil Cos Cosh Erf Exp Floor IsInf IsNaN Log Reciprocal "
    "Round Sin Sinh Sqrt Tan Tanh"
).split()
_SIGNED = ("Abs", "Neg", "Sign")


def _rule(op: str, types: frozenset[str] | set[str], note: str = "") -> OpRule:
    return OpRule(
        op=op,
        source=src(f"{OPS_MD} ({op} row)", f"{IMPORTERS} import{op}", OBSERVED, note),
        types={0: types},
        hint="cast the input to FLOAT/FLOAT16 before this op",
    )


RULES = [
    *(_rule(op, FLOAT_OPS) for op in _FLOAT_ONLY),
    *(_rule(op, FLOAT_OPS | INDEX_INTS) for op in _SIGNED),
    _rule("Not", {"BOOL"}, "Not takes BOOL only"),
]

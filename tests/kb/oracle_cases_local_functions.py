"""Probe models calling model-local functions (`ModelProto.functions`), for the agreement
oracle: the parser imports a call by importing the function's body in its place (observed with
TensorRT-RTX 1.7.1; `backends/local_functions.py`)."""

from __future__ import annotations

import onnx
import onnx.parser

HEADER = '<ir_version: 8, opset_import: ["": 17, "local": 1]>'
LOCAL = '<domain: "local", opset_import: ["": 17]>'

#: name -> (model text, parses with TensorRT-RTX 1.7.1)
CASES: dict[str, tuple[str, bool]] = {
    "fn_mul_relu": (
        f"""{HEADER}
        g (float[2,4] x) => (float[2,4] y) {{ y = local.Gelu2(x) }}
        {LOCAL}
        Gelu2 (a) => (b) {{ h = Constant<value=float {{0.5}}>() t = Mul(a, h) b = Relu(t) }}""",
        True,
    ),
    "fn_nonzero": (
        f"""{HEADER}
        g (float[2,4] x) => (float y) {{ y = local.F(x) }}
        {LOCAL}
        F (a) => (b) {{ n = NonZero(a) c = Cast<to=1>(n) b = ReduceSum<keepdims=0>(c) }}""",
        False,
    ),
    "fn_nested": (
        f"""{HEADER}
        g (float[2,4] x) => (float[2,4] y) {{ y = local.Outer(x) }}
        <domain: "local", opset_import: ["": 17, "local": 1]>
        Outer (a) => (b) {{ t = local.Inner(a) b = Relu(t) }}
        {LOCAL}
        Inner (a) => (b) {{ b = Sigmoid(a) }}""",
        True,
    ),
    "fn_attribute_reference": (
        f"""{HEADER}
        g (float[2,4] x) => (float[2,4] y) {{ y = local.Scale<alpha = 0.5>(x) }}
        {LOCAL}
        Scale <alpha>(a) => (b) {{ k = Constant<value_float: float = @alpha>() b = Mul(a, k) }}""",
        True,
    ),
    "fn_constant_shape": (
        f"""{HEADER}
        g (float[2,4] x) => (float y) <int64[1] s = {{8}}> {{ y = local.R(x, s) }}
        {LOCAL}
        R (a, shp) => (b) {{ b = Reshape(a, shp) }}""",
        True,
    ),
    # overloads (IR 10): the parser imports the first function of the op_type's name,
    # whatever overload the call names
    "fn_overload_first_is_imported": (
        f"""{HEADER.replace("ir_version: 8", "ir_version: 10")}
        g (float[2,4] x) => (float[2,4] y) {{ y = local.F:A(x) }}
        <domain: "local", overload: "B", opset_import: ["": 17]>
        F (a) => (b) {{ b, i, inv, c = Unique(a) }}
        <domain: "local", overload: "A", opset_import: ["": 17]>
        F (a) => (b) {{ b = Relu(a) }}""",
        False,
    ),
    "fn_overload_named_is_not_imported": (
        f"""{HEADER.replace("ir_version: 8", "ir_version: 10")}
        g (float[2,4] x) => (float[2,4] y) {{ y = local.F:B(x) }}
        <domain: "local", overload: "A", opset_import: ["": 17]>
        F (a) => (b) {{ b = Relu(a) }}
        <domain: "local", overload: "B", opset_import: ["": 17]>
        F (a) => (b) {{ b, i, inv, c = Unique(a) }}""",
        True,
    ),
    "fn_float_input_shape": (
        f"""{HEADER}
        g (float[2,4] x, float[1] s) => (float y) {{ y = local.R(x, s) }}
        {LOCAL}
        R (a, shp) => (b) {{ c = Cast<to=7>(shp) b = Reshape(a, c) }}""",
        False,
    ),
}


def cases() -> list[tuple[str, onnx.ModelProto]]:
    return [(name, onnx.parser.parse_model(text)) for name, (text, _) in CASES.items()]

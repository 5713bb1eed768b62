"""Every op rule survives constant inputs of any element type, shape and value: a check of a
node whose inputs are initializers or Constant nodes of random types (STRING, BOOL, COMPLEX64,
the 4-bit and 8-bit floats, …), shapes (empty, one element, large) and values (NaN, inf,
negative, huge), with random attribute values, gives a report and never raises. (Rules read
constants as numbers: TopK's K, Dropout's training_mode, Resize's scales, a Q/DQ zero point
once raised on an empty or STRING constant.)"""

from __future__ import annotations

import random
import warnings

import numpy as np
import onnx
import pytest
from onnx import TensorProto, defs, helper, numpy_helper

from trtforge.analyzer import check
from trtforge.analyzer.kb.registry import all_rules

TYPES = [
    TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.BFLOAT16, TensorProto.DOUBLE,
    TensorProto.INT8, TensorProto.UINT8, TensorProto.INT16, TensorProto.INT32, TensorProto.INT64,
    TensorProto.UINT64, TensorProto.BOOL, TensorProto.STRING, TensorProto.COMPLEX64,
    TensorProto.INT4, TensorProto.UINT4, TensorProto.FLOAT4E2M1, TensorProto.FLOAT8E4M3FN,
    TensorProto.FLOAT8E5M2,
]  # fmt: skip
SHAPES = [[], [1], [2], [3], [4], [2, 3], [1, 4, 1], [0], [2, 0], [5000]]
VALUES = [0, 1, -1, 2, 0.5, -0.5, 3, 7, -8, 255, 2**40, float("nan"), float("inf"), -float("inf")]
PACKED = {TensorProto.INT4, TensorProto.UINT4}
VIA_FLOATS = {
    TensorProto.FLOAT4E2M1, TensorProto.BFLOAT16, TensorProto.FLOAT8E4M3FN, TensorProto.FLOAT8E5M2,
}  # fmt: skip


def _tensor(rng: random.Random, name: str) -> onnx.TensorProto:
    kind, shape = rng.choice(TYPES), rng.choice(SHAPES)
    count = int(np.prod(shape)) if shape else 1
    if kind == TensorProto.STRING:
        values = [rng.choice([b"0", b"abc", b"-1", b""]) for _ in range(count)]
        return helper.make_tensor(name, kind, shape, values)
    if kind == TensorProto.COMPLEX64:
        return helper.make_tensor(name, kind, shape, [complex(rng.uniform(-3, 3), 1)] * count)
    values = np.array([rng.choice(VALUES) for _ in range(count)], np.float64)
    if kind in PACKED:
        return helper.make_tensor(
            name, kind, shape, np.clip(np.nan_to_num(values), -8, 7).astype(np.int32).tolist()
        )
    if kind in VIA_FLOATS:
        return helper.make_tensor(name, kind, shape, values.astype(np.float32).tolist())
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        array = values.astype(helper.tensor_dtype_to_np_dtype(kind)).reshape(shape)
    return numpy_helper.from_array(array, name)


def _attribute(rng: random.Random, spec):
    kind = defs.OpSchema.AttrType
    choices = {
        kind.INT: [0, 1, -1, 2, 5, -100, 2**40],
        kind.FLOAT: [0.0, 1.0, -1.0, float("nan")],
        kind.INTS: [[0], [1, 1], [-1], [2**40], [0, 0, 0, 0]],
        kind.STRING: ["", "abc", "NOTSET", "linear", "constant"],
        kind.FLOATS: [[1.0], [0.0, -1.0]],
    }.get(spec.type)
    return None if choices is None else rng.choice(choices)


def _node_model(rng: random.Random, op: str) -> onnx.ModelProto | None:
    try:
        schema = defs.get_schema(op)
    except defs.SchemaError:
        return None
    count = len(schema.inputs)
    if schema.inputs and schema.inputs[-1].option == defs.OpSchema.FormalParameterOption.Variadic:
        count += rng.randrange(3)
    count = max(count, schema.min_input)
    inputs, inits, nodes = [], [], []
    for i in range(count):
        draw = rng.random()
        if draw < 0.15:
            inputs.append("x")
        elif draw < 0.25:
            inputs.append("")
        elif draw < 0.45:
            value = _tensor(rng, f"c{i}")
            nodes.append(helper.make_node("Constant", [], [f"c{i}"], value=value))
            inputs.append(f"c{i}")
        else:
            inits.append(_tensor(rng, f"i{i}"))
            inputs.append(f"i{i}")
    attrs = {}
    for name, spec in schema.attributes.items():
        value = _attribute(rng, spec) if rng.random() < 0.5 else None
        if value is not None:
            attrs[name] = value
    outputs = [f"y{j}" for j in range(max(1, schema.min_output))]
    nodes.append(helper.make_node(op, inputs, outputs, name="node", **attrs))
    # the output declared without a shape, or with a static one (which rules compare with
    # the inputs': Reshape's element count)
    declared = rng.choice([None, [4, 2], [2, 4], [8], [1, 2, 3, 4]])
    x = rng.choice([["N", 4], [2, 4], [2, 3]])
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, x)],
        [helper.make_tensor_value_info(outputs[0], TensorProto.FLOAT, declared)],
        inits,
    )
    opset = rng.choice([11, 13, 17, 19, 21, 23])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=10)


OPS = sorted({rule.op for rule in all_rules() if rule.domain in ("", "ai.onnx")})


@pytest.mark.parametrize("seed", range(3))
def test_every_rule_survives_hostile_constants(seed):
    rng = random.Random(seed)
    failures = []
    for op in OPS:
        for target in ("rtx-1", "trt-10.0"):
            model = _node_model(rng, op)
            if model is not None:
                try:
                    report = check(model, target=target, backend="static")
                except Exception as err:  # noqa: BLE001 - the test's finding
                    failures.append(f"{op} ({target}): {type(err).__name__}: {err}"[:200])
                    continue
                assert report.nodes
    assert not failures, "\n".join(failures)


#: (op, opset, the input a rule reads as a value, the node's other inputs, attributes): every
#: rule that reads a constant input's values (`NodeContext.input_value`, `input_derived`)
VALUE_READERS = [
    ("TopK", 17, 1, ["x"], {}),
    ("Unsqueeze", 17, 1, ["x"], {}),
    ("Reshape", 17, 1, ["x"], {}),
    ("Dropout", 17, 2, ["x", ""], {}),
    ("Resize", 17, 2, ["x", ""], {"mode": "linear"}),
    ("Upsample", 9, 1, ["x"], {"mode": "linear"}),
    ("QuantizeLinear", 21, 1, ["x"], {}),
    ("QuantizeLinear", 21, 2, ["x", "scale"], {}),
    ("DequantizeLinear", 21, 1, ["q"], {}),
    ("DequantizeLinear", 21, 2, ["q", "scale"], {}),
]
SPECIALS = {
    "empty": helper.make_tensor("c", TensorProto.FLOAT, [0], []),
    "empty-int": helper.make_tensor("c", TensorProto.INT64, [2, 0], []),
    "string": helper.make_tensor("c", TensorProto.STRING, [2], [b"abc", b"2"]),
    "nan": helper.make_tensor("c", TensorProto.FLOAT, [2], [float("nan"), 2.0]),
    "inf": helper.make_tensor("c", TensorProto.FLOAT, [1], [float("inf")]),
    "huge": helper.make_tensor("c", TensorProto.INT64, [2], [2**62, -(2**62)]),
    "bool": helper.make_tensor("c", TensorProto.BOOL, [1], [True]),
    "complex": helper.make_tensor("c", TensorProto.COMPLEX64, [2], [1 + 2j, 0j]),
    "bfloat16": helper.make_tensor("c", TensorProto.BFLOAT16, [2], [-1.0, 2.0]),
    "int4": helper.make_tensor("c", TensorProto.INT4, [3], [-8, 7, 1]),
}


@pytest.mark.parametrize("special", sorted(SPECIALS))
@pytest.mark.parametrize("op, opset, index, others, attrs", VALUE_READERS)
def test_rules_reading_values_survive_any_constant(op, opset, index, others, attrs, special):
    """Each rule that reads a constant's values, given a constant of any type, shape or value
    at that input (an initializer, and a Constant node), with a static input and a declared
    static output that disagree (what a rule compares the values with): a report."""
    inputs = list(others)
    inputs.insert(index, "c")
    inits = [
        helper.make_tensor("scale", TensorProto.FLOAT, [], [0.5]),
        helper.make_tensor("q", TensorProto.INT8, [2, 3], [1] * 6),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 2])
    for as_node in (False, True):
        constant = onnx.TensorProto()
        constant.CopyFrom(SPECIALS[special])
        nodes = [helper.make_node(op, inputs, ["y"], name="node", **attrs)]
        graph_inits = list(inits)
        if as_node:
            nodes.insert(0, helper.make_node("Constant", [], ["c"], value=constant))
        else:
            graph_inits.append(constant)
        graph = helper.make_graph(nodes, "g", [x], [y], graph_inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
        for target in ("rtx-1", "trt-10.0"):
            assert check(model, target=target, backend="static").nodes


ATTRIBUTE_VALUES = [
    0, 1, -1, 3, 2**40, -(2**40), 0.5, float("nan"), float("inf"), "", "abc", "linear",
    b"\xff\xfe", [0], [1, 1], [-1, 2, 3], [0.5, 1.5], ["a", "b"], [2**40] * 4,
    numpy_helper.from_array(np.array([1.0], np.float32)),
]  # fmt: skip
#: attribute names custom-domain rules read (onnx knows no schema to type them)
CUSTOM_ATTRIBUTES = ["num_heads", "scale", "bits", "block_size", "epsilon", "axis", "K", "N"]


@pytest.mark.parametrize("seed", range(2))
def test_every_rule_survives_attributes_of_any_type(seed):
    """Every op rule (custom domains included) on nodes whose attributes have random types and
    values — the schema's names at any version, and a custom op's — never raises: a rule reads
    an attribute of this opset's schema with its type, of another version's with that
    version's type (`any_version_attr_types`), and a custom op's through the typed readers
    (`NodeContext.attr_int`, `attr_float`)."""
    rng = random.Random(seed)
    rules = sorted({(rule.op, rule.domain) for rule in all_rules()})
    failures = []
    for op, domain in rules:
        try:
            names = list(defs.get_schema(op, domain=domain).attributes)
        except defs.SchemaError:
            names = list(CUSTOM_ATTRIBUTES)
        for _ in range(3):
            attrs = {
                name: rng.choice(ATTRIBUTE_VALUES)
                for name in rng.sample(names + ["bogus"], min(len(names) + 1, rng.randint(1, 4)))
            }
            node = helper.make_node(op, ["x", "x", "x"], ["y"], name="node", domain=domain, **attrs)
            graph = helper.make_graph(
                [node],
                "g",
                [helper.make_tensor_value_info("x", TensorProto.FLOAT, rng.choice([[2, 3], ["N", 3, 4, 4]]))],
                [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
            )  # fmt: skip
            opsets = [
                helper.make_opsetid("", rng.choice([11, 13, 17, 21])),
                helper.make_opsetid("ai.onnx.ml", rng.choice([1, 3, 5])),
                helper.make_opsetid("com.microsoft", 1),
            ]
            model = helper.make_model(graph, opset_imports=opsets, ir_version=8)
            target = rng.choice(["rtx-1", "trt-10.0"])
            try:
                assert check(model, target=target, backend="static").nodes
            except Exception as err:  # noqa: BLE001 - the test's finding
                failures.append(
                    f"{domain}:{op} {attrs} ({target}): {type(err).__name__}: {err}"[:240]
                )
    assert not failures, "\n".join(failures)

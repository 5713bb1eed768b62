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
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info(outputs[0], TensorProto.FLOAT, None)],
        inits,
    )
    opset = rng.choice([11, 13, 17, 19, 21, 23])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=10)


OPS = sorted({rule.op for rule in all_rules() if rule.domain in ("", "ai.onnx")})


@pytest.mark.parametrize("seed", range(2))
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

"""Element types of the tensors ONNX's inference leaves untyped (after onnxruntime's
com.microsoft ops), read off op schemas (`analyzer/schema_types.py`), and the static
verdicts they decide."""

from __future__ import annotations

import numpy as np
import onnx
import onnx.parser
import pytest
from onnx import TensorProto, helper, numpy_helper

from trtforge.analyzer import check, schema_types
from trtforge.analyzer.inference import infer_types

ort = pytest.importorskip("onnxruntime")


def _qoperator_model(zero_point: int = 0) -> onnx.ModelProto:
    """x (float) -> QuantizeLinear -> com.microsoft QLinearAdd -> Transpose ->
    DequantizeLinear: the shape of an onnxruntime QOperator export, whose Transpose and
    DequantizeLinear read UINT8 tensors that ONNX cannot type (QLinearAdd has no ONNX
    schema)."""
    inits = [
        numpy_helper.from_array(np.array(0.05, np.float32), "s"),
        numpy_helper.from_array(np.array(zero_point, np.uint8), "z"),
    ]
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"], name="quantize"),
        helper.make_node(
            "QLinearAdd",
            ["q", "s", "z", "q", "s", "z", "s", "z"],
            ["a"],
            name="add",
            domain="com.microsoft",
        ),
        helper.make_node("Transpose", ["a"], ["t"], name="transpose", perm=[1, 0]),
        helper.make_node("DequantizeLinear", ["t", "s", "z"], ["y"], name="dequantize"),
    ]
    graph = helper.make_graph(
        nodes,
        "qop",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 2])],
        inits,
    )
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]
    return helper.make_model(graph, opset_imports=opsets)


def _columns(model: onnx.ModelProto):
    nodes = model.graph.node
    return (
        [n.op_type for n in nodes],
        [n.domain for n in nodes],
        [list(n.input) for n in nodes],
        [list(n.output) for n in nodes],
    )


def _element_types(model: onnx.ModelProto, declared: dict[str, str] | None = None):
    types = infer_types(model)
    known = {**(declared or {})}
    for name in types:
        known.setdefault(name, onnx.TensorProto.DataType.Name(types[name].tensor_type.elem_type))
    for init in model.graph.initializer:
        known[init.name] = onnx.TensorProto.DataType.Name(init.data_type)
    opsets = {o.domain: o.version for o in model.opset_import}
    return schema_types.element_types(
        *_columns(model), opsets, lambda n: known.get(n, "UNDEFINED"), set(types)
    )


def test_the_types_are_those_onnxruntime_runs_with():
    """The types found for the tensors after QLinearAdd are the ones onnxruntime computes."""
    model = _qoperator_model()
    found = _element_types(model)
    assert found == {"a": "UINT8", "t": "UINT8"}
    for name in ("a", "t"):  # what onnxruntime computes, as graph outputs
        model.graph.output.append(helper.make_empty_tensor_value_info(name))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    outputs = session.run(None, {"x": np.ones((2, 3), np.float32)})
    assert [o.dtype for o in outputs[1:]] == [np.uint8, np.uint8]


def test_static_verdicts_read_the_found_types():
    """The UINT8 Transpose between QOperator nodes is refused (TensorRT-RTX's parser:
    "Found unsupported input type of UINT8"); without the schemas' types it passed."""
    report = check(_qoperator_model(), target="rtx-1", backend="static")
    verdicts = {n.name: n for n in report.nodes}
    codes = {f.code for f in verdicts["transpose"].reasons}
    assert verdicts["transpose"].status == "unsupported"
    assert codes & {"unsupported-dtype", "uint8-intermediate"}
    dequantize = {f.code for f in verdicts["dequantize"].reasons}
    assert "unsupported-dtype" in dequantize  # UINT8 data, read off its zero point's type


def test_an_input_takes_its_type_from_what_the_schema_binds_it_to():
    """A DequantizeLinear whose data comes from an op without any schema: its x has its
    zero point's type (both `T`); what follows keeps unknown what no schema binds."""
    model = onnx.parser.parse_model(
        """<ir_version: 8, opset_import: ["": 17, "my.ops": 1]>
        g (float[4] x) => (float y, float w) <float s = {0.5}, uint8 z = {0}> {
            c = my.ops.Custom(x)
            y = DequantizeLinear(c, s, z)
            d = my.ops.Other(x)
            e = Relu(d)
            w = Add(d, x)
        }"""
    )
    found = _element_types(model)
    assert found["c"] == "UINT8"
    assert found["d"] == "FLOAT"  # Add binds it to x's FLOAT; so Relu's e follows
    assert found["e"] == "FLOAT"
    assert "x" not in found and "s" not in found  # declared types are never changed


def test_nothing_is_found_where_the_schema_binds_nothing():
    """A custom op's output read only by another custom op, a node whose typed inputs
    disagree (invalid: validity reports it), and onnxruntime's heterogeneous variadic
    inputs (QLinearConcat's) stay untyped."""
    model = onnx.parser.parse_model(
        """<ir_version: 8, opset_import: ["": 17, "my.ops": 1, "com.microsoft": 1]>
        g (float[4] x, int64[4] i) => (float y, float v) <float s = {0.5}, uint8 z = {0}> {
            c = my.ops.Custom(x)
            y = my.ops.Other(c)
            d = my.ops.Third(x)
            u = Add(i, x)
            v = Add(d, u)
            e = my.ops.Fourth(x)
            q = com.microsoft.QLinearConcat <axis: int = 0> (s, z, e, s, z)
        }"""
    )
    found = _element_types(model)
    assert "c" not in found and "y" not in found
    assert "e" not in found  # a heterogeneous variadic position binds nothing
    assert found.get("q") == "UINT8"  # QLinearConcat's Y is its zero point's type


def test_a_model_of_onnx_domains_needs_no_schemas():
    """Only models with nodes of other domains pay for the pass (ONNX types the rest)."""
    assert not schema_types.needs_schemas({"", "ai.onnx", "ai.onnx.ml"})
    assert schema_types.needs_schemas({"", "com.microsoft"})


@pytest.mark.parametrize(
    ("type_str", "dtype"),
    [
        ("tensor(float16)", "FLOAT16"),
        ("tensor(uint8)", "UINT8"),
        ("T", None),
        ("seq(tensor(float))", None),
        ("tensor(nonsense)", None),
    ],
)
def test_tensor_dtype(type_str, dtype):
    assert schema_types.tensor_dtype(type_str) == dtype


def test_custom_domains_do_not_import_onnxruntime(monkeypatch):
    """A trtforge plugin node (or any custom domain) has no schema: onnxruntime's schemas,
    whose import costs tenths of a second, are read only for onnxruntime's domains."""
    read = []
    monkeypatch.setattr(schema_types, "_onnxruntime_schemas", lambda: read.append(1) or {})
    schema_types.signature.cache_clear()
    try:
        assert schema_types.signature("LayerNorm", "trtforge", 1) is None
        assert read == []
        assert schema_types.signature("QLinearAdd", "com.microsoft", 1) is None
        assert read == [1]
    finally:
        schema_types.signature.cache_clear()


def test_an_element_type_onnx_does_not_define_is_left_untyped():
    """A damaged model's value of element type 255 (`TYPE255`, reported as
    invalid/element-type) reached the table through a custom op's schema types: exit 3
    (fuzz seed 3502, cases 120 and 1020)."""
    from trtforge.analyzer.inference import TypeTable

    table = TypeTable.of_state({}, []).with_element_types({"a": "TYPE255", "b": "UINT8"})
    assert "a" not in table and table.decoded("b")[0] == "UINT8"


def _custom_chain(count: int) -> onnx.ModelProto:
    """`count` custom-domain nodes, each followed by a Relu and an Add of a FLOAT16 weight:
    every Relu output untyped for ONNX until the Add's schema binds it."""
    nodes = []
    current = "x"
    for i in range(count):
        nodes += [
            helper.make_node("MyOp", [current], [f"c{i}"], name=f"custom{i}", domain="com.example"),
            helper.make_node("Relu", [f"c{i}"], [f"r{i}"], name=f"relu{i}"),
            helper.make_node("Add", [f"r{i}", "w"], [f"a{i}"], name=f"add{i}"),
        ]
        current = f"a{i}"
    graph = helper.make_graph(
        nodes,
        "chain",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT16, [2, 3])],
        [helper.make_tensor_value_info(current, TensorProto.FLOAT16, [2, 3])],
        [numpy_helper.from_array(np.ones((2, 3), np.float16), "w")],
    )
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("com.example", 1)]
    return helper.make_model(graph, opset_imports=opsets)


def _chain_types(model: onnx.ModelProto) -> tuple[dict, dict[str, str]]:
    """The inferred types of a `_custom_chain` model, and their element types by name (its
    weight's among them)."""
    types = infer_types(model)
    dtypes = {name: onnx.TensorProto.DataType.Name(types[name].tensor_type.elem_type)
              for name in types}  # fmt: skip
    dtypes["w"] = "FLOAT16"
    return types, dtypes


def test_alike_nodes_are_bound_once_and_undeclared_names_never_looked_up(monkeypatch):
    """What a node binds is worked out once per schema, known types and untyped outputs
    (`_binding`): 200 chains alike after a custom op are two bindings, with the types one
    binding per node gives. Given the declared names (initializers, graph inputs), the
    element type of an output neither typed nor declared is not asked for: it has none."""
    model = _custom_chain(200)
    types, dtypes = _chain_types(model)
    asked = []

    def dtype_of(name: str) -> str:
        asked.append(name)
        return dtypes.get(name, "UNDEFINED")

    calls = []
    real = schema_types._binding
    monkeypatch.setattr(schema_types, "_binding", lambda *a: calls.append(a) or real(*a))
    opsets = {"": 17, "com.example": 1}
    declared = ["w", "x"]
    found = schema_types.element_types(*_columns(model), opsets, dtype_of, set(types), declared)
    assert all(found[f"{kind}{i}"] == "FLOAT16" for i in range(200) for kind in "cr")
    assert len(calls) <= 6, len(calls)
    assert not {n for n in asked if n[0] in "cr"}  # untyped and undeclared: never asked
    asked.clear()
    unhinted = schema_types.element_types(*_columns(model), opsets, dtype_of, set(types))
    assert unhinted == found and {n for n in asked if n[0] in "cr"}


def test_nodes_of_a_domain_without_schemas_are_not_passed_over(monkeypatch):
    """A custom op's node binds nothing (no schema anywhere): the passes look at the
    schema-bound nodes around it alone (a chain of 100,000 custom-op nodes is not walked
    node by node), and the types they find are the same."""
    model = _custom_chain(50)
    types, dtypes = _chain_types(model)
    rows_seen = []
    real = schema_types._Binder.passes
    monkeypatch.setattr(
        schema_types._Binder,
        "passes",
        lambda self, rows, foreign: rows_seen.extend(rows) or real(self, rows, foreign),
    )
    found = schema_types.element_types(
        *_columns(model), {"": 17, "com.example": 1}, lambda n: dtypes.get(n, "UNDEFINED"),
        set(types), ["w", "x"],
    )  # fmt: skip
    assert all(found[f"{kind}{i}"] == "FLOAT16" for i in range(50) for kind in "cr")
    ops = [node.op_type for node in model.graph.node]
    assert rows_seen and all(ops[i] != "MyOp" for i in rows_seen)


def test_a_declared_name_shadowed_by_an_output_is_looked_up():
    """An output named like an initializer (an invalid graph: validity reports it) keeps
    the initializer's type where it is declared, as the tensor's facts give it."""
    model = _custom_chain(2)
    model.graph.node[1].output[0] = "w"  # relu0 writes "w"
    model.graph.node[2].input[0] = "w"
    types = infer_types(model)
    dtypes = {"w": "FLOAT16", "x": "FLOAT16"}
    opsets = {"": 17, "com.example": 1}
    columns = _columns(model)
    with_names = schema_types.element_types(
        *columns, opsets, lambda n: dtypes.get(n, "UNDEFINED"), set(types), ["w", "x"]
    )
    without = schema_types.element_types(
        *columns, opsets, lambda n: dtypes.get(n, "UNDEFINED"), set(types)
    )
    assert with_names == without


_RANDOM_OPS = (
    ("", "Add", 2, 1), ("", "Relu", 1, 1), ("", "Cast", 1, 1), ("", "MatMul", 2, 1),
    ("", "Transpose", 1, 1), ("", "Where", 3, 1), ("", "Concat", 3, 1), ("", "Shape", 1, 1),
    ("", "QuantizeLinear", 3, 1), ("", "DequantizeLinear", 3, 1), ("ai.onnx", "Sub", 2, 1),
    ("", "Split", 1, 3), ("", "NoSuchOp", 1, 1), ("com.microsoft", "FastGelu", 2, 1),
    ("com.microsoft", "QLinearAdd", 8, 1), ("com.microsoft", "SkipLayerNormalization", 4, 4),
    ("com.microsoft", "MatMulNBits", 3, 1), ("com.microsoft", "NoSuchOp", 1, 1),
    ("com.example", "Custom", 2, 2),
)  # fmt: skip
_RANDOM_DTYPES = ("FLOAT", "FLOAT16", "UINT8", "INT8", "INT64", "UNDEFINED")


def _random_columns(rng, nodes: int):
    """Columns of a random graph of ONNX's, onnxruntime's and custom ops (names reused,
    left empty, typed or not; types that conflict), with what `element_types` takes."""
    ops, domains, inputs, outputs, names = [], [], [], [], ["x", "w", "z"]
    for i in range(nodes):
        domain, op, n_in, n_out = rng.choice(_RANDOM_OPS)
        ins = [rng.choice(names + [""]) if k else rng.choice(names) for k in range(n_in)]
        outs = [f"t{i}_{k}" if rng.random() > 0.05 else rng.choice(names) for k in range(n_out)]
        ops.append(op)
        domains.append(domain)
        inputs.append(ins)
        outputs.append(outs)
        names.extend(outs)
    given = {n: rng.choice(_RANDOM_DTYPES) for n in names if rng.random() < 0.4}
    typed = {n for n in given if n not in ("x", "w", "z") and rng.random() < 0.5}
    declared = [n for n in ("x", "w", "z") if n in given] if rng.random() < 0.7 else None
    return ops, domains, inputs, outputs, given, typed, declared


@pytest.mark.skipif(schema_types._type_binding is None, reason="the native passes are not built")
def test_the_native_passes_type_what_the_python_passes_type(monkeypatch):
    """`_type_binding.passes` (C) and `_Binder._python_passes` give the same types, found in
    the same order, over random graphs of ONNX's, onnxruntime's and custom ops."""
    import random

    rng = random.Random(20261207)
    opsets = {"": 17, "com.microsoft": 1, "com.example": 1}
    native = schema_types._type_binding
    differ = 0
    typed_any = 0
    for _ in range(400):
        ops, domains, inputs, outputs, given, typed, declared = _random_columns(rng, 30)
        results = []
        for module in (native, None):
            monkeypatch.setattr(schema_types, "_type_binding", module)
            found = schema_types.element_types(
                ops, domains, inputs, outputs, opsets,
                lambda n, given=given: given.get(n, "UNDEFINED"), typed, declared,
            )  # fmt: skip
            results.append(list(found.items()))
        differ += results[0] != results[1]
        typed_any += bool(results[1])
    assert differ == 0
    assert typed_any > 300  # the graphs exercise the binding


@pytest.mark.skipif(schema_types._type_binding is None, reason="the native passes are not built")
def test_the_native_open_rows_are_the_python_ones():
    """`_type_binding.open_rows` (C) gives the untyped outputs and the rows touching them
    that `_open_rows_python` gives, over random graphs (custom domains left out or not,
    names that are bytes, rows of tuples)."""
    import random

    rng = random.Random(3)
    opened = 0
    for case in range(300):
        ops, domains, inputs, outputs, given, typed, _ = _random_columns(rng, 30)
        if case % 3 == 0:  # a damaged model's names, and tuples for rows
            inputs = [tuple(b"\xfe" if n == "x" else n for n in ins) for ins in inputs]
        schemaless = {"com.example"} if case % 2 else set()
        table = dict.fromkeys(typed, b"") if case % 4 else typed
        native = schema_types._type_binding.open_rows(domains, inputs, outputs, table, schemaless)
        assert native == schema_types._open_rows_python(domains, inputs, outputs, table, schemaless)
        opened += bool(native[1])
    assert opened > 200
    with pytest.raises(TypeError):  # (the caller then runs the Python one)
        schema_types._type_binding.open_rows(["", ""], [["x"], "y"], [["a"], ["b"]], {}, set())


@pytest.mark.skipif(schema_types._type_binding is None, reason="the native passes are not built")
def test_names_that_are_not_text_are_typed_by_the_python_passes(monkeypatch):
    """Protobuf hands an op type or a tensor name that is not UTF-8 over as bytes (a damaged
    or hostile model): the native passes refuse such rows before they find anything, and the
    Python passes type the model as they would."""
    ops = ["Relu", b"\xff\xfe", "FastGelu", "Relu"]
    domains = ["", "", "com.microsoft", ""]
    inputs = [["x"], ["r0"], [b"\xfe", "x"], ["g"]]
    outputs = [["r0"], [b"\xfe"], ["g"], ["y"]]
    given = {"x": "FLOAT16"}
    opsets = {"": 17, "com.microsoft": 1}

    def run():
        return schema_types.element_types(
            ops, domains, inputs, outputs, opsets,
            lambda n: given.get(n, "UNDEFINED"), {"x"}, ["x"],
        )  # fmt: skip

    native = run()
    monkeypatch.setattr(schema_types, "_type_binding", None)
    assert native == run() and native.get("y") == "FLOAT16"

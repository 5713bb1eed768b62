"""ONNX's shape inference of plain graphs of common ops, natively (`trtforge.analyzer._infer`,
csrc/analyzer/infer.cpp): exactly what one strict run of ONNX's gives — the same names, types,
made-up dims and order — or nothing, and ONNX runs.

Held on random graphs of the modelled ops built to reach every branch of their inference
functions (broadcasting of values, names and unknown dims; ranks 0 to 4; Reshape's 0 and -1;
axes out of range; declared outputs to merge; names `unk__<n>` already taken; ops of a domain
without schemas, after which errors are no errors), on every model of the test corpus and the
onnx wheel's node tests, and on graphs built to hit each condition it declines.
"""

from __future__ import annotations

import glob
import os

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from trtforge.analyzer import _speculation

_infer = pytest.importorskip("trtforge.analyzer._infer", reason="the native inference is not built")

ONNX_CHECKED = ".".join(onnx.__version__.split(".")[:2]) in _speculation.NATIVE_INFERENCE_ONNX
needs_checked_onnx = pytest.mark.skipif(
    not ONNX_CHECKED, reason="the installed onnx is not a release the native inference models"
)

UNARY = ("Relu", "Erf", "Sqrt", "Exp", "Log", "Tanh", "Sigmoid", "Neg", "Abs", "Reciprocal",
         "Floor", "Ceil")  # fmt: skip
BINARY = ("Add", "Sub", "Mul", "Div", "Pow")


def _onnx(serialized: bytes, data_prop: bool = True) -> bytes | None:
    """One strict run of ONNX's inference (as `_speculation.strict_run` makes it), or None
    when it raises."""
    try:
        return _speculation.cpp_shape_inference().infer_shapes(serialized, False, True, data_prop)
    except Exception:  # noqa: BLE001 - strict inference refused the model
        return None


def _entries(inferred: bytes) -> tuple[list[str], list[tuple[str, bytes]]]:
    ops, types = _speculation.model_types(inferred)
    return ops, list(types.items())


def _agrees(model: onnx.ModelProto | bytes) -> bool:
    """The native result equals ONNX's (with and without data propagation); False when the
    native inference declined. A model ONNX refuses is always declined."""
    serialized = model if isinstance(model, bytes) else model.SerializeToString()
    native = _infer.inferred(serialized)
    expected = _onnx(serialized)
    if expected is None:
        assert native is None, "modelled a graph ONNX's strict run refuses"
        return False
    if native is None:
        return False
    assert _entries(native) == _entries(expected)
    without_propagation = _onnx(serialized, data_prop=False)
    assert without_propagation is not None and _entries(native) == _entries(without_propagation)
    return True


# -- random graphs ---------------------------------------------------------------------------
_PARAMS = ("N", "M", "unk__0", "unk__2", "")


def _random_dim(rng: np.random.Generator) -> int | str | None:
    kind = rng.integers(0, 10)
    if kind < 6:
        return int(rng.choice([1, 1, 1, 4, 4, 6]))
    if kind < 9:
        return str(rng.choice(_PARAMS))
    return None


def _random_shape(rng: np.random.Generator) -> list | None:
    if rng.random() < 0.08:
        return None  # no shape at all
    return [_random_dim(rng) for _ in range(int(rng.integers(0, 5)))]


def _value_info(name: str, elem: int, shape: list | None) -> onnx.ValueInfoProto:
    value = helper.make_tensor_value_info(name, elem, shape)
    if shape is not None:  # an empty-string param: a dim with a param that is ""
        for dim, spec in zip(value.type.tensor_type.shape.dim, shape, strict=True):
            if spec == "":
                dim.dim_param = ""
    return value


def _int64(name: str, values: list[int]) -> onnx.TensorProto:
    return numpy_helper.from_array(np.array(values, dtype=np.int64), name)


def random_model(seed: int) -> onnx.ModelProto:
    """A graph of the modelled ops (and a few others) with random shapes and attributes,
    valid or not: what ONNX infers or refuses is the reference either way."""
    rng = np.random.default_rng(seed)
    opset = int(rng.choice([13, 14, 15, 17, 18, 19, 21, 23, 25] + [11, 26] * (seed % 7 == 0)))
    float_type = int(rng.choice([TensorProto.FLOAT, TensorProto.FLOAT, TensorProto.FLOAT16,
                                 TensorProto.DOUBLE]))  # fmt: skip
    inputs = [
        _value_info(f"x{k}", float_type, _random_shape(rng)) for k in range(rng.integers(1, 4))
    ]
    if rng.random() < 0.05:
        inputs.append(_value_info("ints", TensorProto.INT64, _random_shape(rng)))
    tensors = [value.name for value in inputs]
    nodes: list[onnx.NodeProto] = []
    initializers: list[onnx.TensorProto] = []
    if rng.random() < 0.3:
        weight = rng.standard_normal(
            [int(rng.choice([1, 2, 3, 4])) for _ in range(rng.integers(1, 3))]
        ).astype(np.float32)
        initializers.append(numpy_helper.from_array(weight, "w"))
        tensors.append("w")
    uses_foreign = False

    def pick() -> str:
        return str(rng.choice(tensors[-6:] if rng.random() < 0.7 else tensors))

    for k in range(int(rng.integers(3, 25))):
        out = f"t{k}"
        choice = rng.integers(0, 100)
        attributes: dict = {}
        domain = ""
        if choice < 20:
            op, ins = str(rng.choice(UNARY)), [pick()]
        elif choice < 45:
            op, ins = str(rng.choice(BINARY)), [pick(), pick()]
        elif choice < 55:
            op, ins = "MatMul", [pick(), pick()]
        elif choice < 62:
            op, ins = "Softmax", [pick()]
            if rng.random() < 0.7:
                attributes["axis"] = int(rng.integers(-5, 5))
        elif choice < 70:
            op, ins = "Transpose", [pick()]
            if rng.random() < 0.7:
                rank = int(rng.integers(0, 5))
                perm = list(rng.permutation(rank))
                if rng.random() < 0.1 and perm:
                    perm[0] = rank  # out of range
                attributes["perm"] = [int(p) for p in perm]
        elif choice < 78:
            shape_name = f"shape{k}"
            values = [int(v) for v in rng.choice([-1, 0, 0, 1, 2, 3, 4, 6, 12, -2],
                                                 size=rng.integers(0, 5))]  # fmt: skip
            initializers.append(_int64(shape_name, values))
            op, ins = "Reshape", [pick(), shape_name]
            if opset >= 14 and rng.random() < 0.2:
                attributes["allowzero"] = int(rng.integers(0, 2))
        elif choice < 86:
            op, ins = "ReduceMean", [pick()]
            axes = [int(a) for a in rng.integers(-4, 4, size=rng.integers(0, 3))]
            if opset >= 18:
                if rng.random() < 0.7:
                    initializers.append(_int64(f"axes{k}", axes))
                    ins.append(f"axes{k}")
                if rng.random() < 0.3:
                    attributes["noop_with_empty_axes"] = int(rng.integers(0, 2))
            elif rng.random() < 0.7:
                attributes["axes"] = axes
            if rng.random() < 0.5:
                attributes["keepdims"] = int(rng.integers(0, 2))
        elif choice < 90:
            op, ins = "Cast", [pick()]
            attributes["to"] = int(rng.choice([TensorProto.FLOAT, TensorProto.FLOAT16,
                                               TensorProto.DOUBLE]))  # fmt: skip
        elif choice < 94:
            value = rng.standard_normal(
                [int(rng.choice([1, 2, 3])) for _ in range(rng.integers(0, 3))]
            ).astype(np.float32)
            op, ins = "Constant", []
            attributes["value"] = numpy_helper.from_array(value)
        else:
            op, ins, domain = "Gelu", [pick()], "com.example"
            uses_foreign = True
        node = helper.make_node(op, ins, [out], name=f"n{k}", domain=domain)
        for key, value in attributes.items():
            ints = isinstance(value, list)
            node.attribute.append(
                helper.make_attribute(
                    key, value, attr_type=onnx.AttributeProto.INTS if ints else None
                )
            )
        nodes.append(node)
        tensors.append(out)
    outputs = []
    for name in dict.fromkeys([tensors[-1], str(rng.choice(tensors[len(inputs) :]))]):
        if name in {value.name for value in inputs} or name == "w":
            continue
        kind = rng.integers(0, 4)
        if kind == 0:
            outputs.append(helper.make_empty_tensor_value_info(name))
        elif kind == 1:
            outputs.append(_value_info(name, float_type, None))
        else:
            outputs.append(_value_info(name, float_type, _random_shape(rng)))
    imports = [helper.make_opsetid("", opset)]
    if uses_foreign:
        imports.append(helper.make_opsetid("com.example", 1))
    graph = helper.make_graph(nodes, "random", inputs, outputs, initializers)
    return helper.make_model(graph, opset_imports=imports, ir_version=8)


@needs_checked_onnx
def test_random_graphs_as_onnx_infers_them():
    modelled = 0
    cases = 1500
    for seed in range(cases):
        model = random_model(seed)
        try:
            modelled += _agrees(model)
        except AssertionError as err:
            raise AssertionError(f"seed {seed}: {err}") from err
    assert modelled >= cases // 5, f"only {modelled} of {cases} random graphs modelled"


# -- the corpus --------------------------------------------------------------------------------
def _corpus() -> list[tuple[str, bytes]]:
    """The examples, the test fixtures, the onnx wheel's models and its node test cases (as
    they are, with constant inputs, and with symbolic dims): (name, serialized model)."""
    from tools.oracle import corpus

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    paths = glob.glob(os.path.join(root, "examples", "*.onnx"))
    paths += glob.glob(os.path.join(root, "tests", "fixtures", "**", "*.onnx"), recursive=True)
    paths += [str(path) for _, path in corpus.wheel_models()]
    found = []
    for path in sorted(set(paths)):
        with open(path, "rb") as model_file:
            found.append((path, model_file.read()))
    cases = corpus._test_cases()
    for variants in (
        corpus.node_case_models(cases),
        corpus.const_variants(cases),
        corpus.dynamic_variants(cases),
        corpus.dynamic_variants(cases, every_dim=True),
    ):
        found += [(name, model.SerializeToString()) for name, model in variants]
    return found


def _lean_bytes(data: bytes) -> bytes:
    """The bytes the lean path hands ONNX's inference (weights left out), or `data`."""
    try:
        light, _ = _speculation._lean_input(data)
    except Exception:  # noqa: BLE001 - a model the native reader declines
        return data
    return bytes(light)


@needs_checked_onnx
def test_every_corpus_model_as_onnx_infers_it():
    models = _corpus()
    assert len(models) > 3000  # the node test cases are there
    modelled = 0
    for name, data in models:
        for serialized in {_lean_bytes(data), data}:
            try:
                modelled += _agrees(serialized)
            except AssertionError as err:
                raise AssertionError(f"{name}: {err}") from err
    assert modelled >= 200, modelled


# -- what it models, case by case ------------------------------------------------------------
def _model(nodes, inputs, outputs, initializers=(), opset=17, extra_imports=()):
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(initializers))
    imports = [helper.make_opsetid("", opset), *extra_imports]
    return helper.make_model(graph, opset_imports=imports, ir_version=8)


@needs_checked_onnx
def test_an_op_without_schema_leaves_what_follows_untyped_as_onnx_does():
    model = _model(
        [
            helper.make_node("MatMul", ["x", "w"], ["a"]),
            helper.make_node("FastGelu", ["a"], ["g"], domain="com.microsoft"),
            helper.make_node("MatMul", ["g", "w"], ["b"]),  # input 0 untyped: no type
            helper.make_node("Add", ["a", "b"], ["c"]),  # input 1 untyped: no shape
            helper.make_node("Softmax", ["c"], ["s"]),
            helper.make_node("Reshape", ["s", "shape"], ["r"]),  # dims made up
        ],
        [_value_info("x", TensorProto.FLOAT, ["batch", "seq", 8])],
        [helper.make_empty_tensor_value_info("r")],
        [numpy_helper.from_array(np.ones((8, 8), np.float32), "w"), _int64("shape", [0, 0, 2, 4])],
        extra_imports=[helper.make_opsetid("com.microsoft", 1)],
    )
    assert _agrees(model)
    types = dict(_entries(_infer.inferred(model.SerializeToString()))[1])
    assert "g" not in types and "b" not in types
    assert onnx.TypeProto.FromString(types["c"]).tensor_type.HasField("shape") is False
    r = onnx.TypeProto.FromString(types["r"]).tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in r] == ["unk__0", "unk__1", 2, 4]


@needs_checked_onnx
def test_made_up_names_skip_the_ones_declared():
    model = _model(
        [helper.make_node("Reshape", ["x", "shape"], ["y"])],
        [_value_info("x", TensorProto.FLOAT, [None, "unk__0"])],
        [_value_info("y", TensorProto.FLOAT, ["unk__1", None, 3])],
        [_int64("shape", [-1, 0, 3])],
    )
    assert _agrees(model)


@needs_checked_onnx
def test_declared_outputs_are_merged_as_onnx_merges_them():
    model = _model(
        [helper.make_node("Add", ["x", "y"], ["z"])],
        [
            _value_info("x", TensorProto.FLOAT, ["N", 1]),
            _value_info("y", TensorProto.FLOAT, [1, 4]),
        ],
        [_value_info("z", TensorProto.FLOAT, [None, "C"])],
    )
    assert _agrees(model)
    conflicting = _model(
        [helper.make_node("Add", ["x", "y"], ["z"])],
        [_value_info("x", TensorProto.FLOAT, [2, 3]), _value_info("y", TensorProto.FLOAT, [3])],
        [_value_info("z", TensorProto.FLOAT, [2, 4])],
    )
    assert _infer.inferred(conflicting.SerializeToString()) is None
    assert _onnx(conflicting.SerializeToString()) is None


@pytest.mark.parametrize(
    "change",
    [
        "value_info",
        "function",
        "integer arithmetic",
        "shape from a graph input",
        "unmodelled op",
        "old opset",
        "duplicate output",
        "denotation",
    ],
)
def test_declines_what_it_does_not_model(change):
    nodes = [helper.make_node("Relu", ["x"], ["y"])]
    inputs = [_value_info("x", TensorProto.FLOAT, [2, 3])]
    outputs = [helper.make_empty_tensor_value_info("y")]
    model = _model(nodes, inputs, outputs)
    assert _infer.inferred(model.SerializeToString()) is not None
    if change == "value_info":
        model.graph.value_info.append(_value_info("y", TensorProto.FLOAT, [2, 3]))
    elif change == "function":
        model.functions.append(helper.make_function("f", "F", ["a"], ["b"], [], []))
    elif change == "integer arithmetic":
        model.graph.input.append(_value_info("i", TensorProto.INT64, [2]))
        model.graph.node.append(helper.make_node("Add", ["i", "i"], ["j"]))
    elif change == "shape from a graph input":
        model.graph.input.append(_value_info("s", TensorProto.INT64, [2]))
        model.graph.node.append(helper.make_node("Reshape", ["y", "s"], ["r"]))
    elif change == "unmodelled op":
        model.graph.node.append(helper.make_node("Concat", ["y", "y"], ["c"], axis=0))
    elif change == "old opset":
        model.opset_import[0].version = 12
    elif change == "duplicate output":
        model.graph.node.append(helper.make_node("Relu", ["x"], ["y"]))
    elif change == "denotation":
        model.graph.input[0].type.denotation = "TENSOR"
    assert _infer.inferred(model.SerializeToString()) is None
    assert _infer.declined_at() > 0


def test_onnx_runs_for_a_release_not_checked(monkeypatch):
    model = _model(
        [helper.make_node("Relu", ["x"], ["y"])],
        [_value_info("x", TensorProto.FLOAT, [2, 3])],
        [helper.make_empty_tensor_value_info("y")],
    ).SerializeToString()
    monkeypatch.setattr(_speculation, "NATIVE_INFERENCE_ONNX", frozenset({"0.1"}))
    _speculation._native_inference_matches_onnx.cache_clear()
    try:
        assert _speculation.native_inferred(model) is None
        assert _speculation.strict_run(model, 1) is not None  # ONNX's run
    finally:
        monkeypatch.undo()
        _speculation._native_inference_matches_onnx.cache_clear()
    assert (_speculation.native_inferred(model) is not None) == ONNX_CHECKED


@pytest.mark.parametrize("seed", range(200))
def test_damaged_bytes_never_crash(seed):
    rng = np.random.default_rng(seed)
    data = bytearray(random_model(seed).SerializeToString())
    for _ in range(int(rng.integers(1, 6))):
        data[int(rng.integers(0, len(data)))] = int(rng.integers(0, 256))
    cut = bytes(data[: int(rng.integers(1, len(data) + 1))])
    for serialized in (bytes(data), cut):
        native = _infer.inferred(serialized)
        if native is not None and ONNX_CHECKED:
            expected = _onnx(serialized)
            assert expected is not None and _entries(native) == _entries(expected)

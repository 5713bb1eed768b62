"""Shape inference on the static path: data propagation where it helps, never a memory blow-up,
and the one-run speculative inference of forked children equal to the policy."""

from __future__ import annotations

import hashlib
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from trtforge.analyzer.graph import GraphView
from trtforge.analyzer.inference import infer_all, infer_types, speculative_table


def _model(nodes, inputs, outputs, inits=()):
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def test_data_propagation_resolves_shapes_computed_from_shape_ops():
    model = _model(
        [
            helper.make_node("Flatten", ["x"], ["flat"]),
            helper.make_node("Shape", ["x"], ["shape"]),
            helper.make_node("Reshape", ["flat", "shape"], ["y"]),
        ],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    view = GraphView(model.graph, infer_types(model))
    assert view.tensor("y").shape == (2, 3, 4)


def test_large_1d_tensors_do_not_blow_up_inference():
    """onnx's data propagation allocates ~200 bytes per element of 1-D tensors: 50M elements
    would need ~10 GB. It must be skipped, and types still come out."""
    n = 50_000_000
    model = _model(
        [
            helper.make_node("Add", ["x", "x2"], ["s"]),
            helper.make_node("Shape", ["s"], ["shape"]),
            helper.make_node("Reshape", ["s", "shape"], ["y"]),
        ],
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [n]),
            helper.make_tensor_value_info("x2", TensorProto.FLOAT, [n]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    types = infer_types(model)
    assert time.perf_counter() - start < 5.0
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mib < 200, grown_mib
    view = GraphView(model.graph, types)
    assert view.tensor("s").dtype == "FLOAT" and view.tensor("s").shape == (n,)


def test_large_weights_stay_out_of_inference_but_keep_their_types():
    w = numpy_helper.from_array(np.zeros((512, 512), np.float32), "w")  # 1 MiB embedded
    model = _model(
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 512])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [w],
    )
    types = infer_types(model)
    view = GraphView(model.graph, types)
    assert view.tensor("y").shape == ("n", 512)
    assert view.tensor("w").is_initializer and view.tensor("w").is_constant
    assert len(model.graph.initializer) == 1 and len(model.graph.input) == 1  # not modified


def _rank1_model(n: int, declared: bool):
    """Add over a rank-1 tensor of n elements, declared as the input or made by Flatten and
    Squeeze (known only after inference), then Reshape to its own shape."""
    nodes = [
        helper.make_node("Add", ["s1", "s1"], ["s"]),
        helper.make_node("Shape", ["s"], ["shape"]),
        helper.make_node("Reshape", ["s", "shape"], ["y"]),
    ]
    if declared:
        inputs = [helper.make_tensor_value_info("s1", TensorProto.FLOAT, [n])]
        inits = []
    else:
        nodes[:0] = [
            helper.make_node("Flatten", ["x"], ["f"], axis=0),
            helper.make_node("Squeeze", ["f", "zero"], ["s1"]),
        ]
        inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, n])]
        inits = [helper.make_tensor("zero", TensorProto.INT64, [1], [0])]
    return _model(
        nodes, inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits
    )


def _in_child(work):
    """`work()`'s repr, run in a forked child (the memory cap must not bound this process)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.write(write_end, repr(work()).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        text = pipe.read()
    os.waitpid(pid, 0)
    return text


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS, fork: Linux")
def test_speculative_inference_declines_huge_rank1_tensors():
    """The one-run inference (`speculative_table`) declines what the policy would not
    propagate: a huge rank-1 graph input at once, a huge inferred one when its capped
    memory runs out; the policy's table then stands, with no blow-up."""
    n = 50_000_000
    declared = _rank1_model(n, declared=True)
    assert speculative_table(declared, memory_cap=True) is None
    inferred = _rank1_model(n, declared=False)
    start = time.perf_counter()
    outcome = _in_child(
        lambda: (
            speculative_table(inferred, memory_cap=True),
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
        )
    )
    assert outcome.startswith("(None, "), outcome
    grown = int(outcome.split(", ")[1].rstrip(")"))
    assert grown < 1024 + 100, grown  # MiB: the cap, not the ~10 GB propagation would take
    assert time.perf_counter() - start < 30
    types = infer_types(inferred)
    assert types.decoded("s") == ("FLOAT", (n,))


def test_speculative_inference_equals_the_policy_on_the_onnx_wheels_models():
    """One strict run with data propagation gives the policy's table (strict run, then data
    propagation when a shape-consuming node needs it) on every model the onnx wheel ships
    that it does not decline."""
    data = Path(onnx.__file__).parent / "backend" / "test" / "data"
    paths = sorted([*data.glob("*/*/model.onnx"), *data.glob("*/*.onnx")])
    assert len(paths) > 100
    compared = 0
    for path in paths:
        model = onnx.load(path, load_external_data=False)
        table = speculative_table(model)
        if table is None:
            continue
        policy = infer_all(model, keep_model=False)[1]
        assert dict(table.serialized_table()) == dict(policy.serialized_table()), path
        assert (table.strict_error, table.shape_consumers) == (
            policy.strict_error,
            policy.shape_consumers,
        )
        compared += 1
    assert compared > 100


@pytest.mark.parametrize(
    ("shape", "safe"),
    [([65_536], True), ([65_537], False), ([20_000, 70_000], True), ([1 << 40], False), ([], True)],
)
def test_data_propagation_safety_reads_only_large_dims(shape, safe):
    """The safety check decodes only types whose bytes hold a large varint; the verdict is
    that of decoding every type: unsafe only for a rank-1 tensor over 65,536 elements."""
    from trtforge.analyzer.inference import TypeTable, _safe_for_data_prop

    model = _model(
        [helper.make_node("Identity", ["x"], ["y"])],
        [helper.make_tensor_value_info("x", TensorProto.INT64, shape)],
        [helper.make_tensor_value_info("y", TensorProto.INT64, shape)],
    )
    table = TypeTable()
    table.add_graph(model.graph)
    assert _safe_for_data_prop(table) is safe
    assert _safe_for_data_prop({n: table[n] for n in table}) is safe


def _weights_beside_shapes() -> onnx.ModelProto:
    """Weights (a MatMul's FLOAT [4, 4]; a Loop's carried FLOAT [2, 4] state) beside the
    initializers whose values inference reads: a Reshape's INT64 shape, and a Loop's INT64
    initial value, which ONNX hands on to its body as data, where a Reshape reads it."""
    body = helper.make_graph(
        [
            helper.make_node("Identity", ["cond_in"], ["cond_out"]),
            helper.make_node("Reshape", ["y", "dims_in"], ["shaped"]),
            helper.make_node("Identity", ["dims_in"], ["dims_out"]),
            helper.make_node("Add", ["state_in", "shaped"], ["state_out"]),
        ],
        "body",
        [
            helper.make_tensor_value_info("i", TensorProto.INT64, []),
            helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
            helper.make_tensor_value_info("dims_in", TensorProto.INT64, None),
            helper.make_tensor_value_info("state_in", TensorProto.FLOAT, None),
        ],
        [
            helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info("dims_out", TensorProto.INT64, None),
            helper.make_tensor_value_info("state_out", TensorProto.FLOAT, None),
        ],
    )
    return _model(
        [
            helper.make_node("MatMul", ["x", "weight"], ["mm"]),
            helper.make_node("Reshape", ["mm", "shape"], ["y"]),
            helper.make_node("Loop", ["trips", "", "dims", "state"], ["d", "final"], body=body),
        ],
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4]),
            helper.make_tensor_value_info("trips", TensorProto.INT64, []),
        ],
        [helper.make_tensor_value_info("final", TensorProto.FLOAT, None)],
        [
            numpy_helper.from_array(np.ones((4, 4), np.float32), "weight"),
            numpy_helper.from_array(np.array([8], np.int64), "shape"),
            numpy_helper.from_array(np.array([2, 4], np.int64), "dims"),
            numpy_helper.from_array(np.ones((2, 4), np.float32), "state"),
        ],
    )


_WEIGHTED = sorted(
    path
    for folder in ("hf", "detection", "scripted")
    for path in (Path(__file__).resolve().parents[1] / "fixtures" / folder).glob("*.onnx")
    if not path.with_name(path.name + ".data").exists()
)


def _as_constants(model: onnx.ModelProto) -> onnx.ModelProto:
    """`model` with its top-level initializers made Constant nodes, before the others (as
    exporters that do not fold constants write weights)."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    graph = out.graph
    constants = [
        helper.make_node("Constant", [], [t.name], value=t)
        for t in graph.initializer
        if t.name not in {i.name for i in graph.input}
    ]
    kept = [t for t in graph.initializer if t.name in {i.name for i in graph.input}]
    nodes = [*constants, *graph.node]
    graph.ClearField("initializer")
    graph.initializer.extend(kept)
    graph.ClearField("node")
    graph.node.extend(nodes)
    return out


@pytest.mark.parametrize("stored", ["initializers", "constants"])
@pytest.mark.parametrize("model", [*_WEIGHTED, "shapes"], ids=lambda m: getattr(m, "stem", m))
def test_inference_never_reads_the_weights_it_runs_without(model, stored, monkeypatch):
    """ONNX's inference with data propagation gives every value the same type whether the
    weights (tensors of rank 2 or more, not INT32/INT64) are there or not: initializers
    made typed graph inputs, Constant nodes' values left without data, as
    `inference._weightless` makes them. It never reads their values (exported transformers
    and detection models, whose Reshapes and Loops read constants, and weights beside the
    tensors whose values it reads: `_weights_beside_shapes`, whose types differ when those
    are left out too); `stored`: the weights as initializers or as Constant nodes
    (`_as_constants`)."""
    from trtforge.analyzer import inference

    proto = _weights_beside_shapes() if model == "shapes" else onnx.load(model)
    if stored == "constants":
        proto = _as_constants(proto)
    monkeypatch.setattr(inference, "MAX_INFERENCE_INITIALIZER_BYTES", 1 << 40)  # the rule alone
    light = inference._weightless(proto)
    assert light is not proto  # it has weights
    if stored == "constants":
        assert not light.graph.initializer or light.graph.initializer == proto.graph.initializer
        values = [a.t for n in light.graph.node if n.op_type == "Constant" for a in n.attribute]
        assert any(len(t.dims) >= 2 and not t.raw_data for t in values)  # weights left bare

    def types(inferred: onnx.ModelProto) -> dict[str, bytes]:
        out = {}
        graphs = [inferred.graph]
        while graphs:
            graph = graphs.pop()
            for value in [*graph.value_info, *graph.output]:
                out[value.name] = value.type.SerializeToString()
            graphs += [a.g for n in graph.node for a in n.attribute if a.HasField("g")]
        return out

    def inferred(m: onnx.ModelProto) -> onnx.ModelProto:
        return onnx.shape_inference.infer_shapes(m, strict_mode=False, data_prop=True)

    with_weights, without = types(inferred(proto)), types(inferred(light))
    assert with_weights == without
    assert with_weights  # something was inferred


def test_a_onehot_keeps_the_values_it_reads(monkeypatch):
    """OneHot before opset 11 reads its indices' values, of any rank and FLOAT among them
    (negative ones fail inference): `_weightless` keeps an initializer a OneHot reads, so that
    strict inference fails on the light copy as on the model."""
    from trtforge.analyzer import inference

    graph = helper.make_graph(
        [helper.make_node("OneHot", ["indices", "depth", "values"], ["y"])],
        "g",
        [],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [
            numpy_helper.from_array(np.array([[-1.0, 0.0], [1.0, 2.0]], np.float32), "indices"),
            numpy_helper.from_array(np.array(3, np.int64), "depth"),
            numpy_helper.from_array(np.array([0.0, 1.0], np.float32), "values"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 10)], ir_version=5)
    light = inference._weightless(model)
    assert [t.name for t in light.graph.initializer] == ["indices", "depth", "values"]
    # the same in Constant nodes: the OneHot's indices keep their values
    constants = _as_constants(model)
    light_constants = inference._weightless(constants)
    assert light_constants is constants
    for each in (model, light, constants, light_constants):
        with pytest.raises(onnx.shape_inference.InferenceError, match="[Nn]egative"):
            onnx.shape_inference.infer_shapes(each, strict_mode=True, data_prop=True)
    # without the OneHot on the list, the indices would lose their values, which it reads
    monkeypatch.setattr(inference, "INFERENCE_READS_ANY_RANK_OF", frozenset())
    bare = inference._weightless(constants)
    assert bare is not constants
    with pytest.raises(onnx.shape_inference.InferenceError, match="num elements 0"):
        onnx.shape_inference.infer_shapes(bare, strict_mode=True, data_prop=True)


def _reshape_in_a_branch() -> onnx.ModelProto:
    """A graph with no shape consumer of its own: an If whose then-branch reshapes the
    graph's (4, 6) tensor to the shape Concat makes of two Constants, (2, -1)."""
    shape = [
        helper.make_node("Constant", [], ["a"], value=helper.make_tensor("a", 7, [1], [2])),
        helper.make_node("Constant", [], ["b"], value=helper.make_tensor("b", 7, [1], [-1])),
        helper.make_node("Concat", ["a", "b"], ["shape"], axis=0),
        helper.make_node("Reshape", ["r", "shape"], ["t"]),
    ]
    branches = {
        "then_branch": helper.make_graph(
            shape, "then", [], [helper.make_tensor_value_info("t", TensorProto.FLOAT, [None] * 2)]
        ),
        "else_branch": helper.make_graph(
            [helper.make_node("Identity", ["r"], ["e"])],
            "else",
            [],
            [helper.make_tensor_value_info("e", TensorProto.FLOAT, [None] * 2)],
        ),
    }
    return _model(
        [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("If", ["c"], ["y"], **branches)],
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 6]),
            helper.make_tensor_value_info("c", TensorProto.BOOL, []),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None] * 2)],
    )


def test_a_branch_s_shape_consumer_gets_propagated_values_on_both_paths():
    """A shape consumer inside a body: the policy propagates for it as the speculative run
    does (before, the policy saw no top-level consumer and did not: a large model, inferred
    in a child, and a small one got different types)."""
    model = _reshape_in_a_branch()
    onnx.checker.check_model(model, full_check=True)
    policy = infer_all(model, keep_model=False)[1]
    speculative = speculative_table(model)
    assert policy.decoded("t") == ("FLOAT", (2, 12))
    assert dict(speculative.serialized_table()) == dict(policy.serialized_table())


def _flags_of_each_run(monkeypatch) -> list[tuple]:
    """A list that gets the flags (check_type, strict, data_prop) of each speculative run."""
    from trtforge.analyzer import _speculation

    runs: list[tuple] = []
    real = _speculation.cpp_shape_inference()

    class Recording:
        InferenceError = real.InferenceError

        @staticmethod
        def infer_shapes(model, *flags):
            runs.append(flags)
            return real.infer_shapes(model, *flags)

    monkeypatch.setattr(_speculation, "cpp_shape_inference", lambda: Recording)
    # ONNX's runs are what is recorded: graphs the native inference models would not reach it
    monkeypatch.setattr(_speculation, "native_inferred", lambda *args: None)
    monkeypatch.setattr(_speculation, "native_lenient", lambda *args: None)
    return runs


def test_a_graph_without_shape_consumers_is_inferred_without_propagation(monkeypatch):
    """Nothing to propagate for (no top-level shape consumer, no body): the speculative run is
    the policy's first run, without data propagation, and gives the policy's table — for a
    rank-1 tensor too large for propagation as well, which it no longer declines."""
    runs = _flags_of_each_run(monkeypatch)
    scale = numpy_helper.from_array(np.array(0.5, np.float32), "scale")
    quantized = _model(
        [
            helper.make_node("QuantizeLinear", ["x", "scale"], ["q"]),
            helper.make_node("DequantizeLinear", ["q", "scale"], ["dq"]),
            helper.make_node("MatMul", ["dq", "w"], ["m"]),
            helper.make_node("Relu", ["m"], ["y"]),
        ],
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 8]),
            helper.make_tensor_value_info("w", TensorProto.FLOAT, [8, 4]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [scale],
    )
    wide = _model(
        [helper.make_node("Relu", ["x"], ["y"])],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1 << 20])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    for model in (quantized, wide):
        runs.clear()
        table = speculative_table(model)
        assert runs == [(False, True, False)]
        policy = infer_all(model, keep_model=False)[1]
        assert dict(table.serialized_table()) == dict(policy.serialized_table())
    assert table.decoded("y") == ("FLOAT", (1 << 20,))
    runs.clear()
    speculative_table(_reshape_in_a_branch())  # a body: propagated
    assert runs == [(False, True, True)]


def _inputs_added(model: onnx.ModelProto) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """The typed inputs the model without its weights has and `model` has not: as
    `inference._weightless` makes it, and as the native `_speculation._weightless` does."""
    from trtforge.analyzer import _speculation
    from trtforge.analyzer.inference import _weightless

    declared = {value.name for value in model.graph.input}
    light = _weightless(model)
    parsed = {
        value.name: value.type.SerializeToString()
        for value in light.graph.input
        if value.name not in declared
    }
    made = _speculation._weightless(model.SerializeToString())
    native = dict(made[1]) if made is not None else {}
    return parsed, native


def test_without_value_readers_every_initializer_is_inferred_as_an_input():
    """A model whose inference reads no initializer's values (no op of VALUE_READERS, no
    local function) is inferred with every initializer as a typed input — by both the
    parsed and the native path — and gets ONNX's types of the whole model, on every such
    model the onnx wheel ships."""
    from trtforge.analyzer._speculation import VALUE_READERS

    data = Path(onnx.__file__).parent / "backend" / "test" / "data"
    paths = sorted([*data.glob("*/*/model.onnx"), *data.glob("*/*.onnx")])
    compared = 0
    for path in paths:
        model = onnx.load(path)
        ops = {node.op_type for node in model.graph.node}
        if model.functions or not VALUE_READERS.isdisjoint(ops) or not model.graph.initializer:
            continue
        declared = {value.name for value in model.graph.input}
        parsed, native = _inputs_added(model)
        assert parsed == native, path
        assert set(parsed) == {t.name for t in model.graph.initializer} - declared, path
        whole = onnx.shape_inference.infer_shapes(model, strict_mode=True)
        table = infer_all(model, keep_model=False)[1]
        for value in [*whole.graph.value_info, *whole.graph.output]:
            assert table.serialized(value.name) == value.type.SerializeToString(), path
        compared += 1
    assert compared > 40


def test_a_value_reader_a_local_function_or_a_declared_input_keeps_initializers():
    """Range reads its float scalars' values, a local function's body may read any: their
    models keep every initializer but weights. An initializer declared as an input keeps
    its data either way (the input's type is the declared one)."""
    limit = numpy_helper.from_array(np.array(5.0, np.float32), "limit")
    bias = numpy_helper.from_array(np.ones(4, np.float32), "bias")
    start = numpy_helper.from_array(np.array(0.0, np.float32), "start")
    delta = numpy_helper.from_array(np.array(1.0, np.float32), "delta")
    with_range = _model(
        [
            helper.make_node("Range", ["start", "limit", "delta"], ["r"]),
            helper.make_node("Add", ["x", "bias"], ["y"]),
        ],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
        [
            helper.make_tensor_value_info("y", TensorProto.FLOAT, None),
            helper.make_tensor_value_info("r", TensorProto.FLOAT, None),
        ],
        [start, limit, delta, bias],
    )
    assert _inputs_added(with_range) == ({}, {})
    assert infer_all(with_range, keep_model=False)[1].decoded("r") == ("FLOAT", (5,))

    add = _model(
        [helper.make_node("Add", ["x", "bias"], ["y"])],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [bias],
    )
    assert set(_inputs_added(add)[0]) == {"bias"}
    with_function = onnx.ModelProto()
    with_function.CopyFrom(add)
    with_function.functions.add().CopyFrom(
        helper.make_function(
            "local",
            "F",
            ["a"],
            ["b"],
            [helper.make_node("Relu", ["a"], ["b"])],
            [helper.make_opsetid("", 17)],
        )
    )
    with_function.opset_import.add(domain="local", version=1)
    assert _inputs_added(with_function) == ({}, {})
    declared = onnx.ModelProto()
    declared.CopyFrom(add)
    declared.graph.input.append(helper.make_tensor_value_info("bias", TensorProto.FLOAT, [4]))
    assert _inputs_added(declared) == ({}, {})
    assert [t.name for t in _weightless_of(declared).graph.initializer] == ["bias"]


def _weightless_of(model: onnx.ModelProto) -> onnx.ModelProto:
    from trtforge.analyzer.inference import _weightless

    return _weightless(model)


def _shapes_through_identities() -> onnx.ModelProto:
    """Conv weights reshaped to a shape read through an Identity of an INT64 initializer, and
    a Reshape to a shape read through an Identity of a Constant (the TorchScript exporter's
    weight-standardized convolutions at opset 17: NF-Net, BiT); an Identity of a float
    tensor beside them."""
    return onnx.parser.parse_model(
        '<ir_version: 8, opset_import: ["" : 17]>\n'
        "g (float[N,1,5,5] x, float[2,9] wf) => (float[N,2,3,3] y, float[9,2] z) <int64[4] ws = {2,1,3,3}> {\n"
        "  s = Identity(ws)\n  w = Reshape(wf, s)\n  y = Conv(x, w)\n"
        "  c = Constant<value = int64[2] {9, 2}>()\n  t = Identity(c)\n"
        "  z0 = Reshape(wf, t)\n  z = Identity(z0)\n}"
    )


def test_a_shape_read_through_an_identity_of_a_constant_is_propagated_on_every_path():
    """ONNX propagates no value through Identity: the Reshapes' dims were unknown (and the
    Conv reading those weights "dynamic-channels"), where TensorRT folds the constant and
    parses it. Inference runs on a copy whose Identities of integer constants are Casts to
    the same type; the policy, the speculative run and the lean child give the same types,
    and the inferred model a rewrite imports has its Identity nodes back."""
    from trtforge.analyzer import _speculation
    from trtforge.analyzer.inference import _identities_as_casts, infer_table

    model = _shapes_through_identities()
    onnx.checker.check_model(model, full_check=True)
    ops = [n.op_type for n in model.graph.node]
    inferred, policy, _ = infer_all(model)
    assert policy.decoded("w") == ("FLOAT", (2, 1, 3, 3))
    assert policy.decoded("y") == ("FLOAT", ("N", 2, 3, 3))
    assert policy.decoded("z0") == ("FLOAT", (9, 2))
    assert [n.op_type for n in inferred.graph.node] == ops
    assert [len(n.attribute) for n in inferred.graph.node] == [0, 0, 0, 1, 0, 0, 0]
    assert [n.op_type for n in model.graph.node] == ops  # the model itself is left alone
    table = dict(policy.serialized_table())
    assert dict(speculative_table(model).serialized_table()) == table
    assert dict(infer_table(model).serialized_table()) == table
    copy, casts = _identities_as_casts(model)
    assert casts == [0, 4]  # not the Identity of a float tensor
    wire = _speculation._wire
    if wire is not None:
        native = wire.identities_as_casts(model.SerializeToString())
        assert onnx.load_from_string(native).graph == copy.graph
        plain = onnx.parser.parse_model(
            '<ir_version: 8, opset_import: ["" : 17]> g (float[2] x) => (float[2] y) '
            "{ y = Identity(x) }"
        ).SerializeToString()
        assert wire.identities_as_casts(plain) is plain  # nothing to cast: itself
        lean = _speculation.lean_inferred(model.SerializeToString())
        assert _speculation.table_state(lean)[0] == infer_table(model)._raw


def test_the_native_identity_casts_equal_the_parsed_model_s_on_damaged_bytes():
    """`_wire.identities_as_casts` reads the bytes as protobuf would: on randomly damaged
    encodings of a model with Identities of INT64/INT32 initializers, of a Constant's value
    and value_ints, and of a float tensor, it declines (None: the full path then runs) or
    gives the graph `_identities_as_casts` gives the parsed model."""
    from trtforge.analyzer import _speculation
    from trtforge.analyzer.inference import _identities_as_casts

    wire = _speculation._wire
    if wire is None:
        pytest.skip("the native reader is not built")
    model = onnx.parser.parse_model(
        '<ir_version: 8, opset_import: ["" : 17]>\n'
        "g (float[2,9] wf) => (float[9,2] z) <int64[2] ws = {9,2}, int32[2] w2 = {9,2}, "
        "float[2] fl = {1,2}> {\n"
        "  s = Identity(ws)\n  c = Constant<value = int64[2] {9, 2}>()\n  t = Identity(c)\n"
        "  t2 = Identity(w2)\n  t3 = Identity(fl)\n  c2 = Constant<value_ints = [9, 2]>()\n"
        "  t4 = Identity(c2)\n  z = Reshape(wf, t)\n}"
    )
    compared = 0
    for damaged, parsed in _damaged(model.SerializeToString(), seed=7):
        native = wire.identities_as_casts(damaged)
        if native is None:
            continue
        expected = _identities_as_casts(parsed)[0].graph
        assert onnx.load_from_string(native).graph == expected
        compared += 1
    assert compared > 500


def _damaged(data: bytes, seed: int, count: int = 3000):
    """(bytes, the model protobuf parses from them) for each of `count` encodings of `data`
    with one to three random bytes changed that protobuf still parses."""
    rng = np.random.default_rng(seed)
    for _ in range(count):
        damaged = bytearray(data)
        for at in rng.integers(0, len(data), rng.integers(1, 4)):
            damaged[at] = rng.integers(0, 256)
        try:
            parsed = onnx.load_from_string(bytes(damaged))
        except Exception:  # noqa: BLE001 - not a model protobuf reads: nothing to compare
            continue
        yield bytes(damaged), parsed


def _cast_declared_float16() -> onnx.ModelProto:
    """onnxconverter-common's float16 conversion: a Cast(to=FLOAT) kept, its output declared
    FLOAT16 in value_info, read by a Mul with a FLOAT16 input."""
    model = _model(
        [
            helper.make_node("Cast", ["x"], ["c"], to=TensorProto.FLOAT, name="cast"),
            helper.make_node("Mul", ["c", "x"], ["y"], name="mul"),
        ],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT16, [2, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT16, [2, 4])],
    )
    model.graph.value_info.append(helper.make_tensor_value_info("c", TensorProto.FLOAT16, [2, 4]))
    return model


def test_a_declared_element_type_the_node_contradicts_is_not_taken():
    """The parser computes a Cast's type from `to` and never reads value_info: the table holds
    the computed FLOAT (it held the declared FLOAT16, and the Mul mixing FLOAT with FLOAT16
    was called supported); a declaration that agrees stays."""
    from trtforge.analyzer import check

    model = _cast_declared_float16()
    for keep_model in (True, False):
        table = infer_all(model, keep_model=keep_model)[1]
        assert table.decoded("c")[0] == "FLOAT"
        assert table.decoded("x")[0] == "FLOAT16"
    report = check(model, target="rtx-1", backend="static")
    assert not report.supported
    (mul,) = [node for node in report.nodes if node.op_type == "Mul"]
    assert "invalid/inconsistent-types" in {f.code for f in mul.errors}
    agreeing = _cast_declared_float16()
    agreeing.graph.node[0].attribute[0].i = TensorProto.FLOAT16
    assert infer_all(agreeing)[1].decoded("c") == ("FLOAT16", (2, 4))
    assert check(agreeing, target="rtx-1", backend="static").supported


def _static_dims_declared() -> onnx.ModelProto:
    """A network whose input has dynamic channels `C`, value_info declaring 8 for the
    computed `y` (a Relu) and `qc` (a Cast of a QuantizeLinear), and for the output `p` of a
    node of a custom domain (which ONNX cannot infer: only the declaration gives its dims); a
    Relu `y2` after `y`, a ConvTranspose on `y2` and on `p`, a per-channel DequantizeLinear on
    `qc`; and a Reshape to a runtime shape, declared [16, 8] (inference computes unknown
    dims there)."""
    weights = numpy_helper.from_array(np.ones((8, 4, 3, 3), np.float32), "w")
    scale = numpy_helper.from_array(np.full(8, 0.5, np.float32), "s")
    zero = numpy_helper.from_array(np.zeros(8, np.int8), "z")
    nodes = [
        helper.make_node("Relu", ["x"], ["y"], name="relu"),
        helper.make_node("Relu", ["y"], ["y2"], name="relu2"),
        helper.make_node("ConvTranspose", ["y2", "w"], ["d"], name="deconv"),
        helper.make_node("Plug", ["x"], ["p"], name="plug", domain="example.custom"),
        helper.make_node("ConvTranspose", ["p", "w"], ["dp"], name="deconv_plugin"),
        helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"], name="q", axis=1),
        helper.make_node("Cast", ["q"], ["qc"], name="cast", to=TensorProto.INT8),
        helper.make_node("DequantizeLinear", ["qc", "s", "z"], ["dq"], name="dq", axis=1),
        helper.make_node("Reshape", ["x", "shape"], ["r"], name="reshape"),
    ]
    model = helper.make_model(
        helper.make_graph(
            nodes,
            "declared",
            [
                helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, "C", 4, 4]),
                helper.make_tensor_value_info("shape", TensorProto.INT64, [2]),
            ],
            [
                helper.make_tensor_value_info(name, TensorProto.FLOAT, [None] * rank)
                for name, rank in (("d", 4), ("dp", 4), ("dq", 4), ("r", 2))
            ],
            [weights, scale, zero],
        ),
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("example.custom", 1)],
    )
    for name, elem in (("y", TensorProto.FLOAT), ("p", TensorProto.FLOAT), ("qc", 3)):
        model.graph.value_info.append(helper.make_tensor_value_info(name, elem, [1, 8, 4, 4]))
    model.graph.value_info.append(helper.make_tensor_value_info("r", TensorProto.FLOAT, [16, 8]))
    return model


def test_a_static_dim_declared_for_a_computed_tensor_is_not_taken():
    """The parser computes dims from the network's inputs and never reads value_info (it
    refuses a ConvTranspose whose input channels are dynamic however the model declares
    them: "IDeconvolutionLayer number of channels in `input` tensor must not be dynamic",
    TensorRT-RTX 1.7.1). ONNX's inference kept the declared 8 for `y` and passed it on to
    `y2`, and the knowledge base called that ConvTranspose supported, and the per-channel
    DequantizeLinear on the declared `qc`. Every path of inference now gives the network's
    symbolic dim there; the declaration of a custom op's output, and a declared dim where
    inference computes none, are kept (nothing else gives those dims)."""
    from trtforge.analyzer import _speculation, check
    from trtforge.analyzer.inference import _without_declared_dims, infer_table

    model = _static_dims_declared()
    onnx.checker.check_model(model)
    for keep_model in (True, False):
        table = infer_all(model, keep_model=keep_model)[1]
        assert table.decoded("y") == ("FLOAT", (1, "C", 4, 4))
        assert table.decoded("y2") == ("FLOAT", (1, "C", 4, 4))
        assert table.decoded("qc") == ("INT8", (1, "C", 4, 4))
        assert table.decoded("p") == ("FLOAT", (1, 8, 4, 4))  # a custom op's: declared
        assert table.decoded("r") == ("FLOAT", (16, 8))  # inference computes unknown dims
    table = dict(infer_all(model)[1].serialized_table())
    assert dict(speculative_table(model).serialized_table()) == table
    assert dict(infer_table(model).serialized_table()) == table
    if _speculation._wire is not None:  # the child's run, on the file's bytes
        lean = _speculation.lean_inferred(model.SerializeToString())
        assert _speculation.table_state(lean)[0] == infer_table(model)._raw
        native = _speculation.declared_dims_cleared(model.SerializeToString())
        assert onnx.load_from_string(native).graph == _without_declared_dims(model).graph
    assert [v.type for v in model.graph.value_info] == [
        v.type for v in _static_dims_declared().graph.value_info
    ]  # the model itself is left alone
    report = check(model, target="rtx-1", backend="static")
    verdicts = {node.name: {f.code for f in node.errors} for node in report.nodes}
    assert "convtranspose/dynamic-channels" in verdicts["deconv"]
    # a graph output that a node reads: ONNX merges its declared shape as a value_info's
    del model.graph.value_info[0]
    model.graph.output.append(helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 4, 4]))
    assert infer_all(model)[1].decoded("y2") == ("FLOAT", (1, "C", 4, 4))
    assert infer_table(model).decoded("y") == ("FLOAT", (1, "C", 4, 4))
    if _speculation._wire is not None:
        lean = _speculation.lean_inferred(model.SerializeToString())
        assert _speculation.table_state(lean)[0] == infer_table(model)._raw
    assert "dequantizelinear/dynamic-axis-dim" in verdicts["dq"]
    assert not verdicts["deconv_plugin"]  # the declared 8 channels of the custom op's output


def test_a_static_dim_an_if_branch_declares_is_not_taken():
    """An If's output is its branches' outputs as ONNX merges them with what each branch
    declares: branches declaring [1, 8, 4, 4] for Relu and Sigmoid of an input with dynamic
    channels made the ConvTranspose after the If look static (TensorRT-RTX 1.7.1's parser
    refuses it). Every path now checks what bodies declare, the child's run on the file's
    bytes included."""
    from trtforge.analyzer import _speculation, check
    from trtforge.analyzer.inference import infer_table

    def branch(name: str, op: str) -> onnx.GraphProto:
        out = helper.make_tensor_value_info(f"{name}_out", TensorProto.FLOAT, [1, 8, 4, 4])
        return helper.make_graph([helper.make_node(op, ["x"], [out.name])], name, [], [out])

    weights = numpy_helper.from_array(np.ones((8, 4, 3, 3), np.float32), "w")
    nodes = [
        helper.make_node(
            "If", ["cond"], ["y"], then_branch=branch("then", "Relu"),
            else_branch=branch("else", "Sigmoid"),
        ),
        helper.make_node("ConvTranspose", ["y", "w"], ["z"], name="deconv"),
    ]  # fmt: skip
    inputs = [
        helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, "C", 4, 4]),
        helper.make_tensor_value_info("cond", TensorProto.BOOL, []),
    ]
    output = helper.make_tensor_value_info("z", TensorProto.FLOAT, [None] * 4)
    model = _model(nodes, inputs, [output], [weights])
    for keep_model in (True, False):
        assert infer_all(model, keep_model=keep_model)[1].decoded("y") == ("FLOAT", (1, "C", 4, 4))
    assert speculative_table(model).decoded("y") == ("FLOAT", (1, "C", 4, 4))
    assert infer_table(model).decoded("then_out") == ("FLOAT", (1, "C", 4, 4))
    if _speculation._wire is not None:
        lean = _speculation.lean_inferred(model.SerializeToString())
        assert _speculation.table_state(lean)[0] == infer_table(model)._raw
    report = check(model, target="rtx-1", backend="static")
    (deconv,) = [node for node in report.nodes if node.name == "deconv"]
    assert "convtranspose/dynamic-channels" in {f.code for f in deconv.errors}


def test_the_check_of_a_graph_with_bodies_is_made_natively_where_it_passes(monkeypatch):
    """The lean child checks declared static dims with a run of the model without them;
    for a graph with If bodies, which the native lenient runs do not model, that run is the
    native strict one where it passes (~0.12 s against ONNX's lenient run's ~0.4 s for
    2,000 Ifs): the same types. Where it fails (a branch's stale declaration), ONNX's
    lenient run decides, as before."""
    from trtforge.analyzer import _speculation
    from trtforge.analyzer.inference import infer_table

    if _speculation._wire is None or _speculation._infer is None:
        pytest.skip("the native reader or inference is not built")

    def model(declared) -> onnx.ModelProto:
        def branch(name: str, op: str) -> onnx.GraphProto:
            out = helper.make_tensor_value_info(f"{name}_out", TensorProto.FLOAT, declared)
            return helper.make_graph([helper.make_node(op, ["x"], [out.name])], name, [], [out])

        nodes = [
            helper.make_node(
                "If", ["cond"], ["y"], then_branch=branch("then", "Relu"),
                else_branch=branch("else", "Sigmoid"),
            ),
            helper.make_node("Relu", ["y"], ["z"]),
        ]  # fmt: skip
        inputs = [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 8]),
            helper.make_tensor_value_info("cond", TensorProto.BOOL, []),
        ]
        output = helper.make_tensor_value_info("z", TensorProto.FLOAT, [None, 8])
        return _model(nodes, inputs, [output])

    lenient = []
    real = _speculation._lenient_check_run
    monkeypatch.setattr(
        _speculation, "_lenient_check_run", lambda *a: lenient.append(a) or real(*a)
    )
    for declared, onnx_runs in ((["N", 8], 0), ([4, 8], 0), (["N", 8, 1], 1)):
        lenient.clear()
        stale = len(declared) == 3  # (a rank the branch's node does not compute)
        m = model(declared)
        try:
            lean = _speculation.lean_inferred(m.SerializeToString())
        except _speculation.SpeculationFailed:
            assert stale and infer_all(m)[2], "the policy's strict run fails too"
        else:
            assert _speculation.table_state(lean)[0] == infer_table(m)._raw, declared
            assert infer_table(m).decoded("y")[1][0] == "N", declared
        assert len(lenient) == onnx_runs, declared


def test_the_native_declaration_checks_equal_the_parsed_model_s_on_damaged_bytes():
    """`_wire.declared_dims_cleared` and `_wire.declared_dims_checked` read the bytes as
    protobuf would: on randomly damaged encodings of value_info entries of tensors,
    sequences, optionals and maps (static dims, names, denotations; computed and custom
    outputs), each declines (None: the full path then runs) or gives the graph
    `_without_declared_dims` or `_declared_as_computed` gives the parsed model."""
    from trtforge.analyzer import _speculation
    from trtforge.analyzer.inference import (
        _declared_as_computed,
        _without_declared_dims,
        infer_table,
    )

    if _speculation._wire is None:
        pytest.skip("the native reader is not built")
    model = _static_dims_declared()
    nested = [
        helper.make_tensor_sequence_value_info("y", TensorProto.FLOAT, [2, "n", 3]),
        helper.make_value_info(
            "y2",
            helper.make_optional_type_proto(
                helper.make_tensor_type_proto(TensorProto.FLOAT, [5, None])
            ),
        ),
        helper.make_value_info(
            "d",
            helper.make_map_type_proto(
                TensorProto.INT64, helper.make_tensor_type_proto(TensorProto.FLOAT, [7])
            ),
        ),
        helper.make_sparse_tensor_value_info("dq", TensorProto.FLOAT, [4, 4]),
    ]
    model.graph.value_info.extend(nested)
    model.graph.output.append(helper.make_tensor_value_info("y2", TensorProto.FLOAT, [1, 8, 4, 4]))
    body = helper.make_graph(  # a branch: a value_info, an output, a nested If
        [
            helper.make_node("Relu", ["x"], ["inner"]),
            helper.make_node(
                "If", ["cond"], ["nested"],
                then_branch=helper.make_graph(
                    [helper.make_node("Neg", ["inner"], ["deep"])], "deep", [],
                    [helper.make_tensor_value_info("deep", TensorProto.FLOAT, [1, 8, 4, 4])],
                ),
                else_branch=helper.make_graph(
                    [helper.make_node("Abs", ["inner"], ["deeper"])], "deeper", [],
                    [helper.make_tensor_value_info("deeper", TensorProto.FLOAT, [1, 8, 4, 4])],
                ),
            ),
        ],
        "branch", [], [helper.make_tensor_value_info("nested", TensorProto.FLOAT, [1, 8, 4, 4])],
        value_info=[helper.make_tensor_value_info("inner", TensorProto.FLOAT, [1, 8, 4, 4])],
    )  # fmt: skip
    model.graph.input.append(helper.make_tensor_value_info("cond", TensorProto.BOOL, []))
    model.graph.node.append(
        helper.make_node("If", ["cond"], ["branched"], then_branch=body, else_branch=body)
    )
    model.graph.output.append(helper.make_tensor_value_info("branched", TensorProto.FLOAT, None))
    model.graph.value_info[0].type.tensor_type.shape.dim[1].denotation = "DATA_CHANNEL"
    data = model.SerializeToString()
    wire = _speculation._wire
    computed = dict(infer_table(_without_declared_dims(model)).serialized_table())
    expected = _without_declared_dims(onnx.load_from_string(data)).graph
    assert onnx.load_from_string(_speculation.declared_dims_cleared(data)).graph == expected
    domains = _speculation.COMPUTED_DOMAINS
    checked = wire.declared_dims_checked(data, computed, domains)
    assert onnx.load_from_string(checked).graph == _declared_as_computed(model, computed).graph
    assert checked != data
    inner = onnx.load_from_string(checked).graph.node[-1].attribute[0].g
    assert inner.value_info[0].type.tensor_type.shape.dim[1].dim_param == "C"
    compared = [0, 0]
    for damaged, parsed in _damaged(data, seed=11):
        native = _speculation.declared_dims_cleared(damaged)
        if native is not None:
            assert onnx.load_from_string(native).graph == _without_declared_dims(parsed).graph
            compared[0] += 1
        native = wire.declared_dims_checked(damaged, computed, domains)
        if native is not None:
            expected = _declared_as_computed(parsed, computed).graph
            assert onnx.load_from_string(native).graph == expected
            compared[1] += 1
    assert min(compared) > 500
    # nothing to clear: the bytes themselves (no input dim is symbolic, or none declared)
    static = _cast_declared_float16().SerializeToString()  # a dim declared for a Cast's output
    assert _speculation.declared_dims_cleared(static) is static
    assert wire.declared_dims_checked(static, computed, domains) is static
    io = ([helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n"])],) * 2
    bare = _model([helper.make_node("Relu", ["x"], ["x2"])], *io).SerializeToString()
    assert _speculation.declared_dims_cleared(bare) is bare


@pytest.mark.parametrize(("read", "decoy"), [(True, False), (False, False), (False, True)])
def test_a_declared_graph_output_is_checked_where_a_node_reads_it(read, decoy):
    """A graph output's declared shape is merged as a value_info entry's, so where a node
    reads the output (a ConvTranspose here) its declared static dims are checked; where none
    does, nothing is cleared and no second run is made. The native reader finds whether a
    node reads it without reading the nodes when only one or two outputs declare static dims,
    and is not misled by the name's bytes written elsewhere (`decoy`: an attribute named so,
    whose name field is written as a node's input is)."""
    from trtforge.analyzer import _speculation
    from trtforge.analyzer.inference import _without_declared_dims

    weights = numpy_helper.from_array(np.ones((8, 4, 3, 3), np.float32), "w")
    nodes = [
        helper.make_node("Relu", ["x"], ["y"]),
        helper.make_node("ConvTranspose", ["y" if read else "x", "w"], ["z"], name="deconv"),
        helper.make_node(
            "Custom", ["x"], ["c"], domain="example.custom", **({"y": 1} if decoy else {})
        ),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, "C", 4, 4])
    outputs = [
        helper.make_tensor_value_info("z", TensorProto.FLOAT, [None] * 4),
        helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 4, 4]),
    ]
    model = _model(nodes, [x], outputs, [weights])
    model.opset_import.append(helper.make_opsetid("example.custom", 1))
    expected = ("FLOAT", (1, "C", 4, 4)) if read else ("FLOAT", (1, 8, 4, 4))
    assert infer_all(model)[1].decoded("y") == expected
    data = model.SerializeToString()
    if _speculation._wire is not None:
        cleared = _speculation.declared_dims_cleared(data)
        assert (cleared is not data) == read
        assert onnx.load_from_string(cleared).graph == _without_declared_dims(model).graph


def test_a_failing_run_without_declarations_keeps_them(monkeypatch):
    """Where the run without declared dims fails (ONNX raises, or its child crashes), the
    declarations are kept, as before the check, and the policy goes on: no traceback."""
    from trtforge.analyzer import inference

    def failing(graph):
        def run(serialized):
            raise inference.inference_guard.InferenceCrashed("crashed (signal SIGSEGV)")

        return run

    model = _static_dims_declared()
    monkeypatch.setattr(inference, "_run_without_declared_dims", failing)
    assert inference._checked_declarations(model) is model
    assert infer_all(model)[1].decoded("y") == ("FLOAT", (1, 8, 4, 4))


def _saved_after_inference(path: Path) -> onnx.ModelProto:
    """The model at `path` as a user saves it after ONNX's shape inference: every tensor
    declared in value_info as inference computed it."""
    model = onnx.load(str(path))
    return onnx.shape_inference.infer_shapes(model, data_prop=True)


@pytest.mark.parametrize("name", ["bert_opset17.onnx", "gpt2_opset14.onnx", "t5_opset14.onnx"])
def test_a_model_saved_after_inference_is_inferred_once_in_the_child(monkeypatch, name):
    """A model whose value_info declares every tensor as inference computes it: the child's
    check of declared static dims, made strictly, is the model's own run (one run instead of
    the check's two and the final one). Its types are the policy's; and where a declaration
    is not what the nodes compute (a conflicting static dim, a static dim where the nodes
    compute a made-up symbol, one name declared twice), the final run is still made and the
    types are still the policy's (or both fail). A symbol declared where inference makes one
    up is merged alike in both runs, and so is a static dim the check declares as the
    network input's symbol the nodes compute there: one run."""
    from trtforge.analyzer import _speculation
    from trtforge.analyzer.inference import infer_table

    if _speculation._wire is None:
        pytest.skip("the native reader is not built")
    saved = _saved_after_inference(Path(__file__).parents[1] / "fixtures" / "hf" / name)
    assert len(saved.graph.value_info) > 100
    runs = []
    real = _speculation.strict_run
    monkeypatch.setattr(_speculation, "strict_run", lambda *args: runs.append(args) or real(*args))

    def lean_as_policy(model: onnx.ModelProto) -> int:
        runs.clear()
        try:
            lean = _speculation.lean_inferred(model.SerializeToString())
        except _speculation.SpeculationFailed:  # the final run fails: the full path decides
            assert infer_all(model)[2], "the policy's strict run passes"
            return len(runs)
        assert _speculation.table_state(lean)[0] == infer_table(model)._raw
        return len(runs)

    assert lean_as_policy(saved) == 1  # (the check's run only)
    for change in ("conflicting", "more than computed"):
        stale = onnx.ModelProto()
        stale.CopyFrom(saved)
        dims = [
            d
            for v in stale.graph.value_info
            for d in v.type.tensor_type.shape.dim
            if (d.dim_value > 1 if change == "conflicting" else d.dim_param)
        ]
        if change == "conflicting":
            dims[len(dims) // 2].dim_value += 1  # a static dim the nodes do not compute
            assert lean_as_policy(stale) == 2, change
            continue
        symbol = dims[len(dims) // 2].dim_param
        dims[len(dims) // 2].dim_value = 3  # static where the nodes compute a symbol
        # the check declares it as that symbol again where it is a network input's (then
        # the copy's run is the check's: one run); a symbol inference made up stays static
        inputs = {d.dim_param for v in saved.graph.input for d in v.type.tensor_type.shape.dim}
        assert lean_as_policy(stale) == (1 if symbol in inputs else 2), change
    twice = onnx.ModelProto()
    twice.CopyFrom(saved)
    twice.graph.value_info.append(twice.graph.value_info[3])
    assert lean_as_policy(twice) == 2
    named = onnx.ModelProto()
    named.CopyFrom(saved)
    made_up = [
        d
        for v in named.graph.value_info
        for d in v.type.tensor_type.shape.dim
        if d.dim_param.startswith("unk__")
    ]
    if made_up:  # (symbols are not cleared: merged alike in the check's run and the model's)
        made_up[0].dim_param = "declared"
        assert lean_as_policy(named) == 1


def test_a_model_saved_after_inference_without_propagation_is_inferred_once(monkeypatch):
    """ONNX's `infer_shapes` propagates no data by default: a model saved after it declares
    made-up symbols (`unk__4`) where the child's run, with propagation, computes dims (4).
    Those declarations are not cleared, and merge alike in the check's run and the model's:
    the check's run is the model's (one run), and its types are the policy's."""
    from trtforge.analyzer import _speculation
    from trtforge.analyzer.inference import infer_table

    if _speculation._wire is None:
        pytest.skip("the native reader is not built")
    model = onnx.load(str(Path(__file__).parents[1] / "fixtures" / "hf" / "gpt2_opset14.onnx"))
    saved = onnx.shape_inference.infer_shapes(model, data_prop=False)
    made_up = {
        v.name for v in saved.graph.value_info for d in v.type.tensor_type.shape.dim
        if d.dim_param.startswith("unk__")
    }  # fmt: skip
    table = infer_table(saved)
    assert any(isinstance(d, int) for n in made_up for d in table.decoded(n)[1] or ())
    runs = []
    real = _speculation.strict_run
    monkeypatch.setattr(_speculation, "strict_run", lambda *args: runs.append(args) or real(*args))
    lean = _speculation.lean_inferred(saved.SerializeToString())
    assert _speculation.table_state(lean)[0] == table._raw
    assert len(runs) == 1


def _stale_after_inference() -> onnx.ModelProto:
    """GPT-2 saved after inference, then one declared dim changed to a value the nodes do not
    compute (a stale declaration: strict inference fails on it)."""
    stale = _saved_after_inference(
        Path(__file__).parents[1] / "fixtures" / "hf" / "gpt2_opset14.onnx"
    )
    dims = [
        d for v in stale.graph.value_info for d in v.type.tensor_type.shape.dim if d.dim_value > 1
    ]
    dims[len(dims) // 2].dim_value += 1
    return stale


def test_a_stale_model_s_policy_table_comes_from_the_lean_child(monkeypatch, tmp_path):
    """Where the lean run fails on a stale declaration that the native inference models, the
    prefetching child makes the policy's table itself (`_speculation.lean_policy`: no onnx,
    no parsed model) and the parent takes it: the same types and strict error as the
    policy's, and the policy is not run."""
    from trtforge.analyzer import _speculation, background, inference
    from trtforge.analyzer.inference import infer_table

    if _speculation._wire is None or _speculation._infer is None:
        pytest.skip("the native reader is not built")
    stale = _stale_after_inference()
    expected = infer_table(stale)
    path = tmp_path / "stale.onnx"
    onnx.save(stale, path)
    monkeypatch.setattr(background, "MIN_NODES", 10)
    ran = tmp_path / "policy_ran"
    policy = inference.infer_table

    def noting(*args, **kwargs):
        ran.write_text("yes")
        return policy(*args, **kwargs)

    monkeypatch.setattr(inference, "infer_table", noting)
    pending = background.PendingTypes.of_file(str(path))
    table = pending.prefetched(stale, hashlib.sha256(path.read_bytes()).hexdigest())
    assert table is not None and not ran.exists()
    assert table._raw == expected._raw and table.strict_error == expected.strict_error
    assert table.shape_consumers == expected.shape_consumers and expected.strict_error


def test_a_failed_lean_run_hands_its_check_to_the_policy(monkeypatch, tmp_path):
    """Where the lean child's run fails (a stale declaration), the policy (the full path, in
    the same child) takes the types the lean check inferred without the declared static dims
    instead of inferring them again: the same table and strict error, fewer runs of ONNX's
    inference; and the prefetching child of `trt-check` gives the parent that table."""
    from trtforge.analyzer import _speculation, background, inference_guard
    from trtforge.analyzer.inference import infer_table

    if _speculation._wire is None:
        pytest.skip("the native reader is not built")
    stale = _stale_after_inference()
    with pytest.raises(_speculation.SpeculationFailed) as failed:
        _speculation.lean_inferred(stale.SerializeToString())
    checked = failed.value.checked_types
    assert checked
    runs = []
    real = inference_guard.infer_shapes
    monkeypatch.setattr(inference_guard, "infer_shapes", lambda *a: runs.append(a) or real(*a))
    # (ONNX's runs are what is counted: the native lenient runs, which model GPT-2's stale
    # declaration, are left out; `test_native_inference.py` holds them equal to ONNX's)
    monkeypatch.setattr(_speculation, "native_lenient", lambda *args: None)
    handed = infer_table(stale, (), checked)
    with_handed = len(runs)
    runs.clear()
    alone = infer_table(stale)
    assert handed._raw == alone._raw and handed.strict_error == alone.strict_error
    assert handed.strict_error and with_handed < len(runs), (with_handed, len(runs))
    # the prefetching child, as trt-check forks it (the model counted as large), which notes
    # in a file what the policy was handed
    from trtforge.analyzer import inference

    path, handed_to = tmp_path / "stale.onnx", tmp_path / "handed"
    onnx.save(stale, path)
    monkeypatch.setattr(background, "MIN_NODES", 10)
    policy = inference.infer_table

    def noting(model, heavy_at=(), checked_types=None, strict_error=None):
        handed_to.write_text(str(bool(checked_types)))
        return policy(model, heavy_at, checked_types, strict_error)

    monkeypatch.setattr(inference, "infer_table", noting)
    pending = background.PendingTypes.of_file(str(path))
    outcome, payload = pending._outcome()
    assert outcome == "payload", outcome
    assert handed_to.read_text() == "True"
    assert payload[1]._raw == alone._raw and payload[1].strict_error == alone.strict_error


def test_a_failed_lean_run_that_was_the_policy_s_strict_run_is_not_made_again(
    monkeypatch, tmp_path
):
    """Where the prefetching child's lean run failed and was the policy's own strict run (a
    graph without shape consumers: no data propagation; MeanVarianceNormalization without
    `axes`, whose function body ONNX's inference fails, leaves every node after it "expected
    to have type"), the policy it then runs is handed that run's error and makes only the
    lenient run: the parent gets the table and strict error the policy makes alone."""
    from trtforge.analyzer import _speculation, background, inference, inference_guard

    if _speculation._wire is None:
        pytest.skip("the native reader is not built")
    nodes = [helper.make_node("Relu", ["x"], ["r0"])]
    nodes.append(helper.make_node("MeanVarianceNormalization", ["r0"], ["m"], "mvn"))
    nodes += [helper.make_node("Tanh", [f"t{i}" if i else "m"], [f"t{i + 1}"]) for i in range(12)]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 4, 3, 3])],
        [helper.make_tensor_value_info("t12", TensorProto.FLOAT, None)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    alone = inference.infer_table(model)
    assert "MeanVarianceNormalization" in alone.strict_error
    path, handed_to = tmp_path / "mvn.onnx", tmp_path / "handed"
    onnx.save(model, path)
    monkeypatch.setattr(background, "MIN_NODES", 10)
    policy, real = inference.infer_table, inference_guard.infer_shapes

    def noting(model, heavy_at=(), checked_types=None, strict_error=None):
        handed_to.write_text(repr(strict_error))
        return policy(model, heavy_at, checked_types, strict_error)

    def strict_never(serialized, check_type, strict, data_prop):  # (in the child)
        assert not strict, "the strict run was made again"
        return real(serialized, check_type, strict, data_prop)

    monkeypatch.setattr(inference, "infer_table", noting)
    monkeypatch.setattr(inference_guard, "infer_shapes", strict_never)
    pending = background.PendingTypes.of_file(str(path))
    outcome, payload = pending._outcome()
    assert outcome == "payload", outcome
    assert handed_to.read_text() == repr(alone.strict_error)
    assert payload[1]._raw == alone._raw and payload[1].strict_error == alone.strict_error

"""Shape inference as two runs whose bodies see small scopes (`_split_inference`, the native
`_split`: csrc/analyzer/split.cpp) gives exactly one run's types — the same names and types,
in the same order, bodies included — or declines, and the model is inferred in one run.

Held on every model with bodies at hand, on random graphs built to reach what a body's types
depend on (values propagated from shape computations, dims made up by inference, Constants,
declarations, nesting), and on graphs built to break each condition the split rests on.
"""

from __future__ import annotations

import os

import numpy as np
import onnx
import pytest
from _control_flow_models import control_flow_models, random_control_flow_model
from onnx import TensorProto, helper, numpy_helper

from trtforge.analyzer import _speculation, _split_inference
from trtforge.analyzer.inference import _varint

_split = pytest.importorskip("trtforge.analyzer._split", reason="the native planner is not built")


def _run(serialized: bytes) -> bytes:
    return _speculation.cpp_shape_inference().infer_shapes(serialized, False, True, True)


def _entries(inferred: bytes) -> list[tuple[str, bytes]]:
    """The inferred model's (name, type) entries, bodies' included, in the table's order."""
    read = _speculation.inferred_types(inferred)
    assert read is not None
    return list(read[1].items())


def _passes(serialized: bytes) -> bool:
    try:
        _run(serialized)
    except Exception:  # noqa: BLE001 - strict inference refused the model
        return False
    return True


def _assert_one_runs_types(model: onnx.ModelProto) -> bool:
    """The split's entries equal one run's; False when there is no split to compare: the
    model was declined, or fails one strict run (and then the split too)."""
    serialized = model.SerializeToString()
    split = _split_inference.split_inferred(serialized, _run)
    passes = _passes(serialized)
    plan = _split.models(serialized)
    if plan is not None:  # run A fails exactly when one run does (`inferred` raises its error)
        assert _passes(plan[0]) == passes
    if not passes:
        assert split is None
        return False
    if split is None:
        return False
    assert _entries(split) == _entries(_run(serialized))
    return True


def test_models_at_hand():
    """The detection exports (nested Loops and Ifs reading outer names) and ONNX's node test
    cases with bodies; of those, only test_scan_sum (IR version 3) is declined."""
    compared, declined = 0, []
    for label, model in control_flow_models():
        if _assert_one_runs_types(model):
            compared += 1
        elif _passes(model.SerializeToString()):
            declined.append(label)
            assert _declined(model)
    assert declined == ["test_scan_sum"]
    assert compared >= 50


def test_random_graphs():
    """Random graphs: If (nested), Loop and Scan bodies reading computed shapes, made-up
    dims, Constants and declared values; some fail strict inference, and then so does the
    split."""
    compared = failed = custom = 0
    for seed in range(150):
        model = random_control_flow_model(seed)
        if not _passes(model.SerializeToString()):
            failed += 1
            assert not _assert_one_runs_types(model)
            continue
        assert _assert_one_runs_types(model)  # each one compared
        compared += 1
        custom += any(node.op_type == "Mystery" for node in model.graph.node)
    assert compared >= 120 and failed >= 5 and custom >= 10


def _branch(name: str, op: str, read: str) -> onnx.GraphProto:
    out = f"{name}_out"
    return helper.make_graph(
        [helper.make_node(op, [read], [out])],
        name,
        [],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)],
    )


def _if(read: str, out: str) -> onnx.NodeProto:
    return helper.make_node(
        "If",
        ["cond"],
        [out],
        then_branch=_branch(f"{out}_then", "Identity", read),
        else_branch=_branch(f"{out}_else", "Neg", read),
    )


def _model(nodes, value_info=(), ir_version=8, opsets=(("", 17),), initializers=()):
    graph = helper.make_graph(
        nodes,
        "g",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 6]),
            helper.make_tensor_value_info("cond", TensorProto.BOOL, []),
        ],
        [helper.make_tensor_value_info(nodes[-1].output[0], TensorProto.FLOAT, None)],
        list(initializers),
        value_info=list(value_info),
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets])
    model.ir_version = ir_version
    return model


def _constant(name: str, values) -> onnx.NodeProto:
    return helper.make_node(
        "Constant", [], [name], value=numpy_helper.from_array(np.array(values, np.int64))
    )


def test_a_constant_read_after_a_body():
    """A Constant read by a node after an If, whose output a later body reads: the Reshape's
    shape is known to one run (ONNX hands a Constant's value on within its scope), so it
    must be to run B, where the Constants stay in the graph."""
    model = _model(
        [
            _constant("shape", [2, 12]),
            _if("x", "first"),
            helper.make_node("Reshape", ["x", "shape"], ["r"]),
            _if("r", "second"),
        ]
    )
    assert _assert_one_runs_types(model)
    types = dict(_entries(_run(model.SerializeToString())))
    body = onnx.TypeProto.FromString(types["second_then_out"]).tensor_type.shape
    assert [d.dim_value for d in body.dim] == [2, 12]


def test_a_declared_value_read_in_the_same_run():
    """A value declared (value_info) with a named dim that inference cannot know: the nodes
    after it see the merged type in one run, so a run of nodes in B ends there."""
    model = _model(
        [
            helper.make_node("NonZero", ["x"], ["nonzero"]),
            helper.make_node("Cast", ["nonzero"], ["found"], to=TensorProto.FLOAT),
            _if("found", "first"),
            _if("x", "second"),
        ],
        value_info=[helper.make_tensor_value_info("nonzero", TensorProto.INT64, [2, "count"])],
    )
    assert _assert_one_runs_types(model)
    types = dict(_entries(_run(model.SerializeToString())))
    body = onnx.TypeProto.FromString(types["first_then_out"]).tensor_type.shape
    assert body.dim[1].dim_param == "count"


def _declined(model: onnx.ModelProto | bytes) -> bool:
    serialized = model if isinstance(model, bytes) else model.SerializeToString()
    return _split.models(serialized) is None


def test_what_it_declines():
    """Each condition the split rests on, broken: the planner declines (one run is made)."""
    base = [_if("x", "first"), helper.make_node("Relu", ["x"], ["y"]), _if("y", "second")]
    assert not _declined(_model(base))
    # a name defined twice: in two sibling bodies, and a body shadowing an outer name
    twice = [_if("x", "first"), _if("x", "second")]
    twice[1].attribute[0].g.node[0].output[0] = "first_then_out"
    twice[1].attribute[0].g.output[0].name = "first_then_out"
    assert _declined(_model(twice))
    shadow = [helper.make_node("Relu", ["x"], ["y"]), _if("x", "first")]
    shadow[1].attribute[0].g.node[0].output[0] = "y"
    shadow[1].attribute[0].g.output[0].name = "y"
    assert _declined(_model(shadow))
    # a body reading a value produced after its node
    later = [_if("y", "first"), helper.make_node("Relu", ["x"], ["y"])]
    assert _declined(_model(later))
    # the graph declaring a value a body defines
    declared = _model(base, value_info=[helper.make_tensor_value_info("first_then_out", 1, None)])
    assert _declined(declared)
    # IR version 3, the functions' domain in use, an attribute referring to a function's
    assert _declined(_model(base, ir_version=3))
    assert _declined(_model(base, opsets=(("", 17), ("tf.split", 1))))
    refers = _model(base)
    refers.graph.node[0].attribute[0].g.node[0].attribute.add(name="alpha", ref_attr_name="a")
    assert _declined(refers)
    # a sparse initializer
    sparse = _model(base)
    sparse.graph.sparse_initializer.add().CopyFrom(
        helper.make_sparse_tensor(
            numpy_helper.from_array(np.ones(1, np.float32), "s"),
            numpy_helper.from_array(np.zeros(1, np.int64), "s_i"),
            [4],
        )
    )
    assert _declined(sparse)

    # bodies nested deeper than 32 (written by hand: protobuf refuses to build them)
    def field(number: int, payload: bytes) -> bytes:
        return _varint(number << 3 | 2) + _varint(len(payload)) + payload

    def nested(levels: int) -> bytes:
        inner = _branch("innermost", "Identity", "x").SerializeToString()
        for level in range(levels):
            out = f"out{level}".encode()
            branch = field(1, b"then_branch") + field(6, inner) + b"\xa0\x01\x05"  # GRAPH
            node = field(1, b"cond") + field(2, out) + field(4, b"If") + field(5, branch)
            inner = field(1, node) + field(12, field(1, out))
        model = _model([helper.make_node("Relu", ["x"], ["y"])])
        top = field(2, b"top") + field(4, b"If") + field(5, field(6, inner))
        graph = model.graph.SerializeToString() + field(1, top)
        model.ClearField("graph")
        return model.SerializeToString() + field(7, graph)

    assert not _declined(nested(20))
    assert _declined(nested(40))
    # no top-level If/Loop/Scan to move
    assert _declined(_model([helper.make_node("Relu", ["x"], ["y"])]))
    # bytes that are not a model
    assert _declined(b"\x0a\xff")


def _with_node_bytes(model: onnx.ModelProto, node: bytes) -> bytes:
    """The model (of one node) with that node's serialized bytes replaced."""
    rest = onnx.GraphProto()
    rest.CopyFrom(model.graph)
    del rest.node[:]
    graph = b"\x0a" + _varint(len(node)) + node + rest.SerializeToString()
    shell = onnx.ModelProto()
    shell.CopyFrom(model)
    shell.ClearField("graph")
    return shell.SerializeToString() + b"\x3a" + _varint(len(graph)) + graph


def test_a_graph_attribute_given_twice():
    """An attribute holding its graph twice (protobuf merges the two) is declined."""
    model = _model([_if("x", "first")])
    node = model.graph.node[0]
    bare = onnx.NodeProto()
    bare.CopyFrom(node)
    del bare.attribute[:]
    body = node.attribute[0].g.SerializeToString()
    payloads = [a.SerializeToString() for a in node.attribute]
    assert not _declined(_with_node_bytes(model, node.SerializeToString()))
    payloads[0] += b"\x32" + _varint(len(body)) + body  # AttributeProto.g, again
    attributes = b"".join(b"\x2a" + _varint(len(p)) + p for p in payloads)
    assert _declined(_with_node_bytes(model, bare.SerializeToString() + attributes))


def test_strict_run_splits_where_worth_it(monkeypatch):
    """`strict_run` makes the two runs when the estimate says so — on short names too —
    and gives what it gives from one run; the estimate's answer is followed both ways."""
    joins = []
    joined = _split_inference._joined
    monkeypatch.setattr(_split_inference, "_joined", lambda *args: joins.append(1) or joined(*args))
    models = [random_control_flow_model(seed) for seed in range(20)]
    models = [m.SerializeToString() for m in models if _passes(m.SerializeToString())]

    def runs(worth: bool) -> list[list[tuple[str, bytes]]]:
        monkeypatch.setattr(_split_inference, "may_be_worth", lambda *_: worth)
        monkeypatch.setattr(_split_inference, "worth_splitting", lambda *_: worth)
        joins.clear()
        got = []
        for serialized in models:
            nodes = onnx.ModelProto.FromString(serialized).graph.node
            bodies = sum(n.op_type in _speculation.CONTROL_FLOW for n in nodes)
            got.append(_entries(_speculation.strict_run(serialized, len(nodes), bodies)))
        assert bool(joins) == worth and (not worth or len(joins) >= len(models) - 2)
        return got

    for short_from in (10**9, 0):  # long names, then every model on short names
        monkeypatch.setattr(_speculation, "SHORT_NAMES_FROM", short_from)
        assert runs(True) == runs(False)


def test_the_estimate():
    """100 Ifs in 100,000 nodes are worth two runs; two Ifs, or a small graph, are not."""
    nodes = 100_000
    assert _split_inference.may_be_worth(nodes, 100)
    assert not _split_inference.may_be_worth(nodes, 2)
    assert not _split_inference.may_be_worth(200, 100)
    # 100 Ifs spread over the graph: each copies ~50,000 entries in one run
    assert _split_inference.worth_splitting(nodes, 100 * 50_000, 10_000, 100, 100)
    # two: 100,000 entries copied cost less than a second run
    assert not _split_inference.worth_splitting(nodes, 2 * 50_000, 100, 2, 2)
    # 20,000 bodies: the functions' tables would cost more than the copies saved
    assert not _split_inference.worth_splitting(nodes, 10**8, 10**6, 20_000, 20_000)


def test_runs_in_parallel():
    """Run B in a forked child gives the same result; a child whose run fails gives None
    (one run is made), and a failure of run A stops and reaps the child."""
    for seed in range(5):
        serialized = random_control_flow_model(seed).SerializeToString()
        if _passes(serialized):
            alone = _split_inference.split_inferred(serialized, _run)
            assert _split_inference.split_inferred(serialized, _run, in_parallel=True) == alone

    def fails(_: bytes) -> bytes:
        raise RuntimeError("no")

    child = _split_inference._ChildRun(fails, b"")
    assert child.result() is None
    child.end()
    slow = _split_inference._ChildRun(lambda m: __import__("time").sleep(30) or m, b"x")
    pid = slow._pid
    slow.end()  # stops it
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, 0)  # already reaped


def test_inferred_falls_back_to_one_run(monkeypatch):
    """Where the two runs do not fit together, or a run raises, `inferred` makes one run,
    and raises what that raises."""
    monkeypatch.setattr(_split_inference, "may_be_worth", lambda *_: True)
    monkeypatch.setattr(_split_inference, "worth_splitting", lambda *_: True)
    model = random_control_flow_model(3)
    serialized = model.SerializeToString()
    calls = []

    def counted(data: bytes) -> bytes:
        calls.append(data)
        if len(calls) in (2, 3):
            raise RuntimeError("run B fails, and again with run A's types")
        return _run(data)

    got = _split_inference.inferred(serialized, counted, 10**5, 100)
    assert calls[-1] == serialized and got == _run(serialized)
    monkeypatch.setattr(_split, "joined", lambda *_: None)
    assert _split_inference.inferred(serialized, _run, 10**5, 100) == _run(serialized)

    def always_fails(data: bytes) -> bytes:
        raise RuntimeError("strict")

    with pytest.raises(RuntimeError, match="strict"):
        _split_inference.inferred(serialized, always_fails, 10**5, 100)


def test_a_strict_failure_is_raised_by_run_a(monkeypatch):
    """A model that fails strict inference fails run A with ONNX's InferenceError, which
    `inferred` raises without running once more (the error names the function)."""
    monkeypatch.setattr(_split_inference, "may_be_worth", lambda *_: True)
    monkeypatch.setattr(_split_inference, "worth_splitting", lambda *_: True)
    failing = next(
        m.SerializeToString()
        for m in map(random_control_flow_model, range(100))
        if not _passes(m.SerializeToString()) and not _declined(m)
    )
    error = _speculation.cpp_shape_inference().InferenceError
    runs = []

    def counted(data: bytes) -> bytes:
        runs.append(data)
        return _run(data)

    with pytest.raises(error):
        _split_inference.inferred(failing, counted, 10**5, 100, raises=(error,))
    assert len(runs) == 1 and runs[0] != failing  # run A only
    runs.clear()
    with pytest.raises(error):  # without `raises`: one run is made, and raises
        _split_inference.inferred(failing, counted, 10**5, 100)
    assert runs[-1] == failing


def test_damaged_bytes():
    """Truncated or altered bytes never crash the planner or the joiner: each gives a plan,
    or None; a plan for bytes protobuf parses is two models it parses (bytes it does not
    parse give runs that raise, and one run then raises what it raises)."""
    import random

    rng = random.Random(5)
    sources = [m.SerializeToString() for m in map(random_control_flow_model, range(3))]
    sources.append(control_flow_models()[0][1].SerializeToString())
    planned = 0
    for _ in range(400):
        data = bytearray(rng.choice(sources))
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(data))
            if rng.random() < 0.2:
                del data[at:]
                if not data:
                    data.append(0)
            else:
                data[at] = rng.randrange(256)
        plan = _split.models(bytes(data))
        if plan is None:
            continue
        a, b = plan[0], plan[1]
        joined = _split.joined(bytes(data), a, b)  # the runs' models, as if inferred
        assert joined is None or isinstance(joined, bytes)
        _split.joined(bytes(data), a[: len(a) // 2], b)  # None or bytes; no crash
        try:
            onnx.ModelProto.FromString(bytes(data))
        except Exception:  # noqa: BLE001 - damaged past protobuf: nothing more to hold
            continue
        planned += 1
        onnx.ModelProto.FromString(a)
        onnx.ModelProto.FromString(b)
    assert planned > 10


def test_equal_runs_of_nodes_share_a_function():
    """Runs A and B name every value inside a function by its order of appearance, so that
    equal runs of nodes between bodies, and Ifs equal but for their names (bodies included),
    are one function each, called at each place: ONNX copies its table of functions into
    every scope it opens. The types stay one run's."""
    nodes, current = [], "x"
    for k in range(20):
        nodes += [
            helper.make_node("Relu", [current], [f"relu{k}"], name=f"relu_node{k}"),
            helper.make_node("Neg", [f"relu{k}"], [f"neg{k}"], name=f"neg_node{k}"),
            _if(f"neg{k}", f"if{k}"),
        ]
        current = f"neg{k}"
    model = _model(nodes)
    plan = _split.models(model.SerializeToString())
    assert plan is not None
    b = onnx.ModelProto.FromString(plan[1])
    calls = [n for n in b.graph.node if n.domain == "tf.split"]
    assert len(calls) == 20 and len(b.functions) == plan[5] == 1
    assert {n.op_type for n in calls} == {b.functions[0].name}
    a = onnx.ModelProto.FromString(plan[0])
    assert sum(n.domain == "tf.split" for n in a.graph.node) == 20
    assert len(a.functions) == plan[4] == 1  # 20 Ifs reading and writing other names
    assert _assert_one_runs_types(model)
    # a body annotating its tensors (names in fields of their own): its If keeps its names
    annotated = _model(nodes)
    body = annotated.graph.node[2].attribute[0].g
    body.quantization_annotation.add(tensor_name=body.output[0].name)
    assert _split.models(annotated.SerializeToString())[4] == 2


def _top_level_errors(error: str, model: onnx.ModelProto) -> set[tuple[str, str, str]]:
    """(op, name, why) of the errors of `model`'s top-level nodes without bodies in `error`:
    what validity confirms a conflict with by run A (whose calls, in place of the nodes
    with bodies, are ops of made-up names)."""
    from trtforge.analyzer.validity import _inference_errors

    plain = {n.op_type for n in model.graph.node}.difference(_speculation.CONTROL_FLOW)
    return {e[:3] for e in _inference_errors(error) if not e[3] and e[0] in plain}


def test_the_top_level_error_of_run_a_is_one_runs(monkeypatch):
    """`top_level_error` (run A alone, what validity confirms conflicts with) says "" exactly
    when one strict run passes, and otherwise names the same errors of the top-level nodes
    without bodies as one run does, on random graphs, some of which fail."""
    from onnx.shape_inference import InferenceError

    monkeypatch.setattr(_split_inference, "may_be_worth", lambda *_: True)
    monkeypatch.setattr(_split_inference, "worth_splitting", lambda *_: True)
    error = _speculation.cpp_shape_inference().InferenceError

    def strict(data: bytes) -> bytes:
        return _speculation.cpp_shape_inference().infer_shapes(data, False, True, False)

    compared = failed = 0
    for seed in range(150):
        model = random_control_flow_model(seed)
        serialized = model.SerializeToString()
        nodes = model.graph.node
        bodies = sum(n.op_type in _speculation.CONTROL_FLOW for n in nodes)
        found = _split_inference.top_level_error(
            serialized, strict, len(nodes), bodies, (error, InferenceError)
        )
        if found is None:
            assert _declined(model)
            continue
        try:
            strict(serialized)
            one_run = ""
        except error as err:
            one_run = str(err)
        compared += 1
        assert (found == "") == (one_run == "")
        if one_run:
            failed += 1
            assert _top_level_errors(found, model) == _top_level_errors(one_run, model), seed
    assert compared >= 120 and failed >= 5

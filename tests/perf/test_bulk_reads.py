"""The bulk reads behind a fast 100,000-node check give what the node-by-node reads give.

* `_shallow_graph.data_locations` (one parse of a projection of the model) finds an external
  tensor wherever `loading.iter_graph_tensors` does, so `load_model` checks exactly the
  references it did before;
* `graph.NodeFields` reads the same fields through `_shallow_graph.node_fields` as through
  onnx's own `NodeProto`s (the fallback for graphs over `MAX_SHALLOW_BYTES`);
* `validity`'s bulk check of the top-level graph (`_GraphChecker._sound`) returns exactly the
  problems of the node-by-node walk, on valid graphs and on every kind of invalid one, and an
  invalid graph is never "supported".
"""

from __future__ import annotations

import copy

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from trtforge.analyzer import graph as graph_module
from trtforge.analyzer import loading, validity
from trtforge.analyzer._shallow_graph import data_locations
from trtforge.analyzer.backends import static
from trtforge.analyzer.graph import GraphView, NodeFields
from trtforge.analyzer.inference import TypeTable
from trtforge.analyzer.loading import iter_graph_tensors, load_model
from trtforge.analyzer.reports import render
from trtforge.analyzer.targets import parse_target

EXTERNAL = TensorProto.EXTERNAL


def _external(name: str) -> TensorProto:
    tensor = numpy_helper.from_array(np.zeros(4, np.float32), name)
    tensor.ClearField("raw_data")
    tensor.data_location = EXTERNAL
    tensor.external_data.add(key="location", value="w.bin")
    return tensor


def _chain(count: int = 40, attrs: bool = True) -> onnx.ModelProto:
    """A chain of common ops with a constant-shape Reshape, Reduce attributes and a Constant."""
    w = numpy_helper.from_array(np.ones((8, 8), np.float32), "w")
    shape = numpy_helper.from_array(np.array([8, 8], np.int64), "shape")
    nodes, current = [], "x"
    for i in range(count):
        op = ("MatMul", "Add", "Reshape", "ReduceMean", "Relu")[i % 5]
        out = f"t{i}"
        if op == "MatMul":
            nodes.append(helper.make_node(op, [current, "w"], [out], name=f"n{i}"))
        elif op == "Add":
            nodes.append(helper.make_node(op, [current, current], [out], name=f"n{i}"))
        elif op == "Reshape":
            nodes.append(helper.make_node(op, [current, "shape"], [out], name=f"n{i}"))
        elif op == "ReduceMean":
            kw = {"axes": [1], "keepdims": 1} if attrs else {}
            nodes.append(helper.make_node(op, [current], [out], name=f"n{i}", **kw))
        else:
            nodes.append(helper.make_node(op, [current], [out], name=""))
        if op == "ReduceMean":
            fix = f"e{i}"
            nodes.append(helper.make_node("Expand", [out, "shape"], [fix], name=f"x{i}"))
            out = fix
        current = out
    nodes.append(
        helper.make_node(
            "Constant", [], ["c"], value=numpy_helper.from_array(np.ones(2, np.float32))
        )
    )
    graph = helper.make_graph(
        nodes,
        "chain",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [8, 8])],
        [helper.make_tensor_value_info(current, TensorProto.FLOAT, [8, 8])],
        [w, shape],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


# -- data_locations ----------------------------------------------------------------------
def _body(tensor_in_body: TensorProto | None) -> onnx.GraphProto:
    nodes = [helper.make_node("Identity", ["cond"], ["out"])]
    if tensor_in_body is not None:
        nodes.append(helper.make_node("Constant", [], ["k"], value=tensor_in_body))
    return helper.make_graph(
        nodes, "body", [], [helper.make_tensor_value_info("out", TensorProto.BOOL, [])]
    )


def _with_if(then_tensor=None, else_tensor=None) -> onnx.ModelProto:
    node = helper.make_node(
        "If", ["cond"], ["y"], then_branch=_body(then_tensor), else_branch=_body(else_tensor)
    )
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("cond", TensorProto.BOOL, [])],
        [helper.make_tensor_value_info("y", TensorProto.BOOL, [])],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _placed_external() -> list[tuple[str, onnx.ModelProto]]:
    cases = [("none", _chain()), ("if, nothing external", _with_if())]
    model = _chain()
    model.graph.initializer.append(_external("big"))
    cases.append(("initializer", model))
    model = _chain()
    sparse = model.graph.sparse_initializer.add()
    sparse.values.CopyFrom(_external("sv"))
    sparse.indices.CopyFrom(numpy_helper.from_array(np.arange(4, dtype=np.int64), "si"))
    sparse.dims.extend([8])
    cases.append(("sparse initializer", model))
    model = _chain()
    model.graph.node[-1].attribute[0].t.CopyFrom(_external("ct"))
    cases.append(("Constant value", model))
    model = _chain()
    model.graph.node[0].attribute.append(
        helper.make_attribute("extra", [_external("a"), _external("b")])
    )
    cases.append(("tensors attribute", model))
    cases.append(("then branch", _with_if(then_tensor=_external("tb"))))
    cases.append(("else branch", _with_if(else_tensor=_external("eb"))))
    nested = _with_if()
    nested.graph.node[0].attribute[0].g.node.append(
        copy.deepcopy(_with_if(else_tensor=_external("deep")).graph.node[0])
    )
    cases.append(("If inside If", nested))
    return cases


@pytest.mark.parametrize("label,model", _placed_external(), ids=lambda c: str(c)[:30])
def test_data_locations_finds_every_external_tensor(label, model):
    walked = {t.data_location for t in iter_graph_tensors(model.graph)}
    found = data_locations(model.SerializeToString())
    assert (EXTERNAL in found) == (EXTERNAL in walked)
    assert (EXTERNAL in found) == (label not in ("none", "if, nothing external"))
    # what load_model asks: the native reader where it is built, the projection otherwise
    assert loading._has_external(model.SerializeToString()) == (EXTERNAL in walked)


def test_data_locations_is_conservative_on_a_field_written_twice(tmp_path):
    """A data_location written twice: onnx keeps the last (DEFAULT) value; the projection
    keeps both, so the full walk runs (and finds nothing) rather than anything being missed."""
    from trtforge.analyzer.inference import _varint

    tensor = numpy_helper.from_array(np.ones(2, np.float32), "twice")
    raw = tensor.SerializeToString() + b"\x70\x01" + b"\x70\x00"
    assert onnx.TensorProto.FromString(raw).data_location == TensorProto.DEFAULT
    graph = b"\x2a" + _varint(len(raw)) + raw  # GraphProto.initializer (5)
    data = _chain().SerializeToString() + b"\x3a" + _varint(len(graph)) + graph  # graph (7)
    assert EXTERNAL in data_locations(data)
    path = tmp_path / "twice.onnx"
    path.write_bytes(data)
    loaded = load_model(path)
    assert [t.name for t in loaded.proto.graph.initializer][-1] == "twice"
    assert loaded.external == []


def test_load_model_still_checks_external_references(tmp_path):
    from trtforge.analyzer.errors import UserError

    for label, model in _placed_external():
        if label in ("none", "if, nothing external"):
            continue
        path = tmp_path / "m.onnx"
        path.write_bytes(model.SerializeToString())
        with pytest.raises(UserError, match="missing"):
            load_model(path)  # w.bin does not exist: every placement is found and refused
        (tmp_path / "w.bin").write_bytes(b"\0" * 16)
        loaded = load_model(path)
        assert loaded.external, label
        (tmp_path / "w.bin").unlink()


# -- NodeFields --------------------------------------------------------------------------
def _odd_nodes() -> onnx.ModelProto:
    model = _chain()
    model.graph.node[3].input.append("")  # an empty optional input
    data = model.SerializeToString().replace(b"n1", b"n\xff")  # a name that is not UTF-8
    return onnx.ModelProto.FromString(data)


def _all_named(domain: str | None) -> onnx.ModelProto:
    """Every node with a name, and with `domain` set (None: none set): node scalars then
    read as flat lists (`_shallow_graph.node_scalars`)."""
    model = _chain()
    for index, node in enumerate(model.graph.node):
        node.name = f"node{index}"
        if domain is not None:
            node.domain = domain
    return model


@pytest.mark.parametrize(
    "model",
    [
        _chain(),
        _chain(attrs=False),
        _odd_nodes(),
        _with_if(),
        _all_named(""),
        _all_named(None),
        _all_named("ai.onnx"),
    ],
)
def test_node_fields_shallow_and_per_node_agree(model, monkeypatch):
    shallow = NodeFields.read(model.graph)
    monkeypatch.setattr(graph_module, "MAX_SHALLOW_BYTES", 0)
    per_node = NodeFields.read(model.graph)
    for name in ("names", "ops", "domains", "inputs", "outputs", "attributes"):
        assert getattr(shallow, name) == getattr(per_node, name), name
    assert shallow.nodes == per_node.nodes == list(model.graph.node)
    assert shallow.attributes[0] == [a.SerializeToString() for a in model.graph.node[0].attribute]
    from trtforge.analyzer._shallow_graph import node_scalars

    names, _, domains = node_scalars(model.graph.SerializeToString(), len(model.graph.node))
    if model.graph.node[-1].name.startswith("node"):  # every node named: one list
        assert names == shallow.names and domains == shallow.domains


# -- validity in bulk --------------------------------------------------------------------
def _variants() -> list[tuple[str, onnx.ModelProto]]:
    out = []

    def variant(label, change):
        model = _chain()
        change(model.graph)
        out.append((label, model))

    def swap(g):
        a, b = copy.deepcopy(g.node[6]), copy.deepcopy(g.node[7])
        g.node[6].CopyFrom(b)
        g.node[7].CopyFrom(a)

    def bad_constant(g):
        g.node[-1].attribute[0].t.dims[0] = 5

    def equal_constants(g, bad: bool = False):
        """Copies of the last Constant (equal attributes), one of them damaged if `bad`:
        the bulk check looks at equal attributes once, and must still report the bad one
        (and both when two are bad alike)."""
        constant = g.node[-1]
        for copy_index in range(4):
            clone = copy.deepcopy(constant)
            clone.output[0] = f"{constant.output[0]}_copy{copy_index}"
            if bad and copy_index in (1, 3):
                clone.attribute[0].t.dims[0] = 5
            g.node.append(clone)

    def if_node(g):
        g.node.append(copy.deepcopy(_with_if().graph.node[0]))
        g.input.append(helper.make_tensor_value_info("cond", TensorProto.BOOL, []))

    def if_dangling(g):
        if_node(g)
        g.node[-1].attribute[0].g.node[0].input[0] = "nowhere"

    def if_reading(g, at: int, reads: list[int], nested: bool = False, bad: bool = False):
        """An If placed before node `at`, its then-branch reading the outputs of nodes
        `reads` (defined before it or not; the bulk check must see what the walk sees),
        in a nested If's body when `nested`, with a damaged Constant when `bad`."""
        names = [g.node[i].output[0] for i in reads]
        body_nodes = [helper.make_node("Identity", [name], [f"r{at}_{name}"]) for name in names]
        body_nodes.append(helper.make_node("Identity", ["cond"], [f"out{at}"]))
        if bad:
            tensor = numpy_helper.from_array(np.ones(2, np.float32))
            tensor.dims[0] = 5
            body_nodes.append(helper.make_node("Constant", [], [f"k{at}"], value=tensor))
        body = helper.make_graph(
            body_nodes,
            "then",
            [],
            [helper.make_tensor_value_info(f"out{at}", TensorProto.BOOL, [])],
        )
        if nested:
            inner = helper.make_node(
                "If", ["cond"], [f"out{at}"], then_branch=body, else_branch=_body(None)
            )
            body = helper.make_graph(
                [inner],
                "outer",
                [],
                [helper.make_tensor_value_info(f"out{at}", TensorProto.BOOL, [])],
            )
        node = helper.make_node(
            "If", ["cond"], [f"y{at}"], then_branch=body, else_branch=_body(None)
        )
        g.node.insert(at, node)
        if "cond" not in [value.name for value in g.input]:
            g.input.append(helper.make_tensor_value_info("cond", TensorProto.BOOL, []))

    variant("valid", lambda g: None)
    variant("duplicate output", lambda g: g.node[9].output.__setitem__(0, g.node[4].output[0]))
    variant("output is an input", lambda g: g.node[9].output.__setitem__(0, "x"))
    variant("output twice in a node", lambda g: g.node[9].output.append(g.node[9].output[0]))
    variant("unsorted", swap)
    variant("cycle", lambda g: g.node[3].input.__setitem__(0, g.node[6].output[0]))
    variant("own output", lambda g: g.node[3].input.__setitem__(0, g.node[3].output[0]))
    variant("dangling input", lambda g: g.node[5].input.__setitem__(0, "nobody"))
    variant("too many inputs", lambda g: g.node[4].input.append("x"))
    variant("required input empty", lambda g: g.node[1].input.__setitem__(0, ""))
    variant("no op_type", lambda g: setattr(g.node[2], "op_type", ""))
    variant(
        "attribute of the wrong type",
        lambda g: g.node[3].attribute.append(helper.make_attribute("keepdims", 1.5)),
    )
    variant("unknown domain", lambda g: setattr(g.node[4], "domain", "com.example"))
    variant("dangling graph output", lambda g: setattr(g.output[0], "name", "gone"))
    variant("bad Constant tensor", bad_constant)
    variant("equal Constants", equal_constants)
    variant("bad equal Constants", lambda g: equal_constants(g, bad=True))
    variant("valid If", if_node)
    variant("If body reads nothing defined", if_dangling)
    variant("If body reads earlier names", lambda g: if_reading(g, 5, [1, 4]))
    variant("If body reads a later name", lambda g: if_reading(g, 5, [1, 7]))
    variant("nested If reads a later name", lambda g: if_reading(g, 4, [8], nested=True))
    variant("nested If reads earlier names", lambda g: if_reading(g, 4, [0, 3], nested=True))
    variant("If body with a bad Constant", lambda g: if_reading(g, 3, [], bad=True))

    def ifs_alike(g):
        """Two Ifs with equal attributes, one before and one after the name they read:
        only the first is reported (equal bodies are not judged once for all)."""
        if_reading(g, 2, [6])
        late = copy.deepcopy(g.node[2])
        late.output[0] = "y_late"
        g.node.insert(9, late)

    variant("equal Ifs, one too early", ifs_alike)
    return out


@pytest.mark.parametrize("label,model", _variants(), ids=lambda c: str(c)[:30])
def test_bulk_validity_equals_the_node_walk(label, model, monkeypatch):
    view = GraphView(model.graph, TypeTable())
    walks = []
    node_by_node = validity._GraphChecker._node

    def top_level_walk(self, node, op, domain, n_in, n_out, inputs, where, at):
        if where == "":  # bodies are always walked
            walks.append(where)
        return node_by_node(self, node, op, domain, n_in, n_out, inputs, where, at)

    monkeypatch.setattr(validity._GraphChecker, "_node", top_level_walk)
    bulk = validity.check_validity(model, view.rows, view.fields)
    # the bulk check stands alone exactly when it finds the top-level graph sound: its
    # names defined once and before they are read, its node signatures as their schemas
    # say (bodies, and the tensors in attributes, may hold problems of their own)
    alone = (
        "valid",
        "unknown domain",
        "bad Constant tensor",
        "dangling graph output",
        "equal Constants",
        "bad equal Constants",
        "valid If",
        "If body reads nothing defined",
        "If body reads earlier names",
        "If body reads a later name",
        "nested If reads a later name",
        "nested If reads earlier names",
        "If body with a bad Constant",
        "equal Ifs, one too early",
    )
    assert bool(walks) == (label not in alone)
    walked = validity.check_validity(model)  # no fields: node by node
    assert bulk == walked
    sound = (
        "valid",
        "valid If",
        "unknown domain",
        "equal Constants",
        "If body reads earlier names",
        "nested If reads earlier names",
    )
    assert bool(walked) == (label not in sound), walked
    if label in ("bad equal Constants",):
        assert len(walked) == 2
    if label in ("If body reads a later name", "nested If reads a later name"):
        assert [p.finding.code for p in walked] == ["invalid/dangling"], walked
    if label == "equal Ifs, one too early":
        assert len(walked) == 1 and walked[0].node == 2, walked
    report = static.check_static(load_model(model), parse_target("rtx-1"))
    assert render(report, "json") == render(
        static.check_static(load_model(model), parse_target("rtx-1"), memo=False), "json"
    )
    if any(p.finding.is_error for p in walked):
        assert not report.supported  # an invalid graph is never "supported"


def test_reads_before_writes_natively_as_in_python(monkeypatch):
    """The bulk check's reads before writes and named outputs, natively
    (`_producer_hops.reads_before_written`, `named_outputs`), equal its Python fallback: on
    random graphs (unsorted, names read early, late or never written, names produced twice,
    empty and non-UTF-8 names) and on the variants above."""
    import random

    if validity._producer_hops is None:
        pytest.skip("the native module is not built")
    native = validity._reads_before_written, validity._named_outputs
    rng = random.Random(5)
    cases = []
    for _ in range(300):
        pool = [f"t{i}" for i in range(12)] + ["", b"\xff"]
        nodes = rng.randint(0, 10)
        inputs = [[rng.choice(pool) for _ in range(rng.randint(0, 3))] for _ in range(nodes)]
        outputs = [[rng.choice(pool) for _ in range(rng.randint(0, 2))] for _ in range(nodes)]
        cases.append((inputs, outputs, set(rng.sample(pool, 3))))
    for _, model in _variants():
        fields = GraphView(model.graph, TypeTable()).fields
        cases.append((fields.inputs, fields.outputs, {v.name for v in model.graph.input}))
    results = []
    for inputs, outputs, defined in cases:
        produced_by = {out: i for i, outs in enumerate(outputs) for out in outs}
        produced_by.pop("", None)
        read = native[0](inputs, produced_by, defined), native[1](outputs)
        results.append(read)
    monkeypatch.setattr(validity, "_producer_hops", None)
    for (inputs, outputs, defined), read in zip(cases, results, strict=True):
        produced_by = {out: i for i, outs in enumerate(outputs) for out in outs}
        produced_by.pop("", None)
        assert read == (
            validity._reads_before_written(inputs, produced_by, defined),
            validity._named_outputs(outputs),
        )
    assert any(read[0] for read in results) and any(not read[0] for read in results)


# -- the type table from serialized inference results ------------------------------------
def _inference_cases() -> list[tuple[str, onnx.ModelProto]]:
    # Expand to a shape sliced from the input's own: data propagation resolves it
    computed = onnx.parser.parse_model(
        """
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[B, 1] x) => (float[B, 4] y) {
            s = Shape <start = 0, end = 1> (x)
            four = Constant<value = int64[1] {4}>()
            shape = Concat<axis = 0>(s, four)
            y = Expand(x, shape)
        }
        """
    )
    computed.graph.output[0].type.tensor_type.ClearField("shape")  # for inference to find
    bad_perm = onnx.parser.parse_model(
        """
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[2, 3] x) => (float[3, 2] y, float[2, 3] z) {
            y = Transpose<perm = [0, 5]>(x)
            z = Relu(x)
        }
        """
    )
    declared_twice = _chain()
    declared_twice.graph.value_info.extend(
        [
            helper.make_tensor_value_info("t0", TensorProto.FLOAT, [8, 8]),
            helper.make_tensor_value_info("t0", TensorProto.FLOAT16, None),
            helper.make_tensor_value_info("x", TensorProto.INT8, [1]),
        ]
    )
    heavy = _chain()
    heavy.graph.initializer.append(numpy_helper.from_array(np.ones(20000, np.float32), "big"))
    return [
        ("chain", _chain()),
        ("data propagation", computed),
        ("strict error", bad_perm),
        ("value_info twice, and for an input", declared_twice),
        ("large initializer", heavy),
        ("If", _with_if()),
    ]


@pytest.mark.parametrize("label,model", _inference_cases(), ids=lambda c: str(c)[:30])
def test_table_from_serialized_results_equals_parsed(label, model):
    from trtforge.analyzer.inference import infer_table, infer_types

    parsed, serialized = infer_types(model), infer_table(model)
    assert serialized._raw == parsed._raw
    assert serialized.shape_consumers == parsed.shape_consumers
    assert serialized.strict_error == parsed.strict_error
    if label in ("chain", "data propagation"):
        assert not parsed.strict_error
    if label == "data propagation":
        assert serialized.decoded("y") == ("FLOAT", ("B", 4))  # the second, propagating run
    if label == "strict error":
        assert "perm" in parsed.strict_error
    if label != "If":  # (bodies' types are shared per graph)
        distinct = {id(raw) for raw in serialized._raw.values()}
        assert len(distinct) == len(set(serialized._raw.values()))  # equal types: one object


def test_merged_columns_fall_back_when_an_entry_lacks_a_field():
    from trtforge.analyzer._shallow_graph import merged_columns, shallow_graph

    def per_entry(serialized):
        shallow = shallow_graph(serialized)
        return (
            [n.op_type for n in shallow.node],
            [v.name for v in shallow.value_info],
            [v.type for v in shallow.value_info],
        )

    graph = _chain().graph
    graph.value_info.append(helper.make_tensor_value_info("t0", TensorProto.FLOAT, [8, 8]))
    graph.value_info.append(helper.make_tensor_value_info("t1", TensorProto.FLOAT, None))
    whole = graph.SerializeToString()
    assert merged_columns(whole, shallow_graph(whole)) == per_entry(whole)
    untyped = onnx.GraphProto()
    untyped.CopyFrom(graph)
    untyped.value_info.add(name="no type")  # a name, no type: the flat lists misalign
    untyped.node[3].ClearField("op_type")
    serialized = untyped.SerializeToString()
    ops, names, types = merged_columns(serialized, shallow_graph(serialized))
    assert (ops, names, types) == per_entry(serialized)
    assert ops[3] == "" and names[-1] == "no type" and types[-1] == b""


def test_producer_walks_answer_alike_in_any_order():
    """The walks up the producers that the knowledge base remembers per graph (`shape_derived`,
    `reads_float_network_input`: `_tensor_common._depth_memo`) give, for every tensor and
    depth, the answer of a fresh graph view, whatever was asked of the view before."""
    import random

    from trtforge.analyzer.inference import infer_types
    from trtforge.analyzer.kb.ops import _tensor_common as tc

    rng = random.Random(0)
    nodes, names = [], ["x", "n"]
    ops = ["Shape", "Cast", "Add", "Mul", "Relu", "Gather", "Concat", "Neg"]
    for i in range(60):
        op = rng.choice(ops)
        picked = rng.sample(names, 2 if op in ("Add", "Mul", "Concat", "Gather") else 1)
        attrs = {"to": TensorProto.INT64} if op == "Cast" else {}
        if op == "Concat":
            attrs = {"axis": 0}
        nodes.append(helper.make_node(op, picked, [f"t{i}"], **attrs))
        names.append(f"t{i}")
    graph = helper.make_graph(
        nodes,
        "walks",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [4]),
            helper.make_tensor_value_info("n", TensorProto.INT64, [4]),
        ],
        [helper.make_tensor_value_info(names[-1], TensorProto.FLOAT, None)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    types = infer_types(model)
    queries = [
        (walk, name, depth)
        for walk in ("shape_derived", "reads_float_network_input")
        for name in names
        for depth in (0, 1, 2, 3, 5, 8, 24)
    ]
    fresh = {}
    for walk, name, depth in queries:
        view = GraphView(model.graph, types)
        fresh[(walk, name, depth)] = getattr(tc, walk)(view, name, depth)
    assert len(set(fresh.values())) == 2  # both answers occur
    for seed in range(3):
        rng.shuffle(queries)
        shared = GraphView(model.graph, types)
        for walk, name, depth in queries:
            assert getattr(tc, walk)(shared, name, depth) == fresh[(walk, name, depth)], seed


def test_a_large_file_is_hashed_while_it_is_parsed(tmp_path, monkeypatch):
    """From HASH_MEANWHILE_BYTES, load_model hashes the file in a thread while protobuf parses
    it: the same digest, and no thread left behind (a process forks only without one); a
    file that fails to parse still ends the thread."""
    import hashlib
    import threading

    monkeypatch.setattr(loading, "HASH_MEANWHILE_BYTES", 0)
    path = tmp_path / "m.onnx"
    onnx.save(_chain(), path)
    started = []
    real = threading.Thread.start
    monkeypatch.setattr(threading.Thread, "start", lambda self: started.append(1) or real(self))
    loaded = load_model(path)
    assert loaded.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert started and threading.active_count() == 1
    path.write_bytes(b"\xff" * 64)
    with pytest.raises(loading.UserError):
        load_model(path)
    assert threading.active_count() == 1


@pytest.mark.parametrize("from_bytes", [False, True])
def test_constant_rows_are_the_values_constant_value_reads(from_bytes):
    """`GraphView.constant_rows` (the Q/DQ rules' scales and zero points, read a group at a
    time) gives each tensor it covers the elements `constant_value` decodes, in order, and
    leaves out what it cannot read as raw bytes: typed fields, external and segmented data,
    sizes that do not match the dims, empty and over-large tensors, Constant nodes, names
    that are not initializers. On random tensors of every numeric type, BFLOAT16 included;
    `from_bytes`: read from the graph's bytes (`_wire.raw_data_rows`), which here also write
    some fields twice (protobuf reads the last)."""
    import ml_dtypes

    rng = np.random.default_rng(11)
    kinds = [
        np.float32, np.float16, np.float64, np.int8, np.uint8, np.int16, np.uint16,
        np.int32, np.uint32, np.int64, np.uint64, np.bool_, ml_dtypes.bfloat16,
    ]  # fmt: skip
    specials = [0.0, -0.0, np.nan, np.inf, -np.inf, -1.0]
    inits, left_out = [], set()
    for i in range(300):
        kind = kinds[i % len(kinds)]
        shape = [(), (1,), (3,), (2, 4), (1, 1, 5)][rng.integers(5)]
        values = rng.standard_normal(shape) * 50
        if values.size and rng.random() < 0.3:
            values.reshape(-1)[rng.integers(values.size)] = specials[rng.integers(len(specials))]
        with np.errstate(invalid="ignore", over="ignore"):
            array = values.astype(kind)
        if kind is ml_dtypes.bfloat16:
            tensor = helper.make_tensor(
                f"t{i}", TensorProto.BFLOAT16, shape, array.tobytes(), raw=True
            )
        else:
            tensor = numpy_helper.from_array(array, f"t{i}")
        damage = rng.integers(8)
        if damage == 1:  # typed field instead of raw bytes
            tensor = helper.make_tensor(
                f"t{i}", TensorProto.FLOAT, shape, values.reshape(-1).tolist()
            )
            left_out.add(tensor.name)
        elif damage == 2:  # a size that does not match the dims
            tensor.raw_data = tensor.raw_data + b"\0"
            left_out.add(tensor.name)
        elif damage == 3:  # external
            tensor = _external(f"t{i}")
            left_out.add(tensor.name)
        inits.append(tensor)
    inits.append(numpy_helper.from_array(np.zeros(0, np.float32), "empty"))
    inits.append(numpy_helper.from_array(np.zeros(5000, np.float32), "large"))
    segmented = numpy_helper.from_array(np.ones(2, np.float32), "segmented")
    segmented.segment.begin = 0
    inits.append(segmented)
    constant = helper.make_node(
        "Constant", [], ["c"], value=numpy_helper.from_array(np.ones(2, np.float32))
    )
    graph = helper.make_graph([constant], "g", [], [], inits)
    view = GraphView(graph, TypeTable())
    if from_bytes:
        view = _view_from_bytes(graph, rng)
        graph = view.graph
        inits = list({t.name: t for t in graph.initializer}.values())  # the last of a name
        left_out = {t.name for t in inits if not _read_as_raw(t)}
        left_out -= {"empty", "large", "segmented"}
    names = [t.name for t in inits] + ["c", "missing"]
    covered = {}
    for dtype, group, rows in view.constant_rows(names):
        assert rows.shape[0] == len(group)
        for name, row in zip(group, rows, strict=True):
            covered[name] = (dtype, row)
    assert not covered.keys() & (left_out | {"empty", "large", "segmented", "c", "missing"})
    if from_bytes:
        assert view._raw_data_rows(names) is not None  # (read from the bytes)
    assert len(covered) == len(inits) - len(left_out) - 3
    for tensor in inits:
        if tensor.name not in covered:
            continue
        dtype, row = covered[tensor.name]
        assert dtype == onnx.TensorProto.DataType.Name(tensor.data_type)
        expected = numpy_helper.to_array(tensor).reshape(-1)
        if dtype == "BFLOAT16":
            expected = expected.astype(np.float32)
        assert row.dtype == expected.dtype
        assert np.array_equal(row, expected, equal_nan=True), tensor.name
        assert np.array_equal(row, view.constant_value(tensor.name).reshape(-1), equal_nan=True)


def _read_as_raw(tensor: onnx.TensorProto) -> bool:
    """Whether `constant_rows` reads `tensor` as raw bytes (the others: one by one)."""
    count = int(np.prod(tensor.dims))
    return (
        tensor.HasField("raw_data")
        and not tensor.HasField("segment")
        and tensor.data_location != TensorProto.EXTERNAL
        and tensor.data_type in graph_module._ROWS_AS
        and 0 < count <= graph_module.MAX_DECODED_ELEMENTS
        and len(tensor.raw_data) == count * graph_module._ROWS_AS[tensor.data_type].itemsize
    )


def _view_from_bytes(graph: onnx.GraphProto, rng) -> GraphView:
    """A view of `graph` as a file's bytes give it, some of its initializers' raw_data and
    data_location written twice (a first one protobuf does not keep), and a name given to two
    initializers (the last is the one read)."""
    from trtforge.analyzer._shallow_graph import InitializerHeads, _wire
    from trtforge.analyzer.inference import _varint

    def field(number: int, wire: int, payload: bytes) -> bytes:
        if wire == 2:
            payload = _varint(len(payload)) + payload
        return _varint(number << 3 | wire) + payload

    parts = [field(1, 2, n.SerializeToString()) for n in graph.node]
    tensors = list(graph.initializer)
    tensors.append(numpy_helper.from_array(np.full(3, 7, np.int8), tensors[0].name))
    for tensor in tensors:
        wire = tensor.SerializeToString()
        twice = rng.integers(4)
        if twice == 1 and tensor.HasField("raw_data"):  # a longer raw_data first
            wire = field(9, 2, tensor.raw_data + b"\1\2\3\4") + wire
        elif twice == 2:  # EXTERNAL first, then DEFAULT: kept as raw data
            wire = field(14, 0, b"\1") + wire + field(14, 0, b"\0")
        elif twice == 3 and tensor.HasField("raw_data"):  # a raw_data of other bytes last
            wire += field(9, 2, bytes(reversed(tensor.raw_data)))
        parts.append(field(5, 2, wire))
    serialized = b"".join(parts) + field(2, 2, b"g")
    parsed = onnx.GraphProto.FromString(serialized)
    heads = InitializerHeads(*_wire.initializer_heads(serialized))
    return GraphView(parsed, TypeTable(), serialized=serialized, initializer_heads=heads)

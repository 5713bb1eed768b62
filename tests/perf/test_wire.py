"""The native wire reader (`trtforge.analyzer._wire`, csrc/analyzer/wire.cpp) gives exactly what
protobuf's Python API gives through `_shallow_graph`'s message types, on real models and on
hostile bytes, and hands back None — never a wrong answer — for anything it does not expect.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from trtforge.analyzer import _shallow_graph, _speculation
from trtforge.analyzer._shallow_graph import shallow_model_graph
from trtforge.analyzer.inference import _varint

_wire = pytest.importorskip("trtforge.analyzer._wire", reason="the native reader is not built")

ONNX_DATA = Path(onnx.__file__).parent / "backend" / "test" / "data"
REPO = Path(__file__).resolve().parents[2]


def _corpus() -> list[Path]:
    models = sorted(ONNX_DATA.glob("light/*.onnx")) + sorted(ONNX_DATA.glob("node/*/model.onnx"))
    models = models[:: max(1, len(models) // 300)]  # every kind of node, a sample of each
    return models + [REPO / "examples" / "transformer_block.onnx"]


def _protobuf_columns(serialized_graph: bytes, count: int) -> tuple[list, ...]:
    """What protobuf reads of each node, node by node (`_shallow_graph.node_fields`)."""
    nodes = _shallow_graph.node_fields(serialized_graph)
    assert len(nodes) == count
    rows = [(n.name, n.op_type, n.domain, n.input[:], n.output[:], n.attribute[:]) for n in nodes]
    return tuple(map(list, zip(*rows, strict=True))) if rows else ([],) * 6


def _protobuf_types(serialized_model: bytes) -> tuple[list, dict]:
    """What protobuf reads of the model's types, entry by entry (`_shallow_graph`'s shallow
    message types)."""
    shallow = shallow_model_graph(serialized_model)
    value_info = (
        [value.name for value in shallow.value_info],
        [value.type for value in shallow.value_info],
    )
    return [node.op_type for node in shallow.node], _speculation.first_types(shallow, value_info)


def _node_count(serialized_graph: bytes) -> int:
    return len(_shallow_graph._class("shallow", "GraphNodes").FromString(serialized_graph).node)


def test_node_columns_equal_protobufs_on_real_models():
    for path in _corpus():
        graph = onnx.load(path, load_external_data=False).graph
        serialized = graph.SerializeToString()
        native = _wire.node_columns(serialized)
        assert native is not None, path
        assert tuple(map(list, native)) == _protobuf_columns(serialized, len(graph.node)), path


def test_node_columns_of_cut_bytes_are_protobufs_or_none():
    """The node reader reads a few nodes ahead of the one it reads (fetching their names'
    table slots): bytes cut anywhere are read as protobuf reads them where it does, else
    not at all (None), never as the nodes before the cut."""
    graph = helper.make_graph(
        [
            helper.make_node("Relu", [f"t{i}"], [f"t{i + 1}"], name=f"node {i}", alpha=0.5)
            for i in range(12)
        ],
        "cut",
        [],
        [],
    )
    serialized = graph.SerializeToString()
    for cut in range(len(serialized) + 1):
        piece = serialized[:cut]
        try:
            count = _node_count(piece)
        except Exception:  # noqa: BLE001 - protobuf refuses the bytes
            count = None
        native = _wire.node_columns(piece)
        if count is None:
            assert native is None, cut
        else:
            assert native is not None, cut
            assert tuple(map(list, native)) == _protobuf_columns(piece, count), cut


def test_model_types_equal_protobufs_on_inferred_models():
    for path in _corpus():
        model = onnx.load(path, load_external_data=False)
        try:
            model = onnx.shape_inference.infer_shapes(model)
        except Exception:  # noqa: BLE001 - the declared types are a model too
            pass
        serialized = model.SerializeToString()
        ops, types = _wire.model_types(serialized)
        assert (list(ops), types) == _protobuf_types(serialized), path


def _odd_graph() -> bytes:
    """Names that are not UTF-8, fields written twice or left out, unknown fields, a node
    without a name, a value_info entry without a type."""
    graph = helper.make_graph(
        [
            helper.make_node("Relu", ["x"], ["a"], name="first"),
            helper.make_node("Add", ["a", ""], ["b"], domain="custom"),
            helper.make_node("Identity", ["b"], ["y"], name="last", axis=1),
        ],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        value_info=[helper.make_tensor_value_info("a", TensorProto.FLOAT, ["n"])],
    )
    graph.value_info.add().name = "untyped"
    serialized = graph.SerializeToString()
    serialized = serialized.replace(b"first", b"f\xffrst")  # not UTF-8: bytes, as protobuf
    serialized = serialized.replace(b"last", b"\xed\xa0\x80t")  # a surrogate: not UTF-8
    extra_node = helper.make_node("Neg", ["y"], ["z"], name="n1").SerializeToString()
    extra_node += b"\x1a\x02n2" + b"\x22\x03Abs" + b"\xa0\x06\x07"  # name, op again; field 100
    serialized += b"\x0a" + bytes([len(extra_node)]) + extra_node
    serialized += b"\x0a\x00"  # a node with no field at all
    serialized += b"\xb8\x01\x05"  # an unknown varint field of the graph (23)
    return serialized


def test_odd_fields_read_as_protobuf_reads_them():
    serialized = _odd_graph()
    native = _wire.node_columns(serialized)
    assert native is not None
    assert tuple(map(list, native)) == _protobuf_columns(serialized, _node_count(serialized))
    names, ops = native[0], native[1]
    assert names[0] == b"f\xffrst" and names[-2:] == ["n2", ""] and ops[-2:] == ["Abs", ""]
    model = b"\x08\x08" + b"\x3a" + _varint(len(serialized)) + serialized  # ir_version, graph
    ops, types = _wire.model_types(model)
    assert (list(ops), types) == _protobuf_types(model)
    assert list(ops)[-2:] == ["Abs", ""]  # node by node, as onnx reads them
    assert types["untyped"] == b""


def test_names_are_shared_objects():
    """Each distinct name is one Python object: an output and the inputs that read it are
    the same string (hashed once by the dict lookups that follow)."""
    graph = helper.make_graph(
        [helper.make_node("Relu", [f"t{i}"], [f"t{i + 1}"]) for i in range(4)],
        "g",
        [helper.make_tensor_value_info("t0", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("t4", TensorProto.FLOAT, [1])],
    )
    _, _, _, inputs, outputs, _ = _wire.node_columns(graph.SerializeToString())
    assert all(inputs[i + 1][0] is outputs[i][0] for i in range(3))


def test_damaged_bytes_give_protobufs_answer_or_none():
    """Random corruption of a real graph and of an inferred model: where onnx still parses
    the bytes (what reaches the reader has been parsed by onnx first), the reader either
    agrees with protobuf or declines (None); it never differs and never crashes."""
    path = ONNX_DATA / "light" / "light_resnet50.onnx"
    model = onnx.shape_inference.infer_shapes(onnx.load(path, load_external_data=False))
    model.graph.ClearField("initializer")
    graph_bytes, model_bytes = model.graph.SerializeToString(), model.SerializeToString()
    rng = random.Random(0)
    agreed = 0
    for _ in range(600):
        for original, message, native_read, protobuf_read in (
            (
                graph_bytes,
                onnx.GraphProto,
                _wire.node_columns,
                lambda b: _protobuf_columns(b, _node_count(b)),
            ),
            (model_bytes, onnx.ModelProto, _wire.model_types, _protobuf_types),
        ):
            damaged = bytearray(original)
            for _ in range(rng.randint(1, 4)):
                damaged[rng.randrange(len(damaged))] = rng.randrange(256)
            damaged = bytes(damaged[: rng.choice([len(damaged), rng.randrange(len(damaged))])])
            native = native_read(damaged)
            try:
                message.FromString(damaged)
            except Exception:  # noqa: BLE001 - onnx refuses it: no command reads it further
                continue
            if native is None:
                continue
            expected = protobuf_read(damaged)
            assert tuple(map(_plain, native)) == tuple(map(_plain, expected))
            agreed += 1
    assert agreed > 100  # most damage lands inside names and types, which both read alike


def _scoped_types_model() -> onnx.ModelProto:
    """A name typed in the graph and in two bodies, another only in two bodies (different
    types), a body nested in a body, and a Loop among Ifs: which scope's type a name keeps
    is the table's precedence (the graph, then bodies in order)."""

    def vi(name: str, elem: int, shape) -> onnx.ValueInfoProto:
        return helper.make_tensor_value_info(name, elem, shape)

    inner = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["deep"])], "inner", [], [vi("deep", 1, [2])]
    )
    first = helper.make_graph(
        [helper.make_node("If", ["c"], ["deep"], then_branch=inner, else_branch=inner)],
        "first",
        [],
        [vi("deep", 1, [2])],
        value_info=[vi("both", TensorProto.INT64, [1]), vi("shared", TensorProto.INT8, [3])],
    )
    second = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["other"])],
        "second",
        [],
        [vi("other", 1, [2])],
        value_info=[vi("both", TensorProto.INT32, [7]), vi("shared", TensorProto.INT16, [3])],
    )
    loop_body = helper.make_graph(
        [helper.make_node("Identity", ["cond"], ["cond_out"])],
        "loop",
        [vi("i", TensorProto.INT64, []), vi("cond", TensorProto.BOOL, [])],
        [vi("cond_out", TensorProto.BOOL, [])],
    )
    nodes = [
        helper.make_node("If", ["c"], ["a"], then_branch=first, else_branch=second),
        helper.make_node("Loop", ["n", "c"], [], body=loop_body),
        helper.make_node("Identity", ["a"], ["shared"]),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [vi("c", TensorProto.BOOL, []), vi("n", TensorProto.INT64, []), vi("x", 1, [2])],
        [vi("shared", 1, None)],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _table_merging_each_graph_in_turn(graph: onnx.GraphProto) -> dict[str, bytes]:
    """The reference of `TypeTable.add_graph`: each graph's first types (the graph's, then
    its bodies', depth first) merged into the whole table as it is read, the names already
    there keeping their types (and going after the new graph's)."""
    from trtforge.analyzer._shallow_graph import merged_columns, shallow_graph
    from trtforge.analyzer._speculation import first_types

    table: dict[str, bytes] = {}

    def add(graph: onnx.GraphProto) -> None:
        nonlocal table
        serialized = graph.SerializeToString()
        shallow = shallow_graph(serialized)
        fresh = first_types(shallow, merged_columns(serialized, shallow)[1:])
        fresh.update(table)
        table = fresh
        for node in graph.node:
            if node.op_type in _speculation.CONTROL_FLOW:
                for attr in node.attribute:
                    for body in ([attr.g] if attr.HasField("g") else []) + list(attr.graphs):
                        add(body)

    add(graph)
    return table


def test_a_table_of_many_bodies_is_the_one_merging_each_in_turn_gives():
    """`TypeTable.add_graph` reads each graph's types on its own and merges them once (merging
    each body into the whole table copied it for every body: 3,000 Ifs, ~2 s): the same
    entries in the same order as merging each in turn, on exports with nested Loops and Ifs,
    where one name is typed in several scopes, and on many Ifs side by side."""
    from trtforge.analyzer.inference import _collect_types

    models = [_scoped_types_model()]
    for path in sorted((REPO / "tests" / "fixtures" / "detection").glob("*opset17.onnx")):
        model = onnx.load(path, load_external_data=False)
        model.graph.ClearField("initializer")
        models.append(onnx.shape_inference.infer_shapes(model))
    ifs = [
        helper.make_node(
            "If",
            ["c"],
            [f"y{i}"],
            then_branch=helper.make_graph(
                [helper.make_node("Relu", ["x"], ["shared"])],
                "t",
                [],
                [helper.make_tensor_value_info("shared", TensorProto.FLOAT, [i + 1])],
            ),
            else_branch=helper.make_graph(
                [helper.make_node("Neg", ["x"], [f"e{i}"])],
                "e",
                [],
                [helper.make_tensor_value_info(f"e{i}", TensorProto.FLOAT, [2])],
            ),
        )
        for i in range(50)
    ]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])]
    inputs.append(helper.make_tensor_value_info("c", TensorProto.BOOL, []))
    outputs = [helper.make_tensor_value_info(f"y{i}", TensorProto.FLOAT, None) for i in range(50)]
    models.append(helper.make_model(helper.make_graph(ifs, "g", inputs, outputs)))
    for model in models:
        expected = _table_merging_each_graph_in_turn(model.graph)
        assert list(_collect_types(model.graph).serialized_table().items()) == list(
            expected.items()
        )
    shared = _collect_types(models[-1].graph).serialized_table()["shared"]
    assert onnx.TypeProto.FromString(shared).tensor_type.shape.dim[0].dim_value == 1  # the first


def test_inferred_types_equal_the_table_of_the_parsed_model():
    """`_speculation.inferred_types` (the graph's types, then its bodies' from
    `_wire.body_types`) gives the entries `TypeTable.add_graph` reads from the parsed model:
    on exports with nested Loops and Ifs, on ONNX's node cases with bodies, and where one
    name is typed in several scopes."""
    from onnx.backend.test.case import node as node_cases

    from trtforge.analyzer.inference import _collect_types

    models = [_scoped_types_model()]
    for path in sorted((REPO / "tests" / "fixtures" / "detection").glob("*opset17.onnx")):
        model = onnx.load(path, load_external_data=False)
        model.graph.ClearField("initializer")
        models.append(onnx.shape_inference.infer_shapes(model))
    with np.errstate(all="ignore"):  # the cases compute their expected outputs
        cases = node_cases.collect_testcases(None)
    for case in cases:
        if not _speculation.CONTROL_FLOW.isdisjoint(n.op_type for n in case.model.graph.node):
            models.append(onnx.shape_inference.infer_shapes(case.model))
    bodies = 0
    for model in models:
        serialized = model.SerializeToString()
        ops, table = _speculation.inferred_types(serialized)
        assert ops == [node.op_type for node in model.graph.node]
        assert table == dict(_collect_types(model.graph).serialized_table())
        bodies += len(_wire.body_types(serialized))
    assert len(models) > 30 and bodies > 60
    table = _speculation.inferred_types(_scoped_types_model().SerializeToString())[1]
    assert onnx.TypeProto.FromString(table["shared"]).tensor_type.elem_type == TensorProto.FLOAT
    # the If's first attribute is its else_branch (`make_node` sorts them by name)
    assert onnx.TypeProto.FromString(table["both"]).tensor_type.elem_type == TensorProto.INT32


def test_body_types_decline_what_protobuf_would_merge():
    """An attribute holding its `g` twice (protobuf merges the two graphs) is declined."""
    model = _scoped_types_model()
    attribute = model.graph.node[0].attribute[0]
    twice = attribute.SerializeToString() + b"\x32" + _varint(attribute.g.ByteSize())
    twice += attribute.g.SerializeToString()
    node = model.graph.node[0]
    node.ClearField("attribute")
    serialized = model.SerializeToString()
    node_bytes = node.SerializeToString() + b"\x2a" + _varint(len(twice)) + twice
    graph = model.graph
    graph.node.pop(0)
    rest = graph.SerializeToString()
    model.ClearField("graph")
    serialized = model.SerializeToString()
    serialized += b"\x3a" + _varint(len(rest) + len(node_bytes) + 1 + len(_varint(len(node_bytes))))
    serialized += b"\x0a" + _varint(len(node_bytes)) + node_bytes + rest
    parsed = onnx.ModelProto.FromString(serialized)  # protobuf reads it, merging the two
    assert parsed.graph.node[0].op_type == "If" and len(parsed.graph.node) == 3
    assert _wire.body_types(serialized) is None
    assert _speculation.inferred_types(serialized) is None


def _plain(value):
    return list(value) if isinstance(value, (list, tuple)) else value


def test_weight_facts_equal_the_shallow_reads():
    """`_wire.weight_facts` finds the largest initializer and any external tensor where
    `_shallow_graph` does (initializers, sparse initializers' values, tensor attributes), and
    says when a node has a graph attribute."""
    import numpy as np
    from onnx import numpy_helper

    def external(name: str) -> onnx.TensorProto:
        tensor = numpy_helper.from_array(np.zeros(4, np.float32), name)
        tensor.ClearField("raw_data")
        tensor.data_location = TensorProto.EXTERNAL
        tensor.external_data.add(key="location", value="w.bin")
        return tensor

    def model(initializers=(), sparse=(), attribute=None, body=False, in_body=()) -> bytes:
        nodes = [helper.make_node("Relu", ["x"], ["y"])]
        if attribute is not None:
            nodes.append(helper.make_node("Constant", [], ["c"], value=attribute))
        if body:
            branch = helper.make_graph(
                [], "b", [], [helper.make_value_info("y", onnx.TypeProto())], list(in_body)
            )
            inner = helper.make_node("If", ["x"], ["w"], then_branch=branch, else_branch=branch)
            outer = helper.make_graph(
                [inner], "o", [], [helper.make_value_info("w", onnx.TypeProto())]
            )
            nodes.append(helper.make_node("If", ["x"], ["z"], then_branch=outer, else_branch=outer))
        graph = helper.make_graph(
            nodes,
            "g",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])],
            list(initializers),
            sparse_initializer=list(sparse),
        )
        return helper.make_model(graph).SerializeToString()

    small = numpy_helper.from_array(np.zeros(8, np.float32), "s")
    big = numpy_helper.from_array(np.zeros(1 << 15, np.float32), "b")
    sparse = helper.make_sparse_tensor(external("v"), numpy_helper.from_array(np.arange(4)), [8])
    cases = {
        "none": (model(), (0, False, False)),
        "small": (model([small]), (small.ByteSize(), False, False)),
        "big": (model([small, big]), (big.ByteSize(), False, False)),
        "external initializer": (model([external("e")]), (None, True, False)),
        "external sparse values": (model(sparse=[sparse]), (0, True, False)),
        "external attribute": (model(attribute=external("a")), (0, True, False)),
        "graph attribute": (model(body=True), (0, False, True)),
        # a body's weights are inferred as they are: only whether they are external counts
        "weights in a nested body": (model(body=True, in_body=[big]), (0, False, True)),
        "external in a nested body": (model(body=True, in_body=[external("n")]), (0, True, True)),
    }
    for name, (serialized, (largest, is_external, has_body)) in cases.items():
        facts = _wire.weight_facts(serialized)
        assert facts is not None, name
        if largest is not None:
            assert facts[0] == largest, name
        assert facts[1:] == (is_external, has_body), name
        assert facts[1] == (TensorProto.EXTERNAL in _shallow_graph.data_locations(serialized))
    assert _wire.weight_facts(b"\x3a\x05\x0a\x09") is None  # a truncated node


def test_graph_field_is_the_graph_as_the_file_holds_it(tmp_path, monkeypatch):
    """`_shallow_graph.graph_field` gives the bytes of a model's one graph field (None for
    none, several or damaged bytes); `load_model` keeps that view for small files, and the
    node columns read from it are the parsed graph's (`NodeFields.read`), falling back to the
    proto when the bytes do not hold its nodes. A larger file keeps a copy of its nodes
    (`_wire.graph_nodes`)."""
    from trtforge.analyzer import loading
    from trtforge.analyzer.graph import NodeFields

    path = REPO / "examples" / "transformer_block.onnx"
    data = path.read_bytes()
    model = onnx.load_from_string(data)
    view = _shallow_graph.graph_field(data)
    assert view is not None and onnx.GraphProto.FromString(bytes(view)) == model.graph
    assert _shallow_graph.graph_field(data + b"\x3a\x00") is None  # a second graph field
    assert _shallow_graph.graph_field(data[:-3]) is None  # truncated
    assert _shallow_graph.graph_field(b"\x08\x07") is None  # no graph
    loaded = loading.load_model(path)
    assert bytes(loaded.graph_bytes) == bytes(view)
    from_bytes = NodeFields.read(model.graph, loaded.graph_bytes)
    again = NodeFields.read(model.graph)
    assert (from_bytes.names, from_bytes.inputs, from_bytes.attributes) == (
        again.names, again.inputs, again.attributes,
    )  # fmt: skip
    other = helper.make_graph([helper.make_node("Relu", ["a"], ["b"])], "g", [], [])
    mismatched = NodeFields.read(model.graph, other.SerializeToString())
    assert mismatched.ops == again.ops
    # a larger file (mostly weights) keeps a copy of its nodes only: the same columns
    monkeypatch.setattr(loading, "GRAPH_VIEW_BYTES", 0)
    nodes_only = loading.load_model(path).graph_bytes
    assert len(nodes_only) < len(view) and not onnx.GraphProto.FromString(nodes_only).initializer
    assert list(onnx.GraphProto.FromString(nodes_only).node) == list(model.graph.node)
    from_nodes = NodeFields.read(model.graph, nodes_only)
    assert (from_nodes.names, from_nodes.inputs, from_nodes.attributes) == (
        again.names, again.inputs, again.attributes,
    )  # fmt: skip
    assert _wire.graph_nodes(bytes(view)[:-3]) is None  # truncated
    # nodes that are most of the graph (weights in Constant nodes): the graph itself
    weights = numpy_helper.from_array(np.ones((64, 64), np.float32), "w")
    heavy = helper.make_graph(
        [helper.make_node("Constant", [], ["w"], value=weights), helper.make_node("Relu", ["w"], ["y"])],
        "constants", [], [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(np.zeros(4, np.float32), "unused")],
    ).SerializeToString()  # fmt: skip
    assert _wire.graph_nodes(heavy) is heavy
    copied = _wire.graph_nodes(heavy, True)  # (a sparse read's bytes: copied all the same)
    assert isinstance(copied, bytes) and len(copied) < len(heavy)
    parsed, whole = onnx.GraphProto.FromString(copied), onnx.GraphProto.FromString(heavy)
    assert list(parsed.node) == list(whole.node) and not parsed.initializer
    light = _wire.graph_nodes(view)
    assert isinstance(light, bytes) and light == nodes_only


def _heavy_weights_model() -> onnx.ModelProto:
    """A graph whose initializers are: light (a rank-1 float, a rank-2 int64), weights (a
    small rank-2 float; a rank-2 float declared as a graph input too), over 1 KB (a rank-2
    int64), external (a matrix and a scalar), two of one name, the second over 1 KB, and a
    rank-2 float that a OneHot reads."""
    from onnx import numpy_helper

    def external(name: str, dims: list[int]) -> onnx.TensorProto:
        tensor = onnx.TensorProto(name=name, data_type=TensorProto.FLOAT16, dims=dims)
        tensor.data_location = TensorProto.EXTERNAL
        tensor.external_data.add(key="location", value=f"{name}.bin")
        return tensor

    weights = [
        numpy_helper.from_array(np.ones(4, np.float32), "bias"),
        numpy_helper.from_array(np.ones((2, 2), np.int64), "indices"),
        numpy_helper.from_array(np.ones((4, 4), np.float32), "weight"),
        numpy_helper.from_array(np.ones((64, 4), np.float32), "declared"),
        numpy_helper.from_array(np.ones((2, 300), np.int64), "wide_ints"),
        external("outside", [4, 4]),
        external("scalar", []),
        numpy_helper.from_array(np.ones(4, np.float32), "twice"),
        numpy_helper.from_array(np.ones(4, np.float32), "twice"),
    ]
    weights[-1].raw_data = weights[-1].raw_data * 128  # the second is over 1 KB
    # a rank-2 FLOAT that a OneHot reads (as opset 9 does its indices' values): not a weight
    weights.append(numpy_helper.from_array(np.ones((2, 2), np.float32), "hot"))
    graph = helper.make_graph(
        [
            helper.make_node("Add", ["x", "bias"], ["y"]),
            helper.make_node("OneHot", ["hot", "depth", "on_off"], ["h"]),
        ],
        "weights",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4]),
            helper.make_tensor_value_info("declared", TensorProto.FLOAT, [64, 4]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        weights,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_weightless_is_the_full_paths_model_without_its_weights(monkeypatch):
    """`_wire.weightless` leaves out the top-level initializers serialized in more than the
    limit, stored externally, or of rank 2 or more and an element type not listed, unless a
    listed op reads it (weights), every initializer of such a name, and declares each as a
    graph input of its type, as
    `inference._weightless` does on the parsed model; dims written packed and element types
    written as 64-bit varints read as protobuf reads them; malformed bytes and two graph
    fields: None."""
    from trtforge.analyzer import _speculation, inference

    model = _heavy_weights_model()
    data = model.SerializeToString()
    monkeypatch.setattr(inference, "MAX_INFERENCE_INITIALIZER_BYTES", 1024)
    values = sorted(_speculation.INFERENCE_READS_VALUES_OF)
    ops = sorted(_speculation.INFERENCE_READS_ANY_RANK_OF)
    made, added = _wire.weightless(data, 1024, values, ops)
    light = onnx.ModelProto.FromString(made)
    expected = inference._weightless(model)
    assert [t.name for t in light.graph.initializer] == ["bias", "indices", "hot"]
    for field in ("input", "initializer", "node", "output", "value_info"):
        assert list(getattr(light.graph, field)) == list(getattr(expected.graph, field)), field
    assert [i.name for i in light.graph.input] == [
        "x", "declared", "weight", "wide_ints", "outside", "scalar", "twice",
    ]  # fmt: skip
    assert added == [(v.name, v.type.SerializeToString()) for v in light.graph.input[2:]]
    assert light.opset_import == expected.opset_import and light.ir_version == model.ir_version
    # with no limit to speak of, the external ones and the weights go
    kept = onnx.ModelProto.FromString(_wire.weightless(data, 1 << 30, values, ops)[0])
    names = ["bias", "indices", "wide_ints", "twice", "twice", "hot"]
    assert [t.name for t in kept.graph.initializer] == names
    # with no element type listed, every tensor of rank 2 or more goes
    kept = onnx.ModelProto.FromString(_wire.weightless(data, 1 << 30, [], ops)[0])
    assert [t.name for t in kept.graph.initializer] == ["bias", "twice", "twice", "hot"]
    # with no op listed, the OneHot's goes too
    kept = onnx.ModelProto.FromString(_wire.weightless(data, 1 << 30, values, [])[0])
    assert "hot" not in [t.name for t in kept.graph.initializer]
    # a tensor's dims written packed, its element type (INT64) as a 64-bit varint
    tensor = helper.make_tensor("packed", TensorProto.INT64, [3, 70000], np.zeros(210000))
    tensor.ClearField("dims")
    tensor.ClearField("data_type")
    packed = b"".join(_varint(d) for d in (3, 70000))
    head = b"\x0a" + _varint(len(packed)) + packed + b"\x10" + _varint((1 << 32) + 7)
    serialized = head + tensor.SerializeToString()
    parsed = onnx.TensorProto.FromString(serialized)
    assert (list(parsed.dims), parsed.data_type) == ([3, 70000], TensorProto.INT64)
    graph = b"\x2a" + _varint(len(serialized)) + serialized  # GraphProto.initializer (5)
    model_bytes = b"\x3a" + _varint(len(graph)) + graph  # ModelProto.graph (7)
    kept = onnx.ModelProto.FromString(_wire.weightless(model_bytes, 1 << 30, values, ops)[0]).graph
    assert [t.name for t in kept.initializer] == ["packed"]  # INT64: not a weight
    declared = onnx.ModelProto.FromString(_wire.weightless(model_bytes, 1024, values, ops)[0]).graph
    assert helper.printable_value_info(declared.input[0]) == "%packed[INT64, 3x70000]"
    assert _wire.weightless(data[:-3], 1024, values, ops) is None  # truncated
    assert _wire.weightless(data + b"\x3a\x00", 1024, values, ops) is None  # a second graph field
    with pytest.raises(TypeError):
        _wire.weightless(data, 1024, None, ops)


def test_weightless_leaves_constant_weights_without_values():
    """`_wire.weightless` leaves a top-level Constant's weight (a `value` of rank 2 or more,
    not INT32/INT64, held in the file, read by no node of the listed ops, the Constant of the
    default domain) without its data, and every other Constant as it is, as
    `inference._weightless` does; the node count and order stay."""
    from trtforge.analyzer import _speculation, inference

    def constant(name: str, tensor: onnx.TensorProto, domain: str = "", **attrs):
        return helper.make_node("Constant", [], [name], domain=domain, value=tensor, **attrs)

    def array(values, name: str) -> onnx.TensorProto:
        return numpy_helper.from_array(np.asarray(values), name)

    typed = helper.make_tensor("typed", TensorProto.FLOAT, [2, 3], [1.0] * 6)  # float_data
    outside = TensorProto(name="outside", data_type=TensorProto.FLOAT, dims=[4, 4])
    outside.data_location = TensorProto.EXTERNAL
    outside.external_data.add(key="location", value="outside.bin")
    nodes = [
        constant("w", array(np.ones((4, 4), np.float32), "w")),  # a weight
        constant("typed", typed),  # a weight in float_data
        constant("dotted", array(np.ones((2, 2), np.float16), "dotted"), domain="ai.onnx"),
        constant("ints", array(np.ones((2, 2), np.int64), "ints")),  # INT64: kept
        constant("vector", array(np.ones(4, np.float32), "vector")),  # rank 1: kept
        constant("hot", array(np.ones((2, 2), np.float32), "hot")),  # read by a OneHot: kept
        constant("custom", array(np.ones((4, 4), np.float32), "custom"), domain="my.ops"),
        constant("outside", outside),  # external: kept
        helper.make_node("Constant", [], ["floats"], value_floats=[1.0, 2.0]),
        helper.make_node("MatMul", ["x", "w"], ["y"]),
        helper.make_node("OneHot", ["hot", "depth", "on_off"], ["h"]),
    ]
    graph = helper.make_graph(
        nodes, "constants", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    values = sorted(_speculation.INFERENCE_READS_VALUES_OF)
    ops = sorted(_speculation.INFERENCE_READS_ANY_RANK_OF)
    made, added = _wire.weightless(model.SerializeToString(), 1 << 30, values, ops)
    light = onnx.ModelProto.FromString(made).graph
    assert added == [] and not light.initializer and list(light.input) == list(graph.input)
    expected = inference._weightless(model).graph
    assert list(light.node) == list(expected.node)
    bare = {kept.output[0] for kept, node in zip(light.node, nodes, strict=True) if kept != node}
    assert bare == {"w", "typed", "dotted"}
    for kept in light.node[:3]:
        tensor = kept.attribute[0].t
        assert not tensor.raw_data and not tensor.float_data and len(tensor.dims) == 2
        assert tensor.name == kept.output[0] and tensor.data_type in (1, 10)
    # with no op listed, the OneHot's Constant goes too
    unlisted = _wire.weightless(model.SerializeToString(), 1 << 30, values, [])[0]
    assert not onnx.ModelProto.FromString(unlisted).graph.node[5].attribute[0].t.raw_data


def _random_tensor(rng: random.Random) -> bytes:
    """A serialized TensorProto as a file may hold one: right or wrong raw_data lengths,
    typed fields, external data, negative, packed or repeated dims, fields written twice,
    unknown element types and data_locations."""
    fields = []
    dims = [rng.choice([0, 1, 2, 3, 5, 1 << 33, -1]) for _ in range(rng.randint(0, 3))]
    if rng.random() < 0.3:
        packed = b"".join(_varint(d & (2**64 - 1)) for d in dims)
        fields.append(b"\x0a" + _varint(len(packed)) + packed)
    else:
        fields += [b"\x08" + _varint(d & (2**64 - 1)) for d in dims]
    for _ in range(rng.choice([1, 1, 1, 2])):
        data_type = rng.choice([*range(0, 27), 99, -3, (1 << 32) + 1])
        fields.append(b"\x10" + _varint(data_type & (2**64 - 1)))
    count = 1
    for d in dims:
        count *= max(d, 0)
    count = min(count, 64)
    raws = rng.choice([0, 1, 1, 1, 2])
    for _ in range(raws):
        size = rng.choice([count, count * 2, count * 4, count * 8, count // 2, 0, 3])
        fields.append(b"\x4a" + _varint(size) + bytes(size))  # raw_data (9)
    if not raws and rng.random() < 0.5:  # the values in their element type's typed field
        field = {1: 4, 11: 10, 7: 7, 12: 11, 13: 11}.get(data_type, 5)
        width = {4: 4, 10: 8}.get(field)
        values = bytes(count * width) if width else b"".join(_varint(v) for v in range(count))
        fields.append(_varint(field << 3 | 2) + _varint(len(values)) + values)
    if rng.random() < 0.3:
        fields.append(b"\x70" + _varint(rng.choice([0, 1, 1, 7])))  # data_location (14)
    for _ in range(rng.choice([0, 0, 1, 2, 3])):  # external_data (13): entries, odd ones too
        entry = b""
        if rng.random() < 0.95:
            key = rng.choice([b"location", b"offset", b"length", b"length", b"checksum", b""])
            entry += b"\x0a" + _varint(len(key)) + key
        if rng.random() < 0.95:
            value = rng.choice(
                [b"w.bin", str(count * rng.choice([1, 2, 4, 8])).encode(), b"0", b"", b"007",
                 b"12a", b" 4", "\u00b2".encode(), b"\xff", b"99999999999999999999999"]
            )  # fmt: skip
            entry += b"\x12" + _varint(len(value)) + value
        if rng.random() < 0.05:
            entry += b"\x10\x01"  # key (1) with the wrong wire type
        fields.append(b"\x6a" + _varint(len(entry)) + entry)
    if rng.random() < 0.2:
        values = b"".join(_varint(v) for v in range(rng.choice([count, 1, 0])))
        fields.append(b"\x3a" + _varint(len(values)) + values)  # int64_data (7), packed
    for _ in range(rng.choice([0, 0, 1, 1, 2])):  # another typed field, packed or not
        n = rng.choice([count, count, count + 1, max(count - 1, 0), 0])
        field = rng.choice([4, 5, 7, 10, 11])
        if rng.random() < 0.8:  # packed
            width = {4: 4, 10: 8}.get(field)
            values = bytes(n * width) if width else b"".join(_varint(v) for v in range(n))
            values += b"\x00" * rng.choice([0, 0, 0, 1])  # now and then a byte too many
            fields.append(_varint(field << 3 | 2) + _varint(len(values)) + values)
        else:
            wire = {4: 5, 10: 1}.get(field, 0)
            one = bytes({5: 4, 1: 8}.get(wire, 1))
            fields += [_varint(field << 3 | wire) + one for _ in range(n)]
    if rng.random() < 0.05:
        fields.append(b"\x1a\x00")  # a segment (3), empty
    if rng.random() < 0.1:
        fields.append(b"\x45" + bytes(4))  # field 8 (name) with the wrong wire type
    fields.append(b"\x42\x01t")  # name (8)
    rng.shuffle(fields)
    return b"".join(fields)


def test_sound_tensors_are_those_validity_finds_nothing_in():
    """`_wire.sound_tensors` marks an initializer sound only where `validity`'s own check
    of it, on the tensor protobuf parses, finds no problem (the check then skips it); plain
    weights are marked sound."""
    from onnx import numpy_helper

    from trtforge.analyzer import validity

    rng = random.Random(11)
    marked = checked = external = 0
    for _ in range(3000):
        tensors = [_random_tensor(rng) for _ in range(rng.randint(1, 4))]
        graph = b"".join(b"\x2a" + _varint(len(t)) + t for t in tensors)
        try:
            parsed = onnx.GraphProto.FromString(graph)
        except Exception:  # noqa: BLE001 - bytes protobuf refuses: nothing to compare
            continue
        sound = _wire.sound_tensors(graph, validity.raw_data_bits())
        assert sound is not None and len(sound) == len(parsed.initializer)
        for ok, tensor in zip(sound, parsed.initializer, strict=True):
            checked += 1
            if ok:
                marked += 1
                external += tensor.data_location == TensorProto.EXTERNAL
                assert not list(validity._tensor_problems(tensor, "", None, "initializer"))
    assert checked > 5000 and marked > 200 and external > 100
    weights = [
        numpy_helper.from_array(np.ones(shape, dtype), "w").SerializeToString()
        for shape, dtype in [((4, 4), np.float32), ((3,), np.int64), ((), np.float16)]
    ]
    graph = b"".join(b"\x2a" + _varint(len(t)) + t for t in weights)
    assert _wire.sound_tensors(graph, validity.raw_data_bits()) == b"\x01\x01\x01"
    assert _wire.sound_tensors(graph[:-2], validity.raw_data_bits()) is None
    with pytest.raises(TypeError):
        _wire.sound_tensors(graph, None)


def test_external_initializers_are_what_the_protos_hold(tmp_path):
    """`_wire.external_initializers` reads each external top-level initializer's location,
    offset, length and size as `loading` reads them from the parsed protos (the records of
    `loading._external_records` without the graph's bytes), and tells when another tensor
    (a node's attribute, a body's) is external; where protobuf and it would read a text or
    a field apart, it declines."""
    from trtforge.analyzer import loading, validity

    rng = random.Random(5)
    compared = external = declined = 0
    for _ in range(3000):
        tensors = [_random_tensor(rng) for _ in range(rng.randint(1, 4))]
        graph = b"".join(b"\x2a" + _varint(len(t)) + t for t in tensors)
        if rng.random() < 0.2:  # a Constant node holding one of them
            attribute = b"\x0a\x05value\x2a" + _varint(len(tensors[0])) + tensors[0]
            node = b"\x2a" + _varint(len(attribute)) + attribute
            graph += b"\x0a" + _varint(len(node)) + node
        try:
            parsed = onnx.GraphProto.FromString(graph)
        except Exception:  # noqa: BLE001 - bytes protobuf refuses: nothing to compare
            continue
        model = onnx.ModelProto(graph=parsed)
        read = _wire.external_initializers(graph, validity.raw_data_bits())
        if read is None:
            declined += 1
            continue
        found, others = read
        assert others == any(
            t.data_location == TensorProto.EXTERNAL
            for node in parsed.node
            for a in node.attribute
            for t in [a.t]
        )
        expected = list(loading._external_records(model, None))
        if not others:
            compared += 1
            external += len(found)
            assert list(loading._external_records(model, graph)) == expected
            assert [i for i, *_ in found] == [
                i
                for i, t in enumerate(parsed.initializer)
                if t.data_location == TensorProto.EXTERNAL
            ]
    assert compared > 1500 and external > 500 and declined > 20
    # 2^61 DOUBLEs need 2^64 bytes: more than an unsigned 64-bit value holds (declined, and
    # the protos' reading gives the size whole)
    huge = onnx.TensorProto(name="w", data_type=TensorProto.DOUBLE, dims=[1 << 30, 1 << 31])
    huge.data_location = TensorProto.EXTERNAL
    entry = huge.external_data.add()
    entry.key, entry.value = "location", "w.bin"
    model = onnx.ModelProto(graph=onnx.GraphProto(initializer=[huge]))
    graph = model.graph.SerializeToString()
    assert _wire.external_initializers(graph, validity.raw_data_bits()) is None
    assert list(loading._external_records(model, graph))[0][4] == 1 << 64


def test_attribute_keys_leave_out_only_the_values_of_sound_tensors():
    """`_wire.attribute_keys` keys a tensor attribute without its values only when the tensor
    is sound (validity finds nothing in it, on random encodings) and holds enough raw data:
    two weights of one type and dims get one key, whatever their values, names and doc
    strings; another element type, other dims, another attribute name, a graph beside the
    tensor, a short or a damaged tensor each keep what sets them apart."""
    from trtforge.analyzer import validity

    bits = validity.raw_data_bits()

    def attribute(tensor: onnx.TensorProto, name: str = "value") -> bytes:
        return helper.make_attribute(name, tensor).SerializeToString()

    def key(serialized: bytes):
        (keys,) = _wire.attribute_keys([[serialized]], bits, 64)
        return keys[0] if type(keys) is tuple else None

    ones = numpy_helper.from_array(np.ones((4, 4), np.float32), "a")
    twos = numpy_helper.from_array(np.full((4, 4), 2, np.float32), "b")
    twos.doc_string = "other"
    assert key(attribute(ones)) is not None and key(attribute(ones)) == key(attribute(twos))
    others = [
        numpy_helper.from_array(np.ones((4, 4), np.int32), "a"),
        numpy_helper.from_array(np.ones((2, 8), np.float32), "a"),
    ]
    assert len({key(attribute(ones)), *(key(attribute(t)) for t in others)}) == 3
    assert key(attribute(ones, "other")) != key(attribute(ones))
    assert key(attribute(ones))[0] is None  # values left out
    # a small tensor (16 B), or one that is not sound, keeps its values; named or documented,
    # it is keyed without its name and doc string (1, ...); unnamed, by its own bytes
    small = [np.ones(4, np.float32), np.full(4, 2, np.float32)]
    named = [numpy_helper.from_array(values, name) for values in small for name in "ab"]
    named[1].doc_string = "documented"
    keys = [key(attribute(t)) for t in named]
    assert keys[0][0] == 1 and keys[0] == keys[1] != keys[2] == keys[3]
    unnamed = numpy_helper.from_array(small[0])
    unnamed.ClearField("name")
    assert key(attribute(unnamed)) is None
    short = onnx.TensorProto()
    short.CopyFrom(ones)
    short.raw_data = short.raw_data[:-4]
    assert key(attribute(short))[0] == 1
    short.ClearField("name")
    assert key(attribute(short)) is None
    with_graph = helper.make_attribute("value", ones)
    with_graph.g.CopyFrom(helper.make_graph([], "g", [], []))
    assert key(with_graph.SerializeToString()) is None
    # a node's list comes back as it is when nothing is left out
    plain = [attribute(short), helper.make_attribute("axis", 1).SerializeToString()]
    keys = _wire.attribute_keys([plain, [attribute(ones), plain[1]]], bits, 64)
    assert keys[0] is plain and keys[1][1] is plain[1] and keys[1][0] == key(attribute(ones))
    # on random encodings: values left out only where validity finds nothing; a key that
    # keeps them holds every field of the tensor but its name and doc string, in order
    rng = random.Random(12)
    elided = kept = typed = 0
    for _ in range(3000):
        serialized = _random_tensor(rng)
        wrapped = b"\x0a\x05value\x2a" + _varint(len(serialized)) + serialized + b"\xa0\x01\x04"
        try:
            tensor = onnx.AttributeProto.FromString(wrapped).t
        except Exception:  # noqa: BLE001 - bytes protobuf refuses: nothing to compare
            continue
        made = _wire.attribute_keys([[wrapped]], bits, 1)[0]
        if type(made) is not tuple:
            assert not tensor.HasField("name") and not tensor.HasField("doc_string")
            continue
        if made[0][0] is None:
            elided += 1
            typed += not tensor.HasField("raw_data")  # (values in a typed field)
            assert not list(validity._tensor_problems(tensor, "", None, "tensor attribute"))
            continue
        kept += 1
        assert made[0][0] == 1 and made[0][1] == b"\x0a\x05value\xa0\x01\x04"
        stripped = onnx.TensorProto.FromString(made[0][2])
        renamed = onnx.TensorProto()
        renamed.CopyFrom(tensor)
        renamed.ClearField("name")
        renamed.ClearField("doc_string")
        for proto in (stripped, renamed):  # (a name of another wire type: an unknown field,
            proto.DiscardUnknownFields()  # which the key leaves out as well)
        assert stripped == renamed
    assert elided > 100 and kept > 100 and typed > 10, (elided, kept, typed)
    with pytest.raises(TypeError):
        _wire.attribute_keys([[attribute(ones)]], None, 64)


def test_attribute_keys_leave_out_values_held_in_typed_fields():
    """onnx.helper's make_tensor writes values in the typed field of their element type
    (float_data, int64_data...): a sound tensor of that kind (one packed run of exactly the
    values its dims need) of 64 bytes of values or more is keyed without them, as one with
    raw_data is; a count that does not fit, an unpacked run, the values in another type's
    field or a small tensor keep them. (That validity finds nothing in a tensor keyed so is
    held on random encodings by the test above.)"""
    from trtforge.analyzer import validity

    bits = validity.raw_data_bits()

    def key(tensor: onnx.TensorProto):
        serialized = helper.make_attribute("value", tensor).SerializeToString()
        (keys,) = _wire.attribute_keys([[serialized]], bits, 64)
        return keys[0] if type(keys) is tuple else None

    rng = np.random.default_rng(3)
    for data_type, count in [
        (TensorProto.FLOAT, 16),
        (TensorProto.INT64, 8),
        (TensorProto.INT32, 16),
        (TensorProto.FLOAT16, 32),
        (TensorProto.DOUBLE, 8),
        (TensorProto.UINT64, 8),
        (TensorProto.BOOL, 64),
    ]:
        dtype = helper.tensor_dtype_to_np_dtype(data_type)
        made = [
            helper.make_tensor(f"t{i}", data_type, [count], rng.integers(0, 2, count).astype(dtype))
            for i in range(2)
        ]
        assert not any(t.HasField("raw_data") for t in made)
        keys = [key(t) for t in made]
        assert keys[0] is not None and keys[0][0] is None and keys[0] == keys[1], data_type
        small = helper.make_tensor("s", data_type, [count // 2], np.zeros(count // 2, dtype))
        assert key(small)[0] == 1  # (named: keyed by its values, without the name)
    floats = helper.make_tensor("f", TensorProto.FLOAT, [16], np.ones(16, np.float32))
    wrong_count = onnx.TensorProto()
    wrong_count.CopyFrom(floats)
    wrong_count.float_data.append(1.0)
    other_field = onnx.TensorProto()
    other_field.CopyFrom(floats)
    other_field.ClearField("float_data")
    other_field.int64_data.extend(range(16))
    assert {key(t)[0] for t in (wrong_count, other_field)} == {1}
    # written one by one (protobuf itself writes them packed: the bytes are made here)
    unpacked = b"\x08\x10\x10\x01\x42\x01f" + b"".join(b"\x25" + bytes(4) for _ in range(16))
    assert len(onnx.TensorProto.FromString(unpacked).float_data) == 16
    wrapped = b"\x0a\x05value\x2a" + _varint(len(unpacked)) + unpacked + b"\xa0\x01\x04"
    assert _wire.attribute_keys([[wrapped]], bits, 64)[0][0][0] == 1
    assert key(floats) != key(wrong_count)


#: AttributeProto's fields that hold a number, a string or a list of them
_VALUE_FIELDS = ("f", "i", "s", "floats", "ints", "strings")


def _what_validity_reads(serialized: bytes) -> tuple[bytes, tuple[str, ...]]:
    """An attribute's every field but its values, and which value fields hold something:
    what `validity._judge_node` reads of it."""
    attribute = onnx.AttributeProto.FromString(serialized)
    held = tuple(
        field
        for field in _VALUE_FIELDS
        if (len(getattr(attribute, field)) if field.endswith("s") and field != "s"
            else attribute.HasField(field))
    )  # fmt: skip
    for field in _VALUE_FIELDS:
        attribute.ClearField(field)
    return attribute.SerializeToString(deterministic=True), held


def _random_attribute(rng: random.Random) -> bytes:
    """A serialized AttributeProto of random fields: value fields of random values (now and
    then an empty packed list, a field given twice), a type, a doc string, a reference, a
    tensor."""
    attribute = onnx.AttributeProto(name=rng.choice(["alpha", "axes", "mode"]))
    if rng.random() < 0.8:
        attribute.type = rng.choice([1, 2, 3, 6, 7, 8, 4])
    for field in rng.sample(_VALUE_FIELDS, rng.choice([0, 1, 1, 1, 2])):
        if field == "f":
            attribute.f = rng.choice([0.0, 0.5, rng.random()])
        elif field == "i":
            attribute.i = rng.choice([0, 1, -7, rng.randrange(1 << 40)])
        elif field == "s":
            attribute.s = rng.choice([b"", b"linear", bytes([rng.randrange(256)])])
        elif field == "floats":
            attribute.floats.extend(rng.random() for _ in range(rng.randrange(1, 4)))
        elif field == "ints":
            attribute.ints.extend(rng.randrange(-9, 9) for _ in range(rng.randrange(1, 4)))
        else:
            attribute.strings.extend(b"x" * rng.randrange(3) for _ in range(rng.randrange(1, 3)))
    if rng.random() < 0.1:
        attribute.doc_string = rng.choice(["a", "b"])
    if rng.random() < 0.1:
        attribute.ref_attr_name = "r"
    if rng.random() < 0.1:
        attribute.t.CopyFrom(numpy_helper.from_array(np.array([rng.randrange(2)], np.int64)))
    serialized = attribute.SerializeToString()
    if rng.random() < 0.1:  # a packed list of no element: ints (8) and floats (7)
        serialized += rng.choice([b"\x42\x00", b"\x3a\x00"])
    if rng.random() < 0.1:  # a number given twice (the last one counts)
        serialized += rng.choice([b"\x18\x05", b"\x15\x00\x00\x80\x3f"])
    return serialized


def test_attribute_forms_tell_apart_what_validity_reads():
    """`_wire.attribute_forms` drops only the values of number, string and list attributes:
    on random encodings, attributes of one form agree in everything but those values and in
    which value fields hold something (what validity reads of them), and attributes
    protobuf writes that agree so have one form. A tensor's key, an attribute without value
    fields and malformed bytes come back as they are."""
    rng = random.Random(7)
    attributes = list(dict.fromkeys(_random_attribute(rng) for _ in range(4000)))
    (forms,) = _wire.attribute_forms([attributes])
    by_form: dict[bytes, set] = {}
    for serialized, form in zip(attributes, forms, strict=True):
        by_form.setdefault(form, set()).add(_what_validity_reads(serialized))
    assert all(len(read) == 1 for read in by_form.values())
    assert len(by_form) < len(attributes) * 0.7  # values left out: forms are shared
    # canonical bytes of one reading: one form
    canonical = [onnx.AttributeProto.FromString(a).SerializeToString() for a in attributes]
    (forms,) = _wire.attribute_forms([canonical])
    by_reading: dict[tuple, set] = {}
    for serialized, form in zip(canonical, forms, strict=True):
        by_reading.setdefault(_what_validity_reads(serialized), set()).add(form)
    assert all(len(found) == 1 for found in by_reading.values())
    # values of one form: LeakyRelu's alphas, Transpose's perms of several lengths
    alphas = [helper.make_attribute("alpha", a).SerializeToString() for a in (0.1, 0.2, 0.0)]
    perms = [helper.make_attribute("perm", p).SerializeToString() for p in ([1, 0], [2, 0, 1])]
    forms = _wire.attribute_forms([alphas, perms])
    assert len(set(forms[0])) == 1 and len(set(forms[1])) == 1 and forms[0][0] != forms[1][0]
    # what comes back as it is
    key = (None, b"outside", b"tensor")
    plain = helper.make_attribute("value", numpy_helper.from_array(np.ones(2))).SerializeToString()
    damaged = alphas[0][:-1]
    body = helper.make_attribute("body", helper.make_graph([], "b", [], []))
    body.i = 1  # (a value beside a graph: the attribute is still its own form)
    body = body.SerializeToString()
    (back,) = _wire.attribute_forms([[key, plain, damaged, body]])
    assert back[0] is key and back[1] is plain and back[2] is damaged and back[3] is body
    with pytest.raises(TypeError):
        _wire.attribute_forms([b"not a list"])


def test_initializer_heads_are_what_protobuf_reads():
    """`_wire.initializer_heads` gives each initializer's name, element type and dims as
    protobuf parses them (random encodings: packed and repeated dims, fields written twice,
    64-bit element types, names that are not UTF-8), kinds numbered in order of first
    appearance; None for bytes it does not understand."""
    rng = random.Random(13)
    compared = 0
    for _ in range(2000):
        tensors = [_random_tensor(rng) for _ in range(rng.randint(1, 4))]
        if rng.random() < 0.1:
            tensors.append(b"\x42\x02\xff\xfe")  # a name that is not UTF-8
        graph = b"".join(b"\x2a" + _varint(len(t)) + t for t in tensors)
        try:
            parsed = onnx.GraphProto.FromString(graph)
        except Exception:  # noqa: BLE001 - bytes protobuf refuses: nothing to compare
            continue
        names, kinds, table = _wire.initializer_heads(graph)
        assert names == [t.name for t in parsed.initializer]
        assert [table[k] for k in kinds] == [
            (t.data_type, tuple(t.dims)) for t in parsed.initializer
        ]
        assert sorted(set(kinds)) == list(range(len(table))) and kinds[0] == 0
        compared += 1
    assert compared > 1000
    assert _wire.initializer_heads(b"\x2a\x05\x08") is None  # truncated
    assert _wire.initializer_heads(b"") == ([], [], [])


def test_large_attributes_are_views_of_the_graphs_bytes():
    """`node_columns` hands a large attribute (a Constant's weight) over as a read-only view
    of the bytes it read, equal to the serialized attribute and hashing alike, and keyed by
    `attribute_keys` as the bytes are; a writable buffer gives copies."""
    from trtforge.analyzer import validity

    weight = numpy_helper.from_array(np.ones((16, 16), np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("Constant", [], ["w"], value=weight), helper.make_node("Relu", ["w"], ["y"])],
        "g", [], [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )  # fmt: skip
    serialized = graph.SerializeToString()
    expected = graph.node[0].attribute[0].SerializeToString()
    for source in (serialized, memoryview(serialized)):
        (held,) = _wire.node_columns(source)[5][0]
        assert type(held) is memoryview and held.readonly
        assert held == expected and hash(held) == hash(expected)
        assert onnx.AttributeProto.FromString(held).t == weight
        keys = _wire.attribute_keys([[held], [expected]], validity.raw_data_bits(), 64)
        assert type(keys[0][0]) is tuple and keys[0] == keys[1]
    (copied,) = _wire.node_columns(bytearray(serialized))[5][0]
    assert type(copied) is bytes and copied == expected


def _lean_expected(
    model: bytes, min_elements: int, max_bytes: int
) -> tuple[onnx.ModelProto, list[int]]:
    """What `lean_model` must give: the positions of the initializers `sound_tensors` marks
    sound (each has, as protobuf parses it, exactly the raw_data its element type and dims
    need, no dim below 0, data_location DEFAULT) of more than `min_elements` elements that
    shape inference runs without (more than `max_bytes` of raw data, or a weight no
    OneHot/Resize/Upsample/Loop reads: heavy by `inference._is_heavy` too, at its limit),
    and protobuf's parse of `model` with those initializers' raw_data cleared."""
    from trtforge.analyzer import inference, validity

    bits = validity.raw_data_bits()
    parsed = onnx.ModelProto.FromString(model)
    sound = _wire.sound_tensors(parsed.graph.SerializeToString(), bits)
    valued = {
        name
        for node in parsed.graph.node
        if node.op_type in _speculation.INFERENCE_READS_ANY_RANK_OF
        for name in node.input
    }
    elided = []
    for i, t in enumerate(parsed.graph.initializer):
        if not sound[i] or t.data_location == TensorProto.EXTERNAL:  # (sound: its length)
            continue
        count = int(np.prod(t.dims, dtype=object))
        assert t.HasField("raw_data") and t.data_location == TensorProto.DEFAULT
        assert len(t.raw_data) == (count * bits[t.data_type] + 7) // 8
        assert min(t.dims, default=0) >= 0
        weight = inference._may_be_weight(t) and t.name not in valued
        if count > min_elements and (weight or len(t.raw_data) > max_bytes):
            assert weight or t.ByteSize() > max_bytes  # `_is_heavy` with this limit
            elided.append(i)
    for i in elided:
        parsed.graph.initializer[i].ClearField("raw_data")
    return parsed, elided


def _lean(model: bytes, min_elements: int, max_bytes: int = 64 << 10):
    from trtforge.analyzer import validity

    _, value_types, value_ops = _speculation.WEIGHT_RULE
    return _wire.lean_model(
        model, validity.raw_data_bits(), min_elements, max_bytes, value_types, value_ops
    )


def test_lean_model_is_the_model_without_its_large_sound_weights_data():
    """`_wire.lean_model` leaves out the raw data of exactly the top-level initializers that
    are sound (validity finds nothing in them), hold more than `min_elements` elements and
    that shape inference runs without (`inference._is_heavy`), tells where each one's raw
    data is, and keeps every other byte as protobuf reads it (random encodings: fields
    written twice, wrong lengths, external data, typed fields, weights a Resize reads);
    None for bytes it does not understand."""
    rng = random.Random(17)
    compared = elided_total = 0
    for _ in range(3000):
        tensors = [_random_tensor(rng) for _ in range(rng.randint(1, 4))]
        op = rng.choice(["Relu", "Relu", "Resize"])
        node = helper.make_node(op, ["t"], ["y"]).SerializeToString()
        graph = b"\x0a" + _varint(len(node)) + node
        graph += b"".join(b"\x2a" + _varint(len(t)) + t for t in tensors)
        model = b"\x08\x08" + b"\x3a" + _varint(len(graph)) + graph + b"\x42\x04\x12\x02\x08\x11"
        max_bytes = rng.choice([0, 8, 64 << 10])
        try:
            expected, positions = _lean_expected(model, 2, max_bytes)
        except Exception:  # noqa: BLE001 - bytes protobuf refuses: nothing to compare
            continue
        made = _lean(model, 2, max_bytes)
        assert made is not None and [i for i, _, _ in made[1]] == positions
        if positions:
            assert onnx.ModelProto.FromString(made[0]) == expected
            whole = onnx.ModelProto.FromString(model).graph.initializer
            for i, start, size in made[1]:
                assert model[start : start + size] == whole[i].raw_data
        else:
            assert made[0] is None  # nothing to copy: the caller parses the model itself
        elided_total += len(positions)
        compared += 1
    assert compared > 2000 and elided_total > 50
    real = onnx.load(REPO / "examples" / "transformer_block.onnx")
    for sparse in (False, True):  # a sparse initializer and a Constant's weight stay as they are
        if sparse:
            values = numpy_helper.from_array(np.ones(5000, np.float32), "sv")
            indices = numpy_helper.from_array(np.arange(5000, dtype=np.int64), "si")
            real.graph.sparse_initializer.append(helper.make_sparse_tensor(values, indices, [5000]))
            weight = numpy_helper.from_array(np.ones((80, 80), np.float32), "cw")
            real.graph.node.append(helper.make_node("Constant", [], ["cw"], value=weight))
        serialized = real.SerializeToString()
        expected, positions = _lean_expected(serialized, 4096, 64 << 10)
        lean, elided = _lean(serialized, 4096)
        assert [i for i, _, _ in elided] == positions and positions
        assert onnx.ModelProto.FromString(lean) == expected
        left_out = sum(len(real.graph.initializer[i].raw_data) for i in positions)
        assert len(serialized) - len(lean) >= left_out > 60_000
    assert _lean(serialized[:-3], 4096) is None
    graph = real.graph.SerializeToString()
    twice = b"\x3a" + _varint(len(graph)) + graph
    assert _lean(twice * 2, 4096) is None  # merged graphs
    with pytest.raises(TypeError):
        _wire.lean_model(serialized, None, 4096, 0, [], [])


def test_sparse_read_leaves_out_weights_above_their_own_limit(tmp_path):
    """Given weight_bytes and value types, `_wire.sparse_read` also leaves out the raw_data
    of more than weight_bytes of a top-level weight: an initializer of rank 2 or more (dims
    packed or not) and an element type not among the value types (as protobuf reads an
    int32: sign-extended), known from the fields written before that raw_data; any other
    payload is read up to skip_bytes. Random tensors, fields in any order, payloads around
    both limits; every byte not left out is the file's."""
    rng = random.Random(29)
    skip, weights, value_types = 64 << 10, 1 << 10, [6, 7]
    sizes = [0, 10, weights, weights + 1, 5000, skip, skip + 1]
    path = tmp_path / "m.onnx"

    def tensor() -> tuple[bytes, list[tuple[bytes, bool]]]:
        """A tensor's bytes, and each raw_data payload with whether it is left out."""
        fields = []
        for _ in range(rng.choice([0, 1, 2, 3])):
            if rng.random() < 0.5:
                fields.append(("dim", b"\x08" + _varint(rng.randint(1, 300)), 1))
            else:
                dims = [rng.randint(1, 300) for _ in range(rng.choice([1, 2, 3]))]
                packed = b"".join(_varint(d) for d in dims)
                fields.append(("dim", b"\x0a" + _varint(len(packed)) + packed, len(dims)))
        for _ in range(rng.choice([0, 1, 1, 2])):
            data_type = rng.choice([1, 7, 6, 10, 7 + (1 << 32), (1 << 64) - 1])
            fields.append(("type", b"\x10" + _varint(data_type), data_type))
        payloads = [rng.randbytes(rng.choice(sizes)) for _ in range(rng.choice([1, 1, 2]))]
        fields += [("raw", b"\x4a" + _varint(len(p)) + p, p) for p in payloads]
        fields.append(("name", b"\x42\x01w", None))
        rng.shuffle(fields)
        rank, data_type, out = 0, None, []
        for kind, _, value in fields:
            if kind == "dim":
                rank += value
            elif kind == "type":
                data_type = value & 0xFFFFFFFF
                data_type = data_type - (1 << 32) if data_type >= 1 << 31 else data_type
            elif kind == "raw":
                weight = rank >= 2 and data_type is not None and data_type not in value_types
                out.append((value, len(value) > skip or (weight and len(value) > weights)))
        return b"".join(field for _, field, _ in fields), out

    left_out = kept = 0
    for _ in range(60):
        graph, expected_payloads = b"", []
        for _ in range(rng.randint(1, 8)):
            made, payloads = tensor()
            graph += b"\x2a" + _varint(len(made)) + made
            expected_payloads += payloads
        data = b"\x08\x08" + b"\x3a" + _varint(len(graph)) + graph
        path.write_bytes(data)
        buffer = bytearray(len(data))
        with open(path, "rb") as file:
            skipped = _wire.sparse_read(file.fileno(), buffer, skip, weights, value_types)
        expected = sorted((data.find(p), len(p)) for p, out in expected_payloads if out and p)
        assert [entry for entry in skipped if entry[1]] == expected
        for offset, length in skipped:
            buffer[offset : offset + length] = data[offset : offset + length]
        assert buffer == data
        left_out += len(expected)
        kept += sum(not out and len(p) > weights for p, out in expected_payloads)
    assert left_out > 30 and kept > 30


def test_sparse_read_leaves_out_exactly_the_large_raw_data_of_top_level_initializers(tmp_path):
    """`_wire.sparse_read` reads every byte of a model file but the raw_data payloads of
    more than skip_bytes of the initializers of its graph fields (a second graph field's
    too: protobuf merges them), and tells where those are; a large tensor anywhere else (a
    Constant's value, a body graph's initializer, the model's doc_string) is read. Random
    models: fields in any order, raw_data written twice, payloads around the limit. A file
    shorter than the buffer, or bytes it does not understand, give None."""
    rng = random.Random(23)
    skip = 64 << 10
    sizes = [0, 100, skip - 1, skip, skip + 1, 3 * skip]
    path = tmp_path / "m.onnx"

    def tensor(payload_sizes: list[int], name: bytes) -> tuple[bytes, list[bytes]]:
        payloads = [rng.randbytes(size) for size in payload_sizes]
        fields = [b"\x08\x02", b"\x10\x01", b"\x42" + _varint(len(name)) + name]
        fields += [b"\x4a" + _varint(len(p)) + p for p in payloads]  # raw_data (9)
        rng.shuffle(fields)
        return b"".join(fields), payloads

    def graph(top: list[bytes], elsewhere: list[bytes]) -> bytes:
        fields = []
        for i in range(rng.randint(0, 4)):
            made, payloads = tensor(
                [rng.choice(sizes) for _ in range(rng.choice([1, 1, 2]))], b"w%d" % i
            )
            fields.append(b"\x2a" + _varint(len(made)) + made)  # initializer (5)
            top += payloads
        if rng.random() < 0.5:  # a Constant node holding a large tensor
            made, payloads = tensor([3 * skip], b"c")
            attr = b"\x0a\x05value" + b"\x2a" + _varint(len(made)) + made + b"\xa0\x01\x04"
            node = b"\x12\x01y" + b"\x22\x08Constant" + b"\x2a" + _varint(len(attr)) + attr
            fields.append(b"\x0a" + _varint(len(node)) + node)
            elsewhere += payloads
        if rng.random() < 0.3:  # an If whose body holds a large initializer
            made, payloads = tensor([2 * skip], b"b")
            body = b"\x2a" + _varint(len(made)) + made
            attr = b"\x0a\x0athen_branch" + b"\x32" + _varint(len(body)) + body + b"\xa0\x01\x05"
            node = b"\x22\x02If" + b"\x2a" + _varint(len(attr)) + attr
            fields.append(b"\x0a" + _varint(len(node)) + node)
            elsewhere += payloads
        rng.shuffle(fields)
        return b"".join(fields)

    compared = left_out = 0
    for _ in range(80):
        top: list[bytes] = []
        elsewhere: list[bytes] = []
        fields = [b"\x08\x08", b"\x42\x04\x12\x02\x08\x11"]
        for _ in range(rng.choice([1, 1, 1, 2])):
            made = graph(top, elsewhere)
            fields.append(b"\x3a" + _varint(len(made)) + made)  # graph (7)
        if rng.random() < 0.3:
            doc = rng.randbytes(3 * skip)
            fields.append(b"\x32" + _varint(len(doc)) + doc)  # doc_string (6)
            elsewhere.append(doc)
        rng.shuffle(fields)
        data = b"".join(fields)
        path.write_bytes(data)
        expected = sorted((data.find(p), len(p)) for p in top if len(p) > skip)
        buffer = bytearray(len(data))
        with open(path, "rb") as file:
            skipped = _wire.sparse_read(file.fileno(), buffer, skip)
        assert skipped == expected
        for offset, length in skipped:
            buffer[offset : offset + length] = data[offset : offset + length]
        assert buffer == data  # every other byte read
        assert all(data.find(p) >= 0 for p in elsewhere)
        compared += 1
        left_out += len(skipped)
        with open(path, "rb") as file:  # a buffer longer than the file
            assert _wire.sparse_read(file.fileno(), bytearray(len(data) + 1), skip) is None
        path.write_bytes(data[:-1])
        with open(path, "rb") as file:  # a truncated model
            assert _wire.sparse_read(file.fileno(), bytearray(len(data) - 1), skip) is None
    assert compared == 80 and left_out > 40
    path.write_bytes(b"\x0b" + bytes(100))  # a group: not a model this reader understands
    with open(path, "rb") as file:
        assert _wire.sparse_read(file.fileno(), bytearray(101), skip) is None
        with pytest.raises(ValueError, match="negative"):
            _wire.sparse_read(file.fileno(), bytearray(101), -1)
        with pytest.raises(TypeError):
            _wire.sparse_read(file.fileno(), bytes(101), skip)  # not writable

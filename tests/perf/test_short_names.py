"""Shape inference on short names (`_speculation.strict_run`, `_wire.short_names` and
`_wire.restored_types`, csrc/analyzer/wire.cpp) gives exactly the types of a run on the model
as it is — the same names, types and node op types, in If/Loop/Scan bodies too, in the same
order but for the outputs of merged Constant nodes, which come last — and the two native
passes decline, never mistranslate, what they do not handle.
"""

from __future__ import annotations

import copy
import random
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import pytest
from _control_flow_models import control_flow_models
from onnx import TensorProto, helper, numpy_helper

from trtforge.analyzer import _speculation
from trtforge.analyzer.inference import _varint, speculative_table

_wire = pytest.importorskip("trtforge.analyzer._wire", reason="the native reader is not built")

ONNX_DATA = Path(onnx.__file__).parent / "backend" / "test" / "data"
REPO = Path(__file__).resolve().parents[2]


def _corpus() -> list[Path]:
    models = sorted(ONNX_DATA.glob("light/*.onnx")) + sorted(ONNX_DATA.glob("simple/*/model.onnx"))
    models += sorted(ONNX_DATA.glob("pytorch-converted/*/model.onnx"))[::4]
    models += sorted((REPO / "tests" / "fixtures" / "hf").glob("*_opset1[47].onnx"))
    return models + [REPO / "examples" / "transformer_block.onnx"]


def _direct(serialized: bytes) -> tuple[list[str], list[tuple[str, bytes]]]:
    """The op types and (name, type) entries of one run on the model as it is, its bodies'
    entries included (`_speculation.inferred_types`)."""
    inferred = _speculation.cpp_shape_inference().infer_shapes(serialized, False, True, True)
    ops, types = _speculation.inferred_types(inferred)
    return ops, list(types.items())


def _shortened(serialized: bytes) -> tuple[list[str], list[tuple[str, bytes]]] | None:
    renamed = _wire.short_names(serialized)
    if renamed is None:
        return None
    short, renaming = renamed
    inferred = _speculation.cpp_shape_inference().infer_shapes(short, False, True, True)
    restored = _wire.restored_types(inferred, renaming)
    assert restored is not None
    ops, types = _speculation.inferred_types(restored)
    return ops, list(types.items())


def _passes_strict(serialized: bytes) -> bool:
    try:
        _speculation.cpp_shape_inference().infer_shapes(serialized, False, True, True)
    except Exception:  # noqa: BLE001 - strict inference refused the model
        return False
    return True


def _same_run(shortened, direct, merged: set[str] = frozenset()) -> None:
    """The two runs' ops and types are equal, in the same order but for `merged` (the outputs
    of merged Constants), which the shortened run lists after the other inferred values."""
    (ops, types), (ops_direct, types_direct) = shortened, direct
    assert ops == ops_direct
    assert dict(types) == dict(types_direct)
    assert [n for n, _ in types if n not in merged] == [
        n for n, _ in types_direct if n not in merged
    ]


def _expected_merged(graph: onnx.GraphProto) -> set[str]:
    """The outputs of the Constants `short_names` merges, by its rule written again: equal
    attributes (but their tensors' names and doc strings), no input, one output that no
    graph field declares, no body mentions, one node writes and no node reads before it; the
    first of each value (among the eligible) kept."""
    declared = {v.name for v in (*graph.input, *graph.output, *graph.value_info)}
    declared |= {t.name for t in graph.initializer}
    declared |= {name for node in graph.node for name in _mentioned_in_bodies(node)}
    writers = Counter(o for node in graph.node for o in node.output if o)
    first_read: dict[str, int] = {}
    for index, node in enumerate(graph.node):
        for name in node.input:
            if name:
                first_read.setdefault(name, index)
    kept: set[tuple] = set()
    merged: set[str] = set()
    for index, node in enumerate(graph.node):
        if node.op_type != "Constant" or node.domain not in ("", "ai.onnx") or node.input:
            continue
        if len(node.output) != 1 or not node.output[0]:
            continue
        out = node.output[0]
        if out in declared or writers[out] != 1:
            continue
        value = tuple(_nameless(a) if len(node.attribute) == 1 else a.SerializeToString()
                      for a in node.attribute)  # fmt: skip
        if value not in kept:
            kept.add(value)
        elif first_read.get(out, index) >= index:
            merged.add(out)
    return merged


def _nameless(attribute: onnx.AttributeProto) -> bytes:
    """`attribute` serialized, its tensor without a name or doc string."""
    copy = onnx.AttributeProto()
    copy.CopyFrom(attribute)
    if copy.HasField("t"):
        copy.t.ClearField("name")
        copy.t.ClearField("doc_string")
    return copy.SerializeToString()


def _mentioned_in_bodies(node: onnx.NodeProto) -> set[str]:
    """Every tensor name the bodies of `node`'s graph attributes mention, at any depth."""
    names: set[str] = set()
    for attr in node.attribute:
        for body in [attr.g] if attr.HasField("g") else []:
            names |= _graph_names(body)
        for body in attr.graphs:
            names |= _graph_names(body)
    return names


def _graph_names(graph: onnx.GraphProto) -> set[str]:
    names = {v.name for v in (*graph.input, *graph.output, *graph.value_info)}
    names |= {t.name for t in graph.initializer}
    for node in graph.node:
        names |= {*node.input, *node.output} | _mentioned_in_bodies(node)
    return names


def test_short_names_infer_the_same_types_on_real_models():
    compared = merging = 0
    for path in _corpus():
        model = onnx.load(path, load_external_data=False)
        serialized = model.SerializeToString()
        if not _passes_strict(serialized):
            continue
        shortened = _shortened(serialized)
        if shortened is None:  # bodies, sparse initializers: the run on the model as it is
            continue
        merged = _expected_merged(model.graph)
        short = onnx.ModelProto.FromString(_wire.short_names(serialized)[0])
        assert len(model.graph.node) - len(short.graph.node) == len(merged), path
        _same_run(shortened, _direct(serialized), merged)
        compared += 1
        merging += bool(merged)
    assert compared >= 30 and merging >= 5


def test_short_names_are_short_and_drop_what_inference_does_not_read():
    path = REPO / "tests" / "fixtures" / "hf" / "bert_opset17.onnx"
    model = onnx.load(path, load_external_data=False)
    short = onnx.ModelProto.FromString(_wire.short_names(model.SerializeToString())[0])
    names = {n for node in short.graph.node for n in (*node.input, *node.output) if n}
    assert max(map(len, names)) <= 3
    assert not any(node.name or node.doc_string for node in short.graph.node)
    # only Constant nodes left out (the equal ones merged), the others in their order
    ops = [n.op_type for n in model.graph.node]
    kept = [n.op_type for n in short.graph.node]
    assert kept == [op for op in ops if op != "Constant"][: len(kept)] or (
        [op for op in kept if op != "Constant"] == [op for op in ops if op != "Constant"]
    )
    assert 0 < len(ops) - len(kept) < ops.count("Constant")
    # one name, one short name: every node but a merged Constant writes what it wrote
    originals = [n for n in model.graph.node if n.op_type != "Constant"]
    copies = [n for n in short.graph.node if n.op_type != "Constant"]
    pairs = {
        (a, b)
        for one, other in zip(originals, copies, strict=True)
        for a, b in zip(one.output, other.output, strict=True)
    }
    assert len(pairs) == len({a for a, _ in pairs}) == len({b for _, b in pairs})
    onnx.checker.check_model(short)


def _constants_model(**graph_extra) -> onnx.ModelProto:
    """Equal Constants that may merge and ones that may not: a declared value, a graph
    output, one read before it is written, one written twice, a different value. Every
    tensor is named after its node, as onnx.helper names them, and one has a doc string:
    equal values under other names merge all the same."""

    def constant(name: str, value: int) -> onnx.NodeProto:
        tensor = numpy_helper.from_array(np.array([value], np.int64), f"{name}_value")
        if name == "g":
            tensor.doc_string = "documented"
        return helper.make_node("Constant", [], [name], value=tensor)

    nodes = [
        constant("a", 1),
        helper.make_node("Unsqueeze", ["x", "a"], ["ua"]),
        constant("b", 1),  # merges into a
        helper.make_node("Unsqueeze", ["x", "b"], ["ub"]),
        helper.make_node("Unsqueeze", ["x", "c"], ["uc"]),  # reads c before it is written
        constant("c", 1),
        constant("d", 1),  # declared below: kept
        helper.make_node("Unsqueeze", ["x", "d"], ["ud"]),
        constant("e", 1),  # a graph output: kept
        constant("f", 0),  # another value: kept
        helper.make_node("Unsqueeze", ["x", "f"], ["uf"]),
        constant("g", 0),  # merges into f
        helper.make_node("Unsqueeze", ["x", "g"], ["ug"]),
        constant("h", 1),
        helper.make_node("Identity", ["a"], ["h"]),  # h written twice: kept
    ]
    graph = helper.make_graph(
        nodes,
        "constants",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("ua", "ug")]
        + [helper.make_tensor_value_info("e", TensorProto.INT64, [1])],
        value_info=[helper.make_tensor_value_info("d", TensorProto.INT64, [1])],
        **graph_extra,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_equal_constants_merge_where_nothing_else_changes():
    model = _constants_model()
    serialized = model.SerializeToString()
    short = onnx.ModelProto.FromString(_wire.short_names(serialized)[0])
    assert len(short.graph.node) == len(model.graph.node) - 2  # b and g
    assert _expected_merged(model.graph) == {"b", "g"}
    ops, types = _shortened(serialized)
    names = [name for name, _ in types]  # value_info (the merged ones after), outputs, inputs
    assert names.index("g") == names.index("b") + 1 and names.index("b") > names.index("uf")
    _same_run((ops, types), _direct(serialized), {"b", "g"})
    assert ops == [n.op_type for n in model.graph.node]


def _small_model(**graph_extra) -> onnx.ModelProto:
    weight = numpy_helper.from_array(np.ones((4, 4), np.float32), "weight ünïcode")
    nodes = [
        helper.make_node("MatMul", ["x", "weight ünïcode"], ["a long intermediate name"], "mm"),
        helper.make_node("Relu", ["a long intermediate name"], ["y"], "relu", doc_string="d"),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [weight],
        **graph_extra,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_declared_value_info_and_unicode_names_come_back():
    declared = helper.make_tensor_value_info("a long intermediate name", TensorProto.FLOAT, None)
    serialized = _small_model(value_info=[declared]).SerializeToString()
    assert _shortened(serialized) == _direct(serialized)
    ops, types = _shortened(serialized)
    assert ops == ["MatMul", "Relu"]
    assert [name for name, _ in types] == ["a long intermediate name", "y", "x"]


def test_short_names_infer_the_same_types_in_bodies():
    """On models with If/Loop/Scan bodies (real exports and ONNX's node cases), the short
    copy infers the same types, bodies' included, as the model as it is; the Constants a
    body mentions are left alone."""
    compared = 0
    for label, model in control_flow_models():
        serialized = model.SerializeToString()
        if not _passes_strict(serialized):
            continue
        renamed = _wire.short_names(serialized)
        assert renamed is not None, label  # bodies are renamed, not declined
        short = onnx.ModelProto.FromString(renamed[0])
        merged = _expected_merged(model.graph)
        assert len(model.graph.node) - len(short.graph.node) == len(merged), label
        assert max(map(len, _graph_names(short.graph))) <= 3, label  # bodies' names too
        _same_run(_shortened(serialized), _direct(serialized), merged)
        compared += 1
    assert compared >= 30


def _scoped_model() -> onnx.ModelProto:
    """A Loop whose body reads an outer Constant, defines a name of its own that an outer
    node also defines (shadowing), and holds an If reading both scopes; equal Constants
    around it, one of them mentioned by the body."""

    def constant(name: str, value: float) -> onnx.NodeProto:
        return helper.make_node(
            "Constant", [], [name], value=numpy_helper.from_array(np.array([value], np.float32))
        )

    then = helper.make_graph(
        [helper.make_node("Add", ["local", "seen"], ["t"])],
        "then",
        [],
        [helper.make_tensor_value_info("t", TensorProto.FLOAT, None)],
    )
    other = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["e"])],
        "else",
        [],
        [helper.make_tensor_value_info("e", TensorProto.FLOAT, None)],
    )
    body = helper.make_graph(
        [
            helper.make_node("Identity", ["cond_in"], ["cond_out"]),
            helper.make_node("Add", ["carried", "seen"], ["local"]),
            helper.make_node("If", ["cond_in"], ["picked"], then_branch=then, else_branch=other),
            helper.make_node("Add", ["picked", "local"], ["carried_out"]),
        ],
        "body",
        [
            helper.make_tensor_value_info("i", TensorProto.INT64, []),
            helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
            helper.make_tensor_value_info("carried", TensorProto.FLOAT, [1]),
        ],
        [
            helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info("carried_out", TensorProto.FLOAT, None),
        ],
    )
    nodes = [
        constant("seen", 1.0),  # kept: read by the bodies
        constant("first", 1.0),  # kept: the first of its value the bodies do not mention
        constant("again", 1.0),  # merges into `first`
        helper.make_node("Add", ["x", "again"], ["local"]),  # the body's name, outside too
        helper.make_node("Loop", ["trips", "", "first"], ["result"], body=body),
        helper.make_node("Add", ["result", "local"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "scoped",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [1]),
            helper.make_tensor_value_info("trips", TensorProto.INT64, []),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_bodies_share_one_renaming_and_keep_their_constants():
    model = _scoped_model()
    serialized = model.SerializeToString()
    short, _ = _wire.short_names(serialized)
    copy = onnx.ModelProto.FromString(short)
    assert _expected_merged(model.graph) == {"again"}
    assert [n.op_type for n in copy.graph.node] == ["Constant", "Constant", "Add", "Loop", "Add"]
    # one name, one short name, in every scope: the body's `local` is the outer `local`'s
    outer_local = copy.graph.node[2].output[0]
    body = copy.graph.node[3].attribute[0].g
    assert body.node[1].output[0] == outer_local
    assert body.node[1].input[1] == copy.graph.node[0].output[0]  # `seen`, read from outside
    branches = {attr.name: attr.g for attr in body.node[2].attribute}
    inner = branches["then_branch"]  # two scopes down
    assert list(inner.node[0].input) == [outer_local, copy.graph.node[0].output[0]]
    assert copy.graph.node[2].input[1] == copy.graph.node[1].output[0]  # `again` -> `first`
    if _passes_strict(serialized):
        _same_run(_shortened(serialized), _direct(serialized), {"again"})
    else:  # both runs refuse it alike: the lean path then gives way to the full one
        assert not _passes_strict(short)


def _every_graph(graph: onnx.GraphProto):
    yield graph
    for node in graph.node:
        for attr in node.attribute:
            if attr.HasField("g"):
                yield from _every_graph(attr.g)
            for body in attr.graphs:
                yield from _every_graph(body)


def test_names_rewired_across_scopes_infer_alike():
    """Random rewiring across scopes — a body reading an outer name, a body defining (and so
    shadowing) one, an outer node reading a body's — changes what inference sees; the short
    copy must see the same: wherever ONNX infers the model as it is, the copy gives the
    same types."""
    detection = REPO / "tests" / "fixtures" / "detection"
    models = [_scoped_model()] + [
        onnx.load(detection / name, load_external_data=False)
        for name in ("ssd-opset17.onnx", "maskrcnn-opset13.onnx")
    ]
    rng = random.Random(11)
    compared = 0
    for _ in range(120):
        model = copy.deepcopy(rng.choice(models))
        graphs = [g for g in _every_graph(model.graph) if len(g.node)]
        pool = sorted(_graph_names(model.graph) - {""})
        for _ in range(rng.randint(1, 3)):
            node = rng.choice(rng.choice(graphs).node)
            slots = node.input if rng.random() < 0.5 and len(node.input) else node.output
            if len(slots):
                slots[rng.randrange(len(slots))] = rng.choice(pool)
        serialized = model.SerializeToString()
        try:
            direct = _direct(serialized)
        except Exception:  # noqa: BLE001 - ONNX refuses the rewiring: nothing to compare
            continue
        _same_run(_shortened(serialized), direct, _expected_merged(model.graph))
        compared += 1
    assert compared >= 20


def test_short_names_decline_what_names_reach_beyond_the_graph():
    assert _wire.short_names(_small_model().SerializeToString()) is not None

    # bodies nested deeper than the native passes go (and than protobuf parses: the bytes
    # are written by hand)
    def field(number: int, payload: bytes) -> bytes:
        return _varint(number << 3 | 2) + _varint(len(payload)) + payload

    body = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["out"])],
        "body",
        [],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)],
    ).SerializeToString()

    def nested(levels: int) -> bytes:
        inner = body
        for _ in range(levels):
            branch = field(1, b"then_branch") + field(6, inner) + b"\xa0\x01\x05"  # GRAPH
            node = field(1, b"cond") + field(2, b"out") + field(4, b"If") + field(5, branch)
            inner = field(1, node) + field(12, field(1, b"out"))
        model = _small_model()
        top = field(1, field(4, b"If") + field(5, field(6, inner)))
        graph = model.graph.SerializeToString() + top
        model.ClearField("graph")
        return model.SerializeToString() + field(7, graph)

    for levels, understood in ((20, True), (40, False)):
        serialized = nested(levels)
        assert _wire.model_types(serialized) is not None  # the top-level graph is understood
        assert (_wire.short_names(serialized) is not None) == understood
        assert (_wire.body_types(serialized) is not None) == understood
        assert (_wire.weight_facts(serialized) is not None) == understood
    # quantization annotations and sparse initializers name tensors of their own
    model = _small_model()
    model.graph.quantization_annotation.add().tensor_name = "y"
    assert _wire.short_names(model.SerializeToString()) is None
    model = _small_model()
    sparse = model.graph.sparse_initializer.add()
    sparse.values.name = "s"
    assert _wire.short_names(model.SerializeToString()) is None
    model = _small_model()
    model.training_info.add()
    assert _wire.short_names(model.SerializeToString()) is None


def test_restored_types_refuses_names_it_did_not_make():
    serialized = _small_model().SerializeToString()
    short, renaming = _wire.short_names(serialized)
    inferred = onnx.ModelProto.FromString(
        _speculation.cpp_shape_inference().infer_shapes(short, False, True, True)
    )
    stranger = inferred.graph.value_info.add()
    stranger.name = "not a short name"
    assert _wire.restored_types(inferred.SerializeToString(), renaming) is None
    inferred.graph.value_info.pop()
    inferred.graph.value_info.add().name = "zz"  # a short name beyond the model's names
    assert _wire.restored_types(inferred.SerializeToString(), renaming) is None
    with pytest.raises(TypeError):  # only short_names' renaming
        _wire.restored_types(inferred.SerializeToString(), serialized)


@pytest.mark.parametrize("make", [_small_model, _scoped_model], ids=["plain", "bodies"])
def test_corrupt_bytes_are_declined_or_renamed_consistently(make):
    """Random damage: the passes decline, or rename what protobuf parses into a copy with
    the same nodes, whose restored types come back under the original names; the bodies'
    types read natively equal the parsed model's table whenever both read the bytes."""
    from trtforge.analyzer.inference import _collect_types

    serialized = make().SerializeToString()
    rng = random.Random(7)
    tables = 0
    for _ in range(300):
        data = bytearray(serialized)
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        cut = bytes(data[: rng.randint(1, len(data))] if rng.random() < 0.3 else data)
        renamed = _wire.short_names(cut)
        read = _speculation.inferred_types(cut) if _wire.model_types(cut) is not None else None
        try:  # what was renamed parses as a model exactly when the original does
            original = onnx.ModelProto.FromString(cut)
        except Exception:  # noqa: BLE001 - protobuf refuses it; the renamed copy is not used
            continue
        if read is not None:
            assert read[1] == dict(_collect_types(original.graph).serialized_table())
            tables += 1
        if renamed is None:
            continue
        short, renaming = renamed
        restored = _wire.restored_types(short, renaming)  # the renaming holds `cut`'s bytes
        copy = onnx.ModelProto.FromString(short)
        merged = _expected_merged(original.graph)
        assert len(copy.graph.node) == len(original.graph.node) - len(merged)
        if restored is not None:  # the graph's values come back under their names
            back = onnx.ModelProto.FromString(restored)
            assert [v.name for v in back.graph.input] == [v.name for v in original.graph.input]
            assert [n.op_type for n in back.graph.node] == [n.op_type for n in original.graph.node]
    assert tables > 50


def test_speculative_table_runs_on_short_names_with_the_same_result(monkeypatch):
    model = onnx.load(REPO / "tests" / "fixtures" / "hf" / "gpt2_opset17.onnx")
    shortened = speculative_table(model)
    monkeypatch.setattr(_speculation, "SHORT_NAMES_FROM", 1 << 40)  # never shorten
    direct = speculative_table(model)
    assert shortened is not None and direct is not None
    assert shortened.serialized_table() == direct.serialized_table()
    assert shortened.shape_consumers == direct.shape_consumers

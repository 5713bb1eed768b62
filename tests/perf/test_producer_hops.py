"""Every tensor's distance from the float network inputs, computed for a whole graph in C
(`GraphView.producer_hops`, csrc/analyzer/producer_hops.cpp), answers
`reads_float_network_input` exactly as the walk up the producers does — at every depth, on
random graphs (unsorted, cyclic, with Shape/Size, constants, repeated outputs) and real ones;
and the build-time constants folded in C (`_producer_hops.folded_constants`) are those the
Python pass of `GraphView._constants` finds.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from trtforge.analyzer.graph import GraphView
from trtforge.analyzer.inference import infer_table
from trtforge.analyzer.kb.ops import _tensor_common
from trtforge.analyzer.kb.ops._tensor_common import FLOAT_INPUT_DEPTH, reads_float_network_input

pytest.importorskip("trtforge.analyzer._producer_hops", reason="the native module is not built")

REPO = Path(__file__).resolve().parents[2]


def _walked(graph: onnx.GraphProto, types, monkeypatch) -> dict[tuple[str, int], bool]:
    """The walk's answer for every tensor and depth (the native table switched off)."""
    with monkeypatch.context() as patch:
        patch.setattr(_tensor_common, "_float_input_hops", lambda graph: None)
        view = GraphView(graph, types)
        return {(n, d): reads_float_network_input(view, n, d) for n in _names(graph) for d in
                range(0, FLOAT_INPUT_DEPTH + 1)}  # fmt: skip


def _tabled(graph: onnx.GraphProto, types) -> dict[tuple[str, int], bool]:
    view = GraphView(graph, types)
    assert _tensor_common._float_input_hops(view) is not None
    return {
        (n, d): reads_float_network_input(view, n, d)
        for n in _names(graph)
        for d in range(0, FLOAT_INPUT_DEPTH + 1)
    }


def _names(graph: onnx.GraphProto) -> list[str]:
    names = {v.name for v in graph.input} | {t.name for t in graph.initializer}
    for node in graph.node:
        names.update(node.input)
        names.update(node.output)
    return sorted(names)


def _random_graph(rng: random.Random, size: int, later: float = 0.1) -> onnx.GraphProto:
    inputs = [
        helper.make_tensor_value_info("f0", TensorProto.FLOAT, [2]),
        helper.make_tensor_value_info("f1", TensorProto.FLOAT16, [2]),
        helper.make_tensor_value_info("i0", TensorProto.INT64, [2]),
        helper.make_tensor_value_info("w", TensorProto.FLOAT, [2]),  # also an initializer
    ]
    initializers = [numpy_helper.from_array(np.ones(2, np.float32), "w")]
    names = ["f0", "f1", "i0", "w", ""]
    nodes = []
    for i in range(size):
        op = rng.choice(["Add", "Mul", "Cast", "Relu", "Concat", "Shape", "Size", "Constant"])
        if op == "Constant":
            nodes.append(helper.make_node(op, [], [f"t{i}"], value_float=1.0))
        else:
            count = 1 if op in ("Cast", "Relu", "Shape", "Size") else rng.randint(1, 3)
            # mostly earlier tensors; sometimes (`later`) a later one (an unsorted or cyclic
            # graph)
            ins = [
                rng.choice(names) if rng.random() >= later else f"t{rng.randrange(size)}"
                for _ in range(count)
            ]
            out = f"t{i}" if rng.random() < 0.95 else rng.choice(names[:-1])  # repeated outputs
            nodes.append(helper.make_node(op, ins, [out]))
        names.append(f"t{i}")
    return helper.make_graph(nodes, "g", inputs, [], initializers)


def test_table_answers_as_the_walk_on_random_graphs(monkeypatch):
    rng = random.Random(11)
    for size in (5, 20, 60, 60, 200):
        for _ in range(6):
            graph = _random_graph(rng, size)
            assert _tabled(graph, {}) == _walked(graph, {}, monkeypatch)


def test_table_answers_as_the_walk_on_random_sorted_graphs(monkeypatch):
    """A sorted graph is relaxed in one pass (no node reads a later one's output)."""
    rng = random.Random(12)
    for size in (5, 60, 200, 400):
        for _ in range(6):
            graph = _random_graph(rng, size, later=0.0)
            assert _tabled(graph, {}) == _walked(graph, {}, monkeypatch)


def test_table_answers_as_the_walk_on_real_models(monkeypatch):
    for name in ("vit_opset17.onnx", "llama_opset17.onnx", "t5_opset14.onnx"):
        model = onnx.load(REPO / "tests" / "fixtures" / "hf" / name)
        types = infer_table(model)
        assert _tabled(model.graph, types) == _walked(model.graph, types, monkeypatch), name


def test_a_chain_longer_than_the_depth():
    nodes = [helper.make_node("Relu", ["x"], ["t0"])]
    nodes += [helper.make_node("Relu", [f"t{i}"], [f"t{i + 1}"]) for i in range(40)]
    graph = helper.make_graph(
        nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])], []
    )
    view = GraphView(graph, {})
    hops = _tensor_common._float_input_hops(view)
    assert hops["x"] == 0 and hops["t0"] == 1 and hops[f"t{FLOAT_INPUT_DEPTH - 2}"] == 23
    assert f"t{FLOAT_INPUT_DEPTH - 1}" not in hops  # as far as the deepest walk, and no further
    assert reads_float_network_input(view, "t22", 24)
    assert not reads_float_network_input(view, "t22", 23)


def test_bodies_walk():
    body = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])],
        "body",
        [],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    outer = GraphView(
        helper.make_graph(
            [], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])], []
        ),
        {},
    )
    assert GraphView(body, {}, outer=outer).producer_hops(["x"], frozenset(), 24) is None


def test_graph_inputs_and_constants_stop_the_distance(monkeypatch):
    """A graph input or constant that a node also writes (an invalid graph) is what it was
    declared, for the walk and the table alike."""
    nodes = [
        helper.make_node("Relu", ["f"], ["i"]),  # writes the INT64 input
        helper.make_node("Relu", ["f"], ["w"]),  # writes the initializer
        helper.make_node("Cast", ["i"], ["a"], to=TensorProto.FLOAT),
        helper.make_node("Add", ["w", "w"], ["b"]),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [
            helper.make_tensor_value_info("f", TensorProto.FLOAT, [2]),
            helper.make_tensor_value_info("i", TensorProto.INT64, [2]),
        ],
        [],
        [numpy_helper.from_array(np.ones(2, np.float32), "w")],
    )
    tabled = _tabled(graph, {})
    assert tabled == _walked(graph, {}, monkeypatch)
    assert not tabled[("a", FLOAT_INPUT_DEPTH)] and not tabled[("b", FLOAT_INPUT_DEPTH)]


def _constants(graph: onnx.GraphProto, monkeypatch, native: bool) -> set[str]:
    from trtforge.analyzer import graph as graph_module

    with monkeypatch.context() as patch:
        if not native:
            patch.setattr(graph_module, "_producer_hops", None)
        return set(GraphView(graph, {})._constants)


def test_folded_constants_equal_the_python_pass(monkeypatch):
    """Random graphs with Constants, initializers, graph inputs, empty inputs, ops that never
    fold (RandomNormal, If) and unsorted reads; and real exports."""
    rng = random.Random(3)
    compared = folded = 0
    for size in (5, 30, 120):
        for _ in range(20):
            graph = _random_graph(rng, size)
            for node in graph.node:
                if rng.random() < 0.1:
                    node.op_type = rng.choice(["RandomNormalLike", "If", "Multinomial"])
                if rng.random() < 0.1 and len(node.input):
                    node.input.append("")
            native = _constants(graph, monkeypatch, True)
            assert native == _constants(graph, monkeypatch, False)
            compared += 1
            folded += len(
                native - {"w"} - {n.output[0] for n in graph.node if n.op_type == "Constant"}
            )
    for name in ("bert_opset17.onnx", "gpt2_opset17.onnx", "t5_opset14.onnx"):
        model = onnx.load(REPO / "tests" / "fixtures" / "hf" / name)
        assert _constants(model.graph, monkeypatch, True) == _constants(
            model.graph, monkeypatch, False
        ), name
    assert compared == 60 and folded > 20  # folds through non-Constant nodes were seen


def test_the_producer_index_equals_the_python_one(monkeypatch):
    """`_producer_hops.producer_index` (C) gives `NodeFields.producer_index`'s Python answer:
    the last writer of each name, "" left out (names that are bytes kept), on random columns
    and a real export; columns that are not lists take the Python way."""
    from trtforge.analyzer import _producer_hops
    from trtforge.analyzer import graph as graph_module

    rng = random.Random(11)
    names = ["a", "b", "", "c", b"\xfe", b"", "d"]
    for _ in range(200):
        outputs = [rng.sample(names, rng.randint(0, 3)) for _ in range(rng.randint(0, 30))]
        expected = {out: i for i, outs in enumerate(outputs) for out in outs}
        expected.pop("", None)
        made = _producer_hops.producer_index(outputs)
        assert made == expected and list(made) == list(expected)
    model = onnx.load(REPO / "tests" / "fixtures" / "hf" / "gpt2_opset17.onnx")
    native = GraphView(model.graph, None).fields.producer_index()
    monkeypatch.setattr(graph_module, "_producer_hops", None)
    assert native == GraphView(model.graph, None).fields.producer_index()
    with pytest.raises(TypeError):
        _producer_hops.producer_index([["a"], ("b",)])

"""Nodes of a verdict the static backend shares hold one `kin`, and the renderers group them
by it: every format renders what it renders with each node's findings compared one by one."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from trtforge.analyzer import check
from trtforge.analyzer.reports import render


def _mixed_model(path) -> str:
    """Custom ops of two types, TopKs whose K is computed, a Relu chain, and nodes that
    validity finds at fault (an Add of one input; a custom op writing a name another one
    writes, which shares their verdict until validity's finding is added): shared verdicts
    among verdicts of their own."""
    nodes, x = [], "x"
    for i in range(60):
        op = "MyOp" if i % 3 else "OtherOp"
        nodes.append(helper.make_node(op, [x], [f"c{i}"], name=f"custom_{i}", domain="my.ops"))
        nodes.append(helper.make_node("Relu", [f"c{i}"], [f"r{i}"], name=f"relu_{i}"))
        x = f"r{i}"
    nodes.append(helper.make_node("Shape", [x], ["s"], name="shape"))
    nodes.append(helper.make_node("Gather", ["s", "zero"], ["k"], name="k"))
    for i in range(5):
        nodes.append(helper.make_node("TopK", [x, "k"], [f"v{i}", f"i{i}"], name=f"topk_{i}"))
    nodes.append(helper.make_node("Add", [x], ["bad"], name="bad_add"))
    # another writer of a custom op's output: validity's finding makes its verdict its own
    nodes.append(helper.make_node("MyOp", ["r0"], ["c1"], name="dup", domain="my.ops"))
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 8])],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, None) for name in ("v0", "bad")],
        [numpy_helper.from_array(np.array(0, np.int64), "zero")],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("my.ops", 1)]
    )
    onnx.save(model, path)
    return str(path)


@pytest.mark.parametrize("fmt", ["text", "markdown", "json", "sarif"])
def test_reports_of_shared_verdicts_are_those_of_each_node_s(tmp_path, fmt):
    report = check(_mixed_model(tmp_path / "mixed.onnx"), target="rtx-1", backend="static")
    kins = [node.kin for node in report.nodes if node.kin is not None]
    assert len(kins) >= 55 and len({id(kin) for kin in kins}) <= 4  # the custom ops share
    dup = report.nodes[-1]
    assert dup.kin is None and dup.reasons[0].code == "invalid/duplicate-output"  # its own
    grouped = render(report, fmt)
    for node in report.nodes:
        node.kin = None
    assert render(report, fmt) == grouped

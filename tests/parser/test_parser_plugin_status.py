"""The parser backend marks nodes accepted through a trtforge plugin as `plugin` (docs/trt-check.md,
`nodes[].status`)."""

from __future__ import annotations

import numpy as np
import pytest
from _parser_helpers import HAS_RTX
from onnx import TensorProto, helper, numpy_helper

from trtforge.analyzer import check
from trtforge.plugins.catalog import find_plugin, is_available

LAYERNORM = find_plugin("LayerNorm")

pytestmark = [
    pytest.mark.skipif(not HAS_RTX, reason="needs tensorrt_rtx"),
    pytest.mark.skipif(not is_available(LAYERNORM), reason="trtforge plugins were not built"),
]


def test_plugin_node_is_reported_as_plugin() -> None:
    hidden = 16
    gamma = numpy_helper.from_array(np.ones(hidden, np.float32), "gamma")
    beta = numpy_helper.from_array(np.zeros(hidden, np.float32), "beta")
    nodes = [
        LAYERNORM.make_node(["x", "gamma", "beta"], ["t"], name="ln", epsilon=1e-5),
        helper.make_node("Relu", ["t"], ["y"], name="relu"),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, hidden])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, hidden])],
        initializer=[gamma, beta],
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("trtforge", 1)],
        ir_version=9,
    )
    report = check(model, backend="parser")
    ln, relu = report.nodes
    assert report.supported
    assert ln.status == "plugin", ln.to_json()
    assert (ln.plugin.name, ln.plugin.version, ln.plugin.namespace) == (
        "LayerNorm",
        "1",
        "trtforge",
    )
    assert ln.plugin.available
    assert relu.status == "supported"

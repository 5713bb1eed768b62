"""Shape inference on the static path: data propagation where it helps, never a memory blow-up."""

from __future__ import annotations

import resource
import time

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from trtforge.analyzer.graph import GraphView
from trtforge.analyzer.inference import infer_types


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

"""The parser backend's worker and trt-rewrite run shape inference through the same guarded
helper as the static backend (`graph.infer_model`): no memory blow-up on large 1-D tensors,
and weights come back unchanged."""

from __future__ import annotations

import resource
import time

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

#: onnx's data propagation costs ~200 bytes per element of a 1-D tensor: ~10 GB here.
ELEMENTS = 50_000_000


def _big_1d_model() -> onnx.ModelProto:
    graph = helper.make_graph(
        [
            helper.make_node("Add", ["x", "x2"], ["s"], name="add"),
            helper.make_node("Shape", ["s"], ["shape"], name="shape"),
            helper.make_node("Reshape", ["s", "shape"], ["y"], name="reshape"),
        ],
        "g",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [ELEMENTS]),
            helper.make_tensor_value_info("x2", TensorProto.FLOAT, [ELEMENTS]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def _bounded(fn):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    result = fn()
    assert time.perf_counter() - start < 5.0
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mib < 200, grown_mib
    return result


def test_parser_worker_types_do_not_blow_up_on_large_1d_tensors():
    from trtforge.analyzer.backends._parser_worker import _tensor_types

    types = _bounded(lambda: _tensor_types(_big_1d_model()))
    s = types["s"].tensor_type
    assert s.elem_type == TensorProto.FLOAT
    assert [d.dim_value for d in s.shape.dim] == [ELEMENTS]


def test_rewrite_does_not_blow_up_on_large_1d_tensors():
    from trtforge.analyzer.rewrite.base import RewriteOptions
    from trtforge.analyzer.rewrite.manager import rewrite_model
    from trtforge.analyzer.targets import parse_target

    model = _big_1d_model()
    result = _bounded(
        lambda: rewrite_model(model, ["fold-constants"], RewriteOptions(parse_target("rtx-1")))
    )
    # the static shape folds into a constant; the shape inference behind it stayed bounded
    assert [n.op_type for n in result.proto.graph.node] == ["Add", "Reshape"]
    assert result.passes["fold-constants"].applied == 1


def test_rewrite_keeps_large_weights_that_inference_left_out():
    """Inference runs without large initializers; the rewritten model has them back, in
    order, as initializers (not graph inputs)."""
    from trtforge.analyzer.rewrite.base import RewriteOptions
    from trtforge.analyzer.rewrite.manager import rewrite_model
    from trtforge.analyzer.targets import parse_target

    rng = np.random.default_rng(0)
    w = rng.standard_normal((256, 256)).astype(np.float32)  # 256 KiB: left out of inference
    b = np.ones(256, np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "w"], ["h"], name="mm"),
            helper.make_node("Add", ["h", "b"], ["y"], name="add"),
        ],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 256])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    result = rewrite_model(model, ["fold-constants"], RewriteOptions(parse_target("rtx-1")))
    out = result.proto.graph
    assert [vi.name for vi in out.input] == ["x"]
    weights = {t.name: numpy_helper.to_array(t) for t in out.initializer}
    assert set(weights) == {"w", "b"}
    np.testing.assert_array_equal(weights["w"], w)
    np.testing.assert_array_equal(weights["b"], b)
